//! What a VM is, for every crate that boots or drives one: [`VmSpec`] describes it (and is its
//! serialisable form, as the VMCache sends it), [`HotplugDevice`], [`Resized`] and [`VmExit`] are
//! what a driver (`kata-qemu`) is asked and answers. The seams between the sandbox and its VM are
//! kata-sandbox's `VmLauncher`/`VmControl` (a VM booted, from the cache or directly) and
//! kata-factory's `VmBooter`/`BaseVm` (a VM kept ready).

mod spec;
mod vm;

pub use spec::{
    Accelerator, AgentChannel, BlockDevice, BootSpec, CpuSpec, DiskFormat, MemoryBackend,
    MemoryKind, MemorySpec, NetDevice, RunAs, SharedFs, VmSpec,
};
pub use vm::{HotplugDevice, Resized, VmExit};
