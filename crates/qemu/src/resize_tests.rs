//! The QMP sequences of vCPU and memory hotplug, against a scripted QMP server.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use kata_hypervisor::{Accelerator, SharedFs, VmSpec};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixListener;

use super::*;

const GREETING: &str =
    r#"{"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}}, "capabilities": []}}"#;

/// Two CPU slots (socket 0 in use, socket 1 free) and a third free one (socket 2).
const SLOTS: &str = r#"[
    {"props": {"core-id": 0, "thread-id": 0, "node-id": 0, "socket-id": 2}, "vcpus-count": 1, "type": "qemu64-x86_64-cpu"},
    {"props": {"core-id": 0, "thread-id": 0, "node-id": 0, "socket-id": 1}, "vcpus-count": 1, "type": "qemu64-x86_64-cpu"},
    {"props": {"core-id": 0, "thread-id": 0, "node-id": 0, "socket-id": 0}, "vcpus-count": 1, "qom-path": "/machine/unattached/device[0]", "type": "qemu64-x86_64-cpu"}
]"#;

/// A QMP server that acts as QEMU with a cooperative guest: every `device_add` is acknowledged
/// with `ACPI_DEVICE_OST`, every `device_del` with `DEVICE_DELETED`. Returns the requests seen.
async fn guest_like_server(dir: &Path) -> (PathBuf, Arc<Mutex<Vec<Value>>>) {
    let path = dir.join("qmp.sock");
    let listener = UnixListener::bind(&path).expect("bind");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    tokio::spawn(async move {
        let (stream, _) = listener.accept().await.expect("accept");
        let (read, mut write) = stream.into_split();
        write
            .write_all(format!("{GREETING}\n").as_bytes())
            .await
            .expect("greet");
        let mut lines = BufReader::new(read).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            let req: Value = serde_json::from_str(&line).expect("json request");
            let name = req["execute"].as_str().unwrap_or_default().to_string();
            let id = req["id"].as_u64().unwrap_or_default();
            let args = req["arguments"].clone();
            log.lock().expect("log").push(req);
            let reply = match name.as_str() {
                "query-hotpluggable-cpus" => {
                    // One line on the wire.
                    serde_json::from_str::<Value>(SLOTS)
                        .expect("slots")
                        .to_string()
                }
                _ => "{}".to_string(),
            };
            let mut out = vec![format!(r#"{{"return": {reply}, "id": {id}}}"#)];
            let dev = args["id"].as_str().unwrap_or_default();
            if name == "device_add" {
                out.push(format!(
                    r#"{{"event": "ACPI_DEVICE_OST", "data": {{"info": {{"device": "{dev}", "source": 1, "status": 0}}}}, "timestamp": {{"seconds": 1, "microseconds": 0}}}}"#
                ));
            } else if name == "device_del" {
                out.push(format!(
                    r#"{{"event": "DEVICE_DELETED", "data": {{"device": "{dev}"}}, "timestamp": {{"seconds": 1, "microseconds": 0}}}}"#
                ));
            }
            for line in out {
                if write
                    .write_all(format!("{line}\n").as_bytes())
                    .await
                    .is_err()
                {
                    return;
                }
            }
        }
    });
    (path, seen)
}

/// 1 vCPU (max 3), 512 MiB (10 slots, max 2048 MiB), guest RAM shared for virtio-fs.
fn spec() -> VmSpec {
    let mut s = VmSpec::minimal("pod", "/q", "/k", "/r", Accelerator::tcg());
    s.cpu.max_vcpus = 3;
    s.memory.slots = 10;
    s.memory.max_mib = 2048;
    s.shared_fs = Some(SharedFs::VirtioFs {
        socket: "/s".into(),
        tag: "kataShared".into(),
    });
    s
}

fn commands(seen: &Mutex<Vec<Value>>) -> Vec<(String, Value)> {
    seen.lock()
        .expect("log")
        .iter()
        .map(|r| {
            (
                r["execute"].as_str().unwrap_or_default().to_string(),
                r["arguments"].clone(),
            )
        })
        .filter(|(name, _)| name != "qmp_capabilities")
        .collect()
}

async fn connect(path: &Path) -> QmpClient {
    QmpClient::connect(path, Duration::from_secs(5))
        .await
        .expect("connect")
}

#[test]
fn memory_is_added_in_whole_blocks_within_maxmem() {
    // 1 GiB on 512 MiB: 1024 MiB, 8 blocks of 128.
    assert_eq!(memory_to_add(512, 1536, 4096, 128), 1024);
    // 100 MiB more rounds up to one block.
    assert_eq!(memory_to_add(512, 612, 4096, 128), 128);
    // Capped by maxmem, in whole blocks.
    assert_eq!(memory_to_add(512, 4096, 1000, 128), 384);
    // Nothing to add, or no room.
    assert_eq!(memory_to_add(512, 512, 4096, 128), 0);
    assert_eq!(memory_to_add(512, 256, 4096, 128), 0);
    assert_eq!(memory_to_add(512, 1024, 512, 128), 0);
    // A zero block size is taken as 1 MiB.
    assert_eq!(memory_to_add(512, 600, 4096, 0), 88);
}

#[tokio::test]
async fn vcpus_are_added_into_free_slots_and_removed_newest_first() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, seen) = guest_like_server(dir.path()).await;
    let qmp = connect(&path).await;
    let mut kvm = spec();
    kvm.accelerator = Accelerator::Kvm;
    let room = Room::from_spec(&kvm);

    let grown = room.resize_vcpus(&qmp, 3).await.expect("grow");
    assert_eq!(
        grown,
        Resized {
            before: 1,
            after: 3
        }
    );
    let cmds = commands(&seen);
    assert_eq!(cmds[0].0, "query-hotpluggable-cpus");
    assert_eq!(cmds[1].0, "device_add");
    assert_eq!(cmds[1].1["driver"], "qemu64-x86_64-cpu");
    assert_eq!(cmds[1].1["id"], "cpu-0");
    assert_eq!(cmds[1].1["socket-id"], 2);
    assert_eq!(cmds[1].1["core-id"], 0);
    assert_eq!(cmds[1].1["thread-id"], 0);
    assert_eq!(cmds[2].1["id"], "cpu-1");
    assert_eq!(cmds[2].1["socket-id"], 1);
    assert_eq!(cmds.len(), 3, "the used slot is left alone: {cmds:?}");

    // Beyond maxcpus: nothing more to add.
    let capped = room.resize_vcpus(&qmp, 8).await.expect("capped");
    assert_eq!(
        capped,
        Resized {
            before: 3,
            after: 3
        }
    );
    assert_eq!(commands(&seen).len(), 3);

    // Back to 2: the newest hot-added vCPU goes; never below the boot count.
    let shrunk = room.resize_vcpus(&qmp, 2).await.expect("shrink");
    assert_eq!(
        shrunk,
        Resized {
            before: 3,
            after: 2
        }
    );
    let cmds = commands(&seen);
    assert_eq!(cmds[3].0, "device_del");
    assert_eq!(cmds[3].1["id"], "cpu-1");
    let floor = room.resize_vcpus(&qmp, 0).await.expect("floor");
    assert_eq!(
        floor,
        Resized {
            before: 2,
            after: 1
        }
    );
    assert_eq!(commands(&seen)[4].1["id"], "cpu-0");
}

