//! The sandbox task: its state, its loop and the dispatch of commands.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};
use tokio::task::{JoinHandle, JoinSet};

use super::process::{Container, Process};
use super::{Command, Deleted, Reply, SandboxOptions};
use crate::agent::Agent;
use crate::error::{Error, Result};
use crate::host::cleanup::CleanupStep;
use crate::host::layout::Layout;
use crate::host::shares::Shares;
use crate::host::state::SandboxState;
use crate::types::{
    CreateContainer, Event, ExitStatus, ProcessInfo, ProcessRef, VM_DIED_EXIT_CODE,
};
use crate::vm::{GuestChannel, VmControl, VmLauncher};

/// Messages the task's helpers (process watchers, VM watcher) send back to it.
pub(crate) enum Internal {
    Exited { process: ProcessRef, code: u32 },
    Oom { container_id: String },
    VmExited,
}

/// The end of an agent call that ran off the loop: what the loop still has to apply before it
/// replies.
pub(crate) enum Done {
    /// The call's task replied itself; nothing to apply.
    Replied,
    Created {
        req: CreateContainer,
        steps: Vec<CleanupStep>,
        result: Result<()>,
        reply: Reply<u32>,
    },
    Started {
        process: ProcessRef,
        result: Result<()>,
        reply: Reply<u32>,
    },
    Removed {
        process: ProcessRef,
        pid: u32,
        exit: Option<ExitStatus>,
        reply: Reply<Deleted>,
    },
    Paused {
        container_id: String,
        result: Result<()>,
        reply: Reply<()>,
    },
    Resumed {
        container_id: String,
        result: Result<()>,
        reply: Reply<()>,
    },
    /// A SIGKILL of `process` got no answer and neither did the health check that followed:
    /// the loop stops the VM, then replies `Ok`.
    AgentUnresponsive {
        process: ProcessRef,
        /// Both failures, for the log.
        cause: String,
        reply: Reply<()>,
    },
}

impl Done {
    /// The process whose queued commands may go once this is applied.
    fn key(&self) -> Option<ProcessRef> {
        match self {
            Done::Replied | Done::AgentUnresponsive { .. } => None,
            Done::Created { req, .. } => Some(ProcessRef::new(req.id.clone(), None)),
            Done::Started { process, .. } | Done::Removed { process, .. } => Some(process.clone()),
            Done::Paused { container_id, .. } | Done::Resumed { container_id, .. } => {
                Some(ProcessRef::new(container_id.clone(), None))
            }
        }
    }
}

/// The process a command changes through the agent, if any: such commands run one at a time
/// per process, in order.
fn key_of(cmd: &Command) -> Option<ProcessRef> {
    match cmd {
        Command::Create(req, _) => Some(ProcessRef::new(req.id.clone(), None)),
        Command::Start(p, _) | Command::Delete(p, _) => Some(p.clone()),
        Command::Pause(id, _) | Command::Resume(id, _) => Some(ProcessRef::new(id.clone(), None)),
        _ => None,
    }
}

/// What the loop takes next.
enum Next {
    Internal(Internal),
    Done(std::result::Result<Done, tokio::task::JoinError>),
    Command(Option<Command>),
}

/// Sends a reply; the caller may have gone away.
pub(crate) fn reply<T>(to: Reply<T>, result: Result<T>) {
    let _ = to.send(result);
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
    /// The volumes shared with the guest ([`crate::host::shares`]).
    pub shares: Shares,
    /// Agent calls in flight, each ending in a [`Done`].
    pub inflight: JoinSet<Done>,
    /// Processes with a call in flight, and the commands on them that wait for it.
    pub waiting: HashMap<ProcessRef, VecDeque<Command>>,
    /// Commands released by a finished call, taken before new ones.
    ready: VecDeque<Command>,
    /// The OOM event watcher, stopped with the VM.
    pub oom_watch: Option<JoinHandle<()>>,
    /// How the host reaches the guest's vsock ports, once booted.
    pub channel: Option<GuestChannel>,
    /// The containers' CPU and memory, which the VM follows ([`super::resources`]).
    pub resizer: Arc<super::resources::Resizer>,
}

