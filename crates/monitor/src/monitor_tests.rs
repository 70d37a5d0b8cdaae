use std::path::Path;
use std::time::Duration;

use kata_shim_interface::http::{serve_connection, text, Get};
use kata_shim_interface::prom;

use super::*;

const SHIM: &str =
    "# HELP kata_shim_process_threads Threads.\n# TYPE kata_shim_process_threads gauge\n\
kata_shim_process_threads 4\n# TYPE kata_guest_load gauge\nkata_guest_load{item=\"load1\"} 0.5\n";

/// A fake shim for sandbox `id` answering `/metrics` with `body` (or never answering).
fn shim(root: &Path, id: &str, body: Option<&'static str>) {
    let path = kata_shim_interface::socket_path(root, id);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("dir");
    let listener = tokio::net::UnixListener::bind(&path).expect("bind");
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            match body {
                Some(body) => {
                    tokio::spawn(serve_connection(stream, move |get: Get| async move {
                        match get.path.as_str() {
                            "/metrics" => text(200, body),
                            "/agent-url" => text(200, "hvsock:///x:1024"),
                            _ => text(404, ""),
                        }
                    }));
                }
                None => held.push(stream),
            }
        }
    });
}

fn get(path: &str, query: &str) -> Get {
    Get {
        path: path.into(),
        query: query.into(),
    }
}

#[tokio::test]
async fn every_answering_shim_is_labelled_and_the_others_are_skipped() {
    let root = tempfile::tempdir().expect("tempdir");
    shim(root.path(), "pod-a", Some(SHIM));
    shim(root.path(), "pod-b", Some(SHIM));
    shim(root.path(), "mute", None);
    shim(root.path(), "garbled", Some("kata_guest_load{ oops\n"));
    std::fs::create_dir(root.path().join("no-socket")).expect("dir");
    let m = Monitor::new(root.path().to_owned()).with_shim_timeout(Duration::from_millis(300));

    assert_eq!(
        sandboxes(root.path()),
        ["garbled", "mute", "pod-a", "pod-b"],
        "a directory without a socket is no sandbox"
    );
    let text = m.metrics().await;
    let families = prom::parse(&text).expect("valid prometheus text");
    let load = families
        .iter()
        .find(|f| f.name == "kata_guest_load")
        .expect("guest load");
    let ids: Vec<_> = load
        .samples
        .iter()
        .map(|s| s.label("sandbox_id").unwrap_or_default())
        .collect();
    assert_eq!(ids, ["pod-a", "pod-b"]);
    assert_eq!(text.matches("# TYPE kata_guest_load gauge").count(), 1);
    assert!(
        text.contains("kata_monitor_running_shim_count 4\n"),
        "{text}"
    );
    assert!(text.contains("kata_monitor_scrape_count 1\n"), "{text}");
    // The two shims left out are counted in the scrape that left them out.
    assert!(
        text.contains("kata_monitor_scrape_failed_count 2\n"),
        "{text}"
    );
    let again = m.metrics().await;
    assert!(
        again.contains("kata_monitor_scrape_failed_count 4\n"),
        "{again}"
    );
}

#[tokio::test]
async fn sandboxes_and_agent_urls_are_served() {
    let root = tempfile::tempdir().expect("tempdir");
    shim(root.path(), "pod-a", Some(SHIM));
    let m = Monitor::new(root.path().to_owned());
    let (status, listed) = body(m.answer(get("/sandboxes", "")).await).await;
    assert_eq!((status, listed.as_str()), (200, "pod-a\n"));
    let (status, url) = body(m.answer(get("/agent-url", "sandbox=pod-a")).await).await;
    assert_eq!((status, url.as_str()), (200, "hvsock:///x:1024"));
    assert_eq!(
        m.answer(get("/agent-url", "sandbox=gone")).await.status(),
        404
    );
    assert_eq!(m.answer(get("/agent-url", "")).await.status(), 400);
    assert_eq!(m.answer(get("/nothing", "")).await.status(), 404);
}

async fn body(r: Reply) -> (u16, String) {
    use http_body_util::BodyExt;
    let status = r.status().as_u16();
    let bytes = r.into_body().collect().await.expect("body").to_bytes();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}
