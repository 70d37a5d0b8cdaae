//! Kata agent API for ttRPC, wire-compatible with Kata 2.x/3.x.
//!
//! Generated at build time from `protos/*.proto` (protobuf 3 messages, async
//! ttRPC clients and servers). Packages and method paths are Kata's, for
//! example `/grpc.AgentService/CreateContainer` and `/grpc.Health/Check`.
//! `protos/cache.proto` (the VMCache service, gRPC) is compiled by kata-factory with tonic.

macro_rules! generated {
    ($(#[$meta:meta])* $name:ident, $file:literal) => {
        $(#[$meta])*
        #[allow(
            clippy::all,
            clippy::pedantic,
            clippy::unwrap_used,
            non_camel_case_types,
            non_snake_case,
            non_upper_case_globals,
            unused_imports,
            unused_results,
            unused_mut,
            missing_docs,
            dead_code,
            deprecated,
            rustdoc::all
        )]
        pub mod $name {
            include!(concat!(env!("OUT_DIR"), "/gen/", $file));
        }
    };
}

generated!(
    /// `google.protobuf.Empty`, the request/reply of payload-less RPCs.
    empty,
    "empty.rs"
);
generated!(
    /// Package `types`: interfaces, routes, ARP neighbours, IP addresses.
    types,
    "types.rs"
);
generated!(
    /// The OCI runtime spec messages (package `grpc`).
    oci,
    "oci.rs"
);
generated!(
    /// Volume statistics (package `grpc`).
    csi,
    "csi.rs"
);
generated!(
    /// `grpc.AgentService` request and response messages.
    agent,
    "agent.rs"
);
generated!(
    /// Async ttRPC client and server for `grpc.AgentService`.
    agent_ttrpc,
    "agent_ttrpc.rs"
);
generated!(
    /// `grpc.Health` messages.
    health,
    "health.rs"
);
generated!(
    /// Async ttRPC client and server for `grpc.Health`.
    health_ttrpc,
    "health_ttrpc.rs"
);

pub mod debug_console;

pub use async_trait::async_trait;
pub use protobuf;
pub use ttrpc;
