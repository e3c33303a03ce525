//! The top-level header fields: the ones every message needs (RFC 5322 §3.6), the
//! ones that may appear once, Bcc, and the raw form of each line (length, 8-bit).

use mail_parser::{HeaderName, HeaderValue};

use super::smtp::mail_from_declares;
use super::{Findings, Input, Spec, quote};
use crate::mail::parse::header_raw_value as raw_value;
use crate::model::{Category, Location, Severity};

const RFC5322_FIELDS: &str = "https://www.rfc-editor.org/rfc/rfc5322#section-3.6";

pub(super) const DATE_MISSING: Spec = Spec {
    id: "headers.date-missing",
    category: Category::Headers,
    title: "Date header",
    fix: "Every message must have a Date header (RFC 5322 §3.6.1); without it, receivers add \
          their own or mark the message as suspicious. Let your mail library set it.",
    reference: "https://www.rfc-editor.org/rfc/rfc5322#section-3.6.1",
};

pub(super) const MESSAGE_ID_MISSING: Spec = Spec {
    id: "headers.message-id-missing",
    category: Category::Headers,
    title: "Message-ID header",
    fix: "Give every message a unique Message-ID (`<random@your-domain>`): threading, \
          deduplication and spam filters rely on it, and Gmail may reject mail without one.",
    reference: "https://www.rfc-editor.org/rfc/rfc5322#section-3.6.4",
};

pub(super) const FROM_INVALID: Spec = Spec {
    id: "headers.from-invalid",
    category: Category::Headers,
    title: "From header",
    fix: "The From header must hold exactly one mailbox with a valid address \
          (`Name <user@example.com>`): it is what DMARC checks and what recipients see.",
    reference: "https://www.rfc-editor.org/rfc/rfc5322#section-3.6.2",
};

pub(super) const DUPLICATE: Spec = Spec {
    id: "headers.duplicate",
    category: Category::Headers,
    title: "Single-instance headers appear once",
    fix: "Date, From, Sender, Reply-To, To, Cc, Bcc, Message-ID, In-Reply-To, References \
          and Subject may appear at most once; receivers pick one copy arbitrarily and \
          DKIM signatures over them break. Set each header once.",
    reference: RFC5322_FIELDS,
};

pub(super) const BCC_LEAKED: Spec = Spec {
    id: "headers.bcc-leaked",
    category: Category::Headers,
    title: "No Bcc header in the delivered message",
    fix: "A Bcc header in the message every recipient gets reveals the blind copies. Put \
          Bcc recipients in the envelope only (RCPT TO) and strip the header before sending.",
    reference: "https://www.rfc-editor.org/rfc/rfc5322#section-3.6.3",
};

pub(super) const LINE_TOO_LONG: Spec = Spec {
    id: "headers.line-too-long",
    category: Category::Headers,
    title: "Header lines within 998 octets",
    fix: "A header line longer than 998 octets breaks RFC 5322 and gets cut or rejected by \
          servers on the way. Fold long headers (CRLF + whitespace) or encode them (RFC 2047).",
    reference: "https://www.rfc-editor.org/rfc/rfc5322#section-2.1.1",
};

pub(super) const NON_ASCII_UNENCODED: Spec = Spec {
    id: "headers.non-ascii-unencoded",
    category: Category::Headers,
    title: "Header fields are ASCII or encoded",
    fix: "Raw 8-bit bytes in a header are only allowed with SMTPUTF8; elsewhere they show as \
          mojibake. Encode non-ASCII text as RFC 2047 encoded-words (`=?UTF-8?B?…?=`).",
    reference: "https://www.rfc-editor.org/rfc/rfc2047",
};

pub(super) const SUBJECT_MISSING: Spec = Spec {
    id: "headers.subject-missing",
    category: Category::Headers,
    title: "Subject header",
    fix: "Mail without a subject looks like spam to filters and people. Give every message \
          a short, specific Subject.",
    reference: "https://www.rfc-editor.org/rfc/rfc5322#section-3.6.5",
};

pub(super) const SPECS: &[&Spec] = &[
    &DATE_MISSING,
    &MESSAGE_ID_MISSING,
    &FROM_INVALID,
    &DUPLICATE,
    &BCC_LEAKED,
    &LINE_TOO_LONG,
    &NON_ASCII_UNENCODED,
    &SUBJECT_MISSING,
];

/// RFC 5322 §3.6's fields that may appear at most once.
const SINGLE_INSTANCE: &[&str] =
    &["Date", "From", "Sender", "Reply-To", "To", "Cc", "Bcc", "Message-ID", "In-Reply-To", "References", "Subject"];

/// RFC 5322's limit on a line, CRLF not counted.
const MAX_LINE: usize = 998;

