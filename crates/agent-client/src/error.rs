//! Errors of the agent channel.

use std::io;
use std::path::PathBuf;
use std::time::Duration;

/// Everything that can go wrong while reaching or calling the agent.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An address string could not be parsed.
    #[error("invalid agent address {addr:?}: {reason}")]
    InvalidAddress {
        /// The text that was given.
        addr: String,
        /// What is wrong with it.
        reason: &'static str,
    },

    /// Connecting to the kernel vsock (cid, port) failed.
    #[error("cannot connect to agent at vsock cid {cid} port {port}")]
    VsockConnect {
        /// Guest context id.
        cid: u32,
        /// Guest port.
        port: u32,
        /// Cause.
        #[source]
        source: io::Error,
    },

    /// Connecting to the hybrid vsock Unix socket failed.
    #[error("cannot connect to hybrid vsock socket {} (agent port {port})", path.display())]
    ConnectError {
        /// Host Unix socket.
        path: PathBuf,
        /// Guest port.
        port: u32,
        /// Cause.
        #[source]
        source: io::Error,
    },

    /// Connecting to the hypervisor's serial channel socket failed.
    #[error("cannot connect to agent serial channel socket {}", path.display())]
    SerialConnect {
        /// Host Unix socket.
        path: PathBuf,
        /// Cause.
        #[source]
        source: io::Error,
    },

    /// Writing `CONNECT <port>` or reading the reply failed (often: the
    /// device closed the stream because nothing listens on that port yet).
    #[error("hybrid vsock handshake on {} for port {port} failed", path.display())]
    Handshake {
        /// Host Unix socket.
        path: PathBuf,
        /// Guest port.
        port: u32,
        /// Cause.
        #[source]
        source: io::Error,
    },

    /// The device answered the handshake with something other than `OK `.
    #[error("hybrid vsock {} rejected CONNECT {port}: reply {reply:?}", path.display())]
    HandshakeRejected {
        /// Host Unix socket.
        path: PathBuf,
        /// Guest port.
        port: u32,
        /// The reply line, without its newline.
        reply: String,
    },

    /// The agent could not be reached before the deadline.
    #[error("agent at {addr} not reachable within {timeout:?} ({attempts} attempts)")]
    Timeout {
        /// The address as text.
        addr: String,
        /// The overall deadline given to `connect`.
        timeout: Duration,
        /// How many dial attempts were made.
        attempts: u32,
        /// The error of the last attempt, if one completed.
        #[source]
        last: Option<Box<Error>>,
    },

    /// The readiness listener `<uds_path>_<port>` could not be created.
    #[error("cannot listen for the agent's readiness signal on {}", path.display())]
    ReadyBind {
        /// The socket file.
        path: PathBuf,
        /// Cause.
        #[source]
        source: io::Error,
    },

    /// Accepting the guest's readiness connection failed.
    #[error("cannot accept the agent's readiness signal on {}", path.display())]
    ReadyAccept {
        /// The socket file.
        path: PathBuf,
        /// Cause.
        #[source]
        source: io::Error,
    },

    /// The guest never connected to the readiness socket before the deadline: the agent did not
    /// start listening (or predates the signal).
    #[error("the agent never signalled readiness on {} within {:.1} s (dial_timeout)", path.display(), timeout.as_secs_f64())]
    NotReady {
        /// The socket file.
        path: PathBuf,
        /// How long it was given (the dial timeout).
        timeout: std::time::Duration,
    },

    /// A file descriptor could not be turned into an async stream.
    #[error("cannot use file descriptor as agent stream")]
    Fd(#[source] io::Error),

    /// A ttRPC call failed.
    #[error("agent call {method} failed")]
    Rpc {
        /// Full method path, e.g. `/grpc.Health/Check`.
        method: &'static str,
        /// Cause.
        #[source]
        source: ttrpc::Error,
    },

    /// A ttRPC call got no answer in time.
    #[error("agent call {method} got no reply within {timeout:?}")]
    RpcTimeout {
        /// Full method path.
        method: &'static str,
        /// The timeout given.
        timeout: Duration,
    },
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, Error>;
