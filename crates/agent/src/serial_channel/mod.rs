//! The agent's ttRPC API over a virtio-serial port, besides vsock (VM templating).
//!
//! A template VM and its clones (Kata's `enable_template`, virtcontainers/factory/template) map
//! guest RAM private copy-on-write, which vhost-user devices cannot follow, so their host reaches
//! the agent through a virtio-serial port named [`PORT_NAME`] that QEMU itself serves (QEMU's
//! `virtserialport`, docs/system/devices/virtio-serial in the QEMU tree; Kata 1.x used the same
//! port name). A port has no `accept()`: [`listener`] turns each host session on it into one
//! ttRPC connection ([`bridge`]), so that a new host client (the template's host, then each
//! clone's) always starts a fresh ttRPC session.

mod bridge;
mod port;

use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::DuplexStream;
use tokio::sync::mpsc;
use ttrpc::r#async::transport::Listener;

pub use bridge::PortIo;
pub use port::VirtioPort;

/// Name of the virtio-serial port that carries the agent's ttRPC API (the host's
/// `kata_hypervisor::AgentChannel::Serial` device names it so).
pub const PORT_NAME: &str = "agent.channel.0";
/// Where the kernel lists virtio-serial ports, one directory per port with a `name` file.
pub const PORTS_CLASS_DIR: &str = "/sys/class/virtio-ports";
/// Devices bound to the virtio-console driver (present only when the VM has a virtio-serial
/// device).
pub const CONSOLE_DRIVER_DIR: &str = "/sys/bus/virtio/drivers/virtio_console";
/// How long the agent waits for the port to show up once a virtio-serial device is present: the
/// kernel adds ports from a work queue after the device's probe.
pub const PORT_WAIT: Duration = Duration::from_secs(5);

/// The device node of the virtio-serial port named `name`: scans `class_dir/*/name` (sysfs)
/// and returns `dev_dir/<port>` (devtmpfs creates `/dev/vportNpM`; there is no udev).
pub fn find_port(class_dir: &Path, dev_dir: &Path, name: &str) -> Option<PathBuf> {
    let entries = std::fs::read_dir(class_dir).ok()?;
    entries.flatten().find_map(|entry| {
        let port_name = std::fs::read_to_string(entry.path().join("name")).ok()?;
        (port_name.trim_end() == name).then(|| dev_dir.join(entry.file_name()))
    })
}

/// Whether a virtio-serial device is bound to the virtio-console driver (`driver_dir` holds a
/// `virtioN` link per bound device).
pub fn console_device_present(driver_dir: &Path) -> bool {
    std::fs::read_dir(driver_dir).is_ok_and(|entries| {
        entries
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with("virtio"))
    })
}

/// Host sessions on the port, each as the agent end of an in-memory stream, as a ttRPC
/// listener's stream of accepted connections.
struct Sessions(mpsc::Receiver<DuplexStream>);

impl futures_core::Stream for Sessions {
    type Item = io::Result<DuplexStream>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.0.poll_recv(cx).map(|session| session.map(Ok))
    }
}

/// A ttRPC listener whose connections are the host sessions on `port`'s bridge; the bridge runs
/// on a spawned task until the port fails or the listener is dropped. Must run inside a tokio
/// runtime.
pub fn listener_for<P: PortIo + Send + Sync + 'static>(port: P) -> Listener {
    let (tx, rx) = mpsc::channel(1);
    tokio::spawn(async move {
        if let Err(e) = bridge::run(port, tx).await {
            tracing::warn!(port = PORT_NAME, error = %e, "serial agent channel failed");
        }
    });
    Listener::new(Sessions(rx))
}

/// The ttRPC listener of the guest's [`PORT_NAME`] port, or `None` when the VM has no
/// virtio-serial device. The port is looked up (for up to [`PORT_WAIT`]) and opened on a spawned
/// task, so vsock serving is not delayed; without it the listener yields no connection. Must run
/// inside a tokio runtime.
pub fn listener() -> Option<Listener> {
    if !console_device_present(Path::new(CONSOLE_DRIVER_DIR)) {
        return None;
    }
    let (tx, rx) = mpsc::channel(1);
    tokio::spawn(async move {
        let Some(path) = wait_for_port(PORT_WAIT).await else {
            tracing::debug!(port = PORT_NAME, "no such virtio-serial port");
            return;
        };
        let port = match VirtioPort::open(&path) {
            Ok(port) => port,
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "cannot open the serial agent channel");
                return;
            }
        };
        tracing::info!(port = PORT_NAME, path = %path.display(), "agent listening on the virtio-serial port");
        if let Err(e) = bridge::run(port, tx).await {
            tracing::warn!(path = %path.display(), error = %e, "serial agent channel failed");
        }
    });
    Some(Listener::new(Sessions(rx)))
}

async fn wait_for_port(limit: Duration) -> Option<PathBuf> {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let found = find_port(Path::new(PORTS_CLASS_DIR), Path::new("/dev"), PORT_NAME);
        if let Some(path) = found.filter(|p| p.exists()) {
            return Some(path);
        }
        if tokio::time::Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_port_is_found_by_name() {
        let sys = tempfile::tempdir().expect("tempdir");
        for (port, name) in [("vport0p1", "other\n"), ("vport0p2", "agent.channel.0\n")] {
            std::fs::create_dir(sys.path().join(port)).expect("mkdir");
            std::fs::write(sys.path().join(port).join("name"), name).expect("name");
        }
        assert_eq!(
            find_port(sys.path(), Path::new("/dev"), PORT_NAME),
            Some(PathBuf::from("/dev/vport0p2"))
        );
        assert_eq!(find_port(sys.path(), Path::new("/dev"), "nope"), None);
        assert_eq!(
            find_port(&sys.path().join("missing"), Path::new("/dev"), PORT_NAME),
            None
        );
    }

    #[test]
    fn a_console_device_is_a_bound_virtio_device() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(!console_device_present(&dir.path().join("missing")));
        std::fs::write(dir.path().join("bind"), b"").expect("bind");
        assert!(!console_device_present(dir.path()));
        std::fs::create_dir(dir.path().join("virtio3")).expect("device");
        assert!(console_device_present(dir.path()));
    }
}
