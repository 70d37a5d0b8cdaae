//! The `[hypervisor.qemu]` and `[agent.kata]` keys a QEMU user of Kata relies on take effect where
//! they land: QEMU's command line and memory, virtiofsd's arguments, the guest (devices, kernel
//! modules), and asset hashes that refuse a pod naming the asset.
//!
//! Each test boots one or two pods (a TCG boot takes ~5 s) with several keys at once.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use kata_e2e_tests::{assert_no_leftovers, only_pid, repo_root, set_config_key, PrivateContainerd};

const TEARDOWN: Duration = Duration::from_secs(20);

/// The tests look for the one QEMU and virtiofsd on the host: one pod at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
const QEMU: &str = "qemu-system-x86_64";

fn qemu_keys(text: String, keys: &[(&str, &str)]) -> String {
    keys.iter().fold(text, |t, (k, v)| {
        set_config_key(&t, "hypervisor.qemu", k, v)
    })
}

/// The NUL-separated command line of `pid`, as one string with spaces.
fn cmdline(pid: u32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .unwrap_or_default()
        .split(|b| *b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

fn assert_has(haystack: &str, needle: &str, what: &str) {
    assert!(
        haystack.contains(needle),
        "{what}: {needle:?} missing in {haystack}"
    );
}

/// The guest image the test configuration boots (as `kata_e2e_tests::test_config` finds it).
fn image_dir() -> PathBuf {
    std::env::var_os("KATA_TEST_IMAGE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("build/image"))
}

fn sha512(path: &Path) -> String {
    let out = Command::new("sha512sum")
        .arg(path)
        .output()
        .expect("sha512sum");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

fn meminfo(key: &str) -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Reserves huge pages for the test and gives the old count back when dropped.
struct HugePages {
    before: String,
}

const NR_HUGEPAGES: &str = "/proc/sys/vm/nr_hugepages";

impl HugePages {
    fn reserve(pages: u64) -> Self {
        let before = std::fs::read_to_string(NR_HUGEPAGES).expect("read nr_hugepages");
        let want = before.trim().parse::<u64>().unwrap_or(0) + pages;
        std::fs::write(NR_HUGEPAGES, want.to_string()).expect("write nr_hugepages");
        Self { before }
    }
}

impl Drop for HugePages {
    fn drop(&mut self) {
        let _ = std::fs::write(NR_HUGEPAGES, self.before.trim());
    }
}

#[test]
fn machine_cpu_rng_memory_balloon_and_virtiofsd_keys_act() {
    let _serial = serial();
    assert_no_leftovers(TEARDOWN);
    let kernel = image_dir().join("vmlinux.container");
    let c = PrivateContainerd::start_edited(|t| {
        qemu_keys(
            t,
            &[
                ("machine_accelerators", "\"smm=off\""),
                ("cpu_features", "\"pmu=off\""),
                ("entropy_source", "\"/dev/urandom\""),
                ("default_memory", "512"),
                ("file_mem_backend", "\"/dev/shm\""),
                ("enable_mem_prealloc", "true"),
                ("reclaim_guest_freed_memory", "true"),
                ("virtio_fs_cache", "\"always\""),
                ("virtio_fs_queue_size", "512"),
                (
                    "virtio_fs_extra_args",
                    "[\"--thread-pool-size=1\", \"--announce-submounts\"]",
                ),
                ("enable_annotations", "[\"kernel_hash\"]"),
            ],
        )
    })
    .unwrap_or_else(|e| panic!("{e:#}"));
    // The right kernel hash lets the pod boot.
    let hash = format!(
        "io.katacontainers.config.hypervisor.kernel_hash={}",
        sha512(&kernel)
    );
    c.run_detached("keys1", &[hash.as_str()]);

    let qemu = only_pid(QEMU);
    let line = cmdline(qemu);
    assert_has(&line, "-machine pc,smm=off", "machine_accelerators");
    assert_has(&line, "-cpu qemu64,pmu=off", "cpu_features");
    assert_has(
        &line,
        "rng-random,id=rng0,filename=/dev/urandom",
        "entropy_source",
    );
    assert_has(&line, "virtio-rng-pci,rng=rng0", "entropy_source");
    assert_has(
        &line,
        "memory-backend-file,id=mem,size=512M,mem-path=/dev/shm,share=on,prealloc=on",
        "file_mem_backend + enable_mem_prealloc",
    );
    assert_has(
        &line,
        "virtio-balloon-pci,id=balloon0,deflate-on-oom=on,free-page-reporting=on",
        "reclaim_guest_freed_memory",
    );
    assert_has(&line, "queue-size=512", "virtio_fs_queue_size");

    // Guest RAM is a file in /dev/shm, entirely resident (preallocated) before the guest used it.
    let smaps = std::fs::read_to_string(format!("/proc/{qemu}/smaps")).expect("smaps");
    let mut lines = smaps.lines();
    let mut ram_rss_kib = None;
    while let Some(l) = lines.next() {
        if l.contains("/dev/shm/") && l.contains("qemu_back_mem") {
            ram_rss_kib = lines
                .find_map(|l| l.strip_prefix("Rss:"))
                .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok());
            break;
        }
    }
    let rss = ram_rss_kib.unwrap_or_else(|| panic!("no /dev/shm backing file mapped by qemu"));
    assert!(
        rss >= 500 * 1024,
        "guest RAM preallocated: {rss} KiB resident of 512 MiB"
    );

    let virtiofsd = cmdline(only_pid("virtiofsd"));
    assert_has(&virtiofsd, "--cache=always", "virtio_fs_cache");
    assert_has(
        &virtiofsd,
        "--thread-pool-size=1 --announce-submounts",
        "virtio_fs_extra_args",
    );

    // The guest: the host's entropy feeds its hardware rng; the balloon is on its virtio bus.
    let rng = c.exec_output(
        "keys1",
        "rng",
        &["cat", "/sys/devices/virtual/misc/hw_random/rng_current"],
    );
    assert!(rng.starts_with("virtio_rng"), "guest hw_random: {rng:?}");
    let devices = c.exec_output(
        "keys1",
        "vdev",
        &["sh", "-c", "cat /sys/bus/virtio/devices/*/device"],
    );
    assert!(
        devices.lines().any(|d| d.trim() == "0x0005"),
        "virtio balloon (device id 5) in the guest: {devices}"
    );
    c.remove("keys1");
    drop(c);
    assert_no_leftovers(TEARDOWN);
}

#[test]
fn hugepages_back_guest_ram_and_kernel_modules_are_loaded_or_refuse_the_pod() {
    let _serial = serial();
    assert_no_leftovers(TEARDOWN);
    // 512 MiB of 2 MiB pages, plus a few spare.
    let _pages = HugePages::reserve(260);
    let free_before = meminfo("HugePages_Free:");
    assert!(free_before >= 256, "huge pages reserved: {free_before}");
    let c = PrivateContainerd::start_edited(|t| {
        let t = qemu_keys(
            t,
            &[("default_memory", "512"), ("enable_hugepages", "true")],
        );
        set_config_key(
            &t,
            "agent.kata",
            "kernel_modules",
            "[\"virtio_rng\", \"vsock\"]",
        )
    })
    .unwrap_or_else(|e| panic!("{e:#}"));
    c.run_detached("keys2", &[]);
    let line = cmdline(only_pid(QEMU));
    assert_has(
        &line,
        "memory-backend-memfd,id=mem,size=512M,hugetlb=on,share=on,prealloc=on",
        "enable_hugepages",
    );
    let used = free_before.saturating_sub(meminfo("HugePages_Free:"));
    assert!(used >= 256, "guest RAM in huge pages: {used} pages used");
    // A kernel with modules loads it (`/proc/modules`); the built kernel has it built in, which
    // the agent reports as modprobe would (loaded).
    let modules = c.exec_output(
        "keys2",
        "mods",
        &["sh", "-c", "cat /proc/modules 2>/dev/null; true"],
    );
    let log = c.log();
    assert!(
        modules.lines().any(|l| l.starts_with("virtio_rng "))
            || log
                .lines()
                .any(|l| l.contains("kernel module is built in") && l.contains("virtio_rng")),
        "virtio_rng neither loaded nor built in: {modules}"
    );
    c.remove("keys2");
    drop(c);
    assert_no_leftovers(TEARDOWN);

    // A module the guest does not have fails the sandbox, naming it (as Kata's agent does).
    let c = PrivateContainerd::start_edited(|t| {
        set_config_key(
            &t,
            "agent.kata",
            "kernel_modules",
            "[\"kata_no_such_module param=1\"]",
        )
    })
    .unwrap_or_else(|e| panic!("{e:#}"));
    let out = c.run_rm("keys3", &[], &["true"]).expect("ctr run");
    assert_ne!(out.code, Some(0), "the pod must be refused");
    assert_has(&out.stderr, "kata_no_such_module", "kernel_modules error");
    drop(c);
    assert_no_leftovers(TEARDOWN);
}

#[test]
fn a_wrong_asset_hash_or_an_unsupported_value_refuses_the_pod_naming_it() {
    let _serial = serial();
    assert_no_leftovers(TEARDOWN);
    let kernel = image_dir().join("vmlinux.container");
    let right = sha512(&kernel);
    let c = PrivateContainerd::start_edited(|t| {
        qemu_keys(t, &[("enable_annotations", "[\"kernel_hash\"]")])
    })
    .unwrap_or_else(|e| panic!("{e:#}"));
    let wrong = "0".repeat(128);
    let annotation = format!("io.katacontainers.config.hypervisor.kernel_hash={wrong}");
    let out = c
        .run_rm("hash1", &["--annotation", &annotation], &["true"])
        .expect("ctr run");
    assert_ne!(out.code, Some(0), "a wrong kernel hash must refuse the pod");
    for needle in ["asset kernel", wrong.as_str(), right.as_str()] {
        assert_has(&out.stderr, needle, "kernel_hash error");
    }
    assert!(no_qemu_running(), "no VM may boot with a wrong kernel hash");
    drop(c);

    // A value that cannot take effect here is refused naming key and value.
    let c = PrivateContainerd::start_edited(|t| qemu_keys(t, &[("virtio_fs_cache_size", "1024")]))
        .unwrap_or_else(|e| panic!("{e:#}"));
    let out = c.run_rm("dax1", &[], &["true"]).expect("ctr run");
    assert_ne!(out.code, Some(0), "virtio_fs_cache_size must be refused");
    assert_has(&out.stderr, "virtio_fs_cache_size", "refusal");
    assert_has(&out.stderr, "1024", "refusal");
    drop(c);
    assert_no_leftovers(TEARDOWN);
}

fn no_qemu_running() -> bool {
    kata_e2e_tests::pids_named(QEMU).is_empty()
}

/// Whether the guest kernel of the built image can mount 9p: the module is in the image's list,
/// or the kernel's configuration (`kernel-config` beside the image, if the builder leaves one)
/// has it built in.
fn guest_has_9p() -> bool {
    let dir = image_dir();
    let modules = std::fs::read_to_string(dir.join("kata-modules")).unwrap_or_default();
    if modules.lines().any(|l| l.ends_with("/9p.ko")) {
        return true;
    }
    std::fs::read_to_string(dir.join("kernel-config"))
        .unwrap_or_default()
        .lines()
        .any(|l| l.trim() == "CONFIG_9P_FS=y")
}

#[test]
fn virtio_9p_shares_the_container_files_without_virtiofsd() {
    let _serial = serial();
    if !guest_has_9p() {
        eprintln!(
            "SKIPPED: the guest kernel of build/image has no 9p (not in kata-modules, no \
             CONFIG_9P_FS=y in build/image/kernel-config)"
        );
        return;
    }
    assert_no_leftovers(TEARDOWN);
    let c = PrivateContainerd::start_edited(|t| {
        qemu_keys(t, &[("shared_fs", "\"virtio-9p\""), ("msize_9p", "65536")])
    })
    .unwrap_or_else(|e| panic!("{e:#}"));
    c.run_detached("ninep1", &[]);
    let line = cmdline(only_pid(QEMU));
    assert_has(
        &line,
        "virtio-9p-pci,fsdev=fs9p,mount_tag=kataShared",
        "shared_fs",
    );
    assert!(
        kata_e2e_tests::pids_named("virtiofsd").is_empty(),
        "no virtiofsd with 9p"
    );
    // The container's root comes from the share, which the guest mounted as 9p with the msize.
    let mounts = c.exec_output("ninep1", "m", &["cat", "/proc/mounts"]);
    let root = mounts
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some("/"))
        .unwrap_or_default();
    assert!(root.contains(" 9p "), "container root on 9p: {mounts}");
    assert_has(root, "msize=65536", "msize_9p");
    c.remove("ninep1");
    drop(c);
    assert_no_leftovers(TEARDOWN);
}

/// The guest image of the test configuration with a guest hook added under
/// `/usr/share/oci/hooks/poststart` (an uncompressed cpio appended to the initrd: the kernel
/// unpacks every archive of the initramfs in turn). The hook writes its kind into the container's
/// root through `/proc/<pid>/root`, the pid read from the OCI state on its stdin.
fn initrd_with_guest_hook(dir: &Path) -> PathBuf {
    let stage = dir.join("stage");
    let hook = stage.join("usr/share/oci/hooks/poststart/10-mark");
    std::fs::create_dir_all(hook.parent().expect("parent")).expect("hook dir");
    std::fs::write(
        &hook,
        "#!/bin/sh\n\
         pid=$(sed -n 's/.*\"pid\": *\\([0-9]*\\).*/\\1/p')\n\
         echo \"$1 ran as $0\" > /proc/$pid/root/guest-hook-mark\n",
    )
    .expect("hook");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let cpio = dir.join("hooks.cpio");
    let status = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "cd {} && find usr | cpio -o -H newc --quiet > {}",
            stage.display(),
            cpio.display()
        ))
        .status()
        .expect("cpio");
    assert!(status.success(), "cpio failed");
    let initrd = dir.join("initrd-with-hook.img");
    let mut bytes = std::fs::read(image_dir().join("kata-containers-initrd.img")).expect("initrd");
    // The appended archive starts on a 4-byte boundary, as the kernel reads them.
    while !bytes.len().is_multiple_of(4) {
        bytes.push(0);
    }
    bytes.extend(std::fs::read(&cpio).expect("cpio bytes"));
    std::fs::write(&initrd, bytes).expect("write initrd");
    initrd
}

