//! Kernel vsock dialing. A full round trip needs the `vsock_loopback`
//! transport (CID 1); where the host lacks it the test says so and checks
//! only the error path.

use std::sync::Arc;
use std::time::Duration;

use kata_agent_client::kata_protocols::health::{
    health_check_response::ServingStatus, CheckRequest, HealthCheckResponse,
};
use kata_agent_client::kata_protocols::health_ttrpc::{create_health, Health};
use kata_agent_client::{AgentAddress, AgentClient, DialOptions, Error};
use ttrpc::r#async::{Server, TtrpcContext};

/// VMADDR_CID_LOCAL: the host talking to itself through vsock_loopback.
const CID_LOCAL: u32 = 1;

struct Serving;

#[async_trait::async_trait]
impl Health for Serving {
    async fn check(
        &self,
        _ctx: &TtrpcContext,
        _req: CheckRequest,
    ) -> ttrpc::Result<HealthCheckResponse> {
        let mut resp = HealthCheckResponse::new();
        resp.status = ServingStatus::SERVING.into();
        Ok(resp)
    }
}

#[tokio::test]
async fn unreachable_vsock_names_cid_and_port() {
    // Nothing listens on this port, whatever the host's vsock support.
    let addr = AgentAddress::Vsock {
        cid: CID_LOCAL,
        port: 47_391,
    };
    let err = AgentClient::connect(&addr, Duration::from_millis(300))
        .await
        .expect_err("no listener");
    let cause = match &err {
        Error::Timeout {
            last: Some(last), ..
        } => last.as_ref(),
        other => other,
    };
    match cause {
        Error::VsockConnect { cid, port, .. } => {
            assert_eq!((*cid, *port), (CID_LOCAL, 47_391));
            assert!(cause.to_string().contains("cid 1 port 47391"), "{cause}");
        }
        other => panic!("unexpected error: {other}"),
    }
}

#[tokio::test]
async fn health_check_over_vsock_loopback() {
    let port = 47_392;
    let bound = Server::new().bind(&format!("vsock://-1:{port}"));
    let Ok(server) = bound else {
        eprintln!("skipping: cannot listen on AF_VSOCK here");
        return;
    };
    let mut server = server.register_service(create_health(Arc::new(Serving)));
    server.start().await.expect("start vsock server");

    let addr = AgentAddress::Vsock {
        cid: CID_LOCAL,
        port,
    };
    let opts = DialOptions {
        attempt_timeout: Duration::from_millis(500),
        ..DialOptions::with_timeout(Duration::from_secs(1))
    };
    match AgentClient::connect_with(&addr, &opts).await {
        Ok(client) => {
            let status = client.check(Duration::from_secs(5)).await.expect("check");
            assert_eq!(status, ServingStatus::SERVING);
        }
        Err(err) => eprintln!("skipping: no vsock loopback transport on this host ({err})"),
    }
    server.shutdown().await.expect("shutdown");
}
