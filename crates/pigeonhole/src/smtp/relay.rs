//! Sending a captured message on through the SMTP server the user configured
//! ([`RelayConfig`], `serve --smtp-relay-host …`): Mailpit's release
//! (`POST /api/v1/message/{ID}/release`) and delivery simulation's `forward`.
//!
//! Mailpit's rules and texts: every recipient must match the allowed pattern and
//! not the blocked one; the message goes out without its `Bcc` header, with a
//! fresh `Date` and, unless `PreserveMessageIDs`, a new `Message-Id` (mail
//! services hide a second message with an ID they have seen). `ReturnPath` sets
//! the `Return-Path` header and MAIL FROM; `OverrideFrom` the `From` header and
//! MAIL FROM. Otherwise MAIL FROM is the message's `Sender`, else its `From`.
//!
//! The relay is the user's own choice of server, so it is reached wherever it is,
//! loopback and private addresses included (see [`RelayConfig`]). lettre's
//! blocking SMTP client does the talking: callers run [`Outgoing::send`] on the
//! blocking pool.

use std::str::FromStr;

use lettre::address::Envelope;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{Address, SmtpTransport, Transport};
use mail_parser::MessageParser;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc2822;

use crate::config::RelayConfig;

/// A message ready for the relay: its bytes as they go out, and its envelope.
#[derive(Debug)]
pub struct Outgoing {
    envelope: Envelope,
    message: Vec<u8>,
}

impl Outgoing {
    /// `raw` to go to `to` (`a@b` or `Name <a@b>` each) under `relay`'s rules.
    /// Errors are Mailpit's texts, for an API to answer with.
    pub fn prepare(relay: &RelayConfig, raw: &[u8], to: &[String]) -> Result<Outgoing, String> {
        let recipients = allowed_recipients(relay, to)?;
        let mut from = sender(raw)?;
        let mut set = vec![("Date", OffsetDateTime::now_utc().format(&Rfc2822).map_err(|err| err.to_string())?)];
        if !relay.preserve_message_ids {
            set.push(("Message-Id", format!("<{}@pigeonhole>", uuid::Uuid::new_v4().simple())));
        }
        if let Some(return_path) = &relay.return_path {
            set.push(("Return-Path", format!("<{return_path}>")));
            from = return_path.clone();
        }
        if let Some(override_from) = &relay.override_from {
            set.push(("From", override_from.clone()));
            from = override_from.clone();
        }
        let mut message = rewrite_headers(raw, &["Bcc"], &set);
        // lettre ends the data with CRLF.CRLF whatever it ends with, so a final line
        // break of the message's own would arrive as an extra empty line.
        if message.ends_with(b"\r\n") {
            message.truncate(message.len() - 2);
        } else if message.ends_with(b"\n") {
            message.pop();
        }
        let from =
            Address::from_str(&from).map_err(|_| format!("Failed: the sender {from:?} is not an email address"))?;
        let envelope = Envelope::new(Some(from), recipients).map_err(|err| err.to_string())?;
        Ok(Outgoing { envelope, message })
    }

    /// Send it through `relay`; blocks until the relay answered.
    pub fn send(&self, relay: &RelayConfig) -> Result<(), String> {
        transport(relay).send_raw(&self.envelope, &self.message).map_err(|err| format!("SMTP error: {err}"))?;
        Ok(())
    }
}

/// The addresses of `to` (`a@b` or `Name <a@b>`), when every one may be released to.
fn allowed_recipients(relay: &RelayConfig, to: &[String]) -> Result<Vec<Address>, String> {
    let mut addresses = Vec::new();
    let (mut not_allowed, mut blocked) = (Vec::new(), Vec::new());
    for recipient in to {
        let bare = match recipient.rsplit_once('<') {
            Some((_, rest)) => rest.trim_end().trim_end_matches('>'),
            None => recipient.as_str(),
        };
        let address = Address::from_str(bare.trim()).map_err(|_| format!("Invalid email address: {recipient}"))?;
        if relay.allowed_recipients.as_ref().is_some_and(|allowed| !allowed.is_match(address.as_ref())) {
            not_allowed.push(recipient.as_str());
        } else if relay.blocked_recipients.as_ref().is_some_and(|blocked| blocked.is_match(address.as_ref())) {
            blocked.push(recipient.as_str());
        } else {
            addresses.push(address);
        }
    }
    let plural = |list: &[&str]| if list.len() == 1 { "Address" } else { "Addresses" };
    if !not_allowed.is_empty() {
        let message =
            format!("Failed: {} do not match the allowlist: {}", plural(&not_allowed), not_allowed.join(", "));
        return Err(message);
    }
    if !blocked.is_empty() {
        let message = format!("Failed: {} found on blocklist: {}", plural(&blocked), blocked.join(", "));
        return Err(message);
    }
    if addresses.is_empty() {
        return Err("No valid addresses found".into());
    }
    Ok(addresses)
}

