//! Who may log in, for every door that asks: the UI and API (`--ui-auth-file`),
//! POP3 (`--pop3-auth-file`) and IMAP (`--imap-auth-file`).
//!
//! [`Users`] reads an htpasswd file, as Mailpit does: `user:secret` per line, the
//! secret a bcrypt hash (`htpasswd -B`) or the password in plain text; an optional
//! third field limits the user to some inboxes (`user:secret:inbox-a,inbox-b`, an
//! [`Access`]), whichever door it comes through. A bcrypt
//! check costs tens of milliseconds by design and the UI makes dozens of requests,
//! so credentials that passed once are remembered (as a SHA-256 of user and
//! password, never the password) and pass at once afterwards.
//!
//! [`ApiTokens`] reads `--api-tokens-file`: `name:sha256-hex-of-token[:inboxes]`
//! per line, for CI jobs that send `Authorization: Bearer <token>`; [`new_token`]
//! makes a token and its line (`pigeonhole token new`).
//!
//! [`LoginThrottle`] slows password guessing on the mail protocols: after a few
//! failures from one address, that address is refused for a while. [`plaintext_allowed`]
//! is the rule that keeps passwords off the network in clear text.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::{SecureRandom, SystemRandom};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::model::Access;

/// Credentials remembered as verified; past this many the memory starts over.
const REMEMBERED_MAX: usize = 64;

/// The users of an htpasswd file.
pub struct Users {
    users: Vec<User>,
    /// SHA-256 of `user:password` pairs that passed, with the access they give.
    verified: Mutex<HashMap<[u8; 32], Access>>,
}

struct User {
    name: String,
    secret: Secret,
    access: Access,
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
        for Entry { number, name: user, secret, inboxes } in entries(text) {
            if user.is_empty() || secret.is_empty() {
                return Err(format!(
                    "line {number} is not `user:password-hash` (or `user:password-hash:inbox-a,inbox-b`)"
                ));
            }
            let access = access_field(inboxes, number)?;
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
            users.push(User { name: user.to_string(), secret, access });
        }
        if users.is_empty() {
            return Err("it lists no users; add `user:hash` lines (`htpasswd -B FILE user`)".to_string());
        }
        Ok(Users { users, verified: Mutex::new(HashMap::new()) })
    }

    /// What `user` with `password` may see, when that pair is in the file; `None`
    /// when it is not. Slow the first time (bcrypt): async code calls
    /// [`Users::verify_off_thread`].
    pub fn verify(&self, user: &str, password: &str) -> Option<Access> {
        let key: [u8; 32] = Sha256::new().chain_update(user).chain_update(":").chain_update(password).finalize().into();
        let mut verified = self.verified.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(access) = verified.get(&key) {
            return Some(access.clone());
        }
        drop(verified);
        let found = self.users.iter().filter(|entry| entry.name == user).find(|entry| match &entry.secret {
            Secret::Bcrypt(hash) => bcrypt::verify(password, hash).unwrap_or(false),
            // Compared as digests, so the time taken says nothing about the password.
            Secret::Plain(plain) => Sha256::digest(plain) == Sha256::digest(password),
        })?;
        verified = self.verified.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if verified.len() >= REMEMBERED_MAX {
            verified.clear();
        }
        verified.insert(key, found.access.clone());
        Some(found.access.clone())
    }

    /// [`Users::verify`] on a blocking thread, so that bcrypt does not stall the
    /// async workers.
    pub async fn verify_off_thread(self: &Arc<Self>, user: String, password: String) -> Option<Access> {
        let users = Arc::clone(self);
        tokio::task::spawn_blocking(move || users.verify(&user, &password)).await.ok().flatten()
    }
}

/// One line of a users or tokens file: `name:secret[:inboxes]`, with its number.
struct Entry<'a> {
    number: usize,
    name: &'a str,
    secret: &'a str,
    inboxes: Option<&'a str>,
}

/// The entries of a users or tokens file; blank lines and `#` comments skipped,
/// missing fields empty (the caller says what is wrong with them).
fn entries(text: &str) -> impl Iterator<Item = Entry<'_>> {
    text.lines().enumerate().filter_map(|(index, line)| {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            return None;
        }
        let mut fields = line.splitn(3, ':');
        let (name, secret) = (fields.next().unwrap_or_default(), fields.next().unwrap_or_default());
        Some(Entry { number: index + 1, name, secret, inboxes: fields.next() })
    })
}

