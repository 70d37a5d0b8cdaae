//! Block-device storages: find the guest device node for a hot-plugged disk, then mount it.
//!
//! - `blk`/`virtio-blk`: `source` is a PCI path `BB/DD[/..]` (slot of each bridge, then the device's
//!   slot, hex) as Kata sends it, or a `/dev/...` path. The device appears under
//!   `/sys/bus/pci/devices/0000:00:BB.0/0000:01:DD.0/virtio*/block/<vdX>`.
//! - `scsi`: `source` is `<target>:<lun>`; the disk appears under
//!   `/sys/bus/scsi/devices/<host>:0:<target>:<lun>/block/<sdX>`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use super::{Context, MountOptions, StorageSpec};
use crate::error::{AgentError, Result};

pub fn mount_virtio_blk(ctx: &Context<'_>, spec: &StorageSpec) -> Result<()> {
    let dev = if spec.source.starts_with("/dev/") {
        PathBuf::from(&spec.source)
    } else {
        let slots = parse_pci_path(&spec.source)?;
        wait_for(
            ctx,
            &format!("virtio-blk at PCI path {}", spec.source),
            || pci_block_device(ctx.sysfs, &slots),
        )?
    };
    mount_device(ctx, spec, &dev)
}

pub fn mount_scsi(ctx: &Context<'_>, spec: &StorageSpec) -> Result<()> {
    let (target, lun) = parse_scsi_addr(&spec.source)?;
    let dev = wait_for(ctx, &format!("scsi disk {}", spec.source), || {
        scsi_block_device(ctx.sysfs, target, lun)
    })?;
    mount_device(ctx, spec, &dev)
}

fn mount_device(ctx: &Context<'_>, spec: &StorageSpec, dev: &Path) -> Result<()> {
    if spec.fstype.is_empty() {
        return Err(AgentError::InvalidArgument(format!(
            "{} storage without fstype",
            spec.driver
        )));
    }
    std::fs::create_dir_all(&spec.mount_point)
        .map_err(|e| AgentError::io("creating mount point", &spec.mount_point, e))?;
    let opts = MountOptions::parse(&spec.options);
    ctx.mounter.mount(
        &dev.to_string_lossy(),
        &spec.mount_point,
        &spec.fstype,
        opts.flags,
        &opts.data,
    )
}

