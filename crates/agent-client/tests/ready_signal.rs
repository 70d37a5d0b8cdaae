//! The readiness signal against a fake hybrid vsock device that fails the way vhost-device-vsock
//! 0.3.0 does: any host connection made before the guest's rings are live stalls it for good
//! (its vring worker thread ends), so no later `CONNECT` is ever answered.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use kata_agent_client::kata_protocols::health::{
    health_check_response::ServingStatus, CheckRequest, HealthCheckResponse, VersionCheckResponse,
};
use kata_agent_client::kata_protocols::health_ttrpc::{create_health, Health};
use kata_agent_client::{
    AgentAddress, AgentClient, DialOptions, Error, ReadyListener, AGENT_READY_PORT,
};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use ttrpc::r#async::{Server, TtrpcContext};

const AGENT_PORT: u32 = 1024;
/// When the fake guest's rings come up (and its agent listens), after the VM "starts".
const RINGS_UP_AFTER: Duration = Duration::from_millis(400);

struct FakeAgent;

#[async_trait::async_trait]
impl Health for FakeAgent {
    async fn check(
        &self,
        _ctx: &TtrpcContext,
        _req: CheckRequest,
    ) -> ttrpc::Result<HealthCheckResponse> {
        let mut resp = HealthCheckResponse::new();
        resp.status = ServingStatus::SERVING.into();
        Ok(resp)
    }

    async fn version(
        &self,
        _ctx: &TtrpcContext,
        _req: CheckRequest,
    ) -> ttrpc::Result<VersionCheckResponse> {
        Ok(VersionCheckResponse::new())
    }
}

#[derive(Default)]
struct DeviceState {
    rings_up: AtomicBool,
    dead: AtomicBool,
}

/// The fake device on `uds` plus its guest: after [`RINGS_UP_AFTER`] the rings come up, the
/// agent listens and connects to `<uds>_<AGENT_READY_PORT>` once.
async fn start_vm(dir: &Path, uds: &Path) -> (Arc<DeviceState>, Server) {
    let agent_path = dir.join("guest-agent.sock");
    let mut agent = Server::new()
        .bind(&format!("unix://{}", agent_path.display()))
        .expect("bind guest agent")
        .register_service(create_health(Arc::new(FakeAgent)));
    let state = Arc::new(DeviceState::default());
    let listener = UnixListener::bind(uds).expect("bind device socket");
    let device = state.clone();
    tokio::spawn(async move {
        while let Ok((conn, _)) = listener.accept().await {
            if !device.rings_up.load(Ordering::SeqCst) {
                // vhost-device-vsock handles the event before its TX ring is ready: the error
                // ends its worker thread.
                device.dead.store(true, Ordering::SeqCst);
            }
            let (device, agent_path) = (device.clone(), agent_path.clone());
            tokio::spawn(serve(conn, device, agent_path));
        }
    });
    tokio::time::sleep(RINGS_UP_AFTER).await;
    state.rings_up.store(true, Ordering::SeqCst);
    agent.start().await.expect("start guest agent");
    let mut ready_path = uds.as_os_str().to_owned();
    ready_path.push(format!("_{AGENT_READY_PORT}"));
    // The agent's signal; refused when the host has no listener, as with the real device.
    let _ = UnixStream::connect(PathBuf::from(ready_path)).await;
    (state, agent)
}

async fn serve(conn: UnixStream, device: Arc<DeviceState>, agent_path: PathBuf) {
    let mut conn = BufReader::new(conn);
    let mut line = String::new();
    if conn.read_line(&mut line).await.is_err() || device.dead.load(Ordering::SeqCst) {
        // A dead device answers nothing, ever.
        tokio::time::sleep(Duration::from_secs(60)).await;
        return;
    }
    assert_eq!(line, format!("CONNECT {AGENT_PORT}\n"));
    let mut conn = conn.into_inner();
    conn.write_all(format!("OK {AGENT_PORT}\n").as_bytes())
        .await
        .expect("write OK");
    let mut upstream = UnixStream::connect(agent_path).await.expect("reach agent");
    let _ = tokio::io::copy_bidirectional(&mut conn, &mut upstream).await;
}

fn hybrid(uds: &Path) -> AgentAddress {
    AgentAddress::HybridVsock {
        uds_path: uds.to_path_buf(),
        port: AGENT_PORT,
    }
}

#[tokio::test]
async fn waiting_for_the_signal_never_touches_a_device_that_is_not_up() {
    let dir = tempfile::tempdir().expect("tempdir");
    let uds = dir.path().join("kata.hvsock");
    let ready = ReadyListener::bind(&uds).expect("ready listener");
    let vm = tokio::spawn({
        let (dir, uds) = (dir.path().to_path_buf(), uds.clone());
        async move { start_vm(&dir, &uds).await }
    });
    // The device socket exists from the start, like vhost-device-vsock's.
    while !uds.exists() {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let opts = DialOptions::with_timeout(Duration::from_secs(10));
    let client = AgentClient::connect_when_ready(&hybrid(&uds), ready, &opts)
        .await
        .expect("connect after the signal");
    let (state, _agent) = vm.await.expect("vm task");
    assert!(
        !state.dead.load(Ordering::SeqCst),
        "the host touched the device before its rings were up"
    );
    let status = client.check(Duration::from_secs(5)).await.expect("check");
    assert_eq!(status, ServingStatus::SERVING);
    assert!(
        !dir.path()
            .join(format!("kata.hvsock_{AGENT_READY_PORT}"))
            .exists(),
        "the readiness socket outlived the signal"
    );
}

#[tokio::test]
async fn dialling_at_once_stalls_such_a_device() {
    // What the signal prevents: polling the device while the guest boots kills it.
    let dir = tempfile::tempdir().expect("tempdir");
    let uds = dir.path().join("kata.hvsock");
    let vm = tokio::spawn({
        let (dir, uds) = (dir.path().to_path_buf(), uds.clone());
        async move { start_vm(&dir, &uds).await }
    });
    while !uds.exists() {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let mut opts = DialOptions::with_timeout(Duration::from_millis(1500));
    opts.attempt_timeout = Duration::from_millis(300);
    let err = AgentClient::connect_with(&hybrid(&uds), &opts)
        .await
        .expect_err("a stalled device never answers");
    assert!(matches!(err, Error::Timeout { .. }), "{err}");
    let (state, _agent) = vm.await.expect("vm task");
    assert!(state.dead.load(Ordering::SeqCst));
}

#[tokio::test]
async fn no_signal_fails_with_not_ready_within_the_timeout() {
    let dir = tempfile::tempdir().expect("tempdir");
    let uds = dir.path().join("kata.hvsock");
    let ready = ReadyListener::bind(&uds).expect("ready listener");
    let started = std::time::Instant::now();
    let err = AgentClient::connect_when_ready(
        &hybrid(&uds),
        ready,
        &DialOptions::with_timeout(Duration::from_millis(300)),
    )
    .await
    .expect_err("no guest");
    assert!(matches!(err, Error::NotReady { .. }), "{err}");
    assert!(started.elapsed() < Duration::from_secs(2));
}
