//! What the SMTP session shows: line endings, 8-bit data without 8BITMIME, TLS, the
//! envelope sender against From, and envelope-only (blind) recipients that headers
//! reveal. Messages that did not come over SMTP (send API, import) have no
//! transcript: the checks of the session itself (line ends, 8BITMIME, TLS) leave
//! them out.

use mail_parser::HeaderValue;

use super::headers::line_at;
use super::{Findings, Input, Spec, quote};
use crate::mail::parse::header_raw_value as raw_value;
use crate::model::{Category, Envelope, Location, Severity};

pub(super) const BARE_LF: Spec = Spec {
    id: "smtp.bare-lf",
    category: Category::Smtp,
    title: "Lines end with CRLF",
    fix: "SMTP requires CRLF line endings; a bare LF is refused by Gmail, Exchange and \
          Postfix (smtpd_forbid_bare_newline) since the 2023 SMTP smuggling fixes. Make your \
          mail library or template write CRLF.",
    reference: "https://www.rfc-editor.org/rfc/rfc5321#section-2.3.8",
};

pub(super) const EIGHT_BIT_WITHOUT_8BITMIME: Spec = Spec {
    id: "smtp.8bit-without-8bitmime",
    category: Category::Smtp,
    title: "8-bit data declared",
    fix: "The message holds 8-bit bytes but MAIL FROM did not say BODY=8BITMIME (or \
          SMTPUTF8); a strict server may refuse or mangle it. Encode bodies as \
          quoted-printable or base64, or declare 8BITMIME.",
    reference: "https://www.rfc-editor.org/rfc/rfc6152",
};

pub(super) const NO_TLS: Spec = Spec {
    id: "smtp.no-tls",
    category: Category::Smtp,
    title: "Session used STARTTLS",
    fix: "The message was sent in clear text. Fine on localhost; in production, turn on \
          STARTTLS (or implicit TLS) in your SMTP settings: Gmail marks unencrypted mail \
          and bulk-sender rules require TLS.",
    reference: "https://www.rfc-editor.org/rfc/rfc3207",
};

pub(super) const ENVELOPE_FROM_MISMATCH: Spec = Spec {
    id: "smtp.envelope-from-mismatch",
    category: Category::Smtp,
    title: "Envelope sender matches From",
    fix: "MAIL FROM's domain differs from the From header's: SPF then cannot align for \
          DMARC. Use a bounce address under the From domain (or a subdomain of it).",
    reference: "https://www.rfc-editor.org/rfc/rfc7489#section-3.1.2",
};

pub(super) const BCC_VISIBLE: Spec = Spec {
    id: "smtp.bcc-visible",
    category: Category::Smtp,
    title: "Blind recipients stay blind",
    fix: "A recipient that is only in the envelope (a Bcc) is named in the message's \
          headers, so every recipient learns of them. Do not copy Bcc recipients into any \
          header.",
    reference: "https://www.rfc-editor.org/rfc/rfc5322#section-3.6.3",
};

pub(super) const SPECS: &[&Spec] =
    &[&BARE_LF, &EIGHT_BIT_WITHOUT_8BITMIME, &NO_TLS, &ENVELOPE_FROM_MISMATCH, &BCC_VISIBLE];

pub(super) fn run(input: &Input<'_>, findings: &mut Findings) {
    let raw = input.raw;
    let envelope = input.envelope;
    let over_smtp = !envelope.transcript.is_empty();

    // A file's line ends, bytes and transport (an import) say nothing about what
    // went over the wire.
    if !over_smtp {
        for spec in [&BARE_LF, &EIGHT_BIT_WITHOUT_8BITMIME, &NO_TLS] {
            findings.not_applicable(spec);
        }
    } else {
        let mut bare = raw.iter().enumerate().filter(|&(i, &b)| b == b'\n' && (i == 0 || raw[i - 1] != b'\r'));
        if let Some((lf, _)) = bare.next() {
            let lines = 1 + bare.count();
            findings.raise(
                &BARE_LF,
                Severity::Error,
                format!("{lines} line(s) end with a bare LF, the first at line {}.", line_at(raw, lf)),
                Location::line(line_at(raw, lf)),
            );
        }
    }

    if over_smtp && !raw.is_ascii() && !mail_from_declares(envelope, &["BODY=8BITMIME", "SMTPUTF8"]) {
        let first = raw.iter().position(|b| !b.is_ascii()).unwrap_or(0);
        findings.raise(
            &EIGHT_BIT_WITHOUT_8BITMIME,
            Severity::Warning,
            format!("8-bit bytes from line {} on, and MAIL FROM had no BODY=8BITMIME.", line_at(raw, first)),
            Location::line(line_at(raw, first)),
        );
    }

    if over_smtp && !envelope.tls {
        findings.raise(&NO_TLS, Severity::Notice, "The SMTP session did not use STARTTLS.", None);
    }

    let from = header_addresses(input, "From");
    if let (Some(envelope_domain), Some(from_domain)) =
        (domain(&envelope.mail_from), from.first().and_then(|address| domain(address)))
        && !envelope_domain.eq_ignore_ascii_case(from_domain)
    {
        findings.raise(
            &ENVELOPE_FROM_MISMATCH,
            Severity::Warning,
            format!("MAIL FROM is at {}, From at {}.", quote(envelope_domain), quote(from_domain)),
            Location::header("From"),
        );
    }

    let shown: Vec<String> = ["To", "Cc"]
        .iter()
        .flat_map(|name| header_addresses(input, name))
        .map(|address| address.to_ascii_lowercase())
        .collect();
    let Some(root) = input.message.parts.first() else { return };
    let values: Vec<String> = root.headers.iter().map(|header| raw_value(raw, header).to_ascii_lowercase()).collect();
    for blind in envelope.rcpt_to.iter().filter(|rcpt| !shown.contains(&rcpt.to_ascii_lowercase())) {
        let blind_lower = blind.to_ascii_lowercase();
        for (header, value) in root.headers.iter().zip(&values) {
            if value.contains(&blind_lower) {
                findings.raise(
                    &BCC_VISIBLE,
                    Severity::Error,
                    format!("The blind recipient {} is named in {}.", quote(blind), header.name.as_str()),
                    Location::header_at(header.name.as_str(), line_at(raw, header.offset_field as usize)),
                );
            }
        }
    }
}

/// Whether the session's MAIL FROM command carried any of `params` (`SMTPUTF8`).
pub(super) fn mail_from_declares(envelope: &Envelope, params: &[&str]) -> bool {
    envelope.transcript.lines().any(|line| {
        let line = line.to_ascii_uppercase();
        line.starts_with("C: MAIL FROM:") && params.iter().any(|param| line.contains(param))
    })
}

/// The addresses of every `name` header field, in order.
fn header_addresses<'a>(input: &'a Input<'_>, name: &str) -> Vec<&'a str> {
    let Some(root) = input.message.parts.first() else { return Vec::new() };
    root.headers
        .iter()
        .filter(|header| header.name.as_str().eq_ignore_ascii_case(name))
        .flat_map(|header| match &header.value {
            HeaderValue::Address(address) => address.iter().filter_map(|a| a.address.as_deref()).collect(),
            _ => Vec::new(),
        })
        .collect()
}

/// The domain of `user@domain`.
fn domain(address: &str) -> Option<&str> {
    address.rsplit_once('@').map(|(_, domain)| domain.trim_end_matches('>')).filter(|domain| !domain.is_empty())
}
