//! Typed ttRPC clients over a connected agent stream.

use std::os::fd::OwnedFd;
use std::time::Duration;

use kata_protocols::agent_ttrpc::AgentServiceClient;
use kata_protocols::health::{
    health_check_response::ServingStatus, CheckRequest, VersionCheckResponse,
};
use kata_protocols::health_ttrpc::HealthClient;
use tokio::io::{AsyncRead, AsyncWrite};
use ttrpc::r#async::transport::Socket;
use ttrpc::r#async::Client;

use crate::address::AgentAddress;
use crate::dial::{dial, DialOptions};
use crate::error::{Error, Result};
use crate::ready::ReadyListener;

const CHECK: &str = "/grpc.Health/Check";
const VERSION: &str = "/grpc.Health/Version";

/// A ttRPC connection to the guest agent with its typed service clients.
///
/// Cloning is cheap; all clones share one connection. Everything here must
/// run inside a tokio runtime (the connection is driven by a spawned task).
#[derive(Clone)]
pub struct AgentClient {
    /// `grpc.AgentService` client.
    pub agent: AgentServiceClient,
    /// `grpc.Health` client.
    pub health: HealthClient,
    raw: Client,
}

impl AgentClient {
    /// Connects to `addr`, retrying with a short backoff until the agent
    /// listens or `timeout` passes.
    pub async fn connect(addr: &AgentAddress, timeout: Duration) -> Result<Self> {
        Self::connect_with(addr, &DialOptions::with_timeout(timeout)).await
    }

    /// Like [`AgentClient::connect`] with explicit retry settings.
    pub async fn connect_with(addr: &AgentAddress, opts: &DialOptions) -> Result<Self> {
        let stream = dial(addr, opts).await?;
        Ok(Self::from_socket(stream.into()))
    }

    /// Waits for the guest's readiness signal on `ready` (see [`crate::ReadyListener`]), closes
    /// that listener, then dials `addr` as [`AgentClient::connect_with`] does. `opts.timeout`
    /// bounds the whole: the wait for the signal and the dialing. Use this for hybrid vsock: it
    /// never touches the device's socket before the guest's virtio-vsock rings are live.
    ///
    /// Errors: [`Error::NotReady`] when the signal does not come in time, else those of
    /// [`AgentClient::connect_with`].
    pub async fn connect_when_ready(
        addr: &AgentAddress,
        ready: ReadyListener,
        opts: &DialOptions,
    ) -> Result<Self> {
        let started = tokio::time::Instant::now();
        ready.wait(started + opts.timeout).await?;
        drop(ready);
        tracing::debug!(%addr, after = ?started.elapsed(), "agent signalled readiness");
        let rest = DialOptions {
            timeout: opts.timeout.saturating_sub(started.elapsed()),
            ..opts.clone()
        };
        Self::connect_with(addr, &rest).await
    }

    /// Builds the clients over an already connected (and, for hybrid vsock,
    /// already handshaken) stream.
    pub fn from_stream<S>(stream: S) -> Self
    where
        S: AsyncRead + AsyncWrite + Send + Sync + 'static,
    {
        Self::from_socket(Socket::new(stream))
    }

    /// Builds the clients over a connected stream socket (Unix or vsock)
    /// given as a file descriptor, e.g. one half of a `socketpair` in tests
    /// or a socket handed over by another process.
    pub fn from_fd(fd: OwnedFd) -> Result<Self> {
        let std_stream = std::os::unix::net::UnixStream::from(fd);
        std_stream.set_nonblocking(true).map_err(Error::Fd)?;
        let stream = tokio::net::UnixStream::from_std(std_stream).map_err(Error::Fd)?;
        Ok(Self::from_stream(stream))
    }

    fn from_socket(socket: Socket) -> Self {
        let raw = Client::new(socket);
        Self {
            agent: AgentServiceClient::new(raw.clone()),
            health: HealthClient::new(raw.clone()),
            raw,
        }
    }

    /// The untyped ttRPC client, for services not wrapped here.
    pub fn ttrpc(&self) -> &Client {
        &self.raw
    }

    /// Calls `grpc.Health/Check` and returns the serving status the agent
    /// reports (an unknown enum value maps to `UNKNOWN`).
    pub async fn check(&self, timeout: Duration) -> Result<ServingStatus> {
        let req = CheckRequest::new();
        let call = self
            .health
            .check(ttrpc::context::with_duration(timeout), &req);
        let resp = with_deadline(CHECK, timeout, call).await?;
        Ok(resp.status.enum_value_or(ServingStatus::UNKNOWN))
    }

    /// Calls `grpc.Health/Version`.
    pub async fn version(&self, timeout: Duration) -> Result<VersionCheckResponse> {
        let req = CheckRequest::new();
        let call = self
            .health
            .version(ttrpc::context::with_duration(timeout), &req);
        with_deadline(VERSION, timeout, call).await
    }
}

impl std::fmt::Debug for AgentClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentClient").finish_non_exhaustive()
    }
}

async fn with_deadline<T>(
    method: &'static str,
    timeout: Duration,
    call: impl std::future::Future<Output = ttrpc::Result<T>>,
) -> Result<T> {
    match tokio::time::timeout(timeout, call).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(source)) => Err(Error::Rpc { method, source }),
        Err(_) => Err(Error::RpcTimeout { method, timeout }),
    }
}
