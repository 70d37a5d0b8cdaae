//! Sandbox events to containerd event messages, published in the order they were emitted,
//! through a bounded backlog ([`BACKLOG_MAX`], OOM events coalesced per container).

use std::collections::{HashSet, VecDeque};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;

use containerd_shim::protos::events::task::{
    TaskCreate, TaskDelete, TaskExecAdded, TaskExecStarted, TaskExit, TaskIO, TaskOOM, TaskPaused,
    TaskResumed, TaskStart,
};
use containerd_shim::protos::protobuf::well_known_types::timestamp::Timestamp;
use containerd_shim::protos::protobuf::MessageDyn;
use containerd_shim::protos::topics;
use containerd_shim::protos::ttrpc::context;
use containerd_shim::publisher::RemotePublisher;
use kata_sandbox::Event;
use tokio::sync::mpsc;

pub fn timestamp(t: SystemTime) -> Timestamp {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    Timestamp {
        seconds: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        nanos: i32::try_from(d.subsec_nanos()).unwrap_or(0),
        ..Default::default()
    }
}

fn path(p: &Option<std::path::PathBuf>) -> String {
    p.as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_default()
}

/// The topic and message of an event.
pub fn convert(event: Event) -> (&'static str, Box<dyn MessageDyn>) {
    match event {
        Event::Created {
            container_id,
            bundle,
            io,
            pid,
        } => (
            topics::TASK_CREATE_EVENT_TOPIC,
            Box::new(TaskCreate {
                container_id,
                bundle: bundle.display().to_string(),
                io: Some(TaskIO {
                    stdin: path(&io.stdin),
                    stdout: path(&io.stdout),
                    stderr: path(&io.stderr),
                    terminal: io.terminal,
                    ..Default::default()
                })
                .into(),
                pid,
                ..Default::default()
            }),
        ),
        Event::Started { container_id, pid } => (
            topics::TASK_START_EVENT_TOPIC,
            Box::new(TaskStart {
                container_id,
                pid,
                ..Default::default()
            }),
        ),
        Event::Exited {
            process,
            pid,
            status,
        } => (
            topics::TASK_EXIT_EVENT_TOPIC,
            Box::new(TaskExit {
                id: process.id().to_owned(),
                container_id: process.container_id,
                pid,
                exit_status: status.code,
                exited_at: Some(timestamp(status.exited_at)).into(),
                ..Default::default()
            }),
        ),
        Event::Deleted {
            container_id,
            pid,
            status,
        } => (
            topics::TASK_DELETE_EVENT_TOPIC,
            Box::new(TaskDelete {
                id: container_id.clone(),
                container_id,
                pid,
                exit_status: status.map(|s| s.code).unwrap_or_default(),
                exited_at: status.map(|s| timestamp(s.exited_at)).into(),
                ..Default::default()
            }),
        ),
        Event::ExecAdded {
            container_id,
            exec_id,
        } => (
            topics::TASK_EXEC_ADDED_EVENT_TOPIC,
            Box::new(TaskExecAdded {
                container_id,
                exec_id,
                ..Default::default()
            }),
        ),
        Event::ExecStarted {
            container_id,
            exec_id,
            pid,
        } => (
            topics::TASK_EXEC_STARTED_EVENT_TOPIC,
            Box::new(TaskExecStarted {
                container_id,
                exec_id,
                pid,
                ..Default::default()
            }),
        ),
        Event::Oom { container_id } => (
            topics::TASK_OOM_EVENT_TOPIC,
            Box::new(TaskOOM {
                container_id,
                ..Default::default()
            }),
        ),
        Event::Paused { container_id } => (
            topics::TASK_PAUSED_EVENT_TOPIC,
            Box::new(TaskPaused {
                container_id,
                ..Default::default()
            }),
        ),
        Event::Resumed { container_id } => (
            topics::TASK_RESUMED_EVENT_TOPIC,
            Box::new(TaskResumed {
                container_id,
                ..Default::default()
            }),
        ),
    }
}

