//! VM templating (`[factory] enable_template`, `template_path`; Kata's
//! virtcontainers/factory/template): `kata-runtime factory init` boots one VM, waits for its
//! agent, pauses it and saves its device state; every sandbox then restores a clone from it
//! instead of booting.
//!
//! The design follows what QEMU 7.2 allows (MACHINE.md): guest RAM is the file
//! `<template_path>/memory`, mapped shared by the template (so its RAM lands in the file) and
//! private copy-on-write by each clone (so clones share the template's kernel, initrd and agent
//! pages until they write to them). A private mapping is invisible to vhost-user backends, so a
//! template and its clones have no vhost-user device: the agent is reached through a
//! virtio-serial port (`agent.channel.0`, a Unix socket of the clone's QEMU), the share is 9p
//! (QEMU serves it; `shared_fs = "virtio-9p"` is required), and NICs are hot-plugged after the
//! restore. Each clone has its own agent socket in its own VM directory, a new VM generation id
//! (the guest reseeds its RNG), and is reseeded and given the host's time by the shim.
//!
//! Files in `template_path`: `memory` (guest RAM), `state` (device state), `template.json`
//! ([`Template`]: the spec and the configuration it was made from).

use std::path::{Path, PathBuf};
use std::time::Duration;

use kata_agent_client::{AgentAddress, AgentClient, DialOptions};
use kata_config::Config;
use kata_factory::GrpcVmConfig;
use kata_hypervisor::{AgentChannel, MemoryKind, SharedFs, VmSpec};
use kata_qemu::QemuVm;
use serde::{Deserialize, Serialize};

use super::base_vm::grpc_config;
use crate::host::layout::SHARED_FS_TAG;
use crate::vm::LaunchPlan;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Guest RAM of the template.
pub const MEMORY_FILE: &str = "memory";
/// Device state of the template.
pub const STATE_FILE: &str = "state";
/// [`Template`] as JSON.
pub const TEMPLATE_FILE: &str = "template.json";
/// The agent's socket in a template's or a clone's VM directory.
const AGENT_SOCKET: &str = "agent.sock";
/// Time given to the template's agent between opening its serial port and waiting for a host.
const DETACH_SETTLE: Duration = Duration::from_millis(500);
/// Attempts at a clone's first agent session, and how long each waits for the health check.
const CLONE_ATTEMPTS: u32 = 3;
const CLONE_CHECK: Duration = Duration::from_secs(3);

/// What a template was made from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Template {
    /// The template VM's spec; clones differ only in host paths.
    pub spec: VmSpec,
    /// The `[hypervisor]` section it was made with, as JSON (a clone needs the same).
    pub hypervisor: Vec<u8>,
    /// The `[agent]` section, as JSON.
    pub agent: Vec<u8>,
    /// Seconds since the epoch when it was saved.
    pub created: u64,
    /// The kernel and initrd it booted, as they were (a rebuilt image makes it stale).
    #[serde(default)]
    pub assets: Vec<Asset>,
}

/// A file a template depends on, by path, size and modification time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Asset {
    pub path: PathBuf,
    pub size: u64,
    pub mtime_ns: i128,
}

impl Asset {
    fn of(path: &Path) -> Option<Asset> {
        let meta = std::fs::metadata(path).ok()?;
        let mtime = meta.modified().ok()?;
        let mtime_ns = match mtime.duration_since(std::time::UNIX_EPOCH) {
            Ok(d) => d.as_nanos() as i128,
            Err(e) => -(e.duration().as_nanos() as i128),
        };
        Some(Asset {
            path: path.to_owned(),
            size: meta.len(),
            mtime_ns,
        })
    }
}

/// The kernel and initrd of `config`, as they are now.
fn assets_of(config: &Config) -> Vec<Asset> {
    let h = &config.hypervisor;
    std::iter::once(h.kernel.as_path())
        .chain(h.initrd.as_deref())
        .filter_map(Asset::of)
        .collect()
}

impl Template {
    fn config(&self) -> GrpcVmConfig {
        GrpcVmConfig {
            data: self.hypervisor.clone(),
            agent_config: self.agent.clone(),
        }
    }
}

/// Reads the template in `dir`. Errors: missing or unreadable files (named).
pub fn load(dir: &Path) -> Result<Template, BoxError> {
    for f in [MEMORY_FILE, STATE_FILE, TEMPLATE_FILE] {
        let p = dir.join(f);
        if !p.is_file() {
            return Err(format!(
                "no VM template at {} ({} is missing)",
                dir.display(),
                p.display()
            )
            .into());
        }
    }
    let path = dir.join(TEMPLATE_FILE);
    let text = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(serde_json::from_slice(&text).map_err(|e| format!("{}: {e}", path.display()))?)
}

