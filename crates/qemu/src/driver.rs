//! The QEMU driver behind the `kata_hypervisor` traits.

use async_trait::async_trait;
use kata_hypervisor::{HotplugDevice, Hypervisor, HypervisorError, Resized, Vm, VmExit, VmSpec};

use crate::vm::{QemuVm, Timeouts};

/// Boots `QemuVm`s.
#[derive(Debug, Clone, Default)]
pub struct Qemu {
    pub timeouts: Timeouts,
}

#[async_trait]
impl Hypervisor for Qemu {
    async fn start(&self, spec: VmSpec) -> Result<Box<dyn Vm>, HypervisorError> {
        let id = spec.id.clone();
        let vm =
            QemuVm::start_with(spec, self.timeouts)
                .await
                .map_err(|e| HypervisorError::Start {
                    id,
                    source: Box::new(e),
                })?;
        Ok(Box::new(vm))
    }
}

#[async_trait]
impl Vm for QemuVm {
    fn pid(&self) -> Option<u32> {
        QemuVm::pid(self)
    }

    async fn exited(&self) -> VmExit {
        QemuVm::exited(self).await
    }

    async fn stop(&self) -> Result<VmExit, HypervisorError> {
        QemuVm::stop(self).await.map_err(|e| HypervisorError::Stop {
            id: self.id().to_string(),
            source: Box::new(e),
        })
    }

    async fn hotplug(&self, device: HotplugDevice) -> Result<(), HypervisorError> {
        self.hotplug_device(&device)
            .await
            .map_err(|e| HypervisorError::Hotplug {
                device: device.id().to_string(),
                source: Box::new(e),
            })
    }

    async fn unplug(&self, id: &str) -> Result<(), HypervisorError> {
        self.unplug_device(id)
            .await
            .map_err(|e| HypervisorError::Unplug {
                device: id.to_string(),
                source: Box::new(e),
            })
    }

    async fn resize_vcpus(&self, vcpus: u32) -> Result<Option<Resized>, HypervisorError> {
        QemuVm::resize_vcpus(self, vcpus)
            .await
            .map(Some)
            .map_err(|e| HypervisorError::Resize {
                id: self.id().to_string(),
                what: "vCPUs",
                source: Box::new(e),
            })
    }

    async fn resize_memory(
        &self,
        mib: u32,
        block_mib: u32,
    ) -> Result<Option<Resized>, HypervisorError> {
        QemuVm::resize_memory(self, mib, block_mib)
            .await
            .map(Some)
            .map_err(|e| HypervisorError::Resize {
                id: self.id().to_string(),
                what: "memory",
                source: Box::new(e),
            })
    }
}
