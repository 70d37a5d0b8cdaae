//! Booting a sandbox VM for a test: vhost-device-vsock and virtiofsd in a temporary directory,
//! QEMU booting the guest image (agent as `/init`), and a ttRPC connection to the agent.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use kata_agent_client::{AgentAddress, AgentClient, DialOptions, ReadyListener};
use kata_hypervisor::{Accelerator, AgentChannel, SharedFs, VmExit, VmSpec};
use kata_protocols::agent_ttrpc::AgentServiceClient;
use kata_qemu::QemuVm;
use kata_vm_daemons::{VirtioFsConfig, VirtioFsDaemon, VsockConfig, VsockDaemon};

use crate::error::{HarnessError, Result};
use crate::image::GuestImage;
use crate::rpc;
use crate::serial::SerialGuard;
use crate::spec::{create_sandbox_request, SHARED_FS_TAG};
use crate::teardown::Teardown;

/// QEMU binary (Debian's `qemu-system-x86`).
pub const QEMU_BINARY: &str = "/usr/bin/qemu-system-x86_64";
/// The vsock port the agent listens on.
pub const AGENT_PORT: u32 = 1024;
/// Guest context id (each VM has its own vhost-device-vsock, so they never clash).
pub const GUEST_CID: u32 = 3;

/// Kernel parameters that boot the cloud kernel fastest (tools/osbuilder/README.md).
const KERNEL_PARAMS: &str = "console=ttyS0 quiet panic=1 nr_cpus=1 tsc=reliable no_timer_check \
     rcupdate.rcu_expedited=1 i8042.direct=1 i8042.dumbkbd=1 i8042.nopnp=1 i8042.noaux=1 \
     noreplace-smp reboot=k cryptomgr.notests net.ifnames=0 pci=lastbus=0";

/// How to boot a test VM.
#[derive(Debug, Clone)]
pub struct VmConfig {
    /// Sandbox id, used in names and CreateSandbox.
    pub id: String,
    pub memory_mib: u32,
    /// From QEMU start until the agent answers.
    pub agent_timeout: Duration,
    /// `agent.log=` level; `$KATA_TEST_AGENT_LOG` overrides it.
    pub agent_log: String,
    /// Appended to the kernel command line.
    pub extra_kernel_params: String,
    /// Longest pause between agent dial attempts (`None`: the agent client's default).
    pub max_dial_backoff: Option<Duration>,
}

impl VmConfig {
    pub fn new(id: impl Into<String>) -> Self {
        VmConfig {
            id: id.into(),
            memory_mib: 512,
            agent_timeout: Duration::from_secs(60),
            agent_log: std::env::var("KATA_TEST_AGENT_LOG").unwrap_or_else(|_| "info".into()),
            extra_kernel_params: String::new(),
            max_dial_backoff: None,
        }
    }
}

/// A running sandbox VM. Dropping it (also while unwinding from a panic) kills QEMU and both
/// daemons and removes the temporary directory.
pub struct TestVm {
    client: AgentClient,
    id: String,
    shared_dir: PathBuf,
    console_log: PathBuf,
    boot_time: Duration,
    // Drop order matters: the handles first, then the by-pid kill and directory removal, then the
    // machine-wide lock.
    qemu: QemuVm,
    vsock: VsockDaemon,
    virtiofs: VirtioFsDaemon,
    teardown: Teardown,
    _serial: SerialGuard,
}

impl TestVm {
    /// Boots a VM with the default configuration and id `id`.
    pub async fn boot(id: &str) -> Result<Self> {
        Self::boot_with(VmConfig::new(id)).await
    }

