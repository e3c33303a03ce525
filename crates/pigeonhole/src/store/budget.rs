//! The byte budget of messages on their way in: every byte of a message being
//! received, prepared or queued for the writer is held against one semaphore
//! (`max_queued_bytes`) from its first byte to its commit, so overload is refused
//! (SMTP 451) instead of buffered without bound.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The budget itself: `max_queued_bytes`, in KiB permits.
pub(crate) struct Budget {
    free_kib: Arc<Semaphore>,
    total_kib: u32,
}

impl Budget {
    pub(crate) fn new(max_bytes: usize) -> Budget {
        let total_kib = u32::try_from(max_bytes / 1024).unwrap_or(u32::MAX).max(1);
        Budget { free_kib: Arc::new(Semaphore::new(total_kib as usize)), total_kib }
    }

    /// Bytes held now (to the KiB) and the whole budget.
    pub(crate) fn in_use(&self) -> (u64, u64) {
        let total = u64::from(self.total_kib);
        let free = self.free_kib.available_permits() as u64;
        (total.saturating_sub(free) * 1024, total * 1024)
    }

    /// An empty share, grown with [`Reservation::cover`].
    pub(crate) fn reservation(&self) -> Reservation {
        Reservation { budget: self.free_kib.clone(), total_kib: self.total_kib, permit: None }
    }
}

/// A message's share of the store's byte budget (`max_queued_bytes`), held from
/// its first byte received to its commit: the memory of every message on its way
/// in, whether still arriving over SMTP, being parsed or queued for the writer,
/// stays within one budget. Counted in KiB; released when dropped.
pub struct Reservation {
    budget: Arc<Semaphore>,
    total_kib: u32,
    permit: Option<OwnedSemaphorePermit>,
}

impl Reservation {
    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.permit.as_ref().map_or(0, |p| p.num_permits() * 1024)
    }

    /// Hold at least `bytes` (a message larger than the whole budget holds all of
    /// it). `false`, holding what it held, when the budget has not that much free.
    pub fn cover(&mut self, bytes: usize) -> bool {
        let wanted = u32::try_from(bytes.div_ceil(1024)).unwrap_or(u32::MAX).min(self.total_kib) as usize;
        let held = self.permit.as_ref().map_or(0, |p| p.num_permits());
        if wanted <= held {
            return true;
        }
        let Ok(more) = self.budget.clone().try_acquire_many_owned((wanted - held) as u32) else {
            return false;
        };
        match &mut self.permit {
            Some(permit) => permit.merge(more),
            None => self.permit = Some(more),
        }
        true
    }

    /// Give back everything held.
    pub fn release(&mut self) {
        self.permit = None;
    }

    /// A share of a budget with nothing free, which covers nothing: the session's
    /// tests and fuzz target refuse messages with it.
    #[cfg(any(test, feature = "fuzzing"))]
    pub(crate) fn spent() -> Reservation {
        Reservation { budget: Arc::new(Semaphore::new(0)), total_kib: 1, permit: None }
    }
}

/// Make glibc serve every allocation of 128 KiB or more (message bodies, their
/// parse, SQLite's large records) with its own mapping, given back to the system
/// when freed. By default glibc raises that threshold after the first such free
/// (up to 32 MiB), and then bodies come from its per-thread arenas, where freed
/// ones stay resident: the byte budget bounds the live bodies, and this makes the
/// process's memory follow it (writer-behind scenario: RSS up 350 MB → 229 MB for
/// a 256 MiB budget). Once per process.
pub(super) fn large_buffers_from_the_system() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        // SAFETY: mallopt only sets a tunable of the allocator; it is called
        // before the store allocates its buffers, once.
        ONCE.call_once(|| unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
        });
    }
}
