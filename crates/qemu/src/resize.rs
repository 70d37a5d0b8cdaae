//! vCPU and memory hotplug over QMP: the VM boots with room to grow (`-smp N,maxcpus=M`,
//! `-m S,slots=K,maxmem=X`) and [`QemuVm::resize_vcpus`] / [`QemuVm::resize_memory`] fill it.
//!
//! As Kata's QEMU driver (`virtcontainers/qemu.go`: `ResizeVCPUs`, `hotplugCPUs`,
//! `hotplugAddCPUs`, `hotplugRemoveCPUs`, `ResizeMemory`, `hotplugAddMemory`):
//! - vCPUs: `query-hotpluggable-cpus`, then `device_add` of the CPU type into each free slot
//!   (its `socket-id`/`core-id`/`thread-id`...) until the count is reached; a request beyond
//!   `maxcpus` adds what fits. Shrinking `device_del`s the newest hot-added vCPUs only (the boot
//!   vCPUs stay), and only under KVM: under TCG QEMU 7.2 aborts when a vCPU is unplugged.
//! - memory: one `pc-dimm` per growth, its size rounded up to the guest's memory block size and
//!   capped by `maxmem`, backed by an `object-add`ed backend of the same kind as guest RAM (a
//!   shared memfd when vhost-user devices need the guest's memory, `share=on`, as virtiofsd and
//!   vhost-device-vsock map it). Memory is never hot-removed (Kata does not either).
//!
//! Unlike Kata, each `device_add` is followed by a wait (bounded) for the guest's ACPI
//! `_OST` acknowledgement (QMP event `ACPI_DEVICE_OST`): once it came, the new CPU or memory
//! blocks exist in the guest's sysfs, so the agent's `OnlineCPUMem` finds them.

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::Duration;

use kata_hypervisor::{MemoryKind, Resized, VmSpec};
use serde_json::{json, Map, Value};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::broadcast::Receiver;

use crate::qmp::commands::{DeviceAdd, DeviceDel, HotpluggableCpu, QueryHotpluggableCpus};
use crate::qmp::objects::{ObjectAdd, ObjectDel};
use crate::qmp::{QmpClient, QmpError, QmpEvent};

/// How long a hot-added device's ACPI acknowledgement, or a removed vCPU's `DEVICE_DELETED`, is
/// waited for. Under TCG both come within 0.1 s of `device_add` (measured with the Debian cloud
/// 6.1 kernel, `-M pc`).
pub const GUEST_ACK_TIMEOUT: Duration = Duration::from_secs(10);

/// The memory backend of a hot-added DIMM: the kind of guest RAM's own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DimmBackend {
    qom_type: &'static str,
    share: bool,
    mem_path: Option<PathBuf>,
    hugetlb: bool,
    prealloc: bool,
}

impl DimmBackend {
    fn from_spec(spec: &VmSpec) -> Self {
        let backend = &spec.memory_backend;
        let (qom_type, mem_path, hugetlb) = match &backend.kind {
            MemoryKind::File { dir } => ("memory-backend-file", Some(dir.clone()), false),
            MemoryKind::HugePages => ("memory-backend-memfd", None, true),
            // Never the template's file: added RAM is the clone's own.
            MemoryKind::MappedFile { .. } if spec.needs_shared_memory() => {
                ("memory-backend-memfd", None, false)
            }
            MemoryKind::MappedFile { .. } => ("memory-backend-ram", None, false),
            MemoryKind::Anonymous if spec.needs_shared_memory() => {
                ("memory-backend-memfd", None, false)
            }
            MemoryKind::Anonymous => ("memory-backend-ram", None, false),
        };
        DimmBackend {
            qom_type,
            share: spec.needs_shared_memory(),
            mem_path,
            hugetlb,
            prealloc: backend.prealloc || hugetlb,
        }
    }

    /// `object-add` of a backend of `mib` MiB named `id`.
    fn object(&self, id: &str, mib: u32) -> ObjectAdd {
        let mut props = Map::new();
        props.insert("size".into(), json!(u64::from(mib) << 20));
        if self.share {
            props.insert("share".into(), json!(true));
        }
        if let Some(dir) = &self.mem_path {
            props.insert("mem-path".into(), json!(dir.to_string_lossy()));
        }
        if self.hugetlb {
            props.insert("hugetlb".into(), json!(true));
        }
        if self.prealloc {
            props.insert("prealloc".into(), json!(true));
        }
        ObjectAdd {
            qom_type: self.qom_type.into(),
            id: id.into(),
            props,
        }
    }
}

/// The room the VM booted with, and what has been hot-added into it.
#[derive(Debug)]
pub(crate) struct Room {
    boot_vcpus: u32,
    max_vcpus: u32,
    boot_mib: u32,
    /// `maxmem`; equal to `boot_mib` when memory hotplug is off (no slots).
    max_mib: u32,
    slots: u32,
    backend: DimmBackend,
    /// Whether hot-added vCPUs may be removed: not under TCG, where QEMU 7.2 aborts (SIGABRT)
    /// once the guest has ejected the vCPU (seen with `thread=single`, `-M pc`).
    vcpu_unplug: bool,
    grown: tokio::sync::Mutex<Grown>,
}

