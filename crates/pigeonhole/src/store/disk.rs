//! Whether the disk holding the data folder is full, for the UI and the API.
//!
//! The writer marks it full when a write fails with SQLITE_FULL (SMTP answers
//! `452 4.3.1` meanwhile) and clear when a write succeeds again, or when the
//! file system has [`ROOM_AGAIN`] more free space than at the failure (it looks
//! every [`RECHECK_EVERY`] while full), so the UI's banner goes once space is
//! freed, without waiting for the next message. Each change is broadcast as a
//! `disk` event.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::model::{DiskState, Event, EventSender};

/// How often the writer looks at the free space while the disk is full.
pub(super) const RECHECK_EVERY: Duration = Duration::from_secs(1);
/// Free space gained since the failure that counts as room again.
const ROOM_AGAIN: u64 = 4 * 1024 * 1024;

/// The data folder's disk, as the writer last found it.
pub(super) struct Disk {
    dir: PathBuf,
    full: AtomicBool,
}

impl Disk {
    pub(super) fn new(dir: PathBuf) -> Disk {
        Disk { dir, full: AtomicBool::new(false) }
    }

    pub(super) fn dir(&self) -> &Path {
        &self.dir
    }

    pub(super) fn is_full(&self) -> bool {
        self.full.load(Ordering::Relaxed)
    }

    /// Set the state; broadcast it when it changed.
    pub(super) fn set_full(&self, full: bool, events: &EventSender) {
        if self.full.swap(full, Ordering::Relaxed) != full {
            if full {
                tracing::warn!(
                    "the disk holding {} is full: new mail is refused (452) until space is freed",
                    self.dir.display()
                );
            } else {
                tracing::info!("the disk holding {} has room again", self.dir.display());
            }
            let _ = events.send(Event::Disk(DiskState { full }));
        }
    }

    /// Free bytes now, for an unprivileged writer.
    pub(super) fn free_bytes(&self) -> Option<u64> {
        free_bytes(&self.dir)
    }

    /// Whether `free_now` is room again after a failure that left `free_at_failure`.
    pub(super) fn room_again(free_at_failure: Option<u64>, free_now: Option<u64>) -> bool {
        match (free_at_failure, free_now) {
            (Some(before), Some(now)) => now >= before.saturating_add(ROOM_AGAIN),
            _ => false,
        }
    }
}

#[cfg(unix)]
fn free_bytes(path: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    let mut stat = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: `path` is NUL-terminated; statvfs fills `stat` when it returns 0.
    if unsafe { libc::statvfs(path.as_ptr(), stat.as_mut_ptr()) } != 0 {
        return None;
    }
    // SAFETY: initialised by the successful call above.
    let stat = unsafe { stat.assume_init() };
    #[allow(clippy::unnecessary_cast, clippy::useless_conversion)]
    Some(u64::from(stat.f_bavail).saturating_mul(u64::from(stat.f_frsize)))
}

#[cfg(not(unix))]
fn free_bytes(_path: &Path) -> Option<u64> {
    None
}

#[cfg(test)]
mod tests {
    use super::Disk;

    #[test]
    fn room_again_needs_space_freed_since_the_failure() {
        let mib = 1024 * 1024;
        assert!(!Disk::room_again(Some(10 * mib), Some(10 * mib)));
        assert!(!Disk::room_again(Some(10 * mib), Some(13 * mib)));
        assert!(Disk::room_again(Some(10 * mib), Some(14 * mib)));
        assert!(!Disk::room_again(None, Some(100 * mib)), "unknown: only a successful write clears it");
        let disk = Disk::new(std::env::temp_dir());
        assert!(disk.free_bytes().is_some_and(|free| free > 0));
    }
}
