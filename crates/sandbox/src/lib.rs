//! Pod, container and process lifecycle on the host.
//!
//! One task owns each sandbox ([`SandboxHandle`] sends it commands): it boots the VM through a
//! [`VmLauncher`], talks to the guest through an [`Agent`], mounts container root file systems
//! and volumes into the shared directory, pumps standard streams between containerd's FIFOs and
//! the agent, and emits [`Event`]s in containerd's order. Everything it takes is recorded in a
//! persisted cleanup list, so teardown (or `shim delete` after a crash) releases it all.

pub mod agent;
pub mod backend;
pub mod error;
pub mod guest_spec;
pub mod host;
mod task;
pub mod types;
pub mod vm;

pub use agent::{Agent, ContainerRequest, SandboxRequest, Storage};
pub use error::{AgentError, Error, ErrorKind, Result};
pub use task::{
    spawn_sandbox, AgentTimeouts, BootRequest, Deleted, MonitorInfo, SandboxHandle, SandboxOptions,
};
pub use types::*;
pub use vm::{GuestChannel, LaunchPlan, Launched, StepLog, VmControl, VmLauncher};
