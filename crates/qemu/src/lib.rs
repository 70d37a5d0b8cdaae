//! The QEMU driver of kata-rs.
//!
//! ```no_run
//! # async fn demo(spec: kata_hypervisor::VmSpec) -> Result<(), kata_qemu::QemuError> {
//! use kata_qemu::{qmp::commands::QueryStatus, QemuVm};
//! let vm = QemuVm::start(spec).await?;
//! let status = vm.qmp().execute(&QueryStatus).await;
//! tokio::select! {
//!     exit = vm.exited() => println!("qemu died: {exit:?}"),
//!     _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
//! }
//! vm.stop().await?;
//! # let _ = status; Ok(()) }
//! ```

pub mod cmdline;
pub mod console;
mod error;
mod hotplug;
mod hotplug_fs;
pub mod pidfd;
mod process;
pub mod qmp;
mod resize;
mod template;
mod vm;

pub use error::QemuError;
pub use template::Direction as TemplateDirection;
pub use vm::{DetachedQemu, QemuVm, Timeouts, QMP_SOCKET};
