//! The VM factory through containerd: `kata-runtime factory init` with `[factory]
//! vm_cache_number > 0` keeps booted VMs, a pod takes one (and the cache refills), `factory
//! status` lists them, `factory destroy` leaves nothing; a killed server means the next pod boots
//! directly, with a warning in containerd's log.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use kata_e2e_tests::{assert_no_leftovers, set_config_key, PrivateContainerd};

const TEARDOWN: Duration = Duration::from_secs(20);

/// One factory at a time: the tests count the host's QEMU processes.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

/// Sets `[factory] vm_cache_number = 1` and `vm_cache_endpoint` in the test configuration.
fn with_cache(text: String, endpoint: &Path) -> String {
    let text = set_config_key(&text, "factory", "vm_cache_number", "1");
    set_config_key(
        &text,
        "factory",
        "vm_cache_endpoint",
        &format!("\"{}\"", endpoint.display()),
    )
}

struct Factory<'a> {
    containerd: &'a PrivateContainerd,
    endpoint: PathBuf,
    server: Option<Child>,
}

impl<'a> Factory<'a> {
    fn kata_runtime(&self) -> Command {
        let bin_dir = self
            .containerd
            .env_path()
            .split(':')
            .next()
            .unwrap_or_default();
        let mut cmd = Command::new(Path::new(bin_dir).join("kata-runtime"));
        cmd.arg("--config").arg(self.containerd.config_path());
        cmd
    }

    fn run(&self, action: &str) -> Output {
        self.kata_runtime()
            .args(["factory", action])
            .output()
            .expect("kata-runtime factory")
    }

    /// `factory init` in the background, waited for until `factory status` lists a cached VM.
    fn start(containerd: &'a PrivateContainerd, endpoint: PathBuf) -> Self {
        let mut this = Self {
            containerd,
            endpoint,
            server: None,
        };
        let log = std::fs::File::create(containerd.config_path().with_file_name("factory.log"))
            .expect("factory log");
        let child = this
            .kata_runtime()
            .args(["factory", "init"])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("kata-runtime factory init");
        this.server = Some(child);
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if this.cached_pids().len() == 1 {
                return this;
            }
            assert!(
                Instant::now() < deadline,
                "no cached VM within 120 s: {}",
                this.log()
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.containerd.config_path().with_file_name("factory.log"))
            .unwrap_or_default()
    }

    /// The QEMU pids `factory status` lists.
    fn cached_pids(&self) -> Vec<u32> {
        let out = self.run("status");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.trim().strip_prefix("vm pid "))
            .filter_map(|rest| rest.split_whitespace().next()?.parse().ok())
            .collect()
    }

    fn destroy(&mut self) -> String {
        let out = self.run("destroy");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "factory destroy failed: {text} {}",
            String::from_utf8_lossy(&out.stderr)
        );
        if let Some(mut child) = self.server.take() {
            let deadline = Instant::now() + Duration::from_secs(30);
            while child.try_wait().ok().flatten().is_none() {
                assert!(
                    Instant::now() < deadline,
                    "the server did not exit after destroy"
                );
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        text
    }
}

