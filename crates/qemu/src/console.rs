//! The guest's serial console, bounded on the host.
//!
//! QEMU gets one end of a socket pair as its serial chardev (`-chardev socket,fd=3`); the driver
//! reads the other end and keeps the newest output in the spec's `console_log` file, at most
//! [`CONSOLE_LOG_MAX`] bytes (1 MiB): when a write would pass the bound, the file is cut to its
//! newest half. The guest, root in the VM included, can write to its console as fast as it
//! likes; the host keeps 1 MiB per VM, never more. Console lines also go to the log (`debug`,
//! target `kata_qemu::console`) at most [`LINES_PER_SEC`] a second (bursts of [`LINE_BURST`],
//! [`LINE_MAX`] bytes each); what is left out is counted in a warning at most every 10 s.
//!
//! Kata's QEMU driver also hands the console to the runtime through a socket (it serves a Unix
//! socket that QEMU listens on, and logs each line when debugging); a socket pair keeps the
//! console off the file system and works when QEMU does not run as root.

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tokio::io::AsyncReadExt;
use tokio::process::Command;

/// Most bytes of console output kept on the host per VM.
pub const CONSOLE_LOG_MAX: u64 = 1024 * 1024;
/// The descriptor QEMU finds its console socket on (named in the `-chardev` option).
pub(crate) const CONSOLE_FD: RawFd = 3;
/// Console lines logged per second, in the long run.
pub const LINES_PER_SEC: f64 = 50.0;
/// Console lines logged at once after a quiet spell.
pub const LINE_BURST: f64 = 200.0;
/// Longest console line logged (longer ones are cut; a line without an end is cut here too).
pub const LINE_MAX: usize = 1024;
/// Shortest interval between two warnings about console lines left out of the log.
const DROP_REPORT_EVERY: Duration = Duration::from_secs(10);

/// A file holding the newest console output, at most `max` bytes.
pub struct BoundedLog {
    path: PathBuf,
    file: File,
    len: u64,
    max: u64,
}

impl BoundedLog {
    /// Creates (or empties) the log at `path`, mode 0640.
    pub fn create(path: &Path, max: u64) -> io::Result<Self> {
        use std::os::unix::fs::OpenOptionsExt;
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o640)
            .custom_flags(libc::O_NOFOLLOW)
            .open(path)?;
        Ok(Self {
            path: path.to_owned(),
            file,
            len: 0,
            max: max.max(2),
        })
    }

    /// The log's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes in the file now.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether nothing was kept.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends `data`; past the bound, keeps the newest half of the bound (old tail plus `data`).
    pub fn write(&mut self, data: &[u8]) -> io::Result<()> {
        if self.len + data.len() as u64 <= self.max {
            self.file.write_all_at(data, self.len)?;
            self.len += data.len() as u64;
            return Ok(());
        }
        let half = self.max / 2;
        let data = if data.len() as u64 > half {
            &data[data.len() - half as usize..]
        } else {
            data
        };
        let keep = (half - data.len() as u64).min(self.len);
        let mut tail = vec![0u8; keep as usize];
        self.file.read_exact_at(&mut tail, self.len - keep)?;
        self.file.set_len(0)?;
        self.file.write_all_at(&tail, 0)?;
        self.file.write_all_at(data, keep)?;
        self.len = keep + data.len() as u64;
        Ok(())
    }
}

/// Console lines to the log, rate-limited by a token bucket.
struct LineLog {
    id: String,
    pending: Vec<u8>,
    logged: u64,
    tokens: f64,
    refilled: Instant,
    dropped: u64,
    reported: Option<Instant>,
}

impl LineLog {
    fn new(id: String) -> Self {
        Self {
            id,
            pending: Vec::new(),
            logged: 0,
            tokens: LINE_BURST,
            refilled: Instant::now(),
            dropped: 0,
            reported: None,
        }
    }

    fn feed(&mut self, data: &[u8]) {
        for &b in data {
            if b == b'\n' {
                self.line();
            } else if b != b'\r' {
                self.pending.push(b);
                if self.pending.len() >= LINE_MAX {
                    self.line();
                }
            }
        }
    }

    fn line(&mut self) {
        let now = Instant::now();
        let elapsed = now.duration_since(self.refilled).as_secs_f64();
        self.tokens = (self.tokens + elapsed * LINES_PER_SEC).min(LINE_BURST);
        self.refilled = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            self.logged += 1;
            // Debug formatting escapes control characters: the guest cannot forge log lines.
            let line = String::from_utf8_lossy(&self.pending);
            tracing::debug!(target: "kata_qemu::console", id = %self.id, line = ?line);
        } else {
            self.dropped += 1;
            if self
                .reported
                .is_none_or(|t| now.duration_since(t) >= DROP_REPORT_EVERY)
            {
                tracing::warn!(
                    id = %self.id,
                    dropped = self.dropped,
                    "guest console lines left out of the log (more than {LINES_PER_SEC} a second)"
                );
                self.reported = Some(now);
            }
        }
        self.pending.clear();
    }
}

/// The console of a QEMU about to be spawned: the host end, QEMU's end, and the log file.
pub(crate) struct Console {
    host: std::os::unix::net::UnixStream,
    qemu: OwnedFd,
    log: BoundedLog,
}

