//! Device hotplug over QMP: disks (blockdev-add + virtio-blk-pci) and NICs (tap netdev +
//! virtio-net-pci). Unplug waits for the guest to release the device, then drops the backend.

use std::collections::HashMap;
use std::sync::Mutex;

use kata_hypervisor::{BlockDevice, HotplugDevice, NetDevice};
use serde_json::{json, Map, Value};
use tokio::sync::broadcast::error::RecvError;

use crate::cmdline::{blockdev_add_args, check_id, net::check_mac};
use crate::error::QemuError;
use crate::qmp::commands::{BlockdevAdd, BlockdevDel, DeviceAdd, DeviceDel, NetdevAdd, NetdevDel};
use crate::qmp::QmpError;
use crate::vm::QemuVm;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Block,
    Net,
}

/// Devices hot-plugged so far, by id.
#[derive(Debug, Default)]
pub(crate) struct Plugged(Mutex<HashMap<String, Kind>>);

impl Plugged {
    fn insert(&self, id: &str, kind: Kind) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.to_string(), kind);
    }

    fn remove(&self, id: &str) -> Option<Kind> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).remove(id)
    }
}

fn props(pairs: &[(&str, Value)]) -> Map<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

impl QemuVm {
    fn qmp_err(&self, source: QmpError) -> QemuError {
        QemuError::Qmp {
            socket: self.qmp_socket().to_path_buf(),
            source,
        }
    }

    /// Hot-plugs a device.
    pub async fn hotplug_device(&self, device: &HotplugDevice) -> Result<(), QemuError> {
        self.ensure_running()?;
        let id = device.id();
        check_id(id).map_err(|source| QemuError::Spec {
            id: self.id().to_string(),
            source,
        })?;
        match device {
            HotplugDevice::Block(disk) => self.plug_block(disk).await?,
            HotplugDevice::Net(nic) => self.plug_net(nic).await?,
        }
        Ok(())
    }

    async fn plug_block(&self, disk: &BlockDevice) -> Result<(), QemuError> {
        let qmp = self.qmp();
        qmp.execute(&BlockdevAdd(blockdev_add_args(disk)))
            .await
            .map_err(|e| self.qmp_err(e))?;
        let add = DeviceAdd {
            driver: "virtio-blk-pci".into(),
            id: disk.id.clone(),
            bus: self.hotplug_bus().map(str::to_string),
            props: props(&[("drive", json!(disk.id))]),
        };
        if let Err(e) = qmp.execute(&add).await {
            let _ = qmp
                .execute(&BlockdevDel {
                    node_name: disk.id.clone(),
                })
                .await;
            return Err(self.qmp_err(e));
        }
        self.plugged.insert(&disk.id, Kind::Block);
        Ok(())
    }

    async fn plug_net(&self, nic: &NetDevice) -> Result<(), QemuError> {
        check_mac(nic).map_err(|source| QemuError::Spec {
            id: self.id().to_string(),
            source,
        })?;
        let qmp = self.qmp();
        let mut netdev = match &nic.tap_device {
            // A macvtap: QEMU gets the open device (`getfd`) and the netdev names it.
            Some(path) => {
                let file = std::fs::OpenOptions::new()
                    .read(true)
                    .write(true)
                    .open(path)
                    .map_err(|source| QemuError::TapDevice {
                        path: path.clone(),
                        source,
                    })?;
                qmp.send_fd(&nic.id, std::os::fd::AsFd::as_fd(&file))
                    .await
                    .map_err(|e| self.qmp_err(e))?;
                props(&[("fd", json!(nic.id))])
            }
            None => props(&[
                ("ifname", json!(nic.tap)),
                ("script", json!("no")),
                ("downscript", json!("no")),
            ]),
        };
        if nic.vhost {
            netdev.insert("vhost".into(), json!(true));
        }
        let added = qmp
            .execute(&NetdevAdd {
                netdev_type: "tap".into(),
                id: nic.id.clone(),
                props: netdev,
            })
            .await;
        if let Err(e) = added {
            if nic.tap_device.is_some() {
                // QEMU keeps a descriptor no netdev took.
                let _ = qmp
                    .execute_raw("closefd", Some(json!({ "fdname": nic.id })))
                    .await;
            }
            return Err(self.qmp_err(e));
        }
        let add = DeviceAdd {
            driver: "virtio-net-pci".into(),
            id: nic.id.clone(),
            bus: self.hotplug_bus().map(str::to_string),
            props: props(&[("netdev", json!(nic.id)), ("mac", json!(nic.mac))]),
        };
        if let Err(e) = qmp.execute(&add).await {
            let _ = qmp.execute(&NetdevDel { id: nic.id.clone() }).await;
            return Err(self.qmp_err(e));
        }
        self.plugged.insert(&nic.id, Kind::Net);
        Ok(())
    }

    /// Unplugs a hot-plugged device: `device_del`, wait for `DEVICE_DELETED`, drop the backend.
    pub async fn unplug_device(&self, id: &str) -> Result<(), QemuError> {
        self.ensure_running()?;
        let qmp = self.qmp();
        let mut events = qmp.events();
        qmp.execute(&DeviceDel { id: id.to_string() })
            .await
            .map_err(|e| self.qmp_err(e))?;
        let after = self.timeouts().unplug;
        let deleted = async {
            loop {
                match events.recv().await {
                    Ok(ev) if ev.name == "DEVICE_DELETED" && ev.data["device"] == id => {
                        return true
                    }
                    Ok(_) | Err(RecvError::Lagged(_)) => {}
                    Err(RecvError::Closed) => return false,
                }
            }
        };
        if !tokio::time::timeout(after, deleted).await.unwrap_or(false) {
            return Err(QemuError::UnplugTimeout {
                id: id.to_string(),
                after,
            });
        }
        let backend = match self.plugged.remove(id) {
            Some(Kind::Block) => {
                qmp.execute(&BlockdevDel {
                    node_name: id.to_string(),
                })
                .await
            }
            Some(Kind::Net) => qmp.execute(&NetdevDel { id: id.to_string() }).await,
            None => return Ok(()),
        };
        backend.map(|_| ()).map_err(|e| self.qmp_err(e))
    }
}
