//! Cross-key rules: image/initrd, sizes, factory, network, runtime.

mod common;

use common::*;
use kata_config::{ConfigError, HostFacts};
use std::path::Path;

fn err_of(text: &str) -> String {
    load(text).expect_err("must be refused").to_string()
}

#[test]
fn image_and_initrd_are_exclusive() {
    let msg = err_of(&qemu(&format!("image = \"{IMAGE}\"")));
    assert!(
        msg.contains("hypervisor.qemu.image") && msg.contains("hypervisor.qemu.initrd"),
        "{msg}"
    );
    let msg = err_of("[hypervisor.qemu]\npath = \"/usr/bin/qemu-system-x86_64\"\n");
    assert!(msg.contains("either image or initrd"), "{msg}");
}

#[test]
fn initrd_larger_than_memory_is_an_error_image_a_warning() {
    let msg = err_of(&qemu("default_memory = 20"));
    assert!(
        msg.contains("default_memory") && msg.contains("20"),
        "{msg}"
    );
    assert!(load(&qemu("default_memory = 21")).is_ok());
    let text = format!("[hypervisor.qemu]\nimage = \"{IMAGE}\"\ndefault_memory = 256\n");
    let loaded = load(&text).expect("image larger than memory is a warning");
    assert_eq!(loaded.warnings.len(), 1, "{:?}", loaded.warnings);
    assert!(loaded.warnings[0].contains("kata-containers.img"));
}

#[test]
fn empty_initrd_is_an_error() {
    let h = HostFacts::fake(2, [(QEMU, 1), (KERNEL, 1), (INITRD, 0)]);
    let err = kata_config::Config::from_toml_str(&qemu(""), Path::new("/t.toml"), &h)
        .expect_err("empty initrd");
    assert!(err.to_string().contains("empty"), "{err}");
}

#[test]
fn template_and_vm_cache_are_exclusive() {
    let text = format!(
        "{}[factory]\nenable_template = true\nvm_cache_number = 2\n",
        qemu("")
    );
    let msg = err_of(&text);
    assert!(
        msg.contains("factory.enable_template") && msg.contains("factory.vm_cache_number"),
        "{msg}"
    );
}

#[test]
fn template_needs_an_initrd() {
    let text =
        format!("[hypervisor.qemu]\nimage = \"{IMAGE}\"\n[factory]\nenable_template = true\n");
    let msg = err_of(&text);
    assert!(msg.contains("requires an initrd"), "{msg}");
    let ok = format!(
        "{}[factory]\nenable_template = true\n",
        qemu("shared_fs = \"virtio-9p\"")
    );
    assert!(
        load(&ok)
            .expect("initrd template")
            .config
            .factory
            .enable_template
    );
}

#[test]
fn vm_cache_needs_virtio_fs() {
    let text = format!(
        "{}[factory]\nvm_cache_number = 1\n",
        qemu("shared_fs = \"virtio-9p\"")
    );
    let msg = err_of(&text);
    assert!(
        msg.contains("factory.vm_cache_number")
            && msg.contains("virtio-9p")
            && msg.contains("virtio-fs"),
        "{msg}"
    );
}

#[test]
fn template_needs_9p() {
    let text = format!("{}[factory]\nenable_template = true\n", qemu(""));
    let msg = err_of(&text);
    assert!(
        msg.contains("factory.enable_template")
            && msg.contains("hypervisor.qemu.shared_fs")
            && msg.contains("virtio-fs")
            && msg.contains("virtio-9p"),
        "{msg}"
    );
}

#[test]
fn vm_cache_needs_qemu() {
    let text = format!("{}[factory]\nvm_cache_number = 3\n", qemu(""));
    let mut c = load(&text).expect("qemu vm cache").config;
    assert_eq!(c.factory.vm_cache_number, 3);
    c.hypervisor.name = "clh".to_string();
    let err = c
        .validate(Path::new("/x.toml"), &host())
        .expect_err("vm cache needs qemu");
    assert!(err.to_string().contains("only supports qemu"), "{err}");
}

#[test]
fn disable_new_netns_needs_model_none() {
    let text = format!("{}[runtime]\ndisable_new_netns = true\n", qemu(""));
    let msg = err_of(&text);
    assert!(
        msg.contains("runtime.disable_new_netns") && msg.contains("tcfilter"),
        "{msg}"
    );
    let ok = format!(
        "{}[runtime]\ndisable_new_netns = true\ninternetworking_model = \"none\"\n",
        qemu("")
    );
    assert!(load(&ok).is_ok());
}

#[test]
fn virtio_fs_needs_a_daemon() {
    let mut c = load(&qemu("")).expect("load").config;
    c.hypervisor.virtio_fs_daemon.clear();
    let err = c
        .validate(Path::new("/x.toml"), &host())
        .expect_err("no daemon");
    assert!(matches!(err, ConfigError::Conflict(_)), "{err}");
}

#[test]
fn runtime_rules() {
    let msg = err_of(&format!(
        "{}[runtime]\nexperimental = [\"newstore\"]\n",
        qemu("")
    ));
    assert!(msg.contains("newstore"), "{msg}");
    let msg = err_of(&qemu("enable_numa = true"));
    assert!(msg.contains("static_sandbox_resource_mgmt"), "{msg}");
    let msg = err_of(&format!(
        "{}[runtime]\nsandbox_bind_mounts = [\"/a/x\", \"/b/x:ro\"]\n",
        qemu("")
    ));
    assert!(msg.contains("/b/x:ro"), "{msg}");
    let msg = err_of(&qemu("pcie_root_port = 17"));
    assert!(msg.contains("pcie_root_port"), "{msg}");
}