/// Polls `find` until it names a device or the hot-plug timeout passes.
fn wait_for(ctx: &Context<'_>, what: &str, find: impl Fn() -> Option<PathBuf>) -> Result<PathBuf> {
    let deadline = Instant::now() + ctx.device_timeout;
    loop {
        if let Some(dev) = find() {
            return Ok(dev);
        }
        if Instant::now() >= deadline {
            return Err(AgentError::Timeout(what.to_string()));
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// `"02/01"` -> `[2, 1]`.
pub fn parse_pci_path(path: &str) -> Result<Vec<u8>> {
    let slots: Result<Vec<u8>> = path
        .split('/')
        .map(|s| {
            u8::from_str_radix(s, 16)
                .ok()
                .filter(|v| *v < 32)
                .ok_or_else(|| AgentError::InvalidArgument(format!("invalid PCI path {path:?}")))
        })
        .collect();
    let slots = slots?;
    if slots.is_empty() {
        return Err(AgentError::InvalidArgument(format!(
            "invalid PCI path {path:?}"
        )));
    }
    Ok(slots)
}

/// `"0:1"` -> `(0, 1)`.
pub fn parse_scsi_addr(addr: &str) -> Result<(u32, u32)> {
    let bad = || AgentError::InvalidArgument(format!("invalid SCSI address {addr:?}"));
    let (t, l) = addr.split_once(':').ok_or_else(bad)?;
    Ok((t.parse().map_err(|_| bad())?, l.parse().map_err(|_| bad())?))
}

/// Walks the PCI path from the root bus and returns `/dev/<name>` of the block device found there.
fn pci_block_device(sysfs: &Path, slots: &[u8]) -> Option<PathBuf> {
    let mut dir = sysfs.join("devices/pci0000:00");
    let mut bus = "0000:00".to_string();
    for (i, slot) in slots.iter().enumerate() {
        dir = dir.join(format!("{bus}:{slot:02x}.0"));
        if i + 1 < slots.len() {
            // A bridge: its children live on the bus named by the first `0000:BB:..` entry inside it.
            bus = child_bus(&dir)?;
        }
    }
    let virtio = std::fs::read_dir(&dir)
        .ok()?
        .flatten()
        .find(|e| e.file_name().to_string_lossy().starts_with("virtio"))?;
    first_entry(&virtio.path().join("block"))
}

fn child_bus(bridge: &Path) -> Option<String> {
    std::fs::read_dir(bridge).ok()?.flatten().find_map(|e| {
        let name = e.file_name().to_string_lossy().to_string();
        let mut parts = name.splitn(3, ':');
        match (parts.next(), parts.next(), parts.next()) {
            (Some(dom), Some(bus), Some(_)) if dom.len() == 4 && bus.len() == 2 => {
                Some(format!("{dom}:{bus}"))
            }
            _ => None,
        }
    })
}

fn scsi_block_device(sysfs: &Path, target: u32, lun: u32) -> Option<PathBuf> {
    let suffix = format!(":0:{target}:{lun}");
    let entry = std::fs::read_dir(sysfs.join("bus/scsi/devices"))
        .ok()?
        .flatten()
        .find(|e| e.file_name().to_string_lossy().ends_with(&suffix))?;
    first_entry(&entry.path().join("block"))
}

fn first_entry(dir: &Path) -> Option<PathBuf> {
    let name = std::fs::read_dir(dir).ok()?.flatten().next()?.file_name();
    Some(Path::new("/dev").join(name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    use crate::storage::mounter::fake::FakeMounter;
    use crate::storage::tests::manager;

    #[test]
    fn pci_paths_parse() {
        assert_eq!(parse_pci_path("02").expect("ok"), vec![2]);
        assert_eq!(parse_pci_path("02/1f").expect("ok"), vec![2, 0x1f]);
        assert!(parse_pci_path("").is_err());
        assert!(parse_pci_path("40").is_err());
        assert!(parse_pci_path("zz/01").is_err());
    }

    #[test]
    fn scsi_addresses_parse() {
        assert_eq!(parse_scsi_addr("0:1").expect("ok"), (0, 1));
        assert!(parse_scsi_addr("0").is_err());
        assert!(parse_scsi_addr("a:b").is_err());
    }

    #[test]
    fn device_found_behind_a_bridge_in_a_fake_sysfs() {
        let sys = tempfile::tempdir().expect("tempdir");
        let dev = sys
            .path()
            .join("devices/pci0000:00/0000:00:02.0/0000:01:03.0/virtio4/block/vdb");
        std::fs::create_dir_all(&dev).expect("mkdir");
        assert_eq!(
            pci_block_device(sys.path(), &[2, 3]),
            Some(PathBuf::from("/dev/vdb"))
        );
        assert_eq!(pci_block_device(sys.path(), &[2, 4]), None);
    }

    #[test]
    fn scsi_disk_found_in_a_fake_sysfs() {
        let sys = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(sys.path().join("bus/scsi/devices/0:0:0:1/block/sdb"))
            .expect("mkdir");
        assert_eq!(
            scsi_block_device(sys.path(), 0, 1),
            Some(PathBuf::from("/dev/sdb"))
        );
    }

    #[test]
    fn missing_device_times_out() {
        let run = tempfile::tempdir().expect("tempdir");
        let m = manager(Arc::new(FakeMounter::default()), run.path());
        let spec = StorageSpec {
            driver: "blk".into(),
            source: "05".into(),
            fstype: "ext4".into(),
            mount_point: PathBuf::from("/run/kata-containers/sandbox/storage/disk"),
            ..Default::default()
        };
        assert!(matches!(m.add(&spec), Err(AgentError::Timeout(_))));
    }
}
