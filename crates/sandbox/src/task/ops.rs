//! The smaller verbs: resize, close stdin, pause, resume, stats, update, monitor, shutdown.

use oci_spec::runtime::LinuxResources;

use std::sync::Arc;

use super::actor::{reply, Done, SandboxTask};
use super::deadline::with_deadline;
use super::io::IoPumps;
use super::{MonitorInfo, Reply};
use crate::agent::Agent;
use crate::error::Result;
use crate::types::{ContainerStats, Event, ProcessRef, ProcessState};

impl SandboxTask {
    /// The management socket's view: answered from the task's state, never waiting on the guest.
    pub(crate) fn monitor_info(&self) -> MonitorInfo {
        let running = !self.vm_dead && !self.torn_down;
        MonitorInfo {
            sandbox_id: self.layout.sandbox_id.clone(),
            hypervisor_pid: self.vm.as_ref().map(|vm| vm.pid()),
            channel: self.channel.clone().filter(|_| running),
            agent: self.agent.clone().filter(|_| running),
        }
    }

    pub(crate) fn resize_pty(&mut self, p: ProcessRef, rows: u32, cols: u32, r: Reply<()>) {
        let agent = match self.process(&p).map(|proc_| proc_.state) {
            Ok(ProcessState::Running) => match self.agent() {
                Ok(agent) => agent,
                Err(e) => return reply(r, Err(e)),
            },
            Ok(_) => return reply(r, Ok(())),
            Err(e) => return reply(r, Err(e)),
        };
        let after = self.options.timeouts.quick;
        let eid = Self::agent_exec_id(&p);
        self.spawn_call(None, async move {
            let cid = &p.container_id;
            let call = agent.tty_win_resize(cid, &eid, rows, cols);
            reply(r, with_deadline("TtyWinResize", cid, after, call).await);
            Done::Replied
        });
    }

    pub(crate) fn close_io(&mut self, p: ProcessRef, r: Reply<()>) {
        // A stdin copy closes the guest's stdin itself once it read the FIFO's end, which
        // dropping our own write end allows.
        let copied = match self.process_mut(&p) {
            Ok(proc_) => {
                proc_.state != ProcessState::Running
                    || proc_.pumps.as_mut().is_some_and(IoPumps::close_stdin)
            }
            Err(e) => return reply(r, Err(e)),
        };
        let agent = match self.process(&p) {
            Ok(_) if copied => return reply(r, Ok(())),
            Ok(_) => match self.agent() {
                Ok(agent) => agent,
                Err(e) => return reply(r, Err(e)),
            },
            Err(e) => return reply(r, Err(e)),
        };
        let after = self.options.timeouts.quick;
        let eid = Self::agent_exec_id(&p);
        self.spawn_call(None, async move {
            let cid = &p.container_id;
            let call = agent.close_stdin(cid, &eid);
            reply(r, with_deadline("CloseStdin", cid, after, call).await);
            Done::Replied
        });
    }

    /// The agent, if the container exists and the VM runs.
    fn agent_for(&self, id: &str) -> Result<Arc<dyn Agent>> {
        let agent = self.agent()?;
        self.container(id)?;
        Ok(agent)
    }

    pub(crate) fn pause(&mut self, id: String, r: Reply<()>) {
        let agent = match self.agent_for(&id) {
            Ok(agent) => agent,
            Err(e) => return reply(r, Err(e)),
        };
        let after = self.options.timeouts.request;
        let key = ProcessRef::new(id.clone(), None);
        self.spawn_call(Some(key), async move {
            let call = agent.pause_container(&id);
            let result = with_deadline("PauseContainer", &id, after, call).await;
            Done::Paused {
                container_id: id,
                result,
                reply: r,
            }
        });
    }

    pub(crate) fn finish_pause(&mut self, id: String, result: Result<()>) -> Result<()> {
        result?;
        if let Some(c) = self.containers.get_mut(&id) {
            if c.init.state == ProcessState::Running {
                c.init.state = ProcessState::Paused;
            }
        }
        self.emit(Event::Paused { container_id: id });
        Ok(())
    }

    pub(crate) fn resume(&mut self, id: String, r: Reply<()>) {
        let agent = match self.agent_for(&id) {
            Ok(agent) => agent,
            Err(e) => return reply(r, Err(e)),
        };
        let after = self.options.timeouts.request;
        let key = ProcessRef::new(id.clone(), None);
        self.spawn_call(Some(key), async move {
            let call = agent.resume_container(&id);
            let result = with_deadline("ResumeContainer", &id, after, call).await;
            Done::Resumed {
                container_id: id,
                result,
                reply: r,
            }
        });
    }

    pub(crate) fn finish_resume(&mut self, id: String, result: Result<()>) -> Result<()> {
        result?;
        if let Some(c) = self.containers.get_mut(&id) {
            if c.init.state == ProcessState::Paused {
                c.init.state = ProcessState::Running;
            }
        }
        self.emit(Event::Resumed { container_id: id });
        Ok(())
    }

    pub(crate) fn stats(&mut self, id: String, r: Reply<ContainerStats>) {
        let agent = match self.agent_for(&id) {
            Ok(agent) => agent,
            Err(e) => return reply(r, Err(e)),
        };
        let after = self.options.timeouts.quick;
        self.spawn_call(None, async move {
            let call = agent.stats_container(&id);
            reply(r, with_deadline("StatsContainer", &id, after, call).await);
            Done::Replied
        });
    }

    pub(crate) fn update(&mut self, id: String, resources: LinuxResources, r: Reply<()>) {
        let agent = match self.agent_for(&id) {
            Ok(agent) => agent,
            Err(e) => return reply(r, Err(e)),
        };
        let after = self.options.timeouts.request;
        // The VM grows (or gives vCPUs back) first, so the new limits fit it (Kata's
        // `Container.update` then `updateResources`, before the agent's update).
        let before = self.resizer.update(&id, &resources);
        let resize = self.resize_job();
        let resizer = Arc::clone(&self.resizer);
        self.spawn_call(None, async move {
            let resized = match &resize {
                Some(job) => job.run().await,
                None => Ok(()),
            };
            let result = match resized {
                Ok(()) => {
                    let call = agent.update_container(&id, resources);
                    with_deadline("UpdateContainer", &id, after, call).await
                }
                Err(e) => Err(e),
            };
            if result.is_err() {
                resizer.restore(&id, before);
            }
            reply(r, result);
            Done::Replied
        });
    }

    pub(crate) async fn shutdown(&mut self) -> Result<bool> {
        // A container being created counts too.
        if !self.containers.is_empty() || !self.waiting.is_empty() {
            return Ok(false);
        }
        self.teardown().await;
        Ok(true)
    }
}
