//! `guest_spec`: an OCI `config.json` to the `CreateContainer` request the shim sends, then
//! through the agent's decoding and checks.
//!
//! The shim's path (`kata_sandbox::task::create`): the bundle's spec is parsed as
//! `kata_oci::load_spec` does, its mounts classified (`kata_oci::classify_mounts_with`, fixed mount
//! table), turned into guest mounts and storages (`host::volumes::apply`), the spec rewritten for
//! the guest (`guest_spec::guest_spec`) and converted to protobuf
//! (`backend::convert::create_container_to_pb`). The encoded request then goes through
//! [`crate::agent::create_container`].
//!
//! Not covered: bind mounts of host paths (`VolumeAction::Share`), the only mounts whose
//! preparation mounts something on the host; they are left out of the list given to `apply`.

use kata_oci::Spec;
use kata_protocols::protobuf::Message;
use kata_sandbox::agent::ContainerRequest;
use kata_sandbox::backend::convert::{create_container_to_pb, GuestOptions};
use kata_sandbox::guest_spec::guest_spec as rewrite_for_guest;
use kata_sandbox::host::layout::{guest_rootfs, Layout, Roots};
use kata_sandbox::host::shares::Shares;
use kata_sandbox::host::volumes::{apply, plan_mount, VolumeAction};
use oci_spec::runtime::LinuxNamespaceType;

use crate::config::MOUNT_TABLE;

/// The container id the shim got from containerd (already checked by `is_safe_id`).
pub const CONTAINER_ID: &str = "c1";

/// The target body (see the module documentation).
pub fn guest_spec(data: &[u8]) {
    let Ok(spec) = serde_json::from_slice::<Spec>(data) else {
        return;
    };
    let layout = Layout::new("sb", Roots::default());
    let classified =
        kata_oci::classify_mounts_with(&spec, |p| kata_oci::fs_type_in(MOUNT_TABLE, p));
    let in_guest: Vec<_> = classified
        .into_iter()
        .enumerate()
        .filter(|(i, m)| !matches!(plan_mount(m, CONTAINER_ID, *i), VolumeAction::Share { .. }))
        .map(|(_, m)| m)
        .collect();
    let mut steps = Vec::new();
    let mut shares = Shares::default();
    let Ok(volumes) = apply(&layout, CONTAINER_ID, &in_guest, &mut shares, &mut steps) else {
        return;
    };
    assert!(
        steps.is_empty(),
        "guest-only mounts took host resources: {steps:?}"
    );
    let guest = rewrite_for_guest(&spec, CONTAINER_ID, volumes.mounts);

    // What must never reach the guest: runtime-namespace hooks (they run on the host), a root
    // other than the shared rootfs, the host's network namespace.
    if let Some(h) = guest.hooks() {
        assert!(
            h.prestart().is_none()
                && h.create_runtime().is_none()
                && h.poststart().is_none()
                && h.poststop().is_none(),
            "host hooks reach the guest"
        );
    }
    let root = guest.root().as_ref().map(|r| r.path().clone());
    assert_eq!(
        root.as_deref().and_then(|p| p.to_str()),
        Some(guest_rootfs(CONTAINER_ID).as_str()),
        "the guest root is not the shared rootfs"
    );
    if let Some(linux) = guest.linux() {
        for ns in linux.namespaces().iter().flatten() {
            assert!(
                ns.typ() != LinuxNamespaceType::Network,
                "the host network namespace reaches the guest"
            );
        }
    }

    let request = ContainerRequest {
        container_id: CONTAINER_ID.into(),
        exec_id: CONTAINER_ID.into(),
        spec: guest,
        storages: volumes.storages,
    };
    // A spec the host refuses (a block device, a seccomp listener) never reaches the agent.
    let Ok(message) = create_container_to_pb(&request, GuestOptions::default()) else {
        return;
    };
    // What the agent is sent: no host block device, no host namespace path.
    if let Some(linux) = message.OCI.Linux.as_ref() {
        assert!(
            linux.Devices.iter().all(|d| d.Type != "b"),
            "a host block device reaches the guest"
        );
        assert!(
            linux.Namespaces.iter().all(|n| n.Path.is_empty()),
            "a host namespace path reaches the guest"
        );
    }
    let Ok(payload) = message.write_to_bytes() else {
        return;
    };
    crate::agent::create_container(&payload);
}
