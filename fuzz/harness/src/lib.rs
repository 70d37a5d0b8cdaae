//! The bodies of the fuzz targets of `fuzz/` (a cargo-fuzz project that needs nightly), kept in
//! this workspace crate so that `tests/replay.rs` replays every committed seed and regression
//! input through exactly the same code on the stable toolchain.
//!
//! Each target calls the functions the product calls on untrusted input, in the product's order,
//! and asserts the invariants the product relies on afterwards (a path stays inside its root, a
//! saved state reads back equal, ...). A panic is a finding. See `docs/fuzzing.md`.

pub mod agent;
pub mod config;
pub mod fixtures;
pub mod guest;
pub mod qmp;
pub mod state;

/// A target: a name (the directory under `fuzz/seeds/` and `fuzz/regressions/`) and its body.
pub type Target = (&'static str, fn(&[u8]));

/// Every target, by name.
pub const TARGETS: &[Target] = &[
    ("config_and_annotations", config::config_and_annotations),
    ("qmp_reply", qmp::qmp_reply),
    ("oci_spec_classify", config::oci_spec_classify),
    ("agent_request", agent::agent_request),
    ("guest_spec", guest::guest_spec),
    ("state_file", state::state_file),
];
