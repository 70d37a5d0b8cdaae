//! Host side of the Kata agent channel.
//!
//! [`AgentClient::connect`] dials the guest agent over kernel vsock
//! (`AF_VSOCK`) or hybrid vsock (a Unix socket plus the `CONNECT <port>`
//! handshake), retrying while the VM boots, and exposes typed ttRPC clients
//! for `grpc.AgentService` and `grpc.Health` from `kata-protocols`.

mod address;
mod client;
mod dial;
mod error;

pub use address::AgentAddress;
pub use client::AgentClient;
pub use dial::{hybrid_handshake, DialOptions};
pub use error::{Error, Result};
pub use kata_protocols;