/// MAIL FROM by default: the message's `Sender`, else its first `From` address.
fn sender(raw: &[u8]) -> Result<String, String> {
    let message = MessageParser::default().parse_headers(raw).ok_or("No From header found")?;
    message
        .sender()
        .and_then(|sender| sender.first())
        .or_else(|| message.from().and_then(|from| from.first()))
        .and_then(|address| address.address())
        .map(str::to_string)
        .ok_or_else(|| "No From header found".into())
}

/// `raw` without the header fields named in `remove` or `set` (continuation lines
/// included, names compared without case), with the `set` fields on top.
fn rewrite_headers(raw: &[u8], remove: &[&str], set: &[(&str, String)]) -> Vec<u8> {
    let body_start = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|at| at + 2)
        .or_else(|| raw.windows(2).position(|w| w == b"\n\n").map(|at| at + 1))
        .unwrap_or(raw.len());
    let (head, body) = raw.split_at(body_start);
    let dropped = |line: &[u8]| {
        let name = line.split(|&b| b == b':').next().unwrap_or(b"").trim_ascii();
        remove.iter().chain(set.iter().map(|(name, _)| name)).any(|drop| name.eq_ignore_ascii_case(drop.as_bytes()))
    };
    let mut out = Vec::with_capacity(raw.len() + 200);
    for (name, value) in set {
        out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
    let mut dropping = false;
    for line in head.split_inclusive(|&b| b == b'\n') {
        let continuation = line.first().is_some_and(|&b| b == b' ' || b == b'\t');
        if !continuation {
            dropping = dropped(line);
        }
        if !dropping {
            out.extend_from_slice(line);
        }
    }
    out.extend_from_slice(body);
    out
}

fn transport(relay: &RelayConfig) -> SmtpTransport {
    // Plain SMTP to the server the user named (see the module docs).
    let mut builder = SmtpTransport::builder_dangerous(&relay.host).port(relay.port);
    if let Some((user, password)) = &relay.credentials {
        builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
    }
    builder.build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_replaced_removed_and_folded_lines_go_with_them() {
        let raw = b"From: a@x.test\r\nBcc: b@x.test,\r\n c@x.test\r\nDate: old\r\nSubject: s\r\n\r\nBcc: body\r\n";
        let out = rewrite_headers(raw, &["Bcc"], &[("Date", "new".into())]);
        assert_eq!(out, b"Date: new\r\nFrom: a@x.test\r\nSubject: s\r\n\r\nBcc: body\r\n");
    }

    #[test]
    fn recipients_must_be_allowed_and_not_blocked() {
        let relay = RelayConfig {
            host: "localhost".into(),
            port: 25,
            credentials: None,
            return_path: None,
            allowed_recipients: Some(regex::Regex::new(r"@example\.test$").unwrap()),
            blocked_recipients: Some(regex::Regex::new(r"^boss@").unwrap()),
            override_from: None,
            preserve_message_ids: false,
        };
        let list = |to: &[&str]| to.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let ok = allowed_recipients(&relay, &list(&["a@example.test", "Bee <b@example.test>"])).unwrap();
        assert_eq!(ok.iter().map(|a| a.to_string()).collect::<Vec<_>>(), ["a@example.test", "b@example.test"]);
        let err = |to: &[&str]| format!("{:?}", allowed_recipients(&relay, &list(to)).unwrap_err());
        assert!(err(&["a@other.test"]).contains("Failed: Address do not match the allowlist: a@other.test"));
        assert!(err(&["boss@example.test"]).contains("Failed: Address found on blocklist: boss@example.test"));
        assert!(err(&["nope"]).contains("Invalid email address: nope"));
        assert!(err(&[]).contains("No valid addresses found"));
    }
}
