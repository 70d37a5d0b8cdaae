//! The VMCache service over a real Unix socket, with a test double for the VMs (the real ones are
//! QEMU VMs, booted by kata-sandbox; tests/e2e/tests/factory.rs runs those).

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use kata_factory::client::CacheClient;
use kata_factory::server::CacheServer;
use kata_factory::{BaseVm, BoxError, GrpcVm, GrpcVmConfig, HandedOver, VmBooter};

#[derive(Default)]
struct Counts {
    booted: AtomicU32,
    stopped: AtomicU32,
    handed: AtomicU32,
}

struct Booter(Arc<Counts>);
struct Vm(u32, Arc<Counts>);
struct Handed;

#[async_trait]
impl VmBooter for Booter {
    async fn boot(&self) -> Result<Box<dyn BaseVm>, BoxError> {
        let n = self.0.booted.fetch_add(1, Ordering::SeqCst) + 1;
        Ok(Box::new(Vm(1000 + n, Arc::clone(&self.0))))
    }
}

#[async_trait]
impl BaseVm for Vm {
    fn grpc(&self) -> GrpcVm {
        GrpcVm {
            id: format!("vm{}", self.0),
            hypervisor: b"{}".to_vec(),
            cpu: 1,
            memory: 512,
            ..Default::default()
        }
    }
    fn pid(&self) -> u32 {
        self.0
    }
    fn is_alive(&self) -> bool {
        true
    }
    async fn hand_over(self: Box<Self>) -> Box<dyn HandedOver> {
        self.1.handed.fetch_add(1, Ordering::SeqCst);
        Box::new(Handed)
    }
    async fn stop(self: Box<Self>) {
        self.1.stopped.fetch_add(1, Ordering::SeqCst);
    }
}

#[async_trait]
impl HandedOver for Handed {
    async fn ended(&self) {}
}

async fn wait_for(what: &str, mut ok: impl FnMut() -> bool) {
    for _ in 0..200 {
        if ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{what} never happened");
}

#[tokio::test]
async fn keeps_the_pool_full_hands_out_reports_and_quits() {
    let dir = tempfile::tempdir().expect("tempdir");
    let endpoint = dir.path().join("cache.sock");
    let counts = Arc::new(Counts::default());
    let config = GrpcVmConfig {
        data: b"{\"memory\":512}".to_vec(),
        agent_config: Vec::new(),
    };
    let server = CacheServer::new(
        &endpoint,
        2,
        config.clone(),
        Arc::new(Booter(Arc::clone(&counts))),
    );
    let served = tokio::spawn(server.serve(std::future::pending()));
    wait_for("the endpoint", || endpoint.exists()).await;
    let mut client = CacheClient::connect(&endpoint, Duration::from_secs(5))
        .await
        .expect("connect");
    assert_eq!(client.config().await.expect("Config"), config);
    wait_for("two cached VMs", || {
        counts.booted.load(Ordering::SeqCst) >= 2
    })
    .await;
    let status = client.status().await.expect("Status");
    assert_eq!(status.pid, i64::from(std::process::id()));
    assert_eq!(status.vmstatus.len(), 2);

    let vm = client.get_base_vm().await.expect("GetBaseVM");
    assert_eq!(vm.id, "vm1001", "the oldest VM first");
    assert_eq!(counts.handed.load(Ordering::SeqCst), 1);
    // Refilled behind the taken one.
    wait_for("a refill", || counts.booted.load(Ordering::SeqCst) == 3).await;

    client.quit().await.expect("Quit");
    tokio::time::timeout(Duration::from_secs(10), served)
        .await
        .expect("the server returns after Quit")
        .expect("join")
        .expect("served");
    assert_eq!(
        counts.stopped.load(Ordering::SeqCst),
        2,
        "every cached VM stopped"
    );
    assert!(!endpoint.exists(), "socket removed");
    let err = match CacheClient::connect(&endpoint, Duration::from_secs(1)).await {
        Err(e) => e.to_string(),
        Ok(_) => panic!("connected to a server that quit"),
    };
    assert!(err.contains("no VMCache server answers on"), "{err}");
}

struct Broken;

#[async_trait]
impl VmBooter for Broken {
    async fn boot(&self) -> Result<Box<dyn BaseVm>, BoxError> {
        Err("kernel /nope is missing".into())
    }
}

#[tokio::test]
async fn a_configuration_that_cannot_boot_ends_the_server_with_its_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let endpoint = dir.path().join("cache.sock");
    let server = CacheServer::new(&endpoint, 1, GrpcVmConfig::default(), Arc::new(Broken));
    let err = tokio::time::timeout(
        Duration::from_secs(10),
        server.serve(std::future::pending()),
    )
    .await
    .expect("the server returns")
    .expect_err("the first boot fails");
    assert!(
        err.to_string()
            .contains("booting the first VM: kernel /nope is missing"),
        "{err}"
    );
    assert!(!endpoint.exists(), "socket removed");
}
