//! Thin helpers over `grpc.AgentService` calls the tests repeat: create/start, exec, read a stream
//! to its end, wait, signal, resize.

use std::time::Duration;

use kata_protocols::agent as pb;
use kata_protocols::agent_ttrpc::AgentServiceClient;
use kata_protocols::oci;
use ttrpc::context::{self, Context};

use crate::spec::create_container_request;

/// Deadline of one RPC. Generous: TCG guests are slow and a read may wait for output.
pub const RPC_TIMEOUT: Duration = Duration::from_secs(30);

/// A context with [`RPC_TIMEOUT`].
pub fn ctx() -> Context {
    context::with_duration(RPC_TIMEOUT)
}

/// The status code and message of an RPC error, if the agent answered with a status.
pub fn status_of(err: &ttrpc::Error) -> Option<(ttrpc::Code, String)> {
    match err {
        ttrpc::Error::RpcStatus(s) => Some((s.code(), s.message().to_string())),
        _ => None,
    }
}

/// Which output stream to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// CreateContainer.
pub async fn create_container(
    agent: &AgentServiceClient,
    cid: &str,
    spec: oci::Spec,
) -> ttrpc::Result<()> {
    agent
        .create_container(ctx(), &create_container_request(cid, spec))
        .await
        .map(|_| ())
}

/// StartContainer.
pub async fn start_container(agent: &AgentServiceClient, cid: &str) -> ttrpc::Result<()> {
    let mut r = pb::StartContainerRequest::new();
    r.container_id = cid.into();
    agent.start_container(ctx(), &r).await.map(|_| ())
}

/// CreateContainer then StartContainer.
pub async fn run_container(
    agent: &AgentServiceClient,
    cid: &str,
    spec: oci::Spec,
) -> ttrpc::Result<()> {
    create_container(agent, cid, spec).await?;
    start_container(agent, cid).await
}

/// RemoveContainer (kills what is left of it).
pub async fn remove_container(agent: &AgentServiceClient, cid: &str) -> ttrpc::Result<()> {
    let mut r = pb::RemoveContainerRequest::new();
    r.container_id = cid.into();
    r.timeout = 10;
    agent.remove_container(ctx(), &r).await.map(|_| ())
}

/// ExecProcess `process` as `exec_id` in container `cid`.
pub async fn exec_process(
    agent: &AgentServiceClient,
    cid: &str,
    exec_id: &str,
    process: oci::Process,
) -> ttrpc::Result<()> {
    let mut r = pb::ExecProcessRequest::new();
    r.container_id = cid.into();
    r.exec_id = exec_id.into();
    r.process = Some(process).into();
    agent.exec_process(ctx(), &r).await.map(|_| ())
}

/// SignalProcess; an empty `exec_id` names the container's init.
pub async fn signal_process(
    agent: &AgentServiceClient,
    cid: &str,
    exec_id: &str,
    signal: u32,
) -> ttrpc::Result<()> {
    let mut r = pb::SignalProcessRequest::new();
    r.container_id = cid.into();
    r.exec_id = exec_id.into();
    r.signal = signal;
    agent.signal_process(ctx(), &r).await.map(|_| ())
}

/// WaitProcess: the exit status (128 + N after signal N).
pub async fn wait_process(
    agent: &AgentServiceClient,
    cid: &str,
    exec_id: &str,
) -> ttrpc::Result<i32> {
    let mut r = pb::WaitProcessRequest::new();
    r.container_id = cid.into();
    r.exec_id = exec_id.into();
    agent.wait_process(ctx(), &r).await.map(|w| w.status)
}

/// One ReadStdout/ReadStderr call.
pub async fn read_chunk(
    agent: &AgentServiceClient,
    cid: &str,
    exec_id: &str,
    stream: Stream,
) -> ttrpc::Result<Vec<u8>> {
    let mut r = pb::ReadStreamRequest::new();
    r.container_id = cid.into();
    r.exec_id = exec_id.into();
    r.len = 64 * 1024;
    let resp = match stream {
        Stream::Stdout => agent.read_stdout(ctx(), &r).await,
        Stream::Stderr => agent.read_stderr(ctx(), &r).await,
    };
    resp.map(|r| r.data)
}

