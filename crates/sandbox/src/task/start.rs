//! Start: `StartContainer` for an init, `ExecProcess` for an exec; then the stream pumps.

use std::future::Future;
use std::pin::Pin;

use super::actor::{reply, Done, SandboxTask};
use super::deadline::with_deadline;
use super::io::spawn_process_io;
use super::Reply;
use crate::error::{Error, Result};
use crate::types::{Event, ProcessRef, ProcessState};

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl SandboxTask {
    /// Sends `StartContainer` (an init) or `ExecProcess` (an exec) off the loop;
    /// [`Self::finish_start`] ends it.
    pub(crate) fn start(&mut self, p: ProcessRef, r: Reply<u32>) {
        let call = match self.start_call(&p) {
            Ok(call) => call,
            Err(e) => return reply(r, Err(e)),
        };
        self.spawn_call(Some(p.clone()), async move {
            Done::Started {
                process: p,
                result: call.await,
                reply: r,
            }
        });
    }

    fn start_call(&self, p: &ProcessRef) -> Result<BoxFuture<Result<()>>> {
        let agent = self.agent()?;
        let proc_ = self.process(p)?;
        if proc_.state != ProcessState::Created {
            return Err(Error::BadState {
                id: p.id().to_owned(),
                state: proc_.state.as_str(),
                action: "start",
            });
        }
        let after = self.options.timeouts.request;
        let cid = p.container_id.clone();
        let vm = self.vm.clone();
        Ok(match &p.exec_id {
            None => Box::pin(async move {
                // An interface CNI added between create and start is there from the first
                // instruction, as with runc.
                if let Some(vm) = vm {
                    let look = vm.sync_network();
                    if tokio::time::timeout(std::time::Duration::from_secs(20), look)
                        .await
                        .is_err()
                    {
                        tracing::warn!(container = %cid, "the pod network look before start timed out");
                    }
                }
                let began = std::time::Instant::now();
                let call = agent.start_container(&cid);
                let started = with_deadline("StartContainer", &cid, after, call).await;
                if started.is_ok() {
                    tracing::info!(container = %cid, start_ms = began.elapsed().as_millis(), "container started (ms of StartContainer)");
                }
                started
            }),
            Some(eid) => {
                let spec = proc_.spec.clone().ok_or_else(|| Error::InvalidArgument {
                    what: format!("exec {eid}"),
                    reason: "no process spec".into(),
                })?;
                let eid = eid.clone();
                Box::pin(async move {
                    let call = agent.exec_process(&cid, &eid, spec);
                    with_deadline("ExecProcess", &cid, after, call).await
                })
            }
        })
    }

    /// Emits `Started`/`ExecStarted` and starts the stream pumps and the exit watcher. A process
    /// that ended meanwhile (the VM died) stays ended.
    pub(crate) fn finish_start(&mut self, p: &ProcessRef, result: Result<()>) -> Result<u32> {
        result?;
        let agent = self.agent()?;
        let proc_ = self.process(p)?;
        if proc_.state != ProcessState::Created {
            return Err(Error::ProcessFinished(p.id().to_owned()));
        }
        let io = proc_.io.clone();
        let exec_id = Self::agent_exec_id(p);
        let pid = self.pid();
        let event = match &p.exec_id {
            None => Event::Started {
                container_id: p.container_id.clone(),
                pid,
            },
            Some(eid) => Event::ExecStarted {
                container_id: p.container_id.clone(),
                exec_id: eid.clone(),
                pid,
            },
        };
        self.emit(event);
        let pumps = spawn_process_io(agent, p.clone(), exec_id, &io, self.internal.clone());
        let proc_ = self.process_mut(p)?;
        proc_.state = ProcessState::Running;
        proc_.pumps = Some(pumps);
        proc_.spec = None;
        Ok(pid)
    }
}
