//! What kubelet prepares on the host for a pod, reproduced for tests: volume directories under
//! `<root>/pods/<uid>/volumes/<plugin>/<name>`, a tmpfs for a memory-backed emptyDir, projected
//! (configMap-like) volumes with their atomic updates, and the CRI log format of container logs.

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, ensure, Context};

/// The volume plugin directory of emptyDir volumes.
pub const EMPTY_DIR: &str = "kubernetes.io~empty-dir";
/// The volume plugin directory of configMap volumes.
pub const CONFIG_MAP: &str = "kubernetes.io~configmap";

/// Creates and returns `<root>/pods/<uid>/volumes/<plugin>/<name>`.
pub fn volume_dir(root: &Path, uid: &str, plugin: &str, name: &str) -> anyhow::Result<PathBuf> {
    let dir = root
        .join("pods")
        .join(uid)
        .join("volumes")
        .join(plugin)
        .join(name);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

/// A disk-backed emptyDir of pod `uid`.
pub fn disk_empty_dir(root: &Path, uid: &str, name: &str) -> anyhow::Result<PathBuf> {
    volume_dir(root, uid, EMPTY_DIR, name)
}

/// A memory-backed emptyDir (`medium: Memory`): kubelet mounts a tmpfs on the volume directory.
/// The harness unmounts it at teardown.
pub fn memory_empty_dir(root: &Path, uid: &str, name: &str) -> anyhow::Result<PathBuf> {
    let dir = volume_dir(root, uid, EMPTY_DIR, name)?;
    let out = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=16m", "tmpfs"])
        .arg(&dir)
        .output()
        .context("running mount")?;
    ensure!(
        out.status.success(),
        "mount -t tmpfs on {} failed: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(dir)
}

/// A projected or configMap volume as kubelet's atomic writer lays it out: the payload in a
/// timestamped directory `..<stamp>`, a symlink `..data` to it, and one symlink per key
/// (`key -> ..data/key`). An update writes a new timestamped directory, points a new symlink
/// `..data_tmp` at it, renames that over `..data` (the atomic step) and removes the old one.
pub struct ProjectedVolume {
    dir: PathBuf,
    generation: u32,
    current: Option<String>,
}

impl ProjectedVolume {
    /// Creates the volume in `dir` with `files` (key, content).
    pub fn create(dir: PathBuf, files: &[(&str, &str)]) -> anyhow::Result<Self> {
        let mut this = Self {
            dir,
            generation: 0,
            current: None,
        };
        this.update(files)?;
        for (key, _) in files {
            symlink(Path::new("..data").join(key), this.dir.join(key))
                .with_context(|| format!("linking {key} in {}", this.dir.display()))?;
        }
        Ok(this)
    }

    /// The volume's directory (the container's mount source).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Replaces the payload with `files` atomically (same keys as at creation).
    pub fn update(&mut self, files: &[(&str, &str)]) -> anyhow::Result<()> {
        self.generation += 1;
        let stamp = format!(
            "..2026_01_01_00_00_{:02}.{}",
            self.generation,
            std::process::id()
        );
        let payload = self.dir.join(&stamp);
        std::fs::create_dir_all(&payload)
            .with_context(|| format!("creating {}", payload.display()))?;
        for (key, content) in files {
            if key.contains('/') || key.starts_with("..") {
                bail!("key {key} is not a plain file name");
            }
            std::fs::write(payload.join(key), content)
                .with_context(|| format!("writing {key} in {}", payload.display()))?;
        }
        let tmp = self.dir.join("..data_tmp");
        symlink(&stamp, &tmp).with_context(|| format!("linking {}", tmp.display()))?;
        std::fs::rename(&tmp, self.dir.join("..data"))
            .with_context(|| format!("renaming {} over ..data", tmp.display()))?;
        if let Some(old) = self.current.replace(stamp) {
            std::fs::remove_dir_all(self.dir.join(&old))
                .with_context(|| format!("removing {old}"))?;
        }
        Ok(())
    }
}

/// One line of a container log in the CRI format: `<RFC 3339 time> <stream> <P|F> <content>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub time: String,
    pub stream: String,
    /// `P`: a partial line (continued by the next), `F`: a full line.
    pub partial: bool,
    pub content: String,
}

/// Parses a whole CRI log file; fails on the first line that is not in the format.
pub fn parse_cri_log(text: &str) -> anyhow::Result<Vec<LogLine>> {
    text.lines()
        .enumerate()
        .map(|(n, l)| parse_cri_line(l).with_context(|| format!("log line {}: {l:?}", n + 1)))
        .collect()
}

fn parse_cri_line(line: &str) -> anyhow::Result<LogLine> {
    let mut parts = line.splitn(4, ' ');
    let (Some(time), Some(stream), Some(tag)) = (parts.next(), parts.next(), parts.next()) else {
        bail!("fewer than three fields");
    };
    ensure!(is_rfc3339(time), "time {time:?} is not RFC 3339");
    ensure!(
        stream == "stdout" || stream == "stderr",
        "stream {stream:?} is neither stdout nor stderr"
    );
    let partial = match tag {
        "P" => true,
        "F" => false,
        other => bail!("tag {other:?} is neither P nor F"),
    };
    Ok(LogLine {
        time: time.to_string(),
        stream: stream.to_string(),
        partial,
        content: parts.next().unwrap_or_default().to_string(),
    })
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`.
fn is_rfc3339(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| {
        b.get(r.clone())
            .is_some_and(|d| d.iter().all(u8::is_ascii_digit))
    };
    if !(digits(0..4)
        && b.get(4) == Some(&b'-')
        && digits(5..7)
        && b.get(7) == Some(&b'-')
        && digits(8..10)
        && b.get(10) == Some(&b'T')
        && digits(11..13)
        && b.get(13) == Some(&b':')
        && digits(14..16)
        && b.get(16) == Some(&b':')
        && digits(17..19))
    {
        return false;
    }
    let mut i = 19;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    match b.get(i) {
        Some(b'Z') => i + 1 == b.len(),
        Some(b'+') | Some(b'-') => {
            i + 6 == b.len() && digits(i + 1..i + 3) && b[i + 3] == b':' && digits(i + 4..i + 6)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cri_log_lines_parse() {
        let text = "2026-01-02T03:04:05.123456789Z stdout F hello world\n\
                    2026-01-02T03:04:05.2+01:00 stderr P part\n";
        let lines = parse_cri_log(text).expect("valid log");
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].stream, "stdout");
        assert_eq!(lines[0].content, "hello world");
        assert!(!lines[0].partial);
        assert!(lines[1].partial);
    }

    #[test]
    fn bad_cri_log_lines_are_refused() {
        for bad in [
            "hello",
            "2026-01-02 stdout F x",
            "2026-01-02T03:04:05Z stdin F x",
            "2026-01-02T03:04:05Z stdout X x",
            "2026-01-02T03:04:05.Z stdout F x",
        ] {
            assert!(parse_cri_log(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn projected_volume_swaps_atomically() {
        let t = tempfile::tempdir().expect("tempdir");
        let dir = volume_dir(t.path(), "u", CONFIG_MAP, "cfg").expect("volume dir");
        let mut v = ProjectedVolume::create(dir.clone(), &[("key", "one")]).expect("create");
        assert_eq!(
            std::fs::read_to_string(dir.join("key")).expect("read"),
            "one"
        );
        v.update(&[("key", "two")]).expect("update");
        assert_eq!(
            std::fs::read_to_string(dir.join("key")).expect("read"),
            "two"
        );
        let stamps: Vec<_> = std::fs::read_dir(&dir)
            .expect("list")
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("..2026"))
            .collect();
        assert_eq!(stamps.len(), 1, "old payload removed: {stamps:?}");
        assert!(std::fs::symlink_metadata(dir.join("..data"))
            .expect("..data")
            .file_type()
            .is_symlink());
    }
}
