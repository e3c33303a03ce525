//! Who may log in, for every door that asks: the UI and API (`--ui-auth-file`),
//! POP3 (`--pop3-auth-file`) and IMAP (`--imap-auth-file`).
//!
//! [`Users`] reads an htpasswd file, as Mailpit does: `user:secret` per line, the
//! secret a bcrypt hash (`htpasswd -B`) or the password in plain text. A bcrypt
//! check costs tens of milliseconds by design and the UI makes dozens of requests,
//! so credentials that passed once are remembered (as a SHA-256 of user and
//! password, never the password) and pass at once afterwards.
//!
//! [`LoginThrottle`] slows password guessing on the mail protocols: after a few
//! failures from one address, that address is refused for a while. [`plaintext_allowed`]
//! is the rule that keeps passwords off the network in clear text.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

/// Credentials remembered as verified; past this many the memory starts over.
const REMEMBERED_MAX: usize = 64;

/// The users of an htpasswd file.
pub struct Users {
    users: Vec<(String, Secret)>,
    /// SHA-256 of `user:password` pairs that passed.
    verified: Mutex<HashSet<[u8; 32]>>,
}

enum Secret {
    Bcrypt(String),
    Plain(String),
}

impl Users {
    /// Read an htpasswd file. The error says which line is wrong and how to fix it.
    pub fn load(path: &Path) -> Result<Users, String> {
        let text = std::fs::read_to_string(path).map_err(|err| format!("cannot read it: {err}"))?;
        Users::parse(&text)
    }

    fn parse(text: &str) -> Result<Users, String> {
        let mut users = Vec::new();
        for (number, line) in text.lines().enumerate().map(|(i, line)| (i + 1, line.trim())) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((user, secret)) =
                line.split_once(':').filter(|(user, secret)| !user.is_empty() && !secret.is_empty())
            else {
                return Err(format!("line {number} is not `user:password-hash`"));
            };
            let secret = if ["$2a$", "$2b$", "$2x$", "$2y$"].iter().any(|prefix| secret.starts_with(prefix)) {
                Secret::Bcrypt(secret.to_string())
            } else if ["$apr1$", "$1$", "$5$", "$6$", "{SHA}", "{SSHA}"].iter().any(|prefix| secret.starts_with(prefix))
            {
                return Err(format!(
                    "line {number} ({user}) uses a hash Pigeonhole does not read; make it bcrypt with `htpasswd -B`"
                ));
            } else {
                Secret::Plain(secret.to_string())
            };
            users.push((user.to_string(), secret));
        }
        if users.is_empty() {
            return Err("it lists no users; add `user:hash` lines (`htpasswd -B FILE user`)".to_string());
        }
        Ok(Users { users, verified: Mutex::new(HashSet::new()) })
    }

    /// Whether `user` with `password` is in the file. Slow the first time (bcrypt):
    /// async code calls [`Users::verify_off_thread`].
    pub fn verify(&self, user: &str, password: &str) -> bool {
        let key: [u8; 32] = Sha256::new().chain_update(user).chain_update(":").chain_update(password).finalize().into();
        let mut verified = self.verified.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if verified.contains(&key) {
            return true;
        }
        drop(verified);
        let matches = self.users.iter().filter(|(name, _)| name == user).any(|(_, secret)| match secret {
            Secret::Bcrypt(hash) => bcrypt::verify(password, hash).unwrap_or(false),
            // Compared as digests, so the time taken says nothing about the password.
            Secret::Plain(plain) => Sha256::digest(plain) == Sha256::digest(password),
        });
        if matches {
            verified = self.verified.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            if verified.len() >= REMEMBERED_MAX {
                verified.clear();
            }
            verified.insert(key);
        }
        matches
    }

    /// [`Users::verify`] on a blocking thread, so that bcrypt does not stall the
    /// async workers.
    pub async fn verify_off_thread(self: &Arc<Self>, user: String, password: String) -> bool {
        let users = Arc::clone(self);
        tokio::task::spawn_blocking(move || users.verify(&user, &password)).await.unwrap_or(false)
    }
}

/// Whether a password may be sent over this connection: always over TLS, and in
/// clear text only from this machine, where nobody else can read the traffic.
pub fn plaintext_allowed(peer: IpAddr, tls: bool) -> bool {
    tls || peer.to_canonical().is_loopback()
}

/// Failed logins per client address. After `limit` failures within `window`, the
/// address is refused until the window has passed since its first failure; a
/// success forgets its failures. Loopback clients count too: a test suite that
/// guesses is as wrong as an attacker, and the wait is short.
pub struct LoginThrottle {
    limit: u32,
    window: Duration,
    failures: Mutex<HashMap<IpAddr, Failures>>,
}

struct Failures {
    count: u32,
    first: Instant,
}

