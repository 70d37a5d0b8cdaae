//! Every default and clamp of the loader (fake 4-CPU host).

mod common;

use common::*;
use kata_config::{BlockDeviceDriver, Config, ConfigError, HostFacts, SharedFs};
use std::path::{Path, PathBuf};

fn hv(extra: &str) -> kata_config::HypervisorConfig {
    load(&qemu(extra)).expect("load").config.hypervisor
}

#[test]
fn defaults_of_an_almost_empty_file() {
    let loaded = load(&qemu("")).expect("load");
    let c = &loaded.config;
    let h = &c.hypervisor;
    assert_eq!(h.path, PathBuf::from(QEMU));
    assert_eq!(h.kernel, PathBuf::from(KERNEL));
    assert_eq!(h.firmware, None);
    assert_eq!(h.machine_type, "q35");
    assert_eq!(h.default_vcpus, 1);
    assert_eq!(h.default_maxvcpus, 4);
    assert_eq!(h.default_memory, 2048);
    assert_eq!(h.memory_slots, 10);
    assert_eq!(h.memory_offset, 0);
    assert_eq!(h.default_maxmemory, 16 * 1024);
    assert_eq!(h.default_bridges, 1);
    assert_eq!(h.block_device_driver, BlockDeviceDriver::VirtioScsi);
    assert_eq!(h.block_device_aio, "io_uring");
    assert_eq!(h.msize_9p, 8192);
    assert_eq!(h.entropy_source, "/dev/urandom");
    assert_eq!(h.shared_fs, SharedFs::VirtioFs);
    assert_eq!(h.virtio_fs_daemon, "/usr/local/bin/virtiofsd");
    assert_eq!(h.virtio_fs_cache, "never");
    assert_eq!(h.virtio_fs_queue_size, 1024);
    assert_eq!(h.hot_plug_vfio, "no-port");
    assert_eq!(h.rootfs_type, "ext4");
    assert!(
        h.enable_annotations.is_empty(),
        "deny all annotations by default"
    );
    assert_eq!(c.agent.dial_timeout, 45);
    assert_eq!(c.agent.cdh_api_timeout, 50);
    assert_eq!(
        c.runtime.jaeger_endpoint,
        "http://localhost:14268/api/traces"
    );
    assert_eq!(c.runtime.internetworking_model.as_str(), "tcfilter");
    assert_eq!(c.runtime.vfio_mode, "guest-kernel");
    assert_eq!(c.runtime.create_container_timeout, 60);
    assert_eq!(
        c.factory.template_path,
        PathBuf::from("/run/vc/vm/template")
    );
    assert_eq!(
        c.factory.vm_cache_endpoint,
        PathBuf::from("/var/run/kata-containers/cache.sock")
    );
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
}

#[test]
fn no_hypervisor_table_means_no_boot_asset() {
    let err = load("[runtime]\n").expect_err("no initrd or image");
    assert!(err.to_string().contains("either image or initrd"), "{err}");
}

#[test]
fn other_hypervisors_are_refused() {
    let err = load("[hypervisor.firecracker]\npath = \"/usr/bin/firecracker\"\n").expect_err("fc");
    assert!(err.to_string().contains("firecracker"), "{err}");
    let both = format!("{}[hypervisor.clh]\npath = \"x\"\n", qemu(""));
    let loaded = load(&both).expect("qemu wins");
    assert!(loaded
        .warnings
        .iter()
        .any(|w| w.contains("[hypervisor.clh]")));
}

#[test]
fn vcpus_clamp() {
    for (given, want) in [
        ("-1", 4),
        ("-7", 4),
        ("5", 4),
        ("0", 1),
        ("2", 2),
        ("4", 4),
        ("1.5", 2),
    ] {
        assert_eq!(
            hv(&format!("default_vcpus = {given}")).default_vcpus,
            want,
            "{given}"
        );
    }
}

#[test]
fn max_vcpus_clamp() {
    for (given, want) in [(0, 4), (4, 4), (9, 4), (2, 2)] {
        assert_eq!(
            hv(&format!("default_maxvcpus = {given}")).default_maxvcpus,
            want,
            "{given}"
        );
    }
    let mut big = host();
    big.cpus = 300;
    let c = Config::from_toml_str(&qemu(""), Path::new("/t.toml"), &big).expect("load");
    assert_eq!(c.config.hypervisor.default_maxvcpus, 240, "qemu maximum");
}

