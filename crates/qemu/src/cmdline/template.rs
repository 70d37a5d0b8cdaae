//! What VM templating adds to the command line: QEMU's VM generation id device (`guid=auto`
//! gives each QEMU process a new id, so a restored clone's kernel reseeds its RNG), and
//! `-incoming defer` for a VM that waits for a saved state (QEMU docs/devel/migration, "x-ignore-shared").

use kata_hypervisor::VmSpec;

pub(super) fn args(spec: &VmSpec) -> Vec<String> {
    let mut args = Vec::new();
    if spec.vm_generation_id {
        args.extend(["-device".into(), "vmgenid,guid=auto,id=vmgenid0".into()]);
    }
    if spec.wait_for_restore {
        args.extend(["-incoming".into(), "defer".into()]);
    }
    args
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmdline::{test_spec, values_of};

    #[test]
    fn nothing_by_default() {
        assert!(args(&test_spec()).is_empty());
    }

    #[test]
    fn generation_id_and_deferred_incoming() {
        let mut s = test_spec();
        s.vm_generation_id = true;
        s.wait_for_restore = true;
        let a = args(&s);
        assert_eq!(values_of(&a, "-device"), ["vmgenid,guid=auto,id=vmgenid0"]);
        assert_eq!(values_of(&a, "-incoming"), ["defer"]);
    }
}
