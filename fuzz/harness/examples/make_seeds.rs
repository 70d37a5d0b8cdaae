//! Writes the generated seeds of `agent_request` and `state_file` under `fuzz/seeds/`
//! (`cargo run -p kata-fuzz-harness --example make_seeds`). The messages are built with the
//! product's own conversions where one exists, so the seeds look like real traffic.

use std::path::{Path, PathBuf};

use kata_protocols::{agent as pb, types};
use kata_sandbox::agent::{ContainerRequest, Storage};
use kata_sandbox::backend::convert::{
    create_container_to_pb, process_to_pb, resources_to_pb, GuestOptions,
};
use kata_sandbox::host::cleanup::CleanupStep;
use kata_sandbox::host::state::SandboxState;

fn seeds(target: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../seeds")
        .join(target);
    std::fs::create_dir_all(&dir).expect("create seed directory");
    dir
}

fn write_request(name: &str, selector: u8, msg: &dyn protobuf::MessageDyn) {
    let mut bytes = vec![selector];
    bytes.extend(msg.write_to_bytes_dyn().expect("encode"));
    std::fs::write(seeds("agent_request").join(name), bytes).expect("write seed");
}

fn main() {
    let spec_json = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../seeds/guest_spec/pod_container.json"),
    )
    .expect("read pod_container.json");
    let spec: oci_spec::runtime::Spec = serde_json::from_slice(&spec_json).expect("spec");
    let guest = kata_sandbox::guest_spec::guest_spec(&spec, "c1", Vec::new());
    let req = ContainerRequest {
        container_id: "c1".into(),
        exec_id: "c1".into(),
        spec: guest.clone(),
        storages: vec![Storage {
            driver: "local".into(),
            source: "local".into(),
            fstype: "local".into(),
            options: vec!["mode=0777".into()],
            mount_point: "/run/kata-containers/shared/containers/sb/rootfs/local/cache".into(),
            ..Default::default()
        }],
    };
    match create_container_to_pb(&req, GuestOptions::default()) {
        Ok(message) => write_request("create_container_from_shim", 0, &message),
        Err(e) => eprintln!("make_seeds: the seed spec is refused: {e}"),
    }

    let mut exec = pb::ExecProcessRequest::new();
    exec.container_id = "c1".into();
    exec.exec_id = "e1".into();
    if let Some(p) = guest.process() {
        exec.process = Some(process_to_pb(p)).into();
    }
    write_request("exec_process", 1, &exec);

    let mut update = pb::UpdateContainerRequest::new();
    update.container_id = "c1".into();
    let resources: oci_spec::runtime::LinuxResources = serde_json::from_str(
        r#"{"memory":{"limit":268435456,"swap":268435456},"cpu":{"shares":512,"quota":50000,"period":100000,"cpus":"0-1"},"pids":{"limit":64}}"#,
    )
    .expect("resources");
    update.resources = Some(resources_to_pb(&resources)).into();
    write_request("update_container", 2, &update);

    let mut sandbox = pb::CreateSandboxRequest::new();
    sandbox.sandbox_id = "sb".into();
    sandbox.hostname = "pod".into();
    let mut shared = pb::Storage::new();
    shared.driver = "virtio-fs".into();
    shared.source = "kataShared".into();
    shared.fstype = "virtiofs".into();
    shared.mount_point = "/run/kata-containers/shared/containers/".into();
    sandbox.storages.push(shared);
    let mut escape = pb::Storage::new();
    escape.driver = "local".into();
    escape.mount_point = "/run/kata-containers/../../etc".into();
    sandbox.storages.push(escape);
    write_request("create_sandbox", 3, &sandbox);

    let mut iface = types::Interface::new();
    iface.name = "eth0".into();
    iface.device = "eth0".into();
    iface.hwAddr = "02:42:AC:11:00:02".into();
    iface.mtu = 1500;
    for (family, address, mask) in [
        (types::IPFamily::v4, "10.88.0.5", "16"),
        (types::IPFamily::v6, "fd00::5", "64"),
    ] {
        let mut a = types::IPAddress::new();
        a.family = family.into();
        a.address = address.into();
        a.mask = mask.into();
        iface.IPAddresses.push(a);
    }
    let mut update_iface = pb::UpdateInterfaceRequest::new();
    update_iface.interface = Some(iface).into();
    write_request("update_interface", 4, &update_iface);

    let mut routes = pb::Routes::new();
    for (dest, gateway) in [("", "10.88.0.1"), ("10.88.0.0/16", ""), ("fd00::/64", "")] {
        let mut r = types::Route::new();
        r.dest = dest.into();
        r.gateway = gateway.into();
        r.device = "eth0".into();
        routes.Routes.push(r);
    }
    let mut update_routes = pb::UpdateRoutesRequest::new();
    update_routes.routes = Some(routes).into();
    write_request("update_routes", 5, &update_routes);

    let mut neighbor = types::ARPNeighbor::new();
    let mut to = types::IPAddress::new();
    to.address = "10.88.0.1".into();
    neighbor.toIPAddress = Some(to).into();
    neighbor.device = "eth0".into();
    neighbor.lladdr = "02:42:ac:11:00:01".into();
    neighbor.state = 0x80;
    let mut neighbors = pb::ARPNeighbors::new();
    neighbors.ARPNeighbors.push(neighbor);
    let mut add = pb::AddARPNeighborsRequest::new();
    add.neighbors = Some(neighbors).into();
    write_request("add_arp_neighbors", 5, &add);

    // A state as the shim writes it for a running pod with one container.
    let mut state = SandboxState {
        sandbox_id: "sb".into(),
        hypervisor_pid: Some(4242),
        sockets: vec!["/run/vc/vm/sb/qmp.sock".into()],
        sandbox_steps: vec![
            CleanupStep::RemoveDir {
                path: "/run/kata-containers".into(),
            },
            CleanupStep::RemoveDir {
                path: "/run/kata-containers/shared/sandboxes/sb/mounts".into(),
            },
            CleanupStep::Unmount {
                path: "/run/kata-containers/shared/sandboxes/sb/mounts".into(),
            },
            CleanupStep::Unmount {
                path: "/run/kata-containers/shared/sandboxes/sb/shared".into(),
            },
            CleanupStep::RemoveDir {
                path: "/run/vc/vm".into(),
            },
            CleanupStep::RemoveTree {
                path: "/run/vc/vm/sb".into(),
            },
            CleanupStep::KillProcess {
                name: "vhost-device-vsock".into(),
                pid: 4240,
                start_time: 123456,
            },
            CleanupStep::KillProcess {
                name: "qemu".into(),
                pid: 4242,
                start_time: 123460,
            },
        ],
        ..Default::default()
    };
    state.containers.insert(
        "c1".into(),
        vec![
            CleanupStep::RemoveDir {
                path: "/run/kata-containers/shared/sandboxes/sb/mounts/c1".into(),
            },
            CleanupStep::Unmount {
                path: "/run/kata-containers/shared/sandboxes/sb/mounts/c1/rootfs".into(),
            },
            CleanupStep::RemoveFile {
                path: "/run/kata-containers/shared/sandboxes/sb/mounts/c1-1-hosts".into(),
            },
        ],
    );
    let json = serde_json::to_vec_pretty(&state).expect("state json");
    std::fs::write(seeds("state_file").join("pod_with_container.json"), json).expect("write");
}
