//! `ctr` invocations that outlive one call: a `ctr run` left attached in the background (to signal
//! its task meanwhile), `ctr events`, and `ctr` inside a pseudo-terminal (for `-t`).

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::{CtrOutput, PrivateContainerd};

fn ctr_command(containerd: &PrivateContainerd, args: &[&str]) -> Command {
    let mut cmd = Command::new("ctr");
    cmd.arg("--address")
        .arg(containerd.socket())
        .args(args)
        .env("PATH", containerd.env_path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// A `ctr` process running in the background; killed (by its pid) if dropped unfinished.
pub struct Background {
    child: Option<Child>,
    started: Instant,
}

impl Background {
    /// Spawns `ctr --address <sock> ARGS` with stdin closed.
    pub fn spawn(containerd: &PrivateContainerd, args: &[&str]) -> anyhow::Result<Self> {
        let child = ctr_command(containerd, args)
            .spawn()
            .context("spawning ctr")?;
        Ok(Self {
            child: Some(child),
            started: Instant::now(),
        })
    }

    /// Waits up to `secs` for `ctr` to end (then kills it: exit code `None`) and returns what it
    /// printed.
    pub fn finish(mut self, secs: u64) -> anyhow::Result<CtrOutput> {
        let mut child = self.child.take().context("already finished")?;
        let deadline = self.started + Duration::from_secs(secs);
        while child.try_wait()?.is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        if child.try_wait()?.is_none() {
            let _ = child.kill();
        }
        let out = child.wait_with_output()?;
        Ok(CtrOutput {
            code: out.status.code(),
            stdout: out.stdout,
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }

    /// Time since the spawn.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `ctr events` running in the background.
pub struct EventWatch {
    child: Option<Child>,
}

impl EventWatch {
    /// Starts `ctr events` and gives it a moment to subscribe.
    pub fn start(containerd: &PrivateContainerd) -> anyhow::Result<Self> {
        let child = ctr_command(containerd, &["events"])
            .spawn()
            .context("spawning ctr events")?;
        std::thread::sleep(Duration::from_millis(500));
        Ok(Self { child: Some(child) })
    }

    /// Waits `settle` for late events, stops `ctr events` and returns what it printed.
    pub fn stop(mut self, settle: Duration) -> anyhow::Result<String> {
        std::thread::sleep(settle);
        let mut child = self.child.take().context("already stopped")?;
        let _ = child.kill();
        let mut text = String::new();
        if let Some(mut out) = child.stdout.take() {
            out.read_to_string(&mut text)?;
        }
        child.wait()?;
        Ok(text)
    }
}

impl Drop for EventWatch {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The events of container `id` in `ctr events` output, in order, snapshot events left out:
/// the topic, with the exit status for `/tasks/exit` and `/tasks/delete` (0 when absent).
pub fn container_events(text: &str, id: &str) -> Vec<String> {
    let mut topics = Vec::new();
    for line in text.lines() {
        // DATE TIME +0000 UTC NAMESPACE TOPIC JSON
        let Some(start) = line.find(" UTC ") else {
            continue;
        };
        let mut rest = line[start + 5..].splitn(3, ' ');
        let (_ns, topic, json) = (rest.next(), rest.next(), rest.next().unwrap_or("{}"));
        let Some(topic) = topic else { continue };
        if topic.starts_with("/snapshot/") {
            continue;
        }
        let event: serde_json::Value = serde_json::from_str(json).unwrap_or_default();
        let mine = ["container_id", "id"]
            .iter()
            .any(|k| event.get(k).and_then(|v| v.as_str()) == Some(id));
        if !mine {
            continue;
        }
        if matches!(topic, "/tasks/exit" | "/tasks/delete") {
            let status = event
                .get("exit_status")
                .and_then(|v| v.as_u64())
                .unwrap_or(0);
            topics.push(format!("{topic} exit_status={status}"));
        } else {
            topics.push(topic.to_string());
        }
    }
    topics
}

/// One shell command line: every word single-quoted.
pub fn shell_words<S: AsRef<str>>(words: &[S]) -> String {
    words
        .iter()
        .map(|w| format!("'{}'", w.as_ref().replace('\'', "'\\''")))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The size of the terminal [`ctr_in_terminal`] runs `ctr` in.
pub const TERMINAL_ROWS: u16 = 30;
pub const TERMINAL_COLS: u16 = 100;

/// `ctr --address <sock> ARGS` inside a pseudo-terminal (`script -qfec`) of
/// [`TERMINAL_ROWS`] x [`TERMINAL_COLS`], as `ctr -t` needs a console of its own; stdout and
/// stderr arrive merged. What the terminal, not the container,
/// adds is taken out: `\r\n` becomes `\n`, the `^@` echo of the console's NUL goes, and so do
/// `ctr`'s own log lines (`ERRO[0000] resize pty ...` when the process exited first).
pub fn ctr_in_terminal(
    containerd: &PrivateContainerd,
    args: &[&str],
    secs: u32,
) -> anyhow::Result<CtrOutput> {
    let socket = containerd.socket().display().to_string();
    let mut line = vec!["ctr", "--address", &socket];
    line.extend_from_slice(args);
    // A known size, which `ctr` passes on to the container's console.
    let command = format!(
        "stty rows {TERMINAL_ROWS} cols {TERMINAL_COLS}; {}",
        shell_words(&line)
    );
    let out = Command::new("timeout")
        .args(["-k", "5", &secs.to_string(), "script", "-qfec"])
        .arg(command)
        .arg("/dev/null")
        .env("PATH", containerd.env_path())
        .stdin(Stdio::null())
        .output()
        .context("running script")?;
    Ok(CtrOutput {
        code: out.status.code(),
        stdout: terminal_text(&out.stdout).into_bytes(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}

/// See [`ctr_in_terminal`].
fn terminal_text(raw: &[u8]) -> String {
    // The container's terminal and the outer one each turn `\n` into `\r\n`.
    let mut text = String::from_utf8_lossy(raw).replace("^@", "");
    while text.contains("\r\n") {
        text = text.replace("\r\n", "\n");
    }
    text.split_inclusive('\n')
        .filter(|line| !is_ctr_log_line(line))
        .collect()
}

/// A logrus line of `ctr` itself: `LEVEL[0000] message` (coloured on a terminal) or
/// `time=... level=... msg=...`.
fn is_ctr_log_line(line: &str) -> bool {
    let plain: String = {
        // Drop ANSI colour sequences (ESC [ ... m).
        let mut out = String::new();
        let mut chars = line.chars();
        while let Some(c) = chars.next() {
            if c == '\u{1b}' {
                for d in chars.by_ref() {
                    if d == 'm' {
                        break;
                    }
                }
            } else {
                out.push(c);
            }
        }
        out
    };
    let levels = ["ERRO[", "WARN[", "INFO[", "DEBU[", "FATA["];
    levels.iter().any(|l| plain.starts_with(l))
        || (plain.starts_with("time=\"") && plain.contains(" level="))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_text_drops_ctr_noise_only() {
        let raw = b"/dev/pts/0\r\nstdin-is-tty\r\n^@\x1b[31mERRO\x1b[0m[0000] resize pty   \x1b[31merror\x1b[0m=\"x\"\n";
        assert_eq!(terminal_text(raw), "/dev/pts/0\nstdin-is-tty\n");
        assert_eq!(terminal_text(b"30 100\r\r\n"), "30 100\n");
        assert_eq!(terminal_text(b"ERROR: mine\n"), "ERROR: mine\n");
    }

    #[test]
    fn container_events_keeps_one_containers_topics_in_order() {
        let text = "2026-11-29 21:49:14.1 +0000 UTC default /snapshot/prepare {\"key\":\"a\"}\n\
            2026-11-29 21:49:14.2 +0000 UTC default /containers/create {\"id\":\"a\"}\n\
            2026-11-29 21:49:14.3 +0000 UTC default /tasks/exit {\"container_id\":\"a\",\"exit_status\":3}\n\
            2026-11-29 21:49:14.3 +0000 UTC default /tasks/exit {\"container_id\":\"b\"}\n\
            2026-11-29 21:49:14.4 +0000 UTC default /tasks/delete {\"container_id\":\"a\"}\n";
        assert_eq!(
            container_events(text, "a"),
            [
                "/containers/create",
                "/tasks/exit exit_status=3",
                "/tasks/delete exit_status=0"
            ]
        );
    }
}
