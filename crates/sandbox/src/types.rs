//! Domain types the sandbox takes and gives: requests, process states, events.

use std::path::PathBuf;
use std::time::SystemTime;

use oci_spec::runtime::{LinuxResources, Process};

/// Where a process's standard streams go on the host: containerd's FIFOs (the paths), or the
/// [`LogSink`] a log URI named; `None` = not wired (stdin: the process reads end of file at once,
/// as with runc).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProcessIo {
    /// The names containerd gave (FIFO paths, or the log URI itself), reported back in
    /// `State` and events.
    pub stdin: Option<PathBuf>,
    pub stdout: Option<PathBuf>,
    pub stderr: Option<PathBuf>,
    pub terminal: bool,
    /// Set when stdout and stderr go to a log URI (`file://`, `binary://`) rather than FIFOs.
    pub log: Option<LogSink>,
}

/// Where output named by a containerd log URI goes (containerd's `runtime/v2/logging`
/// contract, as its runc shim keeps it).
#[derive(Debug, Clone)]
pub enum LogSink {
    /// `file:///path`: both streams appended to one file, created if missing.
    File(PathBuf),
    /// `binary:///path?args`: the write ends of the pipes whose read ends the logging binary
    /// holds as fd 3 (stdout) and fd 4 (stderr); closed when the process is deleted.
    Pipes {
        stdout: std::sync::Arc<std::os::fd::OwnedFd>,
        stderr: std::sync::Arc<std::os::fd::OwnedFd>,
    },
}

impl PartialEq for LogSink {
    fn eq(&self, other: &Self) -> bool {
        use std::os::fd::AsRawFd;
        match (self, other) {
            (LogSink::File(a), LogSink::File(b)) => a == b,
            (
                LogSink::Pipes {
                    stdout: a,
                    stderr: b,
                },
                LogSink::Pipes {
                    stdout: c,
                    stderr: d,
                },
            ) => a.as_raw_fd() == c.as_raw_fd() && b.as_raw_fd() == d.as_raw_fd(),
            _ => false,
        }
    }
}

impl Eq for LogSink {}

/// One mount of the container root file system as containerd hands it over (usually overlay).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootfsMount {
    pub fs_type: String,
    pub source: String,
    pub options: Vec<String>,
}

/// Create a container from an OCI bundle.
#[derive(Debug, Clone)]
pub struct CreateContainer {
    pub id: String,
    pub bundle: PathBuf,
    pub rootfs: Vec<RootfsMount>,
    pub io: ProcessIo,
}

/// Add a process to a running container.
#[derive(Debug, Clone)]
pub struct ExecProcess {
    pub container_id: String,
    pub exec_id: String,
    pub process: Process,
    pub io: ProcessIo,
}

/// Names a process: a container's init (`exec_id == None`) or one of its execs.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ProcessRef {
    pub container_id: String,
    pub exec_id: Option<String>,
}

impl ProcessRef {
    pub fn new(container_id: impl Into<String>, exec_id: Option<String>) -> Self {
        Self {
            container_id: container_id.into(),
            exec_id: exec_id.filter(|e| !e.is_empty()),
        }
    }

    /// The id events and states carry: the exec id, else the container id.
    pub fn id(&self) -> &str {
        self.exec_id.as_deref().unwrap_or(&self.container_id)
    }
}

/// Life cycle state of a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcessState {
    Created,
    Running,
    Paused,
    Stopped,
}

impl ProcessState {
    pub fn as_str(self) -> &'static str {
        match self {
            ProcessState::Created => "created",
            ProcessState::Running => "running",
            ProcessState::Paused => "paused",
            ProcessState::Stopped => "stopped",
        }
    }
}

/// How a process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExitStatus {
    pub code: u32,
    pub exited_at: SystemTime,
}

impl ExitStatus {
    pub fn now(code: u32) -> Self {
        Self {
            code,
            exited_at: SystemTime::now(),
        }
    }
}

/// Exit code given to processes whose VM died under them.
pub const VM_DIED_EXIT_CODE: u32 = 255;

/// What `State` reports about a process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessInfo {
    pub id: String,
    pub bundle: PathBuf,
    /// Always the hypervisor's pid: the process itself lives in the guest.
    pub pid: u32,
    pub state: ProcessState,
    pub io: ProcessIo,
    pub exit: Option<ExitStatus>,
}

/// Resource changes of `Update`.
#[derive(Debug, Clone)]
pub struct UpdateResources {
    pub container_id: String,
    pub resources: LinuxResources,
}

