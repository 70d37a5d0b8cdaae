//! Pumps bytes between a serial port and one ttRPC connection per host session.
//!
//! A session starts with the first bytes the host sends and ends when the port reads end of
//! file (the host closed its side: QEMU tells the guest its chardev is disconnected) or fails
//! with a hang-up; the agent end of the connection is then dropped, so a partial request of a
//! client that went away never reaches the next client. The guest learns of the host's departure
//! from a control message of the port: a host that reconnects before the guest kernel handled it
//! (while the VM is paused, say) continues the previous connection. Hosts therefore disconnect
//! well before a VM is paused for saving (tens of milliseconds of guest run time suffice).

use std::future::Future;
use std::io::{self, ErrorKind};

use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::sync::mpsc;

/// Size of the pump buffers and of each session's in-memory stream, bytes.
const BUF: usize = 64 * 1024;

/// Non-blocking access to a serial port.
pub trait PortIo {
    /// Reads what the host sent; `Ok(0)` when no host is connected, `WouldBlock` when it is but
    /// has sent nothing.
    fn try_read(&self, buf: &mut [u8]) -> io::Result<usize>;
    /// Writes to the host; `WouldBlock` when the port is full or no host is connected.
    fn try_write(&self, buf: &[u8]) -> io::Result<usize>;
    /// Resolves after the port's state may have changed (data, room, the host coming or
    /// going); may resolve spuriously.
    fn wait(&self) -> impl Future<Output = io::Result<()>> + Send;
}

/// What ended a session.
#[derive(Debug, PartialEq, Eq)]
enum End {
    /// The host closed its side.
    HostGone,
    /// The ttRPC server closed the connection.
    ServerGone,
}

/// Serves host sessions on `port` until the port fails (`Err`) or `sessions`' receiver is gone
/// (`Ok`). Each session is handed to the ttRPC server as a new connection through `sessions`.
pub async fn run<P: PortIo>(port: P, sessions: mpsc::Sender<DuplexStream>) -> io::Result<()> {
    let mut buf = vec![0u8; BUF];
    loop {
        let n = first_bytes(&port, &mut buf).await?;
        let (ours, theirs) = tokio::io::duplex(BUF);
        if sessions.send(theirs).await.is_err() {
            return Ok(());
        }
        tracing::debug!("host attached to the serial agent channel");
        let end = session(&port, ours, &buf[..n]).await?;
        tracing::debug!(?end, "host detached from the serial agent channel");
        if end == End::ServerGone {
            // Whatever the host still sends belongs to the connection that just ended.
            discard_until_host_gone(&port, &mut buf).await?;
        }
    }
}

