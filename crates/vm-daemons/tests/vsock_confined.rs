//! The real vhost-device-vsock runs confined: unprivileged, no capabilities, no new privileges,
//! under seccomp, in namespaces of its own; its sockets still take connections from root, and a
//! root-bound host listener is opened to it with `allow_connect`.

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::Duration;

use kata_vm_daemons::{VsockConfig, VsockDaemon};

fn field(status: &str, key: &str) -> String {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .map(|v| v.trim().to_string())
        .unwrap_or_default()
}

fn ns(pid: &str, kind: &str) -> Option<std::path::PathBuf> {
    std::fs::read_link(format!("/proc/{pid}/ns/{kind}")).ok()
}

#[tokio::test]
async fn vhost_device_vsock_runs_unprivileged_confined_and_reachable() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: needs root");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = VsockConfig::in_dir(dir.path(), 3);
    let vsock = VsockDaemon::start(cfg.clone())
        .await
        .expect("vhost-device-vsock (cargo install vhost-device-vsock)");
    let who = vsock
        .identity()
        .expect("root runs it as the unprivileged user");
    let pid = vsock.pid().expect("pid");
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");

    // Its host-facing socket appears once the vhost-user one is served; root connects to both.
    for _ in 0..100 {
        if cfg.uds_path.exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let vhost = tokio::net::UnixStream::connect(&cfg.vhost_user_socket).await;
    let sockets: Vec<_> = [&cfg.vhost_user_socket, &cfg.uds_path]
        .iter()
        .map(|s| std::fs::symlink_metadata(s).map(|m| (m.uid(), m.mode() & 0o777)))
        .collect();

    // A listener root binds for guest-to-host connections, opened to the daemon.
    let mut ready = cfg.uds_path.as_os_str().to_owned();
    ready.push("_1027");
    let ready = Path::new(&ready).to_path_buf();
    let _listener = std::os::unix::net::UnixListener::bind(&ready).expect("bind");
    vsock.allow_connect(&ready).expect("allow_connect");
    let opened = std::fs::metadata(&ready).expect("stat");
    let dir_meta = std::fs::metadata(dir.path()).expect("stat dir");
    let namespaces: Vec<(&str, bool)> = ["mnt", "net", "ipc", "uts"]
        .iter()
        .map(|k| (*k, ns(&pid.to_string(), k) != ns("self", k)))
        .collect();

    let vhost = vhost.map(drop).map_err(|e| e.to_string());
    vsock.stop().await;
    let _ = std::fs::remove_file(&ready);

    let uid = who.uid.to_string();
    assert_ne!(who.uid, 0);
    let uids = field(&status, "Uid:");
    assert!(
        uids.split_whitespace().count() == 4 && uids.split_whitespace().all(|u| u == uid),
        "{status}"
    );
    assert!(
        field(&status, "Gid:")
            .split_whitespace()
            .all(|g| g == who.gid.to_string()),
        "{status}"
    );
    assert_eq!(field(&status, "Groups:"), "", "{status}");
    assert_eq!(field(&status, "NoNewPrivs:"), "1", "{status}");
    assert_eq!(field(&status, "Seccomp:"), "2", "{status}");
    for cap in ["CapInh:", "CapPrm:", "CapEff:", "CapBnd:", "CapAmb:"] {
        assert_eq!(field(&status, cap), "0000000000000000", "{cap}\n{status}");
    }
    for (kind, differs) in namespaces {
        assert!(differs, "vhost-device-vsock shares our {kind} namespace");
    }
    assert!(vhost.is_ok(), "root cannot connect: {vhost:?}");
    for s in sockets {
        assert_eq!(s.expect("socket exists"), (who.uid, 0o700));
    }
    assert_eq!((opened.gid(), opened.mode() & 0o777), (who.gid, 0o660));
    assert_eq!(
        (dir_meta.gid(), dir_meta.mode() & 0o7777),
        (who.gid, 0o1770),
        "socket directory opened to the daemon's group only"
    );
}
