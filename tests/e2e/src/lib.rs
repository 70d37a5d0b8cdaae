//! Harness for the end-to-end tests: a private containerd (own root, state and socket) whose `PATH`
//! finds the freshly built `containerd-shim-kata-v2`, a configuration pointing at the freshly built
//! guest image, and checks that a test left nothing behind.

mod background;
mod bundle;
mod containerd;
mod differential;
mod leaks;
mod paths;
mod procs;
mod tasks;

pub use background::{
    container_events, ctr_in_terminal, shell_words, Background, EventWatch, TERMINAL_COLS,
    TERMINAL_ROWS,
};
pub use bundle::{busybox_rootfs, default_spec};
pub use containerd::{CtrOutput, OrphanReaper, PrivateContainerd};
pub use differential::{
    exit_code, Differential, Observed, Outcome, Probe, Runtime, Side, FILTER_VAR, VERBOSE_VAR,
};
pub use leaks::{assert_no_leftovers, pids_named, HostSnapshot};
pub use paths::{repo_root, set_config_key, test_config};
pub use procs::{fd_count, only_pid, ppid, status_field};
pub use tasks::{member_annotations, sandbox_annotations, IMAGE, RUNTIME, SLEEPER};