#[derive(Debug, Default)]
struct Grown {
    /// Ids of the hot-added vCPUs, oldest first.
    cpus: Vec<String>,
    next_cpu: u32,
    /// Hot-added DIMMs: (number, MiB).
    dimms: Vec<(u32, u32)>,
}

impl Room {
    pub(crate) fn from_spec(spec: &VmSpec) -> Self {
        let mem = &spec.memory;
        Room {
            boot_vcpus: spec.cpu.vcpus,
            max_vcpus: spec.cpu.max_vcpus.max(spec.cpu.vcpus),
            boot_mib: mem.size_mib,
            max_mib: if mem.slots > 0 {
                mem.max_mib.max(mem.size_mib)
            } else {
                mem.size_mib
            },
            slots: mem.slots,
            backend: DimmBackend::from_spec(spec),
            vcpu_unplug: matches!(spec.accelerator, kata_hypervisor::Accelerator::Kvm),
            grown: tokio::sync::Mutex::new(Grown::default()),
        }
    }

    /// Brings the VM to `want` vCPUs (clamped to `boot..=max`).
    pub(crate) async fn resize_vcpus(
        &self,
        qmp: &QmpClient,
        want: u32,
    ) -> Result<Resized, QmpError> {
        let mut grown = self.grown.lock().await;
        let before = self.boot_vcpus + count(grown.cpus.len());
        let target = want.clamp(self.boot_vcpus, self.max_vcpus);
        if target > want {
            tracing::debug!(
                want,
                target,
                "fewer vCPUs than booted asked for: keeping the boot vCPUs"
            );
        } else if target < want {
            tracing::warn!(
                want,
                max = self.max_vcpus,
                "cannot hot-add vCPUs beyond maxcpus"
            );
        }
        if target > before {
            add_vcpus(qmp, &mut grown, target - before).await?;
        } else if target < before && self.vcpu_unplug {
            remove_vcpus(qmp, &mut grown, before - target).await?;
        } else if target < before {
            tracing::info!(
                before,
                target,
                "hot-added vCPUs stay under TCG (QEMU 7.2 aborts on vCPU unplug)"
            );
        }
        Ok(Resized {
            before,
            after: self.boot_vcpus + count(grown.cpus.len()),
        })
    }