/// `guest_hook_path`: the guest's poststart hook runs for the container, with its path and kind
/// as arguments (as Kata's agent calls them); a path the guest lacks is a warning, not a failure.
#[test]
fn guest_hooks_run_in_the_guest_for_each_container() {
    let _serial = serial();
    assert_no_leftovers(TEARDOWN);
    let dir = tempfile::tempdir().expect("tmp");
    let initrd = initrd_with_guest_hook(dir.path());
    let stock = image_dir().join("kata-containers-initrd.img");
    let c = PrivateContainerd::start_edited(|t| {
        let t = t.replace(&*stock.to_string_lossy(), &initrd.to_string_lossy());
        qemu_keys(t, &[("guest_hook_path", "\"/usr/share/oci/hooks\"")])
    })
    .unwrap_or_else(|e| panic!("{e:#}"));
    let out = c
        .run_rm(
            "hooks1",
            &[],
            &[
                "sh",
                "-c",
                "for i in $(seq 100); do [ -f /guest-hook-mark ] && break; sleep 0.1; done; \
                 cat /guest-hook-mark",
            ],
        )
        .expect("ctr run");
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(
        out.stdout_text().trim(),
        "poststart ran as /usr/share/oci/hooks/poststart/10-mark",
        "the guest hook did not run: {}",
        out.stderr
    );
    drop(c);
    assert_no_leftovers(TEARDOWN);

    let c = PrivateContainerd::start_edited(|t| {
        qemu_keys(t, &[("guest_hook_path", "\"/no/such/hooks\"")])
    })
    .unwrap_or_else(|e| panic!("{e:#}"));
    let out = c.run_rm("hooks2", &[], &["true"]).expect("ctr run");
    assert_eq!(
        out.code,
        Some(0),
        "a missing hook path only warns: {}",
        out.stderr
    );
    assert!(
        c.log()
            .lines()
            .any(|l| l.contains("guest hooks not added") && l.contains("/no/such/hooks")),
        "no warning naming the path"
    );
    drop(c);
    assert_no_leftovers(TEARDOWN);
}

