//! PauseContainer / ResumeContainer through the cgroup v2 freezer.

use crate::error::{AgentError, Result};
use crate::sandbox::Sandbox;

pub fn pause(sb: &Sandbox, id: &str) -> Result<()> {
    freeze(sb, id, true)
}

pub fn resume(sb: &Sandbox, id: &str) -> Result<()> {
    freeze(sb, id, false)
}

fn freeze(sb: &Sandbox, id: &str, frozen: bool) -> Result<()> {
    let c = sb.container(id)?;
    let mut lc = c.libcontainer();
    let result = if frozen { lc.pause() } else { lc.resume() };
    result.map_err(|source| match source {
        libcontainer::error::LibcontainerError::IncorrectStatus(s) => {
            AgentError::FailedPrecondition(format!("container {id} is {s:?}"))
        }
        source => AgentError::container(id, if frozen { "pause" } else { "resume" }, source),
    })
}
