//! containerd's stdio strings to a [`ProcessIo`]: a plain path or `fifo://` names a FIFO,
//! `file:///path` a log file, `binary:///path?k=v` a logging binary (containerd's
//! `runtime/v2/logging` contract, as its runc shim keeps it: `ctr run --log-uri`).

use std::path::PathBuf;

use containerd_shim::TtrpcResult;
use kata_sandbox::{LogSink, ProcessIo};

use super::logger;
use crate::errors::invalid;

/// A parsed stdio string.
#[derive(Debug, PartialEq, Eq)]
pub enum IoUri {
    Fifo(PathBuf),
    File(PathBuf),
    /// The logging binary and its arguments (each query pair gives `key`, then `value` if set).
    Binary {
        path: PathBuf,
        args: Vec<String>,
    },
}

/// Parses one stdio string; `None` for an empty one. Errors: an unknown scheme, a relative
/// path in a `file://` or `binary://` URI.
pub fn parse_uri(uri: &str) -> TtrpcResult<Option<IoUri>> {
    if uri.is_empty() {
        return Ok(None);
    }
    let Some((scheme, rest)) = uri.split_once("://") else {
        return Ok(Some(IoUri::Fifo(PathBuf::from(uri))));
    };
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let path = percent_decode(path);
    let absolute = || -> TtrpcResult<PathBuf> {
        if path.starts_with('/') {
            Ok(PathBuf::from(&path))
        } else {
            Err(invalid(format!(
                "stdio uri {uri:?}: the path must be absolute"
            )))
        }
    };
    match scheme {
        "fifo" => Ok(Some(IoUri::Fifo(absolute()?))),
        "file" => Ok(Some(IoUri::File(absolute()?))),
        "binary" => {
            let mut args = Vec::new();
            for pair in query.split('&').filter(|p| !p.is_empty()) {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                args.push(percent_decode(k));
                if !v.is_empty() {
                    args.push(percent_decode(v));
                }
            }
            Ok(Some(IoUri::Binary {
                path: absolute()?,
                args,
            }))
        }
        other => Err(invalid(format!(
            "stdio uri {uri:?}: unsupported scheme {other:?} (fifo, file and binary are)"
        ))),
    }
}

/// `%XX` escapes and `+` (as in a URL query) decoded; a broken escape is kept as written.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The process's streams for container `id` in `namespace`. stdout and stderr naming a log
/// URI (containerd gives both the same one) go to that file or logging binary; the binary is
/// started here and has signalled that it is ready when this returns.
pub async fn process_io(
    namespace: &str,
    id: &str,
    stdin: &str,
    stdout: &str,
    stderr: &str,
    terminal: bool,
) -> TtrpcResult<ProcessIo> {
    let out = parse_uri(stdout)?;
    let err = parse_uri(stderr)?;
    let fifo = |u: &Option<IoUri>| match u {
        Some(IoUri::Fifo(p)) => Some(p.clone()),
        _ => None,
    };
    let log = match (&out, &err) {
        (Some(IoUri::File(p)), _) | (_, Some(IoUri::File(p))) => Some(LogSink::File(p.clone())),
        (Some(IoUri::Binary { path, args }), _) | (_, Some(IoUri::Binary { path, args })) => {
            Some(logger::start(path, args, namespace, id).await?)
        }
        _ => None,
    };
    let named = |s: &str| Some(PathBuf::from(s)).filter(|p| !p.as_os_str().is_empty());
    Ok(ProcessIo {
        stdin: match parse_uri(stdin)? {
            Some(IoUri::Fifo(p)) => Some(p),
            None => None,
            Some(_) => return Err(invalid(format!("stdin {stdin:?} must be a fifo"))),
        },
        // Reported back as given (State, events); copied to the FIFOs only without a log sink.
        stdout: if log.is_some() {
            named(stdout)
        } else {
            fifo(&out)
        },
        stderr: if log.is_some() {
            named(stderr)
        } else {
            fifo(&err)
        },
        terminal,
        log,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stdio_uris() {
        assert_eq!(parse_uri("").expect("empty"), None);
        assert_eq!(
            parse_uri("/run/containerd/fifo/1/t1-stdout").expect("path"),
            Some(IoUri::Fifo(PathBuf::from(
                "/run/containerd/fifo/1/t1-stdout"
            )))
        );
        assert_eq!(
            parse_uri("fifo:///tmp/f").expect("fifo"),
            Some(IoUri::Fifo(PathBuf::from("/tmp/f")))
        );
        assert_eq!(
            parse_uri("file:///tmp/my%20log").expect("file"),
            Some(IoUri::File(PathBuf::from("/tmp/my log")))
        );
        assert_eq!(
            parse_uri("binary:///usr/bin/logger?tag=a%2Fb&verbose").expect("binary"),
            Some(IoUri::Binary {
                path: PathBuf::from("/usr/bin/logger"),
                args: vec!["tag".into(), "a/b".into(), "verbose".into()],
            })
        );
        assert!(parse_uri("file://relative/log").is_err());
        assert!(parse_uri("syslog:///dev/log").is_err());
    }

    #[test]
    fn percent_decoding_keeps_broken_escapes() {
        assert_eq!(percent_decode("a%2"), "a%2");
        assert_eq!(percent_decode("%zz"), "%zz");
        assert_eq!(percent_decode("a+b%41"), "a bA");
    }

    #[tokio::test]
    async fn a_log_file_takes_both_streams_and_is_reported_as_given() {
        let uri = "file:///tmp/kata-shim-io-test.log";
        let io = process_io("default", "c1", "", uri, uri, false)
            .await
            .expect("io");
        assert_eq!(
            io.log,
            Some(LogSink::File(PathBuf::from("/tmp/kata-shim-io-test.log")))
        );
        assert_eq!(io.stdout, Some(PathBuf::from(uri)));
        assert_eq!(io.stdin, None);
    }
}