/// `[agent.kata] dial_timeout` bounds the wait for the agent as given: 1 s is less than a TCG
/// boot takes (about 2 s to the agent), so the pod is refused saying so, and nothing is left.
#[test]
fn dial_timeout_bounds_the_wait_for_the_agent() {
    let _serial = serial();
    assert_no_leftovers(TEARDOWN);
    let c =
        PrivateContainerd::start_edited(|t| set_config_key(&t, "agent.kata", "dial_timeout", "1"))
            .unwrap_or_else(|e| panic!("{e:#}"));
    let out = c.run_rm("dial1", &[], &["true"]).expect("ctr run");
    assert_ne!(out.code, Some(0), "the agent answered within 1 s?");
    assert_has(
        &out.stderr,
        "within 1.0 s (dial_timeout)",
        "dial_timeout error",
    );
    drop(c);
    assert_no_leftovers(TEARDOWN);
}

/// The keys that shape the VM itself land where Kata puts them: `path` is the QEMU that runs,
/// `kernel`/`initrd` its `-kernel`/`-initrd`, `machine_type` its machine, `default_vcpus` and
/// `default_memory` its `-smp`/`-m`, `seccompsandbox` its `-sandbox`, `kernel_params` the guest's
/// `/proc/cmdline`, `[hypervisor.qemu] enable_debug` a kernel without `quiet`, and
/// `virtio_fs_daemon` the virtiofsd that runs.
#[test]
fn boot_keys_land_on_the_qemu_command_line_and_in_the_guest() {
    let _serial = serial();
    assert_no_leftovers(TEARDOWN);
    let dir = tempfile::tempdir().expect("tmp");
    // Wrappers that leave a mark, then become the real programs (paths are canonicalised at load,
    // so a symlink would not tell them apart).
    let wrapper = |name: &str, real: &str| {
        let path = dir.path().join(name);
        let mark = dir.path().join(format!("{name}.ran"));
        std::fs::write(
            &path,
            format!(
                "#!/bin/sh\necho ran > {}\nexec {real} \"$@\"\n",
                mark.display()
            ),
        )
        .expect("wrapper");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        (path, mark)
    };
    let (qemu, qemu_ran) = wrapper("qemu-wrapper", &format!("/usr/bin/{QEMU}"));
    let (virtiofsd, virtiofsd_ran) = wrapper("virtiofsd-wrapper", "/usr/local/bin/virtiofsd");
    let c = PrivateContainerd::start_edited(|t| {
        let t = set_config_key(&t, "runtime", "enable_debug", "true");
        qemu_keys(
            t,
            &[
                ("path", &format!("\"{}\"", qemu.display())),
                ("machine_type", "\"q35\""),
                ("default_vcpus", "2"),
                ("default_memory", "768"),
                ("kernel_params", "\"kata_rs_probe=42\""),
                ("enable_debug", "true"),
                ("seccompsandbox", "\"on,obsolete=deny\""),
                ("virtio_fs_daemon", &format!("\"{}\"", virtiofsd.display())),
            ],
        )
    })
    .unwrap_or_else(|e| panic!("{e:#}"));
    c.run_detached("boot1", &[]);
    let pid = only_pid(QEMU);
    let line = cmdline(pid);
    assert!(qemu_ran.exists(), "path: {} did not run", qemu.display());
    let images = image_dir();
    assert_has(
        &line,
        &format!("-kernel {}", images.join("vmlinux.container").display()),
        "kernel",
    );
    assert_has(
        &line,
        &format!(
            "-initrd {}",
            images.join("kata-containers-initrd.img").display()
        ),
        "initrd",
    );
    assert_has(&line, "q35", "machine_type");
    assert_has(&line, "-smp 2,", "default_vcpus");
    assert_has(&line, "-m 768M", "default_memory");
    assert_has(&line, "-sandbox on,obsolete=deny", "seccompsandbox");
    let guest_cmdline = c.exec_output("boot1", "cmd", &["cat", "/proc/cmdline"]);
    assert_has(&guest_cmdline, "kata_rs_probe=42", "kernel_params");
    assert!(
        !guest_cmdline.split_whitespace().any(|w| w == "quiet"),
        "enable_debug leaves quiet out: {guest_cmdline}"
    );
    let nproc = c.exec_output("boot1", "nproc", &["nproc"]);
    assert_eq!(nproc, "2", "default_vcpus in the guest");
    assert!(
        virtiofsd_ran.exists(),
        "virtio_fs_daemon: {} did not run",
        virtiofsd.display()
    );
    c.remove("boot1");
    // `[runtime] enable_debug`: the shim's own debug records.
    let log = c.log();
    assert!(
        log.lines().any(|l| l.contains(" DEBUG ")
            && l.contains("sandbox=boot1")
            && !l.contains("source=\"agent\"")),
        "no debug record of the shim with [runtime] enable_debug"
    );
    drop(c);
    assert_no_leftovers(TEARDOWN);
}

