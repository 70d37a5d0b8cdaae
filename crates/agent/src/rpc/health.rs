//! `grpc.Health`: SERVING while the agent answers, plus versions.

use async_trait::async_trait;
use kata_protocols::health::{
    health_check_response::ServingStatus, CheckRequest, HealthCheckResponse, VersionCheckResponse,
};
use kata_protocols::health_ttrpc::Health;
use ttrpc::r#async::TtrpcContext;

use super::status::RpcResult;

/// Version of the agent API this agent speaks (Kata's agent.proto of 3.x).
pub const API_VERSION: &str = "0.0.1";

pub struct HealthService;

#[async_trait]
impl Health for HealthService {
    async fn check(&self, _: &TtrpcContext, _: CheckRequest) -> RpcResult<HealthCheckResponse> {
        let mut resp = HealthCheckResponse::new();
        resp.status = ServingStatus::SERVING.into();
        Ok(resp)
    }

    async fn version(&self, _: &TtrpcContext, _: CheckRequest) -> RpcResult<VersionCheckResponse> {
        let mut resp = VersionCheckResponse::new();
        resp.grpc_version = API_VERSION.to_string();
        resp.agent_version = crate::VERSION.to_string();
        Ok(resp)
    }
}
