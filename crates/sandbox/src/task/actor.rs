//! The sandbox task: its state, its loop and the dispatch of commands.

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use super::process::{Container, Process};
use super::{Command, SandboxOptions};
use crate::agent::Agent;
use crate::error::{Error, Result};
use crate::host::layout::Layout;
use crate::host::state::SandboxState;
use crate::types::{Event, ExitStatus, ProcessInfo, ProcessRef, VM_DIED_EXIT_CODE};
use crate::vm::{VmControl, VmLauncher};

/// Messages the task's helpers (process watchers, VM watcher) send back to it.
pub(crate) enum Internal {
    Exited { process: ProcessRef, code: u32 },
    Oom { container_id: String },
    VmExited,
}

pub(crate) struct SandboxTask {
    pub layout: Layout,
    pub options: SandboxOptions,
    pub launcher: Arc<dyn VmLauncher>,
    pub events: mpsc::UnboundedSender<Event>,
    pub internal: mpsc::UnboundedSender<Internal>,
    internal_rx: Option<mpsc::UnboundedReceiver<Internal>>,
    pub vm: Option<Arc<dyn VmControl>>,
    pub agent: Option<Arc<dyn Agent>>,
    pub vm_dead: bool,
    pub torn_down: bool,
    pub containers: BTreeMap<String, Container>,
    pub state: SandboxState,
}

impl SandboxTask {
    pub fn new(
        layout: Layout,
        options: SandboxOptions,
        launcher: Arc<dyn VmLauncher>,
        events: mpsc::UnboundedSender<Event>,
    ) -> Self {
        let (internal, internal_rx) = mpsc::unbounded_channel();
        let state = SandboxState {
            sandbox_id: layout.sandbox_id.clone(),
            ..Default::default()
        };
        Self {
            layout,
            options,
            launcher,
            events,
            internal,
            internal_rx: Some(internal_rx),
            vm: None,
            agent: None,
            vm_dead: false,
            torn_down: false,
            containers: BTreeMap::new(),
            state,
        }
    }

    pub async fn run(mut self, mut commands: mpsc::Receiver<Command>) {
        let Some(mut internal) = self.internal_rx.take() else {
            return;
        };
        loop {
            tokio::select! {
                biased;
                Some(msg) = internal.recv() => self.on_internal(msg),
                cmd = commands.recv() => match cmd {
                    Some(cmd) => self.dispatch(cmd).await,
                    None => break,
                },
            }
        }
        self.teardown().await;
    }

    async fn dispatch(&mut self, cmd: Command) {
        match cmd {
            Command::Boot(req, r) => {
                let _ = r.send(self.boot(req).await);
            }
            Command::Create(req, r) => {
                let _ = r.send(self.create(req).await);
            }
            Command::Start(p, r) => {
                let _ = r.send(self.start(p).await);
            }
            Command::Exec(req, r) => {
                let _ = r.send(self.add_exec(*req));
            }
            Command::Delete(p, r) => {
                let _ = r.send(self.delete(p).await);
            }
            Command::State(p, r) => {
                let _ = r.send(self.process_info(&p));
            }
            Command::Wait(p, r) => {
                let _ = r.send(self.wait(&p));
            }
            Command::Kill(p, sig, r) => {
                let _ = r.send(self.kill(p, sig).await);
            }
            Command::ResizePty(p, rows, cols, r) => {
                let _ = r.send(self.resize_pty(p, rows, cols).await);
            }
            Command::CloseIo(p, r) => {
                let _ = r.send(self.close_io(p).await);
            }
            Command::Pause(id, r) => {
                let _ = r.send(self.pause(id).await);
            }
            Command::Resume(id, r) => {
                let _ = r.send(self.resume(id).await);
            }
            Command::Stats(id, r) => {
                let _ = r.send(self.stats(id).await);
            }
            Command::Update(id, res, r) => {
                let _ = r.send(self.update(id, *res).await);
            }
            Command::Pids(id, r) => {
                let _ = r.send(self.pids(&id));
            }
            Command::Shutdown(r) => {
                let _ = r.send(self.shutdown().await);
            }
        }
    }

