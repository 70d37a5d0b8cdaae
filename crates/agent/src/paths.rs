//! Guest paths shared with the runtime (Kata's layout).

/// Everything the agent mounts or creates for the sandbox lives below this directory.
pub const KATA_RUN: &str = "/run/kata-containers";
/// Where the `kataShared` virtio-fs share is mounted; container rootfs are `<here>/<cid>/rootfs`.
pub const SHARED_CONTAINERS: &str = "/run/kata-containers/shared/containers";
/// libcontainer's state directory (one sub-directory per container).
pub const CONTAINER_STATE: &str = "/run/kata-agent/containers";
/// Bundles written by the agent (config.json, console sockets, exec process files).
pub const BUNDLES: &str = "/run/kata-agent/bundles";
