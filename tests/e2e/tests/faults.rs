//! Faults survived: a host process of the sandbox killed (QEMU, virtiofsd, vhost-device-vsock, the
//! shim), the guest kernel crashing, containerd restarted under a booting or a running pod, no room
//! left under `/run`. Each ends with the task reporting an exit or an error, and the host back to
//! the exact baseline taken before the test ([`HostSnapshot`]: processes, mounts, `/run/vc` and the
//! share root, netns, network devices, cgroups, Unix sockets).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use kata_e2e_tests::{
    member_annotations, only_pid, pids_named, sandbox_annotations, HostSnapshot, PrivateContainerd,
    IMAGE, RUNTIME, SLEEPER,
};

const TEARDOWN: Duration = Duration::from_secs(20);
/// The exit code containerd sees for processes that were running when their VM died.
const VM_DIED_EXIT_CODE: i32 = 255;
fn kill9(pid: u32) {
    let status = Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .expect("kill");
    assert!(status.success(), "kill -9 {pid}");
}

/// Kills `victim` (a host process of the sandbox) under a running container: the task must stop,
/// delete cleanly, and the host return to its baseline.
fn killed_under_a_running_container(victim: &str, id: &str) -> String {
    let (c, baseline) = PrivateContainerd::start_with_baseline(TEARDOWN);
    let _reaper = c.orphan_reaper();
    c.run_detached(id, &[]);
    kill9(only_pid(victim));
    assert!(
        c.wait_stopped(id),
        "the task did not stop after {victim} died"
    );
    // The container may end on its own first (its rootfs went with virtiofsd): QEMU must still
    // be stopped by the shim, a moment later.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !pids_named("qemu-system-x86_64").is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "QEMU still runs 30 s after {victim} died"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    c.delete_stopped(id);
    let log = c.log();
    drop(c);
    baseline.assert_restored(TEARDOWN);
    log
}

#[test]
fn qemu_killed_under_a_running_container() {
    killed_under_a_running_container("qemu-system-x86_64", "qemu-victim");
}

#[test]
fn virtiofsd_killed_under_a_running_container() {
    let log = killed_under_a_running_container("virtiofsd", "fs-victim");
    assert!(
        log.contains("virtiofsd died (signal 9)"),
        "the shim's log does not say virtiofsd died"
    );
}

#[test]
fn vsock_daemon_killed_under_a_running_container() {
    let log = killed_under_a_running_container("vhost-device-vsock", "vsock-victim");
    assert!(
        log.contains("vhost-device-vsock died (signal 9)"),
        "the shim's log does not say vhost-device-vsock died"
    );
}

#[test]
fn shim_delete_cleans_up_after_a_sigkilled_shim() {
    let (c, baseline) = PrivateContainerd::start_with_baseline(TEARDOWN);
    let _reaper = c.orphan_reaper();
    c.run_detached("orphan", &[]);
    kill9(only_pid("containerd-shim-kata-v2"));
    // containerd notices the dead shim and runs `containerd-shim-kata-v2 delete`.
    assert!(
        c.wait_task("orphan", 120, |s| matches!(s, Some("STOPPED") | None)),
        "the task did not stop after its shim died"
    );
    let _ = c.ctr(&["task", "delete", "orphan"], None, 60);
    let out = c
        .ctr(&["container", "delete", "orphan"], None, 30)
        .expect("container delete");
    assert_eq!(out.code, Some(0), "container delete: {}", out.stderr);
    drop(c);
    baseline.assert_restored(TEARDOWN);
}

/// The guest kernel crashes (what an agent dying as PID 1 leads to): with `panic=1` and QEMU's
/// `-no-reboot` the VM ends, and the running process reports the VM's death.
#[test]
fn guest_kernel_crash_ends_the_task() {
    let (c, baseline) = PrivateContainerd::start_with_baseline(TEARDOWN);
    let _reaper = c.orphan_reaper();
    let out = c
        .run_rm(
            "crash",
            &["--privileged"],
            &["sh", "-c", "echo c > /proc/sysrq-trigger; sleep 600"],
        )
        .expect("ctr run");
    assert_eq!(
        out.code,
        Some(VM_DIED_EXIT_CODE),
        "stdout: {} stderr: {}",
        out.stdout_text(),
        out.stderr
    );
    assert!(pids_named("qemu-system-x86_64").is_empty(), "QEMU survived");
    drop(c);
    baseline.assert_restored(TEARDOWN);
}

