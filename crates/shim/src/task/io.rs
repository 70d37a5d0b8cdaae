//! containerd's stdio strings to host paths.

use std::path::PathBuf;

use containerd_shim::TtrpcResult;
use kata_sandbox::ProcessIo;

use crate::errors::invalid;

/// A plain path or `fifo://` names a FIFO; `file://` a file; `binary://` loggers are refused.
pub fn io_path(uri: &str) -> TtrpcResult<Option<PathBuf>> {
    if uri.is_empty() {
        return Ok(None);
    }
    if let Some(p) = uri
        .strip_prefix("fifo://")
        .or_else(|| uri.strip_prefix("file://"))
    {
        return Ok(Some(PathBuf::from(p)));
    }
    if uri.contains("://") {
        return Err(invalid(format!("unsupported stdio uri {uri:?}")));
    }
    Ok(Some(PathBuf::from(uri)))
}

pub fn process_io(
    stdin: &str,
    stdout: &str,
    stderr: &str,
    terminal: bool,
) -> TtrpcResult<ProcessIo> {
    Ok(ProcessIo {
        stdin: io_path(stdin)?,
        stdout: io_path(stdout)?,
        stderr: io_path(stderr)?,
        terminal,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stdio_uris() {
        assert_eq!(io_path("").expect("empty"), None);
        assert_eq!(
            io_path("/run/containerd/fifo/1/t1-stdout").expect("path"),
            Some(PathBuf::from("/run/containerd/fifo/1/t1-stdout"))
        );
        assert_eq!(
            io_path("file:///tmp/log").expect("file"),
            Some(PathBuf::from("/tmp/log"))
        );
        assert!(io_path("binary:///usr/bin/logger?x=1").is_err());
    }
}
