//! The generated code speaks Kata's wire format: messages round-trip and the
//! services answer on Kata's method paths.

use std::sync::Arc;

use kata_protocols::agent::{CreateContainerRequest, Storage};
use kata_protocols::agent_ttrpc::{create_agent_service, AgentService, AgentServiceClient};
use kata_protocols::health::{
    health_check_response::ServingStatus, CheckRequest, HealthCheckResponse,
};
use kata_protocols::health_ttrpc::{create_health, Health};
use kata_protocols::oci::{Linux, LinuxNamespace, Process, Root, Spec};
use kata_protocols::protobuf::Message;
use kata_protocols::ttrpc;

fn sample_request() -> CreateContainerRequest {
    let mut process = Process::new();
    process.Args = vec!["/bin/sh".into(), "-c".into(), "echo hi".into()];
    process.Env = vec!["PATH=/bin".into()];
    process.Cwd = "/".into();
    process.Terminal = true;

    let mut root = Root::new();
    root.Path = "/run/kata-containers/c1/rootfs".into();

    let mut ns = LinuxNamespace::new();
    ns.Type = "pid".into();
    let mut linux = Linux::new();
    linux.Namespaces.push(ns);
    linux
        .Sysctl
        .insert("net.ipv4.ip_forward".into(), "1".into());

    let mut spec = Spec::new();
    spec.Version = "1.0.2".into();
    spec.Hostname = "pod".into();
    spec.Process = Some(process).into();
    spec.Root = Some(root).into();
    spec.Linux = Some(linux).into();
    spec.Annotations.insert(
        "io.katacontainers.pkg.oci.container_type".into(),
        "pod_container".into(),
    );

    let mut storage = Storage::new();
    storage.driver = "virtio-fs".into();
    storage.source = "kataShared".into();
    storage.mount_point = "/run/kata-containers/shared/containers".into();

    let mut req = CreateContainerRequest::new();
    req.container_id = "c1".into();
    req.exec_id = "c1".into();
    req.storages.push(storage);
    req.OCI = Some(spec).into();
    req.sandbox_pidns = true;
    req.stdout_port = 1025;
    req
}

#[test]
fn create_container_request_round_trips() {
    let req = sample_request();
    let bytes = req.write_to_bytes().expect("encode");
    let back = CreateContainerRequest::parse_from_bytes(&bytes).expect("decode");
    assert_eq!(back, req);
    let spec = back.OCI.as_ref().expect("spec present");
    assert_eq!(spec.Process.Args, ["/bin/sh", "-c", "echo hi"]);
    assert_eq!(spec.Linux.Namespaces[0].Type, "pid");
    assert_eq!(back.stdout_port, 1025);
}

#[test]
fn field_numbers_match_kata() {
    // container_id = 1 (tag 0x0a), OCI = 6 (tag 0x32), sandbox_pidns = 7 (tag 0x38).
    let mut req = CreateContainerRequest::new();
    req.container_id = "a".into();
    assert_eq!(req.write_to_bytes().expect("encode"), [0x0a, 0x01, b'a']);

    let mut req = CreateContainerRequest::new();
    req.OCI = Some(Spec::new()).into();
    assert_eq!(req.write_to_bytes().expect("encode"), [0x32, 0x00]);

    let mut req = CreateContainerRequest::new();
    req.sandbox_pidns = true;
    assert_eq!(req.write_to_bytes().expect("encode"), [0x38, 0x01]);

    // types.Interface.devicePath = 6 (Kata 2.x pciPath).
    let mut iface = kata_protocols::types::Interface::new();
    iface.devicePath = "x".into();
    assert_eq!(iface.write_to_bytes().expect("encode"), [0x32, 0x01, b'x']);
}

#[test]
fn umask_and_default_errno_are_optional_fields_5() {
    // kata-rs extensions: User.Umask = 5 and LinuxSeccomp.DefaultErrnoRet = 5 (tag 0x28), with
    // presence, so an explicit 0 is sent and "unset" is not.
    let mut user = kata_protocols::oci::User::new();
    assert!(user.write_to_bytes().expect("encode").is_empty());
    user.Umask = Some(0);
    assert_eq!(user.write_to_bytes().expect("encode"), [0x28, 0x00]);
    user.Umask = Some(0o27);
    let back = kata_protocols::oci::User::parse_from_bytes(&user.write_to_bytes().expect("encode"))
        .expect("decode");
    assert_eq!(back.Umask, Some(0o27));

    let mut sc = kata_protocols::oci::LinuxSeccomp::new();
    sc.DefaultErrnoRet = Some(38);
    assert_eq!(sc.write_to_bytes().expect("encode"), [0x28, 38]);
}

