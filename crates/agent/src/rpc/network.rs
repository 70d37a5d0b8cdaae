//! Network RPCs.

use kata_protocols::agent as pb;
use kata_protocols::empty::Empty;
use kata_protocols::types;

use super::convert::network::{
    interface_from_grpc, interface_to_grpc, neighbor_from_grpc, route_from_grpc, route_to_grpc,
};
use super::status::{map, RpcResult};
use crate::error::AgentError;
use crate::network;

pub fn update_interface(req: pb::UpdateInterfaceRequest) -> RpcResult<types::Interface> {
    let want = req
        .interface
        .as_ref()
        .ok_or_else(|| AgentError::InvalidArgument("UpdateInterface without interface".into()));
    let want = map(want.and_then(|i| interface_from_grpc(i).map_err(AgentError::from)))?;
    tracing::info!(name = %want.name, mac = %want.hw_addr, "update interface");
    map(network::update_interface(&want)).map(|i| interface_to_grpc(&i))
}

pub fn list_interfaces() -> RpcResult<pb::Interfaces> {
    let mut out = pb::Interfaces::new();
    out.Interfaces = map(network::list_interfaces())?
        .iter()
        .map(interface_to_grpc)
        .collect();
    Ok(out)
}

pub fn update_routes(req: pb::UpdateRoutesRequest) -> RpcResult<pb::Routes> {
    let routes = req
        .routes
        .as_ref()
        .map(|r| r.Routes.clone())
        .unwrap_or_default();
    let routes = map(routes
        .iter()
        .map(route_from_grpc)
        .collect::<Result<Vec<_>, _>>()
        .map_err(AgentError::from))?;
    tracing::info!(count = routes.len(), "update routes");
    let mut out = pb::Routes::new();
    out.Routes = map(network::update_routes(&routes))?
        .iter()
        .map(route_to_grpc)
        .collect();
    Ok(out)
}

pub fn list_routes() -> RpcResult<pb::Routes> {
    let mut out = pb::Routes::new();
    out.Routes = map(network::list_routes())?
        .iter()
        .map(route_to_grpc)
        .collect();
    Ok(out)
}

pub fn add_arp_neighbors(req: pb::AddARPNeighborsRequest) -> RpcResult<Empty> {
    let list = req
        .neighbors
        .as_ref()
        .map(|n| n.ARPNeighbors.clone())
        .unwrap_or_default();
    let list = map(list
        .iter()
        .map(neighbor_from_grpc)
        .collect::<Result<Vec<_>, _>>()
        .map_err(AgentError::from))?;
    map(network::add_neighbors(&list)).map(|_| Empty::new())
}
