//! `agent_request`: a ttRPC request payload as the guest agent decodes and converts it.
//!
//! Input: one selector byte, then the protobuf payload. The selector (modulo 6) picks the
//! request: 0 CreateContainer, 1 ExecProcess, 2 UpdateContainer, 3 CreateSandbox,
//! 4 UpdateInterface, 5 UpdateRoutes and AddARPNeighbors (the same bytes decoded as both).
//!
//! Decoding is ttRPC's (`Message::new` then `merge_from` a `CodedInputStream` over the payload,
//! as its `async_request_handler!` does); conversion is the agent's `rpc::convert`; then the
//! checks the agent runs before it touches the guest: `validate_id`, `confine_mount_point` of
//! every storage and of the rootfs, `prepare_spec` (mount destinations resolved inside the
//! rootfs), `cgroup_dir`, `join_namespaces`, and the `config.json` encoding.

use std::path::{Component, Path};

use kata_agent::container::create::{cgroup_dir, join_namespaces, prepare_spec};
use kata_agent::container::validate_id;
use kata_agent::rpc::convert::network::{interface_from_grpc, neighbor_from_grpc, route_from_grpc};
use kata_agent::rpc::convert::{
    create_request_from_grpc, process_from_grpc, resources_from_grpc, storage_from_grpc,
};
use kata_agent::storage::confine_mount_point;
use kata_protocols::agent as pb;
use kata_protocols::protobuf::{CodedInputStream, Message};

use crate::fixtures::guest_dirs;

/// Decodes `payload` the way ttRPC's server does; `None` when protobuf refuses it.
pub fn decode<M: Message>(payload: &[u8]) -> Option<M> {
    let mut msg = M::new();
    let mut input = CodedInputStream::from_bytes(payload);
    msg.merge_from(&mut input).ok()?;
    Some(msg)
}

/// The target body (see the module documentation).
pub fn agent_request(data: &[u8]) {
    let Some((&selector, payload)) = data.split_first() else {
        return;
    };
    match selector % 6 {
        0 => create_container(payload),
        1 => exec_process(payload),
        2 => update_container(payload),
        3 => create_sandbox(payload),
        4 => update_interface(payload),
        _ => routes_and_neighbors(payload),
    }
}

fn is_clean_absolute(p: &Path) -> bool {
    p.is_absolute() && !p.components().any(|c| matches!(c, Component::ParentDir))
}

/// A storage mount point: refused, or resolved to a clean path below the run directory.
fn check_mount_point(mount_point: &Path) {
    let run_root = &guest_dirs().run_root;
    if let Ok(resolved) = confine_mount_point(run_root, mount_point) {
        assert!(
            is_clean_absolute(&resolved) && resolved.starts_with(run_root),
            "mount point {mount_point:?} resolved to {resolved:?}, outside {run_root:?}"
        );
    }
}

/// CreateContainer from its encoded payload, as far as the agent goes before the guest.
pub fn create_container(payload: &[u8]) {
    let Some(req) = decode::<pb::CreateContainerRequest>(payload) else {
        return;
    };
    let Ok(cmd) = create_request_from_grpc(req) else {
        return;
    };
    if validate_id(&cmd.id).is_err() {
        return;
    }
    for s in &cmd.storages {
        check_mount_point(&s.mount_point);
    }
    let mut spec = cmd.spec;
    if let Some(root) = spec.root() {
        check_mount_point(root.path());
    }
    let dirs = guest_dirs();
    if prepare_spec(&mut spec, &dirs.rootfs, &cmd.id).is_err() {
        return;
    }
    for m in spec.mounts().iter().flatten() {
        let dest = m.destination();
        assert!(
            is_clean_absolute(dest),
            "mount destination {dest:?} is not clean after prepare_spec"
        );
    }
    let cgroup = cgroup_dir(&dirs.cgroup_root, &spec);
    assert!(
        !cgroup
            .components()
            .any(|c| matches!(c, Component::ParentDir))
            && cgroup.starts_with(&dirs.cgroup_root),
        "cgroup {cgroup:?} is outside {:?}",
        dirs.cgroup_root
    );
    join_namespaces(&mut spec, 4242, cmd.sandbox_pidns);
    // What the agent writes as the bundle's config.json.
    let _ = serde_json::to_vec(&spec);
}

fn exec_process(payload: &[u8]) {
    let Some(req) = decode::<pb::ExecProcessRequest>(payload) else {
        return;
    };
    if let Some(p) = req.process.as_ref() {
        if let Ok(process) = process_from_grpc(p) {
            let _ = validate_id(&req.exec_id);
            let _ = serde_json::to_vec(&process);
        }
    }
}

fn update_container(payload: &[u8]) {
    let Some(req) = decode::<pb::UpdateContainerRequest>(payload) else {
        return;
    };
    if let Some(r) = req.resources.as_ref() {
        let _ = resources_from_grpc(r);
    }
}

fn create_sandbox(payload: &[u8]) {
    let Some(req) = decode::<pb::CreateSandboxRequest>(payload) else {
        return;
    };
    for s in req.storages.iter().map(storage_from_grpc) {
        check_mount_point(&s.mount_point);
    }
}

fn update_interface(payload: &[u8]) {
    let Some(req) = decode::<pb::UpdateInterfaceRequest>(payload) else {
        return;
    };
    if let Some(i) = req.interface.as_ref() {
        let _ = interface_from_grpc(i);
    }
}

fn routes_and_neighbors(payload: &[u8]) {
    if let Some(req) = decode::<pb::UpdateRoutesRequest>(payload) {
        for r in req
            .routes
            .as_ref()
            .map(|r| r.Routes.as_slice())
            .unwrap_or(&[])
        {
            let _ = route_from_grpc(r);
        }
    }
    if let Some(req) = decode::<pb::AddARPNeighborsRequest>(payload) {
        for n in req
            .neighbors
            .as_ref()
            .map(|n| n.ARPNeighbors.as_slice())
            .unwrap_or(&[])
        {
            let _ = neighbor_from_grpc(n);
        }
    }
}
