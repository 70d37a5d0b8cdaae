//! Harness for the end-to-end tests: a private containerd (own root, state and socket) whose `PATH`
//! finds the freshly built `containerd-shim-kata-v2`, a configuration pointing at the freshly built
//! guest image, and checks that a test left nothing behind.

mod containerd;
mod leaks;
mod paths;

pub use containerd::{CtrOutput, OrphanReaper, PrivateContainerd};
pub use leaks::{assert_no_leftovers, pids_named, HostSnapshot};
pub use paths::{repo_root, test_config};
