//! What the tests read of a host process in `/proc`.

use crate::pids_named;

/// The value after `key` in `/proc/<pid>/status` (`"Uid:"`, `"Seccomp:"`...), trimmed; empty when
/// the process or the key is gone.
pub fn status_field(pid: u32, key: &str) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .map(|v| v.trim().to_string())
        .unwrap_or_default()
}

/// The parent pid of `pid` (field 4 of `/proc/<pid>/stat`, after the parenthesised name).
pub fn ppid(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, after_name) = stat.rsplit_once(')')?;
    after_name.split_whitespace().nth(1)?.parse().ok()
}

/// The one process named `name` whose parent has another name: the one its supervisor started
/// (virtiofsd forks a sandboxed child of the same name). Panics unless there is exactly one.
pub fn only_pid(name: &str) -> u32 {
    let all = pids_named(name);
    let tops: Vec<u32> = all
        .iter()
        .copied()
        .filter(|p| ppid(*p).is_none_or(|pp| !all.contains(&pp)))
        .collect();
    assert_eq!(tops.len(), 1, "one {name} expected: {all:?}");
    tops[0]
}

/// The number of open descriptors of `pid` (`/proc/<pid>/fd` entries).
pub fn fd_count(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or_else(|e| panic!("reading /proc/{pid}/fd: {e}"))
}
