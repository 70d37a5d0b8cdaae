//! The smaller verbs: resize, close stdin, pause, resume, stats, update, shutdown.

use oci_spec::runtime::LinuxResources;

use super::actor::SandboxTask;
use crate::error::{Error, Result};
use crate::types::{ContainerStats, Event, ProcessRef, ProcessState};

impl SandboxTask {
    pub(crate) async fn resize_pty(&mut self, p: ProcessRef, rows: u32, cols: u32) -> Result<()> {
        let proc_ = self.process(&p)?;
        if proc_.state != ProcessState::Running {
            return Ok(());
        }
        self.agent()?
            .tty_win_resize(&p.container_id, &Self::agent_exec_id(&p), rows, cols)
            .await
            .map_err(Error::agent("TtyWinResize"))
    }

    pub(crate) async fn close_io(&mut self, p: ProcessRef) -> Result<()> {
        let proc_ = self.process(&p)?;
        // A stdin pump closes the guest's stdin itself once it read the FIFO's end.
        if proc_.has_stdin_pump || proc_.state != ProcessState::Running {
            return Ok(());
        }
        self.agent()?
            .close_stdin(&p.container_id, &Self::agent_exec_id(&p))
            .await
            .map_err(Error::agent("CloseStdin"))
    }

    pub(crate) async fn pause(&mut self, id: String) -> Result<()> {
        let agent = self.agent()?;
        self.container(&id)?;
        agent
            .pause_container(&id)
            .await
            .map_err(Error::agent("PauseContainer"))?;
        if let Some(c) = self.containers.get_mut(&id) {
            if c.init.state == ProcessState::Running {
                c.init.state = ProcessState::Paused;
            }
        }
        self.emit(Event::Paused { container_id: id });
        Ok(())
    }

    pub(crate) async fn resume(&mut self, id: String) -> Result<()> {
        let agent = self.agent()?;
        self.container(&id)?;
        agent
            .resume_container(&id)
            .await
            .map_err(Error::agent("ResumeContainer"))?;
        if let Some(c) = self.containers.get_mut(&id) {
            if c.init.state == ProcessState::Paused {
                c.init.state = ProcessState::Running;
            }
        }
        self.emit(Event::Resumed { container_id: id });
        Ok(())
    }

    pub(crate) async fn stats(&mut self, id: String) -> Result<ContainerStats> {
        let agent = self.agent()?;
        self.container(&id)?;
        agent
            .stats_container(&id)
            .await
            .map_err(Error::agent("StatsContainer"))
    }

    pub(crate) async fn update(&mut self, id: String, resources: LinuxResources) -> Result<()> {
        let agent = self.agent()?;
        self.container(&id)?;
        // TODO(hotplug): grow the VM (vCPU/memory hotplug + OnlineCPUMem) before the guest update.
        agent
            .update_container(&id, resources)
            .await
            .map_err(Error::agent("UpdateContainer"))
    }

    pub(crate) async fn shutdown(&mut self) -> Result<bool> {
        if !self.containers.is_empty() {
            return Ok(false);
        }
        self.teardown().await;
        Ok(true)
    }
}
