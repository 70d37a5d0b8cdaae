//! A terminal process gets a pty of the requested size, and TtyWinResize changes the size the
//! process sees.

use std::time::Duration;

use kata_vm_tests::rpc::{self, Stream};
use kata_vm_tests::spec::{container_spec, terminal_process};
use kata_vm_tests::{BusyboxRootfs, TestVm};

const READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Lines of terminal output without the pty's carriage returns.
fn lines(text: &str) -> Vec<String> {
    text.replace('\r', "")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

#[tokio::test]
async fn terminal_process_gets_a_pty_and_follows_resize() {
    let vm = TestVm::must_boot_sandbox("tty").await;
    let agent = vm.agent();
    let cid = "t1";
    BusyboxRootfs::create(vm.shared_dir(), cid).expect("busybox rootfs");

    // Prints its tty and size, waits for a line on stdin, prints the size again.
    let script = "tty; stty size; echo READY; read line; stty size";
    let spec = container_spec(cid, terminal_process(&["sh", "-c", script], 24, 80));
    if let Err(e) = rpc::run_container(agent, cid, spec).await {
        panic!("create+start {cid}: {e:?}\nconsole:\n{}", vm.console());
    }
    let first = rpc::read_until(agent, cid, cid, Stream::Stdout, "READY", READ_TIMEOUT)
        .await
        .unwrap_or_else(|e| panic!("terminal output: {e}"));
    let first = lines(&first);
    assert!(
        first.first().is_some_and(|l| l.starts_with("/dev/pts/")),
        "stdin is not a pty: {first:?}"
    );
    // Checked last, so that a missing initial size does not hide the resize result.
    let initial = first.get(1).cloned().unwrap_or_default();

    rpc::resize_tty(agent, cid, cid, 40, 132)
        .await
        .expect("TtyWinResize");
    let written = rpc::write_stdin(agent, cid, cid, b"go\n")
        .await
        .expect("WriteStdin");
    assert_eq!(written, 3);
    let (rest, status) = tokio::join!(
        rpc::read_to_end(agent, cid, cid, Stream::Stdout),
        rpc::wait_process(agent, cid, cid),
    );
    let rest = rest.unwrap_or_else(|(got, e)| panic!("reading the rest: {e:?}; got {got:?}"));
    let rest = lines(&String::from_utf8_lossy(&rest));
    assert_eq!(
        rest.last().map(String::as_str),
        Some("40 132"),
        "size after TtyWinResize: {rest:?}"
    );
    assert_eq!(status.expect("WaitProcess"), 0);

    // A process without a terminal cannot be resized.
    let err = rpc::resize_tty(agent, cid, "no-such-exec", 10, 10)
        .await
        .expect_err("unknown exec id");
    assert_eq!(
        rpc::status_of(&err).map(|s| s.0),
        Some(ttrpc::Code::NOT_FOUND),
        "{err:?}"
    );
    vm.shutdown().await;

    assert_eq!(
        initial, "24 80",
        "the pty did not start with process.consoleSize 24x80 (stty size said {initial:?})"
    );
}
