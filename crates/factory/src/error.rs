use std::path::PathBuf;

/// Errors of the VMCache server and client; each names the endpoint.
#[derive(Debug, thiserror::Error)]
pub enum FactoryError {
    /// No server answers on the endpoint.
    #[error("no VMCache server answers on {endpoint}: {source}")]
    Connect {
        endpoint: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A call failed or timed out.
    #[error("VMCache {call} on {endpoint}: {message}")]
    Call {
        call: &'static str,
        endpoint: PathBuf,
        message: String,
    },
    /// Another server already serves the endpoint.
    #[error("a VMCache server already serves {endpoint}")]
    InUse { endpoint: PathBuf },
    /// The socket cannot be made.
    #[error("VMCache endpoint {endpoint}: {source}")]
    Bind {
        endpoint: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The gRPC server failed.
    #[error("VMCache server on {endpoint}: {message}")]
    Serve { endpoint: PathBuf, message: String },
}