/// Why `config` cannot make or use a template (checked by the configuration's validation too).
fn unsuitable(config: &Config) -> Option<String> {
    if config.hypervisor.shared_fs != kata_config::SharedFs::Virtio9p {
        return Some("VM templating needs shared_fs = \"virtio-9p\"".into());
    }
    if config.hypervisor.initrd.is_none() {
        return Some("VM templating needs an initrd".into());
    }
    if config.hypervisor.rootless {
        return Some("VM templating does not run rootless VMs".into());
    }
    None
}

/// The template's spec, or a clone's when `clone_of` is given: the sandbox's directories, the
/// agent on a serial port, 9p, RAM in the template's file (shared by the template, private in
/// a clone), a VM generation id.
fn spec_for(config: &Config, plan: &LaunchPlan, template_dir: &Path, clone: bool) -> VmSpec {
    let vsock = kata_vm_daemons::VsockConfig::in_dir(&plan.vm_dir, super::launcher::GUEST_CID);
    let mut spec = super::vm_spec::vm_spec(config, plan, &vsock, &plan.vm_dir.join("unused.sock"));
    spec.agent_channel = Some(AgentChannel::Serial {
        socket: plan.vm_dir.join(AGENT_SOCKET),
    });
    spec.shared_fs = Some(SharedFs::NineP {
        dir: plan.shared_dir.clone(),
        tag: SHARED_FS_TAG.into(),
        msize: config.hypervisor.msize_9p,
    });
    spec.memory_backend.kind = MemoryKind::MappedFile {
        path: template_dir.join(MEMORY_FILE),
        shared: !clone,
    };
    spec.memory_backend.prealloc = false;
    // A clone's RAM is private: nothing in it may ask for shared memory.
    spec.memory.force_shared = !clone;
    spec.vm_generation_id = true;
    spec.wait_for_restore = clone;
    spec
}

/// `kata-runtime factory init`: boots the template VM in `template_path`, saves it once its
/// agent answers, and stops it. A template already there is replaced.
pub async fn create(config: &Config) -> Result<Template, BoxError> {
    if let Some(why) = unsuitable(config) {
        return Err(why.into());
    }
    let dir = config.factory.template_path.clone();
    let _ = std::fs::remove_dir_all(&dir);
    // Owner-only: the memory file is a guest's RAM.
    {
        use std::os::unix::fs::DirBuilderExt;
        if let Some(parent) = dir.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("making {}: {e}", parent.display()))?;
        }
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .map_err(|e| format!("making {}: {e}", dir.display()))?;
    }
    std::fs::create_dir_all(dir.join("share"))
        .map_err(|e| format!("making {}: {e}", dir.display()))?;
    let made = make(config, &dir).await;
    // Only the three template files stay.
    for extra in ["share", "console.log", AGENT_SOCKET, kata_qemu::QMP_SOCKET] {
        let p = dir.join(extra);
        let _ = std::fs::remove_dir(&p).or_else(|_| std::fs::remove_file(&p));
    }
    match made {
        Ok(t) => Ok(t),
        Err(e) => {
            let _ = std::fs::remove_dir_all(&dir);
            Err(e)
        }
    }
}

async fn make(config: &Config, dir: &Path) -> Result<Template, BoxError> {
    let plan = LaunchPlan {
        sandbox_id: "template".into(),
        shared_dir: dir.join("share"),
        vm_dir: dir.to_owned(),
        netns: None,
        new_netns: false,
        cgroups_path: None,
    };
    let spec = spec_for(config, &plan, dir, false);
    let vm = QemuVm::start(spec.clone()).await?;
    let mut events = vm.qmp().events();
    let saved = async {
        // The agent opens its serial port once it serves on it: QEMU reports that
        // (`VSERPORT_CHANGE`, open). No host session is opened before the save, so a clone's
        // first session is the guest's first too.
        let timeout = Duration::from_secs(u64::from(config.agent.dial_timeout));
        let opened = async {
            loop {
                match events.recv().await {
                    Ok(e)
                        if e.name == "VSERPORT_CHANGE"
                            && e.data.get("open").and_then(|o| o.as_bool()) == Some(true) =>
                    {
                        return Ok(())
                    }
                    Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(e) => return Err(format!("QMP events of the template VM: {e}")),
                }
            }
        };
        tokio::time::timeout(timeout, opened).await.map_err(|_| {
            format!(
                "the template VM's agent did not open its serial port within {} s (dial_timeout)",
                timeout.as_secs()
            )
        })??;
        // The agent parks waiting for a host right after it opens the port.
        tokio::time::sleep(DETACH_SETTLE).await;
        vm.save_template(&dir.join(STATE_FILE)).await?;
        Ok::<_, BoxError>(())
    }
    .await;
    let _ = vm.stop().await;
    saved?;
    let grpc = grpc_config(config)?;
    let template = Template {
        spec,
        hypervisor: grpc.data,
        agent: grpc.agent_config,
        created: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
        assets: assets_of(config),
    };
    // QEMU made the memory file with its umask: a guest's RAM is the owner's only.
    {
        use std::os::unix::fs::PermissionsExt;
        let memory = dir.join(MEMORY_FILE);
        std::fs::set_permissions(&memory, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| format!("{}: {e}", memory.display()))?;
    }
    let path = dir.join(TEMPLATE_FILE);
    std::fs::write(&path, serde_json::to_vec_pretty(&template)?)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(template)
}