    /// Grows memory towards `want_mib` by one DIMM (see [`memory_to_add`]).
    pub(crate) async fn resize_memory(
        &self,
        qmp: &QmpClient,
        want_mib: u32,
        block_mib: u32,
    ) -> Result<Resized, QmpError> {
        let mut grown = self.grown.lock().await;
        let before = self.boot_mib + grown.dimms.iter().map(|(_, m)| m).sum::<u32>();
        if want_mib < before {
            tracing::debug!(want_mib, before, "memory is not hot-removed");
        }
        let add = memory_to_add(before, want_mib, self.max_mib, block_mib);
        if add == 0 {
            if want_mib > before {
                tracing::warn!(
                    want_mib,
                    before,
                    max = self.max_mib,
                    "no room to hot-add memory (maxmem)"
                );
            }
            return Ok(Resized {
                before,
                after: before,
            });
        }
        if count(grown.dimms.len()) >= self.slots {
            tracing::warn!(
                slots = self.slots,
                want_mib,
                "every memory slot is in use: cannot hot-add memory"
            );
            return Ok(Resized {
                before,
                after: before,
            });
        }
        let n = grown.dimms.last().map_or(0, |(n, _)| n + 1);
        add_dimm(qmp, &self.backend, n, add).await?;
        grown.dimms.push((n, add));
        Ok(Resized {
            before,
            after: before + add,
        })
    }
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// MiB to hot-add to go from `current` towards `want`: the difference rounded up to whole
/// `block` MiB (the guest onlines memory by block; Kata's `calcHotplugMemMiBSize`), then cut to
/// whole blocks within `max` (Kata caps at `default_maxmemory`). 0: nothing to add, or no room.
pub fn memory_to_add(current: u32, want: u32, max: u32, block: u32) -> u32 {
    let block = block.max(1);
    let wanted = want
        .saturating_sub(current)
        .div_ceil(block)
        .saturating_mul(block);
    let room = max.saturating_sub(current) / block * block;
    wanted.min(room)
}

/// The `device_add` of a vCPU into a free slot of `query-hotpluggable-cpus`.
fn cpu_device_add(slot: &HotpluggableCpu, id: &str) -> Result<DeviceAdd, QmpError> {
    let props = match serde_json::to_value(&slot.props) {
        Ok(Value::Object(map)) => map,
        Ok(_) => Map::new(),
        Err(source) => {
            return Err(QmpError::Encode {
                command: "device_add",
                source,
            })
        }
    };
    Ok(DeviceAdd {
        driver: slot.cpu_type.clone(),
        id: id.into(),
        bus: None,
        props,
    })
}

async fn add_vcpus(qmp: &QmpClient, grown: &mut Grown, amount: u32) -> Result<(), QmpError> {
    let slots = qmp.execute(&QueryHotpluggableCpus).await?;
    let mut events = qmp.events();
    let mut added = Vec::new();
    for slot in slots.iter().filter(|s| s.qom_path.is_none()) {
        if count(added.len()) == amount {
            break;
        }
        let id = format!("cpu-{}", grown.next_cpu);
        grown.next_cpu += 1;
        match qmp.execute(&cpu_device_add(slot, &id)?).await {
            Ok(_) => {
                grown.cpus.push(id.clone());
                added.push(id);
            }
            // As Kata: try the next slot.
            Err(e) => tracing::warn!(cpu = %id, error = %e, "vCPU hot-add failed"),
        }
    }
    if count(added.len()) < amount {
        tracing::warn!(
            amount,
            added = added.len(),
            "fewer vCPUs hot-added than asked for"
        );
    }
    wait_for(&mut events, &added, is_ost_of).await;
    Ok(())
}

async fn remove_vcpus(qmp: &QmpClient, grown: &mut Grown, amount: u32) -> Result<(), QmpError> {
    let mut events = qmp.events();
    let mut asked = Vec::new();
    for _ in 0..amount {
        let Some(id) = grown.cpus.last().cloned() else {
            break;
        };
        qmp.execute(&DeviceDel { id: id.clone() }).await?;
        grown.cpus.pop();
        asked.push(id);
    }
    let missing = wait_for(&mut events, &asked, is_deleted).await;
    // A vCPU the guest did not release is still there: count it again.
    for id in missing {
        tracing::warn!(cpu = %id, "the guest kept a vCPU it was asked to release");
        grown.cpus.push(id);
    }
    Ok(())
}

async fn add_dimm(
    qmp: &QmpClient,
    backend: &DimmBackend,
    n: u32,
    mib: u32,
) -> Result<(), QmpError> {
    let (mem, dimm) = (format!("hotmem{n}"), format!("dimm{n}"));
    let mut events = qmp.events();
    qmp.execute(&backend.object(&mem, mib)).await?;
    let mut props = Map::new();
    props.insert("memdev".into(), json!(mem));
    let add = DeviceAdd {
        driver: "pc-dimm".into(),
        id: dimm.clone(),
        bus: None,
        props,
    };
    if let Err(e) = qmp.execute(&add).await {
        let _ = qmp.execute(&ObjectDel { id: mem }).await;
        return Err(e);
    }
    if !wait_for(&mut events, std::slice::from_ref(&dimm), is_ost_of)
        .await
        .is_empty()
    {
        tracing::warn!(dimm = %dimm, "the guest did not acknowledge the hot-added memory");
    }
    Ok(())
}

/// An `ACPI_DEVICE_OST` with which the guest acknowledged `id`.
fn is_ost_of(ev: &QmpEvent) -> Option<&str> {
    (ev.name == "ACPI_DEVICE_OST")
        .then(|| ev.data["info"]["device"].as_str())
        .flatten()
}

fn is_deleted(ev: &QmpEvent) -> Option<&str> {
    (ev.name == "DEVICE_DELETED")
        .then(|| ev.data["device"].as_str())
        .flatten()
}

/// Waits (up to [`GUEST_ACK_TIMEOUT`]) until `matches` has named every id; returns those it did
/// not.
async fn wait_for(
    events: &mut Receiver<QmpEvent>,
    ids: &[String],
    matches: fn(&QmpEvent) -> Option<&str>,
) -> Vec<String> {
    let mut missing: HashSet<&str> = ids.iter().map(String::as_str).collect();
    let waited = tokio::time::timeout(GUEST_ACK_TIMEOUT, async {
        while !missing.is_empty() {
            match events.recv().await {
                Ok(ev) => {
                    if let Some(id) = matches(&ev) {
                        missing.remove(id);
                    }
                }
                Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => return,
            }
        }
    })
    .await;
    if waited.is_err() {
        tracing::debug!(?missing, "guest acknowledgement timed out");
    }
    ids.iter()
        .filter(|id| missing.contains(id.as_str()))
        .cloned()
        .collect()
}

#[cfg(test)]
#[path = "resize_tests.rs"]
mod tests;

impl crate::vm::QemuVm {
    /// Brings the VM to `vcpus` vCPUs within `vcpus..=max_vcpus` of its spec; see the module.
    pub async fn resize_vcpus(&self, vcpus: u32) -> Result<Resized, crate::QemuError> {
        self.ensure_running()?;
        self.room
            .resize_vcpus(self.qmp(), vcpus)
            .await
            .map_err(|source| crate::QemuError::Qmp {
                socket: self.qmp_socket().to_path_buf(),
                source,
            })
    }

    /// Grows guest memory towards `mib` MiB by one DIMM of whole `block_mib` blocks; see the
    /// module.
    pub async fn resize_memory(
        &self,
        mib: u32,
        block_mib: u32,
    ) -> Result<Resized, crate::QemuError> {
        self.ensure_running()?;
        self.room
            .resize_memory(self.qmp(), mib, block_mib)
            .await
            .map_err(|source| crate::QemuError::Qmp {
                socket: self.qmp_socket().to_path_buf(),
                source,
            })
    }
}
