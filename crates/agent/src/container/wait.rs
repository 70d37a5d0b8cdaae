//! WaitProcess: the exit code of a process (128 + N when killed by signal N).

use crate::error::Result;
use crate::sandbox::Sandbox;

pub async fn wait(sb: &Sandbox, id: &str, exec_id: &str) -> Result<i32> {
    let process = sb.container(id)?.process(exec_id)?;
    Ok(process.wait().await)
}
