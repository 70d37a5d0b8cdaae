//! `grpc.Storage` to [`StorageSpec`].

use std::path::PathBuf;

use kata_protocols::agent as pb;

use crate::storage::StorageSpec;

pub fn storage_from_grpc(s: &pb::Storage) -> StorageSpec {
    StorageSpec {
        driver: s.driver.clone(),
        driver_options: s.driver_options.clone(),
        source: s.source.clone(),
        fstype: s.fstype.clone(),
        options: s.options.clone(),
        mount_point: PathBuf::from(&s.mount_point),
        fs_group: s.fs_group.as_ref().map(|g| g.group_id).filter(|g| *g != 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_carry_over() {
        let mut s = pb::Storage::new();
        s.driver = "virtio-fs".into();
        s.source = "kataShared".into();
        s.fstype = "virtiofs".into();
        s.options = vec!["nodev".into()];
        s.mount_point = "/run/kata-containers/shared/containers".into();
        let mut g = pb::FSGroup::new();
        g.group_id = 1000;
        s.fs_group = Some(g).into();
        let d = storage_from_grpc(&s);
        assert_eq!(d.driver, "virtio-fs");
        assert_eq!(
            d.mount_point,
            PathBuf::from("/run/kata-containers/shared/containers")
        );
        assert_eq!(d.fs_group, Some(1000));
        assert_eq!(d.options, vec!["nodev".to_string()]);
    }
}
