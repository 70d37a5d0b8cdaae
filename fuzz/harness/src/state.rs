//! `state_file`: `/run/vc/sbs/<sid>/state.json` as `shim delete` reads it.
//!
//! The JSON is parsed with `SandboxState::from_json` (what `SandboxState::load` calls); a parsed
//! state must save and read back equal, and every step `host::confine::check_step` lets through
//! must stay inside the sandbox `sb` with the default roots: an absolute path without `..` below
//! one of its three directories (or, for `rmdir`, a parent of a root other than `/`), or a kill
//! of a real pid with a recorded start time.

use std::path::{Component, Path};

use kata_sandbox::host::cleanup::CleanupStep;
use kata_sandbox::host::confine::check_step;
use kata_sandbox::host::layout::{Layout, Roots};
use kata_sandbox::host::state::SandboxState;

/// Where the fuzzed state claims to come from (only used in messages).
const ORIGIN: &str = "/run/vc/sbs/sb/state.json";

/// The target body (see the module documentation).
pub fn state_file(data: &[u8]) {
    let origin = Path::new(ORIGIN);
    let Ok(state) = SandboxState::from_json(data, origin) else {
        return;
    };
    if let Ok(text) = serde_json::to_vec_pretty(&state) {
        match SandboxState::from_json(&text, origin) {
            Ok(back) => assert_eq!(back, state, "a saved state reads back different"),
            Err(e) => panic!("a saved state does not read back: {e}"),
        }
    }
    let layout = Layout::new("sb", Roots::default());
    let dirs = [layout.sandbox_dir(), layout.vm_dir(), layout.state_dir()];
    let roots = [&layout.roots.shared, &layout.roots.vm, &layout.roots.state];
    for step in state.all_steps() {
        if check_step(&step, &layout).is_err() {
            continue;
        }
        match &step {
            CleanupStep::KillProcess {
                pid, start_time, ..
            } => {
                assert!(*pid > 1 && *pid <= i32::MAX as u32, "{step:?} allowed");
                assert!(*start_time != 0, "{step:?} allowed");
            }
            CleanupStep::Unmount { path }
            | CleanupStep::RemoveDir { path }
            | CleanupStep::RemoveTree { path }
            | CleanupStep::RemoveFile { path } => {
                assert!(
                    path.is_absolute()
                        && !path.components().any(|c| matches!(c, Component::ParentDir)),
                    "{step:?} allowed"
                );
                let below = dirs.iter().any(|d| path.starts_with(d));
                let parent_of_root = matches!(step, CleanupStep::RemoveDir { .. })
                    && path.as_path() != Path::new("/")
                    && roots.iter().any(|r| r.starts_with(path));
                assert!(
                    below || parent_of_root,
                    "{step:?} allowed outside sandbox sb"
                );
            }
            CleanupStep::RemoveCgroup { path } => {
                assert!(
                    path.starts_with("/sys/fs/cgroup/")
                        && !path.components().any(|c| matches!(c, Component::ParentDir)),
                    "{step:?} allowed"
                );
            }
            CleanupStep::DetachNetwork { netns, taps, .. } => {
                assert!(
                    netns.is_absolute()
                        && !netns
                            .components()
                            .any(|c| matches!(c, Component::ParentDir)),
                    "{step:?} allowed"
                );
                for tap in taps {
                    assert!(
                        tap.starts_with("tap") && tap.ends_with("_kata"),
                        "{step:?} deletes a device the sandbox did not make"
                    );
                }
            }
        }
    }
}
