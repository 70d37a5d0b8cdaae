//! Turning `mount(8)`-style option lists into mount(2) flags plus a data string.

use nix::mount::MsFlags;

/// Flags and file-system specific data of one option list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountOptions {
    pub flags: MsFlags,
    /// Options that are not flags, joined with commas (`size=64m,mode=1777`).
    pub data: String,
}

impl MountOptions {
    /// Splits `options` (each entry may itself be comma-separated) into flags and data.
    pub fn parse<S: AsRef<str>>(options: &[S]) -> Self {
        let mut flags = MsFlags::empty();
        let mut data = Vec::new();
        for opt in options
            .iter()
            .flat_map(|o| o.as_ref().split(','))
            .map(str::trim)
            .filter(|o| !o.is_empty())
        {
            match flag_of(opt) {
                Some((f, true)) => flags.insert(f),
                Some((f, false)) => flags.remove(f),
                None => data.push(opt.to_string()),
            }
        }
        MountOptions {
            flags,
            data: data.join(","),
        }
    }

    /// The value of a `key=value` data option.
    pub fn value(&self, key: &str) -> Option<&str> {
        self.data
            .split(',')
            .find_map(|kv| kv.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
    }

    /// Data with `key=value` options for which `drop` is true removed.
    pub fn data_without(&self, drop: impl Fn(&str) -> bool) -> String {
        self.data
            .split(',')
            .filter(|kv| !kv.is_empty() && !drop(kv.split('=').next().unwrap_or(kv)))
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// The flag an option sets (`true`) or clears (`false`).
fn flag_of(opt: &str) -> Option<(MsFlags, bool)> {
    Some(match opt {
        "defaults" | "async" | "auto" | "noauto" => (MsFlags::empty(), true),
        "ro" => (MsFlags::MS_RDONLY, true),
        "rw" => (MsFlags::MS_RDONLY, false),
        "nosuid" => (MsFlags::MS_NOSUID, true),
        "suid" => (MsFlags::MS_NOSUID, false),
        "nodev" => (MsFlags::MS_NODEV, true),
        "dev" => (MsFlags::MS_NODEV, false),
        "noexec" => (MsFlags::MS_NOEXEC, true),
        "exec" => (MsFlags::MS_NOEXEC, false),
        "sync" => (MsFlags::MS_SYNCHRONOUS, true),
        "dirsync" => (MsFlags::MS_DIRSYNC, true),
        "remount" => (MsFlags::MS_REMOUNT, true),
        "mand" => (MsFlags::MS_MANDLOCK, true),
        "nomand" => (MsFlags::MS_MANDLOCK, false),
        "atime" => (MsFlags::MS_NOATIME, false),
        "noatime" => (MsFlags::MS_NOATIME, true),
        "diratime" => (MsFlags::MS_NODIRATIME, false),
        "nodiratime" => (MsFlags::MS_NODIRATIME, true),
        "relatime" => (MsFlags::MS_RELATIME, true),
        "norelatime" => (MsFlags::MS_RELATIME, false),
        "strictatime" => (MsFlags::MS_STRICTATIME, true),
        "bind" => (MsFlags::MS_BIND, true),
        "rbind" => (MsFlags::MS_BIND | MsFlags::MS_REC, true),
        "private" => (MsFlags::MS_PRIVATE, true),
        "rprivate" => (MsFlags::MS_PRIVATE | MsFlags::MS_REC, true),
        "shared" => (MsFlags::MS_SHARED, true),
        "rshared" => (MsFlags::MS_SHARED | MsFlags::MS_REC, true),
        "slave" => (MsFlags::MS_SLAVE, true),
        "rslave" => (MsFlags::MS_SLAVE | MsFlags::MS_REC, true),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_and_data_are_separated() {
        let o = MountOptions::parse(&["ro", "nosuid,nodev", "size=64m", "mode=1777"]);
        assert_eq!(
            o.flags,
            MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV
        );
        assert_eq!(o.data, "size=64m,mode=1777");
        assert_eq!(o.value("mode"), Some("1777"));
        assert_eq!(o.value("size"), Some("64m"));
        assert_eq!(o.value("uid"), None);
    }

    #[test]
    fn later_options_win() {
        let o = MountOptions::parse(&["ro", "rw"]);
        assert!(!o.flags.contains(MsFlags::MS_RDONLY));
    }

    #[test]
    fn rbind_sets_recursive_bind() {
        assert_eq!(
            MountOptions::parse(&["rbind"]).flags,
            MsFlags::MS_BIND | MsFlags::MS_REC
        );
    }

    #[test]
    fn data_without_drops_agent_only_keys() {
        let o = MountOptions::parse(&["fsgid=100,size=1m,mode=0777"]);
        assert_eq!(o.data_without(|k| k == "fsgid" || k == "mode"), "size=1m");
    }
}
