//! The VM factory's VMCache service (Kata's `[factory] vm_cache_number`, `vm_cache_endpoint`):
//! `kata-runtime factory init` keeps a pool of booted VMs and hands them out over gRPC on a Unix
//! socket; each shim asks for one instead of booting its own.
//!
//! The protocol is Kata's `cache.proto` (`CacheService`: `Config`, `GetBaseVM`, `Status`,
//! `Quit`; seed 002, virtcontainers/factory/cache and vmcache). This crate holds the wire side
//! only: [`server::CacheServer`] keeps the pool full with a [`VmBooter`] and serves it;
//! [`client::CacheClient`] is the shim's and the CLI's end. What a VM is (QEMU, its daemons, the
//! serialisable form in [`GrpcVm::hypervisor`]) belongs to the booter (kata-sandbox).

pub mod client;
mod error;
pub mod server;
mod socket;

pub use error::FactoryError;

/// The generated protocol (package `cache`).
pub mod pb {
    #![allow(missing_docs, clippy::all, clippy::pedantic)]
    tonic::include_proto!("cache");
}

pub use pb::{GrpcStatus, GrpcVm, GrpcVmConfig, GrpcVmStatus};

use async_trait::async_trait;

/// Errors of a booter, as the server logs them.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Boots the VMs the cache keeps.
#[async_trait]
pub trait VmBooter: Send + Sync + 'static {
    /// Boots one VM with its agent answering.
    async fn boot(&self) -> Result<Box<dyn BaseVm>, BoxError>;
}

/// A booted VM waiting in the cache.
#[async_trait]
pub trait BaseVm: Send + Sync + 'static {
    /// Its serialisable form, as `GetBaseVM` sends it.
    fn grpc(&self) -> GrpcVm;
    /// The hypervisor's pid (for `Status`).
    fn pid(&self) -> u32;
    /// False once the VM has died in the cache (it is then dropped, never handed out).
    fn is_alive(&self) -> bool;
    /// Lets go of the VM for its new owner: control sessions closed, processes left running.
    /// The returned handle keeps reaping them (the server is their parent) until they end.
    async fn hand_over(self: Box<Self>) -> Box<dyn HandedOver>;
    /// Stops the VM and removes everything it made.
    async fn stop(self: Box<Self>);
}

/// A VM given to a sandbox; the server only waits for its end.
#[async_trait]
pub trait HandedOver: Send + Sync + 'static {
    /// Resolves once the VM's processes have ended.
    async fn ended(&self);
}
