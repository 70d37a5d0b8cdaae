//! `ctr` against a private containerd, every container in a VM through containerd-shim-kata-v2.

use std::process::{Command, Stdio};
use std::time::Duration;

use kata_e2e_tests::{assert_no_leftovers, PrivateContainerd};

const TEARDOWN: Duration = Duration::from_secs(15);

fn containerd() -> PrivateContainerd {
    PrivateContainerd::start_clean(TEARDOWN)
}

fn host_kernel() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .unwrap_or_default()
        .trim()
        .to_string()
}

fn run_args(id: &str, cmd: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = ["run", "--rm", "--runtime", "io.containerd.kata.v2"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    args.push("docker.io/library/busybox:latest".into());
    args.push(id.into());
    args.extend(cmd.iter().map(|s| s.to_string()));
    args
}

/// One shell command line: every word single-quoted (`script -c` hands it to a shell).
fn shell_words(words: &[String]) -> String {
    words
        .iter()
        .map(|w| format!("'{}'", w.replace('\'', "'\\''")))
        .collect::<Vec<_>>()
        .join(" ")
}

fn wait_running(c: &PrivateContainerd, id: &str) {
    assert!(
        c.wait_task(id, 240, |s| s == Some("RUNNING")),
        "task {id} never ran"
    );
}

#[test]
fn uname_prints_the_guest_kernel() {
    let c = containerd();
    let out = c.run_rm("uname", &[], &["uname", "-r"]).expect("ctr run");
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    let guest = out.stdout_text().trim().to_string();
    assert!(!guest.is_empty(), "no output; stderr: {}", out.stderr);
    assert_ne!(guest, host_kernel(), "the container ran on the host kernel");
    drop(c);
    assert_no_leftovers(TEARDOWN);
}

#[test]
fn exit_codes_propagate() {
    let c = containerd();
    let out = c
        .run_rm("exit3", &[], &["sh", "-c", "exit 3"])
        .expect("ctr run");
    assert_eq!(out.code, Some(3), "stderr: {}", out.stderr);
    // Killed by a signal from outside (a PID 1 ignores its own SIGKILL): 128 + 9.
    let runner = {
        let args = run_args("killed", &["sleep", "600"]);
        let c = &c;
        std::thread::scope(|s| {
            let h = s.spawn(move || {
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                c.ctr(&args, None, 180)
            });
            wait_running(c, "killed");
            let k = c
                .ctr(&["task", "kill", "-s", "SIGKILL", "killed"], None, 30)
                .expect("kill");
            assert_eq!(k.code, Some(0), "kill: {}", k.stderr);
            h.join().expect("ctr thread")
        })
    };
    let out = runner.expect("ctr run");
    assert_eq!(out.code, Some(128 + 9), "stderr: {}", out.stderr);
    drop(c);
    assert_no_leftovers(TEARDOWN);
}

#[test]
fn detached_container_takes_exec_then_kill_and_delete() {
    let c = containerd();
    let out = c
        .ctr(
            &[
                "run",
                "-d",
                "--runtime",
                "io.containerd.kata.v2",
                "docker.io/library/busybox:latest",
                "detached",
                "sh",
                "-c",
                "trap 'exit 0' TERM; touch /tmp/trap-set; while true; do sleep 1; done",
            ],
            None,
            180,
        )
        .expect("ctr run -d");
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);

    let out = c
        .ctr(
            &[
                "task",
                "exec",
                "--exec-id",
                "e1",
                "detached",
                "sh",
                "-c",
                // Also waits until PID 1 has its TERM trap (a PID 1 ignores signals it does not handle).
                "while [ ! -e /tmp/trap-set ]; do sleep 0.1; done; echo from-exec",
            ],
            None,
            60,
        )
        .expect("ctr task exec");
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    assert_eq!(out.stdout_text().trim(), "from-exec");

    let out = c
        .ctr(&["task", "kill", "-s", "SIGTERM", "detached"], None, 30)
        .expect("kill");
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    // Wait for the task to stop, then delete it and the container.
    let stopped = c.wait_task("detached", 60, |s| s == Some("STOPPED"));
    assert!(stopped, "SIGTERM did not stop the task");
    let out = c
        .ctr(&["task", "delete", "detached"], None, 60)
        .expect("task delete");
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    let out = c
        .ctr(&["container", "delete", "detached"], None, 30)
        .expect("container delete");
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    drop(c);
    assert_no_leftovers(TEARDOWN);
}

#[test]
fn terminal_stdin_and_large_output() {
    let c = containerd();
    // A terminal: the process sees a tty. `ctr -t` needs a console itself: `script` gives it one.
    let mut line = vec![
        "ctr".to_string(),
        "--address".into(),
        c.socket().display().to_string(),
    ];
    line.extend(run_args(
        "tty",
        &["sh", "-c", "test -t 0 && echo is-a-tty; tty"],
    ));
    line.insert(4, "-t".into());
    let out = Command::new("timeout")
        .args([
            "-k",
            "5",
            "180",
            "script",
            "-qec",
            &shell_words(&line),
            "/dev/null",
        ])
        .env("PATH", c.env_path())
        .stdin(Stdio::null())
        .output()
        .expect("script ctr run -t");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "output: {text}");
    assert!(text.contains("is-a-tty"), "stdout: {text:?}");
    assert!(text.contains("/dev/pts/"), "stdout: {text:?}");

    // stdin reaches the process (ctr never closes stdin, so read one line).
    let out = c
        .ctr(
            &[
                "run",
                "--rm",
                "--runtime",
                "io.containerd.kata.v2",
                "docker.io/library/busybox:latest",
                "stdin",
                "head",
                "-n",
                "1",
            ],
            Some(b"hello-through-stdin\n"),
            180,
        )
        .expect("ctr run -i");
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    assert_eq!(out.stdout_text().trim(), "hello-through-stdin");

    // 64 MiB to stdout arrive intact.
    let out = c
        .run_rm(
            "big",
            &[],
            &[
                "sh",
                "-c",
                "head -c 67108864 /dev/urandom | tee /tmp/data | md5sum >&2; cat /tmp/data",
            ],
        )
        .expect("ctr run big");
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    assert_eq!(out.stdout.len(), 64 << 20, "stdout length");
    let sum_in_guest = out
        .stderr
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string();
    let digest = Command::new("md5sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            if let Some(mut stdin) = child.stdin.take() {
                stdin.write_all(&out.stdout)?;
            }
            child.wait_with_output()
        })
        .expect("md5sum");
    let sum_on_host = String::from_utf8_lossy(&digest.stdout)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string();
    assert_eq!(sum_in_guest, sum_on_host);
    drop(c);
    assert_no_leftovers(TEARDOWN);
}
