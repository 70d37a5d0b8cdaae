//! Per-pod metrics: `kata-runtime metrics <sandbox-id>` prints the shim's `/metrics` (shim,
//! hypervisor, agent and guest families) and `kata-monitor` serves every pod's with a
//! `sandbox_id` label; the management socket goes with the pod.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kata_e2e_tests::{assert_no_leftovers, PrivateContainerd};

const TEARDOWN: Duration = Duration::from_secs(20);
const POD: &str = "metrics1";
const FAMILIES: [&str; 4] = [
    "kata_hypervisor_",
    "kata_shim_",
    "kata_guest_",
    "kata_agent_",
];

fn bin(c: &PrivateContainerd, name: &str) -> Command {
    let mut cmd = Command::new(name);
    cmd.env("PATH", c.env_path());
    cmd
}

/// The text parsed twice: by `prometheus-parse` (an independent reader) and line by line by
/// the strict reader of `kata-shim-interface`.
fn parse(text: &str) -> prometheus_parse::Scrape {
    kata_shim_interface::prom::parse(text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let lines = text.lines().map(|l| Ok(l.to_owned()));
    prometheus_parse::Scrape::parse(lines).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

/// `GET path` on 127.0.0.1:`port` with HTTP/1.0; the status and the body.
fn http_get(port: u16, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to kata-monitor");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    write!(stream, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").expect("request");
    let mut raw = String::new();
    stream.read_to_string(&mut raw).expect("response");
    let (head, body) = raw.split_once("\r\n\r\n").expect("headers end");
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status");
    (status, body.to_owned())
}

/// A `kata-monitor` on a free port, killed on drop.
struct Monitor {
    child: Child,
    port: u16,
}

impl Monitor {
    fn start(c: &PrivateContainerd) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let child = bin(c, "kata-monitor")
            .args(["--listen-address", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null())
            .spawn()
            .expect("spawn kata-monitor (cargo build -p kata-monitor)");
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "kata-monitor does not listen");
            std::thread::sleep(Duration::from_millis(100));
        }
        Self { child, port }
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn pod_metrics_from_kata_runtime_and_kata_monitor() {
    assert_no_leftovers(TEARDOWN);
    let c = PrivateContainerd::start().unwrap_or_else(|e| panic!("{e:#}"));
    c.run_detached(POD, &[]);
    let socket = kata_shim_interface::socket_path(Path::new("/run/vc/sbs"), POD);
    assert!(
        socket.exists(),
        "no management socket at {}",
        socket.display()
    );

    // kata-runtime metrics: the four families of the pod.
    let out = bin(&c, "kata-runtime")
        .args(["metrics", POD])
        .output()
        .expect("kata-runtime metrics");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "kata-runtime metrics: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let scrape = parse(&text);
    for family in FAMILIES {
        assert!(
            scrape.samples.iter().any(|s| s.metric.starts_with(family)),
            "no {family}* series in:\n{text}"
        );
    }
    for series in [
        "kata_hypervisor_process_resident_memory_bytes",
        "kata_guest_meminfo",
        "kata_guest_cpu_time",
        "kata_agent_process_open_fds",
    ] {
        assert!(
            scrape.samples.iter().any(|s| s.metric == series),
            "no {series}"
        );
    }
    let out = bin(&c, "kata-runtime")
        .args(["metrics", "no-such-pod"])
        .output()
        .expect("kata-runtime metrics");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("no sandbox no-such-pod"),
        "unclear error for a missing sandbox: {stderr}"
    );

    // kata-monitor: the same families, each series labelled with the pod.
    let monitor = Monitor::start(&c);
    let (status, text) = http_get(monitor.port, "/metrics");
    assert_eq!(status, 200, "{text}");
    let scrape = parse(&text);
    for family in FAMILIES {
        assert!(
            scrape
                .samples
                .iter()
                .any(|s| s.metric.starts_with(family) && s.labels.get("sandbox_id") == Some(POD)),
            "no {family}* series with sandbox_id=\"{POD}\" in:\n{text}"
        );
    }
    let unlabelled: Vec<_> = scrape
        .samples
        .iter()
        .filter(|s| !s.metric.starts_with("kata_monitor_") && s.labels.get("sandbox_id").is_none())
        .map(|s| s.metric.clone())
        .collect();
    assert!(
        unlabelled.is_empty(),
        "series without sandbox_id: {unlabelled:?}"
    );
    assert!(scrape
        .samples
        .iter()
        .any(|s| s.metric == "kata_monitor_running_shim_count"));
    let (status, listed) = http_get(monitor.port, "/sandboxes");
    assert_eq!(status, 200);
    assert!(
        listed.lines().any(|l| l == POD),
        "{POD} not in /sandboxes: {listed:?}"
    );

    // Removed with the pod.
    c.remove(POD);
    drop(c);
    assert!(!socket.exists(), "{} left behind", socket.display());
    let (_, listed) = http_get(monitor.port, "/sandboxes");
    assert!(
        !listed.lines().any(|l| l == POD),
        "{POD} still listed: {listed:?}"
    );
    drop(monitor);
    assert_no_leftovers(TEARDOWN);
}
