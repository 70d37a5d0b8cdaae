//! Pod networking through CRI and the CNI bridge network: the pod's address, traffic from the
//! host to a pod, from a pod to the host, inside a pod over `lo`, between two pods, and nothing
//! left after removal. The kata variants that need traffic to reach the VM wait for pod
//! networking in kata-rs (shim, sandbox, agent); runc passes them today.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use kata_cri_tests::{
    bridge_ports, container_config, http_get_retry, netdevs_now, netns_now, CriHarness, HostServer,
    Pod, GATEWAY, KATA, RUNC,
};

const PORT: u16 = 8080;

/// A busybox httpd serving `body` at `/` on port 8080, in the foreground.
fn web_server(body: &str) -> Vec<String> {
    vec![
        "sh".into(),
        "-c".into(),
        format!(
            "mkdir -p /www && echo {body} > /www/index.html && exec httpd -f -p {PORT} -h /www"
        ),
    ]
}

/// Runs a pod with a web server answering `body`; returns the pod, the container and the pod's IP.
fn web_pod(h: &CriHarness, name: &str, handler: &str, body: &str) -> (Pod, String, Ipv4Addr) {
    let pod = h.run_pod(name, handler).expect("RunPodSandbox");
    let cmd = web_server(body);
    let cmd: Vec<&str> = cmd.iter().map(String::as_str).collect();
    let web = h
        .start_container(&pod, &container_config("web", &cmd, vec![]))
        .expect("web server running");
    let ip = h.pod_ip(&pod);
    (pod, web, ip)
}

/// `GET /` from `addr` inside container `id`, with busybox `nc` (busybox-static's `wget` crashes
/// in an image without NSS configuration): (body, exit code of nc).
fn http_in(h: &CriHarness, id: &str, addr: &str) -> (String, i32) {
    let (host, port) = addr.rsplit_once(':').unwrap_or((addr, "80"));
    let script = format!("printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 {host} {port}");
    let r = h
        .cri()
        .exec_sync(id, &["sh", "-c", &script], 30)
        .unwrap_or_else(|e| panic!("ExecSync GET {addr}: {e}"));
    let text = String::from_utf8_lossy(&r.stdout).into_owned();
    let ok = text.starts_with("HTTP/1.") && text.contains(" 200 ");
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (body, if ok { r.exit_code } else { -1 })
}

