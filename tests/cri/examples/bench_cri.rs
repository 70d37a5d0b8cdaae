//! CRI benchmark, kata-rs against runc through one private containerd (the [`CriHarness`]):
//!
//! - pod start: RunPodSandbox, then one busybox container until CRI reports it running; N
//!   starts per handler (default 10), the handlers alternating; median/min/max;
//! - host to pod networking: a busybox `httpd` in a pod; latency is one TCP connect + `GET` of a
//!   tiny file + the whole answer (median of 20), throughput is the host downloading a 32 MiB
//!   file (median of 3).
//!
//! Usage: `cargo run -p kata-cri-tests --example bench_cri -- [N]`, as root, under
//! `flock /tmp/kata-vm-tests.lock` on a shared machine. It uses the workspace build (the shim
//! from `target/debug`, else `target/release`, and the guest image of `build/image` or
//! `KATA_TEST_IMAGE_DIR`), not the installed binaries.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context};
use kata_cri_tests::{container_config, http_get_retry, CriHarness, Pod, KATA, RUNC};

const PORT: u16 = 8080;
/// Size of the file the throughput test downloads.
const BLOB_BYTES: usize = 32 * 1024 * 1024;
const LATENCY_ROUNDS: usize = 20;
const THROUGHPUT_ROUNDS: usize = 3;
const IO_TIMEOUT: Duration = Duration::from_secs(120);

fn main() -> anyhow::Result<()> {
    let n: usize = match std::env::args().nth(1) {
        Some(a) => a
            .parse()
            .with_context(|| format!("the number of pod starts {a:?} is not a count"))?,
        None => 10,
    };
    ensure!(n > 0, "the number of pod starts must be at least 1");

    let h = CriHarness::start().context("starting the CRI harness")?;

    let mut runc = Starts::default();
    let mut kata = Starts::default();
    for i in 1..=n {
        for (handler, starts) in [(RUNC, &mut runc), (KATA, &mut kata)] {
            let t = h
                .time_pod_start(handler)
                .with_context(|| format!("pod start {i} with handler {handler}"))?;
            eprintln!(
                "start {i}/{n} {handler}: RunPodSandbox {:.3} s, container running {:.3} s",
                t.run_pod_sandbox.as_secs_f64(),
                t.container_running.as_secs_f64()
            );
            starts.sandbox.push(t.run_pod_sandbox.as_secs_f64());
            starts.running.push(t.container_running.as_secs_f64());
        }
    }

    let runc_net = measure_network(&h, RUNC)?;
    let kata_net = measure_network(&h, KATA)?;

    println!();
    print_header(&format!("CRI pod start (n={n}), s"));
    for (label, pick) in [
        ("RunPodSandbox, median", Stat::Median),
        ("RunPodSandbox, min", Stat::Min),
        ("RunPodSandbox, max", Stat::Max),
    ] {
        print_row(label, pick.of(&runc.sandbox), pick.of(&kata.sandbox), 3);
    }
    for (label, pick) in [
        ("to container running, median", Stat::Median),
        ("to container running, min", Stat::Min),
        ("to container running, max", Stat::Max),
    ] {
        print_row(label, pick.of(&runc.running), pick.of(&kata.running), 3);
    }
    println!();
    print_header("host <-> pod (busybox httpd)");
    print_row(
        &format!("GET latency ms, median of {LATENCY_ROUNDS}"),
        runc_net.latency_ms,
        kata_net.latency_ms,
        2,
    );
    print_row(
        &format!("GET latency ms, min of {LATENCY_ROUNDS}"),
        runc_net.latency_min_ms,
        kata_net.latency_min_ms,
        2,
    );
    print_row(
        &format!("32 MiB download MiB/s, med of {THROUGHPUT_ROUNDS}"),
        runc_net.mib_per_s,
        kata_net.mib_per_s,
        1,
    );

    h.finish();
    Ok(())
}

#[derive(Default)]
struct Starts {
    sandbox: Vec<f64>,
    running: Vec<f64>,
}

#[derive(Clone, Copy)]
enum Stat {
    Median,
    Min,
    Max,
}

impl Stat {
    fn of(self, values: &[f64]) -> f64 {
        let mut v = values.to_vec();
        v.sort_by(f64::total_cmp);
        match (self, v.len()) {
            (_, 0) => f64::NAN,
            (Stat::Min, _) => v[0],
            (Stat::Max, len) => v[len - 1],
            (Stat::Median, len) if len % 2 == 1 => v[len / 2],
            (Stat::Median, len) => (v[len / 2 - 1] + v[len / 2]) / 2.0,
        }
    }
}

fn print_header(title: &str) {
    println!("| {title:<36} | {:>10} | {:>10} |", "runc", "kata-rs");
    println!("|{:-<38}|{:-<12}|{:-<12}|", "", "", "");
}

