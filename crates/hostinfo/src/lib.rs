//! Facts about the host that decide whether and how pods can run: CPU virtualization flags, a
//! `/dev/kvm` that really works, vhost devices, CPUs, memory, kernel release and the QEMU version.
//!
//! Every fact comes from a small function; [`Host::at`] points them at a fixture directory.

mod accel;
mod cpu;
mod error;
mod host;
mod kvm;
mod memory;
mod qemu;

pub use accel::{decide, Accelerator, VirtSupport};
pub use cpu::{parse_cpuinfo, CpuInfo, VirtFlag};
pub use error::{Error, Result};
pub use host::{Host, HostInfo};
pub use kvm::{probe_kvm, KvmStatus, KVM_API_VERSION};
pub use memory::{parse_meminfo, MemInfo};
pub use qemu::{parse_qemu_version, qemu_version, QemuVersion};