/// A line's optional inbox list: no field, every inbox.
fn access_field(field: Option<&str>, number: usize) -> Result<Access, String> {
    match field {
        None => Ok(Access::All),
        Some(list) => Access::parse_list(list).ok_or_else(|| {
            format!(
                "line {number} has an empty inbox name in its inbox list; write the inboxes comma-separated \
                 (`:inbox-a,inbox-b`), or leave the field out for every inbox"
            )
        }),
    }
}

/// The API tokens of `--api-tokens-file`, each kept as the SHA-256 of the token
/// (the file never holds a token itself).
pub struct ApiTokens {
    tokens: Vec<ApiToken>,
}

struct ApiToken {
    name: String,
    sha256: [u8; 32],
    access: Access,
}

/// What every token starts with, so a leaked one is easy to recognise (and to
/// scan for).
pub const TOKEN_PREFIX: &str = "ph_";

impl ApiTokens {
    /// Read a tokens file. The error says which line is wrong and how to fix it.
    pub fn load(path: &Path) -> Result<ApiTokens, String> {
        let text = std::fs::read_to_string(path).map_err(|err| format!("cannot read it: {err}"))?;
        ApiTokens::parse(&text)
    }

    fn parse(text: &str) -> Result<ApiTokens, String> {
        let mut tokens = Vec::new();
        for Entry { number, name, secret: hash, inboxes } in entries(text) {
            if name.is_empty() {
                return Err(format!(
                    "line {number} is not `name:sha256-hex[:inbox-a,inbox-b]`; `pigeonhole token new NAME` prints one"
                ));
            }
            let sha256: [u8; 32] = hex::decode(hash).ok().and_then(|bytes| bytes.try_into().ok()).ok_or_else(|| {
                format!(
                    "line {number} ({name}): the second field must be the token's SHA-256 as 64 hex digits, not the \
                     token; `pigeonhole token new {name}` prints a token and its line"
                )
            })?;
            let access = access_field(inboxes, number)?;
            tokens.push(ApiToken { name: name.to_owned(), sha256, access });
        }
        if tokens.is_empty() {
            return Err("it lists no tokens; add the line `pigeonhole token new NAME` prints".to_string());
        }
        Ok(ApiTokens { tokens })
    }

    /// The name of the token `token` and what it may see; `None` when it is not in
    /// the file. Every entry is compared, in constant time, so the time taken says
    /// nothing about which entry came close.
    pub fn verify(&self, token: &str) -> Option<(String, Access)> {
        let sha256: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let mut found = None;
        for entry in &self.tokens {
            if bool::from(entry.sha256.ct_eq(&sha256)) && found.is_none() {
                found = Some((entry.name.clone(), entry.access.clone()));
            }
        }
        found
    }
}

/// The headers a client of the API sends with every request to authenticate with
/// API token `token` (`Authorization: Bearer`, marked sensitive so that it is kept
/// out of debug output); none without a token.
pub fn bearer_headers(token: Option<&str>) -> Result<reqwest::header::HeaderMap, String> {
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(token) = token.map(str::trim).filter(|token| !token.is_empty()) {
        let mut value = reqwest::header::HeaderValue::from_str(&format!("Bearer {token}"))
            .map_err(|_| "the API token has characters a header cannot carry: copy it again".to_string())?;
        value.set_sensitive(true);
        headers.insert(reqwest::header::AUTHORIZATION, value);
    }
    Ok(headers)
}