impl Drop for Factory<'_> {
    fn drop(&mut self) {
        if self.server.is_some() || self.endpoint.exists() {
            let _ = self.run("destroy");
        }
        if let Some(mut child) = self.server.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The containerd log lines about sandbox `id`.
fn lines_of(containerd: &PrivateContainerd, id: &str) -> Vec<String> {
    let tag = format!("sandbox={id}");
    containerd
        .log()
        .lines()
        .filter(|l| l.contains(&tag))
        .map(str::to_string)
        .collect()
}

fn qemu_count() -> usize {
    kata_e2e_tests::pids_named("qemu-system-x86_64").len()
}

const PROBE: [&str; 3] = [
    "sh",
    "-c",
    "head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \\n'",
];

#[test]
fn pods_take_cached_vms_and_destroy_leaves_nothing() {
    let _serial = serial();
    let (containerd, baseline) = PrivateContainerd::start_with_baseline(TEARDOWN);
    // The endpoint beside the configuration (the shim reads the file at each pod start).
    let endpoint = containerd.config_path().with_file_name("cache.sock");
    let text = std::fs::read_to_string(containerd.config_path()).expect("config");
    std::fs::write(containerd.config_path(), with_cache(text, &endpoint)).expect("config");
    let mut factory = Factory::start(&containerd, endpoint.clone());
    let socket_mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&endpoint)
            .expect("endpoint")
            .permissions(),
    );
    assert_eq!(socket_mode & 0o777, 0o600, "the endpoint is owner-only");
    let cached = factory.cached_pids();

    let mut seen = Vec::new();
    for id in ["vmc1", "vmc2"] {
        let out = containerd.run_rm(id, &[], &PROBE).expect("ctr run");
        assert_eq!(out.code, Some(0), "{id}: {out:?}\n{}", factory.log());
        let bytes = out.stdout_text().trim().to_string();
        assert_eq!(bytes.len(), 32, "{id}: 16 bytes in hex: {bytes:?}");
        seen.push(bytes);
        let lines = lines_of(&containerd, id);
        let taken = lines
            .iter()
            .find(|l| l.contains("VM taken from the VMCache"));
        let taken =
            taken.unwrap_or_else(|| panic!("{id} took no cached VM:\n{}", lines.join("\n")));
        assert!(
            lines
                .iter()
                .any(|l| l.contains("vm boot timeline") && l.contains("source=\"vmcache\"")),
            "{id}: {}",
            lines.join("\n")
        );
        if id == "vmc1" {
            assert!(
                taken.contains(&format!("qemu_pid={}", cached[0])),
                "the pod got the VM `factory status` listed ({cached:?}): {taken}"
            );
        }
    }
    assert_ne!(
        seen[0], seen[1],
        "two cached VMs gave the same random bytes"
    );

    // The pool refills behind the pods.
    let deadline = Instant::now() + Duration::from_secs(120);
    while factory.cached_pids().len() != 1 {
        assert!(
            Instant::now() < deadline,
            "the cache did not refill: {}",
            factory.log()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let said = factory.destroy();
    assert!(said.contains("vm factory destroyed"), "{said}");
    assert!(!endpoint.exists(), "the endpoint is removed");
    assert_eq!(qemu_count(), 0, "no QEMU after destroy");
    drop(factory);
    drop(containerd);
    baseline.assert_restored(TEARDOWN);
}

#[test]
fn a_killed_server_means_a_direct_boot_with_a_warning() {
    let _serial = serial();
    assert_no_leftovers(TEARDOWN);
    let containerd = PrivateContainerd::start().expect("containerd");
    let endpoint = containerd.config_path().with_file_name("cache.sock");
    let text = std::fs::read_to_string(containerd.config_path()).expect("config");
    std::fs::write(containerd.config_path(), with_cache(text, &endpoint)).expect("config");
    let mut factory = Factory::start(&containerd, endpoint.clone());
    let mut server = factory.server.take().expect("server");
    server.kill().expect("kill the server");
    let _ = server.wait();
    assert!(endpoint.exists(), "a killed server leaves its socket");
    let status = factory.run("status");
    let said = String::from_utf8_lossy(&status.stdout).into_owned();
    assert_eq!(status.status.code(), Some(1), "{said}");
    assert!(
        said.contains("the server was killed") && said.contains("1 cached VM(s) left running"),
        "{said}"
    );

    let out = containerd.run_rm("vmk1", &[], &["true"]).expect("ctr run");
    assert_eq!(
        out.code,
        Some(0),
        "the pod boots without the cache: {out:?}"
    );
    let lines = lines_of(&containerd, "vmk1");
    let warning = lines
        .iter()
        .find(|l| l.contains("WARN") && l.contains("VM cache not used, booting directly"));
    let warning = warning.unwrap_or_else(|| panic!("no warning:\n{}", lines.join("\n")));
    assert!(
        warning.contains("no VMCache server answers on"),
        "{warning}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("vm boot timeline") && l.contains("source=\"direct\"")),
        "{}",
        lines.join("\n")
    );

    // The VM the killed server had cached is stopped by destroy, with the stale socket.
    assert_eq!(qemu_count(), 1, "the orphaned cached VM runs until destroy");
    let said = factory.destroy();
    assert!(said.contains("stopped cached VM vm-"), "{said}");
    assert!(said.contains("removed stale socket"), "{said}");
    assert!(!endpoint.exists());
    drop(factory);
    drop(containerd);
    assert_no_leftovers(TEARDOWN);
    let left: Vec<_> = std::fs::read_dir("/run/vc/vm")
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(
        left.iter().all(|p| !p.to_string_lossy().contains("/vm-")),
        "{left:?}"
    );
}

