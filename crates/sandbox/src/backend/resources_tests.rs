//! Boot size, room to grow and static sizing, from the configuration and the pod's spec.

use std::path::Path;

use kata_config::{Config, HostFacts};
use oci_spec::runtime::Spec;

use super::*;

/// A configuration of `extra` lines in `[hypervisor.qemu]` (and `runtime` lines in
/// `[runtime]`) on a fake host of 4 CPUs and 16 GiB.
fn config(extra: &str, runtime: &str) -> Config {
    let text = format!(
        "[hypervisor.qemu]\npath = \"/q\"\nkernel = \"/k\"\ninitrd = \"/i\"\n{extra}\n[runtime]\n{runtime}\n"
    );
    let host = HostFacts::fake(4, [("/q", 1u64), ("/k", 1), ("/i", 1)]);
    Config::from_toml_str(&text, Path::new("t.toml"), &host)
        .expect("config")
        .config
}

fn spec(json: serde_json::Value) -> Spec {
    serde_json::from_value(json).expect("spec")
}

#[test]
fn the_vm_boots_with_room_up_to_the_host() {
    // default_maxvcpus = 0 and default_maxmemory = 0: the host's CPUs and memory.
    let c = config(
        "default_vcpus = 1\ndefault_memory = 512\nmemory_slots = 10\ndefault_maxvcpus = 0\ndefault_maxmemory = 0",
        "",
    );
    let (cpu, mem) = boot_size(&c.hypervisor);
    assert_eq!((cpu.vcpus, cpu.max_vcpus), (1, 4));
    assert_eq!((mem.size_mib, mem.slots, mem.max_mib), (512, 10, 16 * 1024));
}

#[test]
fn explicit_ceilings_are_kept_and_the_host_caps_them() {
    let c = config(
        "default_vcpus = 2\ndefault_maxvcpus = 3\ndefault_memory = 1024\nmemory_slots = 4\ndefault_maxmemory = 3072",
        "",
    );
    let (cpu, mem) = boot_size(&c.hypervisor);
    assert_eq!((cpu.vcpus, cpu.max_vcpus), (2, 3));
    assert_eq!((mem.size_mib, mem.slots, mem.max_mib), (1024, 4, 3072));
    // More than the host has: the host's count.
    let c = config("default_maxvcpus = 64\ndefault_maxmemory = 999999", "");
    let (cpu, mem) = boot_size(&c.hypervisor);
    assert_eq!(cpu.max_vcpus, 4);
    assert_eq!(mem.max_mib, 16 * 1024);
}

#[test]
fn a_ceiling_at_the_boot_size_turns_memory_hotplug_off() {
    let c = config("default_memory = 2048\ndefault_maxmemory = 2048", "");
    let (_, mem) = boot_size(&c.hypervisor);
    assert_eq!((mem.slots, mem.max_mib), (0, 2048));
    let c = config("memory_slots = 1000", "");
    assert_eq!(boot_size(&c.hypervisor).1.slots, MAX_MEMORY_SLOTS);
}

#[test]
fn static_sizing_adds_the_pods_annotations_at_boot() {
    let mut c = config(
        "default_vcpus = 1\ndefault_memory = 512",
        "static_sandbox_resource_mgmt = true",
    );
    let pod = spec(serde_json::json!({
        "ociVersion": "1.0.2",
        "annotations": {
            "io.kubernetes.cri.container-type": "sandbox",
            "io.kubernetes.cri.sandbox-cpu-quota": "220000",
            "io.kubernetes.cri.sandbox-cpu-period": "100000",
            "io.kubernetes.cri.sandbox-memory": "1073741824"
        }
    }));
    size_statically(&mut c, &pod);
    // 2.2 CPUs round up to 3; 1 GiB.
    assert_eq!(c.hypervisor.default_vcpus, 4);
    assert_eq!(c.hypervisor.default_memory, 1536);
    let (cpu, mem) = boot_size(&c.hypervisor);
    assert_eq!(cpu.vcpus, 4);
    assert_eq!(mem.size_mib, 1536);
    assert!(sizing(&c).static_mgmt);
}

#[test]
fn static_sizing_of_a_plain_ctr_run_uses_the_containers_resources() {
    let single = spec(serde_json::json!({
        "ociVersion": "1.0.2",
        "linux": {"resources": {
            "cpu": {"quota": 200000, "period": 100000},
            "memory": {"limit": 1073741824}
        }}
    }));
    assert_eq!(static_sizing(&single), (2.0, 1 << 30));
    let cpuset = spec(serde_json::json!({
        "ociVersion": "1.0.2",
        "linux": {"resources": {"cpu": {"cpus": "0-2"}}}
    }));
    assert_eq!(static_sizing(&cpuset), (3.0, 0));
    // A CRI pod member without sandbox annotations adds nothing (containerd 1.6 may not set
    // them): its own resources are the pod's business, not the boot's.
    let member = spec(serde_json::json!({
        "ociVersion": "1.0.2",
        "annotations": {"io.kubernetes.cri.container-type": "sandbox"},
        "linux": {"resources": {"memory": {"limit": 1073741824}}}
    }));
    assert_eq!(static_sizing(&member), (0.0, 0));
}

#[test]
fn without_static_management_the_boot_size_stays() {
    let mut c = config("default_vcpus = 1\ndefault_memory = 512", "");
    let single = spec(serde_json::json!({
        "ociVersion": "1.0.2",
        "linux": {"resources": {"cpu": {"quota": 200000, "period": 100000}}}
    }));
    size_statically(&mut c, &single);
    assert_eq!(c.hypervisor.default_vcpus, 1);
    let s = sizing(&c);
    assert!(!s.static_mgmt);
    assert_eq!(
        (s.default_vcpus, s.default_memory_mib, s.boot_memory_mib),
        (1, 512, 512)
    );
}
