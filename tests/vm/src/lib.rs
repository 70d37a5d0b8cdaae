//! Harness for the VM tests of kata-rs: proves the guest agent works inside a real QEMU VM.
//!
//! - [`TestVm`] (sandbox_vm.rs) boots the guest image with vhost-device-vsock and virtiofsd in a
//!   temporary directory and connects to the agent over hybrid vsock;
//! - [`BusyboxRootfs`] (rootfs.rs) makes a container rootfs from the host's static busybox inside
//!   the shared directory;
//! - [`spec`] builds minimal `grpc.Spec` messages and the CreateSandbox storage;
//! - [`Teardown`] (teardown.rs) kills QEMU and the daemons and removes the directory on drop, even
//!   while a failed test unwinds;
//! - [`rpc`] wraps the agent calls the tests repeat.
//!
//! The guest image comes from `$KATA_TEST_IMAGE_DIR` or `<workspace>/build/image` (`make image`).

mod error;
mod image;
mod rootfs;
pub mod rpc;
mod sandbox_vm;
mod serial;
pub mod spec;
mod teardown;

pub use error::{chain, HarnessError, Result};
pub use image::{GuestImage, IMAGE_DIR_ENV, INITRD_FILE, KERNEL_FILE};
pub use rootfs::{find_busybox, guest_rootfs, BusyboxRootfs, GUEST_SHARED_DIR};
pub use sandbox_vm::{TestVm, VmConfig, AGENT_PORT, GUEST_CID, QEMU_BINARY};
pub use serial::SerialGuard;
pub use teardown::Teardown;

/// Re-exported for tests: the protocol crate and the agent client.
pub use kata_agent_client;
pub use kata_protocols;
