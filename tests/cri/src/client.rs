//! The project's own CRI client: containerd's `RuntimeService` and `ImageService` (CRI v1) over a
//! Unix socket, with blocking calls so that tests and `Drop` guards can use it without a runtime
//! of their own. Every call has a deadline, so that a hung runtime fails a test instead of
//! stalling the suite.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use hyper_util::rt::TokioIo;
use k8s_cri::v1::image_service_client::ImageServiceClient;
use k8s_cri::v1::runtime_service_client::RuntimeServiceClient;
use k8s_cri::v1::{
    ContainerConfig, ContainerFilter, ContainerStats, ContainerStatsRequest, ContainerStatus,
    ContainerStatusRequest, CreateContainerRequest, ExecSyncRequest, ExecSyncResponse, Image,
    ImageSpec, ImageStatusRequest, ListContainersRequest, ListImagesRequest, ListPodSandboxRequest,
    PodSandbox, PodSandboxConfig, PodSandboxStats, PodSandboxStatsRequest, PodSandboxStatusRequest,
    PodSandboxStatusResponse, RemoveContainerRequest, RemovePodSandboxRequest,
    RunPodSandboxRequest, StartContainerRequest, StatusRequest, StatusResponse,
    StopContainerRequest, StopPodSandboxRequest, UpdateContainerResourcesRequest, VersionRequest,
    VersionResponse,
};
use tokio::net::UnixStream;
use tonic::transport::{Channel, Endpoint, Uri};

/// What went wrong talking to the CRI server.
#[derive(Debug, thiserror::Error)]
pub enum CriError {
    #[error("cannot start the CRI client's runtime")]
    Runtime(#[source] std::io::Error),
    #[error("CRI {call} failed: {status}")]
    Call {
        call: &'static str,
        status: Box<tonic::Status>,
    },
    #[error("CRI {call} did not answer within {timeout:?}")]
    Timeout {
        call: &'static str,
        timeout: Duration,
    },
    #[error("CRI {call} answered without {field}")]
    Missing {
        call: &'static str,
        field: &'static str,
    },
}

/// The deadline of a call that has no time limit of its own.
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(120);

/// A connection to a CRI server (containerd's CRI plugin).
pub struct CriClient {
    rt: tokio::runtime::Runtime,
    runtime: RuntimeServiceClient<Channel>,
    images: ImageServiceClient<Channel>,
}

impl CriClient {
    /// Dials the Unix socket `socket` (the connection is made lazily, on the first call).
    pub fn connect(socket: &Path) -> Result<Self, CriError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(CriError::Runtime)?;
        // The channel's worker is spawned on this runtime, which runs it during each call.
        let _entered = rt.enter();
        // The URI is not used: every connection goes to the socket.
        let endpoint = Endpoint::from_static("http://[::]:0");
        let dial: PathBuf = socket.to_path_buf();
        let channel = endpoint.connect_with_connector_lazy(tower::service_fn(move |_: Uri| {
            let path = dial.clone();
            async move { Ok::<_, std::io::Error>(TokioIo::new(UnixStream::connect(path).await?)) }
        }));
        Ok(Self {
            runtime: RuntimeServiceClient::new(channel.clone()),
            images: ImageServiceClient::new(channel),
            rt,
        })
    }

