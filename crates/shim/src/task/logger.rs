//! A `binary://` logging binary, started as containerd's runc shim starts one
//! (containerd `runtime/v2/logging`): the process's stdout and stderr arrive on its fd 3 and fd 4,
//! it closes fd 5 once it is ready, and `CONTAINER_ID` / `CONTAINER_NAMESPACE` name the
//! container. It ends by itself when the pipes close (the process is deleted); one that outlives
//! the shim is killed with it.

use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use containerd_shim::TtrpcResult;
use kata_sandbox::LogSink;
use nix::fcntl::{fcntl, FcntlArg, OFlag};
use tokio::io::AsyncReadExt;
use tokio::net::unix::pipe;

use crate::errors::invalid;

/// How long the binary has to close fd 5 (containerd waits without a limit).
const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// Lowest fd the inherited ends are parked at before they are moved to 3, 4 and 5.
const PARKED_FDS: RawFd = 10;

/// Starts `path args...` for container `id` and waits until it is ready. Errors (naming the
/// binary): pipes or the spawn failing, the binary exiting or not closing fd 5 within 10 s.
pub async fn start(
    path: &Path,
    args: &[String],
    namespace: &str,
    id: &str,
) -> TtrpcResult<LogSink> {
    let fail = |what: &str, e: &dyn std::fmt::Display| {
        invalid(format!("logging binary {}: {what}: {e}", path.display()))
    };
    let pipe = || nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| fail("pipe", &e));
    let (out_r, out_w) = pipe()?;
    let (err_r, err_w) = pipe()?;
    let (ready_r, ready_w) = pipe()?;
    // Parked above 9 so that moving them to 3, 4 and 5 in the child cannot overwrite one
    // another; close-on-exec, so only the moved copies reach the binary.
    let park = |fd: &OwnedFd| -> TtrpcResult<OwnedFd> {
        let raw = fcntl(fd.as_raw_fd(), FcntlArg::F_DUPFD_CLOEXEC(PARKED_FDS))
            .map_err(|e| fail("fcntl", &e))?;
        // SAFETY: `raw` is a new descriptor returned by F_DUPFD_CLOEXEC; we own it.
        Ok(unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(raw) })
    };
    let inherited = [park(&out_r)?, park(&err_r)?, park(&ready_w)?];
    drop((out_r, err_r, ready_w));
    let raws: Vec<RawFd> = inherited.iter().map(AsRawFd::as_raw_fd).collect();

    let mut cmd = std::process::Command::new(path);
    cmd.args(args)
        .env("CONTAINER_ID", id)
        .env("CONTAINER_NAMESPACE", namespace)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // SAFETY: only async-signal-safe calls (dup2) between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            for (target, fd) in (3..).zip(raws.iter()) {
                if libc::dup2(*fd, target) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    let mut child = tokio::process::Command::from(cmd)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| fail("cannot start", &e))?;
    drop(inherited);

    let mut ready = pipe::Receiver::from_owned_fd(ready_r).map_err(|e| fail("ready pipe", &e))?;
    let mut sink = Vec::new();
    match tokio::time::timeout(READY_TIMEOUT, ready.read_to_end(&mut sink)).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => return Err(fail("reading its ready pipe (fd 5)", &e)),
        Err(_) => {
            let _ = child.start_kill();
            return Err(fail("not ready", &"fd 5 still open after 10 s"));
        }
    }
    if let Ok(Some(status)) = child.try_wait() {
        if !status.success() {
            return Err(fail("exited before it took any output", &status));
        }
    }
    let name = path.display().to_string();
    let container = id.to_owned();
    tokio::spawn(async move {
        match child.wait().await {
            Ok(status) if status.success() => {}
            Ok(status) => {
                tracing::warn!(logger = %name, container = %container, %status, "logging binary failed")
            }
            Err(e) => tracing::warn!(logger = %name, error = %e, "waiting for the logging binary"),
        }
    });
    Ok(LogSink::Pipes {
        stdout: Arc::new(out_w),
        stderr: Arc::new(err_w),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_binary_gets_both_streams_on_fd_3_and_4_and_its_environment() {
        let dir = tempfile::tempdir().expect("tempdir");
        let script = dir.path().join("logger.sh");
        let log = dir.path().join("log");
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\nexec 5>&-\necho \"$CONTAINER_NAMESPACE/$CONTAINER_ID $*\" > {0}\ncat <&3 >> {0}\ncat <&4 >> {0}\n",
                log.display()
            ),
        )
        .expect("script");
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .expect("chmod");
        let sink = start(&script, &["tag".into(), "x".into()], "ns1", "c1")
            .await
            .expect("start");
        let LogSink::Pipes { stdout, stderr } = sink else {
            panic!("not pipes")
        };
        let write = |fd: Arc<OwnedFd>, data: &[u8]| {
            let fd = Arc::try_unwrap(fd).expect("one owner");
            let mut f = std::fs::File::from(fd);
            std::io::Write::write_all(&mut f, data).expect("write");
        };
        write(stdout, b"out\n");
        write(stderr, b"err\n");
        for _ in 0..50 {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if text.ends_with("err\n") {
                assert_eq!(text, "ns1/c1 tag x\nout\nerr\n");
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("log: {:?}", std::fs::read_to_string(&log));
    }

    #[tokio::test]
    async fn a_binary_that_is_missing_is_named_in_the_error() {
        let e = start(Path::new("/nonexistent/logger"), &[], "ns", "c")
            .await
            .expect_err("missing");
        assert!(format!("{e:?}").contains("/nonexistent/logger"), "{e:?}");
    }
}
