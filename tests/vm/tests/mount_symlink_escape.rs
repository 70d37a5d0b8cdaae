//! A mount destination that goes through a symlink planted in the rootfs (`evil -> ../../..`,
//! `abs -> /`) must not reach outside the container's rootfs.
//!
//! In the guest the rootfs is `/run/kata-containers/shared/containers/<cid>/rootfs`, so
//! `evil/containers/X` and `abs/run/kata-containers/shared/containers/X`, followed naively, both
//! name `/run/kata-containers/shared/containers/X`: the shared directory, which the host sees. A
//! mount there would make the runtime create `X` in the shared directory. The agent may refuse the
//! container (InvalidArgument naming the path) or resolve the destination inside the rootfs; either
//! way nothing may appear or change outside the rootfs.

use std::path::Path;

use kata_vm_tests::rpc::{self, Stream};
use kata_vm_tests::spec::{container_spec, mount, process};
use kata_vm_tests::{BusyboxRootfs, TestVm};

const MARKER: &str = "untouched\n";

#[tokio::test]
async fn mount_through_planted_symlink_stays_inside_the_rootfs() {
    let vm = TestVm::must_boot_sandbox("escape").await;
    let agent = vm.agent();
    let shared = vm.shared_dir().to_path_buf();
    let cid = "c3";
    let rootfs = BusyboxRootfs::create(&shared, cid).expect("busybox rootfs");

    // Planted on the host, as a malicious image layer would carry them.
    std::os::unix::fs::symlink("../../..", rootfs.host_path.join("evil")).expect("symlink evil");
    std::os::unix::fs::symlink("/", rootfs.host_path.join("abs")).expect("symlink abs");
    // A directory outside the rootfs with a file the mount would hide or clobber.
    std::fs::create_dir(shared.join("victim")).expect("victim dir");
    std::fs::write(shared.join("victim/marker"), MARKER).expect("marker");

    let mut spec = container_spec(
        cid,
        process(&[
            "sh",
            "-c",
            "echo pwned > /evil/containers/victim/marker; cat /proc/self/mountinfo; echo done",
        ]),
    );
    spec.Mounts.extend([
        mount(
            "/evil/containers/escape-rel",
            "tmpfs",
            "tmpfs",
            &["size=1m"],
        ),
        mount(
            "/abs/run/kata-containers/shared/containers/escape-abs",
            "tmpfs",
            "tmpfs",
            &["size=1m"],
        ),
        mount("/evil/containers/victim", "tmpfs", "tmpfs", &["size=1m"]),
    ]);

    match rpc::create_container(agent, cid, spec).await {
        Err(e) => {
            // The guard refused the container: the error says why and names the path.
            let (code, msg) = rpc::status_of(&e).unwrap_or_else(|| panic!("not a status: {e:?}"));
            assert_eq!(code, ttrpc::Code::INVALID_ARGUMENT, "{msg}");
            assert!(
                msg.contains("evil") || msg.contains("abs") || msg.contains("escape"),
                "{msg}"
            );
        }
        Ok(()) => {
            // The destinations were resolved inside the rootfs: the process sees its mounts there.
            rpc::start_container(agent, cid)
                .await
                .expect("StartContainer");
            let (out, err, status) = tokio::join!(
                rpc::read_to_end(agent, cid, cid, Stream::Stdout),
                rpc::read_to_end(agent, cid, cid, Stream::Stderr),
                rpc::wait_process(agent, cid, cid),
            );
            let out = String::from_utf8_lossy(&out.expect("ReadStdout")).into_owned();
            let err = String::from_utf8_lossy(&err.expect("ReadStderr")).into_owned();
            let out = format!("{out}{err}");
            assert_eq!(status.expect("WaitProcess"), 0, "{out}");
            assert!(out.ends_with("done\n"), "{out}");
            // Mount points as the container sees them (field 5 of mountinfo).
            let points: Vec<&str> = out.lines().filter_map(|l| l.split(' ').nth(4)).collect();
            for inside in [
                "/containers/escape-rel",
                "/run/kata-containers/shared/containers/escape-abs",
                "/containers/victim",
            ] {
                assert!(points.contains(&inside), "no mount at {inside} in {out}");
            }
            // The mount points were created inside the rootfs (the host sees them through virtio-fs).
            assert!(rootfs.host_path.join("containers/escape-rel").is_dir());
            assert!(rootfs
                .host_path
                .join("run/kata-containers/shared/containers/escape-abs")
                .is_dir());
            rpc::remove_container(agent, cid)
                .await
                .expect("RemoveContainer");
        }
    }

    // Nothing outside the rootfs was created or changed.
    for escaped in ["escape-rel", "escape-abs"] {
        assert!(
            !shared.join(escaped).exists(),
            "{escaped} was created outside the rootfs"
        );
    }
    assert_eq!(read(&shared.join("victim/marker")), MARKER);
    assert_eq!(
        std::fs::read_dir(shared.join("victim"))
            .expect("victim")
            .count(),
        1,
        "files appeared in the victim directory"
    );
    // The symlinks themselves are intact (the agent did not rewrite the rootfs).
    assert_eq!(
        std::fs::read_link(rootfs.host_path.join("evil")).expect("evil"),
        Path::new("../../..")
    );

    // The guest's own view: a normal container bind-mounting the guest's victim directory sees
    // the marker alone and unchanged (no tmpfs leaked onto it through mount propagation).
    let cid2 = "c3b";
    BusyboxRootfs::create(&shared, cid2).expect("second rootfs");
    let mut spec = container_spec(
        cid2,
        process(&["sh", "-c", "ls /victim; cat /victim/marker"]),
    );
    spec.Mounts.push(mount(
        "/victim",
        "bind",
        "/run/kata-containers/shared/containers/victim",
        &["rbind", "ro"],
    ));
    rpc::run_container(agent, cid2, spec)
        .await
        .expect("second container");
    let out = rpc::read_to_end(agent, cid2, cid2, Stream::Stdout)
        .await
        .expect("ReadStdout");
    assert_eq!(String::from_utf8_lossy(&out), format!("marker\n{MARKER}"));
    assert_eq!(rpc::wait_process(agent, cid2, cid2).await.expect("wait"), 0);
    vm.shutdown().await;
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}
