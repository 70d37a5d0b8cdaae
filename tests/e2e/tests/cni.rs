//! `ctr run --cni` with a real CNI configuration (Debian's `containernetworking-plugins`: bridge
//! and host-local): ctr creates the task, runs CNI on the namespace of the task's pid (QEMU's, for
//! kata-rs) and starts it. The container's first instructions print its subnet and fetch a page
//! from a server on the bridge (no waiting: the interface must be there at start, as with runc);
//! on exit ctr runs CNI DEL. runc is the oracle; nothing of the
//! pod is left after either.
//!
//! ctr 1.6 reads CNI from the fixed paths `/etc/cni/net.d` and `/opt/cni/bin`: the test puts its
//! network there and removes what it made.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use kata_e2e_tests::{assert_no_leftovers, PrivateContainerd, IMAGE};

const TEARDOWN: Duration = Duration::from_secs(20);
const CONF_DIR: &str = "/etc/cni/net.d";
const BIN_DIR: &str = "/opt/cni/bin";
const DEBIAN_PLUGINS: &str = "/usr/lib/cni";
const NETWORK: &str = "kata-e2e-cni";
const BRIDGE: &str = "katae2e0";
const GATEWAY: &str = "10.207.0.1";

/// The CNI paths ctr reads, made for the test; dropping it removes what it made.
struct CniSetup {
    made: Vec<PathBuf>,
    ipam: PathBuf,
}

impl CniSetup {
    fn new() -> Self {
        let mut made = Vec::new();
        for dir in [CONF_DIR, BIN_DIR] {
            let mut missing = Vec::new();
            let mut p = Path::new(dir);
            while !p.exists() {
                missing.push(p.to_path_buf());
                p = p.parent().expect("parent");
            }
            std::fs::create_dir_all(dir).expect("cni dir");
            made.extend(missing.into_iter().rev());
        }
        for plugin in ["bridge", "host-local", "loopback"] {
            let link = Path::new(BIN_DIR).join(plugin);
            if !link.exists() {
                std::os::unix::fs::symlink(Path::new(DEBIAN_PLUGINS).join(plugin), &link)
                    .expect("plugin link");
                made.push(link);
            }
        }
        let ipam = PathBuf::from(format!("/tmp/{NETWORK}-ipam"));
        let _ = std::fs::remove_dir_all(&ipam);
        let conf = Path::new(CONF_DIR).join(format!("05-{NETWORK}.conflist"));
        let text = format!(
            r#"{{
  "cniVersion": "0.4.0",
  "name": "{NETWORK}",
  "plugins": [
    {{
      "type": "bridge",
      "bridge": "{BRIDGE}",
      "isGateway": true,
      "ipMasq": false,
      "ipam": {{
        "type": "host-local",
        "ranges": [[{{ "subnet": "10.207.0.0/24", "gateway": "{GATEWAY}" }}]],
        "routes": [{{ "dst": "0.0.0.0/0" }}],
        "dataDir": "{ipam}"
      }}
    }}
  ]
}}
"#,
            ipam = ipam.display()
        );
        std::fs::write(&conf, text).expect("conflist");
        made.push(conf);
        // The gateway address exists before the first pod, so the host server can bind it.
        run_quiet(&["ip", "link", "del", BRIDGE]);
        run(&["ip", "link", "add", BRIDGE, "type", "bridge"]);
        run(&["ip", "addr", "add", &format!("{GATEWAY}/24"), "dev", BRIDGE]);
        run(&["ip", "link", "set", BRIDGE, "up"]);
        CniSetup { made, ipam }
    }
}

impl Drop for CniSetup {
    fn drop(&mut self) {
        run_quiet(&["ip", "link", "del", BRIDGE]);
        let _ = std::fs::remove_dir_all(&self.ipam);
        for p in self.made.iter().rev() {
            let _ = if p.is_dir() {
                std::fs::remove_dir(p)
            } else {
                std::fs::remove_file(p)
            };
        }
    }
}

fn run(args: &[&str]) {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .expect("spawn");
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn run_quiet(args: &[&str]) {
    let _ = Command::new(args[0])
        .args(&args[1..])
        .stderr(std::process::Stdio::null())
        .status();
}

/// Serves `reply` to every connection on `GATEWAY:port` until `stop` connects.
fn serve(port: u16, reply: &'static str) -> std::thread::JoinHandle<()> {
    let listener = TcpListener::bind((GATEWAY, port)).expect("bind on the bridge");
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let mut buf = [0u8; 512];
            let n = conn.read(&mut buf).unwrap_or(0);
            if buf[..n].starts_with(b"STOP") {
                return;
            }
            let _ = write!(
                conn,
                "HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n{reply}\n",
                reply.len() + 1
            );
        }
    })
}

fn stop(port: u16) {
    if let Ok(mut s) = std::net::TcpStream::connect((GATEWAY, port)) {
        let _ = s.write_all(b"STOP");
    }
}

/// What a container run with `ctr run --rm --cni` through `runtime` prints: its subnet, the page
/// fetched from the bridge, and ctr's exit code.
fn observe(c: &PrivateContainerd, runtime: &str, id: &str, port: u16) -> String {
    // No waiting: with runc the interface is there from the first instruction (ctr runs CNI
    // between task create and start), and so it must be with kata-rs.
    let script = format!(
        "ip -4 -o addr show eth0 | awk '{{print $4}}' | cut -d. -f1-3; \
         printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc {GATEWAY} {port} | tail -n 1"
    );
    let out = c
        .ctr(
            &[
                "run",
                "--rm",
                "--cni",
                "--runtime",
                runtime,
                IMAGE,
                id,
                "sh",
                "-c",
                &script,
            ],
            None,
            180,
        )
        .expect("ctr run --cni");
    format!(
        "{}exit {:?}{}",
        out.stdout_text(),
        out.code,
        if out.stderr.trim().is_empty() {
            String::new()
        } else {
            format!("; stderr: {}", out.stderr.trim())
        }
    )
}

/// Host-local's leases of the network (what CNI DEL releases).
fn leases(ipam: &Path) -> Vec<String> {
    std::fs::read_dir(ipam.join(NETWORK))
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with("10."))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn ctr_run_cni_gives_the_pod_an_address_and_the_bridge_as_with_runc() {
    assert_no_leftovers(TEARDOWN);
    let cni = CniSetup::new();
    let c = PrivateContainerd::start().unwrap_or_else(|e| panic!("{e:#}"));
    let port = 18082;
    let server = serve(port, "hello-from-bridge");
    let runc = observe(&c, "io.containerd.runc.v2", "cnir", port);
    let runc_leases = leases(&cni.ipam);
    let kata = observe(&c, kata_e2e_tests::RUNTIME, "cnik", port);
    let kata_leases = leases(&cni.ipam);
    stop(port);
    let _ = server.join();
    assert_eq!(
        runc.lines().next(),
        Some("10.207.0"),
        "runc is not a working oracle: {runc}"
    );
    assert!(
        runc.contains("hello-from-bridge"),
        "runc is not a working oracle: {runc}"
    );
    assert_eq!(kata, runc, "kata-rs differs from runc under ctr run --cni");
    assert!(runc_leases.is_empty(), "runc left leases: {runc_leases:?}");
    assert!(kata_leases.is_empty(), "kata left leases: {kata_leases:?}");
    drop(c);
    drop(cni);
    assert_no_leftovers(TEARDOWN);
}
