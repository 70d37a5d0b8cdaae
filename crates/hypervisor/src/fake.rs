//! An in-memory hypervisor for unit tests of the layers above (never a product path).
//!
//! `FakeHypervisor::start` records the spec and returns a `FakeVm` whose state the test can
//! inspect and drive (`crash` simulates the VM process dying).

use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use tokio::sync::watch;

use crate::error::HypervisorError;
use crate::spec::VmSpec;
use crate::vm::{HotplugDevice, Hypervisor, Resized, Vm, VmExit};

/// What the fake VM saw.
#[derive(Debug, Default)]
pub struct FakeState {
    pub started: Vec<VmSpec>,
    pub plugged: Vec<HotplugDevice>,
    pub stops: usize,
    /// When set, the next `start` fails with this message.
    pub fail_start: Option<String>,
    /// vCPUs and memory (MiB) now, once a resize was asked for (the boot size before that).
    pub vcpus: Option<u32>,
    pub memory_mib: Option<u32>,
}

/// Shared handle on the fake's state.
#[derive(Debug, Clone, Default)]
pub struct FakeHypervisor {
    state: Arc<Mutex<FakeState>>,
}

fn lock(state: &Mutex<FakeState>) -> MutexGuard<'_, FakeState> {
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl FakeHypervisor {
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs `f` with the recorded state.
    pub fn with_state<R>(&self, f: impl FnOnce(&mut FakeState) -> R) -> R {
        f(&mut lock(&self.state))
    }
}

/// A fake running VM.
#[derive(Debug, Clone)]
pub struct FakeVm {
    id: String,
    state: Arc<Mutex<FakeState>>,
    exit_tx: Arc<watch::Sender<Option<VmExit>>>,
}

impl FakeVm {
    /// Simulates the VM process dying with `exit`.
    pub fn crash(&self, exit: VmExit) {
        self.exit_tx.send_if_modified(|cur| {
            if cur.is_none() {
                *cur = Some(exit);
                true
            } else {
                false
            }
        });
    }

    fn running(&self) -> bool {
        self.exit_tx.borrow().is_none()
    }
}

#[async_trait]
impl Hypervisor for FakeHypervisor {
    async fn start(&self, spec: VmSpec) -> Result<Box<dyn Vm>, HypervisorError> {
        let mut st = lock(&self.state);
        if let Some(msg) = st.fail_start.take() {
            return Err(HypervisorError::Start {
                id: spec.id.clone(),
                source: msg.into(),
            });
        }
        let id = spec.id.clone();
        st.started.push(spec);
        let (tx, _rx) = watch::channel(None);
        Ok(Box::new(FakeVm {
            id,
            state: Arc::clone(&self.state),
            exit_tx: Arc::new(tx),
        }))
    }
}

#[async_trait]
impl Vm for FakeVm {
    fn pid(&self) -> Option<u32> {
        self.running().then_some(4242)
    }

    async fn exited(&self) -> VmExit {
        let mut rx = self.exit_tx.subscribe();
        loop {
            if let Some(exit) = *rx.borrow_and_update() {
                return exit;
            }
            if rx.changed().await.is_err() {
                return VmExit {
                    code: None,
                    signal: None,
                };
            }
        }
    }

    async fn stop(&self) -> Result<VmExit, HypervisorError> {
        lock(&self.state).stops += 1;
        self.crash(VmExit {
            code: Some(0),
            signal: None,
        });
        Ok(self.exited().await)
    }

    async fn hotplug(&self, device: HotplugDevice) -> Result<(), HypervisorError> {
        if !self.running() {
            return Err(HypervisorError::NotRunning {
                id: self.id.clone(),
            });
        }
        lock(&self.state).plugged.push(device);
        Ok(())
    }

    async fn unplug(&self, id: &str) -> Result<(), HypervisorError> {
        let mut st = lock(&self.state);
        let before = st.plugged.len();
        st.plugged.retain(|d| d.id() != id);
        if st.plugged.len() == before {
            return Err(HypervisorError::Unplug {
                device: id.to_string(),
                source: "no such device".into(),
            });
        }
        Ok(())
    }

    /// Within the last started spec's `vcpus..=max_vcpus`, as the QEMU driver.
    async fn resize_vcpus(&self, vcpus: u32) -> Result<Option<Resized>, HypervisorError> {
        let mut st = lock(&self.state);
        let Some(cpu) = st.started.last().map(|s| s.cpu.clone()) else {
            return Ok(None);
        };
        let before = st.vcpus.unwrap_or(cpu.vcpus);
        let after = vcpus.clamp(cpu.vcpus, cpu.max_vcpus.max(cpu.vcpus));
        st.vcpus = Some(after);
        Ok(Some(Resized { before, after }))
    }

    /// Grows in whole blocks up to the last started spec's `max_mib`; never shrinks.
    async fn resize_memory(
        &self,
        mib: u32,
        block_mib: u32,
    ) -> Result<Option<Resized>, HypervisorError> {
        let mut st = lock(&self.state);
        let Some(mem) = st.started.last().map(|s| s.memory.clone()) else {
            return Ok(None);
        };
        let before = st.memory_mib.unwrap_or(mem.size_mib);
        let block = block_mib.max(1);
        let room = mem.max_mib.saturating_sub(before) / block * block;
        let add = (mib.saturating_sub(before).div_ceil(block) * block).min(room);
        st.memory_mib = Some(before + add);
        Ok(Some(Resized {
            before,
            after: before + add,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{Accelerator, NetDevice};

    fn spec() -> VmSpec {
        VmSpec::minimal("pod", "/q", "/k", "/r", Accelerator::tcg())
    }

    #[tokio::test]
    async fn fake_records_start_hotplug_and_stop() {
        let hv = FakeHypervisor::new();
        let vm = hv.start(spec()).await.expect("start");
        assert_eq!(vm.pid(), Some(4242));
        let nic = HotplugDevice::Net(NetDevice {
            id: "eth0".into(),
            tap: "tap0".into(),
            mac: "02:00:00:00:00:01".into(),
            vhost: false,
            tap_device: None,
        });
        vm.hotplug(nic).await.expect("hotplug");
        vm.unplug("eth0").await.expect("unplug");
        assert!(vm.unplug("eth0").await.is_err());
        let exit = vm.stop().await.expect("stop");
        assert!(exit.success());
        assert_eq!(vm.pid(), None);
        hv.with_state(|s| {
            assert_eq!(s.started.len(), 1);
            assert_eq!(s.stops, 1);
        });
    }

    #[tokio::test]
    async fn fake_start_failure_is_reported() {
        let hv = FakeHypervisor::new();
        hv.with_state(|s| s.fail_start = Some("boom".into()));
        let err = hv.start(spec()).await.err().expect("must fail");
        assert!(err.to_string().contains("pod"));
    }
}