    fn on_internal(&mut self, msg: Internal) {
        match msg {
            Internal::Exited { process, code } => self.on_exit(&process, ExitStatus::now(code)),
            Internal::Oom { container_id } => {
                if self.containers.contains_key(&container_id) {
                    self.emit(Event::Oom { container_id });
                }
            }
            Internal::VmExited => {
                if self.torn_down || self.vm_dead {
                    return;
                }
                tracing::error!(sandbox = %self.layout.sandbox_id, "the vm exited unexpectedly");
                self.vm_dead = true;
                let mut running = Vec::new();
                for (cid, c) in &self.containers {
                    running.push(ProcessRef::new(cid.clone(), None));
                    for eid in c.execs.keys() {
                        running.push(ProcessRef::new(cid.clone(), Some(eid.clone())));
                    }
                }
                for p in running {
                    self.on_exit(&p, ExitStatus::now(VM_DIED_EXIT_CODE));
                }
            }
        }
    }

    fn on_exit(&mut self, p: &ProcessRef, status: ExitStatus) {
        let pid = self.pid();
        let Ok(proc_) = self.process_mut(p) else {
            return;
        };
        if proc_.finish(status) {
            self.emit(Event::Exited {
                process: p.clone(),
                pid,
                status,
            });
        }
    }

    pub fn emit(&self, event: Event) {
        let _ = self.events.send(event);
    }

    /// The pid containerd sees for every process: the hypervisor's.
    pub fn pid(&self) -> u32 {
        self.vm.as_ref().map(|vm| vm.pid()).unwrap_or(0)
    }

    /// The agent, when the VM is up.
    pub fn agent(&self) -> Result<Arc<dyn Agent>> {
        match (&self.agent, self.vm_dead || self.torn_down) {
            (Some(a), false) => Ok(a.clone()),
            _ => Err(Error::VmNotRunning),
        }
    }

    pub fn persist(&self) {
        if let Err(e) = self.state.save(&self.layout.state_dir()) {
            tracing::warn!(error = %e, "cannot persist the sandbox state");
        }
    }

    pub fn container(&self, id: &str) -> Result<&Container> {
        self.containers
            .get(id)
            .ok_or_else(|| Error::ContainerNotFound(id.to_owned()))
    }

    pub fn process(&self, p: &ProcessRef) -> Result<&Process> {
        let c = self.container(&p.container_id)?;
        match &p.exec_id {
            None => Ok(&c.init),
            Some(eid) => c.execs.get(eid).ok_or_else(|| Error::ProcessNotFound {
                container_id: p.container_id.clone(),
                exec_id: eid.clone(),
            }),
        }
    }

    pub fn process_mut(&mut self, p: &ProcessRef) -> Result<&mut Process> {
        let c = self
            .containers
            .get_mut(&p.container_id)
            .ok_or_else(|| Error::ContainerNotFound(p.container_id.clone()))?;
        match &p.exec_id {
            None => Ok(&mut c.init),
            Some(eid) => c.execs.get_mut(eid).ok_or_else(|| Error::ProcessNotFound {
                container_id: p.container_id.clone(),
                exec_id: eid.clone(),
            }),
        }
    }

    /// The exec id the agent knows a process by (the container id for the init).
    pub fn agent_exec_id(p: &ProcessRef) -> String {
        p.exec_id.clone().unwrap_or_else(|| p.container_id.clone())
    }

    fn process_info(&self, p: &ProcessRef) -> Result<ProcessInfo> {
        let c = self.container(&p.container_id)?;
        let proc_ = self.process(p)?;
        Ok(ProcessInfo {
            id: p.id().to_owned(),
            bundle: c.bundle.clone(),
            pid: self.pid(),
            state: proc_.state,
            io: proc_.io.clone(),
            exit: proc_.exit,
        })
    }

    fn wait(&mut self, p: &ProcessRef) -> Result<oneshot::Receiver<ExitStatus>> {
        let proc_ = self.process_mut(p)?;
        let (tx, rx) = oneshot::channel();
        match proc_.exit {
            Some(status) => {
                let _ = tx.send(status);
            }
            None => proc_.waiters.push(tx),
        }
        Ok(rx)
    }

    fn pids(&self, container_id: &str) -> Result<Vec<u32>> {
        self.container(container_id)?;
        Ok(vec![self.pid()])
    }
}
