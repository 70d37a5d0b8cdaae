//! Host-side resources of a sandbox: paths, mounts that never follow symlinks, the cleanup list
//! and its persisted form.

pub mod cleanup;
pub mod layout;
pub mod mount;
pub mod rootfs;
pub mod shared;
pub mod state;
pub mod volumes;
