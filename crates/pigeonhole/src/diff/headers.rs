//! The top-level headers' diff: each header name (any case) present in one
//! message only, or with other values in the other.
//!
//! Some headers differ on every send of the same mail. They are set aside by
//! default ([`VOLATILE_HEADERS`]), and so are those the caller names: listed in
//! `Ignored` with their values, never making the messages differ. Values are
//! compared decoded (RFC 2047) with whitespace collapsed, so refolding a long
//! header is no change; `Content-Type` is compared without its `boundary`
//! parameter (a new random string on every send) and with its other parameters
//! in name order, read by mail-parser's own Content-Type parser.

use std::collections::BTreeMap;

use mail_parser::HeaderValue;
use mail_parser::parsers::MessageStream;
use serde::{Deserialize, Serialize};

use super::DiffOptions;
use crate::mail::detail;

/// Headers that differ between two sends of the same message, set aside unless
/// `IncludeVolatile`; a name ending in `*` covers every header it starts.
///
/// * `Date`, `Message-Id`: the send's time and its unique ID.
/// * `Received`, `X-Received`, `Return-Path`: each hop's trace (times, queue IDs),
///   and the bounce address, per send where a sender uses VERP.
/// * `References`, `In-Reply-To`: other messages' Message-IDs.
/// * `Resent-Date`, `Resent-Message-Id`: as `Date` and `Message-Id`, for a resend.
/// * `DKIM-Signature`, `X-Google-DKIM-Signature`, `ARC-*`,
///   `Authentication-Results`: signatures over the above, and verdicts per hop.
/// * `X-Entity-Ref-ID` (Gmail and many senders: a random ID per message, against
///   threading), `X-SG-EID`, `X-SG-ID` (SendGrid), `X-PM-Message-Id`
///   (Postmark), `X-Mailgun-Sid` (Mailgun), `X-SES-Outgoing` (Amazon SES: time
///   and sending IP), `X-MC-Ts` (Mailchimp's send time): the providers' per-send
///   IDs and stamps. `X-Mailer` names the software, the same for every send: it
///   is compared.
pub const VOLATILE_HEADERS: &[&str] = &[
    "Date",
    "Message-Id",
    "Received",
    "X-Received",
    "Return-Path",
    "References",
    "In-Reply-To",
    "Resent-Date",
    "Resent-Message-Id",
    "DKIM-Signature",
    "X-Google-DKIM-Signature",
    "ARC-*",
    "Authentication-Results",
    "X-Entity-Ref-ID",
    "X-SG-EID",
    "X-SG-ID",
    "X-PM-Message-Id",
    "X-Mailgun-Sid",
    "X-SES-Outgoing",
    "X-MC-Ts",
];

/// The headers' diff.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "PascalCase")]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct HeadersDiff {
    /// No compared header differs.
    pub equal: bool,
    /// The compared headers that differ, by name.
    pub changes: Vec<HeaderChange>,
    /// The headers set aside (volatile or ignored) that either message has, by
    /// name, whether or not they differ.
    pub ignored: Vec<HeaderChange>,
}

/// One header name in both messages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "PascalCase")]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct HeaderChange {
    /// The name, Go-canonical (`Message-Id`) as `/headers` gives it.
    pub name: String,
    pub kind: HeaderChangeKind,
    /// Its values in A, in order, decoded (message content: escape it).
    pub a: Vec<String>,
    /// Its values in B.
    pub b: Vec<String>,
    /// Set aside as volatile (not named by the caller).
    pub volatile: bool,
}

/// How a header differs: only in B, only in A, other values, or the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(test, derive(ts_rs::TS))]
pub enum HeaderChangeKind {
    Added,
    Removed,
    Changed,
    Same,
}

/// `a`'s top-level headers against `b`'s.
pub fn compare(a: &[u8], b: &[u8], options: &DiffOptions) -> HeadersDiff {
    let (a, b) = (normalized(a), normalized(b));
    let mut names: Vec<&String> = a.keys().chain(b.keys()).collect();
    names.sort();
    names.dedup();
    let mut diff = HeadersDiff { equal: true, ..HeadersDiff::default() };
    for name in names {
        let values = |map: &BTreeMap<String, Vec<String>>| map.get(name).cloned().unwrap_or_default();
        let (a_values, b_values) = (values(&a), values(&b));
        let kind = match (a_values.is_empty(), b_values.is_empty()) {
            _ if a_values == b_values => HeaderChangeKind::Same,
            (true, _) => HeaderChangeKind::Added,
            (_, true) => HeaderChangeKind::Removed,
            _ => HeaderChangeKind::Changed,
        };
        let ignored = options.ignore_headers.iter().any(|pattern| matches(pattern, name));
        let volatile = !ignored && !options.include_volatile && VOLATILE_HEADERS.iter().any(|p| matches(p, name));
        let change = HeaderChange { name: name.clone(), kind, a: a_values, b: b_values, volatile };
        if ignored || volatile {
            diff.ignored.push(change);
        } else if kind != HeaderChangeKind::Same {
            diff.equal = false;
            diff.changes.push(change);
        }
    }
    diff
}

