//! Least privilege for the host processes of a pod, checked on real containers: QEMU under its
//! seccomp filter (and unprivileged with `rootless = true`), virtiofsd confined, the shim's mounts
//! in its own mount namespace, and ids that would be paths refused.

use std::path::Path;
use std::time::Duration;

use kata_e2e_tests::{
    assert_no_leftovers, only_pid, pids_named, status_field, PrivateContainerd, IMAGE,
};

const TEARDOWN: Duration = Duration::from_secs(20);

fn containerd() -> PrivateContainerd {
    PrivateContainerd::start_clean(TEARDOWN)
}

fn exec_echo(c: &PrivateContainerd, id: &str) {
    let out = c
        .ctr(
            &["task", "exec", "--exec-id", "e1", id, "echo", "alive"],
            None,
            60,
        )
        .expect("ctr task exec");
    assert_eq!(out.code, Some(0), "exec in {id}: {}", out.stderr);
    assert_eq!(out.stdout_text().trim(), "alive");
}

/// Whether the CPU offers hardware virtualization (without it every pod runs under TCG).
fn host_has_virt_flag() -> bool {
    std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .filter(|l| l.starts_with("flags"))
        .any(|l| l.split_whitespace().any(|f| f == "vmx" || f == "svm"))
}

fn mount_ns(pid: &str) -> String {
    std::fs::read_link(format!("/proc/{pid}/ns/mnt"))
        .map(|p| p.display().to_string())
        .unwrap_or_default()
}

fn kata_mounts(mountinfo: &str) -> Vec<&str> {
    mountinfo
        .lines()
        .filter(|l| l.contains(" /run/kata-containers/"))
        .collect()
}

/// One pod, with the shipped configuration (rootless = false): QEMU is root as in Kata but under
/// its seccomp filter; virtiofsd is under seccomp in a mount namespace of its own; the sandbox's
/// mounts exist only in the shim's mount namespace.
#[test]
fn shipped_config_confines_qemu_virtiofsd_and_the_shims_mounts() {
    let c = containerd();
    c.run_detached("confined", &[]);
    exec_echo(&c, "confined");

    let qemu = only_pid("qemu-system-x86_64");
    // virtiofsd's sandbox forks: the parent only waits for the child, which enters its namespaces,
    // installs the seccomp filter and serves the guest. The child is the one to check.
    let virtiofsd = pids_named("virtiofsd");
    let workers: Vec<u32> = virtiofsd
        .iter()
        .copied()
        .filter(|p| {
            status_field(*p, "PPid:")
                .parse::<u32>()
                .is_ok_and(|pp| virtiofsd.contains(&pp))
        })
        .collect();
    let shim = only_pid("containerd-shim-kata-v2");
    // vhost-device-vsock parses the guest's virtqueues: it runs confined (kata-vm-daemons).
    let vsock = only_pid("vhost-device-vsock");
    let vsock_fields: Vec<(&str, String)> = [
        "Uid:",
        "Groups:",
        "NoNewPrivs:",
        "CapEff:",
        "CapBnd:",
        "Seccomp:",
    ]
    .into_iter()
    .map(|k| (k, status_field(vsock, k)))
    .collect();
    let vsock_ns = mount_ns(&vsock.to_string());
    let qemu_seccomp = status_field(qemu, "Seccomp:");
    let qemu_uid = status_field(qemu, "Uid:");
    let fs_seccomp: Vec<String> = workers
        .iter()
        .map(|p| status_field(*p, "Seccomp:"))
        .collect();
    let fs_ns: Vec<String> = workers.iter().map(|p| mount_ns(&p.to_string())).collect();
    let host_ns = mount_ns("self");
    let shim_ns = mount_ns(&shim.to_string());
    let host_info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let shim_info = std::fs::read_to_string(format!("/proc/{shim}/mountinfo")).unwrap_or_default();
    // The shim's log reaches containerd's.
    let containerd_log = c
        .config_path()
        .parent()
        .map(|d| std::fs::read_to_string(d.join("containerd.log")).unwrap_or_default())
        .unwrap_or_default();

    c.remove("confined");
    drop(c);
    assert_no_leftovers(TEARDOWN);

    assert_eq!(qemu_seccomp, "2", "QEMU runs without its seccomp filter");
    assert!(
        qemu_uid.starts_with("0\t"),
        "rootless = false: QEMU is root ({qemu_uid})"
    );
    assert_eq!(
        workers.len(),
        1,
        "no sandboxed virtiofsd child (virtiofsd pids {virtiofsd:?})"
    );
    for (seccomp, ns) in fs_seccomp.iter().zip(&fs_ns) {
        assert_eq!(seccomp, "2", "virtiofsd runs without seccomp");
        assert_ne!(ns, &host_ns, "virtiofsd shares the host's mount namespace");
        assert_ne!(ns, &shim_ns, "virtiofsd shares the shim's mount namespace");
    }
    assert_ne!(
        shim_ns, host_ns,
        "the shim shares the host's mount namespace"
    );
    for (key, value) in &vsock_fields {
        let confined = match *key {
            "Uid:" => {
                value.split_whitespace().count() == 4 && value.split_whitespace().all(|u| u != "0")
            }
            "Groups:" => value.is_empty(),
            "NoNewPrivs:" => value == "1",
            "Seccomp:" => value == "2",
            _ => value == "0000000000000000",
        };
        assert!(confined, "vhost-device-vsock {key} {value:?}");
    }
    assert_ne!(
        vsock_ns, shim_ns,
        "vhost-device-vsock shares the shim's mount namespace"
    );
    assert_ne!(
        vsock_ns, host_ns,
        "vhost-device-vsock shares the host's mount namespace"
    );
    if !host_has_virt_flag() {
        assert!(
            containerd_log
                .contains("software emulation (TCG): a weaker isolation boundary than KVM"),
            "the shim did not warn that the pod runs under TCG"
        );
    }
    assert!(
        kata_mounts(&host_info).is_empty(),
        "sandbox mounts leak into the host's table:\n{}",
        kata_mounts(&host_info).join("\n")
    );
    assert!(
        !kata_mounts(&shim_info).is_empty(),
        "no sandbox mount in the shim's namespace:\n{shim_info}"
    );
}

