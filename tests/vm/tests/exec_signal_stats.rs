//! In a running container: ExecProcess output, SignalProcess SIGTERM (trapped by the init and by an
//! exec'd shell, untrapped by an exec'd sleep), and StatsContainer numbers.

use std::time::Duration;

use kata_vm_tests::rpc::{self, Stream};
use kata_vm_tests::spec::{container_spec, process};
use kata_vm_tests::{BusyboxRootfs, TestVm};

const SIGTERM: u32 = 15;
const READ_TIMEOUT: Duration = Duration::from_secs(30);

#[tokio::test]
async fn exec_signal_and_stats_in_a_running_container() {
    let vm = TestVm::must_boot_sandbox("exec").await;
    let agent = vm.agent();
    let cid = "c4";
    BusyboxRootfs::create(vm.shared_dir(), cid).expect("busybox rootfs");

    // The init traps TERM and exits 4; it is PID 1 of the container's PID namespace, which gets
    // signals from outside only for handled signals.
    let init = "trap 'exit 4' TERM; echo ready; while :; do sleep 1; done";
    let spec = container_spec(cid, process(&["sh", "-c", init]));
    if let Err(e) = rpc::run_container(agent, cid, spec).await {
        panic!("create+start {cid}: {e:?}\nconsole:\n{}", vm.console());
    }
    rpc::read_until(agent, cid, cid, Stream::Stdout, "ready", READ_TIMEOUT)
        .await
        .unwrap_or_else(|e| panic!("init output: {e}"));

    // ExecProcess: output and exit code, inside the container's UTS namespace.
    rpc::exec_process(
        agent,
        cid,
        "e-out",
        process(&["sh", "-c", "echo exec-out; hostname; exit 5"]),
    )
    .await
    .expect("ExecProcess e-out");
    let (out, status) = tokio::join!(
        rpc::read_to_end(agent, cid, "e-out", Stream::Stdout),
        rpc::wait_process(agent, cid, "e-out"),
    );
    assert_eq!(
        String::from_utf8_lossy(&out.expect("ReadStdout e-out")),
        format!("exec-out\n{cid}\n")
    );
    assert_eq!(status.expect("WaitProcess e-out"), 5);

    // An exec'd process that does not handle TERM dies of it: 128 + 15.
    rpc::exec_process(agent, cid, "e-sleep", process(&["sleep", "1000"]))
        .await
        .expect("ExecProcess e-sleep");
    rpc::signal_process(agent, cid, "e-sleep", SIGTERM)
        .await
        .expect("SignalProcess e-sleep");
    assert_eq!(
        rpc::wait_process(agent, cid, "e-sleep")
            .await
            .expect("WaitProcess e-sleep"),
        128 + 15
    );

    // An exec'd shell that traps TERM runs its handler and exits with the handler's code.
    let trap = "trap 'echo got-term; exit 3' TERM; echo armed; while :; do sleep 1; done";
    rpc::exec_process(agent, cid, "e-trap", process(&["sh", "-c", trap]))
        .await
        .expect("ExecProcess e-trap");
    rpc::read_until(agent, cid, "e-trap", Stream::Stdout, "armed", READ_TIMEOUT)
        .await
        .unwrap_or_else(|e| panic!("e-trap output: {e}"));
    rpc::signal_process(agent, cid, "e-trap", SIGTERM)
        .await
        .expect("SignalProcess e-trap");
    let (rest, status) = tokio::join!(
        rpc::read_to_end(agent, cid, "e-trap", Stream::Stdout),
        rpc::wait_process(agent, cid, "e-trap"),
    );
    assert_eq!(
        String::from_utf8_lossy(&rest.expect("ReadStdout e-trap")),
        "got-term\n"
    );
    assert_eq!(status.expect("WaitProcess e-trap"), 3);

    // Stats of the container's cgroup.
    let stats = rpc::stats_container(agent, cid)
        .await
        .expect("StatsContainer");
    let cg = stats.cgroup_stats.as_ref().expect("cgroup stats");
    let mem = cg.memory_stats.as_ref().expect("memory stats");
    let usage = mem.usage.as_ref().map(|u| u.usage).unwrap_or(0);
    assert!(usage > 0, "memory usage is zero: {mem:?}");
    let cpu = cg
        .cpu_stats
        .as_ref()
        .and_then(|c| c.cpu_usage.as_ref())
        .expect("cpu usage");
    assert!(cpu.total_usage > 0, "cpu total usage is zero: {cpu:?}");
    assert!(
        cpu.usage_in_usermode + cpu.usage_in_kernelmode > 0,
        "no user/kernel split: {cpu:?}"
    );
    let pids = cg.pids_stats.as_ref().map(|p| p.current).unwrap_or(0);
    assert!(pids >= 1, "pids.current is {pids}");

    // Finally the init: its TERM handler exits 4.
    rpc::signal_process(agent, cid, "", SIGTERM)
        .await
        .expect("SignalProcess init");
    assert_eq!(
        rpc::wait_process(agent, cid, cid)
            .await
            .expect("WaitProcess init"),
        4
    );
    rpc::remove_container(agent, cid)
        .await
        .expect("RemoveContainer");
    vm.shutdown().await;
}
