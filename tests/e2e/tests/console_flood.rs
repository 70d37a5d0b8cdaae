//! Root in the guest floods the VM's serial console: the host keeps at most 1 MiB of it
//! (`kata_qemu::console::CONSOLE_LOG_MAX`) under `/run/vc/vm/<sid>/console.log`.

use std::path::Path;
use std::time::{Duration, Instant};

use kata_e2e_tests::{assert_no_leftovers, PrivateContainerd};

const TEARDOWN: Duration = Duration::from_secs(15);
/// `kata_qemu::console::CONSOLE_LOG_MAX`.
const BOUND: u64 = 1024 * 1024;
const START: &str = "CONSOLE-FLOOD-START";

#[test]
fn a_privileged_container_flooding_the_console_leaves_at_most_the_bound() {
    let c = PrivateContainerd::start_clean(TEARDOWN);
    // The container makes the serial port's node (privileged: CAP_MKNOD, every device allowed),
    // writes a marker, and a second later floods the port without end.
    let flood = format!(
        "(test -c /dev/ttyS0 || mknod /dev/ttyS0 c 4 64) && echo {START} > /dev/ttyS0 && sleep 1 && \
         yes 0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz \
         > /dev/ttyS0"
    );
    let out = c
        .ctr(
            &[
                "run",
                "-d",
                "--privileged",
                "--runtime",
                "io.containerd.kata.v2",
                "docker.io/library/busybox:latest",
                "cflood",
                "sh",
                "-c",
                &flood,
            ],
            None,
            180,
        )
        .expect("ctr run -d");
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);

    let log = Path::new("/run/vc/vm/cflood/console.log");
    let started = Instant::now();
    let deadline = started + Duration::from_secs(400);
    let mut largest = 0;
    let mut seen_start = false;
    let mut pushed_out = false;
    while Instant::now() < deadline {
        let size = std::fs::metadata(log).map(|m| m.len()).unwrap_or(0);
        largest = largest.max(size);
        let text = std::fs::read_to_string(log).unwrap_or_default();
        seen_start |= text.contains(START);
        // Gone once more than the bound went through.
        if seen_start && !text.contains(START) {
            pushed_out = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!("flood pushed the marker out after {:?}", started.elapsed());
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let _ = c.ctr(&["task", "kill", "-s", "SIGKILL", "cflood"], None, 30);
    c.wait_task("cflood", 120, |s| matches!(s, Some("STOPPED") | None));
    let _ = c.ctr(&["task", "delete", "cflood"], None, 60);
    let _ = c.ctr(&["container", "delete", "cflood"], None, 30);
    drop(c);
    assert_no_leftovers(TEARDOWN);

    assert!(seen_start, "the marker never reached the host");
    assert!(
        pushed_out,
        "less than the bound went through in 400 s; {largest} bytes at most"
    );
    assert!(largest <= BOUND, "{largest} bytes of console on the host");
    assert!(
        text.matches("0123456789abcdefghij").count() > 1000,
        "the newest output is the flood"
    );
}
