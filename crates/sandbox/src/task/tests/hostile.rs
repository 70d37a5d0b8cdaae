//! A guest that stops answering or floods: the sandbox task keeps answering, calls end at their
//! deadline, and the OOM watcher stays bounded.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::*;
use crate::task::oom::{spawn_oom_watch, OomLimits};

/// How long a query may take while another call hangs.
const QUICK: Duration = Duration::from_millis(500);

fn short_deadlines() -> SandboxOptions {
    SandboxOptions {
        timeouts: AgentTimeouts {
            create_container: Duration::from_secs(2),
            request: Duration::from_secs(2),
            quick: Duration::from_secs(1),
            health: Duration::from_millis(500),
        },
        ..SandboxOptions::default()
    }
}

async fn running_sandbox(r: &Rig) {
    r.handle.boot(BootRequest::default()).await.expect("boot");
    r.handle
        .create_container(create_req(&r.root, "sb1", None))
        .await
        .expect("create");
    r.handle
        .start(ProcessRef::new("sb1", None))
        .await
        .expect("start");
}

#[tokio::test]
async fn state_and_kill_answer_while_create_container_hangs() {
    let Some(r) = rig_with(false, short_deadlines(), FakeAgent::default()) else {
        return;
    };
    running_sandbox(&r).await;
    r.agent.block_create.store(true, Ordering::SeqCst);
    let handle = r.handle.clone();
    let req = create_req(&r.root, "c2", None);
    let started = Instant::now();
    let blocked = tokio::spawn(async move { handle.create_container(req).await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        r.agent.calls().contains(&"CreateContainer c2".to_string()),
        "the call is in flight"
    );

    let sb1 = ProcessRef::new("sb1", None);
    let info = tokio::time::timeout(QUICK, r.handle.state(sb1.clone()))
        .await
        .expect("State answered while CreateContainer hangs")
        .expect("state");
    assert_eq!(info.state, ProcessState::Running);
    let pids = tokio::time::timeout(QUICK, r.handle.pids("sb1".into()))
        .await
        .expect("Pids answered while CreateContainer hangs")
        .expect("pids");
    assert_eq!(pids, [4242]);
    tokio::time::timeout(QUICK, r.handle.kill(sb1.clone(), 15))
        .await
        .expect("Kill answered while CreateContainer hangs")
        .expect("kill");
    assert!(r
        .agent
        .calls()
        .contains(&"SignalProcess sb1 15".to_string()));
    r.agent.exit_with(0);
    let status = tokio::time::timeout(Duration::from_secs(2), r.handle.wait(sb1.clone()))
        .await
        .expect("Wait answered while CreateContainer hangs")
        .expect("wait");
    assert_eq!(status.code, 0);

    let err = blocked
        .await
        .expect("join")
        .expect_err("the hung call fails");
    let waited = started.elapsed();
    assert_eq!(err.kind(), ErrorKind::DeadlineExceeded, "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("CreateContainer") && msg.contains("c2"),
        "the error names the call and the container: {msg}"
    );
    assert!(
        waited >= Duration::from_secs(2) && waited < Duration::from_secs(4),
        "ended at its deadline: {waited:?}"
    );
    // The container's host mounts are released and the guest is told to drop it.
    assert!(!r.layout.rootfs_host("c2").join("bin").exists());
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        r.agent.calls().contains(&"RemoveContainer c2".to_string()),
        "{:?}",
        r.agent.calls()
    );
    // A later create of the same id works.
    r.agent.block_create.store(false, Ordering::SeqCst);
    r.handle
        .create_container(create_req(&r.root, "c2", None))
        .await
        .expect("create again");
    r.handle
        .delete(ProcessRef::new("c2", None))
        .await
        .expect("delete c2");
    r.handle.delete(sb1).await.expect("delete");
    assert!(!r.layout.sandbox_dir().exists());
}

