//! The listener's connection slots: the cap on open sessions, and what happens at
//! and near it.
//!
//! A slot is a semaphore permit (mini-redis's connection limit) with a small record
//! its session keeps up to date: when it last made progress (a reply, that is a
//! complete command) and whether it is inside a mail transaction. Idle sockets (a
//! slowloris, an application leaking its connection pool) must not lock real
//! clients out, so two rules apply, as in Postfix's stress mode:
//!
//! - Under stress (more than half the slots taken), a session outside a transaction
//!   has `SmtpLimits::stress_command_timeout` (10 s) after its last progress to
//!   send a command, not the whole command timeout. Bytes that never complete a
//!   command are no progress.
//! - At the cap, a new connection evicts the session outside a transaction that has
//!   been idle longest (it gets `421 4.7.0` and is closed) and takes its slot. A
//!   session inside a transaction is never evicted, so nothing acknowledged or in
//!   flight is lost; when every slot is in a transaction, the new connection gets
//!   `421 4.7.0` at once.
//!
//! The cap is fitted to the process's open-file limit, raised to
//! its hard limit first ([`raise_open_file_limit`]).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// How often a session past its stress timeout looks again whether the listener
/// is under stress.
pub(super) const STRESS_RECHECK: Duration = Duration::from_secs(1);
/// How long a new connection waits for the slot of the session it evicted (that
/// session writes its 421 and closes first).
const EVICTION_WAIT: Duration = Duration::from_secs(1);
/// Open files kept for everything but SMTP sessions: the store's SQLite files and
/// connections, HTTP clients and WebSockets, the runtime's own.
const RESERVED_FILES: u64 = 256;

/// The slots of one listener.
pub(super) struct Slots {
    permits: Arc<Semaphore>,
    cap: usize,
    held: Mutex<HashMap<u64, Arc<SlotState>>>,
    next_id: AtomicU64,
    /// The origin of [`SlotState::progress_at`].
    epoch: Instant,
}

/// What the listener knows of the session in a slot.
struct SlotState {
    /// When the session last made progress, in milliseconds since [`Slots::epoch`].
    progress_at: AtomicU64,
    in_transaction: AtomicBool,
    /// Set when a new connection chose this session to evict, so that no other
    /// chooses it too.
    evicting: AtomicBool,
    evict: Notify,
}

/// A session's slot, held for as long as the session runs.
pub(super) struct Slot {
    slots: Arc<Slots>,
    id: u64,
    state: Arc<SlotState>,
    _permit: OwnedSemaphorePermit,
}

/// A session as eviction sees it.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    id: u64,
    progress_at: u64,
    evictable: bool,
}

impl Slots {
    /// `cap` slots, or fewer when the open-file limit, raised to its hard limit
    /// first, would not allow that many sockets (said once in the log).
    pub(super) fn new(cap: usize) -> Arc<Slots> {
        let open_files = raise_open_file_limit();
        let fitted = fit_to_open_files(cap, open_files);
        if fitted < cap {
            tracing::warn!(
                "smtp connection cap lowered from {cap} to {fitted} to fit the open-file limit ({})",
                open_files.unwrap_or_default()
            );
        }
        Arc::new(Slots {
            permits: Arc::new(Semaphore::new(fitted)),
            cap: fitted,
            held: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(0),
            epoch: Instant::now(),
        })
    }

    /// A slot for a new connection: a free one, or the one of the longest-idle
    /// session outside a transaction, evicted for it. `None`: every slot is taken
    /// by a session in a transaction (or the evicted one did not leave in time).
    pub(super) async fn admit(self: &Arc<Slots>) -> Option<Slot> {
        if let Ok(permit) = self.permits.clone().try_acquire_owned() {
            return Some(self.register(permit));
        }
        let victim = self.ask_to_leave()?;
        match tokio::time::timeout(EVICTION_WAIT, self.permits.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Some(self.register(permit)),
            _ => {
                victim.evicting.store(false, Ordering::Relaxed);
                None
            }
        }
    }

    /// More than half the slots are taken.
    pub(super) fn stressed(&self) -> bool {
        self.cap - self.permits.available_permits() > self.cap / 2
    }

    fn register(self: &Arc<Slots>, permit: OwnedSemaphorePermit) -> Slot {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let state = Arc::new(SlotState {
            progress_at: AtomicU64::new(self.millis(Instant::now())),
            in_transaction: AtomicBool::new(false),
            evicting: AtomicBool::new(false),
            evict: Notify::new(),
        });
        self.lock().insert(id, state.clone());
        Slot { slots: self.clone(), id, state, _permit: permit }
    }

    /// Choose the session to evict and tell it to leave.
    fn ask_to_leave(&self) -> Option<Arc<SlotState>> {
        let held = self.lock();
        let candidates = held.iter().map(|(&id, state)| Candidate {
            id,
            progress_at: state.progress_at.load(Ordering::Relaxed),
            evictable: !state.in_transaction.load(Ordering::Relaxed) && !state.evicting.load(Ordering::Relaxed),
        });
        let victim = held.get(&longest_idle(candidates)?)?.clone();
        victim.evicting.store(true, Ordering::Relaxed);
        victim.evict.notify_one();
        Some(victim)
    }