/// Retries [`http_in`] a few times (the server in the container may not listen yet).
fn http_in_retry(h: &CriHarness, id: &str, url: &str) -> (String, i32) {
    let mut last = (String::new(), -1);
    for _ in 0..10 {
        last = http_in(h, id, url);
        if last.1 == 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    last
}

fn address_is_assigned(handler: &str) {
    let h = CriHarness::start_clean();
    let pod = h.run_pod("addr", handler).expect("RunPodSandbox");
    let ip = h.pod_ip(&pod);
    assert_ne!(ip.to_string(), GATEWAY);
    h.remove_pod(&pod).expect("remove the pod");
    h.finish();
}

fn serves_the_host(handler: &str) {
    let h = CriHarness::start_clean();
    let (pod, _, ip) = web_pod(&h, "web", handler, "hello-from-pod");
    let (status, body) = http_get_retry(
        SocketAddr::new(IpAddr::V4(ip), PORT),
        "/",
        Duration::from_secs(20),
    )
    .unwrap_or_else(|e| panic!("the pod's server at {ip}:{PORT} does not answer the host: {e:#}"));
    assert_eq!((status, body.as_str()), (200, "hello-from-pod\n"));
    h.remove_pod(&pod).expect("remove the pod");
    h.finish();
}

fn reaches_the_host(handler: &str) {
    let h = CriHarness::start_clean();
    let pod = h.run_pod("client", handler).expect("RunPodSandbox");
    let app = h
        .start_container(&pod, &container_config("app", &["sleep", "3600"], vec![]))
        .expect("app running");
    // The bridge (and its gateway address) exists once the first pod is on it.
    let gateway: IpAddr = GATEWAY.parse().expect("gateway address");
    let server = HostServer::start(gateway, "hello-from-host\n").expect("host server");
    let url = server.addr().to_string();
    let (body, code) = http_in_retry(&h, &app, &url);
    assert_eq!(
        (body.as_str(), code),
        ("hello-from-host\n", 0),
        "GET {url} from the pod"
    );
    assert!(server.served() >= 1);
    drop(server);
    h.remove_pod(&pod).expect("remove the pod");
    h.finish();
}

fn loopback_works(handler: &str) {
    let h = CriHarness::start_clean();
    let (pod, web, _) = web_pod(&h, "lo", handler, "hello-over-lo");
    let (body, code) = http_in_retry(&h, &web, &format!("127.0.0.1:{PORT}"));
    assert_eq!((body.as_str(), code), ("hello-over-lo\n", 0));
    h.remove_pod(&pod).expect("remove the pod");
    h.finish();
}

fn pods_reach_each_other(handler: &str) {
    let h = CriHarness::start_clean();
    let (server_pod, _, server_ip) = web_pod(&h, "server", handler, "hello-from-server");
    let client_pod = h.run_pod("client", handler).expect("RunPodSandbox client");
    let client = h
        .start_container(
            &client_pod,
            &container_config("app", &["sleep", "3600"], vec![]),
        )
        .expect("client running");
    let client_ip = h.pod_ip(&client_pod);
    assert_ne!(client_ip, server_ip, "two pods, one address");
    let (body, code) = http_in_retry(&h, &client, &format!("{server_ip}:{PORT}"));
    assert_eq!((body.as_str(), code), ("hello-from-server\n", 0));
    h.remove_pod(&client_pod).expect("remove the client pod");
    h.remove_pod(&server_pod).expect("remove the server pod");
    h.finish();
}

/// While the pod runs, its network namespace and its veth on the bridge exist; after removal,
/// no network namespace, veth, tap or other device of the pod is left.
fn removal_leaves_no_network(handler: &str) {
    let h = CriHarness::start_clean();
    let netns_before = netns_now();
    let devs_before = netdevs_now();
    let (pod, _, _) = web_pod(&h, "net", handler, "x");
    let new_netns: Vec<String> = netns_now().difference(&netns_before).cloned().collect();
    assert_eq!(
        new_netns.len(),
        1,
        "one network namespace for the pod: {new_netns:?}"
    );
    assert_eq!(bridge_ports().len(), 1, "one veth on the bridge");
    h.remove_pod(&pod).expect("remove the pod");
    let left_netns: Vec<String> = netns_now().difference(&netns_before).cloned().collect();
    assert!(
        left_netns.is_empty(),
        "network namespaces left: {left_netns:?}"
    );
    let left_devs: Vec<String> = netdevs_now()
        .difference(&devs_before)
        .filter(|d| d.as_str() != kata_cri_tests::BRIDGE)
        .cloned()
        .collect();
    assert!(left_devs.is_empty(), "network devices left: {left_devs:?}");
    assert!(
        bridge_ports().is_empty(),
        "ports left on the bridge: {:?}",
        bridge_ports()
    );
    h.finish();
}

#[test]
fn address_is_assigned_runc() {
    address_is_assigned(RUNC);
}

#[test]
fn address_is_assigned_kata() {
    address_is_assigned(KATA);
}

#[test]
fn serves_the_host_runc() {
    serves_the_host(RUNC);
}

#[test]
fn serves_the_host_kata() {
    serves_the_host(KATA);
}

#[test]
fn reaches_the_host_runc() {
    reaches_the_host(RUNC);
}

#[test]
fn reaches_the_host_kata() {
    reaches_the_host(KATA);
}

#[test]
fn loopback_works_runc() {
    loopback_works(RUNC);
}

#[test]
fn loopback_works_kata() {
    loopback_works(KATA);
}

#[test]
fn pods_reach_each_other_runc() {
    pods_reach_each_other(RUNC);
}

#[test]
fn pods_reach_each_other_kata() {
    pods_reach_each_other(KATA);
}

#[test]
fn removal_leaves_no_network_runc() {
    removal_leaves_no_network(RUNC);
}

#[test]
fn removal_leaves_no_network_kata() {
    removal_leaves_no_network(KATA);
}
