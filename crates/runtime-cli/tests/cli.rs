//! Runs the `kata-runtime` binary on fixture configurations.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_kata-runtime");

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn kata_runtime(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("KATA_CONF_FILE")
        .output()
        .expect("run kata-runtime")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn write_script(path: &Path, body: &str) {
    std::fs::write(path, format!("#!/bin/sh\n{body}\n")).expect("write script");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

/// A directory holding a fake QEMU, kernel, initrd and virtiofsd, plus `configuration.toml`
/// made from the `clamped.toml` fixture.
struct Assets {
    dir: tempfile::TempDir,
}

impl Assets {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path();
        write_script(
            &p.join("qemu-system-x86_64"),
            "echo 'QEMU emulator version 7.2.0 (fixture)'",
        );
        write_script(&p.join("virtiofsd"), "exit 0");
        std::fs::write(p.join("vmlinux"), "kernel").expect("write");
        std::fs::write(p.join("initrd.img"), "initrd").expect("write");
        let template = std::fs::read_to_string(fixture("clamped.toml")).expect("fixture");
        let text = template.replace("@DIR@", &p.display().to_string());
        std::fs::write(p.join("configuration.toml"), text).expect("write");
        Self { dir }
    }

    fn config(&self) -> String {
        self.dir
            .path()
            .join("configuration.toml")
            .display()
            .to_string()
    }
}

#[test]
fn show_default_config_paths_lists_the_lookup_paths() {
    let out = kata_runtime(&["--show-default-config-paths"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let printed: Vec<PathBuf> = stdout(&out).lines().map(PathBuf::from).collect();
    assert_eq!(printed, kata_config::default_config_paths());
    assert!(printed.contains(&PathBuf::from("/etc/kata-containers/configuration.toml")));
    assert!(printed.contains(&PathBuf::from(
        "/usr/share/defaults/kata-containers/configuration.toml"
    )));
}

#[test]
fn kata_env_json_reports_clamped_values_source_and_host() {
    let assets = Assets::new();
    let mut text = std::fs::read_to_string(assets.config()).expect("read");
    text.push_str("bogus_key = 1\n");
    std::fs::write(assets.config(), text).expect("write");
    let out = kata_runtime(&["--config", &assets.config(), "kata-env", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let host_cpus = kata_hostinfo::Host::system().cpu_count();
    assert_eq!(
        json["config"]["values"]["hypervisor"]["default_vcpus"],
        serde_json::json!(host_cpus),
        "default_vcpus = -1 must become the host CPU count"
    );
    assert_eq!(
        json["config"]["values"]["hypervisor"]["default_memory"],
        512
    );
    let source = json["config"]["path"].as_str().expect("path");
    assert!(source.ends_with("configuration.toml"), "{source}");
    assert!(json["config"]["drop_ins"].is_array());
    let unknown = json["config"]["unknown_keys"]
        .as_array()
        .expect("unknown_keys");
    assert!(
        unknown
            .iter()
            .any(|k| k.as_str().is_some_and(|k| k.ends_with("runtime.bogus_key"))),
        "{unknown:?}"
    );
    assert!(json["config"]["warnings"]
        .as_array()
        .is_some_and(|w| !w.is_empty()));
    assert_eq!(json["host"]["cpu_count"], serde_json::json!(host_cpus));
    assert_eq!(json["host"]["qemu"]["major"], 7);
    assert!(json["host"]["virt"]["reason"].is_string());
    assert_eq!(json["runtime"]["version"], env!("CARGO_PKG_VERSION"));
}

#[test]
fn kata_env_text_names_the_source_and_drop_ins() {
    let assets = Assets::new();
    let drop_in_dir = assets.dir.path().join("config.d");
    std::fs::create_dir(&drop_in_dir).expect("mkdir");
    std::fs::write(
        drop_in_dir.join("10-memory.toml"),
        "[hypervisor.qemu]\ndefault_memory = 1024\n",
    )
    .expect("write");
    let out = kata_runtime(&["--config", &assets.config(), "kata-env"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("path = "), "{text}");
    assert!(
        text.contains("drop_in = ") && text.contains("10-memory.toml"),
        "{text}"
    );
    assert!(text.contains("hypervisor.default_memory = 1024"), "{text}");
    assert!(text.contains("accelerator = "), "{text}");
}

#[test]
fn check_reports_tcg_only_on_a_host_without_vmx_svm() {
    let assets = Assets::new();
    let out = kata_runtime(&["--config", &assets.config(), "check"]);
    let text = stdout(&out);
    let kvm_line = text
        .lines()
        .find(|l| l.contains(" kvm: "))
        .unwrap_or_else(|| panic!("no kvm line in:\n{text}"));
    let host = kata_hostinfo::Host::system();
    let has_flag = host.cpuinfo().ok().and_then(|c| c.virt_flag).is_some();
    if !has_flag {
        assert!(kvm_line.starts_with("[warn]"), "{kvm_line}");
        assert!(kvm_line.contains("TCG only"), "{kvm_line}");
        assert!(kvm_line.contains("no vmx/svm"), "{kvm_line}");
        // Said plainly, on a line of its own: TCG is a weaker boundary, not just slower.
        let isolation = text
            .lines()
            .find(|l| l.contains(" isolation: "))
            .unwrap_or_else(|| panic!("no isolation line in:\n{text}"));
        assert!(isolation.starts_with("[warn]"), "{isolation}");
        assert!(
            isolation.contains("software emulation (TCG): a weaker isolation boundary than KVM"),
            "{isolation}"
        );
    }
    for item in [
        "cpu",
        "vsock",
        "virtiofsd",
        "qemu",
        "kernel",
        "guest image",
        "memory",
    ] {
        assert!(
            text.lines().any(|l| l.contains(&format!(" {item}: "))),
            "no {item} line in:\n{text}"
        );
    }
    assert!(text.contains("QEMU 7.2.0"), "{text}");
    // Warnings alone (TCG only) keep the exit code at zero; a failure makes it non-zero.
    let failed = text.lines().any(|l| l.starts_with("[fail]"));
    assert_eq!(out.status.success(), !failed, "{text}");
}

#[test]
fn check_fails_without_qemu_or_kernel() {
    let assets = Assets::new();
    std::fs::remove_file(assets.dir.path().join("qemu-system-x86_64")).expect("rm");
    let out = kata_runtime(&["--config", &assets.config(), "check"]);
    assert!(!out.status.success());
    let all = format!("{}{}", stdout(&out), stderr(&out));
    assert!(all.contains("qemu-system-x86_64"), "{all}");
}

#[test]
fn broken_toml_is_one_clear_error_naming_the_file() {
    let broken = fixture("broken.toml");
    let out = kata_runtime(&["--config", &broken.display().to_string(), "kata-env"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("broken.toml"), "{err}");
    assert_eq!(err.matches("kata-runtime:").count(), 1, "{err}");
    assert!(stdout(&out).is_empty());
}

#[test]
fn missing_config_file_is_an_error_naming_it() {
    let out = kata_runtime(&["--config", "/nonexistent/kata.toml", "kata-env"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("/nonexistent/kata.toml"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn version_prints_version_commit_and_api() {
    let out = kata_runtime(&["version"]);
    assert!(out.status.success());
    let text = stdout(&out);
    assert!(text.contains(env!("CARGO_PKG_VERSION")), "{text}");
    assert!(text.contains("commit"), "{text}");
    assert!(text.contains("config API"), "{text}");
}

#[test]
fn factory_without_a_factory_says_so_and_without_a_server_cleans_up() {
    let assets = Assets::new();
    let out = kata_runtime(&["--config", &assets.config(), "factory", "status"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        stdout(&out).contains("vm factory is not enabled"),
        "{}",
        stdout(&out)
    );

    let endpoint = assets.dir.path().join("cache.sock");
    let text = std::fs::read_to_string(assets.config()).expect("config");
    let text = format!(
        "{text}\n[factory]\nvm_cache_number = 1\nvm_cache_endpoint = \"{}\"\n",
        endpoint.display()
    );
    std::fs::write(assets.config(), text).expect("config");
    let out = kata_runtime(&["--config", &assets.config(), "factory", "status"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("vm cache server is not running"),
        "{}",
        stdout(&out)
    );
    assert!(
        stdout(&out).contains(&endpoint.display().to_string()),
        "{}",
        stdout(&out)
    );

    // A stale socket (a killed server's) goes with destroy.
    let stale = std::os::unix::net::UnixListener::bind(&endpoint).expect("bind");
    drop(stale);
    let out = kata_runtime(&["--config", &assets.config(), "factory", "destroy"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("removed stale socket"),
        "{}",
        stdout(&out)
    );
    assert!(!endpoint.exists());
}