fn print_row(label: &str, runc: f64, kata: f64, decimals: usize) {
    println!("| {label:<36} | {runc:>10.decimals$} | {kata:>10.decimals$} |");
}

struct NetResult {
    latency_ms: f64,
    latency_min_ms: f64,
    mib_per_s: f64,
}

/// Runs a pod with a busybox httpd serving a tiny `index.html` and a [`BLOB_BYTES`] file, then
/// times requests from the host to it; removes the pod.
fn measure_network(h: &CriHarness, handler: &str) -> anyhow::Result<NetResult> {
    let pod = h.run_pod("net", handler)?;
    let result = measure_pod(h, &pod, handler);
    let removed = h.remove_pod(&pod);
    let result = result?;
    removed?;
    Ok(result)
}

fn measure_pod(h: &CriHarness, pod: &Pod, handler: &str) -> anyhow::Result<NetResult> {
    let script = format!(
        "mkdir -p /www && echo ok > /www/index.html && head -c {BLOB_BYTES} /dev/zero > /www/blob \
         && exec httpd -f -p {PORT} -h /www"
    );
    let web = container_config("web", &["sh", "-c", &script], Vec::new());
    h.start_container(pod, &web)?;
    let addr = SocketAddr::new(IpAddr::V4(pod_ip(h, pod)?), PORT);
    let (status, body) = http_get_retry(addr, "/index.html", Duration::from_secs(60))
        .with_context(|| format!("the {handler} pod's server at {addr} does not answer"))?;
    ensure!(
        status == 200 && body == "ok\n",
        "{addr} answered {status} {body:?}"
    );

    // Warm-up (first connections, ARP, the guest's page cache of the blob).
    timed_get(addr, "/index.html", 3)?;
    timed_get(addr, "/blob", BLOB_BYTES)?;

    let mut latencies = Vec::with_capacity(LATENCY_ROUNDS);
    for _ in 0..LATENCY_ROUNDS {
        latencies.push(timed_get(addr, "/index.html", 3)?.as_secs_f64() * 1000.0);
    }
    let mut rates = Vec::with_capacity(THROUGHPUT_ROUNDS);
    for _ in 0..THROUGHPUT_ROUNDS {
        let t = timed_get(addr, "/blob", BLOB_BYTES)?;
        rates.push(BLOB_BYTES as f64 / (1024.0 * 1024.0) / t.as_secs_f64());
    }
    let r = NetResult {
        latency_ms: Stat::Median.of(&latencies),
        latency_min_ms: Stat::Min.of(&latencies),
        mib_per_s: Stat::Median.of(&rates),
    };
    eprintln!(
        "network {handler}: latency median {:.2} ms, throughput median {:.1} MiB/s",
        r.latency_ms, r.mib_per_s
    );
    Ok(r)
}

/// The pod's IPv4 address as CRI reports it.
fn pod_ip(h: &CriHarness, pod: &Pod) -> anyhow::Result<Ipv4Addr> {
    let status = h.cri().pod_sandbox_status(&pod.id)?.status;
    let ip = status
        .and_then(|s| s.network)
        .map(|n| n.ip)
        .unwrap_or_default();
    ip.parse()
        .with_context(|| format!("pod {} has no IPv4 address ({ip:?})", pod.id))
}

/// Connects, sends `GET path` (HTTP/1.0) and reads the whole answer; checks a `200` with a body
/// of `body_len` bytes and returns the time from connect to the last byte.
fn timed_get(addr: SocketAddr, path: &str, body_len: usize) -> anyhow::Result<Duration> {
    let t0 = Instant::now();
    let mut s = TcpStream::connect_timeout(&addr, IO_TIMEOUT)
        .with_context(|| format!("connecting to {addr}"))?;
    s.set_read_timeout(Some(IO_TIMEOUT))?;
    s.set_write_timeout(Some(IO_TIMEOUT))?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n")?;
    let mut head = Vec::new();
    let mut total = 0usize;
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let got = s
            .read(&mut buf)
            .with_context(|| format!("reading GET {path} from {addr}"))?;
        if got == 0 {
            break;
        }
        if head.len() < 4096 {
            head.extend_from_slice(&buf[..got.min(4096)]);
        }
        total += got;
    }
    let elapsed = t0.elapsed();
    let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") else {
        bail!("{addr} answered GET {path} without an HTTP header");
    };
    let status_line = String::from_utf8_lossy(&head[..end]);
    ensure!(
        status_line.starts_with("HTTP/1.") && status_line.contains(" 200 "),
        "{addr} answered GET {path} with {status_line:?}"
    );
    let body = total - (end + 4);
    ensure!(
        body == body_len,
        "GET {path} from {addr}: {body} bytes of body, expected {body_len}"
    );
    Ok(elapsed)
}
