//! The sandbox task against a fake VM and a fake agent (test doubles only).

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use oci_spec::runtime::{LinuxResources, Process as OciProcess, Spec};
use tokio::sync::{mpsc, watch, Notify};

use super::*;
use crate::agent::{Agent, AgentResult, ContainerRequest, SandboxRequest};
use crate::error::{AgentError, ErrorKind};
use crate::host::cleanup::CleanupStep;
use crate::host::layout::Roots;
use crate::types::{ContainerStats, Event, ProcessIo, ProcessState, VM_DIED_EXIT_CODE};
use crate::vm::{LaunchPlan, Launched, StepLog, VmControl, VmLauncher};

mod hostile;
mod monitor;

/// How the fake agent answers `GetOOMEvent`.
#[derive(Default, Clone, Copy, PartialEq, Eq)]
enum OomMode {
    #[default]
    Unimplemented,
    /// Fails at once, forever.
    Failing,
    /// Answers at once, forever, naming the sandbox's container.
    Flood,
}

#[derive(Default)]
struct FakeAgent {
    calls: Mutex<Vec<String>>,
    stdout: Mutex<VecDeque<Vec<u8>>>,
    exit: Notify,
    exit_code: Mutex<Option<i32>>,
    created: Mutex<Vec<ContainerRequest>>,
    /// `CreateContainer` never answers (a hostile or hung guest).
    block_create: std::sync::atomic::AtomicBool,
    /// `ExecProcess` never answers.
    block_exec: std::sync::atomic::AtomicBool,
    /// `SignalProcess` never answers (a guest that starves its agent).
    block_signal: std::sync::atomic::AtomicBool,
    /// `Check` never answers.
    block_check: std::sync::atomic::AtomicBool,
    /// `CreateContainer` answers after this many milliseconds.
    create_delay_ms: std::sync::atomic::AtomicU64,
    oom: Mutex<OomMode>,
    oom_calls: std::sync::atomic::AtomicUsize,
    /// `ReadStdout` never reaches end of file.
    hold_stdout: std::sync::atomic::AtomicBool,
}

impl FakeAgent {
    fn log(&self, call: impl Into<String>) {
        self.calls.lock().expect("lock").push(call.into());
    }
    fn calls(&self) -> Vec<String> {
        self.calls.lock().expect("lock").clone()
    }
    fn exit_with(&self, code: i32) {
        *self.exit_code.lock().expect("lock") = Some(code);
        self.exit.notify_waiters();
    }
}

