//! Block devices: a `file` node, a format node named after the device, and a virtio-blk-pci device.
//! The boot image, when given, is the first disk (`image`, read-only).

use kata_hypervisor::{BlockDevice, DiskFormat, VmSpec};
use serde_json::{json, Value};

use super::escape_path;

/// Id of the boot image disk.
pub const IMAGE_ID: &str = "image";

fn format_name(format: DiskFormat) -> &'static str {
    match format {
        DiskFormat::Raw => "raw",
        DiskFormat::Qcow2 => "qcow2",
    }
}

fn read_only(dev: &BlockDevice) -> &'static str {
    if dev.read_only {
        "on"
    } else {
        "off"
    }
}

/// Cold-plug arguments for one disk (the id must already be checked).
pub fn block_device_args(dev: &BlockDevice) -> Vec<String> {
    vec![
        "-blockdev".into(),
        format!(
            "driver=file,node-name=file-{id},filename={path},read-only={ro}",
            id = dev.id,
            path = escape_path(&dev.path),
            ro = read_only(dev)
        ),
        "-blockdev".into(),
        format!(
            "driver={fmt},node-name={id},file=file-{id},read-only={ro}",
            fmt = format_name(dev.format),
            id = dev.id,
            ro = read_only(dev)
        ),
        "-device".into(),
        format!("virtio-blk-pci,drive={id},id={id}", id = dev.id),
    ]
}

/// QMP `blockdev-add` arguments for hot-plugging one disk: the format node over a file node.
pub fn blockdev_add_args(dev: &BlockDevice) -> Value {
    json!({
        "driver": format_name(dev.format),
        "node-name": dev.id,
        "read-only": dev.read_only,
        "file": {
            "driver": "file",
            "filename": dev.path.to_string_lossy(),
            "read-only": dev.read_only,
        },
    })
}

pub(super) fn args(spec: &VmSpec) -> Vec<String> {
    let image = spec.boot.image.as_ref().map(|path| BlockDevice {
        id: IMAGE_ID.to_string(),
        path: path.clone(),
        format: DiskFormat::Raw,
        read_only: true,
    });
    image
        .iter()
        .chain(spec.block_devices.iter())
        .flat_map(block_device_args)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmdline::{test_spec, values_of};

    fn disk() -> BlockDevice {
        BlockDevice {
            id: "blk0".into(),
            path: "/d/a,b.img".into(),
            format: DiskFormat::Qcow2,
            read_only: false,
        }
    }

    #[test]
    fn disk_is_file_node_format_node_and_device() {
        let a = block_device_args(&disk());
        assert_eq!(
            values_of(&a, "-blockdev"),
            [
                "driver=file,node-name=file-blk0,filename=/d/a,,b.img,read-only=off",
                "driver=qcow2,node-name=blk0,file=file-blk0,read-only=off"
            ]
        );
        assert_eq!(
            values_of(&a, "-device"),
            ["virtio-blk-pci,drive=blk0,id=blk0"]
        );
    }

    #[test]
    fn image_is_the_first_read_only_disk() {
        let mut s = test_spec();
        s.boot.image = Some("/k/rootfs.img".into());
        s.block_devices = vec![disk()];
        let a = args(&s);
        let devices = values_of(&a, "-device");
        assert_eq!(devices[0], "virtio-blk-pci,drive=image,id=image");
        assert!(values_of(&a, "-blockdev")[0].ends_with("read-only=on"));
        assert_eq!(devices.len(), 2);
    }

    #[test]
    fn hotplug_arguments_nest_the_file_node() {
        let v = blockdev_add_args(&disk());
        assert_eq!(v["driver"], "qcow2");
        assert_eq!(v["node-name"], "blk0");
        assert_eq!(v["file"]["filename"], "/d/a,b.img");
    }
}
