//! Shared file systems from the host: virtio-fs and 9p, both addressed by a mount tag.

use super::{Context, MountOptions, StorageSpec};
use crate::error::{AgentError, Result};

/// How long a virtio-fs mount waits for its tag: a share hot-plugged into a VM taken from the
/// VMCache appears once the guest has handled the PCI hot-plug.
const TAG_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// `mount -t virtiofs <tag> <mount_point>`, retried while the kernel does not know the tag yet
/// (`ENOENT`), for up to [`TAG_WAIT`].
pub fn mount_virtio_fs(ctx: &Context<'_>, spec: &StorageSpec) -> Result<()> {
    let deadline = std::time::Instant::now() + TAG_WAIT;
    loop {
        match mount_tag(ctx, spec, "virtiofs", "") {
            Err(AgentError::Io { source, .. })
                if source.raw_os_error() == Some(libc::ENOENT)
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            other => return other,
        }
    }
}

/// `mount -t 9p -o trans=virtio,version=9p2000.L,cache=mmap <tag> <mount_point>` unless the
/// options say otherwise.
pub fn mount_9p(ctx: &Context<'_>, spec: &StorageSpec) -> Result<()> {
    mount_tag(ctx, spec, "9p", "trans=virtio,version=9p2000.L,cache=mmap")
}

fn mount_tag(
    ctx: &Context<'_>,
    spec: &StorageSpec,
    fstype: &str,
    default_data: &str,
) -> Result<()> {
    if spec.source.is_empty() {
        return Err(AgentError::InvalidArgument(format!(
            "{} storage without a source tag",
            spec.driver
        )));
    }
    std::fs::create_dir_all(&spec.mount_point)
        .map_err(|e| AgentError::io("creating mount point", &spec.mount_point, e))?;
    let opts = MountOptions::parse(&spec.options);
    let data = if opts.data.is_empty() {
        default_data.to_string()
    } else {
        opts.data.clone()
    };
    ctx.mounter
        .mount(&spec.source, &spec.mount_point, fstype, opts.flags, &data)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::sync::Arc;

    use crate::storage::mounter::fake::FakeMounter;
    use crate::storage::tests::manager;
    use crate::storage::StorageSpec;

    #[test]
    fn virtio_fs_mounts_the_tag() {
        let fake = Arc::new(FakeMounter::default());
        let run = tempfile::tempdir().expect("tempdir");
        let m = manager(fake.clone(), run.path());
        let spec = StorageSpec {
            driver: "virtio-fs".into(),
            source: "kataShared".into(),
            options: vec!["nodev".into()],
            mount_point: PathBuf::from("/run/kata-containers/shared/containers"),
            ..Default::default()
        };
        let p = m.add(&spec).expect("add");
        assert_eq!(p, run.path().join("shared/containers"));
        assert!(p.is_dir());
        let calls = fake.mounts();
        assert_eq!(calls[0].source, "kataShared");
        assert_eq!(calls[0].fstype, "virtiofs");
        assert_eq!(calls[0].flags, nix::mount::MsFlags::MS_NODEV);
    }

    #[test]
    fn ninep_gets_default_transport_options() {
        let fake = Arc::new(FakeMounter::default());
        let run = tempfile::tempdir().expect("tempdir");
        let m = manager(fake.clone(), run.path());
        let spec = StorageSpec {
            driver: "9p".into(),
            source: "kataShared".into(),
            mount_point: PathBuf::from("/run/kata-containers/shared/containers"),
            ..Default::default()
        };
        m.add(&spec).expect("add");
        assert_eq!(
            fake.mounts()[0].data,
            "trans=virtio,version=9p2000.L,cache=mmap"
        );
    }
}
