//! SMTP AUTH (RFC 4954): PLAIN, LOGIN and CRAM-MD5, with any password accepted
//! (a catcher wants the user name, for the inbox and the tags, not a secret).
//! Credentials never reach the transcript.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use smtp_proto::{AUTH_CRAM_MD5, AUTH_LOGIN, AUTH_PLAIN};

use super::{Action, Session, State};

pub(super) enum AuthStep {
    Plain,
    LoginUser,
    LoginPassword { user: String },
    CramMd5,
}

impl Session {
    pub(super) fn auth(&mut self, mechanism: u64, initial_response: String) -> Option<Action> {
        if self.helo.is_none() {
            return self.bad_command(503, [5, 5, 1], "Send EHLO first");
        }
        if self.auth_user.is_some() {
            return self.bad_command(503, [5, 5, 1], "Already authenticated");
        }
        if self.mail_from.is_some() {
            return self.bad_command(503, [5, 5, 1], "AUTH not allowed during a mail transaction");
        }
        if self.chaos_fired(self.chaos.authentication, "authentication") {
            return None;
        }
        let initial = (!initial_response.is_empty()).then_some(initial_response);
        match mechanism {
            AUTH_PLAIN => match initial {
                Some(response) => self.auth_plain(response.as_bytes()),
                None => {
                    self.reply_plain(334, "");
                    self.state = State::Auth(AuthStep::Plain);
                    None
                }
            },
            AUTH_LOGIN => match initial {
                Some(user) => self.login_user(user.as_bytes()),
                None => {
                    self.reply_plain(334, "VXNlcm5hbWU6");
                    self.state = State::Auth(AuthStep::LoginUser);
                    None
                }
            },
            AUTH_CRAM_MD5 => {
                let challenge = format!("<{}@{}>", self.nonce, self.limits.hostname);
                self.reply_plain(334, &BASE64.encode(challenge));
                self.state = State::Auth(AuthStep::CramMd5);
                None
            }
            _ => self.bad_command(504, [5, 5, 4], "Mechanism not supported, use PLAIN, LOGIN or CRAM-MD5"),
        }
    }

    /// A SASL response line, after a 334 challenge.
    pub(super) fn auth_response(&mut self, line: &[u8]) -> Option<Action> {
        self.transcript.client(b"(credentials)");
        let State::Auth(step) = std::mem::replace(&mut self.state, State::Command) else {
            unreachable!("auth_response is called in the Auth state only");
        };
        let response = line.trim_ascii_end();
        if response == b"*" {
            return self.bad_command(501, [5, 7, 0], "Authentication cancelled");
        }
        match step {
            AuthStep::Plain => self.auth_plain(response),
            AuthStep::LoginUser => self.login_user(response),
            AuthStep::LoginPassword { user } => match BASE64.decode(response) {
                Ok(_) => self.authenticated(user),
                Err(_) => self.bad_command(501, [5, 5, 2], "Invalid base64"),
            },
            AuthStep::CramMd5 => match decode_text(response) {
                // "user hex-digest": any digest is accepted, the user name is kept.
                Some(text) => {
                    let user = text.rsplit_once(' ').map_or(text.as_str(), |(user, _)| user);
                    self.authenticated(user.to_string())
                }
                None => self.bad_command(501, [5, 5, 2], "Invalid base64"),
            },
        }
    }

    /// PLAIN: base64 of "authzid NUL authcid NUL password"; any password is accepted.
    fn auth_plain(&mut self, response: &[u8]) -> Option<Action> {
        let Some(text) = decode_text(response) else {
            return self.bad_command(501, [5, 5, 2], "Invalid base64");
        };
        let mut fields = text.split('\0');
        let (Some(authzid), Some(authcid), Some(_password)) = (fields.next(), fields.next(), fields.next()) else {
            return self.bad_command(501, [5, 5, 2], "PLAIN needs authzid NUL user NUL password");
        };
        let user = if authcid.is_empty() { authzid } else { authcid };
        self.authenticated(user.to_string())
    }

    fn login_user(&mut self, response: &[u8]) -> Option<Action> {
        let Some(user) = decode_text(response) else {
            return self.bad_command(501, [5, 5, 2], "Invalid base64");
        };
        self.reply_plain(334, "UGFzc3dvcmQ6");
        self.state = State::Auth(AuthStep::LoginPassword { user });
        None
    }

    fn authenticated(&mut self, user: String) -> Option<Action> {
        // The name picks the inbox and is shown in the UI: keep it printable and short.
        let user: String = user.chars().filter(|c| !c.is_control()).take(128).collect();
        self.auth_user = Some(user);
        self.reply(235, [2, 7, 0], "Authentication succeeded");
        None
    }
}

/// "AUTH PLAIN <secret>" → "AUTH PLAIN ****": transcripts never hold credentials.
pub(super) fn redact_auth(line: &[u8]) -> Vec<u8> {
    let mut words = line.trim_ascii().split(|&b| b == b' ').filter(|w| !w.is_empty());
    let mut redacted = Vec::new();
    for word in words.by_ref().take(2) {
        redacted.extend_from_slice(word);
        redacted.push(b' ');
    }
    if words.next().is_some() {
        redacted.extend_from_slice(b"****");
    }
    redacted
}

fn decode_text(base64: &[u8]) -> Option<String> {
    let bytes = BASE64.decode(base64.trim_ascii()).ok()?;
    Some(String::from_utf8_lossy(&bytes).into_owned())
}