pub(super) fn run(input: &Input<'_>, findings: &mut Findings) {
    let Some(root) = input.message.parts.first() else { return };
    let headers = &root.headers;
    let named = |wanted: &'static str| headers.iter().filter(move |h| h.name.as_str().eq_ignore_ascii_case(wanted));
    let line_of = |offset: u32| line_at(input.raw, offset as usize);

    if named("Date").next().is_none() {
        findings.raise(&DATE_MISSING, Severity::Error, "The message has no Date header.", None);
    }
    if named("Message-ID").next().is_none() {
        findings.raise(&MESSAGE_ID_MISSING, Severity::Warning, "The message has no Message-ID header.", None);
    }
    if named("Subject").next().is_none() {
        findings.raise(&SUBJECT_MISSING, Severity::Warning, "The message has no Subject header.", None);
    }

    match named("From").next() {
        None => findings.raise(&FROM_INVALID, Severity::Error, "The message has no From header.", None),
        Some(from) => {
            let at = Location::header_at("From", line_of(from.offset_field));
            let raw_value = raw_value(input.raw, from);
            let addresses: Vec<&str> = match &from.value {
                HeaderValue::Address(address) => address.iter().filter_map(|a| a.address.as_deref()).collect(),
                _ => Vec::new(),
            };
            match addresses[..] {
                [] => findings.raise(
                    &FROM_INVALID,
                    Severity::Error,
                    format!("From holds no address: {}", quote(&raw_value)),
                    at,
                ),
                [one] if !is_address(one) => findings.raise(
                    &FROM_INVALID,
                    Severity::Error,
                    format!("From's address {} is not a valid address.", quote(one)),
                    at,
                ),
                [_] => {}
                _ if named("Sender").next().is_none() => findings.raise(
                    &FROM_INVALID,
                    Severity::Error,
                    format!("From holds {} mailboxes and there is no Sender header.", addresses.len()),
                    at,
                ),
                _ => {}
            }
        }
    }

    for name in SINGLE_INSTANCE {
        let copies: Vec<_> = named(name).collect();
        if copies.len() > 1 {
            findings.raise(
                &DUPLICATE,
                Severity::Error,
                format!("{name} appears {} times.", copies.len()),
                Location::header_at(*name, line_of(copies[1].offset_field)),
            );
        }
    }

    if let Some(bcc) = named("Bcc").next() {
        let value = raw_value(input.raw, bcc);
        // An empty Bcc is allowed (RFC 5322 §3.6.3) and reveals nothing.
        if !value.trim().is_empty() {
            findings.raise(
                &BCC_LEAKED,
                Severity::Error,
                format!("Every recipient sees Bcc: {}", quote(&value)),
                Location::header_at("Bcc", line_of(bcc.offset_field)),
            );
        }
    }

    // SMTPUTF8 (RFC 6531/6532) allows UTF-8 in headers.
    let smtputf8 = mail_from_declares(input.envelope, &["SMTPUTF8"]);
    for header in headers {
        if matches!(header.name, HeaderName::Other(_)) && header.name.as_str().is_empty() {
            continue;
        }
        let start = header.offset_field as usize;
        let end = (header.offset_end as usize).min(input.raw.len());
        let Some(field) = input.raw.get(start..end) else { continue };
        let name = header.name.as_str();
        let at = || Location::header_at(name, line_of(header.offset_field));
        if let Some(longest) =
            field.split(|&b| b == b'\n').map(|line| line.strip_suffix(b"\r").unwrap_or(line).len()).max()
            && longest > MAX_LINE
        {
            findings.raise(
                &LINE_TOO_LONG,
                Severity::Error,
                format!("A line of {name} is {longest} octets long."),
                at(),
            );
        }
        if !field.is_ascii() && !smtputf8 {
            findings.raise(
                &NON_ASCII_UNENCODED,
                Severity::Warning,
                format!("{name} holds raw 8-bit bytes: {}", quote(&String::from_utf8_lossy(field))),
                at(),
            );
        }
    }
}

/// The 1-based line of the raw message that holds byte `offset`.
pub(super) fn line_at(raw: &[u8], offset: usize) -> u32 {
    let offset = offset.min(raw.len());
    raw[..offset].iter().filter(|&&b| b == b'\n').count() as u32 + 1
}

/// `local@domain` with a non-empty local part and a dotted or bracketed domain.
/// Whitespace beside a dot is RFC 5322's obsolete syntax (§4.4), still valid.
pub(super) fn is_address(address: &str) -> bool {
    let compact: String = address.split('.').map(str::trim).collect::<Vec<_>>().join(".");
    let address = compact.as_str();
    let Some((local, domain)) = address.rsplit_once('@') else { return false };
    !local.is_empty()
        && !domain.is_empty()
        && !address.chars().any(|c| c.is_whitespace() || c.is_control())
        && (domain.starts_with('[') || domain.split('.').all(|label| !label.is_empty()))
}
