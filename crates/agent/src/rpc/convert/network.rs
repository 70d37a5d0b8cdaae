//! `types.Interface`, `types.Route`, `types.ARPNeighbor` to and from the network domain types:
//! the conversions live in `kata_netlink::grpc`, shared with the runtime that fills them.

pub use kata_netlink::grpc::{
    interface_from_grpc, interface_to_grpc, neighbor_from_grpc, route_from_grpc, route_to_grpc,
};