/// Sets `shared_fs = "virtio-9p"`, `enable_template = true` and `template_path`.
fn with_template(text: String, template: &Path) -> String {
    let text = set_config_key(&text, "hypervisor.qemu", "shared_fs", "\"virtio-9p\"");
    let text = set_config_key(&text, "factory", "enable_template", "true");
    set_config_key(
        &text,
        "factory",
        "template_path",
        &format!("\"{}\"", template.display()),
    )
}

#[test]
fn template_clones_run_pods_with_their_own_entropy() {
    let _serial = serial();
    let (containerd, baseline) = PrivateContainerd::start_with_baseline(TEARDOWN);
    let template = containerd.config_path().with_file_name("template");
    let text = std::fs::read_to_string(containerd.config_path()).expect("config");
    std::fs::write(containerd.config_path(), with_template(text, &template)).expect("config");
    let mut factory = Factory {
        containerd: &containerd,
        endpoint: containerd.config_path().with_file_name("no-cache.sock"),
        server: None,
    };

    // No template yet: the pod boots directly, with a warning naming the path.
    let out = containerd.run_rm("tpl0", &[], &["true"]).expect("ctr run");
    assert_eq!(out.code, Some(0), "{out:?}");
    let lines = lines_of(&containerd, "tpl0");
    assert!(
        lines.iter().any(|l| l.contains("WARN")
            && l.contains("VM template not used, booting directly")
            && l.contains(&template.display().to_string())),
        "{}",
        lines.join("\n")
    );

    let init = factory.run("init");
    let said = String::from_utf8_lossy(&init.stdout).into_owned();
    assert_eq!(
        init.status.code(),
        Some(0),
        "{said}{}",
        String::from_utf8_lossy(&init.stderr)
    );
    assert!(said.contains("vm factory initialized"), "{said}");
    for f in ["memory", "state", "template.json"] {
        assert!(template.join(f).is_file(), "{f} in the template");
    }
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&template)
            .expect("template dir")
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o700, "a guest's RAM is the owner's only");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(template.join("memory"))
            .expect("memory file")
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o600, "the memory file is the owner's only");
    assert_eq!(qemu_count(), 0, "the template VM is stopped once saved");
    let status = factory.run("status");
    assert!(String::from_utf8_lossy(&status.stdout).contains("vm factory template in"));

    let mut seen = Vec::new();
    for id in ["tpl1", "tpl2"] {
        let out = containerd.run_rm(id, &[], &PROBE).expect("ctr run");
        assert_eq!(out.code, Some(0), "{id}: {out:?}");
        let bytes = out.stdout_text().trim().to_string();
        assert_eq!(bytes.len(), 32, "{id}: 16 bytes in hex: {bytes:?}");
        seen.push(bytes);
        let lines = lines_of(&containerd, id);
        assert!(
            lines
                .iter()
                .any(|l| l.contains("vm boot timeline") && l.contains("source=\"template\"")),
            "{id} was not cloned from the template:\n{}",
            lines.join("\n")
        );
    }
    assert_ne!(
        seen[0], seen[1],
        "two clones of one template read the same random bytes"
    );

    let said = factory.destroy();
    assert!(said.contains("vm factory destroyed"), "{said}");
    assert!(!template.exists(), "the template's files are removed");
    drop(factory);
    drop(containerd);
    baseline.assert_restored(TEARDOWN);
}
