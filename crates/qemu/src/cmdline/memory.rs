//! `-m`, and guest RAM's backend object (`mem_backend.rs`: the shared memfd vhost-user devices
//! need, a file, huge pages) on one NUMA node.

use kata_hypervisor::VmSpec;

use super::CmdlineError;

/// Id of the guest RAM backend object.
pub const RAM_BACKEND_ID: &str = "mem";

pub(super) fn args(spec: &VmSpec) -> Result<Vec<String>, CmdlineError> {
    let mem = &spec.memory;
    let hotplug = mem.slots > 0;
    if mem.size_mib == 0 || (hotplug && mem.max_mib < mem.size_mib) {
        return Err(CmdlineError::InvalidMemory {
            size_mib: mem.size_mib,
            max_mib: mem.max_mib,
        });
    }
    let mut m = format!("{}M", mem.size_mib);
    if hotplug {
        m.push_str(&format!(",slots={},maxmem={}M", mem.slots, mem.max_mib));
    }
    if spec.maps_memory_privately() && (spec.uses_vhost_user() || mem.force_shared) {
        return Err(CmdlineError::PrivateMemoryShared);
    }
    let mut args = vec!["-m".into(), m];
    if let Some(object) = super::mem_backend::object(spec) {
        args.extend([
            "-object".into(),
            object,
            "-numa".into(),
            format!("node,memdev={RAM_BACKEND_ID}"),
        ]);
    }
    Ok(args)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmdline::{test_spec, values_of};
    use kata_hypervisor::SharedFs;

    #[test]
    fn plain_memory() {
        let a = args(&test_spec()).expect("args");
        assert_eq!(values_of(&a, "-m"), ["512M"]);
        assert!(values_of(&a, "-object").is_empty());
    }

    #[test]
    fn hotplug_slots_and_maxmem() {
        let mut s = test_spec();
        s.memory.slots = 10;
        s.memory.max_mib = 4096;
        let a = args(&s).expect("args");
        assert_eq!(values_of(&a, "-m"), ["512M,slots=10,maxmem=4096M"]);
    }

    #[test]
    fn vhost_user_gets_a_shared_memfd_backend_on_a_numa_node() {
        let mut s = test_spec();
        s.shared_fs = Some(SharedFs::VirtioFs {
            socket: "/s".into(),
            tag: "kataShared".into(),
        });
        let a = args(&s).expect("args");
        assert_eq!(
            values_of(&a, "-object"),
            ["memory-backend-memfd,id=mem,size=512M,share=on"]
        );
        assert_eq!(values_of(&a, "-numa"), ["node,memdev=mem"]);
    }

    #[test]
    fn a_private_clone_refuses_vhost_user_devices() {
        let mut s = test_spec();
        s.memory_backend.kind = kata_hypervisor::MemoryKind::MappedFile {
            path: "/t/memory".into(),
            shared: false,
        };
        assert!(args(&s).is_ok());
        s.shared_fs = Some(SharedFs::VirtioFs {
            socket: "/s".into(),
            tag: "kataShared".into(),
        });
        assert_eq!(args(&s), Err(CmdlineError::PrivateMemoryShared));
    }

    #[test]
    fn bad_sizes_are_refused() {
        let mut s = test_spec();
        s.memory.size_mib = 0;
        assert!(args(&s).is_err());
        let mut s = test_spec();
        s.memory.slots = 1;
        s.memory.max_mib = 256;
        assert!(args(&s).is_err());
    }
}
