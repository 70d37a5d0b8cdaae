//! ExecProcess: a second process in a running container's namespaces and cgroup
//! (libcontainer's tenant builder).

use std::sync::Arc;

use libcontainer::container::builder::ContainerBuilder;
use libcontainer::syscall::syscall::SyscallType;
use oci_spec::runtime::Process as OciProcess;

use super::diagnose::libcontainer_failure;
use super::lock;
use super::process::Process;
use super::stdio::Pending;
use crate::error::{AgentError, Result};
use crate::sandbox::Sandbox;

#[derive(Debug, Clone)]
pub struct ExecRequest {
    pub id: String,
    pub exec_id: String,
    pub process: OciProcess,
}

pub fn exec(sb: &Sandbox, req: ExecRequest) -> Result<()> {
    super::validate_id(&req.exec_id)?;
    let c = sb.container(&req.id)?;
    if c.process(&req.exec_id).is_ok() {
        return Err(AgentError::AlreadyExists(format!(
            "process {} in container {}",
            req.exec_id, req.id
        )));
    }
    if c.init.exit_code().is_some() {
        return Err(AgentError::FailedPrecondition(format!(
            "container {} is not running",
            req.id
        )));
    }
    let process_file = c.bundle.join(format!("exec-{}.json", req.exec_id));
    let json = serde_json::to_vec(&req.process)
        .map_err(|e| AgentError::Internal(format!("encoding process: {e}")))?;
    std::fs::write(&process_file, json).map_err(|e| AgentError::io("writing", &process_file, e))?;

    let terminal = req.process.terminal().unwrap_or(false);
    let mut pending = Pending::prepare(terminal, &c.bundle, &format!("exec-{}.sock", req.exec_id))?;
    let lc_err = |what| {
        let id = req.id.clone();
        move |source| AgentError::container(&id, what, source)
    };
    let mut builder = ContainerBuilder::new(req.id.clone(), SyscallType::default())
        .with_root_path(&sb.layout.state_root)
        .map_err(lc_err("state directory"))?;
    if let Some(child) = pending.take_child() {
        builder = builder
            .with_stdin(child.stdin)
            .with_stdout(child.stdout)
            .with_stderr(child.stderr);
    }
    if let Some(path) = pending.console_path() {
        builder = builder.with_console_socket(Some(path));
    }
    let result = builder
        .as_tenant()
        .with_process(Some(&process_file))
        .with_detach(true)
        .build();
    let _ = std::fs::remove_file(&process_file);
    let root = std::path::PathBuf::from(format!("/proc/{}/root", c.init.pid));
    let pid = result
        .map_err(|e| libcontainer_failure(&req.id, "exec", &root, Some(&req.process), e))?
        .as_raw();
    let exit = sb.reaper.watch(pid);
    let stdio = pending.finish(super::stdio::console_size(Some(&req.process)))?;
    let process = Arc::new(Process::new(req.exec_id.clone(), pid, stdio, exit));
    lock(&c.execs).insert(req.exec_id, process);
    Ok(())
}
