//! Interfaces that appear in the sandbox's own network namespace after the VM booted (`ctr run
//! --cni` configures the namespace of the task's pid, QEMU's, once the task exists) are connected
//! as at boot and hot-plugged: a tap with tc mirred beside the interface (or a macvtap on it), a
//! `virtio-net-pci` device added through QMP, then the guest's interface, routes and static
//! neighbours (`UpdateInterface`, `UpdateRoutes`, `AddARPNeighbors`).
//!
//! The namespace is looked at every second for the first minute, then every ten seconds, for the
//! VM's life, and once more before each container starts (ctr runs CNI between creating the task
//! and starting it, and a container must see its interface from its first instruction, as with
//! runc). The taps live in the sandbox's own namespace and go with it.

use std::path::PathBuf;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use kata_hypervisor::{HotplugDevice, NetDevice};
use kata_qemu::QemuVm;

use super::agent::KataAgent;
use crate::agent::Agent;
use crate::host::network;

/// How long the guest gets to show a hot-plugged device to the agent.
const GUEST_DEVICE_WAIT: Duration = Duration::from_secs(15);

/// The watch on one sandbox's own network namespace. [`NetWatch::scan`] looks once (the periodic
/// task and a container start both call it; one look at a time).
pub(super) struct NetWatch {
    sandbox_id: String,
    netns: PathBuf,
    how: network::Attach,
    vm: Weak<QemuVm>,
    agent: Arc<KataAgent>,
    state: tokio::sync::Mutex<Seen>,
}

#[derive(Default)]
struct Seen {
    /// Interfaces connected so far, in tap order.
    connected: Vec<String>,
    /// Every route sent so far: with macvtap, an interface's routes leave the namespace with its
    /// addresses once it is connected, so later reads no longer show them.
    routes: Vec<kata_netlink::Route>,
}

impl NetWatch {
    pub(super) fn new(
        sandbox_id: String,
        netns: PathBuf,
        how: network::Attach,
        vm: Weak<QemuVm>,
        agent: Arc<KataAgent>,
    ) -> Arc<Self> {
        Arc::new(NetWatch {
            sandbox_id,
            netns,
            how,
            vm,
            agent,
            state: tokio::sync::Mutex::new(Seen::default()),
        })
    }

    /// Looks every second for the first minute, then every ten seconds, while the VM lives.
    pub(super) fn spawn(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let watch = Arc::clone(self);
        tokio::spawn(async move {
            let started = Instant::now();
            loop {
                let every = if started.elapsed() < Duration::from_secs(60) {
                    Duration::from_secs(1)
                } else {
                    Duration::from_secs(10)
                };
                tokio::time::sleep(every).await;
                if !watch.scan().await {
                    return;
                }
            }
        })
    }

    /// Connects and hot-plugs the interfaces that appeared since the last look. False once the
    /// VM is gone.
    pub(super) async fn scan(&self) -> bool {
        let mut seen = self.state.lock().await;
        let Some(vm) = self.vm.upgrade() else {
            return false;
        };
        let sandbox_id = &self.sandbox_id;
        let (ns, known, first) = (
            self.netns.clone(),
            seen.connected.clone(),
            seen.connected.len(),
        );
        let attach = self.how.clone();
        let found =
            tokio::task::spawn_blocking(move || network::attach_new(&ns, &attach, &known, first))
                .await;
        let found = match found {
            Ok(Ok(found)) => found,
            Ok(Err(e)) => {
                tracing::warn!(sandbox = %sandbox_id, error = %crate::error::chain(&e), "pod network watch");
                return true;
            }
            Err(_) => return false,
        };
        if found.endpoints.is_empty() {
            return true;
        }
        let agent = self.agent.as_ref();
        for endpoint in &found.endpoints {
            seen.connected.push(endpoint.interface.name.clone());
            let n = seen.connected.len() - 1;
            if let Err(e) = plug(&vm, agent, endpoint, n).await {
                tracing::error!(sandbox = %sandbox_id, interface = %endpoint.interface.name, error = %e, "cannot hot-plug the pod's interface");
            }
        }
        for r in found.routes {
            if !seen.routes.contains(&r) {
                seen.routes.push(r);
            }
        }
        if let Err(e) = agent.update_routes(&seen.routes).await {
            tracing::error!(sandbox = %sandbox_id, error = %e, "UpdateRoutes after hot-plug");
        }
        if !found.neighbors.is_empty() {
            if let Err(e) = agent.add_arp_neighbors(&found.neighbors).await {
                tracing::error!(sandbox = %sandbox_id, error = %e, "AddARPNeighbors after hot-plug");
            }
        }
        tracing::info!(sandbox = %sandbox_id, interfaces = ?seen.connected, model = self.how.model.as_str(), "pod network hot-plugged");
        true
    }
}

async fn plug(
    vm: &QemuVm,
    agent: &KataAgent,
    endpoint: &network::Endpoint,
    n: usize,
) -> Result<(), String> {
    let nic = NetDevice {
        id: format!("net{n}"),
        tap: endpoint.tap.clone(),
        mac: endpoint.interface.hw_addr.clone(),
        vhost: false,
        tap_device: endpoint.device.clone(),
    };
    vm.hotplug_device(&HotplugDevice::Net(nic))
        .await
        .map_err(|e| crate::error::chain(&e))?;
    // The guest sees the device a moment after QEMU added it: the agent finds it by MAC.
    let deadline = Instant::now() + GUEST_DEVICE_WAIT;
    loop {
        match agent.update_interface(&endpoint.interface).await {
            Ok(()) => return Ok(()),
            Err(e) if Instant::now() < deadline => {
                tracing::debug!(error = %e, "guest interface not there yet");
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            Err(e) => return Err(format!("UpdateInterface {}: {e}", endpoint.interface.name)),
        }
    }
}
