//! `local`: an empty directory in the guest (k8s emptyDir on the sandbox's own storage), made once
//! per pod. `mode=` (octal, default 0777) and `fsgid=` are honoured; nothing is mounted.

use std::os::unix::fs::PermissionsExt;

use super::ephemeral::fsgid;
use super::{apply_fs_group, Context, MountOptions, StorageSpec};
use crate::error::{AgentError, Result};

const DEFAULT_MODE: u32 = 0o777;

pub fn create(_ctx: &Context<'_>, spec: &StorageSpec) -> Result<()> {
    let opts = MountOptions::parse(&spec.options);
    let mode = match opts.value("mode") {
        Some(m) => u32::from_str_radix(m, 8)
            .map_err(|_| AgentError::InvalidArgument(format!("invalid mode={m}")))?,
        None => DEFAULT_MODE,
    };
    if mode > 0o7777 {
        return Err(AgentError::InvalidArgument(format!(
            "invalid mode={mode:o}"
        )));
    }
    std::fs::create_dir_all(&spec.mount_point)
        .map_err(|e| AgentError::io("creating local storage", &spec.mount_point, e))?;
    std::fs::set_permissions(&spec.mount_point, std::fs::Permissions::from_mode(mode))
        .map_err(|e| AgentError::io("setting mode of", &spec.mount_point, e))?;
    apply_fs_group(&spec.mount_point, fsgid(&opts)?.or(spec.fs_group))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;
    use std::path::PathBuf;
    use std::sync::Arc;

    use crate::error::AgentError;
    use crate::storage::mounter::fake::FakeMounter;
    use crate::storage::tests::manager;
    use crate::storage::StorageSpec;

    fn local(options: &[&str]) -> StorageSpec {
        StorageSpec {
            driver: "local".into(),
            source: "local".into(),
            options: options.iter().map(|s| s.to_string()).collect(),
            mount_point: PathBuf::from("/run/kata-containers/sandbox/local/vol1"),
            ..Default::default()
        }
    }

    #[test]
    fn directory_is_made_once_with_mode_and_nothing_mounted() {
        let fake = Arc::new(FakeMounter::default());
        let run = tempfile::tempdir().expect("tempdir");
        let m = manager(fake.clone(), run.path());
        let p = m.add(&local(&["mode=0750"])).expect("add");
        assert_eq!(p, run.path().join("sandbox/local/vol1"));
        let mode = std::fs::metadata(&p).expect("meta").permissions().mode() & 0o7777;
        assert_eq!(mode, 0o750);
        std::fs::write(p.join("f"), b"x").expect("write");
        // A second container of the pod shares the directory and its content.
        assert_eq!(m.add(&local(&["mode=0750"])).expect("again"), p);
        assert!(p.join("f").exists());
        assert!(fake.mounts().is_empty());
    }

    #[test]
    fn default_mode_is_0777() {
        let run = tempfile::tempdir().expect("tempdir");
        let m = manager(Arc::new(FakeMounter::default()), run.path());
        let p = m.add(&local(&[])).expect("add");
        assert_eq!(
            std::fs::metadata(&p).expect("meta").permissions().mode() & 0o777,
            0o777
        );
    }

    #[test]
    fn bad_mode_is_invalid_argument() {
        let run = tempfile::tempdir().expect("tempdir");
        let m = manager(Arc::new(FakeMounter::default()), run.path());
        assert!(matches!(
            m.add(&local(&["mode=abc"])),
            Err(AgentError::InvalidArgument(_))
        ));
        assert!(matches!(
            m.add(&local(&["mode=77777"])),
            Err(AgentError::InvalidArgument(_))
        ));
    }

    #[test]
    fn symlink_in_run_dir_cannot_redirect_local_storage() {
        let run = tempfile::tempdir().expect("tempdir");
        let outside = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(run.path().join("sandbox")).expect("mkdir");
        std::os::unix::fs::symlink(outside.path(), run.path().join("sandbox/local"))
            .expect("symlink");
        let m = manager(Arc::new(FakeMounter::default()), run.path());
        let p = m.add(&local(&[])).expect("add");
        assert!(p.starts_with(run.path()), "{}", p.display());
        assert!(!outside.path().join("vol1").exists());
    }
}
