//! Hot-plugging the virtio-fs share into a running VM (a VM taken from the VMCache was booted
//! before its sandbox's share existed): `chardev-add` of a client socket to virtiofsd, then
//! `device_add vhost-user-fs-pci`, as the command line would have it (`cmdline::sharedfs`).

use std::path::Path;

use serde_json::{json, Map, Value};

use crate::error::QemuError;
use crate::qmp::commands::DeviceAdd;
use crate::vm::QemuVm;

/// The chardev and device ids, as on the command line.
const FS_CHARDEV: &str = "fs-chr";
const FS_DEVICE: &str = "fs0";

impl QemuVm {
    /// Adds a `vhost-user-fs-pci` device with `tag` whose backend is the virtiofsd listening on
    /// `socket`; `queue_size` 0 keeps QEMU's default. The guest sees it after its PCI hot-plug
    /// (ACPI) handling, which takes a moment: the agent waits for the tag when it mounts.
    /// Errors: QMP refusals (`Qmp`), e.g. nothing listening on `socket`.
    pub async fn hotplug_virtio_fs(
        &self,
        socket: &Path,
        tag: &str,
        queue_size: u32,
    ) -> Result<(), QemuError> {
        self.ensure_running()?;
        let qmp_err = |source| QemuError::Qmp {
            socket: self.qmp_socket().to_path_buf(),
            source,
        };
        let chardev = json!({
            "id": FS_CHARDEV,
            "backend": {
                "type": "socket",
                "data": {
                    "addr": { "type": "unix", "data": { "path": socket.display().to_string() } },
                    "server": false
                }
            }
        });
        self.qmp()
            .execute_raw("chardev-add", Some(chardev))
            .await
            .map_err(qmp_err)?;
        let mut props = Map::new();
        props.insert("chardev".into(), Value::from(FS_CHARDEV));
        props.insert("tag".into(), Value::from(tag));
        if queue_size > 0 {
            props.insert("queue-size".into(), Value::from(queue_size));
        }
        let add = DeviceAdd {
            driver: "vhost-user-fs-pci".into(),
            id: FS_DEVICE.into(),
            bus: self.hotplug_bus().map(str::to_string),
            props,
        };
        if let Err(e) = self.qmp().execute(&add).await {
            let _ = self
                .qmp()
                .execute_raw("chardev-remove", Some(json!({ "id": FS_CHARDEV })))
                .await;
            return Err(qmp_err(e));
        }
        tracing::info!(id = %self.id(), tag, socket = %socket.display(), "virtio-fs hot-plugged");
        Ok(())
    }
}
