//! Churn: many pod starts one after another and several at a time, through a private containerd
//! and containerd-shim-kata-v2, with no failed start and an exact return to the host's baseline;
//! and a long-lived pod serving many execs without the shim or virtiofsd gaining descriptors.
//!
//! `make test` runs the short form; `make soak` the long one, through the environment:
//! - `KATA_SOAK_SEQUENTIAL`: sequential `ctr run --rm` starts (default 20; soak 200);
//! - `KATA_SOAK_SECONDS`: how long 8 pods at a time keep starting (default 60; soak 300);
//! - `KATA_SOAK_EXECS`: execs into the long-lived pod (default 50).
//!
//! Run under the VM test lock (the baseline is host-wide):
//! `flock /tmp/kata-vm-tests.lock cargo test -p kata-e2e-tests --test churn -- --test-threads=1`

use std::time::{Duration, Instant};

use kata_e2e_tests::{fd_count, only_pid, pids_named, PrivateContainerd, IMAGE, RUNTIME};

const TEARDOWN: Duration = Duration::from_secs(30);
const PARALLEL: usize = 8;

fn env_number(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a number")),
        Err(_) => default,
    }
}

/// One `ctr run --rm` of `true` that must exit 0: its duration, or the failure text.
fn start_once(c: &PrivateContainerd, id: &str) -> Result<Duration, String> {
    let t0 = Instant::now();
    let out = c
        .run_rm(id, &["--null-io"], &["true"])
        .map_err(|e| format!("{id}: ctr: {e:#}"))?;
    if out.code != Some(0) {
        return Err(format!(
            "{id}: exit {:?} after {:?}: {}",
            out.code,
            t0.elapsed(),
            out.stderr.trim()
        ));
    }
    Ok(t0.elapsed())
}

#[test]
fn sequential_starts_never_fail_and_leave_nothing() {
    let n = env_number("KATA_SOAK_SEQUENTIAL", 20);
    let (c, baseline) = PrivateContainerd::start_with_baseline(TEARDOWN);
    let mut failures = Vec::new();
    let mut slowest = Duration::ZERO;
    let t0 = Instant::now();
    for i in 0..n {
        match start_once(&c, &format!("churn-seq-{i}")) {
            Ok(took) => slowest = slowest.max(took),
            Err(e) => failures.push(e),
        }
    }
    eprintln!(
        "sequential: {n} starts in {:?}, slowest {slowest:?}, {} failed",
        t0.elapsed(),
        failures.len()
    );
    drop(c);
    assert!(
        failures.is_empty(),
        "{} of {n} starts failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    baseline.assert_restored(TEARDOWN);
}

#[test]
fn eight_pods_at_a_time_never_fail_and_leave_nothing() {
    let seconds = env_number("KATA_SOAK_SECONDS", 60);
    let (c, baseline) = PrivateContainerd::start_with_baseline(TEARDOWN);
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let t0 = Instant::now();
    let results: Vec<(usize, Vec<String>)> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..PARALLEL)
            .map(|w| {
                let c = &c;
                s.spawn(move || {
                    let (mut started, mut failures) = (0usize, Vec::new());
                    // Every worker starts at least once, so 8 boots always overlap.
                    while started == 0 || Instant::now() < deadline {
                        if let Err(e) = start_once(c, &format!("churn-par-{w}-{started}")) {
                            failures.push(e);
                        }
                        started += 1;
                    }
                    (started, failures)
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|h| h.join().expect("worker thread"))
            .collect()
    });
    let starts: usize = results.iter().map(|r| r.0).sum();
    let failures: Vec<String> = results.into_iter().flat_map(|r| r.1).collect();
    eprintln!(
        "parallel: {starts} starts by {PARALLEL} workers in {:?}, {} failed",
        t0.elapsed(),
        failures.len()
    );
    drop(c);
    assert!(
        failures.is_empty(),
        "{} of {starts} starts failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    baseline.assert_restored(TEARDOWN);
}

fn exec_ok(c: &PrivateContainerd, id: &str, exec_id: &str) {
    assert_eq!(
        c.exec_output(id, exec_id, &["sh", "-c", "echo x"]),
        "x",
        "exec {exec_id}"
    );
}

#[test]
fn many_execs_do_not_grow_shim_or_virtiofsd_descriptors() {
    let execs = env_number("KATA_SOAK_EXECS", 50);
    let (c, baseline) = PrivateContainerd::start_with_baseline(TEARDOWN);
    let id = "churn-long";
    let out = c
        .ctr(
            &[
                "run",
                "-d",
                "--null-io",
                "--runtime",
                RUNTIME,
                IMAGE,
                id,
                "sleep",
                "3600",
            ],
            None,
            180,
        )
        .expect("ctr run -d");
    assert_eq!(out.code, Some(0), "ctr run -d: {}", out.stderr);
    assert!(
        c.wait_task(id, 240, |s| s == Some("RUNNING")),
        "{id} never ran"
    );
    let shim = only_pid("containerd-shim-kata-v2");
    let virtiofsd = pids_named("virtiofsd");
    // Warm up: lazily opened descriptors (first exec's channels, caches) are not growth.
    for i in 0..3 {
        exec_ok(&c, id, &format!("warm-{i}"));
    }
    let shim_before = fd_count(shim);
    let fs_before: Vec<usize> = virtiofsd.iter().map(|p| fd_count(*p)).collect();
    for i in 0..execs {
        exec_ok(&c, id, &format!("e-{i}"));
    }
    // Descriptors of a finished exec may close a moment after ctr returns.
    let settle = Instant::now() + Duration::from_secs(10);
    let (shim_after, fs_after) = loop {
        let shim_after = fd_count(shim);
        let fs_after: Vec<usize> = virtiofsd.iter().map(|p| fd_count(*p)).collect();
        let grown = shim_after > shim_before || fs_after.iter().zip(&fs_before).any(|(a, b)| a > b);
        if !grown || Instant::now() >= settle {
            break (shim_after, fs_after);
        }
        std::thread::sleep(Duration::from_millis(250));
    };
    eprintln!(
        "{execs} execs: shim fds {shim_before} -> {shim_after}, virtiofsd fds {fs_before:?} -> {fs_after:?}"
    );
    assert!(
        shim_after <= shim_before,
        "the shim's descriptors grew over {execs} execs: {shim_before} -> {shim_after}"
    );
    for (after, before) in fs_after.iter().zip(&fs_before) {
        assert!(
            after <= before,
            "virtiofsd's descriptors grew over {execs} execs: {fs_before:?} -> {fs_after:?}"
        );
    }
    drop(c);
    baseline.assert_restored(TEARDOWN);
}