/// `[runtime] create_container_timeout` bounds the agent's CreateContainer: a pod member whose
/// `createContainer` hook (run by the agent during CreateContainer, in the guest) sleeps 5 s is
/// refused after 2 s, naming the call; the pod goes on and leaves nothing behind when removed.
#[test]
fn create_container_timeout_bounds_the_agents_create_container() {
    let _serial = serial();
    assert_no_leftovers(TEARDOWN);
    let dir = tempfile::tempdir().expect("tmp");
    let rootfs = kata_e2e_tests::busybox_rootfs(dir.path()).expect("rootfs");
    let c = PrivateContainerd::start_edited(|t| {
        set_config_key(&t, "runtime", "create_container_timeout", "2")
    })
    .unwrap_or_else(|e| panic!("{e:#}"));
    let pod = "cctpod";
    c.run_detached_with(pod, &[], &kata_e2e_tests::sandbox_annotations(pod));
    let mut spec =
        kata_e2e_tests::default_spec("cct1", &rootfs, &["echo", "created"]).expect("spec");
    spec["hooks"] = serde_json::json!({
        "createContainer": [{"path": "/bin/sh", "args": ["sh", "-c", "cat > /dev/null; sleep 5"]}],
    });
    let annotations: serde_json::Map<String, serde_json::Value> =
        kata_e2e_tests::member_annotations(pod)
            .iter()
            .filter_map(|a| a.split_once('='))
            .map(|(k, v)| (k.to_string(), serde_json::Value::from(v)))
            .collect();
    spec["annotations"] = serde_json::Value::Object(annotations);
    let path = dir.path().join("cct1.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&spec).expect("json")).expect("write");
    let path = path.display().to_string();
    let out = c
        .ctr(
            &[
                "run",
                "--rm",
                "--runtime",
                kata_e2e_tests::RUNTIME,
                "--config",
                &path,
                "cct1",
            ],
            None,
            120,
        )
        .expect("ctr run");
    assert_ne!(
        out.code,
        Some(0),
        "CreateContainer outlived its 2 s: {}",
        out.stderr
    );
    assert_has(
        &out.stderr,
        "CreateContainer",
        "create_container_timeout error",
    );
    // The pod itself goes on.
    assert_eq!(c.exec_output(pod, "alive", &["echo", "alive"]), "alive");
    c.remove(pod);
    drop(c);
    assert_no_leftovers(TEARDOWN);
}
