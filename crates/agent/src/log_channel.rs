//! The agent's log to the host over vsock (Kata's `agent.log_vport`, port 1025 by the runtime's
//! choice): every log record, one JSON object per line, goes into a bounded buffer that a vsock
//! listener drains to whoever is connected (the shim, which writes it into its own log).
//!
//! Records logged before the host connects wait in the buffer (at most [`MAX_BUFFERED`] bytes; the
//! oldest go first, and the host is told how many were dropped). One host connection at a time: a
//! new one replaces the old. Logging never blocks on the host.

use std::collections::VecDeque;
use std::io::Write;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Notify;
use tokio_vsock::{VsockAddr, VsockListener, VsockStream, VMADDR_CID_ANY};
use tracing_subscriber::fmt::MakeWriter;

/// Bytes of log kept while no host is connected (or while it reads slower than the agent logs).
pub const MAX_BUFFERED: usize = 256 * 1024;

/// The shared buffer between the log writers and the vsock pump. Cheap to clone.
#[derive(Clone, Default)]
pub struct LogChannel {
    shared: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    buffer: Mutex<Buffer>,
    ready: Notify,
}

#[derive(Default)]
struct Buffer {
    records: VecDeque<Vec<u8>>,
    bytes: usize,
    dropped: u64,
}

impl Buffer {
    fn push(&mut self, record: Vec<u8>) {
        self.bytes += record.len();
        self.records.push_back(record);
        while self.bytes > MAX_BUFFERED {
            match self.records.pop_front() {
                Some(old) => {
                    self.bytes -= old.len();
                    self.dropped += 1;
                }
                None => break,
            }
        }
    }

    /// Everything buffered, preceded by a note on what was dropped.
    fn take(&mut self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.bytes + 128);
        if self.dropped > 0 {
            let note = serde_json::json!({
                "level": "WARN",
                "message": format!(
                    "{} agent log records dropped: the host read too slowly or connected late",
                    self.dropped
                ),
            });
            out.extend_from_slice(note.to_string().as_bytes());
            out.push(b'\n');
            self.dropped = 0;
        }
        for record in self.records.drain(..) {
            out.extend_from_slice(&record);
        }
        self.bytes = 0;
        out
    }
}

impl LogChannel {
    pub fn new() -> Self {
        Self::default()
    }

    fn push(&self, record: Vec<u8>) {
        if record.is_empty() {
            return;
        }
        if let Ok(mut buffer) = self.shared.buffer.lock() {
            buffer.push(record);
        }
        self.shared.ready.notify_one();
    }

    fn take(&self) -> Vec<u8> {
        self.shared
            .buffer
            .lock()
            .map(|mut b| b.take())
            .unwrap_or_default()
    }

    /// Listens on vsock `port` and sends the log to each host connection in turn.
    ///
    /// Errors: the vsock listener cannot be bound (no vsock transport in the guest).
    pub fn serve(&self, port: u32) -> std::io::Result<()> {
        let listener = VsockListener::bind(VsockAddr::new(VMADDR_CID_ANY, port))?;
        let channel = self.clone();
        tokio::spawn(async move {
            let mut next = listener.accept().await.ok();
            while let Some((stream, _)) = next.take() {
                next = tokio::select! {
                    () = channel.pump(stream) => listener.accept().await.ok(),
                    accepted = listener.accept() => accepted.ok(),
                };
            }
        });
        Ok(())
    }

    /// Sends the buffered records as they come until the peer goes away.
    async fn pump(&self, mut stream: VsockStream) {
        let mut probe = [0u8; 64];
        loop {
            let pending = self.take();
            if !pending.is_empty()
                && AsyncWriteExt::write_all(&mut stream, &pending)
                    .await
                    .is_err()
            {
                return;
            }
            tokio::select! {
                () = self.shared.ready.notified() => {}
                // The host never writes: a read returning means it closed (or reset) the stream.
                read = AsyncReadExt::read(&mut stream, &mut probe) => match read {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                },
            }
        }
    }
}

/// One record being formatted; handed to the channel whole when dropped.
pub struct RecordWriter {
    channel: LogChannel,
    record: Vec<u8>,
}

impl Write for RecordWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.record.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for RecordWriter {
    fn drop(&mut self) {
        self.channel.push(std::mem::take(&mut self.record));
    }
}

impl<'a> MakeWriter<'a> for LogChannel {
    type Writer = RecordWriter;

    fn make_writer(&'a self) -> Self::Writer {
        RecordWriter {
            channel: self.clone(),
            record: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_kept_whole_and_in_order() {
        let channel = LogChannel::new();
        for i in 0..3 {
            let mut w = channel.make_writer();
            write!(w, "{{\"n\":").expect("write");
            writeln!(w, "{i}}}").expect("write");
        }
        assert_eq!(channel.take(), b"{\"n\":0}\n{\"n\":1}\n{\"n\":2}\n");
        assert!(channel.take().is_empty());
    }

    #[test]
    fn the_buffer_is_bounded_and_says_what_it_dropped() {
        let channel = LogChannel::new();
        let line = vec![b'x'; 1023];
        for _ in 0..(MAX_BUFFERED / 1024 + 10) {
            let mut w = channel.make_writer();
            w.write_all(&line).expect("write");
            w.write_all(b"\n").expect("write");
        }
        let out = channel.take();
        assert!(out.len() <= MAX_BUFFERED + 256, "{} bytes kept", out.len());
        let first = out.split(|b| *b == b'\n').next().unwrap_or_default();
        let note: serde_json::Value = serde_json::from_slice(first).expect("json");
        assert_eq!(note["level"], "WARN");
        let message = note["message"].as_str().unwrap_or_default();
        assert!(
            message.starts_with("10 agent log records dropped"),
            "{message}"
        );
    }
}
