use std::os::unix::fs::PermissionsExt;
use std::sync::Mutex;

use async_trait::async_trait;
use kata_sandbox::GuestChannel;
use kata_shim_interface::{prom, ShimClient};

use super::routes::{SandboxView, Snapshot, DEBUG_CONSOLE_DISABLED};
use super::Server;

struct Fake {
    snapshot: Snapshot,
    agent: Mutex<Result<String, String>>,
    /// The agent never answers (a frozen guest).
    hang: bool,
}

#[async_trait]
impl SandboxView for Fake {
    async fn snapshot(&self) -> Result<Snapshot, String> {
        Ok(self.snapshot.clone())
    }
    async fn agent_metrics(&self) -> Result<String, String> {
        if self.hang {
            std::future::pending::<()>().await;
        }
        self.agent.lock().map_err(|e| e.to_string())?.clone()
    }
}

const GUEST: &str = "# HELP kata_guest_load Guest system load.\n# TYPE kata_guest_load gauge\n\
kata_guest_load{item=\"load1\"} 0.5\n# TYPE kata_hypervisor_fake gauge\nkata_hypervisor_fake 1\n";

fn fake(vport: Option<u32>, agent: Result<String, String>) -> Fake {
    Fake {
        snapshot: Snapshot {
            // This test process stands for the hypervisor.
            hypervisor_pid: Some(std::process::id()),
            channel: Some(GuestChannel {
                agent_url: "hvsock:///run/vc/vm/sb/kata.hvsock:1024".into(),
                debug_console_vport: vport,
            }),
        },
        agent: Mutex::new(agent),
        hang: false,
    }
}

fn serve(root: &std::path::Path, view: Fake) -> Server {
    let path = kata_shim_interface::socket_path(root, "sb");
    std::fs::create_dir_all(path.parent().expect("parent")).expect("dir");
    Server::spawn("sb", view, path).expect("spawn")
}

#[tokio::test]
async fn the_endpoints_answer_as_kata_and_the_socket_goes_with_the_server() {
    let root = tempfile::tempdir().expect("tempdir");
    let server = serve(root.path(), fake(Some(1026), Ok(GUEST.into())));
    let path = server.path.clone();
    let mode = std::fs::metadata(&path)
        .expect("socket")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    let client = ShimClient::new(root.path(), "sb").expect("client");
    assert_eq!(
        client.get_text("/agent-url").await.expect("agent-url"),
        "hvsock:///run/vc/vm/sb/kata.hvsock:1024"
    );
    assert_eq!(
        client.get_text("/debug-console").await.expect("console"),
        "1026"
    );
    assert_eq!(client.get("/nothing").await.expect("get").status, 404);

    let text = client.get_text("/metrics").await.expect("metrics");
    let families = prom::parse(&text).expect("valid prometheus text");
    let has = |name: &str| families.iter().any(|f| f.name == name);
    assert!(has("kata_shim_process_open_fds"), "{text}");
    assert!(has("kata_shim_scrape_count"), "{text}");
    assert!(
        has("kata_hypervisor_process_resident_memory_bytes"),
        "{text}"
    );
    assert!(has("kata_guest_load"), "{text}");
    assert!(
        !has("kata_hypervisor_fake"),
        "a guest passed for the host:\n{text}"
    );

    server.stop();
    assert!(!path.exists(), "socket left behind");
}

#[tokio::test]
async fn a_disabled_console_and_a_silent_agent_are_reported() {
    let root = tempfile::tempdir().expect("tempdir");
    let server = serve(root.path(), fake(None, Err("agent gone".into())));
    let client = ShimClient::new(root.path(), "sb").expect("client");
    let r = client.get("/debug-console").await.expect("get");
    assert_eq!((r.status, r.body.as_str()), (404, DEBUG_CONSOLE_DISABLED));
    // The host side is still served.
    let text = client.get_text("/metrics").await.expect("metrics");
    let families = prom::parse(&text).expect("valid");
    assert!(families
        .iter()
        .any(|f| f.name.starts_with("kata_hypervisor_")));
    assert!(!families.iter().any(|f| f.name.starts_with("kata_guest_")));
    server.stop();
}

#[tokio::test]
async fn malformed_agent_text_is_left_out() {
    let root = tempfile::tempdir().expect("tempdir");
    let server = serve(
        root.path(),
        fake(None, Ok("kata_guest_load{ broken\n".into())),
    );
    let client = ShimClient::new(root.path(), "sb").expect("client");
    let text = client.get_text("/metrics").await.expect("metrics");
    let families = prom::parse(&text).expect("still valid");
    assert!(families.iter().any(|f| f.name.starts_with("kata_shim_")));
    assert!(!text.contains("broken"));
    server.stop();
}

#[tokio::test]
async fn a_replaced_socket_is_not_removed() {
    let root = tempfile::tempdir().expect("tempdir");
    let server = serve(root.path(), fake(None, Err("x".into())));
    let path = server.path.clone();
    std::fs::remove_file(&path).expect("unlink");
    let other = std::os::unix::net::UnixListener::bind(&path).expect("another shim's socket");
    server.stop();
    assert!(path.exists(), "removed a socket it did not bind");
    drop(other);
}

#[tokio::test]
async fn a_frozen_guest_leaves_the_host_families_served() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut view = fake(None, Ok(GUEST.into()));
    view.hang = true;
    let server = serve(dir.path(), view);
    let client = ShimClient::new(dir.path(), "sb").expect("client");
    let started = std::time::Instant::now();
    let text = client.get_text("/metrics").await.expect("metrics");
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    assert!(text.contains("kata_hypervisor_process_"), "{text}");
    assert!(!text.contains("kata_guest_load"), "{text}");
    server.stop();
}