#[tokio::test]
async fn start_waits_for_the_create_of_its_container() {
    let agent = FakeAgent::default();
    agent.create_delay_ms.store(300, Ordering::SeqCst);
    let Some(mut r) = rig_with(false, short_deadlines(), agent) else {
        return;
    };
    r.handle.boot(BootRequest::default()).await.expect("boot");
    let handle = r.handle.clone();
    let req = create_req(&r.root, "sb1", None);
    let create = tokio::spawn(async move { handle.create_container(req).await });
    tokio::time::sleep(Duration::from_millis(50)).await;
    // Sent while CreateContainer is in flight: it runs once the container exists.
    r.handle
        .start(ProcessRef::new("sb1", None))
        .await
        .expect("start after create");
    create.await.expect("join").expect("create");
    let calls = r.agent.calls();
    let pos = |c: &str| calls.iter().position(|x| x == c);
    assert!(
        pos("CreateContainer sb1") < pos("StartContainer sb1"),
        "{calls:?}"
    );
    r.agent.exit_with(0);
    r.handle
        .wait(ProcessRef::new("sb1", None))
        .await
        .expect("wait");
    r.handle
        .delete(ProcessRef::new("sb1", None))
        .await
        .expect("delete");
    let names: Vec<&str> = drain(&mut r.events)
        .iter()
        .map(|e| match e {
            Event::Created { .. } => "create",
            Event::Started { .. } => "start",
            Event::Exited { .. } => "exit",
            Event::Deleted { .. } => "delete",
            _ => "other",
        })
        .collect();
    assert_eq!(names, ["create", "start", "exit", "delete"]);
}

#[tokio::test]
async fn oom_watch_backs_off_when_the_agent_fails() {
    let agent = Arc::new(FakeAgent::default());
    *agent.oom.lock().expect("lock") = OomMode::Failing;
    let (tx, _rx) = mpsc::unbounded_channel();
    let watch = spawn_oom_watch(agent.clone(), tx, OomLimits::default());
    tokio::time::sleep(Duration::from_millis(1600)).await;
    watch.abort();
    let calls = agent.oom_calls.load(Ordering::SeqCst);
    // 100, 200, 400, 800 ms apart: five calls in 1.6 s (a loop without backoff makes millions).
    assert!(
        (2..=6).contains(&calls),
        "{calls} GetOOMEvent calls in 1.6 s"
    );
}

#[tokio::test]
async fn an_oom_flood_is_coalesced_to_one_event_a_second() {
    let agent = FakeAgent::default();
    *agent.oom.lock().expect("lock") = OomMode::Flood;
    let Some(mut r) = rig_with(false, short_deadlines(), agent) else {
        return;
    };
    r.handle.boot(BootRequest::default()).await.expect("boot");
    r.handle
        .create_container(create_req(&r.root, "sb1", None))
        .await
        .expect("create");
    let since = Instant::now();
    let calls_before = r.agent.oom_calls.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(2200)).await;
    let calls = r.agent.oom_calls.load(Ordering::SeqCst) - calls_before;
    let ooms = drain(&mut r.events)
        .iter()
        .filter(|e| matches!(e, Event::Oom { .. }))
        .count();
    let secs = since.elapsed().as_secs_f64();
    assert!(ooms >= 1, "the first oom event goes out");
    assert!(
        (ooms as f64) <= secs + 1.0,
        "{ooms} oom events in {secs:.1} s"
    );
    // At most one call each 50 ms, however fast the guest answers.
    assert!(
        (calls as f64) <= secs * 20.0 + 2.0,
        "{calls} calls in {secs:.1} s"
    );
    r.handle
        .delete(ProcessRef::new("sb1", None))
        .await
        .expect("delete");
    let after = r.agent.oom_calls.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        r.agent.oom_calls.load(Ordering::SeqCst),
        after,
        "the watcher stops with the sandbox"
    );
}