/// Whether header `name` is covered by `pattern`: the same name in any case, or
/// a prefix of it before a final `*`.
fn matches(pattern: &str, name: &str) -> bool {
    let pattern = pattern.trim();
    match pattern.strip_suffix('*') {
        Some(prefix) => name.len() >= prefix.len() && name[..prefix.len()].eq_ignore_ascii_case(prefix),
        None => pattern.eq_ignore_ascii_case(name),
    }
}

/// The message's headers by canonical name, values as compared.
fn normalized(raw: &[u8]) -> BTreeMap<String, Vec<String>> {
    let mut headers = detail::headers(raw);
    for (name, values) in headers.iter_mut() {
        for value in values.iter_mut() {
            *value = if name == "Content-Type" { content_type(value) } else { collapse_whitespace(value) };
        }
    }
    headers
}

fn collapse_whitespace(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A Content-Type value as mail-parser reads it, `type/subtype; name=value…`
/// lowercase, parameters sorted, without `boundary`.
fn content_type(value: &str) -> String {
    let bytes = format!("{value}\n").into_bytes();
    let HeaderValue::ContentType(parsed) = MessageStream::new(&bytes).parse_content_type() else {
        return collapse_whitespace(value);
    };
    let mut normalized = parsed.ctype().to_ascii_lowercase();
    if let Some(subtype) = parsed.subtype() {
        normalized.push('/');
        normalized.push_str(&subtype.to_ascii_lowercase());
    }
    let mut parameters: Vec<(String, &str)> = parsed
        .attributes()
        .unwrap_or_default()
        .iter()
        .map(|attribute| (attribute.name.to_ascii_lowercase(), attribute.value.as_ref()))
        .filter(|(name, _)| name != "boundary")
        .collect();
    parameters.sort();
    for (name, value) in parameters {
        normalized.push_str(&format!("; {name}={value}"));
    }
    normalized
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(headers: &str) -> Vec<u8> {
        format!("{headers}\n\nbody\n").replace('\n', "\r\n").into_bytes()
    }

    const BASE: &str = "From: a@example.test\nTo: b@example.test\nSubject: Hello\nDate: Mon, 07 Dec 2026 10:00:00 +0000\nMessage-ID: <1@example.test>\nContent-Type: multipart/alternative; boundary=\"one\"; charset=utf-8";

    #[test]
    fn volatile_headers_and_boundaries_are_set_aside() {
        let other = "From: a@example.test\nTo: b@example.test\nSubject: Hello\nDate: Tue, 08 Dec 2026 11:00:00 +0000\nMessage-ID: <2@example.test>\nReceived: from x by y\nContent-Type: multipart/alternative; CHARSET=utf-8;\n boundary=two";
        let diff = compare(&message(BASE), &message(other), &DiffOptions::default());
        assert!(diff.equal, "{diff:?}");
        let ignored: Vec<(&str, HeaderChangeKind)> = diff.ignored.iter().map(|c| (c.name.as_str(), c.kind)).collect();
        assert_eq!(
            ignored,
            [
                ("Date", HeaderChangeKind::Changed),
                ("Message-Id", HeaderChangeKind::Changed),
                ("Received", HeaderChangeKind::Added)
            ]
        );
        assert!(diff.ignored.iter().all(|c| c.volatile));
    }

    #[test]
    fn including_volatile_headers_compares_them() {
        let other = BASE.replace("<1@", "<2@");
        let options = DiffOptions { include_volatile: true, ..DiffOptions::default() };
        let diff = compare(&message(BASE), &message(&other), &options);
        assert!(!diff.equal);
        assert_eq!(diff.changes[0].name, "Message-Id");
        assert_eq!(diff.changes[0].a, ["<1@example.test>"]);
    }

    #[test]
    fn added_removed_and_changed() {
        let other = BASE.replace("Subject: Hello", "Subject: Hello again").replace("To: b@example.test\n", "")
            + "\nX-Campaign: spring";
        let diff = compare(&message(BASE), &message(&other), &DiffOptions::default());
        assert!(!diff.equal);
        let changes: Vec<(&str, HeaderChangeKind)> = diff.changes.iter().map(|c| (c.name.as_str(), c.kind)).collect();
        assert_eq!(
            changes,
            [
                ("Subject", HeaderChangeKind::Changed),
                ("To", HeaderChangeKind::Removed),
                ("X-Campaign", HeaderChangeKind::Added)
            ]
        );
    }

    #[test]
    fn ignored_headers_and_prefixes() {
        let other = BASE.replace("Subject: Hello", "Subject: Other") + "\nX-Trace-1: a";
        let options =
            DiffOptions { ignore_headers: vec!["subject".into(), "x-trace-*".into()], ..DiffOptions::default() };
        let diff = compare(&message(BASE), &message(&other), &options);
        assert!(diff.equal, "{diff:?}");
        let subject = diff.ignored.iter().find(|c| c.name == "Subject").expect("listed");
        assert!(!subject.volatile);
        assert_eq!(subject.kind, HeaderChangeKind::Changed);
    }

    #[test]
    fn content_type_parameters_other_than_the_boundary_count() {
        let other = BASE.replace("charset=utf-8", "charset=iso-8859-1");
        let diff = compare(&message(BASE), &message(&other), &DiffOptions::default());
        assert_eq!(diff.changes[0].name, "Content-Type");
        assert_eq!(diff.changes[0].a, ["multipart/alternative; charset=utf-8"]);
    }
}
