//! Pod networking with a network namespace made beforehand (what CNI does for a CRI pod; here by
//! hand, `ctr run --with-ns network:<path>`): a server in the container is reached from the host at
//! the namespace's address, the container reaches a server on the host side, `lo` works inside;
//! runc in the same namespace setup is the oracle. After removal the namespace holds no tap and no
//! tc filter of the pod. The same holds with `internetworking_model = "macvtap"`, which also gives
//! the pod's interface its MAC and address back.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

use kata_e2e_tests::{assert_no_leftovers, PrivateContainerd, IMAGE};

const TEARDOWN: Duration = Duration::from_secs(20);

/// The link-layer address of the static neighbour every test namespace has.
const STATIC_MAC: &str = "02:00:00:00:00:77";

fn ip(args: &[&str]) -> String {
    let out = Command::new("ip").args(args).output().expect("ip");
    assert!(
        out.status.success(),
        "ip {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `ip ARGS` whose outcome does not matter (removing what may not exist); whether it succeeded.
fn ip_quiet(args: &[&str]) -> bool {
    Command::new("ip")
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// `ctr run -d` of a busybox `httpd` serving `hello-from-pod` on port 8080, with `flags` first.
fn run_httpd(c: &PrivateContainerd, runtime: &str, id: &str, flags: &[&str]) {
    let script =
        "mkdir -p /www && echo hello-from-pod > /www/index.html && exec httpd -f -p 8080 -h /www";
    let mut args = vec!["run", "-d", "--runtime", runtime];
    args.extend_from_slice(flags);
    args.extend_from_slice(&[IMAGE, id, "sh", "-c", script]);
    let out = c.ctr(&args, None, 180).expect("ctr run");
    assert_eq!(out.code, Some(0), "run {id} ({runtime}): {}", out.stderr);
}

/// A network namespace `name` joined to the host by a veth: host side `host_if` with
/// `10.<net>.0.1/24`, pod side `eth0` with `10.<net>.0.2/24`, a default route to the host and a
/// static neighbour `10.<net>.0.77` (`02:00:00:00:00:77`, what `AddARPNeighbors` carries).
struct Netns {
    name: String,
    host_if: String,
}

impl Netns {
    fn new(name: &str, host_if: &str, net: u8) -> Self {
        ip_quiet(&["netns", "del", name]);
        ip_quiet(&["link", "del", host_if]);
        ip(&["netns", "add", name]);
        ip(&[
            "link", "add", host_if, "type", "veth", "peer", "name", "eth0", "netns", name,
        ]);
        ip(&["addr", "add", &format!("10.{net}.0.1/24"), "dev", host_if]);
        ip(&["link", "set", host_if, "up"]);
        ip(&[
            "-n",
            name,
            "addr",
            "add",
            &format!("10.{net}.0.2/24"),
            "dev",
            "eth0",
        ]);
        ip(&["-n", name, "link", "set", "eth0", "up"]);
        ip(&["-n", name, "link", "set", "lo", "up"]);
        ip(&[
            "-n",
            name,
            "route",
            "add",
            "default",
            "via",
            &format!("10.{net}.0.1"),
        ]);
        ip(&[
            "-n",
            name,
            "neigh",
            "add",
            &format!("10.{net}.0.77"),
            "lladdr",
            STATIC_MAC,
            "dev",
            "eth0",
            "nud",
            "permanent",
        ]);
        Netns {
            name: name.into(),
            host_if: host_if.into(),
        }
    }

    fn path(&self) -> String {
        format!("/var/run/netns/{}", self.name)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        ip_quiet(&["netns", "del", &self.name]);
        ip_quiet(&["link", "del", &self.host_if]);
    }
}

/// `GET /` from `addr`, retried for up to `within` (the server may still be starting).
fn http_get(addr: &str, within: Duration) -> String {
    let deadline = Instant::now() + within;
    loop {
        let attempt = (|| -> std::io::Result<String> {
            let mut s =
                TcpStream::connect_timeout(&addr.parse().expect("addr"), Duration::from_secs(3))?;
            s.set_read_timeout(Some(Duration::from_secs(5)))?;
            s.write_all(b"GET / HTTP/1.0\r\n\r\n")?;
            let mut body = String::new();
            s.read_to_string(&mut body)?;
            Ok(body)
        })();
        match attempt {
            Ok(body) if !body.is_empty() => return body,
            _ if Instant::now() > deadline => return format!("{attempt:?}"),
            _ => std::thread::sleep(Duration::from_millis(500)),
        }
    }
}

/// A one-shot HTTP server on the host side answering `reply`; gives up after 60 s.
fn host_server(bind: &str, reply: &'static str) -> std::thread::JoinHandle<()> {
    let listener = TcpListener::bind(bind).expect("bind host server");
    listener.set_nonblocking(true).expect("nonblocking");
    std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            match listener.accept() {
                Ok((mut s, _)) => {
                    let _ = s.set_nonblocking(false);
                    let mut buf = [0u8; 1024];
                    let _ = s.read(&mut buf);
                    let _ = write!(
                        s,
                        "HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n{reply}",
                        reply.len()
                    );
                    return;
                }
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    })
}

/// `GET /` from inside container `id` with busybox `nc` (busybox's static `wget` crashes in an
/// image without NSS files); the body.
fn get_from(c: &PrivateContainerd, id: &str, exec_id: &str, host: &str, port: u16) -> String {
    let script = format!("printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 10 {host} {port}");
    let out = c
        .ctr(
            &[
                "task",
                "exec",
                "--exec-id",
                exec_id,
                id,
                "sh",
                "-c",
                &script,
            ],
            None,
            60,
        )
        .expect("exec nc");
    out.stdout_text()
        .lines()
        .last()
        .unwrap_or("")
        .trim()
        .to_string()
}

/// What a user sees of the pod's network through `runtime`.
fn observe(c: &PrivateContainerd, runtime: &str, id: &str, net: u8) -> Vec<(String, String)> {
    let ns = Netns::new(&format!("kata-e2e-{id}"), &format!("ke2e-{id}"), net);
    observe_in(c, runtime, id, &ns, net)
}

/// `exec` of `args` in task `id` (exec id `exec_id`); its stdout.
fn exec_out(c: &PrivateContainerd, id: &str, exec_id: &str, args: &[&str]) -> String {
    let mut all = vec!["task", "exec", "--exec-id", exec_id, id];
    all.extend_from_slice(args);
    c.ctr(&all, None, 60).expect("task exec").stdout_text()
}

/// [`observe`] in a namespace made by the caller (left in place).
fn observe_in(
    c: &PrivateContainerd,
    runtime: &str,
    id: &str,
    ns: &Netns,
    net: u8,
) -> Vec<(String, String)> {
    let with_ns = format!("network:{}", ns.path());
    run_httpd(c, runtime, id, &["--with-ns", &with_ns]);
    let mut seen = Vec::new();
    let body = http_get(&format!("10.{net}.0.2:8080"), Duration::from_secs(60));
    seen.push((
        "host reaches the pod".into(),
        body.lines().last().unwrap_or("").to_string(),
    ));
    let server = host_server(&format!("10.{net}.0.1:18080"), "hello-from-host");
    let to_host = get_from(c, id, "w1", &format!("10.{net}.0.1"), 18080);
    seen.push(("pod reaches the host".into(), to_host));
    let _ = server.join();
    let lo = get_from(c, id, "w2", "127.0.0.1", 8080);
    seen.push(("lo".into(), lo));
    let addr = c
        .ctr(
            &[
                "task",
                "exec",
                "--exec-id",
                "w3",
                id,
                "ip",
                "-4",
                "-o",
                "addr",
                "show",
                "eth0",
            ],
            None,
            60,
        )
        .expect("exec ip");
    let addr = addr.stdout_text();
    seen.push((
        "eth0 address".into(),
        addr.split_whitespace().nth(3).unwrap_or("").to_string(),
    ));
    let neighbours = exec_out(c, id, "w4", &["ip", "neigh", "show", "nud", "permanent"]);
    // The subnet differs per runtime; the rest must not.
    // Address, device, link-layer address and state; busybox also prints usage counters.
    let neighbours = neighbours
        .lines()
        .map(|l| {
            let words: Vec<&str> = l.split_whitespace().collect();
            let mut kept: Vec<&str> = words.iter().take(5).copied().collect();
            kept.extend(words.last().copied());
            kept.join(" ")
        })
        .collect::<Vec<_>>()
        .join("\n")
        .replace(&format!("10.{net}."), "10.N.");
    seen.push(("static neighbour".into(), neighbours));
    c.remove(id);
    let links = ip(&["-n", &ns.name, "-o", "link", "show"]);
    seen.push((
        "taps left".into(),
        links
            .lines()
            .filter(|l| l.contains("_kata"))
            .count()
            .to_string(),
    ));
    let qdiscs = Command::new("tc")
        .args(["-n", &ns.name, "qdisc", "show", "dev", "eth0"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    seen.push((
        "ingress qdisc left".into(),
        qdiscs.contains("ingress").to_string(),
    ));
    seen
}

#[test]
fn a_pod_in_a_prepared_network_namespace_serves_and_reaches_the_host_as_with_runc() {
    assert_no_leftovers(TEARDOWN);
    let c = PrivateContainerd::start().unwrap_or_else(|e| panic!("{e:#}"));
    let runc = observe(&c, "io.containerd.runc.v2", "netr", 201);
    let kata = observe(&c, kata_e2e_tests::RUNTIME, "netk", 202);
    assert_eq!(
        runc[0].1, "hello-from-pod",
        "runc is not a working oracle: {runc:?}"
    );
    assert_eq!(
        runc[1].1, "hello-from-host",
        "runc is not a working oracle: {runc:?}"
    );
    let differing: Vec<_> = runc
        .iter()
        .zip(&kata)
        .filter(|(r, k)| r.1 != k.1 && r.0 != "eth0 address")
        .collect();
    assert!(
        differing.is_empty(),
        "kata differs from runc: {differing:#?}\nkata: {kata:#?}"
    );
    assert_eq!(kata[3].1, "10.202.0.2/24", "the guest's eth0: {kata:?}");
    assert!(
        runc[4].1.contains(STATIC_MAC),
        "runc is not a working oracle: {runc:?}"
    );
    drop(c);
    assert_no_leftovers(TEARDOWN);
}

/// What CNI does for `ctr run --cni`, by hand: a veth whose `eth0` end goes into the network
/// namespace of the task's pid after the task exists, with an address and a default route.
fn plumb_after_start(pid: u32, host_if: &str, net: u8) {
    ip_quiet(&["link", "del", host_if]);
    let pid = pid.to_string();
    ip(&[
        "link", "add", host_if, "type", "veth", "peer", "name", "eth0", "netns", &pid,
    ]);
    ip(&["addr", "add", &format!("10.{net}.0.1/24"), "dev", host_if]);
    ip(&["link", "set", host_if, "up"]);
    let netns = format!("--net=/proc/{pid}/ns/net");
    for args in [
        vec![
            "ip",
            "addr",
            "add",
            &format!("10.{net}.0.2/24"),
            "dev",
            "eth0",
        ],
        vec!["ip", "link", "set", "eth0", "up"],
        vec![
            "ip",
            "route",
            "add",
            "default",
            "via",
            &format!("10.{net}.0.1"),
        ],
    ] {
        let mut cmd = vec![netns.as_str()];
        cmd.extend(args.iter().copied());
        run_nsenter(&cmd);
    }
}

fn run_nsenter(args: &[&str]) {
    let out = Command::new("nsenter")
        .args(args)
        .output()
        .expect("nsenter");
    assert!(
        out.status.success(),
        "nsenter {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn observe_hotplug(c: &PrivateContainerd, runtime: &str, id: &str, net: u8) -> String {
    let host_if = format!("ke2e-{id}");
    run_httpd(c, runtime, id, &[]);
    plumb_after_start(c.task_pid(id), &host_if, net);
    let body = http_get(&format!("10.{net}.0.2:8080"), Duration::from_secs(60));
    c.remove(id);
    // The namespace went with the task, and the veth with it.
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        let gone = !ip_quiet(&["link", "show", &host_if]);
        if gone {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    ip_quiet(&["link", "del", &host_if]);
    body.lines().last().unwrap_or("").to_string()
}

#[test]
fn an_interface_added_after_the_task_started_is_hot_plugged_as_ctr_run_cni_needs() {
    assert_no_leftovers(TEARDOWN);
    let c = PrivateContainerd::start().unwrap_or_else(|e| panic!("{e:#}"));
    let runc = observe_hotplug(&c, "io.containerd.runc.v2", "hpr", 203);
    let kata = observe_hotplug(&c, kata_e2e_tests::RUNTIME, "hpk", 204);
    assert_eq!(runc, "hello-from-pod", "runc is not a working oracle");
    assert_eq!(
        kata, runc,
        "the hot-plugged interface does not reach the kata pod"
    );
    drop(c);
    assert_no_leftovers(TEARDOWN);
}

/// The `macvtap` model: a prepared namespace and an interface added after start both reach the
/// pod as with `tcfilter` (the runc oracle's outcome is the one asserted above); the guest gets
/// the static neighbour; after removal the namespace's `eth0` has its MAC, address, default route
/// and static neighbour back and no macvtap is left.
#[test]
fn the_macvtap_model_connects_the_pod_and_gives_the_interface_back() {
    assert_no_leftovers(TEARDOWN);
    let c = PrivateContainerd::start_edited(|t| {
        t.replace(
            "internetworking_model = \"tcfilter\"",
            "internetworking_model = \"macvtap\"",
        )
    })
    .unwrap_or_else(|e| panic!("{e:#}"));
    let ns = Netns::new("kata-e2e-mvt", "ke2e-mvt", 205);
    let mac_before = ip(&["-n", &ns.name, "-o", "link", "show", "eth0"]);
    let seen = observe_in(&c, kata_e2e_tests::RUNTIME, "mvt", &ns, 205);
    let log = c.log();
    assert!(
        log.lines()
            .any(|l| l.contains("pod network connected") && l.contains("macvtap")),
        "the pod was not connected through macvtap: {}",
        log.lines()
            .filter(|l| l.contains("network"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    let value = |what: &str| {
        seen.iter()
            .find(|(k, _)| k == what)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    assert_eq!(value("host reaches the pod"), "hello-from-pod", "{seen:#?}");
    assert_eq!(
        value("pod reaches the host"),
        "hello-from-host",
        "{seen:#?}"
    );
    assert_eq!(value("lo"), "hello-from-pod", "{seen:#?}");
    assert_eq!(value("eth0 address"), "10.205.0.2/24", "{seen:#?}");
    let neighbour = value("static neighbour");
    assert!(
        neighbour.contains("10.N.0.77") && neighbour.contains(STATIC_MAC),
        "the guest lacks the static neighbour: {seen:#?}"
    );
    assert_eq!(value("taps left"), "0", "{seen:#?}");
    let mac = |text: &str| {
        text.split_whitespace()
            .skip_while(|w| *w != "link/ether")
            .nth(1)
            .unwrap_or("")
            .to_string()
    };
    let after = ip(&["-n", &ns.name, "-o", "link", "show", "eth0"]);
    assert_eq!(mac(&after), mac(&mac_before), "eth0's MAC not given back");
    let addr = ip(&["-n", &ns.name, "-4", "-o", "addr", "show", "eth0"]);
    assert!(
        addr.contains("10.205.0.2/24"),
        "eth0's address not given back: {addr}"
    );
    let routes = ip(&["-n", &ns.name, "route", "show"]);
    assert!(
        routes.contains("default via 10.205.0.1"),
        "eth0's default route not given back: {routes}"
    );
    let neighbours = ip(&["-n", &ns.name, "neigh", "show", "nud", "permanent"]);
    assert!(
        neighbours.contains("10.205.0.77") && neighbours.contains(STATIC_MAC),
        "eth0's static neighbour not given back: {neighbours}"
    );
    drop(ns);
    let hot = observe_hotplug(&c, kata_e2e_tests::RUNTIME, "mvh", 206);
    assert_eq!(
        hot, "hello-from-pod",
        "the hot-plugged macvtap does not reach the pod"
    );
    drop(c);
    assert_no_leftovers(TEARDOWN);
}