/// Whether `err` is how the agent reports end of file on a stream (Kata answers EOF with an
/// error status rather than an empty read).
pub fn is_eof(err: &ttrpc::Error) -> bool {
    status_of(err).is_some_and(|(code, msg)| {
        code == ttrpc::Code::FAILED_PRECONDITION || msg.to_ascii_lowercase().contains("eof")
    })
}

/// Reads `stream` until end of file. Any other error is returned with what was read before it.
pub async fn read_to_end(
    agent: &AgentServiceClient,
    cid: &str,
    exec_id: &str,
    stream: Stream,
) -> Result<Vec<u8>, (Vec<u8>, ttrpc::Error)> {
    let mut out = Vec::new();
    loop {
        match read_chunk(agent, cid, exec_id, stream).await {
            Ok(data) => out.extend_from_slice(&data),
            Err(e) if is_eof(&e) => return Ok(out),
            Err(e) => return Err((out, e)),
        }
    }
}

/// Reads `stream` until the text read so far contains `needle` (or `timeout`, end of file, an
/// error). Returns everything read; `Err` carries it too, with the reason.
pub async fn read_until(
    agent: &AgentServiceClient,
    cid: &str,
    exec_id: &str,
    stream: Stream,
    needle: &str,
    timeout: Duration,
) -> Result<String, String> {
    read_while(agent, cid, exec_id, stream, timeout, |text| {
        !text.contains(needle)
    })
    .await
    .map_err(|e| format!("waiting for {needle:?}: {e}"))
}

/// Reads `stream` while `more(text so far)` holds (bounded by `timeout`, end of file, an error).
pub async fn read_while(
    agent: &AgentServiceClient,
    cid: &str,
    exec_id: &str,
    stream: Stream,
    timeout: Duration,
    more: impl Fn(&str) -> bool,
) -> Result<String, String> {
    let mut out = Vec::new();
    let work = async {
        loop {
            if !more(&String::from_utf8_lossy(&out)) {
                return Ok(());
            }
            match read_chunk(agent, cid, exec_id, stream).await {
                Ok(data) => out.extend_from_slice(&data),
                Err(e) => return Err(format!("{e:?}")),
            }
        }
    };
    let result = tokio::time::timeout(timeout, work).await;
    let text = String::from_utf8_lossy(&out).into_owned();
    match result {
        Ok(Ok(())) => Ok(text),
        Ok(Err(e)) => Err(format!("{e}; read {text:?}")),
        Err(_) => Err(format!("timed out after {timeout:?}; read {text:?}")),
    }
}

/// WriteStdin; returns the byte count the agent reports.
pub async fn write_stdin(
    agent: &AgentServiceClient,
    cid: &str,
    exec_id: &str,
    data: &[u8],
) -> ttrpc::Result<u32> {
    let mut r = pb::WriteStreamRequest::new();
    r.container_id = cid.into();
    r.exec_id = exec_id.into();
    r.data = data.to_vec();
    agent.write_stdin(ctx(), &r).await.map(|w| w.len)
}

/// TtyWinResize.
pub async fn resize_tty(
    agent: &AgentServiceClient,
    cid: &str,
    exec_id: &str,
    rows: u32,
    cols: u32,
) -> ttrpc::Result<()> {
    let mut r = pb::TtyWinResizeRequest::new();
    r.container_id = cid.into();
    r.exec_id = exec_id.into();
    r.row = rows;
    r.column = cols;
    agent.tty_win_resize(ctx(), &r).await.map(|_| ())
}

/// StatsContainer.
pub async fn stats_container(
    agent: &AgentServiceClient,
    cid: &str,
) -> ttrpc::Result<pb::StatsContainerResponse> {
    let mut r = pb::StatsContainerRequest::new();
    r.container_id = cid.into();
    agent.stats_container(ctx(), &r).await
}

/// DestroySandbox.
pub async fn destroy_sandbox(agent: &AgentServiceClient) -> ttrpc::Result<()> {
    agent
        .destroy_sandbox(ctx(), &pb::DestroySandboxRequest::new())
        .await
        .map(|_| ())
}