/// `rootless = true`: QEMU runs with a non-zero uid (and no root group), the container works.
#[test]
fn rootless_runs_qemu_unprivileged() {
    let c = containerd();
    let text = std::fs::read_to_string(c.config_path()).expect("config");
    assert!(
        text.contains("\nrootless = false\n"),
        "shipped config changed"
    );
    std::fs::write(
        c.config_path(),
        text.replace("\nrootless = false\n", "\nrootless = true\n"),
    )
    .expect("write config");
    c.run_detached("rootless", &[]);
    exec_echo(&c, "rootless");
    let qemu = only_pid("qemu-system-x86_64");
    let uid = status_field(qemu, "Uid:");
    let gid = status_field(qemu, "Gid:");
    let groups = status_field(qemu, "Groups:");
    let seccomp = status_field(qemu, "Seccomp:");
    // The confined vhost-device-vsock and the rootless QEMU share the unprivileged user.
    let vsock_uid = status_field(only_pid("vhost-device-vsock"), "Uid:");
    c.remove("rootless");
    drop(c);
    assert_no_leftovers(TEARDOWN);

    let uids: Vec<&str> = uid.split_whitespace().collect();
    assert_eq!(uids.len(), 4, "Uid: {uid}");
    assert!(uids.iter().all(|u| *u != "0"), "QEMU holds uid 0: {uid}");
    assert!(
        gid.split_whitespace().all(|g| g != "0"),
        "QEMU holds gid 0: {gid}"
    );
    assert!(
        groups.split_whitespace().all(|g| g != "0"),
        "QEMU keeps root's groups: {groups}"
    );
    assert_eq!(seccomp, "2");
    assert_eq!(vsock_uid, uid, "vhost-device-vsock and rootless QEMU");
}

/// A sandbox id annotation that walks out of `/run/vc/sbs` is refused before anything is made.
#[test]
fn sandbox_id_that_is_a_path_is_refused() {
    // Where `../../etc` would land from each root: /run/vc/{sbs,vm}/../../etc and
    // /run/kata-containers/shared/sandboxes/../../etc.
    let escapes = ["/run/etc", "/run/kata-containers/etc"];
    for p in escapes {
        assert!(!Path::new(p).exists(), "{p} exists before the test");
    }
    let c = containerd();
    let args = [
        "run",
        "--rm",
        "--runtime",
        "io.containerd.kata.v2",
        "--annotation",
        "io.kubernetes.cri.container-type=sandbox",
        "--annotation",
        "io.kubernetes.cri.sandbox-id=../../etc",
        IMAGE,
        "escape",
        "true",
    ];
    let out = c.ctr(&args, None, 120).expect("ctr run");
    let made: Vec<&str> = escapes
        .iter()
        .copied()
        .filter(|p| Path::new(p).exists())
        .collect();
    for p in &made {
        let _ = std::fs::remove_dir_all(p);
    }
    drop(c);
    assert_no_leftovers(TEARDOWN);
    assert_ne!(
        out.code,
        Some(0),
        "the container ran: {}",
        out.stdout_text()
    );
    assert!(
        out.stderr.contains("../../etc"),
        "the error does not name the id: {}",
        out.stderr
    );
    assert!(made.is_empty(), "created outside the roots: {made:?}");
}