impl Console {
    /// Creates the socket pair and the log file, and makes `cmd` hand QEMU its end as
    /// [`CONSOLE_FD`].
    pub(crate) fn prepare(cmd: &mut Command, log: &Path) -> io::Result<Self> {
        let log = BoundedLog::create(log, CONSOLE_LOG_MAX)?;
        let (host, qemu) = std::os::unix::net::UnixStream::pair()?;
        let qemu = OwnedFd::from(qemu);
        let fd = qemu.as_raw_fd();
        // SAFETY: the closure runs in the forked child before exec and makes only
        // async-signal-safe calls (dup2, fcntl) on a descriptor the parent keeps open until the
        // spawn returned. Descriptor CONSOLE_FD is open in the parent (the pair took the lowest
        // free numbers), so the standard library's own spawn pipe never sits there.
        unsafe {
            cmd.pre_exec(move || {
                let ok = if fd == CONSOLE_FD {
                    libc::fcntl(fd, libc::F_SETFD, 0) == 0
                } else {
                    libc::dup2(fd, CONSOLE_FD) == CONSOLE_FD
                };
                if ok {
                    Ok(())
                } else {
                    Err(io::Error::last_os_error())
                }
            });
        }
        Ok(Self { host, qemu, log })
    }

    /// Closes QEMU's end here (QEMU holds it now) and drains the console until QEMU closes it.
    pub(crate) fn start(self, id: String) -> io::Result<()> {
        let Console { host, qemu, log } = self;
        drop(qemu);
        host.set_nonblocking(true)?;
        let stream = tokio::net::UnixStream::from_std(host)?;
        tokio::spawn(drain(stream, log, id));
        Ok(())
    }
}

async fn drain(mut stream: tokio::net::UnixStream, mut log: BoundedLog, id: String) {
    let mut lines = LineLog::new(id);
    let mut buf = vec![0u8; 16 * 1024];
    let mut failed = false;
    loop {
        let n = match stream.read(&mut buf).await {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                tracing::warn!(id = %lines.id, error = %e, "cannot read the guest console");
                break;
            }
        };
        // A failed write must not stop the draining: QEMU would stall the guest's console.
        if let Err(e) = log.write(&buf[..n]) {
            if !failed {
                tracing::warn!(path = %log.path().display(), error = %e, "cannot write the console log");
                failed = true;
            }
        }
        lines.feed(&buf[..n]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_keeps_the_newest_bytes_within_its_bound() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("console.log");
        let mut log = BoundedLog::create(&path, 1000).expect("create");
        let mut written = Vec::new();
        for i in 0..500u32 {
            let line = format!("line {i:04}\n");
            log.write(line.as_bytes()).expect("write");
            written.extend_from_slice(line.as_bytes());
            let size = std::fs::metadata(&path).expect("stat").len();
            assert!(size <= 1000, "{size} bytes after line {i}");
            assert_eq!(size, log.len());
        }
        let kept = std::fs::read(&path).expect("read");
        assert!(kept.len() >= 500, "at least half the bound is kept");
        assert!(written.ends_with(&kept), "the newest bytes, in order");
        // One write larger than the bound keeps its own end.
        let big = vec![b'x'; 5000];
        log.write(&big).expect("write");
        assert_eq!(std::fs::metadata(&path).expect("stat").len(), 500);
    }

    #[test]
    fn console_lines_reach_the_log_at_a_bounded_rate() {
        let mut lines = LineLog::new("t".into());
        let started = Instant::now();
        for _ in 0..20_000 {
            lines.feed(b"a line from a noisy guest\r\n");
        }
        // One endless line is cut into LINE_MAX pieces, each counted as a line.
        lines.feed(&vec![b'x'; 10 * LINE_MAX]);
        let allowed = LINE_BURST + started.elapsed().as_secs_f64() * LINES_PER_SEC + 1.0;
        assert!(
            lines.logged as f64 <= allowed,
            "{} lines logged",
            lines.logged
        );
        assert!(lines.logged >= LINE_BURST as u64, "the burst goes through");
        assert_eq!(lines.logged + lines.dropped, 20_010);
        assert!(lines.pending.is_empty());
    }

    #[test]
    fn the_log_does_not_follow_a_planted_symlink() {
        let dir = tempfile::tempdir().expect("tempdir");
        let target = dir.path().join("target");
        std::fs::write(&target, b"keep").expect("write");
        let path = dir.path().join("console.log");
        std::os::unix::fs::symlink(&target, &path).expect("symlink");
        assert!(BoundedLog::create(&path, 100).is_err());
        assert_eq!(std::fs::read(&target).expect("read"), b"keep");
    }

    #[tokio::test]
    async fn a_flood_through_the_socket_leaves_at_most_the_bound_on_disk() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("console.log");
        let mut cmd = Command::new("/bin/sh");
        // The child writes 4 MiB to its console descriptor, then a marker.
        cmd.args([
            "-c",
            "head -c 4194304 /dev/zero | tr '\\0' a >&3; echo; echo END-OF-FLOOD >&3",
        ]);
        let console = Console::prepare(&mut cmd, &path).expect("prepare");
        let mut child = cmd.spawn().expect("spawn");
        console.start("t".into()).expect("start");
        let status = child.wait().await.expect("wait");
        assert!(status.success());
        let mut kept = Vec::new();
        for _ in 0..100 {
            kept = std::fs::read(&path).expect("read");
            if kept.ends_with(b"END-OF-FLOOD\n") {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(
            kept.ends_with(b"END-OF-FLOOD\n"),
            "the newest output is kept"
        );
        assert!(kept.len() as u64 <= CONSOLE_LOG_MAX, "{} bytes", kept.len());
    }
}
