//! Runs the real `kata-agent` binary as an ordinary process (not PID 1) on a Unix socket and drives
//! it with the generated ttRPC client: a busybox container is created, started, its output read and
//! its exit code collected, an exec'd process and a signal are exercised, and error codes checked.
//!
//! Needs root (namespaces, cgroups, mounts) and a static busybox at /usr/bin/busybox or /bin/busybox;
//! skips with a message otherwise. Everything lives in a temporary directory.
//!
//! The same scenario runs against an agent inside a VM when `KATA_AGENT_TEST_HVSOCK` names the
//! hybrid-vsock socket of a booted guest and `KATA_AGENT_TEST_SHARE` the host directory shared with
//! it as virtio-fs tag `kataShared` (a manual check; CI's VM tests live in tests/vm).

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use kata_protocols::agent as pb;
use kata_protocols::agent_ttrpc::AgentServiceClient;
use kata_protocols::health;
use kata_protocols::health_ttrpc::HealthClient;
use kata_protocols::oci;
use ttrpc::context;
use ttrpc::r#async::Client;

const TIMEOUT_NS: i64 = 20_000_000_000;

fn ctx() -> context::Context {
    context::with_timeout(TIMEOUT_NS)
}

fn busybox() -> Option<PathBuf> {
    ["/usr/bin/busybox", "/bin/busybox"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

fn skip_reason() -> Option<String> {
    if !nix::unistd::Uid::effective().is_root() {
        return Some("needs root".into());
    }
    if busybox().is_none() {
        return Some("needs busybox".into());
    }
    None
}

struct Agent {
    /// The agent process (local mode only).
    child: Option<Child>,
    _dir: tempfile::TempDir,
    /// Host directory the agent sees as /run/kata-containers/shared/containers.
    shared: PathBuf,
    sock: String,
    /// Hybrid-vsock socket of a VM (remote mode).
    hvsock: Option<PathBuf>,
}

impl Drop for Agent {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
            remove_parent_cgroups();
        }
    }
}

fn spawn_agent() -> Agent {
    let dir = tempfile::tempdir().expect("tempdir");
    if let (Some(hv), Some(share)) = (
        std::env::var_os("KATA_AGENT_TEST_HVSOCK"),
        std::env::var_os("KATA_AGENT_TEST_SHARE"),
    ) {
        return Agent {
            child: None,
            _dir: dir,
            shared: PathBuf::from(share),
            sock: String::new(),
            hvsock: Some(PathBuf::from(hv)),
        };
    }
    let root = dir.path().to_path_buf();
    let sock = format!("unix://{}", root.join("agent.sock").display());
    let child = Command::new(env!("CARGO_BIN_EXE_kata-agent"))
        .env("KATA_AGENT_SERVER_ADDR", &sock)
        .env("KATA_AGENT_TEST_ROOT", &root)
        .env("KATA_AGENT_LOG_LEVEL", "debug")
        .spawn()
        .expect("spawn agent");
    Agent {
        child: Some(child),
        _dir: dir,
        shared: root.join("run-kata-containers/shared/containers"),
        sock,
        hvsock: None,
    }
}

async fn connect(agent: &Agent) -> Client {
    match &agent.hvsock {
        Some(path) => connect_hybrid(path).await,
        None => connect_unix(&agent.sock).await,
    }
}

