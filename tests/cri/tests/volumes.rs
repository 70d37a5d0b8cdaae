//! Kubernetes volumes through CRI, laid out on the host as kubelet does. Kata's rules: a disk
//! emptyDir is a `local` directory inside the VM (nothing reaches the host directory), a memory
//! emptyDir is a tmpfs inside the VM (`ephemeral`), other host paths are shared with the VM.
//! runc binds the host directories themselves: there the host sees what the containers write.

use std::path::Path;
use std::time::{Duration, Instant};

use kata_cri_tests::{
    container_config, disk_empty_dir, memory_empty_dir, mount, volume_dir, CriHarness, Pod,
    ProjectedVolume, CONFIG_MAP, KATA, RUNC,
};

const SLEEP: &[&str] = &["sleep", "3600"];

/// Runs `cmd` in container `id` and returns (stdout, stderr, exit code).
fn sh(h: &CriHarness, id: &str, script: &str) -> (String, String, i32) {
    let r = h
        .cri()
        .exec_sync(id, &["sh", "-c", script], 60)
        .unwrap_or_else(|e| panic!("ExecSync {script:?}: {e}"));
    (
        String::from_utf8_lossy(&r.stdout).into_owned(),
        String::from_utf8_lossy(&r.stderr).into_owned(),
        r.exit_code,
    )
}

/// The file system type of the mount at `point`, as the container's /proc/mounts says.
fn fs_type(h: &CriHarness, id: &str, point: &str) -> String {
    let (mounts, _, code) = sh(h, id, "cat /proc/mounts");
    assert_eq!(code, 0);
    mounts
        .lines()
        .rev()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.get(1) == Some(&point)).then(|| f.get(2).map(|t| t.to_string()))
        })
        .next()
        .flatten()
        .unwrap_or_else(|| panic!("{point} is not a mount point in the container:\n{mounts}"))
}

fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("listing {}: {e}", dir.display()))
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// A disk and a memory emptyDir shared by a writer and a reader container of one pod.
fn empty_dirs(handler: &str) {
    let h = CriHarness::start_clean();
    let config = h.pod_config("empty-dirs");
    let uid = config
        .metadata
        .as_ref()
        .map(|m| m.uid.clone())
        .unwrap_or_default();
    let disk = disk_empty_dir(h.kubelet_root(), &uid, "cache").expect("disk emptyDir");
    let memory = memory_empty_dir(h.kubelet_root(), &uid, "scratch").expect("memory emptyDir");
    let pod: Pod = h.run_pod_with(config, handler).expect("RunPodSandbox");
    let mounts = || {
        vec![
            mount(&disk, "/cache", false),
            mount(&memory, "/scratch", false),
        ]
    };
    let writer = h
        .start_container(&pod, &container_config("writer", SLEEP, mounts()))
        .expect("writer running");
    let reader = h
        .start_container(&pod, &container_config("reader", SLEEP, mounts()))
        .expect("reader running");

    let (_, err, code) = sh(
        &h,
        &writer,
        "echo on-disk > /cache/f && echo in-memory > /scratch/f",
    );
    assert_eq!(code, 0, "writing the volumes: {err}");
    let (out, err, code) = sh(&h, &reader, "cat /cache/f /scratch/f");
    assert_eq!((out.as_str(), code), ("on-disk\nin-memory\n", 0), "{err}");
    assert_eq!(fs_type(&h, &reader, "/scratch"), "tmpfs", "memory emptyDir");
    assert_eq!(fs_type(&h, &writer, "/scratch"), "tmpfs", "memory emptyDir");

    if handler == KATA {
        // Both live in the VM: the host directories stay empty.
        assert!(
            entries(&disk).is_empty(),
            "disk emptyDir reached the host: {:?}",
            entries(&disk)
        );
        assert!(
            entries(&memory).is_empty(),
            "memory emptyDir reached the host: {:?}",
            entries(&memory)
        );
    } else {
        assert_eq!(
            std::fs::read_to_string(disk.join("f")).expect("runc writes the host dir"),
            "on-disk\n"
        );
        assert_eq!(
            std::fs::read_to_string(memory.join("f")).expect("runc writes the host tmpfs"),
            "in-memory\n"
        );
    }
    h.remove_pod(&pod).expect("remove the pod");
    h.finish();
}

/// A host path mounted read-only cannot be written (EROFS); one mounted read-write can, and the
/// host sees the write.
fn host_paths(handler: &str) {
    let h = CriHarness::start_clean();
    let ro = h.dir().join("host-ro");
    let rw = h.dir().join("host-rw");
    for d in [&ro, &rw] {
        std::fs::create_dir_all(d).expect("host dir");
    }
    std::fs::write(ro.join("hello"), "from the host\n").expect("host file");
    let pod = h.run_pod("host-paths", handler).expect("RunPodSandbox");
    let app = h
        .start_container(
            &pod,
            &container_config(
                "app",
                SLEEP,
                vec![mount(&ro, "/ro", true), mount(&rw, "/rw", false)],
            ),
        )
        .expect("app running");

    let (out, _, code) = sh(&h, &app, "cat /ro/hello");
    assert_eq!((out.as_str(), code), ("from the host\n", 0));
    let (_, err, code) = sh(&h, &app, "echo x > /ro/new");
    assert_ne!(code, 0, "wrote a read-only host path");
    assert!(err.contains("Read-only file system"), "not EROFS: {err}");
    assert!(!ro.join("new").exists());
    let (_, err, code) = sh(&h, &app, "echo from-container > /rw/new");
    assert_eq!(code, 0, "writing a read-write host path: {err}");
    assert_eq!(
        std::fs::read_to_string(rw.join("new")).expect("the host sees the write"),
        "from-container\n"
    );
    h.remove_pod(&pod).expect("remove the pod");
    h.finish();
}

/// A configMap-style volume: kubelet's atomic update on the host is seen in the container.
fn projected(handler: &str) {
    let h = CriHarness::start_clean();
    let config = h.pod_config("projected");
    let uid = config
        .metadata
        .as_ref()
        .map(|m| m.uid.clone())
        .unwrap_or_default();
    let dir = volume_dir(h.kubelet_root(), &uid, CONFIG_MAP, "settings").expect("volume dir");
    let mut volume =
        ProjectedVolume::create(dir, &[("greeting", "hello-1\n")]).expect("projected volume");
    let pod = h.run_pod_with(config, handler).expect("RunPodSandbox");
    let app = h
        .start_container(
            &pod,
            &container_config(
                "app",
                SLEEP,
                vec![mount(volume.dir(), "/etc/settings", true)],
            ),
        )
        .expect("app running");

    let (out, err, code) = sh(&h, &app, "cat /etc/settings/greeting");
    assert_eq!((out.as_str(), code), ("hello-1\n", 0), "{err}");
    volume
        .update(&[("greeting", "hello-2\n")])
        .expect("atomic update");
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut seen = out;
    while seen != "hello-2\n" && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(250));
        seen = sh(&h, &app, "cat /etc/settings/greeting").0;
    }
    assert_eq!(seen, "hello-2\n", "the update is not seen within 10 s");
    h.remove_pod(&pod).expect("remove the pod");
    h.finish();
}

#[test]
fn empty_dirs_runc() {
    empty_dirs(RUNC);
}

#[test]
fn empty_dirs_kata() {
    empty_dirs(KATA);
}

#[test]
fn host_paths_runc() {
    host_paths(RUNC);
}

#[test]
fn host_paths_kata() {
    host_paths(KATA);
}

#[test]
fn projected_runc() {
    projected(RUNC);
}

#[test]
fn projected_kata() {
    projected(KATA);
}
