use std::path::PathBuf;

use super::*;

struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new(flags: &str, mem_available_kib: u64) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path();
        std::fs::create_dir_all(p.join("proc")).expect("mkdir");
        std::fs::create_dir_all(p.join("dev")).expect("mkdir");
        std::fs::create_dir_all(p.join("assets")).expect("mkdir");
        std::fs::write(
            p.join("proc/cpuinfo"),
            format!("processor\t: 0\nflags\t\t: fpu {flags}\n"),
        )
        .expect("write");
        std::fs::write(
            p.join("proc/meminfo"),
            format!("MemTotal: 8388608 kB\nMemFree: 1 kB\nMemAvailable: {mem_available_kib} kB\n"),
        )
        .expect("write");
        std::fs::write(p.join("assets/vmlinux"), "kernel").expect("write");
        std::fs::write(p.join("assets/initrd"), "initrd").expect("write");
        Self { dir }
    }

    fn host(&self) -> Host {
        Host::at(self.dir.path())
    }

    fn settings(&self) -> Settings {
        Settings {
            hypervisor_path: PathBuf::from("/bin/true"),
            kernel: Some(self.dir.path().join("assets/vmlinux")),
            initrd: Some(self.dir.path().join("assets/initrd")),
            image: None,
            shared_fs: "virtio-fs".into(),
            virtiofsd: Some(PathBuf::from("/bin/sh")),
            default_memory_mib: 2048,
        }
    }
}

fn find_nothing(_: &str) -> Option<PathBuf> {
    None
}

fn find_everything(name: &str) -> Option<PathBuf> {
    Some(PathBuf::from("/opt/bin").join(name))
}

fn by_item<'a>(lines: &'a [CheckLine], item: &str) -> &'a CheckLine {
    lines
        .iter()
        .find(|l| l.item == item)
        .unwrap_or_else(|| panic!("no {item} line in {lines:?}"))
}

#[test]
fn pvm_like_host_is_tcg_only_with_reason() {
    let fx = Fixture::new("hypervisor", 4 << 20);
    std::fs::write(fx.dir.path().join("dev/kvm"), "").expect("write");
    let lines = run_checks(&fx.host(), &fx.settings(), &find_everything);
    let kvm = by_item(&lines, "kvm");
    assert_eq!(kvm.status, Status::Warn);
    assert!(kvm.message.contains("TCG only"), "{kvm}");
    assert!(kvm.message.contains("no vmx/svm"), "{kvm}");
    assert_eq!(by_item(&lines, "cpu").status, Status::Warn);
}

#[test]
fn tcg_is_a_plain_isolation_warning_and_kvm_is_not() {
    let fx = Fixture::new("hypervisor", 4 << 20);
    let lines = run_checks(&fx.host(), &fx.settings(), &find_everything);
    let iso = by_item(&lines, "isolation");
    assert_eq!(iso.status, Status::Warn);
    let text = iso.to_string();
    assert!(text.starts_with("[warn] isolation: "), "{text}");
    assert!(
        text.contains("software emulation (TCG): a weaker isolation boundary than KVM"),
        "{text}"
    );
    let kvm = kata_hostinfo::VirtSupport {
        accelerator: Accelerator::Kvm,
        reason: "CPU has vmx and /dev/kvm works".into(),
    };
    let ok = check_isolation(&kvm);
    assert_eq!(ok.status, Status::Ok);
    assert!(!ok.message.contains("TCG"), "{ok}");
}

#[test]
fn vsock_absent_uses_hybrid_vsock_or_fails() {
    let fx = Fixture::new("vmx", 4 << 20);
    let lines = run_checks(&fx.host(), &fx.settings(), &find_everything);
    let vsock = by_item(&lines, "vsock");
    assert_eq!(vsock.status, Status::Warn);
    assert!(vsock.message.contains("vhost-device-vsock"), "{vsock}");
    let lines = run_checks(&fx.host(), &fx.settings(), &find_nothing);
    assert_eq!(by_item(&lines, "vsock").status, Status::Fail);
    std::fs::write(fx.dir.path().join("dev/vhost-vsock"), "").expect("write");
    let lines = run_checks(&fx.host(), &fx.settings(), &find_nothing);
    assert_eq!(by_item(&lines, "vsock").status, Status::Ok);
}