/// containerd restarted under a running pod: the shim is reconnected, the pod keeps running and
/// takes execs, kills and deletes afterwards.
#[test]
fn containerd_restarted_while_a_pod_runs() {
    let (c, baseline) = PrivateContainerd::start_with_baseline(TEARDOWN);
    let _reaper = c.orphan_reaper();
    c.run_detached_with("rpod", &[], &sandbox_annotations("rpod"));
    c.run_detached_with("rpod-app", &[], &member_annotations("rpod"));
    let shim = only_pid("containerd-shim-kata-v2");
    let qemu = only_pid("qemu-system-x86_64");

    c.stop_daemon("TERM").expect("stop containerd");
    assert_eq!(
        pids_named("containerd-shim-kata-v2"),
        [shim],
        "the shim died"
    );
    c.start_daemon().expect("restart containerd");

    assert_eq!(c.task_status("rpod").as_deref(), Some("RUNNING"));
    assert_eq!(c.task_status("rpod-app").as_deref(), Some("RUNNING"));
    assert_eq!(
        c.exec_output("rpod-app", "after", &["echo", "reconnected"]),
        "reconnected"
    );
    assert_eq!(pids_named("qemu-system-x86_64"), [qemu], "a second VM");
    for id in ["rpod-app", "rpod"] {
        let out = c
            .ctr(&["task", "kill", "-s", "SIGTERM", id], None, 30)
            .expect("kill");
        assert_eq!(out.code, Some(0), "kill {id}: {}", out.stderr);
        // The exit event reaches the new containerd.
        assert!(c.wait_stopped(id), "{id} did not stop after the restart");
        c.delete_stopped(id);
    }
    drop(c);
    baseline.assert_restored(TEARDOWN);
}

/// containerd killed while `ctr run` boots the VM, then started again: the half-created task can
/// be force-removed and nothing is left.
#[test]
fn containerd_killed_while_a_vm_boots() {
    let (c, baseline) = PrivateContainerd::start_with_baseline(TEARDOWN);
    let _reaper = c.orphan_reaper();
    std::thread::scope(|s| {
        let runner = s.spawn(|| {
            let mut args = vec!["run", "-d", "--runtime", RUNTIME, IMAGE, "booting"];
            args.extend_from_slice(&["sh", "-c", SLEEPER]);
            c.ctr(&args, None, 180)
        });
        let mut booting = false;
        for _ in 0..600 {
            if !pids_named("qemu-system-x86_64").is_empty() {
                booting = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(booting, "no VM was booted");
        c.stop_daemon("KILL").expect("kill containerd");
        let out = runner.join().expect("ctr thread").expect("ctr run");
        assert_ne!(out.code, Some(0), "ctr run survived its containerd");
    });
    c.start_daemon().expect("restart containerd");
    let listed = c.ctr(&["task", "ls"], None, 30).expect("task ls");
    eprintln!(
        "after the restart: {}{}",
        listed.stdout_text(),
        listed.stderr
    );
    let out = c
        .ctr(&["task", "delete", "--force", "booting"], None, 90)
        .expect("task delete --force");
    eprintln!("task delete --force: {:?} {}", out.code, out.stderr);
    // The task may be gone already if the shim was found dead; either way it is gone now.
    assert!(
        out.code == Some(0) || out.stderr.contains("not found"),
        "task delete --force: {}",
        out.stderr
    );
    assert_eq!(c.task_status("booting"), None, "the task is still listed");
    let out = c
        .ctr(&["container", "delete", "booting"], None, 30)
        .expect("container delete");
    assert_eq!(out.code, Some(0), "container delete: {}", out.stderr);
    // Shown when the baseline check below fails.
    eprintln!("containerd's log:\n{}", c.log());
    drop(c);
    baseline.assert_restored(TEARDOWN);
}

/// A full tmpfs mounted over `/run/vc` for the guard's life; the original is back on drop.
struct FullRunVc {
    made_dir: bool,
}

const RUN_VC: &str = "/run/vc";

impl FullRunVc {
    fn mount() -> Self {
        let made_dir = !Path::new(RUN_VC).exists();
        std::fs::create_dir_all(RUN_VC).expect("mkdir /run/vc");
        let guard = FullRunVc { made_dir };
        let status = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                "size=256k,mode=0755",
                "kata-e2e-full",
                RUN_VC,
            ])
            .status()
            .expect("mount");
        assert!(status.success(), "mount tmpfs on {RUN_VC}");
        // The roots a host that ran pods before has (shared by every sandbox, never removed).
        for root in ["sbs", "vm"] {
            std::fs::create_dir(Path::new(RUN_VC).join(root)).expect("mkdir in the tmpfs");
        }
        // Fill it: directories and sockets still fit, no file content does.
        let filler = PathBuf::from(RUN_VC).join("filler");
        let _ = Command::new("dd")
            .args(["if=/dev/zero", &format!("of={}", filler.display()), "bs=4k"])
            .stderr(std::process::Stdio::null())
            .status();
        guard
    }
}