    /// Boots a VM and connects to its agent; on error everything started is torn down.
    pub async fn boot_with(config: VmConfig) -> Result<Self> {
        let image = GuestImage::locate()?;
        require_file(
            "qemu",
            Path::new(QEMU_BINARY),
            "apt-get install qemu-system-x86",
        )?;
        let serial = SerialGuard::acquire().await?;
        let dir = tempfile::Builder::new()
            .prefix("kata-vm-test-")
            .tempdir()
            .map_err(|e| HarnessError::io("creating temp dir in", std::env::temp_dir(), e))?;
        let mut teardown = Teardown::new(dir);
        let root = teardown.path().to_path_buf();
        let shared_dir = root.join("shared");
        std::fs::create_dir(&shared_dir)
            .map_err(|e| HarnessError::io("creating", &shared_dir, e))?;

        let vsock_config = VsockConfig::in_dir(&root, GUEST_CID);
        let vsock = VsockDaemon::start(vsock_config.clone())
            .await
            .map_err(|source| HarnessError::Daemon {
                daemon: "vhost-device-vsock",
                source: Box::new(source),
            })?;
        teardown.track("vhost-device-vsock", vsock.pid());
        let fs_socket = root.join("virtiofsd.sock");
        let virtiofs = VirtioFsDaemon::start(VirtioFsConfig::new(&fs_socket, &shared_dir))
            .await
            .map_err(|source| HarnessError::Daemon {
                daemon: "virtiofsd",
                source: Box::new(source),
            })?;
        teardown.track("virtiofsd", virtiofs.pid());

        let console_log = root.join("console.log");
        let spec = vm_spec(
            &config,
            &image,
            &root,
            &vsock_config,
            fs_socket,
            &console_log,
        );
        // Bound before QEMU starts; the agent connects to it once it listens, and only then is
        // the device's socket dialled (kata_agent_client::ReadyListener says why).
        let ready = ReadyListener::bind(&vsock_config.uds_path).map_err(|source| {
            HarnessError::AgentUnreachable {
                id: config.id.clone(),
                console: String::new(),
                source: Box::new(source),
            }
        })?;
        // vhost-device-vsock runs unprivileged: open the root-bound listener to it.
        vsock
            .allow_connect(ready.path())
            .map_err(|source| HarnessError::Daemon {
                daemon: "vhost-device-vsock",
                source: Box::new(source),
            })?;
        let started = Instant::now();
        let qemu = QemuVm::start(spec)
            .await
            .map_err(|source| HarnessError::Qemu {
                id: config.id.clone(),
                source: Box::new(source),
            })?;
        teardown.track("qemu", qemu.pid());

        let addr = AgentAddress::HybridVsock {
            uds_path: vsock_config.uds_path.clone(),
            port: AGENT_PORT,
        };
        let mut dial = DialOptions::with_timeout(config.agent_timeout);
        if let Some(backoff) = config.max_dial_backoff {
            dial.initial_backoff = dial.initial_backoff.min(backoff);
            dial.max_backoff = backoff;
        }
        let connected = tokio::select! {
            c = AgentClient::connect_when_ready(&addr, ready, &dial) => {
                c.map_err(|source| HarnessError::AgentUnreachable {
                    id: config.id.clone(),
                    console: read_console(&console_log),
                    source: Box::new(source),
                })
            }
            exit = qemu.exited() => Err(HarnessError::QemuExited {
                id: config.id.clone(),
                exit: format!("{exit:?}"),
                stderr: qemu.stderr(),
                console: read_console(&console_log),
            }),
        };
        let client = connected?;
        let boot_time = started.elapsed();
        Ok(TestVm {
            client,
            id: config.id,
            shared_dir,
            console_log,
            boot_time,
            qemu,
            vsock,
            virtiofs,
            teardown,
            _serial: serial,
        })
    }

    /// Boots a VM and sends CreateSandbox with the shared directory storage.
    pub async fn boot_sandbox(id: &str) -> Result<Self> {
        let vm = Self::boot(id).await?;
        vm.create_sandbox().await?;
        Ok(vm)
    }

    /// [`TestVm::boot_sandbox`], panicking with the full error chain (and the guest console) on
    /// failure.
    pub async fn must_boot_sandbox(id: &str) -> Self {
        let vm = match Self::boot(id).await {
            Ok(vm) => vm,
            Err(e) => panic!("booting test vm {id}: {}", crate::error::chain(&e)),
        };
        if let Err(e) = vm.create_sandbox().await {
            panic!(
                "test vm {id}: {}\nconsole:\n{}",
                crate::error::chain(&e),
                vm.console()
            );
        }
        vm
    }

    /// CreateSandbox: mounts the `kataShared` share at the agent's container directory.
    pub async fn create_sandbox(&self) -> Result<()> {
        self.agent()
            .create_sandbox(rpc::ctx(), &create_sandbox_request(&self.id))
            .await
            .map(|_| ())
            .map_err(|source| HarnessError::Rpc {
                rpc: "CreateSandbox",
                source: Box::new(source),
            })
    }

