//! The debug console: with `debug_console_enabled`, `kata-runtime exec <sandbox-id>` gives a shell in
//! the guest (a pseudo-terminal drives it here, as a user's terminal would), whose window size
//! follows the terminal's; without it, `kata-runtime exec` says the console is disabled.

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kata_e2e_tests::{assert_no_leftovers, repo_root, PrivateContainerd};

const TEARDOWN: Duration = Duration::from_secs(20);

fn kata_runtime(c: &PrivateContainerd) -> Command {
    let mut cmd = Command::new("kata-runtime");
    cmd.env("PATH", c.env_path());
    cmd
}

fn set_size(fd: &OwnedFd, rows: u16, cols: u16) {
    let size = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads one winsize from a valid pointer; fd is an open pty.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSWINSZ, &size) };
    assert_eq!(rc, 0, "TIOCSWINSZ: {}", std::io::Error::last_os_error());
}

/// `kata-runtime exec <id>` on a fresh pseudo-terminal of `rows`x`cols`, as its controlling
/// terminal; returns the child, the master's writer and everything read from the master so far.
fn exec_in_pty(c: &PrivateContainerd, id: &str) -> (Child, std::fs::File, Arc<Mutex<Vec<u8>>>) {
    let pty = nix::pty::openpty(None, None).expect("openpty");
    set_size(&pty.master, 33, 101);
    let slave = |fd: &OwnedFd| Stdio::from(fd.try_clone().expect("dup pty"));
    let mut cmd = kata_runtime(c);
    cmd.args(["exec", id])
        .stdin(slave(&pty.slave))
        .stdout(slave(&pty.slave))
        .stderr(slave(&pty.slave));
    // SAFETY: only async-signal-safe calls (setsid, ioctl) between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = cmd.spawn().expect("spawn kata-runtime exec");
    drop(pty.slave);
    let output = Arc::new(Mutex::new(Vec::new()));
    let mut reader = std::fs::File::from(pty.master.try_clone().expect("dup master"));
    let sink = output.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock().expect("output").extend_from_slice(&buf[..n]);
        }
    });
    (child, std::fs::File::from(pty.master), output)
}

fn wait_for(output: &Arc<Mutex<Vec<u8>>>, needle: &str, within: Duration) -> String {
    let deadline = Instant::now() + within;
    loop {
        let text = String::from_utf8_lossy(&output.lock().expect("output")).into_owned();
        if text.contains(needle) || Instant::now() > deadline {
            return text;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn kata_runtime_exec_opens_a_shell_in_the_guest_that_follows_the_terminal_size() {
    assert_no_leftovers(TEARDOWN);
    let c = PrivateContainerd::start_edited(|t| {
        t.replace(
            "debug_console_enabled = false",
            "debug_console_enabled = true",
        )
    })
    .unwrap_or_else(|e| panic!("{e:#}"));
    c.run_detached("dcons1", &[]);
    let guest_kernel = c.exec_output("dcons1", "k", &["uname", "-r"]);
    let image_kernel =
        std::fs::read_to_string(repo_root().join("build/image/kernel-version")).unwrap_or_default();
    assert_eq!(
        guest_kernel,
        image_kernel.trim(),
        "the container runs on the guest kernel"
    );

    let (mut child, mut master, output) = exec_in_pty(&c, "dcons1");
    // The markers are computed by the shell, so the echo of the typed line never matches them.
    master
        .write_all(b"/bin/busybox uname -r; /bin/busybox stty size; echo END-$((6*7))\n")
        .expect("type");
    let text = wait_for(&output, "END-42", Duration::from_secs(60));
    assert!(text.contains("END-42"), "no shell answer: {text:?}");
    assert!(
        text.contains(&guest_kernel),
        "uname -r in the guest: {text:?}"
    );
    assert!(
        text.contains("33 101"),
        "the terminal's size reached the guest: {text:?}"
    );

    set_size(&master_fd(&master), 40, 120);
    std::thread::sleep(Duration::from_millis(500));
    master
        .write_all(b"/bin/busybox stty size; echo RESIZED-$((6*8))\n")
        .expect("type");
    let text = wait_for(&output, "RESIZED-48", Duration::from_secs(30));
    assert!(
        text.contains("40 120"),
        "the new size reached the guest: {text:?}"
    );

    master.write_all(b"exit\n").expect("type");
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!(
                "kata-runtime exec did not end after exit: {:?}",
                wait_for(&output, "", Duration::ZERO)
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "kata-runtime exec: {status}");

    // Without a terminal: the commands of a pipe run, their output comes back, the session ends.
    let mut piped = kata_runtime(&c)
        .args(["exec", "dcons1"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kata-runtime exec");
    piped
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"echo PIPED-$((7*6))\n")
        .expect("write");
    let out = piped.wait_with_output().expect("wait");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "piped exec: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("PIPED-42"), "piped exec output: {stdout:?}");
    c.remove("dcons1");
    drop(c);
    assert_no_leftovers(TEARDOWN);
}

fn master_fd(master: &std::fs::File) -> OwnedFd {
    master.try_clone().expect("dup master").into()
}

#[test]
fn kata_runtime_exec_says_when_the_console_is_disabled() {
    assert_no_leftovers(TEARDOWN);
    let c = PrivateContainerd::start().unwrap_or_else(|e| panic!("{e:#}"));
    c.run_detached("dcons2", &[]);
    let out = kata_runtime(&c)
        .args(["exec", "dcons2"])
        .stdin(Stdio::null())
        .output()
        .expect("kata-runtime exec");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "exec without a console succeeded");
    assert!(
        stderr.contains("dcons2") && stderr.contains("debug console is disabled"),
        "unclear refusal: {stderr}"
    );
    let out = kata_runtime(&c)
        .args(["exec", "no-such-pod"])
        .stdin(Stdio::null())
        .output()
        .expect("kata-runtime exec");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("no sandbox no-such-pod"),
        "unclear error for a missing sandbox: {stderr}"
    );
    c.remove("dcons2");
    drop(c);
    assert_no_leftovers(TEARDOWN);
}
