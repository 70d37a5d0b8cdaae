//! `kata-runtime metrics <sandbox-id>`: prints the sandbox's metrics as its shim serves them on
//! the management socket (`GET /metrics`, Prometheus text), as Kata's `kata-runtime metrics`.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use kata_shim_interface::{ShimClient, DEFAULT_SBS_DIR, METRICS};

/// Prints the metrics of `sandbox_id`; errors name the sandbox (a missing one included).
pub fn run(sandbox_id: &str) -> anyhow::Result<u8> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot build the tokio runtime")?;
    let text = runtime.block_on(fetch(Path::new(DEFAULT_SBS_DIR), sandbox_id))?;
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .context("writing the metrics")?;
    Ok(0)
}

/// The `/metrics` text of the sandbox `sandbox_id` whose state is under `sbs_root`.
async fn fetch(sbs_root: &Path, sandbox_id: &str) -> anyhow::Result<String> {
    let client = ShimClient::new(sbs_root, sandbox_id)?;
    Ok(client.get_text(METRICS).await?)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_missing_sandbox_is_named() {
        let root = tempfile::tempdir().expect("tempdir");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let err = runtime
            .block_on(super::fetch(root.path(), "nope"))
            .expect_err("no sandbox");
        let shown = format!("{err:#}");
        assert!(shown.starts_with("no sandbox nope: "), "{shown}");
        assert!(
            shown.contains("nope/shim-monitor.sock not found"),
            "{shown}"
        );
    }
}
