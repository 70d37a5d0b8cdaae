//! [`CacheServer`]: the VMCache pool and its gRPC service.
//!
//! One filler task keeps `number` VMs booted (one boot at a time: on a small host parallel
//! boots only slow each other); `GetBaseVM` takes the oldest, wakes the filler and returns the
//! VM's serialisable form, waiting for one when the pool is empty (as Kata's cache does).
//! Handed-out VMs stay the server's children; it reaps them when they end. `Quit` stops the
//! filler and every cached VM, then the server returns from [`CacheServer::serve`]. The caller
//! must then end the process without dropping handed-out VMs' handles (they would kill those
//! VMs): `kata-runtime factory init` exits right away.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{watch, Notify};
use tokio_stream::wrappers::UnixListenerStream;
use tonic::{Request, Response, Status};

use crate::error::FactoryError;
use crate::pb::cache_service_server::{CacheService, CacheServiceServer};
use crate::pb::{GrpcStatus, GrpcVm, GrpcVmConfig, GrpcVmStatus};
use crate::{BaseVm, VmBooter};

/// How long `GetBaseVM` waits for a VM when the pool is empty.
pub const GET_WAIT: Duration = Duration::from_secs(60);
/// How long `serve` waits, when it ends, for a boot under way.
const BOOT_WAIT: Duration = Duration::from_secs(120);
/// Pause after a failed boot before the next try, doubled up to [`RETRY_MAX`].
const RETRY_FIRST: Duration = Duration::from_secs(1);
const RETRY_MAX: Duration = Duration::from_secs(30);

struct Pool {
    ready: Mutex<VecDeque<Box<dyn BaseVm>>>,
    /// Wakes the filler (a VM was taken or died) and waiters (a VM is ready).
    changed: Notify,
    ready_changed: Notify,
    quit: watch::Sender<bool>,
}

impl Pool {
    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Box<dyn BaseVm>>> {
        self.ready.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Drops cached VMs that died; returns how many are alive.
    fn prune(&self) -> usize {
        let mut ready = self.lock();
        let before = ready.len();
        ready.retain(|vm| vm.is_alive());
        if ready.len() != before {
            tracing::warn!(
                died = before - ready.len(),
                "cached VMs died and were dropped"
            );
        }
        ready.len()
    }

    fn quitting(&self) -> bool {
        *self.quit.borrow()
    }
}

/// The VMCache server: a pool of `number` VMs from `booter`, served on `endpoint`.
pub struct CacheServer {
    endpoint: PathBuf,
    number: usize,
    config: GrpcVmConfig,
    booter: Arc<dyn VmBooter>,
    pool: Arc<Pool>,
}

impl CacheServer {
    /// A server for `number` VMs. `config` is what `Config` answers: the configuration the VMs
    /// were booted from (clients compare it with theirs before taking VMs).
    pub fn new(
        endpoint: impl Into<PathBuf>,
        number: u32,
        config: GrpcVmConfig,
        booter: Arc<dyn VmBooter>,
    ) -> Self {
        let (quit, _) = watch::channel(false);
        Self {
            endpoint: endpoint.into(),
            number: number as usize,
            config,
            booter,
            pool: Arc::new(Pool {
                ready: Mutex::new(VecDeque::new()),
                changed: Notify::new(),
                ready_changed: Notify::new(),
                quit,
            }),
        }
    }

    /// The endpoint served.
    pub fn endpoint(&self) -> &Path {
        &self.endpoint
    }

