//! Classification of OCI mounts: k8s emptyDir volumes become `local` or `ephemeral` storage.

use std::path::{Path, PathBuf};

use oci_spec::runtime::{Mount, Spec};
use serde::Serialize;

/// The path component kubelet puts above every emptyDir volume directory.
pub const K8S_EMPTY_DIR: &str = "kubernetes.io~empty-dir";
/// Mount type handed to the agent for a host emptyDir: a directory inside the VM's sandbox dir.
pub const LOCAL_MOUNT_TYPE: &str = "local";
/// Mount type handed to the agent for a memory-backed emptyDir: a tmpfs inside the VM.
pub const EPHEMERAL_MOUNT_TYPE: &str = "ephemeral";

/// How a mount reaches the guest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MountStorage {
    /// Passed as is (bind mounts go through the shared file system).
    Regular,
    /// k8s emptyDir on disk: created empty inside the VM (storage type `local`).
    Local,
    /// k8s emptyDir on tmpfs: a tmpfs inside the VM, shared by the pod (`ephemeral`).
    Ephemeral,
}

/// A mount with the storage decision and the type the guest should use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClassifiedMount {
    pub destination: PathBuf,
    pub source: Option<PathBuf>,
    /// The spec's type, replaced by `local`/`ephemeral` for emptyDir volumes.
    pub mount_type: Option<String>,
    pub options: Vec<String>,
    pub storage: MountStorage,
}

/// True when `source`'s parent directory is kubelet's emptyDir directory.
pub fn is_k8s_empty_dir(source: &Path) -> bool {
    source
        .parent()
        .and_then(Path::file_name)
        .is_some_and(|name| name == K8S_EMPTY_DIR)
}

/// Classifies every mount of `spec`, asking the host's mount table for emptyDir file systems.
pub fn classify_mounts(spec: &Spec) -> Vec<ClassifiedMount> {
    let table = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    classify_mounts_with(spec, |path| fs_type_in(&table, path))
}

/// Classifies every mount of `spec`; `fs_type` tells the host file system type of a path.
pub fn classify_mounts_with(
    spec: &Spec,
    fs_type: impl Fn(&Path) -> Option<String>,
) -> Vec<ClassifiedMount> {
    spec.mounts()
        .iter()
        .flatten()
        .map(|m| classify_one(m, &fs_type))
        .collect()
}

fn classify_one(m: &Mount, fs_type: &impl Fn(&Path) -> Option<String>) -> ClassifiedMount {
    let storage = match m.source() {
        Some(src) if is_k8s_empty_dir(src) => {
            let host_type = fs_type(src).or_else(|| m.typ().clone());
            if host_type.as_deref() == Some("tmpfs") {
                MountStorage::Ephemeral
            } else {
                MountStorage::Local
            }
        }
        _ => MountStorage::Regular,
    };
    let mount_type = match storage {
        MountStorage::Regular => m.typ().clone(),
        MountStorage::Local => Some(LOCAL_MOUNT_TYPE.to_owned()),
        MountStorage::Ephemeral => Some(EPHEMERAL_MOUNT_TYPE.to_owned()),
    };
    ClassifiedMount {
        destination: m.destination().clone(),
        source: m.source().clone(),
        mount_type,
        options: m.options().clone().unwrap_or_default(),
        storage,
    }
}

