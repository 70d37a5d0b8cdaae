//! The agent's log on the host: the shim connects to the guest's log port (Kata's
//! `agent.log_vport`) and writes each JSON record the agent sends into its own log, at the
//! record's level, tagged with the sandbox id and `source = "agent"` (as Kata's shim tags the
//! agent's lines). The shim's log is containerd's, so the lines outlive the pod.
//!
//! The guest is not trusted: a record is cut at [`MAX_RECORD`] bytes, control characters are
//! escaped (no forged lines), and at most [`RECORDS_PER_SEC`] records a second reach the log
//! (bursts of [`RECORD_BURST`]); what is left out is counted in a warning at most every 10 s.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use kata_agent_client::hybrid_handshake;
use serde_json::{Map, Value};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::UnixStream;

/// Longest record taken from the guest; a longer line is cut (the guest is not trusted).
pub const MAX_RECORD: usize = 16 * 1024;
/// Agent records logged per second, in the long run.
pub const RECORDS_PER_SEC: f64 = 100.0;
/// Agent records logged at once after a quiet spell.
pub const RECORD_BURST: f64 = 1000.0;
/// Shortest interval between two warnings about records left out.
const DROP_REPORT_EVERY: Duration = Duration::from_secs(10);
/// How long the connection to the log port may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Starts forwarding the log of the agent listening on `port` behind the hybrid vsock socket
/// `uds_path`. Ends when the guest closes the stream (the VM stopped); a failure to connect is
/// logged once as a warning (an agent run without `agent.log_vport`).
pub fn spawn(sandbox_id: String, uds_path: PathBuf, port: u32) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        match connect(&uds_path, port).await {
            Ok(stream) => forward(&sandbox_id, stream).await,
            Err(e) => tracing::warn!(
                sandbox = %sandbox_id,
                port,
                error = %e,
                "no agent log from the guest"
            ),
        }
    })
}

async fn connect(uds_path: &Path, port: u32) -> std::io::Result<UnixStream> {
    let attempt = async {
        let mut stream = UnixStream::connect(uds_path).await?;
        hybrid_handshake(&mut stream, uds_path, port)
            .await
            .map_err(std::io::Error::other)?;
        Ok(stream)
    };
    tokio::time::timeout(CONNECT_TIMEOUT, attempt)
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out"))?
}

async fn forward(sandbox_id: &str, stream: UnixStream) {
    let mut reader = BufReader::new(stream);
    let mut line = Vec::with_capacity(512);
    let mut limit = RateLimit::new();
    loop {
        line.clear();
        match read_record(&mut reader, &mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                if limit.admit(Instant::now()) {
                    emit(sandbox_id, &line);
                } else if let Some(dropped) = limit.report(Instant::now()) {
                    tracing::warn!(
                        sandbox = %sandbox_id,
                        dropped,
                        "agent log records left out (more than {RECORDS_PER_SEC} a second)"
                    );
                }
            }
        }
    }
}

/// A token bucket over the agent's records.
struct RateLimit {
    tokens: f64,
    refilled: Instant,
    dropped: u64,
    reported: Option<Instant>,
}

impl RateLimit {
    fn new() -> Self {
        Self {
            tokens: RECORD_BURST,
            refilled: Instant::now(),
            dropped: 0,
            reported: None,
        }
    }

    /// Whether a record arriving `now` may be logged; counts it as dropped otherwise.
    fn admit(&mut self, now: Instant) -> bool {
        let elapsed = now.duration_since(self.refilled).as_secs_f64();
        self.tokens = (self.tokens + elapsed * RECORDS_PER_SEC).min(RECORD_BURST);
        self.refilled = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            self.dropped += 1;
            false
        }
    }

    /// The number dropped so far, when a warning is due.
    fn report(&mut self, now: Instant) -> Option<u64> {
        let due = self
            .reported
            .is_none_or(|t| now.duration_since(t) >= DROP_REPORT_EVERY);
        due.then(|| {
            self.reported = Some(now);
            self.dropped
        })
    }
}

/// Reads up to a newline, keeping at most [`MAX_RECORD`] bytes of it.
async fn read_record<R: tokio::io::AsyncBufRead + Unpin>(
    reader: &mut R,
    line: &mut Vec<u8>,
) -> std::io::Result<usize> {
    let mut total = 0;
    loop {
        let buf = reader.fill_buf().await?;
        if buf.is_empty() {
            return Ok(total);
        }
        let (chunk, done) = match buf.iter().position(|b| *b == b'\n') {
            Some(i) => (&buf[..=i], true),
            None => (buf, false),
        };
        let room = MAX_RECORD.saturating_sub(line.len());
        line.extend_from_slice(&chunk[..chunk.len().min(room)]);
        let n = chunk.len();
        total += n;
        reader.consume(n);
        if done {
            return Ok(total);
        }
    }
}

/// One record of the agent, as the shim logs it.
#[derive(Debug, PartialEq, Eq)]
pub struct Record {
    pub level: tracing::Level,
    pub message: String,
    /// The record's other fields, `key=value` separated by spaces, in the agent's order.
    pub fields: String,
}

