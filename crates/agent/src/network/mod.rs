//! Guest networking pushed by the runtime: interfaces (addresses, MTU, name), routes and ARP
//! neighbours, over rtnetlink (`kata-netlink`, shared with the host side).

pub use kata_netlink::{format_mac, parse_mac, Interface, IpNet, Neighbor, Route};

use crate::error::{AgentError, Result};

impl From<kata_netlink::Error> for AgentError {
    fn from(e: kata_netlink::Error) -> Self {
        match e {
            kata_netlink::Error::NotFound(what) => AgentError::NotFound(what),
            kata_netlink::Error::InvalidArgument(what) => AgentError::InvalidArgument(what),
            other => AgentError::Internal(format!("{}", DisplayChain(&other))),
        }
    }
}

/// An error with its causes, `a: b: c`.
struct DisplayChain<'a>(&'a dyn std::error::Error);

impl std::fmt::Display for DisplayChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(s) = source {
            write!(f, ": {s}")?;
            source = s.source();
        }
        Ok(())
    }
}

/// Applies `want` to the device with its MAC (or name); returns the resulting state.
pub fn update_interface(want: &Interface) -> Result<Interface> {
    Ok(kata_netlink::link::update_interface(want)?)
}

/// Every link with its addresses.
pub fn list_interfaces() -> Result<Vec<Interface>> {
    Ok(kata_netlink::link::list_interfaces()?)
}

/// Replaces the static routes of the devices named in `routes` with `routes`.
pub fn update_routes(routes: &[Route]) -> Result<Vec<Route>> {
    Ok(kata_netlink::route::update_routes(routes)?)
}

/// Routes of the main table.
pub fn list_routes() -> Result<Vec<Route>> {
    Ok(kata_netlink::route::list_routes()?)
}

/// Adds static neighbours.
pub fn add_neighbors(neighbors: &[Neighbor]) -> Result<()> {
    Ok(kata_netlink::neigh::add_neighbors(neighbors)?)
}

/// Brings the loopback device up (the guest kernel leaves it down), as runc's containers have it.
pub fn loopback_up() -> Result<()> {
    let mut nl = kata_netlink::Netlink::open()?;
    let index = kata_netlink::link::index_of(&mut nl, "lo")?;
    Ok(kata_netlink::link::set_up(&mut nl, index, 0)?)
}

#[cfg(test)]
mod netns_test;
