//! The greylist memory of `defer` rules with `retry_after`: when each (client,
//! sender, recipient, rule) was first deferred, so that a retry after the delay
//! is accepted. Bounded: past [`CAPACITY`] entries the oldest half is forgotten
//! (a forgotten client is deferred once more, as a restarted greylister would).

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Most triples remembered.
const CAPACITY: usize = 10_000;

#[derive(Debug, Hash, PartialEq, Eq)]
struct Key {
    client: String,
    sender: String,
    recipient: String,
    rule: String,
}

#[derive(Debug, Default)]
pub struct Greylist {
    first_seen: HashMap<Key, Instant>,
}

impl Greylist {
    /// Whether this attempt passes: `true` when the same triple under the same
    /// rule was first deferred at least `retry_after` before `now`.
    pub fn passes(
        &mut self,
        (client, sender, recipient): (&str, &str, &str),
        rule: &str,
        retry_after: Duration,
        now: Instant,
    ) -> bool {
        let key = Key {
            client: client.to_string(),
            sender: sender.to_ascii_lowercase(),
            recipient: recipient.to_ascii_lowercase(),
            rule: rule.to_string(),
        };
        if let Some(first) = self.first_seen.get(&key) {
            return now.saturating_duration_since(*first) >= retry_after;
        }
        if self.first_seen.len() >= CAPACITY {
            self.forget_oldest_half();
        }
        self.first_seen.insert(key, now);
        false
    }

    fn forget_oldest_half(&mut self) {
        let mut times: Vec<Instant> = self.first_seen.values().copied().collect();
        let (_, median, _) = times.select_nth_unstable(self.first_seen.len() / 2);
        let median = *median;
        self.first_seen.retain(|_, first| *first > median);
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.first_seen.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_retry_passes_after_the_delay_from_the_same_triple_only() {
        let mut greylist = Greylist::default();
        let start = Instant::now();
        let delay = Duration::from_secs(1);
        let triple = ("127.0.0.1", "App@x.test", "greylist@simulator.test");
        assert!(!greylist.passes(triple, "r", delay, start));
        assert!(!greylist.passes(triple, "r", delay, start + Duration::from_millis(999)));
        assert!(greylist.passes(("127.0.0.1", "app@X.test", "greylist@simulator.test"), "r", delay, start + delay));
        assert!(!greylist.passes(("127.0.0.2", "app@x.test", "greylist@simulator.test"), "r", delay, start + delay));
        assert!(!greylist.passes(triple, "another rule", delay, start + delay));
    }

    #[test]
    fn memory_stays_bounded() {
        let mut greylist = Greylist::default();
        let start = Instant::now();
        for n in 0..CAPACITY + 10 {
            let recipient = format!("r{n}@x.test");
            greylist.passes(("c", "s", &recipient), "r", Duration::ZERO, start + Duration::from_millis(n as u64));
        }
        assert!(greylist.len() <= CAPACITY);
        assert!(greylist.len() > CAPACITY / 4);
    }
}
