//! The shared file system: virtio-fs (vhost-user, served by virtiofsd) or 9p (served by QEMU).

use kata_hypervisor::{SharedFs, VmSpec};

use super::{escape, escape_path};

/// The virtio-fs queue size when the spec leaves it at 0 (Kata's default).
pub const DEFAULT_QUEUE_SIZE: u32 = 1024;

fn queue_size(spec: &VmSpec) -> u32 {
    match spec.virtio_fs_queue_size {
        0 => DEFAULT_QUEUE_SIZE,
        n => n,
    }
}

pub(super) fn args(spec: &VmSpec) -> Vec<String> {
    match &spec.shared_fs {
        Some(SharedFs::VirtioFs { socket, tag }) => vec![
            "-chardev".into(),
            format!("socket,id=fs-chr,path={}", escape_path(socket)),
            "-device".into(),
            format!(
                "vhost-user-fs-pci,chardev=fs-chr,tag={},queue-size={},id=fs0",
                escape(tag),
                queue_size(spec)
            ),
        ],
        Some(SharedFs::NineP { dir, tag, .. }) => vec![
            "-fsdev".into(),
            format!(
                "local,id=fs9p,path={},security_model=none,multidevs=remap",
                escape_path(dir)
            ),
            "-device".into(),
            format!("virtio-9p-pci,fsdev=fs9p,mount_tag={},id=fs0", escape(tag)),
        ],
        None => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmdline::{test_spec, values_of};

    #[test]
    fn virtio_fs_uses_the_daemon_socket_and_tag() {
        let mut s = test_spec();
        s.shared_fs = Some(SharedFs::VirtioFs {
            socket: "/run/p/vfs.sock".into(),
            tag: "kataShared".into(),
        });
        let a = args(&s);
        assert_eq!(
            values_of(&a, "-chardev"),
            ["socket,id=fs-chr,path=/run/p/vfs.sock"]
        );
        assert_eq!(
            values_of(&a, "-device"),
            ["vhost-user-fs-pci,chardev=fs-chr,tag=kataShared,queue-size=1024,id=fs0"]
        );
    }

    #[test]
    fn virtio_fs_queue_size_is_the_spec_s() {
        let mut s = test_spec();
        s.shared_fs = Some(SharedFs::VirtioFs {
            socket: "/s".into(),
            tag: "kataShared".into(),
        });
        s.virtio_fs_queue_size = 512;
        assert_eq!(
            values_of(&args(&s), "-device"),
            ["vhost-user-fs-pci,chardev=fs-chr,tag=kataShared,queue-size=512,id=fs0"]
        );
    }

    #[test]
    fn ninep_exports_the_directory() {
        let mut s = test_spec();
        s.shared_fs = Some(SharedFs::NineP {
            dir: "/run/p/shared".into(),
            tag: "kataShared".into(),
            msize: 8192,
        });
        let a = args(&s);
        assert_eq!(
            values_of(&a, "-fsdev"),
            ["local,id=fs9p,path=/run/p/shared,security_model=none,multidevs=remap"]
        );
        assert_eq!(
            values_of(&a, "-device"),
            ["virtio-9p-pci,fsdev=fs9p,mount_tag=kataShared,id=fs0"]
        );
    }
}
