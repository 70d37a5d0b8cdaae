//! Host side of the Kata agent channel.
//!
//! [`AgentClient::connect`] dials the guest agent over kernel vsock
//! (`AF_VSOCK`) or hybrid vsock (a Unix socket plus the `CONNECT <port>`
//! handshake), retrying while the VM boots, and exposes typed ttRPC clients
//! for `grpc.AgentService` and `grpc.Health` from `kata-protocols`.
//!
//! Over hybrid vsock, dial with [`AgentClient::connect_when_ready`] and a [`ReadyListener`]
//! bound before the VM starts: the host then never touches the device before the guest's
//! virtio-vsock rings are live (see ready.rs for the vhost-device-vsock failure this avoids).

mod address;
mod client;
mod dial;
mod error;
mod ready;

pub use address::AgentAddress;
pub use client::AgentClient;
pub use dial::{hybrid_handshake, DialOptions};
pub use error::{Error, Result};
pub use kata_protocols;
pub use ready::{ReadyListener, AGENT_READY_PORT};
