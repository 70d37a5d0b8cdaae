//! StartContainer: let the waiting init process exec the container's entry point.

use crate::error::{AgentError, Result};
use crate::sandbox::Sandbox;

pub fn start(sb: &Sandbox, id: &str) -> Result<()> {
    let c = sb.container(id)?;
    let mut lc = c.libcontainer();
    if !lc.can_start() {
        return Err(AgentError::FailedPrecondition(format!(
            "container {id} is {:?}, cannot start",
            lc.status()
        )));
    }
    lc.start()
        .map_err(|source| AgentError::container(id, "start", source))
}
