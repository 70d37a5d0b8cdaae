//! Preparing and explaining a container process: the working directory is created the way runc
//! creates it, and libcontainer's opaque failures ("failed to unix syscall") are turned into
//! messages that name the container, the spec field and the cause.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use oci_spec::runtime::Process;

use crate::error::{AgentError, Result};
use crate::safe_path;

/// Mode of a working directory created for the container (as runc creates it).
const CWD_MODE: u32 = 0o755;

/// Creates `process.cwd` inside `rootfs` when it is missing, as runc does before the process
/// starts. The path is resolved inside the rootfs (a symlink never leads out of it).
pub fn ensure_cwd(id: &str, rootfs: &Path, process: &Process) -> Result<()> {
    let cwd = process.cwd();
    let target = safe_path::resolve_in_root(rootfs, cwd)?;
    safe_path::ensure_within(rootfs, &target)?;
    match std::fs::metadata(&target) {
        Ok(m) if m.is_dir() => return Ok(()),
        Ok(_) => return Err(spec_error(id, "process.cwd", cwd, "not a directory")),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(spec_error(id, "process.cwd", cwd, &e.to_string())),
    }
    safe_path::create_dir_all_in_root_mode(rootfs, cwd, CWD_MODE)
        .map_err(|e| spec_error(id, "process.cwd", cwd, &format!("creating it: {e}")))?;
    Ok(())
}

/// An error naming container `id`, the spec `field` at fault, its `value` and the `cause`.
pub fn spec_error(id: &str, field: &str, value: &Path, cause: &str) -> AgentError {
    AgentError::Spec {
        id: id.to_string(),
        field: field.to_string(),
        value: value.display().to_string(),
        cause: cause.to_string(),
    }
}

/// Explains why libcontainer failed to start `process` in a container whose root directory is
/// `root` (the rootfs, or `/proc/<init>/root` of a running container), when the cause is one the
/// spec names: a missing working directory or executable. `None` when neither is at fault.
pub fn explain(id: &str, root: &Path, process: &Process) -> Option<AgentError> {
    let cwd = process.cwd();
    match resolve(root, cwd).map(|p| std::fs::metadata(&p)) {
        Some(Ok(m)) if m.is_dir() => {}
        Some(Ok(_)) => return Some(spec_error(id, "process.cwd", cwd, "not a directory")),
        Some(Err(e)) => return Some(spec_error(id, "process.cwd", cwd, &e.to_string())),
        None => return None,
    }
    let args = process.args().as_deref().unwrap_or_default();
    let Some(arg0) = args.first() else {
        return Some(spec_error(id, "process.args", Path::new(""), "empty"));
    };
    let cause = if arg0.contains('/') {
        let full = if Path::new(arg0).is_absolute() {
            PathBuf::from(arg0)
        } else {
            cwd.join(arg0)
        };
        match check_executable(root, &full) {
            Ok(()) => return None,
            Err(cause) => cause,
        }
    } else {
        let path = process
            .env()
            .as_deref()
            .unwrap_or_default()
            .iter()
            .find_map(|e| e.strip_prefix("PATH="))
            .unwrap_or("");
        let mut cause = format!("executable file not found in $PATH ({path})");
        for dir in path.split(':').filter(|d| !d.is_empty()) {
            match check_executable(root, &Path::new(dir).join(arg0)) {
                Ok(()) => return None,
                Err(c) if c != NOT_FOUND => cause = c,
                Err(_) => {}
            }
        }
        cause
    };
    Some(spec_error(id, "process.args[0]", Path::new(arg0), &cause))
}

const NOT_FOUND: &str = "no such file or directory";

/// libcontainer's message with its causes, as one line.
fn chain(e: &dyn std::error::Error) -> String {
    let mut msg = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    msg
}

/// The error for a failed libcontainer `what` (create, exec) of `process` in container `id`:
/// when libcontainer's message is opaque or about the executable, and the working directory or
/// the executable is indeed at fault in `root`, an error naming that field; otherwise
/// libcontainer's own error.
pub fn libcontainer_failure(
    id: &str,
    what: &'static str,
    root: &Path,
    process: Option<&Process>,
    source: libcontainer::error::LibcontainerError,
) -> AgentError {
    let text = chain(&source);
    let suspect = ["unix syscall", "chdir", "cwd", "executable", "PATH"]
        .iter()
        .any(|k| text.contains(k));
    if suspect {
        if let Some(explained) = process.and_then(|p| explain(id, root, p)) {
            tracing::warn!(container = id, libcontainer = %text, "{what} failed: {explained}");
            return explained;
        }
    }
    AgentError::container(id, what, source)
}

fn resolve(root: &Path, p: &Path) -> Option<PathBuf> {
    let target = safe_path::resolve_in_root(root, p).ok()?;
    safe_path::ensure_within(root, &target).ok()?;
    Some(target)
}