#[tokio::test]
async fn memory_is_a_shared_memfd_dimm_per_growth() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, seen) = guest_like_server(dir.path()).await;
    let qmp = connect(&path).await;
    let room = Room::from_spec(&spec());

    let grown = room.resize_memory(&qmp, 1536, 128).await.expect("grow");
    assert_eq!(
        grown,
        Resized {
            before: 512,
            after: 1536
        }
    );
    let cmds = commands(&seen);
    assert_eq!(cmds[0].0, "object-add");
    assert_eq!(cmds[0].1["qom-type"], "memory-backend-memfd");
    assert_eq!(cmds[0].1["id"], "hotmem0");
    assert_eq!(cmds[0].1["size"], 1u64 << 30);
    assert_eq!(
        cmds[0].1["share"], true,
        "vhost-user daemons map guest memory"
    );
    assert_eq!(cmds[1].0, "device_add");
    assert_eq!(cmds[1].1["driver"], "pc-dimm");
    assert_eq!(cmds[1].1["id"], "dimm0");
    assert_eq!(cmds[1].1["memdev"], "hotmem0");

    // Up to maxmem (2048): 512 more at most, in a second DIMM.
    let capped = room.resize_memory(&qmp, 4096, 128).await.expect("cap");
    assert_eq!(
        capped,
        Resized {
            before: 1536,
            after: 2048
        }
    );
    assert_eq!(commands(&seen)[2].1["id"], "hotmem1");
    assert_eq!(commands(&seen)[2].1["size"], 512u64 << 20);

    // Full, and smaller requests take nothing back.
    let same = room.resize_memory(&qmp, 1024, 128).await.expect("same");
    assert_eq!(same.after, 2048);
    assert_eq!(commands(&seen).len(), 4);
}

#[tokio::test]
async fn without_slots_memory_does_not_grow() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, seen) = guest_like_server(dir.path()).await;
    let qmp = connect(&path).await;
    let mut s = spec();
    s.memory.slots = 0;
    let room = Room::from_spec(&s);
    let r = room.resize_memory(&qmp, 1536, 128).await.expect("resize");
    assert_eq!(r.after, 512);
    assert!(commands(&seen).is_empty());
}

#[test]
fn plain_guest_ram_gets_a_plain_ram_backend() {
    let mut s = VmSpec::minimal("pod", "/q", "/k", "/r", Accelerator::tcg());
    s.memory.slots = 2;
    let backend = DimmBackend::from_spec(&s);
    let obj = backend.object("hotmem0", 128);
    assert_eq!(obj.qom_type, "memory-backend-ram");
    assert!(!obj.props.contains_key("share"));
}

#[tokio::test]
async fn under_tcg_hot_added_vcpus_stay() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, seen) = guest_like_server(dir.path()).await;
    let qmp = connect(&path).await;
    let room = Room::from_spec(&spec());
    room.resize_vcpus(&qmp, 2).await.expect("grow");
    let kept = room.resize_vcpus(&qmp, 1).await.expect("shrink");
    assert_eq!(
        kept,
        Resized {
            before: 2,
            after: 2
        }
    );
    assert!(commands(&seen).iter().all(|(name, _)| name != "device_del"));
}
