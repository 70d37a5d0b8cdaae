//! virtio-balloon with free page reporting (Kata's `reclaim_guest_freed_memory`): the guest
//! tells QEMU which pages it freed, and QEMU gives them back to the host.

use kata_hypervisor::VmSpec;

/// Id of the balloon device (Kata's `balloon0`).
pub const BALLOON_ID: &str = "balloon0";

pub(super) fn args(spec: &VmSpec) -> Vec<String> {
    if !spec.free_page_reporting {
        return Vec::new();
    }
    vec![
        "-device".into(),
        format!("virtio-balloon-pci,id={BALLOON_ID},deflate-on-oom=on,free-page-reporting=on"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmdline::{test_spec, values_of};

    #[test]
    fn free_page_reporting_adds_a_balloon() {
        let mut s = test_spec();
        assert!(args(&s).is_empty());
        s.free_page_reporting = true;
        assert_eq!(
            values_of(&args(&s), "-device"),
            ["virtio-balloon-pci,id=balloon0,deflate-on-oom=on,free-page-reporting=on"]
        );
    }
}
