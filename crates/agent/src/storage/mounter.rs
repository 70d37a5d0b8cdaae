//! The mount(2)/umount(2) seam, with a recording fake for tests.

use std::path::Path;

use nix::mount::{MntFlags, MsFlags};

use crate::error::{AgentError, Result};

/// Mounting and unmounting.
pub trait Mounter: Send + Sync {
    fn mount(
        &self,
        source: &str,
        target: &Path,
        fstype: &str,
        flags: MsFlags,
        data: &str,
    ) -> Result<()>;
    fn unmount(&self, target: &Path) -> Result<()>;
}

/// The real system calls.
pub struct SysMounter;

impl Mounter for SysMounter {
    fn mount(
        &self,
        source: &str,
        target: &Path,
        fstype: &str,
        flags: MsFlags,
        data: &str,
    ) -> Result<()> {
        let data = (!data.is_empty()).then_some(data);
        let fstype = (!fstype.is_empty()).then_some(fstype);
        nix::mount::mount(Some(source), target, fstype, flags, data)
            .map_err(|e| AgentError::errno("mounting storage on", target, e))
    }

    fn unmount(&self, target: &Path) -> Result<()> {
        match nix::mount::umount2(target, MntFlags::MNT_DETACH) {
            Ok(()) | Err(nix::errno::Errno::EINVAL) | Err(nix::errno::Errno::ENOENT) => Ok(()),
            Err(e) => Err(AgentError::errno("unmounting", target, e)),
        }
    }
}

#[cfg(test)]
pub mod fake {
    use std::path::PathBuf;
    use std::sync::Mutex;

    use super::*;

    /// One recorded mount call.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Call {
        pub source: String,
        pub target: PathBuf,
        pub fstype: String,
        pub flags: MsFlags,
        pub data: String,
    }

    /// Records calls instead of mounting.
    #[derive(Default)]
    pub struct FakeMounter {
        mounts: Mutex<Vec<Call>>,
        unmounts: Mutex<Vec<PathBuf>>,
    }

    impl FakeMounter {
        pub fn mounts(&self) -> Vec<Call> {
            self.mounts.lock().map(|m| m.clone()).unwrap_or_default()
        }
        pub fn unmounts(&self) -> Vec<PathBuf> {
            self.unmounts.lock().map(|m| m.clone()).unwrap_or_default()
        }
    }

    impl Mounter for FakeMounter {
        fn mount(
            &self,
            source: &str,
            target: &Path,
            fstype: &str,
            flags: MsFlags,
            data: &str,
        ) -> Result<()> {
            if let Ok(mut m) = self.mounts.lock() {
                m.push(Call {
                    source: source.into(),
                    target: target.into(),
                    fstype: fstype.into(),
                    flags,
                    data: data.into(),
                });
            }
            Ok(())
        }
        fn unmount(&self, target: &Path) -> Result<()> {
            if let Ok(mut m) = self.unmounts.lock() {
                m.push(target.into());
            }
            Ok(())
        }
    }
}