    /// The `grpc.AgentService` client.
    pub fn agent(&self) -> &AgentServiceClient {
        &self.client.agent
    }

    /// The whole agent client (health, raw ttRPC).
    pub fn client(&self) -> &AgentClient {
        &self.client
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// The host directory the guest sees at `/run/kata-containers/shared/containers`.
    pub fn shared_dir(&self) -> &Path {
        &self.shared_dir
    }

    /// The temporary directory holding sockets, console log and the shared directory.
    pub fn dir(&self) -> &Path {
        self.teardown.path()
    }

    /// From QEMU start until the agent accepted the ttRPC connection.
    pub fn boot_time(&self) -> Duration {
        self.boot_time
    }

    /// The guest's serial console so far (kernel and agent logs), for failure messages.
    pub fn console(&self) -> String {
        read_console(&self.console_log)
    }

    pub fn qemu(&self) -> &QemuVm {
        &self.qemu
    }

    /// Host pids of QEMU, vhost-device-vsock and virtiofsd (while they run).
    pub fn pids(&self) -> [Option<u32>; 3] {
        [self.qemu.pid(), self.vsock.pid(), self.virtiofs.pid()]
    }

    /// Waits up to `timeout` for QEMU to exit by itself.
    pub async fn wait_exit(&self, timeout: Duration) -> Option<VmExit> {
        tokio::time::timeout(timeout, self.qemu.exited()).await.ok()
    }

    /// Orderly shutdown: stops QEMU and both daemons, kills leftovers, removes the directory.
    pub async fn shutdown(self) {
        let TestVm {
            qemu,
            vsock,
            virtiofs,
            teardown,
            client,
            ..
        } = self;
        drop(client);
        if let Err(e) = qemu.stop().await {
            eprintln!("stopping qemu: {e}");
        }
        virtiofs.stop().await;
        vsock.stop().await;
        drop(teardown);
    }
}

impl std::fmt::Debug for TestVm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestVm")
            .field("id", &self.id)
            .field("dir", &self.teardown.path())
            .finish_non_exhaustive()
    }
}

fn vm_spec(
    config: &VmConfig,
    image: &GuestImage,
    root: &Path,
    vsock: &VsockConfig,
    fs_socket: PathBuf,
    console_log: &Path,
) -> VmSpec {
    let accelerator = match kata_hostinfo::Host::system().virt_support().accelerator {
        kata_hostinfo::Accelerator::Kvm => Accelerator::Kvm,
        kata_hostinfo::Accelerator::Tcg => Accelerator::tcg(),
    };
    let mut spec = VmSpec::minimal(
        config.id.clone(),
        QEMU_BINARY,
        &image.kernel,
        root.join("run"),
        accelerator,
    );
    spec.machine_type = "pc".into();
    spec.memory.size_mib = config.memory_mib;
    spec.memory.max_mib = config.memory_mib;
    spec.boot.initrd = Some(image.initrd.clone());
    spec.boot.kernel_params = format!(
        "{KERNEL_PARAMS} agent.log={} {}",
        config.agent_log, config.extra_kernel_params
    )
    .trim()
    .to_string();
    spec.console_log = Some(console_log.to_path_buf());
    spec.agent_channel = Some(AgentChannel::HybridVsock {
        vhost_user_socket: vsock.vhost_user_socket.clone(),
        uds_path: vsock.uds_path.clone(),
        guest_cid: vsock.guest_cid,
    });
    spec.shared_fs = Some(SharedFs::VirtioFs {
        socket: fs_socket,
        tag: SHARED_FS_TAG.into(),
    });
    spec
}

fn require_file(what: &'static str, path: &Path, hint: &'static str) -> Result<()> {
    if path.is_file() {
        Ok(())
    } else {
        Err(HarnessError::MissingTool {
            what,
            path: path.to_path_buf(),
            hint,
        })
    }
}

fn read_console(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    // The tail is what matters; keep messages readable.
    let keep = 6000;
    match text.char_indices().rev().nth(keep) {
        Some((i, _)) => format!("...{}", &text[i..]),
        None => text,
    }
}