impl Drop for FullRunVc {
    fn drop(&mut self) {
        let mut unmounted = false;
        for _ in 0..50 {
            if Command::new("umount")
                .arg(RUN_VC)
                .status()
                .map(|s| s.success())
                .unwrap_or(false)
            {
                unmounted = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        if !unmounted {
            let _ = Command::new("umount").args(["-l", RUN_VC]).status();
        }
        if self.made_dir {
            let _ = std::fs::remove_dir(RUN_VC);
        }
    }
}

/// No room left under `/run/vc`: the create fails, naming the state file and the cause, and
/// nothing of the sandbox is left (in the full file system or elsewhere).
#[test]
fn no_room_under_run_vc_fails_the_create_cleanly() {
    let (c, baseline) = PrivateContainerd::start_with_baseline(TEARDOWN);
    let _reaper = c.orphan_reaper();
    {
        let _full = FullRunVc::mount();
        let before = HostSnapshot::take();
        let out = c.run_rm("noroom", &[], &["true"]).expect("ctr run");
        assert_ne!(
            out.code,
            Some(0),
            "the container ran without room for its state"
        );
        assert!(
            out.stderr.contains("No space left on device") && out.stderr.contains(RUN_VC),
            "unclear error: {}",
            out.stderr
        );
        before.assert_restored(TEARDOWN);
        let _ = c.ctr(&["container", "delete", "noroom"], None, 30);
    }
    drop(c);
    baseline.assert_restored(TEARDOWN);
}

/// A static helper that starves every other task of the guest: it takes SCHED_FIFO 99 and spins,
/// one copy per online CPU. Built with the host's C compiler (`gcc`, `libc6-dev`).
const STARVE_C: &str = r#"
#include <sched.h>
#include <stdio.h>
#include <unistd.h>
int main(void) {
    struct sched_param sp = { .sched_priority = 99 };
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (sched_setscheduler(0, SCHED_FIFO, &sp) != 0) { perror("sched_setscheduler"); return 2; }
    for (long i = 1; i < cpus; i++) if (fork() == 0) break;
    for (;;) {}
}
"#;

/// Compiles [`STARVE_C`] into `dir/starve` (static: the busybox image has no libc).
fn build_starver(dir: &Path) {
    let src = dir.join("starve.c");
    std::fs::write(&src, STARVE_C).expect("write starve.c");
    let out = Command::new("cc")
        .args(["-static", "-O1", "-o"])
        .arg(dir.join("starve"))
        .arg(&src)
        .output()
        .expect("cc");
    assert!(
        out.status.success(),
        "cc -static starve.c: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A privileged guest starves its own agent (RT throttling off, SCHED_FIFO busy loops on every
/// vCPU): the SIGKILL cannot be delivered, the agent fails its health check, so the shim stops
/// the VM. The kill succeeds, the task stops with the VM's exit code, delete and container rm
/// work, and the host returns to its baseline (no QEMU left burning a core).
#[test]
fn sigkill_of_a_pod_whose_agent_is_starved_stops_the_vm() {
    let helper = tempfile::tempdir().expect("tempdir");
    build_starver(helper.path());
    let (c, baseline) = PrivateContainerd::start_with_baseline(TEARDOWN);
    let _reaper = c.orphan_reaper();
    let id = "starved";
    let mount = format!(
        "type=bind,src={},dst=/helper,options=rbind:ro",
        helper.path().display()
    );
    // The sleep lets the agent answer StartContainer first.
    let script = "sleep 2; echo -1 > /proc/sys/kernel/sched_rt_runtime_us && exec /helper/starve";
    let out = c
        .ctr(
            &[
                "run",
                "-d",
                "--runtime",
                RUNTIME,
                "--privileged",
                "--mount",
                &mount,
                IMAGE,
                id,
                "sh",
                "-c",
                script,
            ],
            None,
            180,
        )
        .expect("ctr run -d");
    assert_eq!(out.code, Some(0), "run {id}: {}", out.stderr);
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(
        c.task_status(id).as_deref(),
        Some("RUNNING"),
        "the starver is running"
    );

    // SignalProcess deadline (10 s) + health check (3 s) + stopping the VM.
    let started = std::time::Instant::now();
    let out = c
        .ctr(&["task", "kill", "-s", "SIGKILL", id], None, 60)
        .expect("ctr task kill");
    assert_eq!(out.code, Some(0), "kill of a starved pod: {}", out.stderr);
    assert!(
        started.elapsed() < Duration::from_secs(40),
        "kill took {:?}",
        started.elapsed()
    );
    assert!(c.wait_stopped(id), "the task did not stop");
    assert!(
        pids_named("qemu-system-x86_64").is_empty(),
        "QEMU still runs after the kill"
    );
    let out = c.ctr(&["task", "ls"], None, 30).expect("ctr task ls");
    assert!(out.stdout_text().contains(id), "{}", out.stdout_text());
    c.delete_stopped(id);
    let log = c.log();
    drop(c);
    assert!(
        log.contains(&format!(
            "agent unresponsive to SIGKILL of {id}: stopping the VM"
        )),
        "the shim's log does not say why it stopped the VM"
    );
    baseline.assert_restored(TEARDOWN);
}
