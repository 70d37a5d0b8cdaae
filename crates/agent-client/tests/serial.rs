//! The serial agent channel against a test double: a Unix socket server standing for QEMU's
//! chardev (ttRPC from the first byte, no handshake) in front of a "guest" Health server.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use kata_agent_client::kata_protocols::health::{
    health_check_response::ServingStatus, CheckRequest, HealthCheckResponse, VersionCheckResponse,
};
use kata_agent_client::kata_protocols::health_ttrpc::{create_health, Health};
use kata_agent_client::{AgentAddress, AgentClient, Error};
use tokio::net::UnixListener;
use ttrpc::r#async::{Server, TtrpcContext};

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

/// The "guest": a ttRPC server whose listener is the chardev socket itself (what the serial
/// port and the agent's bridge amount to, seen from the host).
async fn start_chardev(path: &Path) -> Server {
    let listener = UnixListener::bind(path).expect("bind chardev socket");
    let mut server = Server::new()
        .add_listener(listener.into())
        .register_service(create_health(Arc::new(FakeAgent)));
    server.start().await.expect("start");
    server
}

#[tokio::test]
async fn the_client_speaks_ttrpc_on_the_chardev_socket_at_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("agent.sock");
    let mut server = start_chardev(&path).await;
    let addr: AgentAddress = format!("unix://{}", path.display())
        .parse()
        .expect("address");
    assert_eq!(addr, AgentAddress::Serial { path: path.clone() });
    let client = AgentClient::connect(&addr, Duration::from_secs(5))
        .await
        .expect("connect");
    assert_eq!(
        client.check(Duration::from_secs(5)).await.expect("check"),
        ServingStatus::SERVING
    );
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn dialing_waits_for_the_socket_to_appear() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("agent.sock");
    let addr = AgentAddress::Serial { path: path.clone() };
    let late = {
        let path = path.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            start_chardev(&path).await
        })
    };
    let client = AgentClient::connect(&addr, Duration::from_secs(5))
        .await
        .expect("connect once the socket exists");
    assert_eq!(
        client.check(Duration::from_secs(5)).await.expect("check"),
        ServingStatus::SERVING
    );
    late.await
        .expect("server")
        .shutdown()
        .await
        .expect("shutdown");
}

#[tokio::test]
async fn a_missing_socket_is_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("nobody.sock");
    let addr = AgentAddress::Serial { path: path.clone() };
    let err = AgentClient::connect(&addr, Duration::from_millis(200))
        .await
        .expect_err("nothing listens");
    let Error::Timeout {
        last: Some(last), ..
    } = &err
    else {
        panic!("{err}");
    };
    assert!(
        matches!(&**last, Error::SerialConnect { path: p, .. } if p == &path),
        "{last}"
    );
}