/// Hybrid vsock: `CONNECT 1024\n`, expect `OK ...\n`, then ttRPC on the same stream.
async fn connect_hybrid(path: &Path) -> Client {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(mut s) = tokio::net::UnixStream::connect(path).await {
            if s.write_all(b"CONNECT 1024\n").await.is_ok() {
                let mut line = Vec::new();
                let mut b = [0u8; 1];
                while s.read(&mut b).await.unwrap_or(0) == 1 && b[0] != b'\n' {
                    line.push(b[0]);
                }
                if line.starts_with(b"OK") {
                    return Client::new(ttrpc::r#async::transport::Socket::new(s));
                }
            }
        }
        assert!(
            Instant::now() < deadline,
            "no agent behind {}",
            path.display()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn connect_unix(sock: &str) -> Client {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match Client::connect(sock).await {
            Ok(c) => return c,
            Err(e) if Instant::now() > deadline => panic!("agent did not listen on {sock}: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// busybox rootfs at <run root>/shared/containers/<cid>/rootfs.
fn make_rootfs(agent: &Agent, cid: &str) -> PathBuf {
    let rootfs = agent.shared.join(cid).join("rootfs");
    for d in ["bin", "proc", "dev", "tmp", "etc"] {
        std::fs::create_dir_all(rootfs.join(d)).expect("mkdir");
    }
    std::fs::copy(busybox().expect("busybox"), rootfs.join("bin/busybox")).expect("copy busybox");
    for applet in ["sh", "sleep", "cat", "echo"] {
        std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(applet)).expect("symlink");
    }
    rootfs
}

fn process(args: &[&str]) -> oci::Process {
    let mut p = oci::Process::new();
    p.Args = args.iter().map(|s| s.to_string()).collect();
    p.Env = vec!["PATH=/bin".into()];
    p.Cwd = "/".into();
    p.User = Some(oci::User::new()).into();
    p
}

fn spec(cid: &str, args: &[&str]) -> oci::Spec {
    let mut s = oci::Spec::new();
    s.Version = "1.0.2".into();
    s.Process = Some(process(args)).into();
    let mut root = oci::Root::new();
    root.Path = format!("/run/kata-containers/shared/containers/{cid}/rootfs");
    s.Root = Some(root).into();
    let mut proc_mount = oci::Mount::new();
    proc_mount.destination = "/proc".into();
    proc_mount.source = "proc".into();
    proc_mount.type_ = "proc".into();
    let mut dev = oci::Mount::new();
    dev.destination = "/dev".into();
    dev.source = "tmpfs".into();
    dev.type_ = "tmpfs".into();
    dev.options = vec!["nosuid".into(), "mode=755".into()];
    let mut pts = oci::Mount::new();
    pts.destination = "/dev/pts".into();
    pts.source = "devpts".into();
    pts.type_ = "devpts".into();
    pts.options = vec![
        "nosuid".into(),
        "noexec".into(),
        "newinstance".into(),
        "ptmxmode=0666".into(),
        "mode=0620".into(),
    ];
    s.Mounts = vec![proc_mount, dev, pts];
    let mut linux = oci::Linux::new();
    linux.Namespaces = ["pid", "mount", "ipc", "uts"]
        .iter()
        .map(|t| {
            let mut n = oci::LinuxNamespace::new();
            n.Type = t.to_string();
            n
        })
        .collect();
    linux.CgroupsPath = format!("/kata-agent-test/{cid}");
    s.Linux = Some(linux).into();
    s
}

async fn read_all(client: &AgentServiceClient, cid: &str, exec_id: &str, stderr: bool) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let mut req = pb::ReadStreamRequest::new();
        req.container_id = cid.into();
        req.exec_id = exec_id.into();
        req.len = 4096;
        let r = if stderr {
            client.read_stderr(ctx(), &req).await
        } else {
            client.read_stdout(ctx(), &req).await
        };
        match r {
            Ok(resp) => out.extend_from_slice(&resp.data),
            Err(_) => return out,
        }
    }
}

async fn wait(client: &AgentServiceClient, cid: &str, exec_id: &str) -> i32 {
    let mut req = pb::WaitProcessRequest::new();
    req.container_id = cid.into();
    req.exec_id = exec_id.into();
    client.wait_process(ctx(), &req).await.expect("wait").status
}

fn code_of(err: ttrpc::Error) -> ttrpc::Code {
    match err {
        ttrpc::Error::RpcStatus(s) => s.code(),
        other => panic!("not a status: {other:?}"),
    }
}

async fn create_and_start(client: &AgentServiceClient, cid: &str, args: &[&str]) {
    let mut req = pb::CreateContainerRequest::new();
    req.container_id = cid.into();
    req.exec_id = cid.into();
    req.OCI = Some(spec(cid, args)).into();
    client
        .create_container(ctx(), &req)
        .await
        .expect("create container");
    let mut start = pb::StartContainerRequest::new();
    start.container_id = cid.into();
    client
        .start_container(ctx(), &start)
        .await
        .expect("start container");
}

async fn remove(client: &AgentServiceClient, cid: &str) {
    let mut req = pb::RemoveContainerRequest::new();
    req.container_id = cid.into();
    client
        .remove_container(ctx(), &req)
        .await
        .expect("remove container");
}

#[tokio::test(flavor = "current_thread")]
async fn container_lifecycle_through_the_agent() {
    if let Some(why) = skip_reason() {
        eprintln!("skipping: {why}");
        return;
    }
    let mut agent = spawn_agent();
    let conn = connect(&agent).await;
    let health = HealthClient::new(conn.clone());
    let client = AgentServiceClient::new(conn);

    let check = health
        .check(ctx(), &health::CheckRequest::new())
        .await
        .expect("check");
    assert_eq!(
        check.status.enum_value_or_default(),
        health::health_check_response::ServingStatus::SERVING
    );

    let mut sb = pb::CreateSandboxRequest::new();
    sb.sandbox_id = "sb1".into();
    if agent.hvsock.is_some() {
        let mut share = pb::Storage::new();
        share.driver = "virtio-fs".into();
        share.source = "kataShared".into();
        share.fstype = "virtiofs".into();
        share.mount_point = "/run/kata-containers/shared/containers".into();
        sb.storages = vec![share];
    }
    client
        .create_sandbox(ctx(), &sb)
        .await
        .expect("create sandbox");

    // Output, error output and exit code of the container's init.
    make_rootfs(&agent, "c1");
    create_and_start(
        &client,
        "c1",
        &["sh", "-c", "echo out; echo err >&2; exit 7"],
    )
    .await;
    let (out, err) = tokio::join!(
        read_all(&client, "c1", "", false),
        read_all(&client, "c1", "", true)
    );
    assert_eq!(String::from_utf8_lossy(&out), "out\n");
    assert_eq!(String::from_utf8_lossy(&err), "err\n");
    assert_eq!(wait(&client, "c1", "").await, 7);
    remove(&client, "c1").await;

    // A long-running container: stdin round trip through exec, then SIGTERM to the init.
    make_rootfs(&agent, "c2");
    create_and_start(
        &client,
        "c2",
        &[
            "sh",
            "-c",
            "trap 'exit 3' TERM; while true; do sleep 0.1; done",
        ],
    )
    .await;
    // Freezer and cgroup numbers.
    let mut pause = pb::PauseContainerRequest::new();
    pause.container_id = "c2".into();
    client.pause_container(ctx(), &pause).await.expect("pause");
    let again = client
        .pause_container(ctx(), &pause)
        .await
        .expect_err("paused twice");
    assert_eq!(code_of(again), ttrpc::Code::FAILED_PRECONDITION);
    let mut resume = pb::ResumeContainerRequest::new();
    resume.container_id = "c2".into();
    client
        .resume_container(ctx(), &resume)
        .await
        .expect("resume");
    let mut stats = pb::StatsContainerRequest::new();
    stats.container_id = "c2".into();
    let st = client.stats_container(ctx(), &stats).await.expect("stats");
    if agent.hvsock.is_some() {
        // cgroup v2 in the guest (the host of this test may still be on v1).
        let mut update = pb::UpdateContainerRequest::new();
        update.container_id = "c2".into();
        let mut res = oci::LinuxResources::new();
        let mut pids = oci::LinuxPids::new();
        pids.Limit = 50;
        res.Pids = Some(pids).into();
        update.resources = Some(res).into();
        client
            .update_container(ctx(), &update)
            .await
            .expect("update");
        let st = client.stats_container(ctx(), &stats).await.expect("stats");
        let cg = st.cgroup_stats.as_ref().expect("cgroup stats");
        assert!(cg.pids_stats.current >= 1, "{cg:?}");
        assert_eq!(cg.pids_stats.limit, 50);
        assert!(cg.cpu_stats.cpu_usage.total_usage > 0, "{cg:?}");
    }
    drop(st);

    let mut exec = pb::ExecProcessRequest::new();
    exec.container_id = "c2".into();
    exec.exec_id = "e1".into();
    exec.process = Some(process(&["cat"])).into();
    client.exec_process(ctx(), &exec).await.expect("exec");
    let mut w = pb::WriteStreamRequest::new();
    w.container_id = "c2".into();
    w.exec_id = "e1".into();
    w.data = b"ping\n".to_vec();
    assert_eq!(
        client
            .write_stdin(ctx(), &w)
            .await
            .expect("write stdin")
            .len,
        5
    );
    let mut close = pb::CloseStdinRequest::new();
    close.container_id = "c2".into();
    close.exec_id = "e1".into();
    client
        .close_stdin(ctx(), &close)
        .await
        .expect("close stdin");
    let (out, err) = tokio::join!(
        read_all(&client, "c2", "e1", false),
        read_all(&client, "c2", "e1", true)
    );
    assert_eq!(out, b"ping\n");
    assert!(err.is_empty());
    assert_eq!(wait(&client, "c2", "e1").await, 0);
    // Waited for and drained: the exec is forgotten (exec probes must not pile up).
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut gone = pb::WaitProcessRequest::new();
    gone.container_id = "c2".into();
    gone.exec_id = "e1".into();
    let err = client
        .wait_process(ctx(), &gone)
        .await
        .expect_err("forgotten exec");
    assert_eq!(code_of(err), ttrpc::Code::NOT_FOUND);

    let mut sig = pb::SignalProcessRequest::new();
    sig.container_id = "c2".into();
    sig.signal = libc::SIGTERM as u32;
    // The trap is installed once the shell runs; retry the signal until the init exits.
    let waiter = async {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            client.signal_process(ctx(), &sig).await.expect("signal");
            let mut req = pb::WaitProcessRequest::new();
            req.container_id = "c2".into();
            let r =
                tokio::time::timeout(Duration::from_millis(500), client.wait_process(ctx(), &req))
                    .await;
            if let Ok(r) = r {
                return r.expect("wait").status;
            }
            assert!(Instant::now() < deadline, "container ignored SIGTERM");
        }
    };
    assert_eq!(waiter.await, 3);
    remove(&client, "c2").await;

    // A terminal process: the pty is resized before start, and the shell sees the new size.
    make_rootfs(&agent, "c3");
    std::os::unix::fs::symlink("busybox", agent.shared.join("c3/rootfs/bin/stty"))
        .expect("symlink");
    let mut req = pb::CreateContainerRequest::new();
    req.container_id = "c3".into();
    let mut tty_spec = spec("c3", &["stty", "size"]);
    if let Some(p) = tty_spec.Process.as_mut() {
        p.Terminal = true;
    }
    req.OCI = Some(tty_spec).into();
    client
        .create_container(ctx(), &req)
        .await
        .expect("create terminal container");
    let mut resize = pb::TtyWinResizeRequest::new();
    resize.container_id = "c3".into();
    resize.row = 40;
    resize.column = 120;
    client.tty_win_resize(ctx(), &resize).await.expect("resize");
    let mut start = pb::StartContainerRequest::new();
    start.container_id = "c3".into();
    client
        .start_container(ctx(), &start)
        .await
        .expect("start terminal container");
    let out = read_all(&client, "c3", "", false).await;
    assert_eq!(String::from_utf8_lossy(&out).trim_end(), "40 120");
    assert_eq!(wait(&client, "c3", "").await, 0);
    remove(&client, "c3").await;

    // Error codes.
    let mut start = pb::StartContainerRequest::new();
    start.container_id = "nope".into();
    assert_eq!(
        code_of(
            client
                .start_container(ctx(), &start)
                .await
                .expect_err("unknown")
        ),
        ttrpc::Code::NOT_FOUND
    );
    let mut bad = pb::CreateContainerRequest::new();
    bad.container_id = "../x".into();
    bad.OCI = Some(spec("x", &["true"])).into();
    assert_eq!(
        code_of(
            client
                .create_container(ctx(), &bad)
                .await
                .expect_err("bad id")
        ),
        ttrpc::Code::INVALID_ARGUMENT
    );
    let swap = client
        .add_swap(ctx(), &pb::AddSwapRequest::new())
        .await
        .expect_err("unimplemented");
    assert_eq!(code_of(swap), ttrpc::Code::UNIMPLEMENTED);

    client
        .destroy_sandbox(ctx(), &pb::DestroySandboxRequest::new())
        .await
        .expect("destroy");
    let Some(child) = agent.child.as_mut() else {
        return;
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            assert!(status.success(), "agent exit {status:?}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "agent did not exit after DestroySandbox"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The per-container cgroups are removed by the agent; their parent is the test's to remove
/// (cgroup v2, or every v1 hierarchy).
fn remove_parent_cgroups() {
    let root = Path::new("/sys/fs/cgroup");
    let mut parents = vec![root.join("kata-agent-test")];
    if let Ok(entries) = std::fs::read_dir(root) {
        parents.extend(entries.flatten().map(|e| e.path().join("kata-agent-test")));
    }
    for parent in parents {
        // Leftovers of a failed run first (a failing test never reaches RemoveContainer).
        if let Ok(children) = std::fs::read_dir(&parent) {
            for c in children.flatten().filter(|c| c.path().is_dir()) {
                let _ = std::fs::remove_dir(c.path());
            }
        }
        let _ = std::fs::remove_dir(&parent);
    }
}
