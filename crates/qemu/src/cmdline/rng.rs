//! virtio-rng fed from a host entropy source.

use kata_hypervisor::VmSpec;

use super::escape_path;

pub(super) fn args(spec: &VmSpec) -> Vec<String> {
    match &spec.entropy_source {
        Some(source) => vec![
            "-object".into(),
            format!("rng-random,id=rng0,filename={}", escape_path(source)),
            "-device".into(),
            "virtio-rng-pci,rng=rng0".into(),
        ],
        None => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmdline::{test_spec, values_of};

    #[test]
    fn rng_reads_the_entropy_source() {
        let mut s = test_spec();
        s.entropy_source = Some("/dev/urandom".into());
        let a = args(&s);
        assert_eq!(
            values_of(&a, "-object"),
            ["rng-random,id=rng0,filename=/dev/urandom"]
        );
        assert_eq!(values_of(&a, "-device"), ["virtio-rng-pci,rng=rng0"]);
    }

    #[test]
    fn no_rng_without_a_source() {
        assert!(args(&test_spec()).is_empty());
    }
}
