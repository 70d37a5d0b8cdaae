//! The `start` action: one shim per pod. A container joining a pod gets the address of its
//! sandbox's shim; otherwise the serving shim is spawned and its address returned once it
//! listens. Runs before any async runtime exists.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

use anyhow::Context;
use containerd_shim::Flags;
use kata_oci::{ContainerKind, SandboxRef};

pub fn start(flags: &Flags) -> anyhow::Result<String> {
    let bundle = std::env::current_dir().context("cannot read the bundle directory")?;
    let spec = kata_oci::load_spec(&bundle)?;
    let sandbox = SandboxRef::from_spec(&spec, &flags.id)?;
    let address =
        containerd_shim::socket_address(&flags.address, &flags.namespace, &sandbox.sandbox_id);
    if sandbox.kind == ContainerKind::PodContainer {
        std::fs::write(bundle.join("address"), &address).context("cannot write address")?;
        return Ok(address);
    }

    let exe = std::env::current_exe().context("cannot find the shim binary")?;
    let mut cmd = Command::new(exe);
    cmd.current_dir(&bundle)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .args([
            "-namespace",
            &flags.namespace,
            "-id",
            &flags.id,
            "-address",
            &flags.address,
            "-socket",
            &address,
        ])
        .process_group(0);
    if flags.debug {
        cmd.arg("-debug");
    }
    let mut child = cmd.spawn().context("cannot spawn the serving shim")?;
    // The serving shim closes its stdout once it listens.
    if let Some(mut out) = child.stdout.take() {
        let mut sink = Vec::new();
        let _ = out.read_to_end(&mut sink);
    }
    if let Ok(Some(status)) = child.try_wait() {
        anyhow::bail!("the serving shim exited at start: {status}");
    }
    std::fs::write(bundle.join("address"), &address).context("cannot write address")?;
    Ok(address)
}
