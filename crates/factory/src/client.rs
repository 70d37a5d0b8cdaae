//! [`CacheClient`]: the shim's and `kata-runtime factory`'s end of the VMCache service.

use std::path::{Path, PathBuf};
use std::time::Duration;

use hyper_util::rt::TokioIo;
use tokio::net::UnixStream;
use tonic::transport::{Channel, Endpoint, Uri};

use crate::error::FactoryError;
use crate::pb::cache_service_client::CacheServiceClient;
use crate::pb::{GrpcStatus, GrpcVm, GrpcVmConfig};

/// A connection to a VMCache server.
pub struct CacheClient {
    endpoint: PathBuf,
    inner: CacheServiceClient<Channel>,
}

impl CacheClient {
    /// Connects to the server on `endpoint` within `timeout`. Errors: [`FactoryError::Connect`]
    /// when nobody answers (a dead server's stale socket included).
    pub async fn connect(endpoint: &Path, timeout: Duration) -> Result<Self, FactoryError> {
        let connect_error = |source| FactoryError::Connect {
            endpoint: endpoint.to_owned(),
            source,
        };
        // The URI is not used: every connection goes to the socket.
        let channel = Endpoint::from_static("http://[::]:0")
            .connect_timeout(timeout)
            .timeout(crate::server::GET_WAIT + Duration::from_secs(5));
        let dial = endpoint.to_owned();
        let connect = channel.connect_with_connector(tower::service_fn(move |_: Uri| {
            let path = dial.clone();
            async move { Ok::<_, std::io::Error>(TokioIo::new(UnixStream::connect(path).await?)) }
        }));
        let channel = match tokio::time::timeout(timeout, connect).await {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => {
                // The transport error wraps the socket's; say what the socket said.
                let io = std::error::Error::source(&e)
                    .and_then(|s| s.downcast_ref::<std::io::Error>())
                    .map(|io| std::io::Error::new(io.kind(), io.to_string()))
                    .unwrap_or_else(|| std::io::Error::other(e.to_string()));
                return Err(connect_error(io));
            }
            Err(_) => {
                return Err(connect_error(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("no answer within {} ms", timeout.as_millis()),
                )))
            }
        };
        Ok(Self {
            endpoint: endpoint.to_owned(),
            inner: CacheServiceClient::new(channel),
        })
    }

    fn call_error(&self, call: &'static str) -> impl Fn(tonic::Status) -> FactoryError + '_ {
        move |status| FactoryError::Call {
            call,
            endpoint: self.endpoint.clone(),
            message: status.message().to_string(),
        }
    }

    /// `Config`: what the server's VMs were booted from.
    pub async fn config(&mut self) -> Result<GrpcVmConfig, FactoryError> {
        let mut inner = self.inner.clone();
        inner
            .config(())
            .await
            .map(|r| r.into_inner())
            .map_err(self.call_error("Config"))
    }

    /// `GetBaseVM`: takes a VM out of the cache (waits while the pool refills).
    pub async fn get_base_vm(&mut self) -> Result<GrpcVm, FactoryError> {
        let mut inner = self.inner.clone();
        inner
            .get_base_vm(())
            .await
            .map(|r| r.into_inner())
            .map_err(self.call_error("GetBaseVM"))
    }

    /// `Status`: the server's pid and its cached VMs.
    pub async fn status(&mut self) -> Result<GrpcStatus, FactoryError> {
        let mut inner = self.inner.clone();
        inner
            .status(())
            .await
            .map(|r| r.into_inner())
            .map_err(self.call_error("Status"))
    }

    /// `Quit`: the server stops its cached VMs and exits.
    pub async fn quit(&mut self) -> Result<(), FactoryError> {
        let mut inner = self.inner.clone();
        inner
            .quit(())
            .await
            .map(|_| ())
            .map_err(self.call_error("Quit"))
    }
}
