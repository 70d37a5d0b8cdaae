//! Errors at the hypervisor seam. Drivers keep their own detailed errors and box them as the source.

/// A driver's error, carried as the source of a `HypervisorError`.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

#[derive(Debug, thiserror::Error)]
pub enum HypervisorError {
    #[error("vm {id} failed to start")]
    Start {
        id: String,
        #[source]
        source: BoxError,
    },
    #[error("vm {id} failed to stop")]
    Stop {
        id: String,
        #[source]
        source: BoxError,
    },
    #[error("hotplug of device {device} failed")]
    Hotplug {
        device: String,
        #[source]
        source: BoxError,
    },
    #[error("unplug of device {device} failed")]
    Unplug {
        device: String,
        #[source]
        source: BoxError,
    },
    #[error("vm {id} is not running")]
    NotRunning { id: String },
    #[error("resizing the {what} of vm {id} failed")]
    Resize {
        id: String,
        /// `vCPUs` or `memory`.
        what: &'static str,
        #[source]
        source: BoxError,
    },
}