/// Most events waiting for containerd. Past it, new events are dropped (with an error in the
/// log); lifecycle events come from containerd's own requests, so only a containerd that stops
/// taking events gets there.
pub const BACKLOG_MAX: usize = 4096;
/// Most OOM events waiting; each container has at most one waiting (later ones are coalesced
/// into it).
pub const OOM_BACKLOG_MAX: usize = 256;
/// Deadline of one publish to containerd.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(5);

/// Events waiting for containerd, in order, bounded: a flood of OOM events from the guest keeps
/// one per container.
#[derive(Default)]
struct Backlog {
    queue: VecDeque<Event>,
    oom_waiting: HashSet<String>,
    dropped: u64,
}

impl Backlog {
    fn push(&mut self, event: Event) {
        let refused = match &event {
            Event::Oom { container_id } => {
                self.oom_waiting.contains(container_id)
                    || self.oom_waiting.len() >= OOM_BACKLOG_MAX
                    || self.queue.len() >= BACKLOG_MAX
            }
            _ => self.queue.len() >= BACKLOG_MAX,
        };
        if refused {
            self.dropped += 1;
            if self.dropped.is_power_of_two() {
                match &event {
                    Event::Oom { .. } => tracing::warn!(
                        dropped = self.dropped,
                        "oom events coalesced: one per container waits for containerd"
                    ),
                    _ => tracing::error!(
                        dropped = self.dropped,
                        waiting = self.queue.len(),
                        "containerd does not take events: dropping"
                    ),
                }
            }
            return;
        }
        if let Event::Oom { container_id } = &event {
            self.oom_waiting.insert(container_id.clone());
        }
        self.queue.push_back(event);
    }

    fn pop(&mut self) -> Option<Event> {
        let event = self.queue.pop_front()?;
        if let Event::Oom { container_id } = &event {
            self.oom_waiting.remove(container_id);
        }
        Some(event)
    }
}

/// Where events go (containerd, or a test double).
#[async_trait]
pub trait Publish: Send + Sync + 'static {
    async fn publish(&self, topic: &'static str, msg: Box<dyn MessageDyn>) -> Result<(), String>;
}

struct Containerd {
    publisher: RemotePublisher,
    namespace: String,
}

#[async_trait]
impl Publish for Containerd {
    async fn publish(&self, topic: &'static str, msg: Box<dyn MessageDyn>) -> Result<(), String> {
        let nanos = i64::try_from(PUBLISH_TIMEOUT.as_nanos()).unwrap_or(i64::MAX);
        let ctx = context::with_timeout(nanos);
        self.publisher
            .publish(ctx, topic, &self.namespace, msg)
            .await
            .map_err(|e| e.to_string())
    }
}

/// Publishes events one by one, in order, until the sandbox drops its sender.
pub fn spawn_forwarder(
    publisher: RemotePublisher,
    namespace: String,
    rx: mpsc::UnboundedReceiver<Event>,
) {
    let sink = Containerd {
        publisher,
        namespace,
    };
    tokio::spawn(forward(sink, rx));
}

