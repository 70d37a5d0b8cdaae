//! `ephemeral`: a tmpfs living only in guest memory, shared by the pod's containers.

use super::{apply_fs_group, Context, MountOptions, StorageSpec};
use crate::error::{AgentError, Result};

/// Mounts a tmpfs (or the given fstype, e.g. hugetlbfs) at the mount point; honours `fsgid=`.
pub fn mount(ctx: &Context<'_>, spec: &StorageSpec) -> Result<()> {
    std::fs::create_dir_all(&spec.mount_point)
        .map_err(|e| AgentError::io("creating mount point", &spec.mount_point, e))?;
    let opts = MountOptions::parse(&spec.options);
    let fstype = if spec.fstype.is_empty() {
        "tmpfs"
    } else {
        spec.fstype.as_str()
    };
    let source = if spec.source.is_empty() {
        fstype
    } else {
        spec.source.as_str()
    };
    let data = opts.data_without(|k| k == "fsgid");
    ctx.mounter
        .mount(source, &spec.mount_point, fstype, opts.flags, &data)?;
    let gid = fsgid(&opts)?.or(spec.fs_group);
    apply_fs_group(&spec.mount_point, gid)
}

/// The `fsgid=` option, if any.
pub fn fsgid(opts: &MountOptions) -> Result<Option<u32>> {
    opts.value("fsgid")
        .map(|v| {
            v.parse()
                .map_err(|_| AgentError::InvalidArgument(format!("invalid fsgid={v}")))
        })
        .transpose()
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::sync::Arc;

    use crate::error::AgentError;
    use crate::storage::mounter::fake::FakeMounter;
    use crate::storage::tests::manager;
    use crate::storage::StorageSpec;

    #[test]
    fn tmpfs_is_mounted_without_agent_only_options() {
        let fake = Arc::new(FakeMounter::default());
        let run = tempfile::tempdir().expect("tempdir");
        let m = manager(fake.clone(), run.path());
        let spec = StorageSpec {
            driver: "ephemeral".into(),
            source: "tmpfs".into(),
            fstype: "tmpfs".into(),
            options: vec!["size=1m".into()],
            mount_point: PathBuf::from("/run/kata-containers/sandbox/ephemeral/cache"),
            ..Default::default()
        };
        let p = m.add(&spec).expect("add");
        assert!(p.is_dir());
        let call = &fake.mounts()[0];
        assert_eq!(
            (call.fstype.as_str(), call.data.as_str()),
            ("tmpfs", "size=1m")
        );
    }

    #[test]
    fn bad_fsgid_is_invalid_argument() {
        let run = tempfile::tempdir().expect("tempdir");
        let m = manager(Arc::new(FakeMounter::default()), run.path());
        let spec = StorageSpec {
            driver: "ephemeral".into(),
            options: vec!["fsgid=abc".into()],
            mount_point: PathBuf::from("/run/kata-containers/sandbox/ephemeral/x"),
            ..Default::default()
        };
        assert!(matches!(m.add(&spec), Err(AgentError::InvalidArgument(_))));
    }
}