    /// Binds the endpoint (owner-only; [`FactoryError::InUse`] when a server answers there) and
    /// serves at once (`Status` answers, `GetBaseVM` waits) while the first VM boots; a first
    /// boot that fails ends the server with its error (a configuration that cannot boot). Then
    /// serves until `Quit` or `shutdown` resolves. On return every cached VM is stopped and the
    /// socket removed.
    pub async fn serve(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send,
    ) -> Result<(), FactoryError> {
        let listener = crate::socket::bind(&self.endpoint).await?;
        tracing::info!(endpoint = %self.endpoint.display(), number = self.number, "VMCache server serving");
        let (first_tx, first_rx) = tokio::sync::oneshot::channel();
        let filler = tokio::spawn(fill(
            Arc::clone(&self.booter),
            Arc::clone(&self.pool),
            self.number,
            first_tx,
        ));
        let first_failed = async move {
            match first_rx.await {
                Ok(Err(e)) => Some(e),
                // Booted, or the filler ended first (quit): nothing to report.
                _ => std::future::pending().await,
            }
        };
        let first_error = Arc::new(Mutex::new(None::<String>));
        let record_first = Arc::clone(&first_error);
        let service = Service {
            pool: Arc::clone(&self.pool),
            config: self.config.clone(),
        };
        let mut quit_rx = self.pool.quit.subscribe();
        let stop = async move {
            tokio::select! {
                _ = shutdown => {}
                _ = quit_rx.wait_for(|q| *q) => {}
                e = first_failed => {
                    *record_first.lock().unwrap_or_else(|p| p.into_inner()) = e;
                }
            }
        };
        let served = tonic::transport::Server::builder()
            .add_service(CacheServiceServer::new(service))
            .serve_with_incoming_shutdown(UnixListenerStream::new(listener), stop)
            .await;
        let _ = self.pool.quit.send(true);
        self.pool.changed.notify_one();
        // A boot under way finishes and its VM is stopped (dropping it half-booted would leave
        // its processes to a process that exits without reaping them).
        let mut filler = filler;
        if tokio::time::timeout(BOOT_WAIT, &mut filler).await.is_err() {
            tracing::warn!(
                "a VM boot did not end within {} s: abandoned",
                BOOT_WAIT.as_secs()
            );
            filler.abort();
        }
        stop_all(&self.pool).await;
        let _ = std::fs::remove_file(&self.endpoint);
        tracing::info!(endpoint = %self.endpoint.display(), "VMCache server stopped");
        let first = first_error.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(e) = first {
            return Err(FactoryError::Serve {
                endpoint: self.endpoint.clone(),
                message: format!("booting the first VM: {e}"),
            });
        }
        served.map_err(|e| FactoryError::Serve {
            endpoint: self.endpoint.clone(),
            message: e.to_string(),
        })
    }
}

async fn stop_all(pool: &Pool) {
    let vms: Vec<_> = pool.lock().drain(..).collect();
    for vm in vms {
        vm.stop().await;
    }
}

/// Keeps `number` VMs in the pool.
async fn fill(
    booter: Arc<dyn VmBooter>,
    pool: Arc<Pool>,
    number: usize,
    first: tokio::sync::oneshot::Sender<Result<(), String>>,
) {
    // The first boot says whether the configuration boots at all.
    match booter.boot().await {
        Ok(vm) => {
            tracing::info!(pid = vm.pid(), "VM cached");
            pool.lock().push_back(vm);
            pool.ready_changed.notify_waiters();
            let _ = first.send(Ok(()));
        }
        Err(e) => {
            let _ = first.send(Err(e.to_string()));
            return;
        }
    }
    let mut retry = RETRY_FIRST;
    loop {
        // Registered before looking, so a change in between is not missed.
        let changed = pool.changed.notified();
        if pool.quitting() {
            return;
        }
        if pool.prune() >= number {
            changed.await;
            continue;
        }
        match booter.boot().await {
            Ok(vm) => {
                retry = RETRY_FIRST;
                if pool.quitting() {
                    vm.stop().await;
                    return;
                }
                tracing::info!(pid = vm.pid(), "VM cached");
                pool.lock().push_back(vm);
                pool.ready_changed.notify_waiters();
            }
            Err(e) => {
                tracing::warn!(error = %e, retry_s = retry.as_secs(), "booting a VM for the cache failed");
                let mut quit = pool.quit.subscribe();
                tokio::select! {
                    _ = tokio::time::sleep(retry) => {}
                    _ = quit.wait_for(|q| *q) => return,
                }
                retry = (retry * 2).min(RETRY_MAX);
            }
        }
    }
}

struct Service {
    pool: Arc<Pool>,
    config: GrpcVmConfig,
}

impl Service {
    async fn take(&self) -> Result<Box<dyn BaseVm>, Status> {
        let deadline = tokio::time::Instant::now() + GET_WAIT;
        loop {
            let ready = self.pool.ready_changed.notified();
            self.pool.prune();
            let taken = self.pool.lock().pop_front();
            if let Some(vm) = taken {
                self.pool.changed.notify_one();
                return Ok(vm);
            }
            if self.pool.quitting() {
                return Err(Status::unavailable("the VMCache server is quitting"));
            }
            if tokio::time::timeout_at(deadline, ready).await.is_err() {
                return Err(Status::unavailable(format!(
                    "no cached VM became ready within {} s",
                    GET_WAIT.as_secs()
                )));
            }
        }
    }
}

#[tonic::async_trait]
impl CacheService for Service {
    async fn config(&self, _: Request<()>) -> Result<Response<GrpcVmConfig>, Status> {
        Ok(Response::new(self.config.clone()))
    }

    async fn get_base_vm(&self, _: Request<()>) -> Result<Response<GrpcVm>, Status> {
        let vm = self.take().await?;
        let grpc = vm.grpc();
        tracing::info!(vm = %grpc.id, pid = vm.pid(), "VM handed out");
        let handed = vm.hand_over().await;
        // Reaped here when it ends; never dropped while it runs (that would kill it).
        tokio::spawn(async move {
            handed.ended().await;
            drop(handed);
        });
        Ok(Response::new(grpc))
    }

    async fn status(&self, _: Request<()>) -> Result<Response<GrpcStatus>, Status> {
        self.pool.prune();
        let vmstatus = self
            .pool
            .lock()
            .iter()
            .map(|vm| {
                let g = vm.grpc();
                GrpcVmStatus {
                    pid: i64::from(vm.pid()),
                    cpu: g.cpu,
                    memory: g.memory,
                }
            })
            .collect();
        Ok(Response::new(GrpcStatus {
            pid: i64::from(std::process::id()),
            vmstatus,
        }))
    }

    async fn quit(&self, _: Request<()>) -> Result<Response<()>, Status> {
        tracing::info!("VMCache server asked to quit");
        let _ = self.pool.quit.send(true);
        self.pool.changed.notify_one();
        self.pool.ready_changed.notify_waiters();
        Ok(Response::new(()))
    }
}
