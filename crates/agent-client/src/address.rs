//! Where the guest agent listens, seen from the host.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use crate::error::Error;

/// Address of the agent's ttRPC listener.
///
/// The textual form follows Kata's URLs: `vsock://<cid>:<port>`,
/// `hvsock://<unix socket path>:<port>` and `unix://<unix socket path>` (Kata 1.x's form for
/// the serial channel).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AgentAddress {
    /// Kernel vhost-vsock: connect with `AF_VSOCK` to the guest's context id.
    Vsock {
        /// Guest context id (3 and up).
        cid: u32,
        /// Port the agent listens on inside the guest (Kata uses 1024).
        port: u32,
    },
    /// Hybrid vsock: a host Unix socket served by vhost-device-vsock,
    /// Firecracker or Cloud Hypervisor. The client writes `CONNECT <port>\n`
    /// and expects a line starting with `OK ` before the stream carries ttRPC.
    HybridVsock {
        /// Host-side Unix socket of the vsock device.
        uds_path: PathBuf,
        /// Port the agent listens on inside the guest.
        port: u32,
    },
    /// A virtio-serial port the hypervisor serves on a host Unix socket (QEMU's chardev
    /// `socket,server=on`; kata-hypervisor's `AgentChannel::Serial`, used by VM templates and
    /// their clones): the stream carries ttRPC from the first byte, one client at a time.
    Serial {
        /// The hypervisor's Unix socket.
        path: PathBuf,
    },
}

impl AgentAddress {
    /// The guest-side vsock port; `None` for a serial port, which has none.
    pub fn port(&self) -> Option<u32> {
        match self {
            Self::Vsock { port, .. } | Self::HybridVsock { port, .. } => Some(*port),
            Self::Serial { .. } => None,
        }
    }
}

impl fmt::Display for AgentAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Vsock { cid, port } => write!(f, "vsock://{cid}:{port}"),
            Self::HybridVsock { uds_path, port } => {
                write!(f, "hvsock://{}:{port}", uds_path.display())
            }
            Self::Serial { path } => write!(f, "unix://{}", path.display()),
        }
    }
}

impl FromStr for AgentAddress {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = |reason: &'static str| Error::InvalidAddress {
            addr: s.to_string(),
            reason,
        };
        let (scheme, rest) = s
            .split_once("://")
            .ok_or_else(|| invalid("missing scheme (vsock://, hvsock:// or unix://)"))?;
        if scheme == "unix" {
            if !rest.starts_with('/') {
                return Err(invalid("unix socket path must be absolute"));
            }
            return Ok(Self::Serial {
                path: PathBuf::from(rest),
            });
        }
        let (host, port) = rest
            .rsplit_once(':')
            .ok_or_else(|| invalid("missing :<port>"))?;
        let port: u32 = port.parse().map_err(|_| invalid("port is not a u32"))?;
        match scheme {
            "vsock" => {
                let cid = host.parse().map_err(|_| invalid("cid is not a u32"))?;
                Ok(Self::Vsock { cid, port })
            }
            "hvsock" => {
                if host.is_empty() {
                    return Err(invalid("empty unix socket path"));
                }
                Ok(Self::HybridVsock {
                    uds_path: PathBuf::from(host),
                    port,
                })
            }
            _ => Err(invalid(
                "unknown scheme (want vsock://, hvsock:// or unix://)",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_both_forms() {
        let v: AgentAddress = "vsock://3:1024".parse().expect("vsock address");
        assert_eq!(v, AgentAddress::Vsock { cid: 3, port: 1024 });
        assert_eq!(v.to_string(), "vsock://3:1024");

        let h: AgentAddress = "hvsock:///run/vc/vm/abc/kata.hvsock:1024"
            .parse()
            .expect("hvsock address");
        assert_eq!(
            h,
            AgentAddress::HybridVsock {
                uds_path: PathBuf::from("/run/vc/vm/abc/kata.hvsock"),
                port: 1024
            }
        );
        assert_eq!(h.to_string(), "hvsock:///run/vc/vm/abc/kata.hvsock:1024");
        assert_eq!(h.port(), Some(1024));
    }

    #[test]
    fn serial_socket_round_trips() {
        let s: AgentAddress = "unix:///run/vc/vm/abc/agent:1.sock"
            .parse()
            .expect("unix address");
        assert_eq!(
            s,
            AgentAddress::Serial {
                path: PathBuf::from("/run/vc/vm/abc/agent:1.sock")
            }
        );
        assert_eq!(s.to_string(), "unix:///run/vc/vm/abc/agent:1.sock");
        assert_eq!(s.port(), None);
    }

    #[test]
    fn rejects_malformed_addresses() {
        for bad in [
            "3:1024",
            "vsock://3",
            "vsock://x:1024",
            "vsock://3:port",
            "hvsock://:1024",
            "unix://",
            "unix://relative/agent.sock",
            "tcp://1.2.3.4:80",
        ] {
            let err = bad.parse::<AgentAddress>().expect_err(bad);
            assert!(
                matches!(&err, Error::InvalidAddress { addr, .. } if addr == bad),
                "{bad}: {err}"
            );
        }
    }
}
