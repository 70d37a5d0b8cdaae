//! Exec: register a process (its spec is a JSON `Process` in an `Any`).

use containerd_shim::api::{Empty, ExecProcessRequest};
use containerd_shim::TtrpcResult;
use kata_sandbox::ExecProcess;
use oci_spec::runtime::Process;

use super::io::process_io;
use super::TaskService;
use crate::errors::{invalid, to_ttrpc};

impl TaskService {
    pub(super) async fn do_exec(&self, r: ExecProcessRequest) -> TtrpcResult<Empty> {
        kata_oci::validate_id("container id", &r.id).map_err(|e| invalid(e.to_string()))?;
        kata_oci::validate_id("exec id", &r.exec_id).map_err(|e| invalid(e.to_string()))?;
        let spec = r
            .spec
            .as_ref()
            .ok_or_else(|| invalid(format!("exec {} has no process spec", r.exec_id)))?;
        let process: Process = serde_json::from_slice(&spec.value)
            .map_err(|e| invalid(format!("process spec of exec {}: {e}", r.exec_id)))?;
        let req = ExecProcess {
            container_id: r.id.clone(),
            exec_id: r.exec_id.clone(),
            process,
            io: process_io(
                &self.namespace,
                &r.id,
                &r.stdin,
                &r.stdout,
                &r.stderr,
                r.terminal,
            )
            .await?,
        };
        self.sandbox()?.exec(req).await.map_err(to_ttrpc)?;
        Ok(Empty::new())
    }
}
