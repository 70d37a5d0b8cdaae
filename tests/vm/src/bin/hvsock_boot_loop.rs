//! hvsock_boot_loop: boots the guest image over and over (vhost-device-vsock + QEMU, no
//! containers) and dials the agent over hybrid vsock, counting boots whose agent was never
//! reached. Used to find and to prove the fix of the "agent listens but CONNECT never answers"
//! failure (issue 10, part 4).
//!
//! Usage (root, `make image` done, under the VM test lock):
//! `flock /tmp/kata-vm-tests.lock cargo run -p kata-vm-tests --bin hvsock_boot_loop -- \
//!    [--count N] [--parallel K] [--backoff-ms B] [--timeout-s T] [--legacy]`
//! - `--count`: boots in all (default 20); `--parallel`: boots at a time (default 1);
//! - `--backoff-ms`: longest pause between dial attempts (default: the crate's), a small value
//!   makes more attempts while the device comes up;
//! - `--legacy`: dial at once, as before the fix (no wait for the guest's readiness signal).
//!
//! Prints one line per boot (`ok`/`FAIL`, milliseconds, vhost-device-vsock's threads) and a
//! summary `boots=N failed=F`; exits 1 when a boot failed.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use kata_hypervisor::{Accelerator, AgentChannel, VmSpec};
use kata_qemu::QemuVm;
use kata_vm_daemons::{VsockConfig, VsockDaemon};
use kata_vm_tests::kata_agent_client::{AgentAddress, AgentClient, DialOptions, ReadyListener};
use kata_vm_tests::{GuestImage, AGENT_PORT, GUEST_CID, QEMU_BINARY};

const KERNEL_PARAMS: &str = "console=ttyS0 quiet panic=1 nr_cpus=1 tsc=reliable no_timer_check \
     rcupdate.rcu_expedited=1 i8042.direct=1 i8042.dumbkbd=1 i8042.nopnp=1 i8042.noaux=1 \
     noreplace-smp reboot=k cryptomgr.notests net.ifnames=0 pci=lastbus=0 agent.log=info";

#[derive(Debug, Clone)]
struct Args {
    count: usize,
    parallel: usize,
    backoff: Option<Duration>,
    timeout: Duration,
    legacy: bool,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut args = Args {
        count: 20,
        parallel: 1,
        backoff: None,
        timeout: Duration::from_secs(45),
        legacy: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--count" => args.count = value()?.parse().context("--count")?,
            "--parallel" => args.parallel = value()?.parse().context("--parallel")?,
            "--backoff-ms" => {
                args.backoff = Some(Duration::from_millis(
                    value()?.parse().context("--backoff-ms")?,
                ))
            }
            "--timeout-s" => {
                args.timeout = Duration::from_secs(value()?.parse().context("--timeout-s")?)
            }
            "--legacy" => args.legacy = true,
            other => bail!("unknown argument {other:?}"),
        }
    }
    if args.parallel == 0 || args.count == 0 {
        bail!("--count and --parallel must be at least 1");
    }
    Ok(args)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    let image = GuestImage::locate().map_err(|e| anyhow::anyhow!("{e}"))?;
    let started = Instant::now();
    let mut failed = 0usize;
    let mut done = 0usize;
    while done < args.count {
        let batch = args.parallel.min(args.count - done);
        let mut tasks = Vec::new();
        for i in 0..batch {
            let (args, image) = (args.clone(), image.clone());
            tasks.push(tokio::spawn(async move {
                one_boot(done + i, &args, &image).await
            }));
        }
        for task in tasks {
            let outcome = task.await.context("boot task panicked")?;
            match outcome {
                Ok(line) => println!("{line}"),
                Err(e) => {
                    failed += 1;
                    println!("FAIL {e:#}");
                }
            }
        }
        done += batch;
    }
    println!(
        "boots={} failed={} parallel={} legacy={} wall_s={:.1}",
        args.count,
        failed,
        args.parallel,
        args.legacy,
        started.elapsed().as_secs_f64()
    );
    if failed > 0 {
        std::process::exit(1);
    }
    Ok(())
}