/// A fresh random token (32 random bytes, base64url, after [`TOKEN_PREFIX`]) and
/// the tokens file's line for it: `name:sha256-hex[:inboxes]`.
pub fn new_token(name: &str, inboxes: Option<&str>) -> Result<(String, String), String> {
    if name.is_empty() || name.contains([':', '\n', '\r']) {
        return Err(format!("the token's name {name:?} must be non-empty, without `:` or line breaks"));
    }
    let access = access_field(inboxes, 1).map_err(|_| {
        "--inboxes needs inbox names, comma-separated (`--inboxes ci-a,ci-b`), none of them empty".to_string()
    })?;
    let mut secret = [0u8; 32];
    SystemRandom::new().fill(&mut secret).map_err(|_| "the system's random source failed".to_string())?;
    let token = format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(secret));
    let mut line = format!("{name}:{}", hex::encode(Sha256::digest(token.as_bytes())));
    if let Some(inboxes) = access.inboxes() {
        line.push(':');
        line.push_str(&inboxes.join(","));
    }
    Ok((token, line))
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
        assert_eq!(users.verify("alice", "s3cret"), Some(Access::All));
        assert_eq!(users.verify("alice", "s3cret"), Some(Access::All), "remembered");
        assert_eq!(users.verify("alice", "wrong"), None);
        assert_eq!(users.verify("bob", "s3cret"), None);
        assert_eq!(users.verify("bob", "plain-pw"), Some(Access::All));
        assert_eq!(users.verify("carol", "plain-pw"), None);
    }

    #[test]
    fn a_third_field_limits_a_user_to_its_inboxes() {
        let hash = bcrypt::hash("s3cret", 4).unwrap();
        let users = Users::parse(&format!("alice:{hash}:team-a, team-b\nbob:pw:ci\n")).unwrap();
        let team = Access::parse_list("team-a,team-b").unwrap();
        assert_eq!(users.verify("alice", "s3cret"), Some(team.clone()));
        assert_eq!(users.verify("alice", "s3cret"), Some(team), "remembered with its access");
        assert_eq!(users.verify("bob", "pw"), Some(Access::parse_list("ci").unwrap()));
        assert_eq!(users.verify("bob", "pw:ci"), None, "the third field is not part of the password");
    }

    #[test]
    fn tokens_verify_by_their_hash_with_their_access() {
        let (token, line) = new_token("ci", Some("ci-a,ci-b")).unwrap();
        assert!(token.starts_with(TOKEN_PREFIX) && token.len() >= TOKEN_PREFIX.len() + 43, "{token}");
        assert!(!line.contains(&token), "the file holds the hash, never the token");
        let (open, open_line) = new_token("admin", None).unwrap();
        assert_eq!(open_line.split(':').count(), 2, "{open_line}");
        let tokens = ApiTokens::parse(&format!("# CI\n{line}\n{open_line}\n")).unwrap();
        assert_eq!(tokens.verify(&token), Some(("ci".to_owned(), Access::parse_list("ci-a,ci-b").unwrap())));
        assert_eq!(tokens.verify(&open), Some(("admin".to_owned(), Access::All)));
        assert_eq!(tokens.verify(&format!("{token}x")), None);
        assert_eq!(tokens.verify(""), None);
        assert_ne!(new_token("ci", None).unwrap().0, new_token("ci", None).unwrap().0, "random");
    }

    #[test]
    fn bad_token_files_say_the_line_and_the_fix() {
        let refusal = |text: &str| ApiTokens::parse(text).err().expect("refused");
        assert!(refusal("# none\n").contains("`pigeonhole token new NAME`"));
        let plain_token = refusal("ci:ph_notahash\n");
        assert!(plain_token.contains("line 1 (ci)") && plain_token.contains("SHA-256"), "{plain_token}");
        let empty_inbox = refusal(&format!("\nci:{}:a,,b\n", "0".repeat(64)));
        assert!(empty_inbox.contains("line 2") && empty_inbox.contains("comma-separated"), "{empty_inbox}");
        assert!(refusal(":abc\n").contains("line 1"));
        assert!(new_token("a:b", None).is_err());
        assert!(new_token("ci", Some("a,")).unwrap_err().contains("--inboxes"));
    }

    #[test]
    fn bad_files_say_what_to_do() {
        let refusal = |text| Users::parse(text).err().expect("refused");
        assert!(refusal("\n# nobody\n").contains("no users"));
        assert!(refusal("alice\n").contains("line 1"));
        assert!(refusal("a:$apr1$x$y\n").contains("htpasswd -B"));
        let empty_inbox = refusal("alice:pw:team,\n");
        assert!(empty_inbox.contains("line 1") && empty_inbox.contains("comma-separated"), "{empty_inbox}");
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
