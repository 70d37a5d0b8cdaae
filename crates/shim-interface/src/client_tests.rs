use std::time::Duration;

use super::*;
use crate::http::{serve_connection, text, Get};

/// Serves `handler` on `<root>/<sid>/shim-monitor.sock` until the test ends.
fn serve(root: &Path, sid: &str) {
    let path = crate::socket_path(root, sid);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("dir");
    let listener = tokio::net::UnixListener::bind(&path).expect("bind");
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(serve_connection(stream, |get: Get| async move {
                match get.path.as_str() {
                    "/agent-url" => text(200, "hvsock:///run/vc/vm/sb/kata.hvsock:1024"),
                    "/echo" => text(200, get.query),
                    _ => text(404, "nothing here\n"),
                }
            }));
        }
    });
}

#[tokio::test]
async fn a_get_returns_the_status_and_the_body() {
    let root = tempfile::tempdir().expect("tempdir");
    serve(root.path(), "sb");
    let client = ShimClient::new(root.path(), "sb").expect("client");
    assert_eq!(
        client.get_text(crate::AGENT_URL).await.expect("get"),
        "hvsock:///run/vc/vm/sb/kata.hvsock:1024"
    );
    assert_eq!(client.get_text("/echo?a=1").await.expect("get"), "a=1");
    let r = client.get("/nope").await.expect("get");
    assert_eq!((r.status, r.body.as_str()), (404, "nothing here\n"));
    let err = client.get_text("/nope").await.expect_err("404");
    assert!(
        matches!(&err, ClientError::Status { status: 404, endpoint, .. } if endpoint == "/nope"),
        "{err}"
    );
}

#[tokio::test]
async fn a_missing_socket_means_no_such_sandbox() {
    let root = tempfile::tempdir().expect("tempdir");
    let client = ShimClient::new(root.path(), "gone").expect("client");
    let err = client.get(crate::METRICS).await.expect_err("no socket");
    let shown = err.to_string();
    assert!(shown.starts_with("no sandbox gone: "), "{shown}");
    assert!(
        shown.ends_with("gone/shim-monitor.sock not found"),
        "{shown}"
    );
    assert!(matches!(
        ShimClient::new(root.path(), "../x"),
        Err(ClientError::InvalidSandboxId(_))
    ));
}

#[tokio::test]
async fn a_shim_that_does_not_answer_times_out() {
    let root = tempfile::tempdir().expect("tempdir");
    let path = crate::socket_path(root.path(), "mute");
    std::fs::create_dir_all(path.parent().expect("parent")).expect("dir");
    let listener = tokio::net::UnixListener::bind(&path).expect("bind");
    let _held = tokio::spawn(async move {
        let mut kept = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            kept.push(stream);
        }
    });
    let client = ShimClient::new(root.path(), "mute")
        .expect("client")
        .with_timeout(Duration::from_millis(200));
    let err = client.get(crate::METRICS).await.expect_err("timeout");
    assert!(
        matches!(err, ClientError::Timeout { .. }),
        "{err}: expected a timeout"
    );
    assert!(err.to_string().contains("/metrics"), "{err}");
}
