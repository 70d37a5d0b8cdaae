//! A hostile guest floods its serial console: the host keeps at most `CONSOLE_LOG_MAX` bytes.

mod support;

use kata_qemu::console::CONSOLE_LOG_MAX;
use kata_qemu::QemuVm;
use support::*;

const DONE: &str = "CONSOLE-FLOOD-DONE";

#[tokio::test]
async fn a_guest_flooding_its_console_leaves_at_most_the_bound_on_the_host() {
    let Some(kernel) =
        kernel_or_skip("a_guest_flooding_its_console_leaves_at_most_the_bound_on_the_host")
    else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let mut spec = spec("flood1", dir.path(), &kernel);
    // Root in the guest writes 3 MiB (3x the bound) to the console, then a marker.
    let init = format!(
        "#!/bin/busybox sh\n\
         echo {BOOT_MARKER}\n\
         /bin/busybox yes 0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz \
           | /bin/busybox head -c 3145728 > /dev/console\n\
         echo {DONE}\n\
         while :; do /bin/busybox sleep 3600; done\n"
    );
    let initrd = dir.path().join("flood.img");
    build_initrd_with(&initrd, &init);
    spec.boot.initrd = Some(initrd);
    let log = spec.console_log.clone().expect("console log");
    let vm = QemuVm::start(spec).await.expect("start");

    let done = wait_console(&log, DONE, 240).await;
    let size = std::fs::metadata(&log).map(|m| m.len()).unwrap_or(0);
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    vm.stop().await.expect("stop");
    assert!(
        done,
        "the guest did not finish its flood; {size} bytes kept"
    );
    assert!(size <= CONSOLE_LOG_MAX, "{size} bytes on the host");
    assert!(
        !text.contains(BOOT_MARKER),
        "the oldest output was dropped (the flood passed the bound)"
    );
    assert!(
        text.contains("0123456789abcdef"),
        "the newest output is kept"
    );
}
