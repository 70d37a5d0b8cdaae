//! The agent channel against test doubles: a fake hybrid vsock device (a Unix
//! socket that answers the `CONNECT` handshake, then forwards bytes to a
//! "guest" ttRPC Health server, like vhost-device-vsock does).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kata_agent_client::kata_protocols::health::{
    health_check_response::ServingStatus, CheckRequest, HealthCheckResponse, VersionCheckResponse,
};
use kata_agent_client::kata_protocols::health_ttrpc::{create_health, Health};
use kata_agent_client::{hybrid_handshake, AgentAddress, AgentClient, DialOptions, Error};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::task::JoinHandle;
use ttrpc::r#async::{Server, TtrpcContext};

const AGENT_PORT: u32 = 1024;

/// The "guest agent": a Health service that reports SERVING.
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
        let mut resp = VersionCheckResponse::new();
        resp.agent_version = "fake-agent 0.0.1".into();
        resp.grpc_version = "1".into();
        Ok(resp)
    }
}

/// Starts the guest-side ttRPC server on a Unix socket in `dir`.
async fn start_guest_agent(dir: &Path) -> (Server, PathBuf) {
    let path = dir.join("guest-agent.sock");
    let mut server = Server::new()
        .bind(&format!("unix://{}", path.display()))
        .expect("bind guest agent")
        .register_service(create_health(Arc::new(FakeAgent)));
    server.start().await.expect("start guest agent");
    (server, path)
}

/// How the fake device answers a `CONNECT` line.
#[derive(Clone, Copy)]
enum Device {
    /// `OK <port>\n`, then forward to the guest agent.
    Accept,
    /// Reply with this line.
    Reply(&'static str),
    /// Accept the connection, read the request, never answer.
    Silent,
    /// Answer `OK`, then swallow everything (a guest that never replies).
    AcceptThenIgnore,
}

/// Serves the hybrid vsock protocol on `uds` until the task is aborted.
fn start_device(uds: &Path, guest: Option<PathBuf>, mode: Device) -> JoinHandle<()> {
    let listener = UnixListener::bind(uds).expect("bind device socket");
    tokio::spawn(run_device(listener, guest, mode))
}

async fn run_device(listener: UnixListener, guest: Option<PathBuf>, mode: Device) {
    loop {
        let Ok((conn, _)) = listener.accept().await else {
            return;
        };
        let guest = guest.clone();
        tokio::spawn(async move {
            serve_device_conn(conn, guest, mode).await;
        });
    }
}

async fn serve_device_conn(conn: UnixStream, guest: Option<PathBuf>, mode: Device) {
    let mut conn = BufReader::new(conn);
    let mut line = String::new();
    if conn.read_line(&mut line).await.is_err() {
        return;
    }
    assert_eq!(
        line,
        format!("CONNECT {AGENT_PORT}\n"),
        "client request line"
    );
    let mut conn = conn.into_inner();
    match mode {
        Device::Accept => {
            conn.write_all(format!("OK {AGENT_PORT}\n").as_bytes())
                .await
                .expect("write OK");
            let guest = guest.expect("guest agent path");
            let mut upstream = UnixStream::connect(guest).await.expect("reach guest");
            let _ = tokio::io::copy_bidirectional(&mut conn, &mut upstream).await;
        }
        Device::Reply(reply) => {
            let _ = conn.write_all(reply.as_bytes()).await;
        }
        Device::Silent => {
            tokio::time::sleep(Duration::from_secs(30)).await;
        }
        Device::AcceptThenIgnore => {
            let _ = conn
                .write_all(format!("OK {AGENT_PORT}\n").as_bytes())
                .await;
            let _ = tokio::io::copy(&mut conn, &mut tokio::io::sink()).await;
        }
    }
}

fn hybrid(uds: &Path) -> AgentAddress {
    AgentAddress::HybridVsock {
        uds_path: uds.to_path_buf(),
        port: AGENT_PORT,
    }
}

#[tokio::test]
async fn handshake_then_real_health_check() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut guest, guest_path) = start_guest_agent(dir.path()).await;
    let uds = dir.path().join("kata.hvsock");
    let device = start_device(&uds, Some(guest_path), Device::Accept);

    let client = AgentClient::connect(&hybrid(&uds), Duration::from_secs(5))
        .await
        .expect("connect through hybrid vsock");
    let status = client.check(Duration::from_secs(5)).await.expect("check");
    assert_eq!(status, ServingStatus::SERVING);
    let version = client
        .version(Duration::from_secs(5))
        .await
        .expect("version");
    assert_eq!(version.agent_version, "fake-agent 0.0.1");

    device.abort();
    guest.shutdown().await.expect("shutdown guest agent");
}

#[tokio::test]
async fn connect_retries_until_the_device_appears() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut guest, guest_path) = start_guest_agent(dir.path()).await;
    let uds = dir.path().join("late.hvsock");

    let uds2 = uds.clone();
    let late = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let listener = UnixListener::bind(&uds2).expect("bind device socket");
        run_device(listener, Some(guest_path), Device::Accept).await;
    });
    let started = Instant::now();
    let client = AgentClient::connect(&hybrid(&uds), Duration::from_secs(5))
        .await
        .expect("connect once the socket exists");
    assert!(started.elapsed() >= Duration::from_millis(250));
    assert_eq!(
        client.check(Duration::from_secs(5)).await.expect("check"),
        ServingStatus::SERVING
    );

    late.abort();
    guest.shutdown().await.expect("shutdown guest agent");
}

