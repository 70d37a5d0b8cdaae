//! Replays every committed input of every fuzz target on the stable toolchain: the seeds
//! (`fuzz/seeds/<target>/`) and the crash inputs found so far (`fuzz/regressions/<target>/`),
//! each through the same function the target calls. A crash input that panics again fails here
//! even where nightly and cargo-fuzz are missing.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use kata_fuzz_harness::TARGETS;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("fuzz/harness has a parent")
        .to_path_buf()
}

/// Files of `dir` (sorted), none when it does not exist.
fn inputs(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect(),
        Err(_) => Vec::new(),
    };
    files.sort();
    files
}

fn replay(kind: &str) -> (usize, Vec<String>) {
    let mut count = 0;
    let mut failures = Vec::new();
    for (name, body) in TARGETS {
        for file in inputs(&fuzz_dir().join(kind).join(name)) {
            let data = std::fs::read(&file).expect("read input");
            count += 1;
            if catch_unwind(AssertUnwindSafe(|| body(&data))).is_err() {
                failures.push(file.display().to_string());
            }
        }
    }
    (count, failures)
}

/// One test (not one per directory) so that the guest fixture directory can be removed at the
/// end without another test still using it.
#[test]
fn every_seed_and_regression_input_runs_without_a_crash() {
    let (count, seed_failures) = replay("seeds");
    let (_, regression_failures) = replay("regressions");
    let _ = std::fs::remove_dir_all(kata_fuzz_harness::fixtures::guest_dirs_base());
    assert!(
        seed_failures.is_empty(),
        "seeds that crash: {seed_failures:?}"
    );
    assert!(
        regression_failures.is_empty(),
        "crash inputs that crash again: {regression_failures:?}"
    );
    for (name, _) in TARGETS {
        assert!(
            !inputs(&fuzz_dir().join("seeds").join(name)).is_empty(),
            "target {name} has no seeds"
        );
    }
    assert!(count > 0);
}