/// Addresses tracked at most; past it, expired entries go, and if none has
/// expired the oldest does (a flood of addresses cannot grow the map).
const TRACKED_MAX: usize = 4096;

impl LoginThrottle {
    pub fn new(limit: u32, window: Duration) -> LoginThrottle {
        LoginThrottle { limit, window, failures: Mutex::new(HashMap::new()) }
    }

    /// `Err(wait)` while `peer` is refused: how long until it may try again.
    pub fn check(&self, peer: IpAddr) -> Result<(), Duration> {
        let failures = self.failures.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        match failures.get(&peer.to_canonical()) {
            Some(entry) if entry.count >= self.limit => {
                let waited = entry.first.elapsed();
                if waited < self.window { Err(self.window - waited) } else { Ok(()) }
            }
            _ => Ok(()),
        }
    }

    /// Count a failed login from `peer`.
    pub fn failed(&self, peer: IpAddr) {
        let mut failures = self.failures.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let now = Instant::now();
        if failures.len() >= TRACKED_MAX {
            failures.retain(|_, entry| now.duration_since(entry.first) < self.window);
            if failures.len() >= TRACKED_MAX
                && let Some(oldest) = failures.iter().min_by_key(|(_, entry)| entry.first).map(|(peer, _)| *peer)
            {
                failures.remove(&oldest);
            }
        }
        let entry = failures.entry(peer.to_canonical()).or_insert(Failures { count: 0, first: now });
        if now.duration_since(entry.first) >= self.window {
            *entry = Failures { count: 0, first: now };
        }
        entry.count += 1;
    }

    /// A login from `peer` succeeded: forget its failures.
    pub fn succeeded(&self, peer: IpAddr) {
        self.failures.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).remove(&peer.to_canonical());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bcrypt_and_plain_entries_verify() {
        let hash = bcrypt::hash("s3cret", 4).unwrap().replacen("$2b$", "$2y$", 1);
        let users = Users::parse(&format!("# users\n\nalice:{hash}\nbob:plain-pw\n")).unwrap();
        assert!(users.verify("alice", "s3cret"));
        assert!(users.verify("alice", "s3cret"), "remembered");
        assert!(!users.verify("alice", "wrong"));
        assert!(!users.verify("bob", "s3cret"));
        assert!(users.verify("bob", "plain-pw"));
        assert!(!users.verify("carol", "plain-pw"));
    }

    #[test]
    fn bad_files_say_what_to_do() {
        let refusal = |text| Users::parse(text).err().expect("refused");
        assert!(refusal("\n# nobody\n").contains("no users"));
        assert!(refusal("alice\n").contains("line 1"));
        assert!(refusal("a:$apr1$x$y\n").contains("htpasswd -B"));
    }

    #[test]
    fn plaintext_only_over_tls_or_from_this_machine() {
        let remote: IpAddr = "192.0.2.7".parse().unwrap();
        assert!(!plaintext_allowed(remote, false));
        assert!(plaintext_allowed(remote, true));
        assert!(plaintext_allowed("127.0.0.1".parse().unwrap(), false));
        assert!(plaintext_allowed("::1".parse().unwrap(), false));
        assert!(plaintext_allowed("::ffff:127.0.0.1".parse().unwrap(), false), "IPv4 on an IPv6 socket");
    }

    #[test]
    fn the_throttle_refuses_after_the_limit_and_forgets_on_success() {
        let throttle = LoginThrottle::new(3, Duration::from_secs(60));
        let (guesser, other): (IpAddr, IpAddr) = ("192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap());
        for _ in 0..3 {
            assert!(throttle.check(guesser).is_ok());
            throttle.failed(guesser);
        }
        let wait = throttle.check(guesser).expect_err("refused after three failures");
        assert!(wait > Duration::from_secs(50) && wait <= Duration::from_secs(60), "{wait:?}");
        assert!(throttle.check(other).is_ok(), "another address is not refused");
        throttle.succeeded(guesser);
        assert!(throttle.check(guesser).is_ok());
    }

    #[test]
    fn the_throttle_lets_an_address_try_again_after_the_window() {
        let throttle = LoginThrottle::new(1, Duration::from_millis(30));
        let peer: IpAddr = "192.0.2.1".parse().unwrap();
        throttle.failed(peer);
        assert!(throttle.check(peer).is_err());
        std::thread::sleep(Duration::from_millis(40));
        assert!(throttle.check(peer).is_ok());
    }

    #[test]
    fn the_throttle_stays_bounded_under_a_flood_of_addresses() {
        let throttle = LoginThrottle::new(1, Duration::from_secs(60));
        for n in 0..(TRACKED_MAX as u32 + 100) {
            throttle.failed(IpAddr::from(n.to_be_bytes()));
        }
        assert!(throttle.failures.lock().unwrap().len() <= TRACKED_MAX);
    }
}
