//! Guest hooks (Kata's `guest_hook_path`, `[hypervisor.qemu]`): executables the guest image keeps
//! under `<path>/prestart`, `<path>/poststart` and `<path>/poststop`, found once when the sandbox
//! is created and run for every container, in the guest, after the container's own hooks of the
//! same kind. Each is called with its path and its kind as arguments, in name order.
//!
//! Source: Kata's agent (`src/agent/src/sandbox.rs` `add_hooks`/`find_hooks`, and the merge into
//! the container's spec in `rpc.rs` `do_create_container`).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use oci_spec::runtime::{Hook, HookBuilder, Hooks, Spec};

use crate::error::{AgentError, Result};

/// The hook kinds a guest hook directory may hold.
const KINDS: [&str; 3] = ["prestart", "poststart", "poststop"];

/// The guest hooks under `dir`: every executable regular file of `dir/<kind>`, sorted by name.
/// A missing kind directory holds none. Errors: `dir` itself is missing or not a directory, or an
/// entry cannot be read.
pub fn find(dir: &Path) -> Result<Hooks> {
    if !dir.is_dir() {
        return Err(AgentError::InvalidArgument(format!(
            "guest_hook_path {} is not a directory in the guest",
            dir.display()
        )));
    }
    let mut hooks = Hooks::default();
    for kind in KINDS {
        let found = find_kind(&dir.join(kind), kind)?;
        if found.is_empty() {
            continue;
        }
        match kind {
            "prestart" => {
                #[allow(deprecated)]
                hooks.set_prestart(Some(found));
            }
            "poststart" => {
                hooks.set_poststart(Some(found));
            }
            _ => {
                hooks.set_poststop(Some(found));
            }
        }
    }
    Ok(hooks)
}

fn find_kind(dir: &Path, kind: &str) -> Result<Vec<Hook>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(AgentError::io("reading guest hooks", dir, e)),
    };
    let mut paths = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| AgentError::io("reading guest hooks", dir, e))?;
        let path = entry.path();
        let executable = std::fs::metadata(&path)
            .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            .unwrap_or(false);
        if executable {
            paths.push(path);
        } else {
            tracing::warn!(path = %path.display(), "not an executable file: not a guest hook");
        }
    }
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            HookBuilder::default()
                .args(vec![path.to_string_lossy().into_owned(), kind.to_string()])
                .path(path)
                .build()
                .map_err(|e| AgentError::InvalidArgument(e.to_string()))
        })
        .collect()
}

/// Appends `guest` to the hooks of `spec`, after the container's own of each kind.
pub fn append(spec: &mut Spec, guest: &Hooks) {
    let mut hooks = spec.hooks().clone().unwrap_or_default();
    let join = |own: &Option<Vec<Hook>>, more: &Option<Vec<Hook>>| -> Option<Vec<Hook>> {
        match (own, more) {
            (_, None) => own.clone(),
            (None, Some(m)) => Some(m.clone()),
            (Some(o), Some(m)) => Some(o.iter().chain(m).cloned().collect()),
        }
    };
    #[allow(deprecated)]
    {
        let prestart = join(hooks.prestart(), guest.prestart());
        hooks.set_prestart(prestart);
    }
    hooks.set_poststart(join(hooks.poststart(), guest.poststart()));
    hooks.set_poststop(join(hooks.poststop(), guest.poststop()));
    spec.set_hooks(Some(hooks));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn script(path: &Path, mode: u32) {
        std::fs::create_dir_all(path.parent().expect("parent")).expect("dir");
        std::fs::write(path, "#!/bin/sh\n").expect("write");
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    }

    #[test]
    fn executables_of_each_kind_are_found_in_name_order_with_path_and_kind() {
        let d = tempfile::tempdir().expect("tmp");
        script(&d.path().join("prestart/20-b"), 0o755);
        script(&d.path().join("prestart/10-a"), 0o700);
        script(&d.path().join("prestart/30-not-exec"), 0o644);
        script(&d.path().join("poststop/x"), 0o755);
        let hooks = find(d.path()).expect("find");
        #[allow(deprecated)]
        let pre = hooks.prestart().clone().expect("prestart");
        let names: Vec<_> = pre.iter().map(|h| h.path().clone()).collect();
        assert_eq!(
            names,
            [
                d.path().join("prestart/10-a"),
                d.path().join("prestart/20-b")
            ]
        );
        assert_eq!(
            pre[0].args().clone().expect("args"),
            [
                d.path()
                    .join("prestart/10-a")
                    .to_string_lossy()
                    .into_owned(),
                "prestart".to_string()
            ]
        );
        assert!(hooks.poststart().is_none());
        assert_eq!(hooks.poststop().as_ref().map(Vec::len), Some(1));
        assert!(find(&d.path().join("missing")).is_err());
    }

    #[test]
    fn guest_hooks_come_after_the_containers_own() {
        let d = tempfile::tempdir().expect("tmp");
        script(&d.path().join("poststart/g"), 0o755);
        let guest = find(d.path()).expect("find");
        let mut spec = Spec::default();
        let own = HookBuilder::default().path("/own").build().expect("hook");
        let mut hooks = Hooks::default();
        hooks.set_poststart(Some(vec![own]));
        spec.set_hooks(Some(hooks));
        append(&mut spec, &guest);
        let post = spec
            .hooks()
            .clone()
            .and_then(|h| h.poststart().clone())
            .expect("poststart");
        let paths: Vec<_> = post.iter().map(|h| h.path().clone()).collect();
        assert_eq!(
            paths,
            [
                Path::new("/own").to_path_buf(),
                d.path().join("poststart/g")
            ]
        );
    }
}