    fn call<T, F>(&self, call: &'static str, timeout: Duration, fut: F) -> Result<T, CriError>
    where
        F: Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    {
        self.rt.block_on(async {
            match tokio::time::timeout(timeout, fut).await {
                Ok(Ok(resp)) => Ok(resp.into_inner()),
                Ok(Err(status)) => Err(CriError::Call {
                    call,
                    status: Box::new(status),
                }),
                Err(_) => Err(CriError::Timeout { call, timeout }),
            }
        })
    }

    fn rs(&self) -> RuntimeServiceClient<Channel> {
        self.runtime.clone()
    }

    pub fn version(&self) -> Result<VersionResponse, CriError> {
        let mut c = self.rs();
        self.call("Version", Duration::from_secs(10), async move {
            c.version(VersionRequest::default()).await
        })
    }

    /// The runtime's conditions (`RuntimeReady`, `NetworkReady`).
    pub fn status(&self) -> Result<StatusResponse, CriError> {
        let mut c = self.rs();
        self.call("Status", Duration::from_secs(10), async move {
            c.status(StatusRequest { verbose: false }).await
        })
    }

    /// Runs a pod sandbox with `handler` (empty: the default runtime); returns its id.
    pub fn run_pod_sandbox(
        &self,
        config: &PodSandboxConfig,
        handler: &str,
    ) -> Result<String, CriError> {
        let mut c = self.rs();
        let req = RunPodSandboxRequest {
            config: Some(config.clone()),
            runtime_handler: handler.to_string(),
        };
        let resp = self.call("RunPodSandbox", DEFAULT_CALL_TIMEOUT, async move {
            c.run_pod_sandbox(req).await
        })?;
        Ok(resp.pod_sandbox_id)
    }

    pub fn pod_sandbox_status(&self, id: &str) -> Result<PodSandboxStatusResponse, CriError> {
        let mut c = self.rs();
        let req = PodSandboxStatusRequest {
            pod_sandbox_id: id.to_string(),
            verbose: true,
        };
        self.call("PodSandboxStatus", Duration::from_secs(30), async move {
            c.pod_sandbox_status(req).await
        })
    }

    pub fn stop_pod_sandbox(&self, id: &str) -> Result<(), CriError> {
        let mut c = self.rs();
        let req = StopPodSandboxRequest {
            pod_sandbox_id: id.to_string(),
        };
        self.call("StopPodSandbox", DEFAULT_CALL_TIMEOUT, async move {
            c.stop_pod_sandbox(req).await
        })
        .map(|_| ())
    }

    pub fn remove_pod_sandbox(&self, id: &str) -> Result<(), CriError> {
        let mut c = self.rs();
        let req = RemovePodSandboxRequest {
            pod_sandbox_id: id.to_string(),
        };
        self.call("RemovePodSandbox", DEFAULT_CALL_TIMEOUT, async move {
            c.remove_pod_sandbox(req).await
        })
        .map(|_| ())
    }

    pub fn list_pod_sandbox(&self) -> Result<Vec<PodSandbox>, CriError> {
        let mut c = self.rs();
        let resp = self.call("ListPodSandbox", Duration::from_secs(30), async move {
            c.list_pod_sandbox(ListPodSandboxRequest::default()).await
        })?;
        Ok(resp.items)
    }

    /// Creates a container in pod `pod_id` (whose config was `sandbox`); returns its id.
    pub fn create_container(
        &self,
        pod_id: &str,
        config: &ContainerConfig,
        sandbox: &PodSandboxConfig,
    ) -> Result<String, CriError> {
        let mut c = self.rs();
        let req = CreateContainerRequest {
            pod_sandbox_id: pod_id.to_string(),
            config: Some(config.clone()),
            sandbox_config: Some(sandbox.clone()),
        };
        let resp = self.call("CreateContainer", DEFAULT_CALL_TIMEOUT, async move {
            c.create_container(req).await
        })?;
        Ok(resp.container_id)
    }

    pub fn start_container(&self, id: &str) -> Result<(), CriError> {
        let mut c = self.rs();
        let req = StartContainerRequest {
            container_id: id.to_string(),
        };
        self.call("StartContainer", DEFAULT_CALL_TIMEOUT, async move {
            c.start_container(req).await
        })
        .map(|_| ())
    }

    /// Stops a container, killing it `grace_secs` after the stop signal.
    pub fn stop_container(&self, id: &str, grace_secs: i64) -> Result<(), CriError> {
        let mut c = self.rs();
        let req = StopContainerRequest {
            container_id: id.to_string(),
            timeout: grace_secs,
        };
        self.call("StopContainer", DEFAULT_CALL_TIMEOUT, async move {
            c.stop_container(req).await
        })
        .map(|_| ())
    }

    pub fn remove_container(&self, id: &str) -> Result<(), CriError> {
        let mut c = self.rs();
        let req = RemoveContainerRequest {
            container_id: id.to_string(),
        };
        self.call("RemoveContainer", DEFAULT_CALL_TIMEOUT, async move {
            c.remove_container(req).await
        })
        .map(|_| ())
    }

    pub fn container_status(&self, id: &str) -> Result<ContainerStatus, CriError> {
        let mut c = self.rs();
        let req = ContainerStatusRequest {
            container_id: id.to_string(),
            verbose: false,
        };
        let resp = self.call("ContainerStatus", Duration::from_secs(30), async move {
            c.container_status(req).await
        })?;
        resp.status.ok_or(CriError::Missing {
            call: "ContainerStatus",
            field: "status",
        })
    }

    /// The containers of pod `pod_id` (all pods: `None`).
    pub fn list_containers(
        &self,
        pod_id: Option<&str>,
    ) -> Result<Vec<k8s_cri::v1::Container>, CriError> {
        let mut c = self.rs();
        let req = ListContainersRequest {
            filter: pod_id.map(|p| ContainerFilter {
                pod_sandbox_id: p.to_string(),
                ..Default::default()
            }),
        };
        let resp = self.call("ListContainers", Duration::from_secs(30), async move {
            c.list_containers(req).await
        })?;
        Ok(resp.containers)
    }

    /// Runs `cmd` in container `id` and waits for it, at most `timeout_secs` (runtime side).
    pub fn exec_sync(
        &self,
        id: &str,
        cmd: &[&str],
        timeout_secs: i64,
    ) -> Result<ExecSyncResponse, CriError> {
        let mut c = self.rs();
        let req = ExecSyncRequest {
            container_id: id.to_string(),
            cmd: cmd.iter().map(|s| s.to_string()).collect(),
            timeout: timeout_secs,
        };
        let deadline = Duration::from_secs(timeout_secs.max(0) as u64 + 30);
        self.call("ExecSync", deadline, async move { c.exec_sync(req).await })
    }

    /// `UpdateContainerResources` (what kubelet sends to resize a running container): the
    /// container's Linux resources become `linux`.
    pub fn update_container_resources(
        &self,
        id: &str,
        linux: k8s_cri::v1::LinuxContainerResources,
    ) -> Result<(), CriError> {
        let mut c = self.rs();
        let req = UpdateContainerResourcesRequest {
            container_id: id.to_string(),
            linux: Some(linux),
            ..Default::default()
        };
        self.call(
            "UpdateContainerResources",
            Duration::from_secs(60),
            async move { c.update_container_resources(req).await },
        )
        .map(|_| ())
    }

    pub fn container_stats(&self, id: &str) -> Result<ContainerStats, CriError> {
        let mut c = self.rs();
        let req = ContainerStatsRequest {
            container_id: id.to_string(),
        };
        let resp = self.call("ContainerStats", Duration::from_secs(30), async move {
            c.container_stats(req).await
        })?;
        resp.stats.ok_or(CriError::Missing {
            call: "ContainerStats",
            field: "stats",
        })
    }

    pub fn pod_sandbox_stats(&self, id: &str) -> Result<PodSandboxStats, CriError> {
        let mut c = self.rs();
        let req = PodSandboxStatsRequest {
            pod_sandbox_id: id.to_string(),
        };
        let resp = self.call("PodSandboxStats", Duration::from_secs(30), async move {
            c.pod_sandbox_stats(req).await
        })?;
        resp.stats.ok_or(CriError::Missing {
            call: "PodSandboxStats",
            field: "stats",
        })
    }

    pub fn list_images(&self) -> Result<Vec<Image>, CriError> {
        let mut c = self.images.clone();
        let resp = self.call("ListImages", Duration::from_secs(30), async move {
            c.list_images(ListImagesRequest::default()).await
        })?;
        Ok(resp.images)
    }

    /// The image `name` as the CRI server knows it (`None`: not present).
    pub fn image_status(&self, name: &str) -> Result<Option<Image>, CriError> {
        let mut c = self.images.clone();
        let req = ImageStatusRequest {
            image: Some(ImageSpec {
                image: name.to_string(),
                ..Default::default()
            }),
            verbose: false,
        };
        let resp = self.call("ImageStatus", Duration::from_secs(30), async move {
            c.image_status(req).await
        })?;
        Ok(resp.image)
    }
}
