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

/// A subset of the cgroup statistics the agent reports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerStats {
    pub cpu_total_ns: u64,
    pub cpu_user_ns: u64,
    pub cpu_kernel_ns: u64,
    pub memory_usage: u64,
    pub memory_max_usage: u64,
    pub memory_limit: u64,
    pub pids_current: u64,
    pub pids_limit: u64,
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
