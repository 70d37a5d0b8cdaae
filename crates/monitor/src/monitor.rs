//! What `kata-monitor` serves: `/metrics` (every sandbox's, labelled, and its own), `/sandboxes`,
//! `/agent-url?sandbox=<id>` and an index, as Kata's `kata-monitor`.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use kata_shim_interface::http::{text, with_type, Get, Reply, PROMETHEUS_TEXT};
use kata_shim_interface::prom::{Aggregate, Family};
use kata_shim_interface::{ShimClient, METRICS};

/// How long one shim may take to answer before the scrape goes on without it.
const SHIM_TIMEOUT: Duration = Duration::from_secs(3);
const INDEX: &str = "kata-monitor: /metrics, /sandboxes, /agent-url?sandbox=<id>\n";

pub struct Monitor {
    sbs_dir: PathBuf,
    scrapes: AtomicU64,
    failures: AtomicU64,
    shim_timeout: Duration,
}

impl Monitor {
    pub fn new(sbs_dir: PathBuf) -> Self {
        Self {
            sbs_dir,
            scrapes: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            shim_timeout: SHIM_TIMEOUT,
        }
    }

    /// Replaces how long one shim may take ([`SHIM_TIMEOUT`] by default).
    #[cfg(test)]
    pub fn with_shim_timeout(mut self, timeout: Duration) -> Self {
        self.shim_timeout = timeout;
        self
    }

    pub async fn answer(&self, get: Get) -> Reply {
        match get.path.as_str() {
            "/metrics" => with_type(200, PROMETHEUS_TEXT, self.metrics().await),
            "/sandboxes" => {
                let ids = sandboxes(&self.sbs_dir);
                text(
                    200,
                    ids.iter().map(|id| format!("{id}\n")).collect::<String>(),
                )
            }
            "/agent-url" => self.agent_url(&get.query).await,
            "/" => text(200, INDEX),
            other => text(404, format!("no endpoint {other}\n")),
        }
    }

    /// Every sandbox's metrics with `sandbox_id="<id>"`, then kata-monitor's own. A shim that
    /// does not answer, or answers malformed text, is left out and logged.
    pub async fn metrics(&self) -> String {
        self.scrapes.fetch_add(1, Ordering::Relaxed);
        let ids = sandboxes(&self.sbs_dir);
        let mut calls = tokio::task::JoinSet::new();
        for id in &ids {
            let client = match ShimClient::new(&self.sbs_dir, id) {
                Ok(c) => c.with_timeout(self.shim_timeout),
                Err(_) => continue,
            };
            calls.spawn(async move {
                let r = client.get_text(METRICS).await;
                (client.sandbox_id().to_owned(), r)
            });
        }
        let mut answers = Vec::new();
        while let Some(joined) = calls.join_next().await {
            if let Ok(answer) = joined {
                answers.push(answer);
            }
        }
        // Stable output: sandboxes in id order.
        answers.sort_by(|a, b| a.0.cmp(&b.0));
        // Shims are checked first, so that this scrape's own counters count this scrape's failures.
        let mut good = Vec::new();
        for (id, answer) in answers {
            let checked = answer.map_err(|e| e.to_string()).and_then(|body| {
                kata_shim_interface::prom::parse(&body)
                    .map(|_| body)
                    .map_err(|e| e.to_string())
            });
            match checked {
                Ok(body) => good.push((id, body)),
                Err(e) => {
                    self.failures.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(sandbox = %id, error = %e, "shim skipped in this scrape");
                }
            }
        }
        let mut all = Aggregate::new();
        all.add(self.own_families(ids.len()), None);
        for (id, body) in good {
            if let Err(e) = all.add_text(&body, Some(("sandbox_id", &id))) {
                self.failures.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(sandbox = %id, error = %e, "shim skipped in this scrape");
            }
        }
        all.render()
    }

    fn own_families(&self, running: usize) -> Vec<Family> {
        let own = format!(
            "# HELP kata_monitor_running_shim_count Sandboxes with a management socket.\n\
             # TYPE kata_monitor_running_shim_count gauge\n\
             kata_monitor_running_shim_count {running}\n\
             # HELP kata_monitor_scrape_count Scrapes of /metrics served.\n\
             # TYPE kata_monitor_scrape_count counter\n\
             kata_monitor_scrape_count {}\n\
             # HELP kata_monitor_scrape_failed_count Shims left out of a scrape (no answer, bad text).\n\
             # TYPE kata_monitor_scrape_failed_count counter\n\
             kata_monitor_scrape_failed_count {}\n",
            self.scrapes.load(Ordering::Relaxed),
            self.failures.load(Ordering::Relaxed),
        );
        kata_shim_interface::prom::parse(&own).unwrap_or_default()
    }

    /// `/agent-url?sandbox=<id>`: the shim's answer, passed on.
    async fn agent_url(&self, query: &str) -> Reply {
        let Some(id) = query
            .split('&')
            .find_map(|kv| kv.strip_prefix("sandbox="))
            .filter(|id| !id.is_empty())
        else {
            return text(400, "missing ?sandbox=<id>\n");
        };
        let client = match ShimClient::new(&self.sbs_dir, id) {
            Ok(c) => c.with_timeout(self.shim_timeout),
            Err(e) => return text(400, format!("{e}\n")),
        };
        match client.get(kata_shim_interface::AGENT_URL).await {
            Ok(r) => text(r.status, r.body),
            Err(kata_shim_interface::ClientError::NoSandbox { .. }) => {
                text(404, format!("no sandbox {id}\n"))
            }
            Err(e) => text(502, format!("{e}\n")),
        }
    }
}

/// The sandboxes under `sbs_dir` that have a management socket, in id order.
pub fn sandboxes(sbs_dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(sbs_dir) else {
        return Vec::new();
    };
    let mut ids: Vec<String> = entries
        .flatten()
        .filter(|e| {
            std::fs::symlink_metadata(e.path().join(kata_shim_interface::SOCKET_NAME))
                .is_ok_and(|m| std::os::unix::fs::FileTypeExt::is_socket(&m.file_type()))
        })
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|id| kata_shim_interface::is_valid_sandbox_id(id))
        .collect();
    ids.sort();
    ids
}

#[cfg(test)]
#[path = "monitor_tests.rs"]
mod tests;
