//! The sandbox: everything the agent holds for the one pod of this VM.
//!
//! Small pieces with their own locks instead of one big struct behind one mutex: the container
//! table, the storage reference counts, the sandbox identity. All locks are std mutexes held only for
//! map look-ups, never across an `.await`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::container::{self, lock, Container, OomEvents};
use crate::error::{AgentError, Result};
use crate::paths;
use crate::reaper::Reaper;
use crate::storage::{Mounter, StorageManager, StorageSpec};

/// Where the agent keeps its files (the real paths in the guest; temporary ones in tests).
#[derive(Debug, Clone)]
pub struct Layout {
    /// Stands for [`paths::KATA_RUN`].
    pub run_root: PathBuf,
    /// libcontainer state.
    pub state_root: PathBuf,
    /// Bundles written by the agent.
    pub bundles: PathBuf,
    /// cgroup v2 mount.
    pub cgroup_root: PathBuf,
    pub sysfs: PathBuf,
}

impl Layout {
    pub fn guest() -> Self {
        Layout {
            run_root: PathBuf::from(paths::KATA_RUN),
            state_root: PathBuf::from(paths::CONTAINER_STATE),
            bundles: PathBuf::from(paths::BUNDLES),
            cgroup_root: PathBuf::from(crate::init::CGROUP_ROOT),
            sysfs: PathBuf::from("/sys"),
        }
    }

    /// Everything below `root` except cgroups and sysfs: for running the agent outside a VM
    /// (integration tests), so that it never touches the host's /run.
    pub fn under(root: &Path) -> Self {
        Layout {
            run_root: root.join("run-kata-containers"),
            state_root: root.join("state"),
            bundles: root.join("bundles"),
            ..Layout::guest()
        }
    }

    /// The on-disk path of a guest path below [`paths::KATA_RUN`].
    pub fn run_path(&self, guest: &Path) -> Result<PathBuf> {
        crate::storage::confine_mount_point(&self.run_root, guest)
    }
}

/// Identity given by CreateSandbox.
#[derive(Debug, Clone, Default)]
pub struct SandboxInfo {
    pub id: String,
    pub created: bool,
}

pub struct Sandbox {
    pub layout: Layout,
    pub reaper: Reaper,
    pub storages: StorageManager,
    pub oom: OomEvents,
    /// Create containers with MS_MOVE + chroot instead of pivot_root (agent root is the initramfs).
    pub no_pivot: bool,
    containers: Mutex<HashMap<String, Arc<Container>>>,
    info: Mutex<SandboxInfo>,
    /// Init pid of the first container (the pod's sandbox container): later containers join its
    /// IPC and UTS namespaces, and its PID namespace when the pod shares one.
    ns_holder: Mutex<Option<i32>>,
    /// Hooks of the guest image (`guest_hook_path`), appended to every container's.
    guest_hooks: Mutex<Option<oci_spec::runtime::Hooks>>,
}

impl Sandbox {
    pub fn new(
        layout: Layout,
        reaper: Reaper,
        mounter: Arc<dyn Mounter>,
        no_pivot: bool,
        device_timeout: Duration,
    ) -> Self {
        let storages = StorageManager::new(
            mounter,
            layout.run_root.clone(),
            layout.sysfs.clone(),
            device_timeout,
        );
        Sandbox {
            layout,
            reaper,
            storages,
            oom: OomEvents::new(),
            no_pivot,
            containers: Mutex::new(HashMap::new()),
            info: Mutex::new(SandboxInfo::default()),
            ns_holder: Mutex::new(None),
            guest_hooks: Mutex::new(None),
        }
    }

    pub fn container(&self, id: &str) -> Result<Arc<Container>> {
        lock(&self.containers)
            .get(id)
            .cloned()
            .ok_or_else(|| AgentError::NotFound(format!("container {id}")))
    }

    /// The pid whose namespaces new containers join, if a live one exists.
    /// Finds the guest hooks under `dir` (CreateSandbox's `guest_hook_path`) for every container
    /// created from now on. Errors: `dir` is not a directory or cannot be read.
    pub fn set_guest_hooks(&self, dir: &std::path::Path) -> Result<()> {
        let hooks = crate::container::guest_hooks::find(dir)?;
        tracing::info!(path = %dir.display(), ?hooks, "guest hooks");
        *lock(&self.guest_hooks) = Some(hooks);
        Ok(())
    }

    /// The guest hooks, if the sandbox has any.
    pub fn guest_hooks(&self) -> Option<oci_spec::runtime::Hooks> {
        lock(&self.guest_hooks).clone()
    }

    pub fn ns_holder(&self) -> Option<i32> {
        let pid = (*lock(&self.ns_holder))?;
        std::path::Path::new(&format!("/proc/{pid}/ns/ipc"))
            .exists()
            .then_some(pid)
    }

    /// Records the first container's init as the namespace holder.
    pub fn offer_ns_holder(&self, pid: i32) {
        let mut holder = lock(&self.ns_holder);
        if holder.is_none() {
            *holder = Some(pid);
        }
    }

    /// Forgets the namespace holder if it is `pid` (its container is being removed).
    pub fn drop_ns_holder(&self, pid: i32) {
        let mut holder = lock(&self.ns_holder);
        if *holder == Some(pid) {
            *holder = None;
        }
    }

    pub fn has_container(&self, id: &str) -> bool {
        lock(&self.containers).contains_key(id)
    }

    pub fn insert_container(&self, c: Arc<Container>) -> Result<()> {
        let mut map = lock(&self.containers);
        if map.contains_key(&c.id) {
            return Err(AgentError::AlreadyExists(format!("container {}", c.id)));
        }
        map.insert(c.id.clone(), c);
        Ok(())
    }

    pub fn take_container(&self, id: &str) -> Option<Arc<Container>> {
        lock(&self.containers).remove(id)
    }

    pub fn container_ids(&self) -> Vec<String> {
        lock(&self.containers).keys().cloned().collect()
    }

    /// CreateSandbox: records the identity, sets the hostname, mounts the sandbox storages.
    pub fn create(&self, id: String, hostname: String, storages: &[StorageSpec]) -> Result<()> {
        if lock(&self.info).created {
            return Err(AgentError::AlreadyExists(format!(
                "sandbox {}",
                lock(&self.info).id
            )));
        }
        if !hostname.is_empty() {
            nix::unistd::sethostname(&hostname)
                .map_err(|e| AgentError::errno("setting hostname", hostname.clone(), e))?;
        }
        let mut mounted = Vec::new();
        for s in storages {
            match self.storages.add(s) {
                Ok(p) => mounted.push(p),
                Err(e) => {
                    for p in mounted.iter().rev() {
                        let _ = self.storages.release(p);
                    }
                    return Err(e);
                }
            }
        }
        tracing::debug!(sandbox = %id, hostname = %hostname, storages = mounted.len(), "sandbox created");
        *lock(&self.info) = SandboxInfo { id, created: true };
        Ok(())
    }

    /// DestroySandbox: kills and removes every container, then unmounts every storage.
    pub fn destroy(&self) -> Vec<AgentError> {
        let mut errors = container::remove_all(self);
        errors.extend(self.storages.release_all());
        *lock(&self.info) = SandboxInfo::default();
        *lock(&self.ns_holder) = None;
        errors
    }
}