/// Decodes the octal escapes (`\040` for a space) of a `/proc/mounts` or `/proc/self/mountinfo`
/// field; an escape that is not three octal digits is kept as written.
pub fn unescape_mount_field(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 4 <= bytes.len() {
            let oct = &bytes[i + 1..i + 4];
            let parsed = std::str::from_utf8(oct)
                .ok()
                .and_then(|o| u8::from_str_radix(o, 8).ok());
            if let Some(v) = parsed {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The file system type of the mount holding `path` in a `/proc/mounts` table (the entry with the
/// longest mount point that contains `path`; later entries win on ties, as they stack on top).
pub fn fs_type_in(table: &str, path: &Path) -> Option<String> {
    let mut best: Option<(usize, String)> = None;
    for line in table.lines() {
        let mut fields = line.split_whitespace();
        let (Some(_dev), Some(mnt), Some(fstype)) = (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        let mnt = PathBuf::from(unescape_mount_field(mnt));
        if !path.starts_with(&mnt) {
            continue;
        }
        let depth = mnt.components().count();
        if best.as_ref().is_none_or(|(d, _)| depth >= *d) {
            best = Some((depth, fstype.to_owned()));
        }
    }
    best.map(|(_, t)| t)
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY_DIR: &str = "/var/lib/kubelet/pods/uid/volumes/kubernetes.io~empty-dir/cache";

    fn spec(json: &str) -> Spec {
        serde_json::from_str(json).expect("valid spec json")
    }

    fn mount_spec(source: &str, typ: &str) -> Spec {
        spec(&format!(
            r#"{{"ociVersion":"1.0.2","mounts":[{{"destination":"/data","type":"{typ}","source":"{source}","options":["rbind"]}}]}}"#
        ))
    }

    #[test]
    fn empty_dir_is_detected_by_parent_component() {
        assert!(is_k8s_empty_dir(Path::new(EMPTY_DIR)));
        assert!(!is_k8s_empty_dir(Path::new(
            "/var/lib/kubelet/pods/uid/volumes/kubernetes.io~empty-dir"
        )));
        assert!(!is_k8s_empty_dir(Path::new(
            "/var/lib/kubelet/pods/uid/volumes/kubernetes.io~configmap/cfg"
        )));
        assert!(!is_k8s_empty_dir(Path::new("/kubernetes.io~empty-dir-x/a")));
    }

    #[test]
    fn disk_empty_dir_becomes_local() {
        let m = classify_mounts_with(&mount_spec(EMPTY_DIR, "bind"), |_| Some("ext4".into()));
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].storage, MountStorage::Local);
        assert_eq!(m[0].mount_type.as_deref(), Some("local"));
        assert_eq!(m[0].options, vec!["rbind".to_string()]);
    }

    #[test]
    fn tmpfs_empty_dir_becomes_ephemeral() {
        let m = classify_mounts_with(&mount_spec(EMPTY_DIR, "bind"), |_| Some("tmpfs".into()));
        assert_eq!(m[0].storage, MountStorage::Ephemeral);
        assert_eq!(m[0].mount_type.as_deref(), Some("ephemeral"));
    }

    #[test]
    fn unknown_host_fs_falls_back_to_spec_type() {
        let m = classify_mounts_with(&mount_spec(EMPTY_DIR, "tmpfs"), |_| None);
        assert_eq!(m[0].storage, MountStorage::Ephemeral);
        let m = classify_mounts_with(&mount_spec(EMPTY_DIR, "bind"), |_| None);
        assert_eq!(m[0].storage, MountStorage::Local);
    }

    #[test]
    fn other_mounts_are_untouched() {
        let m = classify_mounts_with(&mount_spec("/etc/hosts", "bind"), |_| Some("tmpfs".into()));
        assert_eq!(m[0].storage, MountStorage::Regular);
        assert_eq!(m[0].mount_type.as_deref(), Some("bind"));
    }

    #[test]
    fn spec_without_mounts_gives_nothing() {
        assert!(classify_mounts(&spec(r#"{"ociVersion":"1.0.2"}"#)).is_empty());
    }

    #[test]
    fn fs_type_uses_longest_mount_point() {
        let table = "/dev/sda1 / ext4 rw 0 0\n\
tmpfs /var/lib/kubelet/pods/uid/volumes/kubernetes.io~empty-dir/cache tmpfs rw 0 0\n\
tmpfs /dev/shm tmpfs rw 0 0\n\
/dev/sdb /my\\040dir xfs rw 0 0\n";
        assert_eq!(
            fs_type_in(table, Path::new(EMPTY_DIR)).as_deref(),
            Some("tmpfs")
        );
        assert_eq!(
            fs_type_in(table, Path::new("/var/lib/kubelet/x")).as_deref(),
            Some("ext4")
        );
        assert_eq!(
            fs_type_in(table, Path::new("/my dir/f")).as_deref(),
            Some("xfs")
        );
        assert_eq!(fs_type_in("", Path::new("/")), None);
    }

    #[test]
    fn real_tmpfs_empty_dir_is_ephemeral_via_proc_mounts() {
        // /dev/shm is a tmpfs on every Linux host we run on; an emptyDir-shaped path below it
        // must be found as tmpfs through the real mount table.
        let base = tempfile::Builder::new()
            .tempdir_in("/dev/shm")
            .expect("tempdir in /dev/shm");
        let src = base.path().join(K8S_EMPTY_DIR).join("vol");
        std::fs::create_dir_all(&src).expect("mkdir");
        let json = format!(
            r#"{{"ociVersion":"1.0.2","mounts":[{{"destination":"/v","type":"bind","source":"{}"}}]}}"#,
            src.display()
        );
        let m = classify_mounts(&spec(&json));
        assert_eq!(m[0].storage, MountStorage::Ephemeral);
    }
}
