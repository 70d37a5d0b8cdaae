//! Memory facts from `/proc/meminfo`.

use serde::Serialize;

/// Total and available host memory, in KiB as `/proc/meminfo` reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MemInfo {
    /// `MemTotal`.
    pub total_kib: u64,
    /// `MemFree`.
    pub free_kib: u64,
    /// `MemAvailable` (falls back to `MemFree` on kernels without it).
    pub available_kib: u64,
}

impl MemInfo {
    /// Total memory in MiB.
    pub fn total_mib(&self) -> u64 {
        self.total_kib / 1024
    }

    /// Available memory in MiB.
    pub fn available_mib(&self) -> u64 {
        self.available_kib / 1024
    }
}

fn field_kib(value: &str) -> Option<u64> {
    let mut parts = value.split_whitespace();
    let number: u64 = parts.next()?.parse().ok()?;
    match parts.next() {
        None | Some("kB") => Some(number),
        Some(_) => None,
    }
}

/// Parses the text of `/proc/meminfo`. Returns `None` without `MemTotal` and `MemFree`.
pub fn parse_meminfo(text: &str) -> Option<MemInfo> {
    let (mut total, mut free, mut available) = (None, None, None);
    for line in text.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        match key.trim() {
            "MemTotal" => total = field_kib(value),
            "MemFree" => free = field_kib(value),
            "MemAvailable" => available = field_kib(value),
            _ => {}
        }
    }
    let (total_kib, free_kib) = (total?, free?);
    Some(MemInfo {
        total_kib,
        free_kib,
        available_kib: available.unwrap_or(free_kib),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_total_free_available() {
        let text = "MemTotal:       24684096 kB\nMemFree:        23176136 kB\n\
MemAvailable:   24300552 kB\nBuffers:           12948 kB\n";
        let info = parse_meminfo(text).expect("valid meminfo");
        assert_eq!(info.total_kib, 24_684_096);
        assert_eq!(info.free_kib, 23_176_136);
        assert_eq!(info.available_kib, 24_300_552);
        assert_eq!(info.total_mib(), 24_105);
    }

    #[test]
    fn available_falls_back_to_free() {
        let info = parse_meminfo("MemTotal: 2048 kB\nMemFree: 1024 kB\n").expect("valid");
        assert_eq!(info.available_kib, 1024);
        assert_eq!(info.available_mib(), 1);
    }

    #[test]
    fn missing_or_malformed_total_is_none() {
        assert_eq!(parse_meminfo("MemFree: 1024 kB\n"), None);
        assert_eq!(parse_meminfo("MemTotal: lots kB\nMemFree: 1 kB\n"), None);
        assert_eq!(parse_meminfo("MemTotal: 1 MB\nMemFree: 1 kB\n"), None);
    }
}
