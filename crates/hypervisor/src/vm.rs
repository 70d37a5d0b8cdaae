//! What a driver is asked (a device to hot-plug) and answers (a resize, an exit).

use crate::spec::{BlockDevice, NetDevice};

/// How a VM process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VmExit {
    /// Exit code, when the process exited on its own.
    pub code: Option<i32>,
    /// Signal number, when the process was killed by a signal.
    pub signal: Option<i32>,
}

impl VmExit {
    /// Whether the process exited with status 0.
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }
}

/// A device added to a running VM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HotplugDevice {
    Block(BlockDevice),
    Net(NetDevice),
}

impl HotplugDevice {
    /// The device id used to unplug it later.
    pub fn id(&self) -> &str {
        match self {
            HotplugDevice::Block(b) => &b.id,
            HotplugDevice::Net(n) => &n.id,
        }
    }
}

/// The outcome of a resize: the count (vCPUs, or MiB of memory) before and after it. `after` may
/// fall short of the request when the VM has no more room (`maxcpus`, `maxmem`, memory slots) or
/// the guest kept a device it was asked to release.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resized {
    pub before: u32,
    pub after: u32,
}