/// The statistics of one container as the agent reads them in the guest (cgroup v2 files) plus
/// the guest's network counters: what `Stats` turns into containerd's cgroups metrics. "No limit"
/// is `u64::MAX` in every limit field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerStats {
    pub cpu: CpuStats,
    pub memory: MemoryStats,
    pub pids: PidsStats,
    /// `io.stat`, one entry per block device of the guest (none when the container's I/O goes
    /// through virtio-fs alone, which is no block device).
    pub io: Vec<IoStats>,
    /// One entry per huge page size the guest kernel knows.
    pub hugetlb: Vec<HugetlbStats>,
    /// The guest's network interfaces (shared by the pod's containers), `lo` included.
    pub network: Vec<NetworkStats>,
}

/// `cpu.stat`, times in nanoseconds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CpuStats {
    /// `usage_usec`.
    pub usage_ns: u64,
    /// `user_usec`.
    pub user_ns: u64,
    /// `system_usec`.
    pub system_ns: u64,
    /// `nr_periods`: CFS enforcement periods elapsed (only with a CPU quota).
    pub nr_periods: u64,
    /// `nr_throttled`: periods in which the group was throttled.
    pub nr_throttled: u64,
    /// `throttled_usec`.
    pub throttled_ns: u64,
}

/// The memory controller, in bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryStats {
    /// `memory.current`.
    pub usage: u64,
    /// `memory.peak` (0 when the guest kernel has none).
    pub max_usage: u64,
    /// `memory.max`.
    pub limit: u64,
    /// `memory.swap.current` (swap alone).
    pub swap_usage: u64,
    /// `memory.swap.peak` (0 when the guest kernel has none).
    pub swap_max_usage: u64,
    /// `memory.swap.max`.
    pub swap_limit: u64,
    /// Every key of `memory.stat` (`anon`, `file`, `inactive_file`, `pgfault`...), in the kernel's
    /// names and units (bytes; counts for the `pg*`, `workingset_*` and `thp_*` events).
    pub stat: std::collections::BTreeMap<String, u64>,
    /// `memory.events`.
    pub events: MemoryEvents,
}

impl MemoryStats {
    /// The `memory.stat` value of `key`, 0 when the guest kernel does not report it.
    pub fn stat(&self, key: &str) -> u64 {
        self.stat.get(key).copied().unwrap_or(0)
    }
}

/// `memory.events`: how often each boundary was hit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryEvents {
    pub low: u64,
    pub high: u64,
    /// Allocations that hit `memory.max` (cgroup v1's `failcnt`).
    pub max: u64,
    pub oom: u64,
    pub oom_kill: u64,
    pub oom_group_kill: u64,
}

/// `pids.current` and `pids.max`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PidsStats {
    pub current: u64,
    pub limit: u64,
}

/// One device line of `io.stat`: bytes and operations.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IoStats {
    pub major: u64,
    pub minor: u64,
    pub rbytes: u64,
    pub wbytes: u64,
    pub rios: u64,
    pub wios: u64,
    pub dbytes: u64,
    pub dios: u64,
}

/// `hugetlb.<page_size>.current`, `.max` and the `max` count of `.events`, in bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HugetlbStats {
    /// As the kernel names it: `2MB`, `1GB`.
    pub page_size: String,
    pub usage: u64,
    pub limit: u64,
    pub failcnt: u64,
}

/// One network interface's counters since it appeared.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetworkStats {
    pub name: String,
    pub rx_bytes: u64,
    pub rx_packets: u64,
    pub rx_errors: u64,
    pub rx_dropped: u64,
    pub tx_bytes: u64,
    pub tx_packets: u64,
    pub tx_errors: u64,
    pub tx_dropped: u64,
}

/// Something containerd must hear about, in the order the sandbox emits them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Created {
        container_id: String,
        bundle: PathBuf,
        io: ProcessIo,
        pid: u32,
    },
    Started {
        container_id: String,
        pid: u32,
    },
    Exited {
        process: ProcessRef,
        pid: u32,
        status: ExitStatus,
    },
    Deleted {
        container_id: String,
        pid: u32,
        status: Option<ExitStatus>,
    },
    ExecAdded {
        container_id: String,
        exec_id: String,
    },
    ExecStarted {
        container_id: String,
        exec_id: String,
        pid: u32,
    },
    Oom {
        container_id: String,
    },
    Paused {
        container_id: String,
    },
    Resumed {
        container_id: String,
    },
}
