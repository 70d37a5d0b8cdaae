//! kata-agent as a library: the modules of the guest agent, so that the binary (`main.rs`), the
//! integration tests and the fuzz harness (`fuzz/harness`) run the same code.
//!
//! This is not a stable API: it exists so that request decoding and conversion
//! ([`rpc::convert`], [`rpc::convert::create_request_from_grpc`]) and the checks the agent applies
//! before touching the guest ([`container::create::prepare_spec`],
//! [`storage::confine_mount_point`]) can be exercised outside a VM.

pub mod config;
pub mod container;
pub mod debug_console;
pub mod error;
pub mod guest;
pub mod init;
pub mod log_channel;
pub mod logging;
pub mod metrics;
pub mod network;
pub mod paths;
pub mod reaper;
pub mod rpc;
pub mod safe_path;
pub mod sandbox;
pub mod serial_channel;
pub mod storage;

/// Version reported by Health.Version and GetGuestDetails.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