    fn millis(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.epoch).as_millis() as u64
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<SlotState>>> {
        self.held.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Slot {
    /// Record where the session is: `progress_at` its last reply, and whether it
    /// is inside a transaction (then it is never evicted).
    pub(super) fn update(&self, progress_at: Instant, in_transaction: bool) {
        self.state.progress_at.store(self.slots.millis(progress_at), Ordering::Relaxed);
        self.state.in_transaction.store(in_transaction, Ordering::Relaxed);
    }

    /// Resolves when a new connection asks this session to give up its slot.
    pub(super) async fn eviction(&self) {
        self.state.evict.notified().await;
    }

    /// The listener is under stress (see [`Slots::stressed`]).
    pub(super) fn stressed(&self) -> bool {
        self.slots.stressed()
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        // Before the permit is released (fields drop after this), so a new session
        // never sees a freed slot still listed.
        self.slots.lock().remove(&self.id);
    }
}

/// The session idle longest (earliest progress) among those that may be evicted.
fn longest_idle(candidates: impl IntoIterator<Item = Candidate>) -> Option<u64> {
    candidates.into_iter().filter(|c| c.evictable).min_by_key(|c| (c.progress_at, c.id)).map(|c| c.id)
}

/// When a session waiting for input is closed as idle: at its command deadline or,
/// under stress and outside a transaction, `stress_timeout` after its last
/// progress, whichever comes first.
pub(super) fn idle_deadline(
    command_deadline: Instant,
    progress_at: Instant,
    stressed: bool,
    in_transaction: bool,
    stress_timeout: Duration,
) -> Instant {
    if stressed && !in_transaction { command_deadline.min(progress_at + stress_timeout) } else { command_deadline }
}

/// The connection cap that leaves [`RESERVED_FILES`] of `open_files` for the rest.
fn fit_to_open_files(cap: usize, open_files: Option<u64>) -> usize {
    let Some(files) = open_files else {
        return cap;
    };
    let room = files.saturating_sub(RESERVED_FILES).max(files / 2).max(1);
    cap.min(usize::try_from(room).unwrap_or(usize::MAX))
}

/// Raise the process's open-file limit to its hard limit, so that the connection
/// cap's sockets fit (a soft limit of 1,024 is common); returns the limit in force.
fn raise_open_file_limit() -> Option<u64> {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit and setrlimit read or write only the struct they are given.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return None;
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit { rlim_cur: limit.rlim_max, rlim_max: limit.rlim_max };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                limit = raised;
            }
        }
    }
    Some(limit.rlim_cur)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidate(id: u64, progress_at: u64, evictable: bool) -> Candidate {
        Candidate { id, progress_at, evictable }
    }

    #[test]
    fn eviction_takes_the_longest_idle_session_outside_a_transaction() {
        let sessions =
            [candidate(1, 500, true), candidate(2, 100, false), candidate(3, 300, true), candidate(4, 900, true)];
        assert_eq!(longest_idle(sessions), Some(3), "2 is idle longer but in a transaction");
        assert_eq!(longest_idle([candidate(1, 0, false), candidate(2, 5, false)]), None);
        assert_eq!(longest_idle([]), None);
    }

    #[test]
    fn under_stress_a_session_outside_a_transaction_gets_the_short_timeout() {
        let now = Instant::now();
        let command_deadline = now + Duration::from_secs(60);
        let stress = crate::config::SmtpLimits::default().stress_command_timeout;
        let stress_deadline = now + stress;
        assert_eq!(idle_deadline(command_deadline, now, true, false, stress), stress_deadline);
        assert_eq!(idle_deadline(command_deadline, now, true, true, stress), command_deadline, "in a transaction");
        assert_eq!(idle_deadline(command_deadline, now, false, false, stress), command_deadline, "not under stress");
        // A command timeout shorter than the stress one stays.
        let short = now + Duration::from_secs(2);
        assert_eq!(idle_deadline(short, now, true, false, stress), short);
    }

    #[test]
    fn the_cap_fits_the_open_file_limit() {
        assert_eq!(fit_to_open_files(4096, Some(1_048_576)), 4096);
        assert_eq!(fit_to_open_files(4096, Some(1024)), 768);
        assert_eq!(fit_to_open_files(4096, Some(300)), 150);
        assert_eq!(fit_to_open_files(4096, None), 4096);
    }

    /// At the cap, a new connection takes the slot of the idle session, which is
    /// told to leave; a session in a transaction keeps its slot, and with every
    /// slot in a transaction a new connection is refused.
    #[tokio::test]
    async fn at_the_cap_the_idle_session_is_evicted_and_a_transaction_never_is() {
        let slots = Slots::new(3);
        let busy = slots.admit().await.unwrap();
        busy.update(Instant::now() - Duration::from_secs(30), true);
        let idle = slots.admit().await.unwrap();
        idle.update(Instant::now() - Duration::from_secs(20), false);
        let fresh = slots.admit().await.unwrap();
        assert!(slots.stressed());

        // The evicted session leaves when told (as the handler does).
        let leaving = tokio::spawn(async move {
            idle.eviction().await;
            drop(idle);
        });
        let newcomer = slots.admit().await.expect("the idle session's slot");
        leaving.await.unwrap();

        // Now `fresh` is the only one outside a transaction; with it in one too,
        // nobody can be evicted.
        newcomer.update(Instant::now(), true);
        fresh.update(Instant::now(), true);
        assert!(slots.admit().await.is_none());
        drop(busy);
        assert!(slots.admit().await.is_some(), "a freed slot is taken");
    }
}