/// `Ok` when `p` (inside `root`) is a regular file with an execute bit.
fn check_executable(root: &Path, p: &Path) -> std::result::Result<(), String> {
    let target = resolve(root, p).ok_or_else(|| "escapes the container root".to_string())?;
    let m = match std::fs::metadata(&target) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(NOT_FOUND.into()),
        Err(e) => return Err(e.to_string()),
    };
    if m.is_dir() {
        return Err("is a directory".into());
    }
    if m.permissions().mode() & 0o111 == 0 {
        return Err("permission denied (not executable)".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn process(json: &str) -> Process {
        serde_json::from_str(json).expect("process")
    }

    fn rootfs() -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("bin")).expect("mkdir");
        let sh = dir.path().join("bin/sh");
        std::fs::write(&sh, b"#!").expect("write");
        std::fs::set_permissions(&sh, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        std::fs::write(dir.path().join("bin/data"), b"x").expect("write");
        dir
    }

    #[test]
    fn missing_cwd_is_created_0755_inside_the_rootfs() {
        let r = rootfs();
        let p = process(r#"{"cwd": "/does/not/exist", "user": {"uid": 0, "gid": 0}}"#);
        ensure_cwd("c1", r.path(), &p).expect("created");
        let m = std::fs::metadata(r.path().join("does/not/exist")).expect("exists");
        assert!(m.is_dir());
        assert_eq!(m.permissions().mode() & 0o7777, 0o755);
        // Existing: nothing to do.
        ensure_cwd("c1", r.path(), &p).expect("exists");
    }

    #[test]
    fn cwd_through_a_symlink_stays_inside_the_rootfs() {
        let r = rootfs();
        let outside = tempfile::tempdir().expect("tempdir");
        symlink(outside.path(), r.path().join("escape")).expect("symlink");
        let p = process(r#"{"cwd": "/escape/work", "user": {"uid": 0, "gid": 0}}"#);
        ensure_cwd("c1", r.path(), &p).expect("created");
        assert!(!outside.path().join("work").exists());
        let inside = r
            .path()
            .join(outside.path().strip_prefix("/").expect("abs"));
        assert!(inside.join("work").is_dir());
    }

    #[test]
    fn cwd_that_is_a_file_is_refused_naming_the_field() {
        let r = rootfs();
        let p = process(r#"{"cwd": "/bin/sh", "user": {"uid": 0, "gid": 0}}"#);
        let e = ensure_cwd("c1", r.path(), &p).expect_err("refused");
        assert_eq!(
            e.to_string(),
            "container c1: process.cwd /bin/sh: not a directory"
        );
    }

    #[test]
    fn explain_names_a_missing_cwd() {
        let r = rootfs();
        let p = process(
            r#"{"cwd": "/nope", "args": ["sh"], "env": ["PATH=/bin"], "user": {"uid": 0, "gid": 0}}"#,
        );
        let e = explain("c1", r.path(), &p).expect("explained");
        assert_eq!(
            e.to_string(),
            "container c1: process.cwd /nope: No such file or directory (os error 2)"
        );
    }

    #[test]
    fn explain_names_a_missing_or_unusable_executable() {
        let r = rootfs();
        let p = process(
            r#"{"cwd": "/", "args": ["nosuch"], "env": ["PATH=/usr/bin:/bin"], "user": {"uid": 0, "gid": 0}}"#,
        );
        let e = explain("c1", r.path(), &p).expect("explained");
        assert_eq!(
            e.to_string(),
            "container c1: process.args[0] nosuch: executable file not found in $PATH (/usr/bin:/bin)"
        );
        let p = process(r#"{"cwd": "/", "args": ["/bin/data"], "user": {"uid": 0, "gid": 0}}"#);
        let e = explain("c1", r.path(), &p).expect("explained");
        assert!(e
            .to_string()
            .contains("process.args[0] /bin/data: permission denied"));
        let p = process(r#"{"cwd": "/", "args": ["/bin/none"], "user": {"uid": 0, "gid": 0}}"#);
        let e = explain("c1", r.path(), &p).expect("explained");
        assert!(e
            .to_string()
            .ends_with("/bin/none: no such file or directory"));
    }

    #[test]
    fn explain_finds_nothing_when_cwd_and_executable_are_fine() {
        let r = rootfs();
        let p = process(
            r#"{"cwd": "/bin", "args": ["sh"], "env": ["PATH=/bin"], "user": {"uid": 0, "gid": 0}}"#,
        );
        assert!(explain("c1", r.path(), &p).is_none());
        let p = process(r#"{"cwd": "/bin", "args": ["./sh"], "user": {"uid": 0, "gid": 0}}"#);
        assert!(explain("c1", r.path(), &p).is_none());
    }
}