/// Thread names of `pid` (vhost-device-vsock has `vring_worker` while its queues are served).
fn threads(pid: Option<u32>) -> String {
    let Some(pid) = pid else {
        return "-".into();
    };
    let mut names = Vec::new();
    if let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for entry in dir.flatten() {
            let comm = std::fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
            names.push(comm.trim().to_string());
        }
    }
    names.sort();
    names.join(",")
}

async fn one_boot(n: usize, args: &Args, image: &GuestImage) -> anyhow::Result<String> {
    let dir = tempfile::Builder::new()
        .prefix("kata-hvsock-loop-")
        .tempdir()
        .context("temp dir")?;
    let root = dir.path();
    let vsock_cfg = VsockConfig::in_dir(root, GUEST_CID);
    // The readiness listener exists before the guest can connect to it.
    let ready = if args.legacy {
        None
    } else {
        Some(ReadyListener::bind(&vsock_cfg.uds_path).context("ready listener")?)
    };
    let vsock = VsockDaemon::start(vsock_cfg.clone())
        .await
        .context("vhost-device-vsock")?;
    if let Some(ready) = &ready {
        // The daemon may run unprivileged: let it reach the root-bound listener.
        vsock
            .allow_connect(ready.path())
            .context("opening the ready socket to vhost-device-vsock")?;
    }
    // vhost-device-vsock runs unprivileged: open the root-bound listener to it.
    if let Some(ready) = &ready {
        vsock
            .allow_connect(ready.path())
            .context("opening the ready listener to vhost-device-vsock")?;
    }
    let spec = spec(n, image, root, &vsock_cfg);
    let t0 = Instant::now();
    let qemu = QemuVm::start(spec).await.context("qemu")?;
    let addr = AgentAddress::HybridVsock {
        uds_path: vsock_cfg.uds_path.clone(),
        port: AGENT_PORT,
    };
    let mut opts = DialOptions::with_timeout(args.timeout);
    if let Some(b) = args.backoff {
        opts.initial_backoff = b.min(opts.initial_backoff);
        opts.max_backoff = b;
    }
    let result = match ready {
        Some(ready) => AgentClient::connect_when_ready(&addr, ready, &opts).await,
        None => AgentClient::connect_with(&addr, &opts).await,
    };
    let elapsed = t0.elapsed();
    let threads = threads(vsock.pid());
    let outcome = match result {
        Ok(client) => match client.check(Duration::from_secs(10)).await {
            Ok(_) => Ok(format!(
                "ok   boot={n} ms={} threads=[{threads}]",
                elapsed.as_millis()
            )),
            Err(e) => Err(anyhow::anyhow!(
                "boot={n} health check: {e} threads=[{threads}]"
            )),
        },
        Err(e) => {
            let console = std::fs::read_to_string(root.join("console.log")).unwrap_or_default();
            let listening = console.contains("agent listening");
            Err(anyhow::anyhow!(
                "boot={n} ms={} agent_listening_on_console={listening} threads=[{threads}] \
                 vsock_stderr={:?}: {}",
                elapsed.as_millis(),
                vsock.stderr(),
                kata_vm_tests::chain(&e)
            ))
        }
    };
    let _ = qemu.stop().await;
    vsock.stop().await;
    outcome
}

fn spec(n: usize, image: &GuestImage, root: &Path, vsock: &VsockConfig) -> VmSpec {
    let accelerator = match kata_hostinfo::Host::system().virt_support().accelerator {
        kata_hostinfo::Accelerator::Kvm => Accelerator::Kvm,
        kata_hostinfo::Accelerator::Tcg => Accelerator::tcg(),
    };
    let mut spec = VmSpec::minimal(
        format!("hvsock-loop-{n}"),
        QEMU_BINARY,
        &image.kernel,
        root.join("run"),
        accelerator,
    );
    spec.machine_type = "pc".into();
    spec.memory.force_shared = true;
    spec.boot.initrd = Some(image.initrd.clone());
    spec.boot.kernel_params = KERNEL_PARAMS.into();
    spec.console_log = Some(root.join("console.log"));
    spec.agent_channel = Some(AgentChannel::HybridVsock {
        vhost_user_socket: vsock.vhost_user_socket.clone(),
        uds_path: vsock.uds_path.clone(),
        guest_cid: vsock.guest_cid,
    });
    spec
}
