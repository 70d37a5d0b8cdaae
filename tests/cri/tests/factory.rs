//! A Kubernetes pod (CRI, CNI bridge network) started as a clone of the VM template: its NIC is
//! hot-plugged after the restore, and it serves the host at its CNI address as a booted pod does.

use std::net::{IpAddr, SocketAddr};
use std::process::Command;
use std::time::Duration;

use kata_cri_tests::{container_config, http_get_retry, CriHarness, KATA};
use kata_e2e_tests::set_config_key;

const PORT: u16 = 8080;

/// The harness's kata configuration with `enable_template` (and the 9p share it needs) on.
fn enable_template(h: &CriHarness) -> std::path::PathBuf {
    let config = h.dir().join("configuration.toml");
    let template = h.dir().join("template");
    let text = std::fs::read_to_string(&config).expect("kata configuration");
    let text = set_config_key(&text, "hypervisor.qemu", "shared_fs", "\"virtio-9p\"");
    let text = set_config_key(&text, "factory", "enable_template", "true");
    let text = set_config_key(
        &text,
        "factory",
        "template_path",
        &format!("\"{}\"", template.display()),
    );
    std::fs::write(&config, text).expect("kata configuration");
    config
}

fn kata_runtime(config: &std::path::Path, action: &str) -> String {
    let bin = kata_e2e_tests::repo_root().join("target/debug/kata-runtime");
    let out = Command::new(bin)
        .arg("--config")
        .arg(config)
        .args(["factory", action])
        .output()
        .expect("kata-runtime factory");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "factory {action}: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

#[test]
fn a_cri_pod_cloned_from_the_template_serves_the_host() {
    let h = CriHarness::start_clean();
    let config = enable_template(&h);
    assert!(kata_runtime(&config, "init").contains("vm factory initialized"));

    let pod = h.run_pod("tplweb", KATA).expect("RunPodSandbox");
    let cmd = [
        "sh",
        "-c",
        "mkdir -p /www && echo hello-from-a-clone > /www/index.html && exec httpd -f -p 8080 -h /www",
    ];
    h.start_container(&pod, &container_config("web", &cmd, vec![]))
        .expect("web server running");
    assert!(
        h.log()
            .lines()
            .any(|l| l.contains("vm boot timeline") && l.contains("source=\"template\"")),
        "the pod was not cloned from the template"
    );
    let ip = h.pod_ip(&pod);
    let (code, body) = http_get_retry(
        SocketAddr::new(IpAddr::V4(ip), PORT),
        "/",
        Duration::from_secs(20),
    )
    .unwrap_or_else(|e| {
        panic!("the clone's server at {ip}:{PORT} does not answer the host: {e:#}")
    });
    assert_eq!((code, body.as_str()), (200, "hello-from-a-clone\n"));
    h.remove_pod(&pod).expect("remove the pod");
    assert!(kata_runtime(&config, "destroy").contains("vm factory destroyed"));
    h.finish();
}
