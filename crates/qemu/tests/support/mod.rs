//! Helpers for the VM tests: find a guest kernel, build a tiny busybox initrd, make a spec.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use kata_hypervisor::{Accelerator, VmSpec};

/// Printed by the test initrd's init on the serial console.
pub const BOOT_MARKER: &str = "KATA_QEMU_TEST_BOOTED";

pub const QEMU: &str = "/usr/bin/qemu-system-x86_64";

/// The guest kernel: `$KATA_TEST_KERNEL`, else the osbuilder output, else the installed one.
pub fn kernel() -> Option<PathBuf> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let candidates = [
        std::env::var_os("KATA_TEST_KERNEL").map(PathBuf::from),
        Some(workspace.join("build/image/vmlinux.container")),
        Some(PathBuf::from(
            "/usr/share/kata-containers/vmlinux.container",
        )),
    ];
    candidates.into_iter().flatten().find(|p| p.is_file())
}

/// Kernel, or a message saying the test is skipped.
pub fn kernel_or_skip(test: &str) -> Option<PathBuf> {
    let k = kernel();
    if k.is_none() {
        eprintln!(
            "SKIP {test}: no guest kernel (set KATA_TEST_KERNEL or run tools/osbuilder/build-image.sh)"
        );
    }
    if !Path::new(QEMU).is_file() {
        eprintln!("SKIP {test}: {QEMU} missing");
        return None;
    }
    k
}

fn cpio_entry(out: &mut Vec<u8>, ino: u32, name: &str, mode: u32, rdev: (u32, u32), data: &[u8]) {
    let name_len = name.len() + 1;
    let fields = [
        ino,
        mode,
        0,
        0,
        1,
        0,
        data.len() as u32,
        0,
        0,
        rdev.0,
        rdev.1,
        name_len as u32,
        0,
    ];
    out.extend_from_slice(b"070701");
    for f in fields {
        out.extend_from_slice(format!("{f:08x}").as_bytes());
    }
    out.extend_from_slice(name.as_bytes());
    out.push(0);
    out.resize(out.len().next_multiple_of(4), 0);
    out.extend_from_slice(data);
    out.resize(out.len().next_multiple_of(4), 0);
}

/// Writes a newc initramfs: busybox, a /dev/console node, and an /init that prints
/// [`BOOT_MARKER`] and then powers off (kernel parameter `kata_test=poweroff`) or idles.
pub fn build_initrd(path: &Path) {
    let init = format!(
        "#!/bin/busybox sh\n\
         echo {BOOT_MARKER}\n\
         if [ \"$kata_test\" = poweroff ]; then /bin/busybox poweroff -f; fi\n\
         while :; do /bin/busybox sleep 3600; done\n"
    );
    build_initrd_with(path, &init);
}

/// Writes a newc initramfs like [`build_initrd`] with `init` (a busybox sh script) as /init.
pub fn build_initrd_with(path: &Path, init: &str) {
    let busybox = std::fs::read("/bin/busybox").expect("/bin/busybox (busybox-static) is needed");
    let mut out = Vec::new();
    cpio_entry(&mut out, 1, "dev", 0o040755, (0, 0), b"");
    cpio_entry(&mut out, 2, "dev/console", 0o020600, (5, 1), b"");
    cpio_entry(&mut out, 3, "bin", 0o040755, (0, 0), b"");
    cpio_entry(&mut out, 4, "bin/busybox", 0o100755, (0, 0), &busybox);
    cpio_entry(&mut out, 5, "proc", 0o040755, (0, 0), b"");
    cpio_entry(&mut out, 6, "init", 0o100755, (0, 0), init.as_bytes());
    cpio_entry(&mut out, 7, "TRAILER!!!", 0, (0, 0), b"");
    std::fs::write(path, out).expect("write initrd");
}

/// A TCG spec booting `kernel` with the test initrd, console logged to `dir/console.log`.
pub fn spec(id: &str, dir: &Path, kernel: &Path) -> VmSpec {
    let initrd = dir.join("initrd.img");
    build_initrd(&initrd);
    let mut spec = VmSpec::minimal(id, QEMU, kernel, dir.join("run"), Accelerator::tcg());
    spec.machine_type = "pc".into();
    spec.memory.size_mib = 256;
    spec.boot.initrd = Some(initrd);
    spec.boot.kernel_params = "quiet panic=1 rdinit=/init".into();
    spec.console_log = Some(dir.join("console.log"));
    spec
}

/// Waits until the console log holds `marker`.
pub async fn wait_console(log: &Path, marker: &str, secs: u64) -> bool {
    for _ in 0..secs * 10 {
        if std::fs::read_to_string(log).is_ok_and(|s| s.contains(marker)) {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    false
}

pub fn pid_alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}
