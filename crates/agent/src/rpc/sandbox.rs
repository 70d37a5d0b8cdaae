//! Sandbox-wide and guest RPCs.

use std::path::PathBuf;

use kata_protocols::agent as pb;
use kata_protocols::empty::Empty;

use super::convert::storage_from_grpc;
use super::status::{map, RpcResult};
use super::Service;
use crate::guest;
use crate::storage;

pub fn create(svc: &Service, req: pb::CreateSandboxRequest) -> RpcResult<Empty> {
    let storages: Vec<_> = req.storages.iter().map(storage_from_grpc).collect();
    tracing::info!(sandbox = %req.sandbox_id, storages = storages.len(), "create sandbox");
    // `[agent.kata] kernel_modules`: a module that cannot be loaded fails the sandbox (as Kata).
    if !req.kernel_modules.is_empty() {
        let dir = crate::init::modules::running_kernel_modules_dir();
        for m in &req.kernel_modules {
            map(crate::init::modules::load_named(
                &dir,
                &m.name,
                &m.parameters,
            ))?;
            tracing::info!(module = %m.name, parameters = ?m.parameters, "kernel module loaded");
        }
    }
    // `guest_hook_path`: as Kata's agent, a path the guest image lacks is a warning (in the
    // host's log, naming it), not a failed sandbox.
    if !req.guest_hook_path.is_empty() {
        let path = std::path::Path::new(&req.guest_hook_path);
        if let Err(e) = svc.sandbox.set_guest_hooks(path) {
            tracing::warn!(path = %path.display(), error = %e, "guest hooks not added");
        }
    }
    map(svc.sandbox.create(req.sandbox_id, req.hostname, &storages)).map(|_| Empty::new())
}

pub fn destroy(svc: &Service) -> RpcResult<Empty> {
    tracing::info!("destroy sandbox");
    for e in svc.sandbox.destroy() {
        tracing::warn!(error = %e, "while destroying sandbox");
    }
    svc.request_shutdown();
    Ok(Empty::new())
}

pub fn online_cpu_mem(svc: &Service, req: pb::OnlineCPUMemRequest) -> RpcResult<Empty> {
    map(guest::online_cpu_mem(
        &svc.sandbox.layout.sysfs,
        req.nb_cpus,
        req.cpu_only,
    ))
    .map(|_| Empty::new())
}

pub fn reseed(req: pb::ReseedRandomDevRequest) -> RpcResult<Empty> {
    map(guest::reseed_random(&req.data)).map(|_| Empty::new())
}

pub fn set_time(req: pb::SetGuestDateTimeRequest) -> RpcResult<Empty> {
    map(guest::set_time(req.Sec, req.Usec)).map(|_| Empty::new())
}

pub fn details(svc: &Service, req: pb::GuestDetailsRequest) -> RpcResult<pb::GuestDetailsResponse> {
    let mut resp = pb::GuestDetailsResponse::new();
    if req.mem_block_size {
        resp.mem_block_size_bytes = guest::mem_block_size(&svc.sandbox.layout.sysfs);
    }
    resp.support_mem_hotplug_probe = false;
    let mut d = pb::AgentDetails::new();
    d.version = crate::VERSION.to_string();
    d.init_daemon = svc.pid1;
    d.storage_handlers = storage::DRIVERS.iter().map(|s| s.to_string()).collect();
    d.supports_seccomp = guest::seccomp_filter_available();
    resp.agent_details = Some(d).into();
    Ok(resp)
}

pub fn copy_file(svc: &Service, req: pb::CopyFileRequest) -> RpcResult<Empty> {
    let shared = map(svc
        .sandbox
        .layout
        .run_path(std::path::Path::new(crate::paths::SHARED_CONTAINERS)))?;
    let cmd = guest::CopyFileRequest {
        path: PathBuf::from(req.path),
        file_size: req.file_size,
        file_mode: req.file_mode,
        dir_mode: req.dir_mode,
        uid: req.uid,
        gid: req.gid,
        offset: req.offset,
        data: req.data,
    };
    map(guest::copy_file(&shared, &cmd)).map(|_| Empty::new())
}

pub fn update_ephemeral_mounts(
    svc: &Service,
    req: pb::UpdateEphemeralMountsRequest,
) -> RpcResult<Empty> {
    for s in &req.storages {
        map(svc
            .sandbox
            .storages
            .remount_ephemeral(&storage_from_grpc(s)))?;
    }
    Ok(Empty::new())
}
