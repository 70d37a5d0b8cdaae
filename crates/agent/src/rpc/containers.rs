//! Container and process RPCs: requests to domain commands.

use kata_protocols::agent as pb;
use kata_protocols::empty::Empty;

use super::convert::{
    create_request_from_grpc, process_from_grpc, resources_from_grpc, stats_to_grpc,
};
use super::status::{map, RpcResult};
use super::Service;
use crate::container::{self, ExecRequest, Stream};
use crate::error::AgentError;

pub fn create(svc: &Service, req: pb::CreateContainerRequest) -> RpcResult<Empty> {
    let cmd = map(create_request_from_grpc(req))?;
    tracing::info!(container = %cmd.id, "create container");
    map(container::create(&svc.sandbox, cmd)).map(|_| Empty::new())
}

pub fn start(svc: &Service, req: pb::StartContainerRequest) -> RpcResult<Empty> {
    tracing::info!(container = %req.container_id, "start container");
    map(container::start(&svc.sandbox, &req.container_id)).map(|_| Empty::new())
}

pub async fn remove(svc: &Service, req: pb::RemoveContainerRequest) -> RpcResult<Empty> {
    tracing::info!(container = %req.container_id, "remove container");
    map(container::remove(&svc.sandbox, &req.container_id).await).map(|_| Empty::new())
}

pub fn exec(svc: &Service, req: pb::ExecProcessRequest) -> RpcResult<Empty> {
    let process = req
        .process
        .as_ref()
        .ok_or_else(|| AgentError::InvalidArgument("ExecProcess without process".into()));
    let process = map(process.and_then(process_from_grpc))?;
    let cmd = ExecRequest {
        id: req.container_id,
        exec_id: req.exec_id,
        process,
    };
    tracing::info!(container = %cmd.id, exec = %cmd.exec_id, "exec process");
    map(container::exec(&svc.sandbox, cmd)).map(|_| Empty::new())
}

pub fn signal(svc: &Service, req: pb::SignalProcessRequest) -> RpcResult<Empty> {
    map(container::signal(
        &svc.sandbox,
        &req.container_id,
        &req.exec_id,
        req.signal,
    ))
    .map(|_| Empty::new())
}

pub async fn wait(
    svc: &Service,
    req: pb::WaitProcessRequest,
) -> RpcResult<pb::WaitProcessResponse> {
    let status = map(container::wait(&svc.sandbox, &req.container_id, &req.exec_id).await)?;
    let mut resp = pb::WaitProcessResponse::new();
    resp.status = status;
    Ok(resp)
}

pub fn update(svc: &Service, req: pb::UpdateContainerRequest) -> RpcResult<Empty> {
    let Some(res) = req.resources.as_ref() else {
        return Ok(Empty::new());
    };
    let res = map(resources_from_grpc(res))?;
    map(container::update(&svc.sandbox, &req.container_id, &res)).map(|_| Empty::new())
}

pub fn stats(
    svc: &Service,
    req: pb::StatsContainerRequest,
) -> RpcResult<pb::StatsContainerResponse> {
    map(container::stats(&svc.sandbox, &req.container_id)).map(|s| stats_to_grpc(&s))
}

pub fn pause(svc: &Service, id: &str) -> RpcResult<Empty> {
    map(container::pause(&svc.sandbox, id)).map(|_| Empty::new())
}

pub fn resume(svc: &Service, id: &str) -> RpcResult<Empty> {
    map(container::resume(&svc.sandbox, id)).map(|_| Empty::new())
}

pub async fn write_stdin(
    svc: &Service,
    req: pb::WriteStreamRequest,
) -> RpcResult<pb::WriteStreamResponse> {
    let p = map(svc
        .sandbox
        .container(&req.container_id)
        .and_then(|c| c.process(&req.exec_id)))?;
    let n = map(p.write_stdin(&req.data).await)?;
    let mut resp = pb::WriteStreamResponse::new();
    resp.len = n as u32;
    Ok(resp)
}

pub async fn read(
    svc: &Service,
    req: pb::ReadStreamRequest,
    which: Stream,
) -> RpcResult<pb::ReadStreamResponse> {
    let p = map(svc
        .sandbox
        .container(&req.container_id)
        .and_then(|c| c.process(&req.exec_id)))?;
    let data = map(p.read(which, req.len as usize).await)?;
    let mut resp = pb::ReadStreamResponse::new();
    resp.data = data;
    Ok(resp)
}

pub async fn close_stdin(svc: &Service, req: pb::CloseStdinRequest) -> RpcResult<Empty> {
    let p = map(svc
        .sandbox
        .container(&req.container_id)
        .and_then(|c| c.process(&req.exec_id)))?;
    map(p.close_stdin().await).map(|_| Empty::new())
}

pub fn resize(svc: &Service, req: pb::TtyWinResizeRequest) -> RpcResult<Empty> {
    let p = map(svc
        .sandbox
        .container(&req.container_id)
        .and_then(|c| c.process(&req.exec_id)))?;
    let rows = u16::try_from(req.row).unwrap_or(u16::MAX);
    let cols = u16::try_from(req.column).unwrap_or(u16::MAX);
    map(p.resize(rows, cols)).map(|_| Empty::new())
}

pub async fn oom_event(svc: &Service) -> RpcResult<pb::OOMEvent> {
    let id = map(svc.sandbox.oom.next().await)?;
    let mut ev = pb::OOMEvent::new();
    ev.container_id = id;
    Ok(ev)
}