#[async_trait]
impl Agent for FakeAgent {
    async fn create_sandbox(&self, req: SandboxRequest) -> AgentResult<()> {
        self.log(format!("CreateSandbox {}", req.storages[0].driver));
        Ok(())
    }
    async fn destroy_sandbox(&self) -> AgentResult<()> {
        self.log("DestroySandbox");
        Ok(())
    }
    async fn check(&self, _timeout: Duration) -> AgentResult<()> {
        self.log("Check");
        if self.block_check.load(std::sync::atomic::Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
        Ok(())
    }
    async fn create_container(&self, req: ContainerRequest) -> AgentResult<()> {
        self.log(format!("CreateContainer {}", req.container_id));
        if self.block_create.load(std::sync::atomic::Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
        let delay = self
            .create_delay_ms
            .load(std::sync::atomic::Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(delay)).await;
        self.created.lock().expect("lock").push(req);
        Ok(())
    }
    async fn start_container(&self, id: &str) -> AgentResult<()> {
        self.log(format!("StartContainer {id}"));
        Ok(())
    }
    async fn remove_container(&self, id: &str, _t: u32) -> AgentResult<()> {
        self.log(format!("RemoveContainer {id}"));
        Ok(())
    }
    async fn exec_process(&self, _c: &str, eid: &str, _p: OciProcess) -> AgentResult<()> {
        self.log(format!("ExecProcess {eid}"));
        if self.block_exec.load(std::sync::atomic::Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
        Ok(())
    }
    async fn signal_process(&self, _c: &str, eid: &str, sig: u32) -> AgentResult<()> {
        self.log(format!("SignalProcess {eid} {sig}"));
        if self.block_signal.load(std::sync::atomic::Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
        Ok(())
    }
    async fn wait_process(&self, _c: &str, _e: &str) -> AgentResult<i32> {
        loop {
            let notified = self.exit.notified();
            if let Some(code) = *self.exit_code.lock().expect("lock") {
                return Ok(code);
            }
            notified.await;
        }
    }
    async fn write_stdin(&self, _c: &str, _e: &str, d: &[u8]) -> AgentResult<usize> {
        Ok(d.len())
    }
    async fn close_stdin(&self, _c: &str, e: &str) -> AgentResult<()> {
        self.log(format!("CloseStdin {e}"));
        Ok(())
    }
    async fn read_stdout(&self, _c: &str, _e: &str, _len: u32) -> AgentResult<Vec<u8>> {
        if self.hold_stdout.load(std::sync::atomic::Ordering::SeqCst) {
            // A child of the process still holds its stdout: no end of file.
            std::future::pending::<()>().await;
        }
        // Slow output: the exit is known long before the last bytes arrive.
        tokio::time::sleep(Duration::from_millis(30)).await;
        Ok(self
            .stdout
            .lock()
            .expect("lock")
            .pop_front()
            .unwrap_or_default())
    }
    async fn read_stderr(&self, _c: &str, _e: &str, _len: u32) -> AgentResult<Vec<u8>> {
        Ok(Vec::new())
    }
    async fn tty_win_resize(&self, _c: &str, _e: &str, r: u32, c: u32) -> AgentResult<()> {
        self.log(format!("TtyWinResize {r}x{c}"));
        Ok(())
    }
    async fn stats_container(&self, _c: &str) -> AgentResult<ContainerStats> {
        Ok(ContainerStats::default())
    }
    async fn pause_container(&self, _c: &str) -> AgentResult<()> {
        Ok(())
    }
    async fn resume_container(&self, _c: &str) -> AgentResult<()> {
        Ok(())
    }
    async fn update_container(&self, _c: &str, _r: LinuxResources) -> AgentResult<()> {
        Ok(())
    }
    async fn update_interface(&self, i: &kata_netlink::Interface) -> AgentResult<()> {
        self.log(format!("update_interface {}", i.name));
        Ok(())
    }
    async fn update_routes(&self, _r: &[kata_netlink::Route]) -> AgentResult<()> {
        Ok(())
    }
    async fn get_oom_event(&self) -> AgentResult<String> {
        self.oom_calls
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let mode = *self.oom.lock().expect("lock");
        match mode {
            OomMode::Unimplemented => {
                Err(AgentError::new(ErrorKind::Unimplemented, "no oom events"))
            }
            OomMode::Failing => Err(AgentError::new(ErrorKind::Unavailable, "ttrpc: closed")),
            OomMode::Flood => Ok("sb1".into()),
        }
    }
}

struct FakeVm {
    dead: watch::Sender<bool>,
}

#[async_trait]
impl VmControl for FakeVm {
    fn pid(&self) -> u32 {
        4242
    }
    async fn exited(&self) {
        let mut rx = self.dead.subscribe();
        let _ = rx.wait_for(|d| *d).await;
    }
    async fn stop(&self) {
        let _ = self.dead.send(true);
    }
}

struct FakeLauncher {
    agent: Arc<FakeAgent>,
    dead: watch::Sender<bool>,
    fail: bool,
    marker: PathBuf,
}

#[async_trait]
impl VmLauncher for FakeLauncher {
    async fn launch(
        &self,
        plan: &LaunchPlan,
        log: &mut StepLog,
    ) -> std::result::Result<Launched, Box<dyn std::error::Error + Send + Sync>> {
        assert!(plan.shared_dir.ends_with("shared"));
        std::fs::write(&self.marker, b"daemon")?;
        log.push(CleanupStep::RemoveFile {
            path: self.marker.clone(),
        });
        // Persisted at once: a shim killed now would still find the daemon in the state.
        let state_file = plan
            .vm_dir
            .parent()
            .and_then(|p| p.parent())
            .map(|r| r.join("sbs/sb1/state.json"));
        let persisted = state_file
            .and_then(|f| std::fs::read_to_string(f).ok())
            .unwrap_or_default();
        assert!(
            persisted.contains("daemon.marker"),
            "step not persisted: {persisted}"
        );
        if self.fail {
            return Err("qemu exited during boot".into());
        }
        Ok(Launched {
            vm: Box::new(FakeVm {
                dead: self.dead.clone(),
            }),
            agent: self.agent.clone(),
            channel: crate::vm::GuestChannel {
                agent_url: "hvsock:///fake/kata.hvsock:1024".into(),
                debug_console_vport: Some(1026),
            },
        })
    }
}

struct Rig {
    _dir: tempfile::TempDir,
    root: PathBuf,
    agent: Arc<FakeAgent>,
    dead: watch::Sender<bool>,
    marker: PathBuf,
    handle: SandboxHandle,
    events: mpsc::UnboundedReceiver<Event>,
    layout: Layout,
}

impl Drop for Rig {
    /// A failed assertion must not leave mounts behind: detach whatever is still below root.
    fn drop(&mut self) {
        let table = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
        let mut points: Vec<&str> = table
            .lines()
            .filter_map(|l| l.split_whitespace().nth(1))
            .filter(|m| Path::new(m).starts_with(&self.root))
            .collect();
        points.sort_by_key(|p| std::cmp::Reverse(p.len()));
        for p in points {
            let _ = nix::mount::umount2(p, nix::mount::MntFlags::MNT_DETACH);
        }
    }
}

fn rig(fail: bool) -> Option<Rig> {
    rig_with(fail, SandboxOptions::default(), FakeAgent::default())
}

fn rig_with(fail: bool, options: SandboxOptions, agent: FakeAgent) -> Option<Rig> {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: needs root (mounts)");
        return None;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().to_owned();
    let layout = Layout::new(
        "sb1",
        Roots {
            shared: root.join("shared"),
            state: root.join("sbs"),
            vm: root.join("vm"),
        },
    );
    let agent = Arc::new(agent);
    let (dead, _) = watch::channel(false);
    let marker = root.join("daemon.marker");
    let launcher = Arc::new(FakeLauncher {
        agent: agent.clone(),
        dead: dead.clone(),
        fail,
        marker: marker.clone(),
    });
    let (tx, events) = mpsc::unbounded_channel();
    let handle = spawn_sandbox(layout.clone(), options, launcher, tx);
    Some(Rig {
        _dir: dir,
        root,
        agent,
        dead,
        marker,
        handle,
        events,
        layout,
    })
}

fn bundle(root: &Path, id: &str) -> PathBuf {
    let b = root.join(format!("bundle-{id}"));
    std::fs::create_dir_all(b.join("rootfs/bin")).expect("mkdir");
    let spec: Spec = serde_json::from_str(
        r#"{"ociVersion":"1.0.2","root":{"path":"rootfs"},
            "process":{"user":{"uid":0,"gid":0},"args":["uname","-a"],"cwd":"/"},
            "mounts":[{"destination":"/proc","type":"proc","source":"proc"}]}"#,
    )
    .expect("spec");
    std::fs::write(
        b.join("config.json"),
        serde_json::to_vec(&spec).expect("json"),
    )
    .expect("w");
    b
}

fn create_req(root: &Path, id: &str, stdout: Option<PathBuf>) -> CreateContainer {
    CreateContainer {
        id: id.into(),
        bundle: bundle(root, id),
        rootfs: Vec::new(),
        io: ProcessIo {
            stdout,
            ..Default::default()
        },
    }
}

fn drain(rx: &mut mpsc::UnboundedReceiver<Event>) -> Vec<Event> {
    let mut out = Vec::new();
    while let Ok(e) = rx.try_recv() {
        out.push(e);
    }
    out
}

#[tokio::test]
async fn run_wait_delete_emits_containerd_order_and_cleans_up() {
    let Some(mut r) = rig(false) else { return };
    let out = r.root.join("stdout");
    std::fs::write(&out, b"").expect("stdout file");
    r.agent
        .stdout
        .lock()
        .expect("lock")
        .extend([b"Linux ".to_vec(), b"guest\n".to_vec()]);

    assert_eq!(
        r.handle.boot(BootRequest::default()).await.expect("boot"),
        4242
    );
    assert!(r.layout.shared_dir().is_dir());
    let pid = r
        .handle
        .create_container(create_req(&r.root, "sb1", Some(out.clone())))
        .await
        .expect("create");
    assert_eq!(pid, 4242);
    {
        let created = r.agent.created.lock().expect("lock");
        let root = created[0]
            .spec
            .root()
            .as_ref()
            .expect("root")
            .path()
            .clone();
        assert_eq!(
            root,
            PathBuf::from("/run/kata-containers/shared/containers/sb1/rootfs")
        );
    }
    assert!(
        r.layout.rootfs_host("sb1").join("bin").is_dir(),
        "rootfs mounted"
    );
    r.handle
        .start(ProcessRef::new("sb1", None))
        .await
        .expect("start");
    r.agent.exit_with(0);
    let status = r
        .handle
        .wait(ProcessRef::new("sb1", None))
        .await
        .expect("wait");
    assert_eq!(status.code, 0);
    // The exit is reported only after stdout reached the FIFO.
    assert_eq!(std::fs::read(&out).expect("read"), b"Linux guest\n");
    let info = r
        .handle
        .state(ProcessRef::new("sb1", None))
        .await
        .expect("state");
    assert_eq!(info.state, ProcessState::Stopped);

    let deleted = r
        .handle
        .delete(ProcessRef::new("sb1", None))
        .await
        .expect("delete");
    assert_eq!(deleted.exit.map(|e| e.code), Some(0));
    let events = drain(&mut r.events);
    let names: Vec<&str> = events
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
    let calls = r.agent.calls();
    assert_eq!(calls[0], "CreateSandbox virtio-fs");
    assert!(
        calls.contains(&"RemoveContainer sb1".to_string()),
        "{calls:?}"
    );
    assert!(calls.contains(&"DestroySandbox".to_string()), "{calls:?}");
    assert!(*r.dead.borrow(), "vm stopped");
    assert!(!r.marker.exists(), "launcher's resources released");
    assert!(!r.layout.sandbox_dir().exists(), "shared dirs removed");
    assert!(!r.layout.state_dir().exists(), "state removed");
    assert!(!r.layout.vm_dir().exists(), "vm dir removed");
}

#[tokio::test]
async fn exec_emits_added_started_exit() {
    let Some(mut r) = rig(false) else { return };
    r.handle.boot(BootRequest::default()).await.expect("boot");
    r.handle
        .create_container(create_req(&r.root, "sb1", None))
        .await
        .expect("create");
    r.handle
        .start(ProcessRef::new("sb1", None))
        .await
        .expect("start");
    let exec = ExecProcess {
        container_id: "sb1".into(),
        exec_id: "e1".into(),
        process: OciProcess::default(),
        io: ProcessIo::default(),
    };
    r.handle.exec(exec.clone()).await.expect("exec");
    let dup = r.handle.exec(exec).await.expect_err("duplicate");
    assert_eq!(dup.kind(), ErrorKind::AlreadyExists);
    let e1 = ProcessRef::new("sb1", Some("e1".into()));
    r.handle.start(e1.clone()).await.expect("start exec");
    r.handle
        .resize_pty(e1.clone(), 24, 80)
        .await
        .expect("resize");
    r.agent.exit_with(3);
    assert_eq!(r.handle.wait(e1.clone()).await.expect("wait").code, 3);
    r.handle.delete(e1).await.expect("delete exec");
    let events = drain(&mut r.events);
    assert!(matches!(events[2], Event::ExecAdded { .. }), "{events:?}");
    assert!(matches!(events[3], Event::ExecStarted { .. }), "{events:?}");
    assert!(r.agent.calls().contains(&"TtyWinResize 24x80".to_string()));
    r.handle
        .delete(ProcessRef::new("sb1", None))
        .await
        .expect("delete");
}

#[tokio::test]
async fn vm_death_fails_running_processes_with_255() {
    let Some(mut r) = rig(false) else { return };
    r.handle.boot(BootRequest::default()).await.expect("boot");
    r.handle
        .create_container(create_req(&r.root, "sb1", None))
        .await
        .expect("create");
    r.handle
        .start(ProcessRef::new("sb1", None))
        .await
        .expect("start");
    let _ = r.dead.send(true);
    let status = tokio::time::timeout(
        Duration::from_secs(5),
        r.handle.wait(ProcessRef::new("sb1", None)),
    )
    .await
    .expect("noticed at once")
    .expect("wait");
    assert_eq!(status.code, VM_DIED_EXIT_CODE);
    let err = r
        .handle
        .kill(ProcessRef::new("sb1", None), 10)
        .await
        .expect_err("finished");
    assert_eq!(err.kind(), ErrorKind::NotFound);
    r.handle
        .kill(ProcessRef::new("sb1", None), 9)
        .await
        .expect("SIGKILL of a finished process is fine");
    r.handle
        .delete(ProcessRef::new("sb1", None))
        .await
        .expect("delete");
    assert!(drain(&mut r.events)
        .iter()
        .any(|e| matches!(e, Event::Exited { status, .. } if status.code == 255)));
    assert!(!r.layout.sandbox_dir().exists());
}

#[tokio::test]
async fn errors_carry_their_kind() {
    let Some(r) = rig(false) else { return };
    let err = r
        .handle
        .create_container(create_req(&r.root, "c1", None))
        .await
        .expect_err("no vm yet");
    assert_eq!(err.kind(), ErrorKind::FailedPrecondition);
    r.handle.boot(BootRequest::default()).await.expect("boot");
    let err = r
        .handle
        .start(ProcessRef::new("nope", None))
        .await
        .expect_err("missing");
    assert_eq!(err.kind(), ErrorKind::NotFound);
    r.handle
        .create_container(create_req(&r.root, "sb1", None))
        .await
        .expect("create");
    let err = r
        .handle
        .create_container(create_req(&r.root, "sb1", None))
        .await
        .expect_err("dup");
    assert_eq!(err.kind(), ErrorKind::AlreadyExists);
    r.handle
        .start(ProcessRef::new("sb1", None))
        .await
        .expect("start");
    let err = r
        .handle
        .delete(ProcessRef::new("sb1", None))
        .await
        .expect_err("running");
    assert_eq!(err.kind(), ErrorKind::FailedPrecondition);
    let err = r
        .handle
        .create_container(create_req(&r.root, "../x", None))
        .await
        .expect_err("bad id");
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert!(
        !r.handle.shutdown().await.expect("shutdown"),
        "containers remain"
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
    assert!(!r.layout.sandbox_dir().exists());
}

#[tokio::test]
async fn a_failed_boot_releases_what_it_took() {
    let Some(r) = rig(true) else { return };
    let err = r
        .handle
        .boot(BootRequest::default())
        .await
        .expect_err("boot fails");
    assert_eq!(err.kind(), ErrorKind::Internal);
    assert!(!r.marker.exists(), "launcher step undone");
    assert!(!r.layout.sandbox_dir().exists(), "shared dirs undone");
    assert!(!r.layout.state_dir().exists(), "no state left");
}

#[tokio::test]
async fn no_room_for_the_state_fails_the_boot_before_anything_is_taken() {
    let Some(r) = rig(false) else { return };
    // A full file system under the state root: directories fit, file content does not.
    let state_root = r.root.join("sbs");
    std::fs::create_dir_all(&state_root).expect("mkdir");
    nix::mount::mount(
        Some("tmpfs"),
        &state_root,
        Some("tmpfs"),
        nix::mount::MsFlags::empty(),
        Some("size=4k"),
    )
    .expect("mount tmpfs");
    {
        use std::io::Write;
        let mut filler = std::fs::File::create(state_root.join("filler")).expect("filler");
        while filler.write_all(&[0u8; 4096]).is_ok() {}
    }
    let err = r
        .handle
        .boot(BootRequest::default())
        .await
        .expect_err("no room for the state");
    let text = format!(
        "{err}: {}",
        std::error::Error::source(&err)
            .map(ToString::to_string)
            .unwrap_or_default()
    );
    assert!(
        text.contains(&*r.layout.state_dir().to_string_lossy()) && text.contains("No space left"),
        "{text}"
    );
    assert!(!r.marker.exists(), "the vm was launched without a state");
    assert!(!r.layout.sandbox_dir().exists(), "shared dirs left");
    assert!(!r.layout.state_dir().exists(), "state dir left");
}

#[tokio::test]
async fn exit_is_reported_when_the_stdout_fifo_has_no_reader() {
    // `ctr run -d` opens the FIFOs, starts the task and goes away: nobody reads stdout.
    let dir = tempfile::tempdir().expect("tempdir");
    let fifo = dir.path().join("stdout");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).expect("mkfifo");
    let agent = Arc::new(FakeAgent::default());
    agent.exit_with(0);
    let io = ProcessIo {
        stdin: None,
        stdout: Some(fifo),
        stderr: None,
        terminal: false,
        log: None,
    };
    let (_pumps, mut rx) = start_pumps(&agent, None, &io);
    let got = tokio::time::timeout(Duration::from_secs(10), rx.recv()).await;
    assert!(
        matches!(
            got,
            Ok(Some(super::actor::Internal::Exited { code: 0, .. }))
        ),
        "the exit was held back by a FIFO without a reader"
    );
}

#[tokio::test]
async fn without_stdin_the_process_reads_end_of_file_at_once() {
    let agent = Arc::new(FakeAgent::default());
    let (_pumps, _rx) = start_pumps(&agent, None, &ProcessIo::default());
    for _ in 0..100 {
        if agent.calls().contains(&"CloseStdin c1".to_string()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("stdin left open: {:?}", agent.calls());
}

#[tokio::test]
async fn an_exit_is_reported_after_the_grace_when_a_child_holds_the_output() {
    // `ctr task exec ... sh -c 'sleep 60 &'`: the sleep keeps stdout open past the exit.
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("stdout");
    std::fs::write(&out, b"").expect("stdout file");
    let agent = Arc::new(FakeAgent::default());
    agent
        .hold_stdout
        .store(true, std::sync::atomic::Ordering::SeqCst);
    agent.exit_with(0);
    let io = ProcessIo {
        stdout: Some(out),
        ..Default::default()
    };
    let started = std::time::Instant::now();
    let (pumps, mut rx) = start_pumps(&agent, Some("e1"), &io);
    let got = tokio::time::timeout(Duration::from_secs(10), rx.recv()).await;
    assert!(
        matches!(
            got,
            Ok(Some(super::actor::Internal::Exited { code: 0, .. }))
        ),
        "no exit while the output stays open"
    );
    let took = started.elapsed();
    assert!(
        took >= super::io::OUTPUT_GRACE,
        "reported before the grace: {took:?}"
    );
    drop(pumps);
}

#[tokio::test]
async fn a_log_file_gets_both_streams_and_is_created() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("sub-log");
    let agent = Arc::new(FakeAgent::default());
    agent
        .stdout
        .lock()
        .expect("lock")
        .extend([b"hello\n".to_vec()]);
    agent.exit_with(0);
    let io = ProcessIo {
        stdout: Some(PathBuf::from("file:///ignored")),
        log: Some(crate::types::LogSink::File(log.clone())),
        ..Default::default()
    };
    let (_pumps, mut rx) = start_pumps(&agent, None, &io);
    let _ = tokio::time::timeout(Duration::from_secs(10), rx.recv()).await;
    assert_eq!(std::fs::read_to_string(&log).expect("log"), "hello\n");
}

#[tokio::test]
async fn stdin_stays_open_after_the_client_detaches_until_close_io() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fifo = dir.path().join("stdin");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).expect("mkfifo");
    let agent = Arc::new(FakeAgent::default());
    let io = ProcessIo {
        stdin: Some(fifo.clone()),
        ..Default::default()
    };
    let (mut pumps, _rx) = start_pumps(&agent, None, &io);
    // The client writes and goes away (`ctr run -d`).
    std::fs::write(&fifo, b"data").expect("client writes");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let closed = |a: &FakeAgent| a.calls().contains(&"CloseStdin c1".to_string());
    assert!(!closed(&agent), "stdin closed when the client detached");
    assert!(pumps.close_stdin(), "a stdin copy runs");
    for _ in 0..100 {
        if closed(&agent) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("CloseIO did not close stdin: {:?}", agent.calls());
}

/// Starts the stream copies and exit watcher of process `c1` (or its exec `exec`) as the sandbox
/// task does; the receiver gets the watcher's `Exited`.
fn start_pumps(
    agent: &Arc<FakeAgent>,
    exec: Option<&str>,
    io: &ProcessIo,
) -> (
    super::io::IoPumps,
    mpsc::UnboundedReceiver<super::actor::Internal>,
) {
    let (tx, rx) = mpsc::unbounded_channel();
    let pumps = super::io::spawn_process_io(
        agent.clone(),
        crate::types::ProcessRef::new("c1", exec.map(str::to_owned)),
        exec.unwrap_or("c1").to_owned(),
        io,
        tx,
    );
    (pumps, rx)
}
