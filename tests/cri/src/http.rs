//! Plain HTTP/1.0 over `std::net`, for the network tests: a client for the pods' servers and a
//! host-side server for the pods to reach.

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

/// `GET path` from `addr` with HTTP/1.0; returns the status code and the body.
pub fn http_get(addr: SocketAddr, path: &str, timeout: Duration) -> anyhow::Result<(u16, String)> {
    let mut s = TcpStream::connect_timeout(&addr, timeout)
        .with_context(|| format!("connecting to {addr}"))?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n")?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)
        .with_context(|| format!("reading the answer of {addr}"))?;
    let text = String::from_utf8_lossy(&raw);
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        bail!("{addr} answered no HTTP header: {text:?}");
    };
    let status = head
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .with_context(|| format!("{addr} answered no status line: {head:?}"))?;
    Ok((status, body.to_string()))
}

/// Retries [`http_get`] until it answers or `patience` is over (a server in a container needs a
/// moment to listen).
pub fn http_get_retry(
    addr: SocketAddr,
    path: &str,
    patience: Duration,
) -> anyhow::Result<(u16, String)> {
    let deadline = Instant::now() + patience;
    loop {
        match http_get(addr, path, Duration::from_secs(3)) {
            Ok(r) => return Ok(r),
            Err(e) if Instant::now() >= deadline => return Err(e),
            Err(_) => std::thread::sleep(Duration::from_millis(300)),
        }
    }
}

/// An HTTP server on the host answering every request with `200` and a fixed body, until
/// dropped.
pub struct HostServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    served: Arc<AtomicUsize>,
    thread: Option<JoinHandle<()>>,
}

impl HostServer {
    /// Listens on `ip` (an ephemeral port).
    pub fn start(ip: IpAddr, body: &str) -> anyhow::Result<Self> {
        let listener = TcpListener::bind((ip, 0))
            .with_context(|| format!("binding an HTTP server on {ip}"))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let served = Arc::new(AtomicUsize::new(0));
        let body = body.to_string();
        let thread = {
            let stop = stop.clone();
            let served = served.clone();
            std::thread::spawn(move || serve(listener, &body, &stop, &served))
        };
        Ok(Self {
            addr,
            stop,
            served,
            thread: Some(thread),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// How many requests were answered.
    pub fn served(&self) -> usize {
        self.served.load(Ordering::SeqCst)
    }
}

impl Drop for HostServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(listener: TcpListener, body: &str, stop: &AtomicBool, served: &AtomicUsize) {
    while !stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((mut conn, _)) => {
                let _ = conn.set_nonblocking(false);
                let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
                // Read the request head (up to the blank line), then answer.
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match conn.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let answer = format!(
                    "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                );
                if conn.write_all(answer.as_bytes()).is_ok() {
                    served.fetch_add(1, Ordering::SeqCst);
                }
            }
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_server_answers_the_client() {
        let server = HostServer::start("127.0.0.1".parse().expect("ip"), "hi\n").expect("server");
        let (status, body) = http_get(server.addr(), "/", Duration::from_secs(5)).expect("answer");
        assert_eq!(status, 200);
        assert_eq!(body, "hi\n");
        assert_eq!(server.served(), 1);
    }
}