/// Waits for a host to send something; returns how many bytes are in `buf`.
async fn first_bytes<P: PortIo>(port: &P, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match port.try_read(buf) {
            Ok(0) => port.wait().await?,
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == ErrorKind::WouldBlock => port.wait().await?,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

async fn discard_until_host_gone<P: PortIo>(port: &P, buf: &mut [u8]) -> io::Result<()> {
    loop {
        match port.try_read(buf) {
            Ok(0) => return Ok(()),
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::WouldBlock => port.wait().await?,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// One host session: `first` (already read from the port) and everything after it go to `conn`,
/// the server's replies go to the port.
async fn session<P: PortIo>(port: &P, mut conn: DuplexStream, first: &[u8]) -> io::Result<End> {
    if conn.write_all(first).await.is_err() {
        return Ok(End::ServerGone);
    }
    let mut inbound = vec![0u8; BUF];
    let mut outbound = vec![0u8; BUF];
    let (mut sent, mut pending) = (0usize, 0usize);
    loop {
        // Host to server, until the port has nothing more.
        loop {
            match port.try_read(&mut inbound) {
                Ok(0) => return Ok(End::HostGone),
                Ok(n) => {
                    if conn.write_all(&inbound[..n]).await.is_err() {
                        return Ok(End::ServerGone);
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        // Server to host, as much as the port takes.
        while sent < pending {
            match port.try_write(&outbound[sent..pending]) {
                Ok(0) => break,
                Ok(n) => sent += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        tokio::select! {
            changed = port.wait() => changed?,
            read = conn.read(&mut outbound), if sent == pending => match read {
                Ok(0) | Err(_) => return Ok(End::ServerGone),
                Ok(n) => (sent, pending) = (0, n),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use kata_protocols::health::{health_check_response::ServingStatus, CheckRequest};
    use kata_protocols::health_ttrpc::HealthClient;
    use tokio::sync::Notify;
    use ttrpc::r#async::transport::Socket;

    use super::*;

    #[derive(Default)]
    struct Wire {
        connected: bool,
        to_guest: VecDeque<u8>,
        to_host: VecDeque<u8>,
    }

    /// A serial port and its host side in memory, with the kernel port's semantics: reads give
    /// 0 while no host is connected, writes block then.
    #[derive(Clone, Default)]
    struct FakePort {
        wire: Arc<Mutex<Wire>>,
        guest_wakeup: Arc<Notify>,
        host_wakeup: Arc<Notify>,
    }

    impl FakePort {
        fn wire(&self) -> std::sync::MutexGuard<'_, Wire> {
            self.wire.lock().unwrap_or_else(|p| p.into_inner())
        }

        fn set_host(&self, connected: bool) {
            let mut wire = self.wire();
            wire.connected = connected;
            wire.to_host.clear();
            drop(wire);
            self.guest_wakeup.notify_one();
        }

        /// The host goes away, and stays away long enough for the guest to notice (as a
        /// guest kernel handles the port's close message before the next open).
        async fn disconnect_host(&self) {
            self.set_host(false);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }

        /// Connects a host: a stream whose bytes travel over the fake port.
        fn connect_host(&self) -> DuplexStream {
            self.set_host(true);
            let (host, pump) = tokio::io::duplex(BUF);
            let port = self.clone();
            tokio::spawn(async move {
                let (mut rd, mut wr) = tokio::io::split(pump);
                let inbound = {
                    let port = port.clone();
                    async move {
                        let mut buf = vec![0u8; 4096];
                        while let Ok(n) = rd.read(&mut buf).await {
                            if n == 0 {
                                break;
                            }
                            port.wire().to_guest.extend(&buf[..n]);
                            port.guest_wakeup.notify_one();
                        }
                    }
                };
                let outbound = async move {
                    loop {
                        let bytes: Vec<u8> = port.wire().to_host.drain(..).collect();
                        if bytes.is_empty() {
                            port.host_wakeup.notified().await;
                        } else if wr.write_all(&bytes).await.is_err() {
                            break;
                        }
                    }
                };
                tokio::select! { _ = inbound => {}, _ = outbound => {} }
            });
            host
        }
    }

    impl PortIo for FakePort {
        fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
            let mut wire = self.wire();
            if wire.to_guest.is_empty() {
                return if wire.connected {
                    Err(ErrorKind::WouldBlock.into())
                } else {
                    Ok(0)
                };
            }
            let n = buf.len().min(wire.to_guest.len());
            for (dst, src) in buf.iter_mut().zip(wire.to_guest.drain(..n)) {
                *dst = src;
            }
            Ok(n)
        }

        fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
            let mut wire = self.wire();
            if !wire.connected {
                return Err(ErrorKind::WouldBlock.into());
            }
            wire.to_host.extend(buf);
            drop(wire);
            self.host_wakeup.notify_one();
            Ok(buf.len())
        }

        fn wait(&self) -> impl Future<Output = io::Result<()>> + Send {
            let wakeup = Arc::clone(&self.guest_wakeup);
            async move {
                wakeup.notified().await;
                Ok(())
            }
        }
    }

    struct Healthy;

    #[async_trait::async_trait]
    impl kata_protocols::health_ttrpc::Health for Healthy {
        async fn check(
            &self,
            _ctx: &ttrpc::r#async::TtrpcContext,
            _req: CheckRequest,
        ) -> ttrpc::Result<kata_protocols::health::HealthCheckResponse> {
            let mut resp = kata_protocols::health::HealthCheckResponse::new();
            resp.status = ServingStatus::SERVING.into();
            Ok(resp)
        }
    }

    async fn serve(port: FakePort) -> ttrpc::r#async::Server {
        let health = kata_protocols::health_ttrpc::create_health(Arc::new(Healthy));
        let mut server = ttrpc::r#async::Server::new()
            .add_listener(super::super::listener_for(port))
            .register_service(health);
        server.start().await.expect("start ttrpc server");
        server
    }

    async fn check(host: DuplexStream) -> ServingStatus {
        let client = HealthClient::new(ttrpc::r#async::Client::new(Socket::new(host)));
        let req = CheckRequest::new();
        let call = client.check(ttrpc::context::with_timeout(0), &req);
        let resp = tokio::time::timeout(Duration::from_secs(5), call)
            .await
            .expect("health check in time")
            .expect("health check");
        resp.status.enum_value_or(ServingStatus::UNKNOWN)
    }

    #[tokio::test]
    async fn each_host_session_is_served_afresh() {
        let port = FakePort::default();
        let mut server = serve(port.clone()).await;

        // The template's host: checks health, goes away.
        let host = port.connect_host();
        assert_eq!(check(host).await, ServingStatus::SERVING);
        port.disconnect_host().await;

        // A host that leaves half a ttRPC frame behind must not spoil the next session.
        let mut host = port.connect_host();
        host.write_all(&[0, 0, 0, 40, 0])
            .await
            .expect("half a header");
        tokio::time::sleep(Duration::from_millis(50)).await;
        drop(host);
        port.disconnect_host().await;

        // A clone's host.
        let host = port.connect_host();
        assert_eq!(check(host).await, ServingStatus::SERVING);
        port.disconnect_host().await;
        server.shutdown().await.expect("shutdown");
    }

    #[tokio::test]
    async fn nothing_is_served_while_no_host_is_connected() {
        let port = FakePort::default();
        let (tx, mut rx) = mpsc::channel(1);
        let bridge = tokio::spawn(run(port.clone(), tx));
        port.set_host(false);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(rx.try_recv().is_err(), "a session without a host");
        let _host = port.connect_host();
        port.wire().to_guest.extend(b"x");
        port.guest_wakeup.notify_one();
        let session = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await;
        assert!(matches!(session, Ok(Some(_))), "no session for the host");
        drop(rx);
        bridge.abort();
    }
}