#[test]
fn memory_slots_offset_and_max_memory() {
    assert_eq!(hv("default_memory = 7").default_memory, 2048);
    let tiny = load(&format!(
        "[hypervisor.qemu]\nimage = \"{IMAGE}\"\ndefault_memory = 8\n"
    ))
    .expect("an image larger than memory is only a warning");
    assert_eq!(tiny.config.hypervisor.default_memory, 8);
    assert!(
        tiny.warnings.iter().any(|w| w.contains("8 MiB")),
        "{:?}",
        tiny.warnings
    );
    assert_eq!(hv("default_memory = 600").default_memory, 600);
    assert_eq!(hv("memory_slots = 0").memory_slots, 10);
    assert_eq!(hv("memory_slots = 3").memory_slots, 3);
    assert_eq!(hv("memory_offset = 128").memory_offset, 128);
    assert_eq!(hv("default_maxmemory = 1024").default_maxmemory, 1024);
    assert_eq!(
        hv("default_maxmemory = 99999999").default_maxmemory,
        16 * 1024
    );
}

#[test]
fn bridges_clamp() {
    assert_eq!(hv("default_bridges = 0").default_bridges, 1);
    assert_eq!(hv("default_bridges = 3").default_bridges, 3);
    assert_eq!(hv("default_bridges = 6").default_bridges, 5);
}

#[test]
fn block_device_driver_allowlist() {
    for (name, want) in [
        ("virtio-scsi", BlockDeviceDriver::VirtioScsi),
        ("virtio-blk", BlockDeviceDriver::VirtioBlk),
        ("virtio-mmio", BlockDeviceDriver::VirtioMmio),
        ("nvdimm", BlockDeviceDriver::Nvdimm),
    ] {
        assert_eq!(
            hv(&format!("block_device_driver = \"{name}\"")).block_device_driver,
            want
        );
    }
    for bad in ["ide", "virtio-blk-ccw"] {
        let err = load(&qemu(&format!("block_device_driver = \"{bad}\""))).expect_err(bad);
        assert!(
            matches!(err, ConfigError::InvalidValue { ref key, ref value, .. }
            if key == "hypervisor.qemu.block_device_driver" && value == bad),
            "{err}"
        );
    }
}

#[test]
fn msize_9p_default_and_range() {
    assert_eq!(hv("msize_9p = 0").msize_9p, 8192);
    assert_eq!(hv("msize_9p = 65536").msize_9p, 65536);
    for bad in [100, 9_000_000] {
        let err = load(&qemu(&format!("msize_9p = {bad}"))).expect_err("range");
        assert!(err.to_string().contains("msize_9p"), "{err}");
    }
}

#[test]
fn entropy_and_machine_accelerators() {
    assert_eq!(
        hv("entropy_source = \"/dev/random\"").entropy_source,
        "/dev/random"
    );
    let h = hv("machine_accelerators = \" nosmm ,, nosmbus,\\tnosata\\n,\"");
    assert_eq!(h.machine_accelerators, "nosmm,nosmbus,nosata");
}

#[test]
fn enumerated_values_are_checked() {
    for (line, key) in [
        ("shared_fs = \"nfs\"", "shared_fs"),
        ("virtio_fs_cache = \"sometimes\"", "virtio_fs_cache"),
        ("block_device_aio = \"posix\"", "block_device_aio"),
        ("rootfs_type = \"btrfs\"", "rootfs_type"),
        ("hot_plug_vfio = \"any-port\"", "hot_plug_vfio"),
        ("hypervisor_loglevel = 4", "hypervisor_loglevel"),
        (
            "block_device_logical_sector_size = 1000",
            "block_device_logical_sector_size",
        ),
        ("kernel_params = \"a=1 =2\"", "kernel_params"),
    ] {
        let err = load(&qemu(line)).expect_err(line);
        assert!(err.to_string().contains(key), "{line}: {err}");
    }
    assert_eq!(
        hv("shared_fs = \"virtio-9p\"").shared_fs,
        SharedFs::Virtio9p
    );
    let bad_model = "[hypervisor.qemu]\ninitrd = \"/usr/share/kata-containers/kata-containers-initrd.img\"\n[runtime]\ninternetworking_model = \"bridged\"\n";
    let err = load(bad_model).expect_err("model");
    assert!(
        err.to_string().contains("runtime.internetworking_model"),
        "{err}"
    );
    assert!(err.to_string().contains("bridged"), "{err}");
}

