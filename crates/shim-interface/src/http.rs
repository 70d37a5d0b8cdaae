//! Server-side helpers shared by the shim's management server and `kata-monitor`: a text reply
//! and the serving of one HTTP/1.1 connection with a GET-only handler.

use std::convert::Infallible;
use std::future::Future;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};

/// What a handler answers.
pub type Reply = hyper::Response<Full<Bytes>>;

/// Content type of the Prometheus text exposition format, version 0.0.4.
pub const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";
/// How long a client may take to send its request headers (seconds scale: local clients).
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// A reply with `status`, a `text/plain` body.
pub fn text(status: u16, body: impl Into<Bytes>) -> Reply {
    with_type(status, "text/plain; charset=utf-8", body)
}

/// A reply with `status`, `content_type` and `body`.
pub fn with_type(status: u16, content_type: &str, body: impl Into<Bytes>) -> Reply {
    let mut r = hyper::Response::new(Full::new(body.into()));
    *r.status_mut() =
        hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    if let Ok(v) = hyper::header::HeaderValue::from_str(content_type) {
        r.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
    }
    r
}

/// The request as a handler sees it: a GET of `path` with its `query` (possibly empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Get {
    pub path: String,
    pub query: String,
}

/// Serves one connection: GET (and HEAD) requests go to `handler`, other methods get 405.
/// Errors of the connection (a client gone, a malformed request) are returned to be logged.
pub async fn serve_connection<IO, H, F>(io: IO, handler: H) -> Result<(), hyper::Error>
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    H: Fn(Get) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Reply> + Send + 'static,
{
    let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
        let handler = handler.clone();
        async move {
            if req.method() != hyper::Method::GET && req.method() != hyper::Method::HEAD {
                return Ok::<_, Infallible>(text(405, "only GET is served\n"));
            }
            let get = Get {
                path: req.uri().path().to_owned(),
                query: req.uri().query().unwrap_or_default().to_owned(),
            };
            Ok(handler(get).await)
        }
    });
    hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .serve_connection(TokioIo::new(io), service)
        .await
}
