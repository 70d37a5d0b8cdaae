//! The harness's pod start timer (used by the benchmarks): it measures both handlers and leaves
//! nothing behind.

use kata_cri_tests::{CriHarness, KATA, RUNC};

#[test]
fn pod_start_is_timed_for_both_handlers() {
    let h = CriHarness::start_clean();
    for handler in [RUNC, KATA] {
        let t = h
            .time_pod_start(handler)
            .unwrap_or_else(|e| panic!("timing a {handler} pod: {e:#}"));
        eprintln!(
            "{handler}: RunPodSandbox {:?}, container running after {:?}",
            t.run_pod_sandbox, t.container_running
        );
        assert!(!t.run_pod_sandbox.is_zero());
        assert!(t.container_running >= t.run_pod_sandbox);
        assert!(
            h.cri()
                .list_pod_sandbox()
                .expect("ListPodSandbox")
                .is_empty(),
            "the timed pod was not removed"
        );
    }
    h.finish();
}