#[test]
fn missing_kernel_initrd_and_virtiofsd_fail() {
    let fx = Fixture::new("vmx", 4 << 20);
    let mut s = fx.settings();
    s.kernel = Some(PathBuf::from("/nonexistent/vmlinux"));
    s.initrd = None;
    s.virtiofsd = Some(PathBuf::from("/nonexistent/virtiofsd"));
    let lines = run_checks(&fx.host(), &s, &find_everything);
    let kernel = by_item(&lines, "kernel");
    assert_eq!(kernel.status, Status::Fail);
    assert!(kernel.message.contains("/nonexistent/vmlinux"));
    assert_eq!(by_item(&lines, "guest image").status, Status::Fail);
    let fs = by_item(&lines, "virtiofsd");
    assert_eq!(fs.status, Status::Fail);
    assert!(fs.message.contains("/opt/bin/virtiofsd"), "{fs}");
    assert_eq!(report(&lines), 1);
}

#[test]
fn image_is_accepted_when_no_initrd() {
    let fx = Fixture::new("vmx", 4 << 20);
    let mut s = fx.settings();
    s.image = s.initrd.take();
    let lines = run_checks(&fx.host(), &s, &find_everything);
    let image = by_item(&lines, "guest image");
    assert_eq!(image.status, Status::Ok);
    assert!(image.message.starts_with("image "));
}

#[test]
fn shared_fs_none_needs_no_daemon() {
    let fx = Fixture::new("vmx", 4 << 20);
    let mut s = fx.settings();
    s.shared_fs = "none".into();
    s.virtiofsd = None;
    let lines = run_checks(&fx.host(), &s, &find_nothing);
    assert_eq!(by_item(&lines, "virtiofsd").status, Status::Ok);
}

#[test]
fn missing_qemu_fails_and_non_qemu_fails() {
    let fx = Fixture::new("vmx", 4 << 20);
    let mut s = fx.settings();
    s.hypervisor_path = PathBuf::from("/nonexistent/qemu-system-x86_64");
    let lines = run_checks(&fx.host(), &s, &find_everything);
    assert_eq!(by_item(&lines, "qemu").status, Status::Fail);
    // /bin/true runs but prints no QEMU banner.
    let lines = run_checks(&fx.host(), &fx.settings(), &find_everything);
    assert_eq!(by_item(&lines, "qemu").status, Status::Fail);
}

#[test]
fn low_memory_is_a_warning() {
    let fx = Fixture::new("vmx", 1 << 20);
    let lines = run_checks(&fx.host(), &fx.settings(), &find_everything);
    let mem = by_item(&lines, "memory");
    assert_eq!(mem.status, Status::Warn);
    assert!(mem.message.contains("1024 MiB"), "{mem}");
}

#[test]
fn warnings_alone_exit_zero() {
    let lines = vec![
        line(Status::Ok, "a", "fine"),
        line(Status::Warn, "b", "TCG only"),
    ];
    assert_eq!(report(&lines), 0);
    assert_eq!(lines[1].to_string(), "[warn] b: TCG only");
}

#[test]
fn unloadable_config_is_one_failure_after_host_checks() {
    let fx = Fixture::new("vmx", 4 << 20);
    let err = anyhow::anyhow!("cannot load /x.toml");
    let lines = without_config(&fx.host(), &err, &find_everything);
    let last = lines.last().expect("lines");
    assert_eq!((last.status, last.item), (Status::Fail, "config"));
    assert!(last.message.contains("/x.toml"));
    assert!(lines.iter().any(|l| l.item == "kvm"));
}
