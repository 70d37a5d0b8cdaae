//! Saving a VM as a template and restoring clones from it (Kata's `enable_template`,
//! virtcontainers/factory/template and the QEMU driver's `SaveVM`/`bootFromTemplate`).
//!
//! Guest RAM lives in a file mapped shared by the template (`MemoryKind::MappedFile`), so the
//! migration stream leaves it out (QEMU's `x-ignore-shared` capability, docs/devel/migration)
//! and the state file holds only device state (a few hundred KiB). A clone starts from the same
//! command line with `wait_for_restore` (`-incoming defer`) and the file mapped private, loads
//! the state and resumes. The state file travels as a descriptor (`getfd`, `fd:` URI), so QEMU
//! spawns no helper (it may run with `-sandbox spawn=deny` and as another user).

use std::os::fd::AsFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::error::QemuError;
use crate::qmp::commands::{
    Cont, Migrate, MigrateIncoming, MigrateSetCapabilities, MigrationCapability, QmpCommand,
    QueryMigrate, Stop,
};
use crate::QemuVm;

/// Name under which the state file's descriptor is handed to QEMU.
const STATE_FD: &str = "template-state";
/// Pause between two `query-migrate` polls.
const POLL: Duration = Duration::from_millis(10);

/// Which way the state file goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Save,
    Restore,
}

impl std::fmt::Display for Direction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Direction::Save => "save",
            Direction::Restore => "restore",
        })
    }
}

impl QemuVm {
    /// Saves this VM's device state to `state` (created or truncated, mode 0600) as a template:
    /// turns on `x-ignore-shared`, pauses the vCPUs (QMP `stop`) and migrates to the file,
    /// polling `query-migrate` until it completes. Guest RAM must be a shared file
    /// (`MemoryKind::MappedFile { shared: true }`): it stays in that file, not in `state`. The VM
    /// stays paused afterwards; stop it once saved. Hosts connected to a serial agent channel
    /// should have disconnected a moment before (the guest agent must notice it).
    ///
    /// Errors: [`QemuError::NotRunning`]; [`QemuError::StateFile`] when `state` cannot be
    /// created; [`QemuError::StateQmp`] when a QMP command fails; [`QemuError::MigrationFailed`]
    /// or [`QemuError::MigrationTimeout`] (after [`crate::Timeouts::migration`]). On error the
    /// incomplete `state` is removed.
    pub async fn save_template(&self, state: &Path) -> Result<(), QemuError> {
        self.ensure_running()?;
        let started = Instant::now();
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(state)
            .map_err(|source| QemuError::StateFile {
                path: state.to_path_buf(),
                source,
            })?;
        let saved = async {
            self.state_qmp(Direction::Save, state, &ignore_shared())
                .await?;
            self.state_qmp(Direction::Save, state, &Stop).await?;
            self.hand_over(Direction::Save, state, &file).await?;
            drop(file);
            let uri = format!("fd:{STATE_FD}");
            self.state_qmp(Direction::Save, state, &Migrate { uri })
                .await?;
            self.wait_migration(Direction::Save, state).await
        }
        .await;
        if saved.is_err() {
            let _ = std::fs::remove_file(state);
        } else {
            tracing::info!(id = %self.id(), state = %state.display(), took = ?started.elapsed(), "vm saved as a template");
        }
        saved
    }

    /// Restores a VM started with `wait_for_restore` from the template state `state` written by
    /// [`QemuVm::save_template`] (same machine; guest RAM the template's file, mapped private for
    /// a copy-on-write clone): turns on `x-ignore-shared`, loads the state (`migrate-incoming`),
    /// polls `query-migrate` until it completes, then resumes the vCPUs (`cont`).
    ///
    /// Errors: [`QemuError::NotRunning`]; [`QemuError::StateFile`] when `state` cannot be
    /// opened; [`QemuError::StateQmp`] when a QMP command fails (QEMU exits when a state does not
    /// load); [`QemuError::MigrationFailed`] or [`QemuError::MigrationTimeout`].
    pub async fn restore(&self, state: &Path) -> Result<(), QemuError> {
        self.ensure_running()?;
        let started = Instant::now();
        let file = std::fs::File::open(state).map_err(|source| QemuError::StateFile {
            path: state.to_path_buf(),
            source,
        })?;
        self.state_qmp(Direction::Restore, state, &ignore_shared())
            .await?;
        self.hand_over(Direction::Restore, state, &file).await?;
        drop(file);
        let uri = format!("fd:{STATE_FD}");
        self.state_qmp(Direction::Restore, state, &MigrateIncoming { uri })
            .await?;
        self.wait_migration(Direction::Restore, state).await?;
        self.state_qmp(Direction::Restore, state, &Cont).await?;
        tracing::info!(id = %self.id(), state = %state.display(), took = ?started.elapsed(), "vm restored from a template");
        Ok(())
    }

    async fn state_qmp<C: QmpCommand>(
        &self,
        direction: Direction,
        state: &Path,
        cmd: &C,
    ) -> Result<C::Reply, QemuError> {
        self.qmp()
            .execute(cmd)
            .await
            .map_err(|source| QemuError::StateQmp {
                direction,
                command: C::NAME,
                path: state.to_path_buf(),
                source,
            })
    }

    async fn hand_over(
        &self,
        direction: Direction,
        state: &Path,
        file: &std::fs::File,
    ) -> Result<(), QemuError> {
        self.qmp()
            .send_fd(STATE_FD, file.as_fd())
            .await
            .map_err(|source| QemuError::StateQmp {
                direction,
                command: "getfd",
                path: state.to_path_buf(),
                source,
            })
    }

    /// Polls `query-migrate` until the migration completes, fails or the migration timeout
    /// passes.
    async fn wait_migration(&self, direction: Direction, state: &Path) -> Result<(), QemuError> {
        let after = self.timeouts().migration;
        let deadline = Instant::now() + after;
        loop {
            let info = self.state_qmp(direction, state, &QueryMigrate).await?;
            match info.status.as_deref() {
                Some("completed") => return Ok(()),
                Some(status @ ("failed" | "cancelled")) => {
                    return Err(QemuError::MigrationFailed {
                        direction,
                        path: state.to_path_buf(),
                        desc: info.error_desc.unwrap_or_else(|| status.to_string()),
                    })
                }
                _ => {}
            }
            if Instant::now() >= deadline {
                return Err(QemuError::MigrationTimeout {
                    direction,
                    path: state.to_path_buf(),
                    after,
                });
            }
            tokio::time::sleep(POLL).await;
        }
    }
}

fn ignore_shared() -> MigrateSetCapabilities {
    MigrateSetCapabilities {
        capabilities: vec![MigrationCapability {
            capability: "x-ignore-shared".into(),
            state: true,
        }],
    }
}