/// A clone's first agent session. The guest may still hold the template's host session (its
/// serial port learns of a host leaving from a message the guest handles when it runs, and the
/// template was paused soon after): a health check that gets no answer is retried on a new
/// host session (closing ours ends the stale one in the guest), [`CLONE_ATTEMPTS`] times.
async fn connect_clone(config: &Config, socket: &Path) -> Result<AgentClient, BoxError> {
    let address = AgentAddress::Serial {
        path: socket.to_owned(),
    };
    let timeout = Duration::from_secs(u64::from(config.agent.dial_timeout));
    let mut attempt = 1;
    loop {
        let client =
            AgentClient::connect_with(&address, &DialOptions::with_timeout(timeout)).await?;
        match client.check(CLONE_CHECK).await {
            Ok(_) => return Ok(client),
            Err(e) if attempt < CLONE_ATTEMPTS => {
                tracing::warn!(socket = %socket.display(), attempt, error = %e, "a clone's agent did not answer its first session: reconnecting");
                drop(client);
                tokio::time::sleep(Duration::from_millis(100)).await;
                attempt += 1;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// `kata-runtime factory destroy`: removes the template. Returns whether there was one.
pub fn destroy(config: &Config) -> Result<bool, BoxError> {
    let dir = &config.factory.template_path;
    match std::fs::remove_dir_all(dir) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(format!("removing {}: {e}", dir.display()).into()),
    }
}

/// A clone of the template, restored and answering, not yet the sandbox's in any other way.
pub(super) struct Restored {
    pub vm: QemuVm,
    pub client: AgentClient,
    pub address: AgentAddress,
}

/// The template this sandbox can clone. Errors (nothing made): no template, or one made from
/// another configuration.
pub fn usable(config: &Config) -> Result<(PathBuf, Template), BoxError> {
    if let Some(why) = unsuitable(config) {
        return Err(why.into());
    }
    let dir = config.factory.template_path.clone();
    let template = load(&dir)?;
    let ours = grpc_config(config)?;
    if template.config() != ours {
        return Err(format!(
            "the VM template at {} was made from another configuration ({}; annotations \
             count): run `kata-runtime factory init` again",
            dir.display(),
            super::base_vm::config_difference(&template.config(), &ours)
        )
        .into());
    }
    if template.assets != assets_of(config) {
        return Err(format!(
            "the VM template at {} was made from another kernel or initrd (rebuilt since): \
             run `kata-runtime factory init` again",
            dir.display()
        )
        .into());
    }
    Ok((dir, template))
}

/// Restores a clone of the template in `dir` for `plan` (in `netns` when given, with `nics`
/// hot-plugged once it runs): its agent socket in the sandbox's VM directory, 9p on the
/// sandbox's share, RAM the template's file mapped privately. The clone gets the host's time
/// and fresh entropy before it is returned; on error its QEMU is stopped.
pub(super) async fn restore(
    config: &Config,
    plan: &LaunchPlan,
    dir: &Path,
    netns: Option<PathBuf>,
    nics: Vec<kata_hypervisor::NetDevice>,
) -> Result<Restored, BoxError> {
    let mut spec = spec_for(config, plan, dir, true);
    spec.netns = netns;
    let vm = QemuVm::start(spec).await?;
    if let Err(e) = vm.restore(&dir.join(STATE_FILE)).await {
        let _ = vm.stop().await;
        return Err(e.into());
    }
    for nic in nics {
        let id = nic.id.clone();
        if let Err(e) = vm
            .hotplug_device(&kata_hypervisor::HotplugDevice::Net(nic))
            .await
        {
            let _ = vm.stop().await;
            return Err(format!("hot-plugging {id} into the clone: {e}").into());
        }
    }
    let socket = plan.vm_dir.join(AGENT_SOCKET);
    let client = match connect_clone(config, &socket).await {
        Ok(c) => c,
        Err(e) => {
            let _ = vm.stop().await;
            return Err(e);
        }
    };
    if let Err(e) = super::assign::sync_time_and_reseed(&client).await {
        let _ = vm.stop().await;
        return Err(e);
    }
    Ok(Restored {
        vm,
        client,
        address: AgentAddress::Serial { path: socket },
    })
}