/// Parses one line of the agent's log; a line that is not a JSON object is kept whole as the
/// message, at INFO.
pub fn parse(line: &[u8]) -> Record {
    let text = String::from_utf8_lossy(line);
    let text = text.trim_end();
    let Ok(Value::Object(mut map)) = serde_json::from_str::<Value>(text) else {
        return Record {
            level: tracing::Level::INFO,
            message: escape_controls(text),
            fields: String::new(),
        };
    };
    let level = match map.remove("level").as_ref().and_then(Value::as_str) {
        Some("ERROR") => tracing::Level::ERROR,
        Some("WARN") => tracing::Level::WARN,
        Some("DEBUG") => tracing::Level::DEBUG,
        Some("TRACE") => tracing::Level::TRACE,
        _ => tracing::Level::INFO,
    };
    let message = match map.remove("message") {
        Some(Value::String(s)) => escape_controls(&s),
        Some(other) => other.to_string(),
        None => String::new(),
    };
    map.remove("timestamp");
    Record {
        level,
        message,
        fields: render(&map),
    }
}

/// `key=value` pairs; strings are Debug-quoted and other values JSON, both of which escape
/// control characters; keys are escaped too.
fn render(map: &Map<String, Value>) -> String {
    map.iter()
        .map(|(k, v)| {
            let k = escape_controls(k);
            match v {
                // A value the agent formatted with Debug is quoted already.
                Value::String(s) if s.len() >= 2 && s.starts_with('"') && s.ends_with('"') => {
                    format!("{k}={}", escape_controls(s))
                }
                Value::String(s) => format!("{k}={s:?}"),
                other => format!("{k}={other}"),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// `text` with every control character (newlines included) written as an escape, so that a
/// record from the guest stays one line of the host's log.
pub(crate) fn escape_controls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

fn emit(sandbox: &str, line: &[u8]) {
    let r = parse(line);
    let (message, fields) = (r.message, r.fields);
    macro_rules! log_at {
        ($level:expr) => {
            if fields.is_empty() {
                tracing::event!(
                    target: "kata_agent",
                    $level,
                    sandbox = %sandbox,
                    source = "agent",
                    "{message}"
                )
            } else {
                tracing::event!(
                    target: "kata_agent",
                    $level,
                    sandbox = %sandbox,
                    source = "agent",
                    agent_fields = %fields,
                    "{message}"
                )
            }
        };
    }
    match r.level {
        tracing::Level::ERROR => log_at!(tracing::Level::ERROR),
        tracing::Level::WARN => log_at!(tracing::Level::WARN),
        tracing::Level::INFO => log_at!(tracing::Level::INFO),
        tracing::Level::DEBUG => log_at!(tracing::Level::DEBUG),
        _ => log_at!(tracing::Level::TRACE),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_json_record_keeps_its_level_message_and_fields() {
        let r = parse(
            br#"{"timestamp":"2026-11-30T00:00:00Z","level":"WARN","message":"create container","container":"c1","n":3}
"#,
        );
        assert_eq!(r.level, tracing::Level::WARN);
        assert_eq!(r.message, "create container");
        assert_eq!(r.fields, r#"container="c1" n=3"#);
        let quoted = parse(br#"{"level":"INFO","message":"m","path":"\"/run/x\""}"#);
        assert_eq!(quoted.fields, r#"path="/run/x""#);
    }

    #[test]
    fn anything_else_is_kept_as_the_message() {
        let r = parse(b"not json at all\n");
        assert_eq!(r.level, tracing::Level::INFO);
        assert_eq!(r.message, "not json at all");
        assert_eq!(parse(b"[1,2]").message, "[1,2]");
    }

    #[test]
    fn the_guest_cannot_forge_log_lines() {
        let json = concat!(
            r#"{"level":"INFO","message":"ok\n2026-01-01T00:00:00Z ERROR forged","#,
            r#""k\nx":"v\r"}"#
        );
        let r = parse(json.as_bytes());
        assert!(!r.message.contains('\n'), "{}", r.message);
        assert!(r.message.contains("\\n2026"), "{}", r.message);
        assert!(
            !r.fields.contains('\n') && !r.fields.contains('\r'),
            "{}",
            r.fields
        );
        let raw = parse(b"plain\x1b[31mred");
        assert!(!raw.message.contains('\x1b'), "{}", raw.message);
    }

    #[test]
    fn records_are_rate_limited_and_the_drops_reported() {
        let mut limit = RateLimit::new();
        let t0 = Instant::now();
        let admitted = (0..2000).filter(|_| limit.admit(t0)).count();
        assert_eq!(admitted, RECORD_BURST as usize);
        assert_eq!(limit.report(t0), Some(1000));
        assert_eq!(limit.report(t0), None, "one warning per 10 s");
        let later = t0 + Duration::from_secs(1);
        let admitted = (0..1000).filter(|_| limit.admit(later)).count();
        assert_eq!(admitted, RECORDS_PER_SEC as usize);
    }

    #[tokio::test]
    async fn long_records_are_cut_and_the_stream_stays_in_step() {
        let mut input = vec![b'x'; MAX_RECORD * 2];
        input.extend(b"\nnext\n");
        let mut reader = BufReader::new(&input[..]);
        let mut line = Vec::new();
        read_record(&mut reader, &mut line).await.expect("read");
        assert_eq!(line.len(), MAX_RECORD);
        line.clear();
        read_record(&mut reader, &mut line).await.expect("read");
        assert_eq!(line, b"next\n");
    }
}
