//! Protocol messages to domain types and back. Nothing outside `rpc` sees protobuf structs.

mod container;
pub mod network;
mod resources;
mod spec;
mod stats;
mod storage;

pub use container::create_request_from_grpc;
pub use spec::{process_from_grpc, resources_from_grpc, spec_from_grpc};
pub use stats::stats_to_grpc;
pub use storage::storage_from_grpc;