#[tokio::test]
async fn rejected_handshake_reports_the_reply() {
    let (mut host, mut device) = UnixStream::pair().expect("socketpair");
    let fake = tokio::spawn(async move {
        let mut line = String::new();
        let mut reader = BufReader::new(&mut device);
        reader.read_line(&mut line).await.expect("read request");
        device
            .write_all(b"FAILED no listener on port\n")
            .await
            .expect("write reply");
        line
    });
    let err = hybrid_handshake(&mut host, Path::new("/run/test.hvsock"), AGENT_PORT)
        .await
        .expect_err("handshake must be rejected");
    assert_eq!(fake.await.expect("fake device"), "CONNECT 1024\n");
    match &err {
        Error::HandshakeRejected { path, port, reply } => {
            assert_eq!(path, Path::new("/run/test.hvsock"));
            assert_eq!(*port, AGENT_PORT);
            assert_eq!(reply, "FAILED no listener on port");
        }
        other => panic!("unexpected error: {other}"),
    }
    assert!(err.to_string().contains("/run/test.hvsock"), "{err}");
}

#[tokio::test]
async fn connect_gives_up_on_a_device_that_keeps_rejecting() {
    let dir = tempfile::tempdir().expect("tempdir");
    let uds = dir.path().join("nack.hvsock");
    let device = start_device(&uds, None, Device::Reply("NACK\n"));

    let err = AgentClient::connect(&hybrid(&uds), Duration::from_millis(400))
        .await
        .expect_err("never accepted");
    let Error::Timeout { attempts, last, .. } = &err else {
        panic!("unexpected error: {err}");
    };
    assert!(*attempts > 1, "retried: {attempts}");
    assert!(
        matches!(last.as_deref(), Some(Error::HandshakeRejected { reply, .. }) if reply == "NACK"),
        "{last:?}"
    );
    device.abort();
}

#[tokio::test]
async fn connect_times_out_without_a_device() {
    let dir = tempfile::tempdir().expect("tempdir");
    let uds = dir.path().join("missing.hvsock");
    let started = Instant::now();
    let err = AgentClient::connect(&hybrid(&uds), Duration::from_millis(300))
        .await
        .expect_err("nothing listens");
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(300), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
    let Error::Timeout { last, addr, .. } = &err else {
        panic!("unexpected error: {err}");
    };
    assert!(addr.contains("missing.hvsock"), "{addr}");
    match last.as_deref() {
        Some(Error::ConnectError { path, port, .. }) => {
            assert_eq!(path, &uds);
            assert_eq!(*port, AGENT_PORT);
        }
        other => panic!("unexpected last error: {other:?}"),
    }
}

#[tokio::test]
async fn a_silent_device_is_cut_by_the_attempt_timeout() {
    let dir = tempfile::tempdir().expect("tempdir");
    let uds = dir.path().join("silent.hvsock");
    let device = start_device(&uds, None, Device::Silent);
    let opts = DialOptions {
        attempt_timeout: Duration::from_millis(100),
        ..DialOptions::with_timeout(Duration::from_millis(450))
    };
    let err = AgentClient::connect_with(&hybrid(&uds), &opts)
        .await
        .expect_err("no reply ever");
    let Error::Timeout { attempts, last, .. } = &err else {
        panic!("unexpected error: {err}");
    };
    assert!(*attempts >= 2, "attempts {attempts}");
    assert!(
        matches!(last.as_deref(), Some(Error::Handshake { source, .. })
            if source.kind() == std::io::ErrorKind::TimedOut),
        "{last:?}"
    );
    device.abort();
}

#[tokio::test]
async fn check_times_out_when_the_agent_never_answers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let uds = dir.path().join("mute.hvsock");
    let device = start_device(&uds, None, Device::AcceptThenIgnore);
    let client = AgentClient::connect(&hybrid(&uds), Duration::from_secs(5))
        .await
        .expect("handshake succeeds");
    let err = client
        .check(Duration::from_millis(200))
        .await
        .expect_err("no reply");
    assert!(
        matches!(
            err,
            Error::RpcTimeout {
                method: "/grpc.Health/Check",
                ..
            } | Error::Rpc {
                method: "/grpc.Health/Check",
                ..
            }
        ),
        "{err}"
    );
    device.abort();
}

#[tokio::test]
async fn from_fd_talks_to_the_agent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut guest, guest_path) = start_guest_agent(dir.path()).await;
    let stream = std::os::unix::net::UnixStream::connect(&guest_path).expect("connect");
    let client = AgentClient::from_fd(stream.into()).expect("from fd");
    assert_eq!(
        client.check(Duration::from_secs(5)).await.expect("check"),
        ServingStatus::SERVING
    );
    guest.shutdown().await.expect("shutdown guest agent");
}
