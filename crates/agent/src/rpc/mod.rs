//! The ttRPC edge: listener, services, protocol conversion, error codes.

mod agent;
mod containers;
pub mod convert;
mod health;
mod network;
mod sandbox;
pub mod status;

use std::sync::Arc;

use tokio::sync::Notify;

use crate::sandbox::Sandbox;

/// State shared by the services.
pub struct Service {
    pub sandbox: Arc<Sandbox>,
    /// Running as PID 1 of the guest.
    pub pid1: bool,
    shutdown: Arc<Notify>,
}

impl Service {
    pub fn new(sandbox: Arc<Sandbox>, pid1: bool, shutdown: Arc<Notify>) -> Self {
        Service {
            sandbox,
            pid1,
            shutdown,
        }
    }

    /// Asks the main loop to stop (and power off as PID 1) once the current reply is sent.
    fn request_shutdown(&self) {
        self.shutdown.notify_one();
    }
}

/// Binds `addr` (`vsock://-1:1024`, `unix:///path`) and serves until `shutdown` is notified; also
/// serves the connections of `serial` (the virtio-serial agent channel,
/// [`crate::serial_channel::listener`]) when given.
pub async fn serve(
    addr: &str,
    service: Service,
    shutdown: Arc<Notify>,
    serial: Option<ttrpc::r#async::transport::Listener>,
) -> anyhow::Result<()> {
    let service = Arc::new(service);
    if let Some(path) = addr.strip_prefix("unix://") {
        let _ = std::fs::remove_file(path);
    }
    let server = ttrpc::r#async::Server::new()
        .bind(addr)
        .map_err(|e| anyhow::anyhow!("binding ttrpc listener {addr}: {e}"))?;
    let mut server = with_services(server, &service);
    server
        .start()
        .await
        .map_err(|e| anyhow::anyhow!("starting ttrpc server on {addr}: {e}"))?;
    tracing::info!(%addr, "agent listening");
    if addr.starts_with("vsock://") {
        tokio::spawn(signal_ready());
    }
    let mut serial_server = match serial {
        Some(listener) => {
            let server = ttrpc::r#async::Server::new().add_listener(listener);
            let mut server = with_services(server, &service);
            server
                .start()
                .await
                .map_err(|e| anyhow::anyhow!("starting ttrpc server on the serial port: {e}"))?;
            Some(server)
        }
        None => None,
    };
    shutdown.notified().await;
    // Let the DestroySandbox reply leave before the listener goes away.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let _ = server.shutdown().await;
    if let Some(server) = &mut serial_server {
        let _ = server.shutdown().await;
    }
    Ok(())
}

/// Registers `grpc.AgentService` and `grpc.Health` on `server`.
fn with_services(server: ttrpc::r#async::Server, service: &Arc<Service>) -> ttrpc::r#async::Server {
    let agent = kata_protocols::agent_ttrpc::create_agent_service(Arc::clone(service) as _);
    let health = kata_protocols::health_ttrpc::create_health(Arc::new(health::HealthService));
    server.register_service(agent).register_service(health)
}

/// Host vsock port told "the agent listens" (kata-rs; must match the host's
/// `kata_agent_client::AGENT_READY_PORT`).
pub const READY_PORT: u32 = 1027;

/// Opens and closes one connection to the host's [`READY_PORT`], once the ttRPC listener is
/// bound. Over hybrid vsock (vhost-device-vsock) the host waits for it before its first
/// `CONNECT`: a guest-initiated connection can only pass once the device's rings are live, and
/// a host connection made before that can stall the device for good (see the host's
/// crates/agent-client/src/ready.rs). Without a host listener (kernel vhost-vsock, older hosts)
/// the connection is refused at once; nothing else depends on it.
async fn signal_ready() {
    let addr = tokio_vsock::VsockAddr::new(tokio_vsock::VMADDR_CID_HOST, READY_PORT);
    let connect = tokio_vsock::VsockStream::connect(addr);
    match tokio::time::timeout(std::time::Duration::from_secs(5), connect).await {
        Ok(Ok(stream)) => {
            drop(stream);
            tracing::debug!(port = READY_PORT, "readiness signalled to the host");
        }
        Ok(Err(e)) => tracing::debug!(port = READY_PORT, error = %e, "no host readiness listener"),
        Err(_) => tracing::debug!(port = READY_PORT, "readiness signal timed out"),
    }
}