#[test]
fn paths_are_resolved_and_must_exist() {
    let err = load(&qemu("kernel = \"/nope/vmlinux\"")).expect_err("missing kernel");
    match &err {
        ConfigError::BadPath {
            file, key, value, ..
        } => {
            assert_eq!(file, Path::new("/test/configuration.toml"));
            assert_eq!(key, "hypervisor.qemu.kernel");
            assert_eq!(value, "/nope/vmlinux");
        }
        other => panic!("unexpected {other}"),
    }
    for key in ["path", "firmware", "firmware_volume"] {
        let err = load(&qemu(&format!("{key} = \"/nope\""))).expect_err(key);
        assert!(
            err.to_string().contains(&format!("hypervisor.qemu.{key}")),
            "{err}"
        );
    }
    let err = load("[hypervisor.qemu]\nimage = \"/nope.img\"\n").expect_err("image");
    assert!(err.to_string().contains("hypervisor.qemu.image"), "{err}");
}

#[test]
fn paths_are_canonicalised_on_the_real_file_system() {
    let dir = tempfile::tempdir().expect("tempdir");
    let real = dir.path().join("initrd.img");
    std::fs::write(&real, vec![1u8; 4096]).expect("write");
    let link = dir.path().join("link.img");
    std::os::unix::fs::symlink(&real, &link).expect("symlink");
    let text = format!(
        "[hypervisor.qemu]\npath = \"/bin/sh\"\nkernel = \"{}\"\ninitrd = \"{}\"\n",
        real.display(),
        link.display()
    );
    let loaded =
        Config::from_toml_str(&text, Path::new("/t.toml"), &HostFacts::detect()).expect("load");
    assert_eq!(
        loaded.config.hypervisor.initrd,
        Some(real.canonicalize().expect("canon"))
    );
}

#[test]
fn kernel_params_user_wins_over_systemd_defaults() {
    let text = format!(
        "[hypervisor.qemu]\nimage = \"{IMAGE}\"\nkernel_params = \"systemd.unit=rescue.target quiet\"\n"
    );
    let h = load(&text).expect("load").config.hypervisor;
    assert_eq!(
        h.kernel_params.get("systemd.unit"),
        Some(Some("rescue.target"))
    );
    assert_eq!(
        h.kernel_params.get("init"),
        Some(Some("/usr/lib/systemd/systemd"))
    );
    assert_eq!(h.kernel_params.get("quiet"), Some(None));
    assert_eq!(
        h.user_kernel_params.to_string(),
        "systemd.unit=rescue.target quiet"
    );
    let masks = h
        .kernel_params
        .iter()
        .filter(|p| p.key == "systemd.mask")
        .count();
    assert_eq!(masks, 15);
    // Tracing keeps journald etc.
    let traced = format!("{text}[runtime]\nenable_tracing = true\n");
    let h = load(&traced).expect("load").config.hypervisor;
    assert_eq!(
        h.kernel_params
            .iter()
            .filter(|p| p.key == "systemd.mask")
            .count(),
        2
    );
    // An initrd gets no built-in parameters.
    let h = hv("kernel_params = \"console=hvc0\"");
    assert_eq!(h.kernel_params.to_string(), "console=hvc0");
}

#[test]
fn default_vcpus_accepts_kata_3x_floats_and_2x_ints() {
    assert_eq!(hv("default_vcpus = 2").default_vcpus, 2);
    assert_eq!(hv("default_vcpus = 2.0").default_vcpus, 2);
    assert_eq!(hv("default_vcpus = 0.5").default_vcpus, 1);
}

#[test]
fn seccompsandbox_is_on_when_absent_and_off_only_when_empty() {
    // Absent: kata-rs turns QEMU's seccomp filter on (Kata's own default is off).
    assert_eq!(
        hv("").seccompsandbox,
        "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny"
    );
    assert_eq!(hv("seccompsandbox = \"\"\n").seccompsandbox, "");
    assert_eq!(
        hv("seccompsandbox = \"on,spawn=deny\"\n").seccompsandbox,
        "on,spawn=deny"
    );
}

#[test]
fn kernel_params_quoted_value_is_one_parameter_kept_byte_for_byte() {
    let h = hv(r#"kernel_params = 'x.y="a b b c" quiet quiet'"#);
    assert_eq!(
        h.user_kernel_params.to_string(),
        r#"x.y="a b b c" quiet quiet"#
    );
    assert_eq!(h.kernel_params.to_string(), r#"x.y="a b b c" quiet"#);
    assert_eq!(h.kernel_params.get("x.y"), Some(Some(r#""a b b c""#)));
}

#[test]
fn kernel_params_unbalanced_quote_names_key_and_value() {
    let err = load(&qemu(r#"kernel_params = 'x.y="a b'"#)).expect_err("unbalanced");
    let msg = err.to_string();
    assert!(msg.contains("kernel_params"), "{msg}");
    assert!(msg.contains(r#"x.y=\"a b"#), "{msg}");
    assert!(msg.contains("unbalanced double quote"), "{msg}");
}
