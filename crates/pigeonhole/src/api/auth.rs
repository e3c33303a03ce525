//! Basic auth in front of the UI, the API and the `/api/events` WebSocket, as Mailpit
//! does it (`serve --ui-auth-file FILE`): a request without the right `Authorization:
//! Basic …` gets 401 with `WWW-Authenticate: Basic realm="Login"`, so a browser asks
//! for a user and password once and sends them with every later request, the
//! WebSocket's included. `/livez` and `/readyz` stay open for health checks. The user a request
//! came with is handed on ([`AuthenticatedUser`]): the send API stores it as the
//! message's `Username`, as Mailpit does.
//!
//! The file is htpasswd: `user:secret` per line, the secret a bcrypt hash
//! (`htpasswd -B`) or, as Mailpit also allows, the password in plain text. A bcrypt
//! check costs tens of milliseconds by design and the UI makes dozens of requests,
//! so credentials that passed once are remembered (as a SHA-256 of user and
//! password, never the password) and pass at once afterwards.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Mutex;

use axum::extract::{Request, State};
use axum::http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use sha2::{Digest, Sha256};

use super::ApiState;
use super::error::ApiError;
use crate::providers::webhooks::SNS_CERTIFICATE_PATH;
use crate::providers::webhooks::sns::SNS_ACTIONS_PATH;

/// Credentials remembered as verified; past this many the memory starts over.
const REMEMBERED_MAX: usize = 64;

/// The users of an htpasswd file.
pub struct Credentials {
    users: Vec<(String, Secret)>,
    /// SHA-256 of `user:password` pairs that passed.
    verified: Mutex<HashSet<[u8; 32]>>,
}

enum Secret {
    Bcrypt(String),
    Plain(String),
}

impl Credentials {
    /// Read an htpasswd file. The error says which line is wrong and how to fix it.
    pub fn load(path: &Path) -> Result<Credentials, String> {
        let text = std::fs::read_to_string(path).map_err(|err| format!("cannot read it: {err}"))?;
        Credentials::parse(&text)
    }

    fn parse(text: &str) -> Result<Credentials, String> {
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
        Ok(Credentials { users, verified: Mutex::new(HashSet::new()) })
    }

    /// Whether `user` with `password` is in the file. Slow the first time (bcrypt):
    /// call it off the async threads.
    fn verify(&self, user: &str, password: &str) -> bool {
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
}

/// The user whose credentials a request carried, once they passed.
#[derive(Clone, Debug)]
pub struct AuthenticatedUser(pub String);

/// The middleware: let the request through with valid credentials (or when no
/// file is configured, or for `/livez` and `/readyz`), else answer 401.
pub async fn check(State(state): State<ApiState>, mut request: Request, next: Next) -> Response {
    let Some(credentials) = state.auth.clone() else {
        return next.run(request).await;
    };
    // SNS's signing certificate is public, and the apps that fetch it to verify
    // a notification, or visit a SubscribeURL (which carries its own token), do
    // not know the UI's password.
    if matches!(request.uri().path(), "/livez" | "/readyz" | SNS_CERTIFICATE_PATH | SNS_ACTIONS_PATH) {
        return next.run(request).await;
    }
    let Some((user, password)) = basic_credentials(&request) else {
        return unauthorized(request.uri().path());
    };
    let name = user.clone();
    let verified = tokio::task::spawn_blocking(move || credentials.verify(&user, &password)).await.unwrap_or(false);
    if !verified {
        return unauthorized(request.uri().path());
    }
    request.extensions_mut().insert(AuthenticatedUser(name));
    next.run(request).await
}

/// User and password of an `Authorization: Basic base64(user:password)` header.
fn basic_credentials(request: &Request) -> Option<(String, String)> {
    let header = request.headers().get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(BASE64.decode(encoded.trim()).ok()?).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

/// 401 with Mailpit's challenge; a JSON error under `/api/` (like every API error),
/// Mailpit's plain text elsewhere.
fn unauthorized(path: &str) -> Response {
    let mut response = if path.starts_with("/api/") {
        ApiError::new(StatusCode::UNAUTHORIZED, "Unauthorized: give the user and password of the --ui-auth-file")
            .into_response()
    } else {
        (StatusCode::UNAUTHORIZED, "Unauthorized.").into_response()
    };
    response.headers_mut().insert(WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"Login\""));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bcrypt_and_plain_entries_verify() {
        let hash = bcrypt::hash("s3cret", 4).unwrap().replacen("$2b$", "$2y$", 1);
        let credentials = Credentials::parse(&format!("# users\n\nalice:{hash}\nbob:plain-pw\n")).unwrap();
        assert!(credentials.verify("alice", "s3cret"));
        assert!(credentials.verify("alice", "s3cret"), "remembered");
        assert!(!credentials.verify("alice", "wrong"));
        assert!(!credentials.verify("bob", "s3cret"));
        assert!(credentials.verify("bob", "plain-pw"));
        assert!(!credentials.verify("carol", "plain-pw"));
    }

    #[test]
    fn bad_files_say_what_to_do() {
        let refusal = |text| Credentials::parse(text).err().expect("refused");
        assert!(refusal("\n# nobody\n").contains("no users"));
        assert!(refusal("alice\n").contains("line 1"));
        assert!(refusal("a:$apr1$x$y\n").contains("htpasswd -B"));
    }
}
