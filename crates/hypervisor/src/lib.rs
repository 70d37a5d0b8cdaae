//! The hypervisor seam of kata-rs: [`VmSpec`] describes a VM, [`Hypervisor`] boots it and [`Vm`]
//! watches, hot-plugs and stops it. Drivers (`kata-qemu`) implement the traits; the shim uses them.
//!
//! With the `fake` feature, [`fake`] provides an in-memory VM for other crates' unit tests.

mod error;
#[cfg(any(test, feature = "fake"))]
pub mod fake;
mod spec;
mod vm;

pub use error::{BoxError, HypervisorError};
pub use spec::{
    Accelerator, AgentChannel, BlockDevice, BootSpec, CpuSpec, DiskFormat, MemoryBackend,
    MemoryKind, MemorySpec, NetDevice, RunAs, SharedFs, VmSpec,
};
pub use vm::{HotplugDevice, Hypervisor, Resized, Vm, VmExit};
