//! The object guest RAM is allocated from (Kata's `file_mem_backend`, `enable_hugepages`,
//! `enable_mem_prealloc`, and the shared memory vhost-user devices need). `memory.rs` puts it on
//! the one NUMA node.

use kata_hypervisor::{MemoryKind, VmSpec};

use super::escape_path;
use super::memory::RAM_BACKEND_ID;

/// The `-object` value of guest RAM's backend; `None` when plain anonymous memory will do (no
/// sharing, no file, no huge pages, no preallocation).
pub(super) fn object(spec: &VmSpec) -> Option<String> {
    let backend = &spec.memory_backend;
    let shared = spec.needs_shared_memory();
    let size = spec.memory.size_mib;
    let mut object = match &backend.kind {
        MemoryKind::File { dir } => format!(
            "memory-backend-file,id={RAM_BACKEND_ID},size={size}M,mem-path={}",
            escape_path(dir)
        ),
        // A template's file: shared for the template, private copy-on-write for its clones.
        MemoryKind::MappedFile { path, .. } => format!(
            "memory-backend-file,id={RAM_BACKEND_ID},size={size}M,mem-path={}",
            escape_path(path)
        ),
        // A memfd on hugetlbfs needs no mount; shareable like any memfd.
        MemoryKind::HugePages => {
            format!("memory-backend-memfd,id={RAM_BACKEND_ID},size={size}M,hugetlb=on")
        }
        MemoryKind::Anonymous if shared => {
            format!("memory-backend-memfd,id={RAM_BACKEND_ID},size={size}M")
        }
        MemoryKind::Anonymous if backend.prealloc => {
            format!("memory-backend-ram,id={RAM_BACKEND_ID},size={size}M")
        }
        MemoryKind::Anonymous => return None,
    };
    if shared {
        object.push_str(",share=on");
    } else if spec.maps_memory_privately() {
        object.push_str(",share=off");
    }
    // Huge pages are allocated up front (as Kata does): a guest must not fault on a missing page.
    if backend.prealloc || backend.kind == MemoryKind::HugePages {
        object.push_str(",prealloc=on");
    }
    Some(object)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmdline::test_spec;
    use kata_hypervisor::SharedFs;

    fn virtio_fs(spec: &mut VmSpec) {
        spec.shared_fs = Some(SharedFs::VirtioFs {
            socket: "/s".into(),
            tag: "kataShared".into(),
        });
    }

    #[test]
    fn plain_memory_needs_no_object() {
        assert_eq!(object(&test_spec()), None);
    }

    #[test]
    fn vhost_user_gets_a_shared_memfd() {
        let mut s = test_spec();
        virtio_fs(&mut s);
        assert_eq!(
            object(&s).as_deref(),
            Some("memory-backend-memfd,id=mem,size=512M,share=on")
        );
    }

    #[test]
    fn file_mem_backend_maps_a_shared_file_in_the_directory() {
        let mut s = test_spec();
        s.memory_backend.kind = MemoryKind::File {
            dir: "/dev/shm".into(),
        };
        assert_eq!(
            object(&s).as_deref(),
            Some("memory-backend-file,id=mem,size=512M,mem-path=/dev/shm,share=on")
        );
    }

    #[test]
    fn a_template_file_is_shared_and_a_clone_s_is_private() {
        let mut s = test_spec();
        s.memory_backend.kind = MemoryKind::MappedFile {
            path: "/run/tmpl/memory".into(),
            shared: true,
        };
        assert_eq!(
            object(&s).as_deref(),
            Some("memory-backend-file,id=mem,size=512M,mem-path=/run/tmpl/memory,share=on")
        );
        s.memory_backend.kind = MemoryKind::MappedFile {
            path: "/run/tmpl/memory".into(),
            shared: false,
        };
        assert_eq!(
            object(&s).as_deref(),
            Some("memory-backend-file,id=mem,size=512M,mem-path=/run/tmpl/memory,share=off")
        );
    }

    #[test]
    fn hugepages_are_a_preallocated_hugetlb_memfd_shared_for_vhost_user() {
        let mut s = test_spec();
        s.memory_backend.kind = MemoryKind::HugePages;
        assert_eq!(
            object(&s).as_deref(),
            Some("memory-backend-memfd,id=mem,size=512M,hugetlb=on,prealloc=on")
        );
        virtio_fs(&mut s);
        assert_eq!(
            object(&s).as_deref(),
            Some("memory-backend-memfd,id=mem,size=512M,hugetlb=on,share=on,prealloc=on")
        );
    }

    #[test]
    fn prealloc_alone_gets_a_ram_backend() {
        let mut s = test_spec();
        s.memory_backend.prealloc = true;
        assert_eq!(
            object(&s).as_deref(),
            Some("memory-backend-ram,id=mem,size=512M,prealloc=on")
        );
        virtio_fs(&mut s);
        assert_eq!(
            object(&s).as_deref(),
            Some("memory-backend-memfd,id=mem,size=512M,share=on,prealloc=on")
        );
    }
}