/// Takes events from `rx` at once into a bounded [`Backlog`] while publishing its head, so a
/// slow containerd or a flooding guest grows nothing without bound.
pub async fn forward(sink: impl Publish, mut rx: mpsc::UnboundedReceiver<Event>) {
    let mut backlog = Backlog::default();
    let mut open = true;
    loop {
        while let Ok(event) = rx.try_recv() {
            backlog.push(event);
        }
        let Some(event) = backlog.pop() else {
            if !open {
                return;
            }
            match rx.recv().await {
                Some(event) => backlog.push(event),
                None => open = false,
            }
            continue;
        };
        let (topic, msg) = convert(event);
        let publish = sink.publish(topic, msg);
        tokio::pin!(publish);
        let result = loop {
            tokio::select! {
                result = &mut publish => break result,
                event = rx.recv(), if open => match event {
                    Some(event) => backlog.push(event),
                    None => open = false,
                },
            }
        };
        if let Err(e) = result {
            tracing::warn!(topic, error = %e, "cannot publish event");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kata_sandbox::{ExitStatus, ProcessRef};

    #[test]
    fn exit_of_an_exec_names_the_exec() {
        let (topic, msg) = convert(Event::Exited {
            process: ProcessRef::new("c1", Some("e1".into())),
            pid: 7,
            status: ExitStatus::now(3),
        });
        assert_eq!(topic, "/tasks/exit");
        let exit = msg
            .downcast_box::<TaskExit>()
            .unwrap_or_else(|_| panic!("not a TaskExit"));
        assert_eq!((exit.container_id.as_str(), exit.id.as_str()), ("c1", "e1"));
        assert_eq!((exit.pid, exit.exit_status), (7, 3));
        assert!(exit.exited_at.is_some());
    }

    #[test]
    fn topics_follow_the_event() {
        let cases = [
            (
                Event::Started {
                    container_id: "c".into(),
                    pid: 1,
                },
                "/tasks/start",
            ),
            (
                Event::ExecAdded {
                    container_id: "c".into(),
                    exec_id: "e".into(),
                },
                "/tasks/exec-added",
            ),
            (
                Event::Oom {
                    container_id: "c".into(),
                },
                "/tasks/oom",
            ),
            (
                Event::Deleted {
                    container_id: "c".into(),
                    pid: 1,
                    status: None,
                },
                "/tasks/delete",
            ),
        ];
        for (event, topic) in cases {
            assert_eq!(convert(event).0, topic);
        }
    }

    struct Slow {
        published: std::sync::Mutex<Vec<&'static str>>,
    }

    #[async_trait]
    impl Publish for Slow {
        async fn publish(
            &self,
            topic: &'static str,
            _m: Box<dyn MessageDyn>,
        ) -> Result<(), String> {
            tokio::time::sleep(Duration::from_millis(2)).await;
            self.published.lock().expect("lock").push(topic);
            Ok(())
        }
    }

    #[tokio::test]
    async fn an_oom_flood_is_coalesced_and_lifecycle_events_keep_their_order() {
        let (tx, rx) = mpsc::unbounded_channel();
        let sink = std::sync::Arc::new(Slow {
            published: Default::default(),
        });
        struct Shared(std::sync::Arc<Slow>);
        #[async_trait]
        impl Publish for Shared {
            async fn publish(&self, t: &'static str, m: Box<dyn MessageDyn>) -> Result<(), String> {
                self.0.publish(t, m).await
            }
        }
        let task = tokio::spawn(forward(Shared(sink.clone()), rx));
        let started = Event::Started {
            container_id: "c1".into(),
            pid: 1,
        };
        tx.send(started).expect("send");
        for _ in 0..200_000 {
            let oom = Event::Oom {
                container_id: "c1".into(),
            };
            tx.send(oom).expect("send");
        }
        let exit = Event::Exited {
            process: ProcessRef::new("c1", None),
            pid: 1,
            status: ExitStatus::now(137),
        };
        tx.send(exit).expect("send");
        drop(tx);
        tokio::time::timeout(Duration::from_secs(20), task)
            .await
            .expect("the forwarder drains a flood quickly")
            .expect("join");
        let published = sink.published.lock().expect("lock").clone();
        let ooms = published.iter().filter(|t| **t == "/tasks/oom").count();
        assert!(
            (1..=10).contains(&ooms),
            "{ooms} oom events of 200000 published"
        );
        assert_eq!(published.first(), Some(&"/tasks/start"));
        assert_eq!(published.last(), Some(&"/tasks/exit"));
    }

    #[test]
    fn the_backlog_is_bounded() {
        let mut b = Backlog::default();
        for i in 0..(BACKLOG_MAX + 100) {
            b.push(Event::Paused {
                container_id: format!("c{i}"),
            });
            b.push(Event::Oom {
                container_id: format!("c{i}"),
            });
        }
        assert!(b.queue.len() <= BACKLOG_MAX, "{}", b.queue.len());
        assert!(b.oom_waiting.len() <= OOM_BACKLOG_MAX);
        assert!(b.dropped > 0);
    }
}