struct NoAgent;
impl AgentService for NoAgent {}

struct Healthy;
#[async_trait::async_trait]
impl Health for Healthy {
    async fn check(
        &self,
        _ctx: &ttrpc::r#async::TtrpcContext,
        _req: CheckRequest,
    ) -> ttrpc::Result<HealthCheckResponse> {
        let mut resp = HealthCheckResponse::new();
        resp.status = ServingStatus::SERVING.into();
        Ok(resp)
    }
}

const AGENT_METHODS: &[&str] = &[
    "CreateContainer",
    "StartContainer",
    "RemoveContainer",
    "ExecProcess",
    "SignalProcess",
    "WaitProcess",
    "UpdateContainer",
    "UpdateEphemeralMounts",
    "StatsContainer",
    "PauseContainer",
    "ResumeContainer",
    "RemoveStaleVirtiofsShareMounts",
    "GetDiagnosticData",
    "WriteStdin",
    "ReadStdout",
    "ReadStderr",
    "CloseStdin",
    "TtyWinResize",
    "UpdateInterface",
    "UpdateRoutes",
    "ListInterfaces",
    "ListRoutes",
    "AddARPNeighbors",
    "GetIPTables",
    "SetIPTables",
    "GetMetrics",
    "MemAgentMemcgSet",
    "MemAgentCompactSet",
    "CreateSandbox",
    "DestroySandbox",
    "OnlineCPUMem",
    "ReseedRandomDev",
    "GetGuestDetails",
    "MemHotplugByProbe",
    "SetGuestDateTime",
    "CopyFile",
    "GetOOMEvent",
    "AddSwap",
    "AddSwapPath",
    "GetVolumeStats",
    "ResizeVolume",
    "SetPolicy",
];

#[test]
fn services_register_kata_names() {
    let agent = create_agent_service(Arc::new(NoAgent));
    let svc = agent
        .get("grpc.AgentService")
        .expect("grpc.AgentService registered");
    let mut names: Vec<&str> = svc.methods.keys().map(String::as_str).collect();
    names.sort_unstable();
    let mut want = AGENT_METHODS.to_vec();
    want.sort_unstable();
    assert_eq!(names, want);

    let health = create_health(Arc::new(Healthy));
    let svc = health.get("grpc.Health").expect("grpc.Health registered");
    let mut names: Vec<&str> = svc.methods.keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(names, ["Check", "Version"]);
}

#[tokio::test]
async fn client_calls_travel_on_kata_paths() {
    let dir = tempfile::tempdir().expect("tempdir");
    let addr = format!("unix://{}", dir.path().join("agent.sock").display());
    let mut services = create_agent_service(Arc::new(NoAgent));
    services.extend(create_health(Arc::new(Healthy)));
    let mut server = ttrpc::r#async::Server::new()
        .bind(&addr)
        .expect("bind")
        .register_service(services);
    server.start().await.expect("start server");

    let client = ttrpc::r#async::Client::connect(&addr)
        .await
        .expect("connect");
    let health = kata_protocols::health_ttrpc::HealthClient::new(client.clone());
    let resp = health
        .check(
            ttrpc::context::with_timeout(5_000_000_000),
            &CheckRequest::new(),
        )
        .await
        .expect("check");
    assert_eq!(resp.status.enum_value(), Ok(ServingStatus::SERVING));

    // An unimplemented method answers with its full Kata path.
    let agent = AgentServiceClient::new(client);
    let err = agent
        .create_container(
            ttrpc::context::with_timeout(5_000_000_000),
            &sample_request(),
        )
        .await
        .expect_err("default impl is unimplemented");
    let ttrpc::Error::RpcStatus(status) = err else {
        panic!("unexpected error {err:?}");
    };
    assert_eq!(status.code(), ttrpc::Code::NOT_FOUND);
    assert!(
        status
            .message()
            .contains("/grpc.AgentService/CreateContainer"),
        "{}",
        status.message()
    );

    server.shutdown().await.expect("shutdown");
}