#[tokio::test]
async fn a_member_deleted_after_the_sandbox_leaves_no_state_behind() {
    let Some(r) = rig(false) else { return };
    r.handle.boot(BootRequest::default()).await.expect("boot");
    for id in ["sb1", "c2"] {
        r.handle
            .create_container(create_req(&r.root, id, None))
            .await
            .expect("create");
    }
    // containerd may delete the pod's own container first (`ctr task delete --force` of all).
    r.handle
        .delete(ProcessRef::new("sb1", None))
        .await
        .expect("delete sb1");
    assert!(!r.layout.state_dir().exists());
    r.handle
        .delete(ProcessRef::new("c2", None))
        .await
        .expect("delete c2");
    assert!(
        !r.layout.state_dir().exists(),
        "the state directory came back"
    );
}

#[tokio::test]
async fn an_exec_the_guest_never_starts_ends_at_its_deadline() {
    let Some(r) = rig_with(false, short_deadlines(), FakeAgent::default()) else {
        return;
    };
    running_sandbox(&r).await;
    let exec = ExecProcess {
        container_id: "sb1".into(),
        exec_id: "e1".into(),
        process: OciProcess::default(),
        io: ProcessIo::default(),
    };
    r.handle.exec(exec).await.expect("exec");
    r.agent.block_exec.store(true, Ordering::SeqCst);
    let e1 = ProcessRef::new("sb1", Some("e1".into()));
    let handle = r.handle.clone();
    let start = {
        let e1 = e1.clone();
        tokio::spawn(async move { handle.start(e1).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let sb1 = ProcessRef::new("sb1", None);
    tokio::time::timeout(QUICK, r.handle.state(sb1.clone()))
        .await
        .expect("State answered while ExecProcess hangs")
        .expect("state");
    tokio::time::timeout(QUICK, r.handle.kill(sb1.clone(), 9))
        .await
        .expect("Kill answered while ExecProcess hangs")
        .expect("kill");
    let err = start.await.expect("join").expect_err("the hung exec fails");
    assert_eq!(err.kind(), ErrorKind::DeadlineExceeded, "{err}");
    assert!(err.to_string().contains("ExecProcess"), "{err}");
    let info = r.handle.state(e1).await.expect("state e1");
    assert_eq!(info.state, ProcessState::Created, "never reported started");
    r.agent.exit_with(137);
    r.handle.wait(sb1.clone()).await.expect("wait");
    r.handle.delete(sb1).await.expect("delete");
}

/// Runs the sandbox with a second container `c2`, started.
async fn running_pod(r: &Rig) {
    running_sandbox(r).await;
    r.handle
        .create_container(create_req(&r.root, "c2", None))
        .await
        .expect("create c2");
    r.handle
        .start(ProcessRef::new("c2", None))
        .await
        .expect("start c2");
}

#[tokio::test]
async fn a_sigkill_a_starved_agent_never_takes_stops_the_vm() {
    let Some(mut r) = rig_with(false, short_deadlines(), FakeAgent::default()) else {
        return;
    };
    running_pod(&r).await;
    drain(&mut r.events);
    r.agent.block_signal.store(true, Ordering::SeqCst);
    r.agent.block_check.store(true, Ordering::SeqCst);
    let c2 = ProcessRef::new("c2", None);
    let started = Instant::now();
    // quick (1 s) + health (0.5 s), then the VM is stopped.
    tokio::time::timeout(Duration::from_secs(4), r.handle.kill(c2.clone(), 9))
        .await
        .expect("Kill answered in bounded time")
        .expect("the SIGKILL succeeds by stopping the VM");
    let took = started.elapsed();
    assert!(took < Duration::from_secs(3), "kill took {took:?}");
    let calls = r.agent.calls();
    assert!(
        calls.contains(&"SignalProcess c2 9".to_string()),
        "{calls:?}"
    );
    assert!(calls.contains(&"Check".to_string()), "{calls:?}");
    assert!(*r.dead.borrow(), "the VM double was stopped");

    let mut exited: Vec<(String, u32)> = drain(&mut r.events)
        .into_iter()
        .filter_map(|e| match e {
            Event::Exited {
                process, status, ..
            } => Some((process.id().to_owned(), status.code)),
            _ => None,
        })
        .collect();
    exited.sort();
    assert_eq!(
        exited,
        [
            ("c2".to_string(), VM_DIED_EXIT_CODE),
            ("sb1".to_string(), VM_DIED_EXIT_CODE)
        ],
        "one exit event per process of the pod"
    );
    for id in ["c2", "sb1"] {
        let p = ProcessRef::new(id, None);
        let info = r.handle.state(p.clone()).await.expect("state");
        assert_eq!(info.state, ProcessState::Stopped, "{id}");
        let status = tokio::time::timeout(QUICK, r.handle.wait(p))
            .await
            .expect("wait answers")
            .expect("wait");
        assert_eq!(status.code, VM_DIED_EXIT_CODE);
    }
    // A second SIGKILL (containerd retries, `delete --force`) is a no-op.
    tokio::time::timeout(QUICK, r.handle.kill(c2.clone(), 9))
        .await
        .expect("second kill answers")
        .expect("second kill");
    tokio::time::timeout(QUICK, r.handle.delete(c2))
        .await
        .expect("delete c2 answers")
        .expect("delete c2");
    tokio::time::timeout(
        Duration::from_secs(8),
        r.handle.delete(ProcessRef::new("sb1", None)),
    )
    .await
    .expect("delete sb1 answers")
    .expect("delete sb1");
    assert!(!r.marker.exists(), "the daemons' steps were undone");
    assert!(!r.layout.sandbox_dir().exists());
}

#[tokio::test]
async fn a_sigkill_timeout_with_a_healthy_agent_keeps_the_vm() {
    let Some(mut r) = rig_with(false, short_deadlines(), FakeAgent::default()) else {
        return;
    };
    running_pod(&r).await;
    drain(&mut r.events);
    // Only SignalProcess hangs: the agent answers its health check.
    r.agent.block_signal.store(true, Ordering::SeqCst);
    let c2 = ProcessRef::new("c2", None);
    let err = tokio::time::timeout(Duration::from_secs(4), r.handle.kill(c2.clone(), 9))
        .await
        .expect("Kill answered in bounded time")
        .expect_err("the SIGKILL was not delivered");
    assert_eq!(err.kind(), ErrorKind::DeadlineExceeded, "{err}");
    assert!(r.agent.calls().contains(&"Check".to_string()));
    assert!(!*r.dead.borrow(), "a live agent's VM keeps running");
    let info = r.handle.state(c2).await.expect("state");
    assert_eq!(info.state, ProcessState::Running);
    assert!(
        !drain(&mut r.events)
            .iter()
            .any(|e| matches!(e, Event::Exited { .. })),
        "no process exited"
    );
    // A SIGTERM that times out never stops the VM, even with a dead agent.
    r.agent.block_check.store(true, Ordering::SeqCst);
    let err = r
        .handle
        .kill(ProcessRef::new("sb1", None), 15)
        .await
        .expect_err("SIGTERM not delivered");
    assert_eq!(err.kind(), ErrorKind::DeadlineExceeded, "{err}");
    assert!(!*r.dead.borrow(), "only a SIGKILL stops the VM");
    r.agent.block_signal.store(false, Ordering::SeqCst);
    r.agent.exit_with(137);
    r.handle
        .wait(ProcessRef::new("sb1", None))
        .await
        .expect("wait");
    r.handle
        .wait(ProcessRef::new("c2", None))
        .await
        .expect("wait");
    r.handle
        .delete(ProcessRef::new("c2", None))
        .await
        .expect("delete");
    r.handle
        .delete(ProcessRef::new("sb1", None))
        .await
        .expect("delete");
}
