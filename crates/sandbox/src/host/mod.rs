//! Host-side resources of a sandbox: paths, mounts that never follow symlinks, the cleanup list
//! and its persisted form.

pub mod cgroup;
pub mod cleanup;
pub mod confine;
pub mod hooks;
pub mod layout;
pub mod macvtap;
pub mod mount;
pub mod mountpoints;
pub mod network;
pub mod readonly;
pub mod rootfs;
pub mod shared;
pub mod shares;
pub mod state;
pub mod volumes;
