//! The agent's log on the host: records the agent writes while a container is created reach the
//! shim's log (containerd's, here its log file) over vsock port 1025, tagged with the sandbox id,
//! and stay there after the pod is gone; their level follows `enable_debug`.

use std::time::Duration;

use kata_e2e_tests::{assert_no_leftovers, PrivateContainerd};

const TEARDOWN: Duration = Duration::from_secs(20);

/// The shim's lines that carry a record of the agent of sandbox `id`.
fn agent_lines(log: &str, id: &str) -> Vec<String> {
    log.lines()
        .filter(|l| l.contains("source=\"agent\"") && l.contains(&format!("sandbox={id}")))
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_agent_log_reaches_the_shim_log_tagged_and_outlives_the_pod() {
    assert_no_leftovers(TEARDOWN);
    let c = PrivateContainerd::start().unwrap_or_else(|e| panic!("{e:#}"));
    c.run_detached("alog1", &[]);
    c.remove("alog1");
    let lines = agent_lines(&c.log(), "alog1");
    let created = lines
        .iter()
        .find(|l| l.contains("create container") && l.contains(r#"container="alog1""#))
        .unwrap_or_else(|| {
            panic!("no agent record of the create in the shim log; agent lines: {lines:#?}")
        });
    eprintln!("the shim logged: {created}");
    assert!(created.contains(" INFO "), "level kept: {created}");
    let log = c.log();
    let started = log
        .lines()
        .find(|l| l.contains("kata_sandbox") && l.contains("sandbox=alog1"));
    assert!(
        started.is_some(),
        "the shim's own lines carry the sandbox id:\n{log}"
    );
    assert!(
        !lines.iter().any(|l| l.contains(" DEBUG ")),
        "debug records without enable_debug: {lines:#?}"
    );
    drop(c);
    assert_no_leftovers(TEARDOWN);
}

#[test]
fn enable_debug_brings_the_agents_debug_records() {
    assert_no_leftovers(TEARDOWN);
    // `[agent.kata] enable_debug` alone: the agent logs at debug and the shim lets those through.
    let c = PrivateContainerd::start_edited(|text| {
        text.replace(
            "# Agent debug log level.\nenable_debug = false",
            "# Agent debug log level.\nenable_debug = true",
        )
    })
    .unwrap_or_else(|e| panic!("{e:#}"));
    c.run_detached("alog2", &[]);
    c.remove("alog2");
    let lines = agent_lines(&c.log(), "alog2");
    assert!(
        lines
            .iter()
            .any(|l| l.contains(" DEBUG ") && l.contains("sandbox created")),
        "no debug record of the agent with enable_debug; agent lines: {lines:#?}"
    );
    drop(c);
    assert_no_leftovers(TEARDOWN);
}

#[test]
fn a_failed_boot_names_the_guest_console_tail() {
    assert_no_leftovers(TEARDOWN);
    // An init that does not exist: the guest kernel panics (and QEMU, run with -no-reboot, ends).
    let c = PrivateContainerd::start_edited(|text| {
        text.replace(
            "kernel_params = \"\"",
            "kernel_params = \"rdinit=/nonexistent\"",
        )
    })
    .unwrap_or_else(|e| panic!("{e:#}"));
    let out = c
        .run_rm("aboot", &[], &["true"])
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert_ne!(out.code, Some(0), "a guest without init booted");
    assert!(
        out.stderr.contains("guest console") && out.stderr.contains("Kernel panic"),
        "the error does not show the guest console's end: {}",
        out.stderr
    );
    drop(c);
    assert_no_leftovers(TEARDOWN);
}
