//! Sandbox events to containerd event messages, published in the order they were emitted.

use std::time::{SystemTime, UNIX_EPOCH};

use containerd_shim::protos::events::task::{
    TaskCreate, TaskDelete, TaskExecAdded, TaskExecStarted, TaskExit, TaskIO, TaskOOM, TaskPaused,
    TaskResumed, TaskStart,
};
use containerd_shim::protos::protobuf::well_known_types::timestamp::Timestamp;
use containerd_shim::protos::protobuf::MessageDyn;
use containerd_shim::protos::topics;
use containerd_shim::protos::ttrpc::context::Context;
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

/// Publishes events one by one, in order, until the sandbox drops its sender.
pub fn spawn_forwarder(
    publisher: RemotePublisher,
    namespace: String,
    mut rx: mpsc::UnboundedReceiver<Event>,
) {
    tokio::spawn(async move {
        while let Some(event) = rx.recv().await {
            let (topic, msg) = convert(event);
            if let Err(e) = publisher
                .publish(Context::default(), topic, &namespace, msg)
                .await
            {
                tracing::warn!(topic, error = %e, "cannot publish event");
            }
        }
    });
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
}