impl SandboxTask {
    pub fn new(
        layout: Layout,
        options: SandboxOptions,
        launcher: Arc<dyn VmLauncher>,
        events: mpsc::UnboundedSender<Event>,
    ) -> Self {
        let (internal, internal_rx) = mpsc::unbounded_channel();
        let resizer = super::resources::Resizer::new(options.resources);
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
            shares: Shares::default(),
            inflight: JoinSet::new(),
            waiting: HashMap::new(),
            ready: VecDeque::new(),
            oom_watch: None,
            channel: None,
            resizer,
        }
    }

    pub async fn run(mut self, mut commands: mpsc::Receiver<Command>) {
        let Some(mut internal) = self.internal_rx.take() else {
            return;
        };
        loop {
            if let Some(cmd) = self.ready.pop_front() {
                self.dispatch(cmd).await;
                continue;
            }
            let busy = !self.inflight.is_empty();
            let next = tokio::select! {
                biased;
                Some(msg) = internal.recv() => Next::Internal(msg),
                Some(done) = self.inflight.join_next(), if busy => Next::Done(done),
                cmd = commands.recv() => Next::Command(cmd),
            };
            match next {
                Next::Internal(msg) => self.on_internal(msg),
                Next::Done(Ok(done)) => self.complete(done).await,
                Next::Done(Err(e)) => {
                    if !e.is_cancelled() {
                        tracing::error!(error = %e, "an agent call task failed");
                    }
                }
                Next::Command(Some(cmd)) => self.dispatch(cmd).await,
                Next::Command(None) => break,
            }
        }
        self.teardown().await;
    }

    async fn dispatch(&mut self, cmd: Command) {
        if let Some(key) = key_of(&cmd) {
            if let Some(queue) = self.waiting.get_mut(&key) {
                queue.push_back(cmd);
                return;
            }
        }
        match cmd {
            Command::Boot(req, r) => reply(r, self.boot(req).await),
            Command::Create(req, r) => self.create(req, r),
            Command::Start(p, r) => self.start(p, r),
            Command::Exec(req, r) => reply(r, self.add_exec(*req)),
            Command::Delete(p, r) => self.delete(p, r).await,
            Command::State(p, r) => reply(r, self.process_info(&p)),
            Command::Wait(p, r) => reply(r, self.wait(&p)),
            Command::Kill(p, sig, all, r) => self.kill(p, sig, all, r),
            Command::ResizePty(p, rows, cols, r) => self.resize_pty(p, rows, cols, r),
            Command::CloseIo(p, r) => self.close_io(p, r),
            Command::Pause(id, r) => self.pause(id, r),
            Command::Resume(id, r) => self.resume(id, r),
            Command::Stats(id, r) => self.stats(id, r),
            Command::Update(id, res, r) => self.update(id, *res, r),
            Command::Pids(id, r) => reply(r, self.pids(&id)),
            Command::Monitor(r) => reply(r, Ok(self.monitor_info())),
            Command::Shutdown(r) => reply(r, self.shutdown().await),
        }
    }

    /// Runs `call` off the loop; commands on `key` wait until its [`Done`] is applied.
    pub(crate) fn spawn_call<F>(&mut self, key: Option<ProcessRef>, call: F)
    where
        F: std::future::Future<Output = Done> + Send + 'static,
    {
        if let Some(key) = key {
            self.waiting.entry(key).or_default();
        }
        self.inflight.spawn(call);
    }

    /// Applies a finished call, replies, and releases the commands that waited for it.
    async fn complete(&mut self, done: Done) {
        let key = done.key();
        match done {
            Done::Replied => {}
            Done::Created {
                req,
                steps,
                result,
                reply: r,
            } => {
                let result = self.finish_create(req, steps, result).await;
                reply(r, result);
            }
            Done::Started {
                process,
                result,
                reply: r,
            } => reply(r, self.finish_start(&process, result)),
            Done::Removed {
                process,
                pid,
                exit,
                reply: r,
            } => {
                self.finish_delete(&process.container_id, pid, exit).await;
                reply(r, Ok(Deleted { pid, exit }));
            }
            Done::Paused {
                container_id,
                result,
                reply: r,
            } => reply(r, self.finish_pause(container_id, result)),
            Done::Resumed {
                container_id,
                result,
                reply: r,
            } => reply(r, self.finish_resume(container_id, result)),
            Done::AgentUnresponsive {
                process,
                cause,
                reply: r,
            } => {
                self.stop_unresponsive_vm(&process, &cause).await;
                reply(r, Ok(()));
            }
        }
        if let Some(queue) = key.and_then(|k| self.waiting.remove(&k)) {
            self.ready.extend(queue);
        }
    }

    /// Drops every call in flight (their callers see the sandbox gone) and lets the commands
    /// that waited for them run.
    pub(crate) fn abandon_calls(&mut self) {
        self.inflight.abort_all();
        for (_, queue) in self.waiting.drain() {
            self.ready.extend(queue);
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
                self.vm_gone();
            }
        }
    }

    /// The VM is gone: every process of the pod exits with [`VM_DIED_EXIT_CODE`] (one
    /// `Exited` event each); only deletes and teardown remain possible.
    fn vm_gone(&mut self) {
        self.vm_dead = true;
        if let Some(watch) = self.oom_watch.take() {
            watch.abort();
        }
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

    /// Stops the VM (QEMU and its daemons) of an agent that took neither a SIGKILL of
    /// `process` nor a health check: the shim owns the VM, so a guest that starves its agent
    /// still cannot keep its pod alive. The processes end as on [`Internal::VmExited`].
    async fn stop_unresponsive_vm(&mut self, process: &ProcessRef, cause: &str) {
        if self.torn_down || self.vm_dead {
            return;
        }
        tracing::error!(
            sandbox = %self.layout.sandbox_id,
            container = %process.container_id,
            cause,
            "agent unresponsive to SIGKILL of {}: stopping the VM",
            process.id()
        );
        if let Some(vm) = &self.vm {
            vm.stop().await;
        }
        self.vm_gone();
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
        // After teardown the state directory is gone; only a teardown that left steps behind
        // keeps it (for `shim delete`). A later container delete must not bring it back.
        if self.torn_down && self.state.all_steps().is_empty() {
            return;
        }
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
