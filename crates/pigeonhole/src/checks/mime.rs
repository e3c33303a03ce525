//! The MIME structure: charsets of text parts, a text alternative to HTML, multipart
//! boundaries, `cid:` references and attachments whose type contradicts their name.

use std::sync::LazyLock;

use mail_parser::{MessagePart, MimeHeaders};
use regex::Regex;

use super::headers::line_at;
use super::{Findings, Input, Spec, quote};
use crate::mail::calendar;
use crate::mail::detail::{self, content_id, media_type};
use crate::model::{Category, Location, Severity};

pub(super) const CHARSET_MISSING: Spec = Spec {
    id: "mime.charset-missing",
    category: Category::Mime,
    title: "Text parts declare their charset",
    fix: "A text part with non-ASCII bytes and no `charset=` parameter is read as US-ASCII \
          or guessed, which garbles it. Declare `Content-Type: text/html; charset=utf-8`.",
    reference: "https://www.rfc-editor.org/rfc/rfc2046#section-4.1.2",
};

pub(super) const NO_TEXT_ALTERNATIVE: Spec = Spec {
    id: "mime.no-text-alternative",
    category: Category::Mime,
    title: "HTML has a plain-text alternative",
    fix: "HTML-only mail scores worse with spam filters and shows nothing in text-only \
          clients and some screen readers. Send multipart/alternative with a text/plain part.",
    reference: "https://www.rfc-editor.org/rfc/rfc2046#section-5.1.4",
};

pub(super) const BROKEN_STRUCTURE: Spec = Spec {
    id: "mime.broken-structure",
    category: Category::Mime,
    title: "Multipart structure is well formed",
    fix: "Every multipart part needs a boundary parameter, its boundary lines in the body \
          and a closing `--boundary--`. Let a MIME library build the message rather than \
          concatenating strings.",
    reference: "https://www.rfc-editor.org/rfc/rfc2046#section-5.1.1",
};

pub(super) const CID_UNRESOLVED: Spec = Spec {
    id: "mime.cid-unresolved",
    category: Category::Mime,
    title: "Every cid: reference has its part",
    fix: "The HTML refers to an inline part by `cid:` that the message does not contain, so \
          clients show a broken image. Attach the part with a matching Content-ID header.",
    reference: "https://www.rfc-editor.org/rfc/rfc2392",
};

pub(super) const ATTACHMENT_TYPE_MISMATCH: Spec = Spec {
    id: "mime.attachment-type-mismatch",
    category: Category::Mime,
    title: "Attachment types match their names",
    fix: "An attachment's Content-Type contradicts its file name's extension; clients pick \
          one or the other and filters flag it as a disguised file. Set the type from the \
          real content.",
    reference: "https://www.rfc-editor.org/rfc/rfc2183",
};

pub(super) const CALENDAR_INVALID: Spec = Spec {
    id: "mime.calendar-invalid",
    category: Category::Mime,
    title: "Calendar invitations can be read",
    fix: "The text/calendar part is not valid iCalendar (or has no event with a start), \
          so mail clients show no invitation card and no Accept/Decline buttons. Build it \
          with an iCalendar library: BEGIN:VCALENDAR, METHOD, one VEVENT with UID, \
          DTSTART, DTEND and ORGANIZER, END:VCALENDAR.",
    reference: "https://www.rfc-editor.org/rfc/rfc5545",
};

pub(super) const SPECS: &[&Spec] = &[
    &CHARSET_MISSING,
    &NO_TEXT_ALTERNATIVE,
    &BROKEN_STRUCTURE,
    &CID_UNRESOLVED,
    &ATTACHMENT_TYPE_MISMATCH,
    &CALENDAR_INVALID,
];

static CID_REFERENCE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"(?i)\bcid:([^"'\s)>]+)"#).expect("the cid: pattern compiles"));

pub(super) fn run(input: &Input<'_>, findings: &mut Findings) {
    let message = &input.message;
    let leaves = detail::leaves(message);

    for leaf in &leaves {
        let part = leaf.part;
        let media = media_type(part);
        if media.starts_with("text/") && part.content_type().and_then(|ct| ct.attribute("charset")).is_none() {
            let body = input.raw.get(part.offset_body as usize..(part.offset_end as usize).min(input.raw.len()));
            if body.is_some_and(|body| !body.is_ascii()) {
                findings.raise(
                    &CHARSET_MISSING,
                    Severity::Warning,
                    format!("Part {} ({media}) holds non-ASCII bytes and names no charset.", leaf.id),
                    Location::part(leaf.id.clone()),
                );
            }
        }
        if let Some(name) = part.attachment_name()
            && let Some(expected) = mismatch(name, &media)
        {
            findings.raise(
                &ATTACHMENT_TYPE_MISMATCH,
                Severity::Warning,
                format!(
                    "Part {} is named {} but declared {media}; its name suggests {expected}.",
                    leaf.id,
                    quote(name)
                ),
                Location::part(leaf.id.clone()),
            );
        }
    }

    if let Some(invite) = calendar::invite(message).filter(|invite| !invite.error.is_empty()) {
        findings.raise(
            &CALENDAR_INVALID,
            Severity::Warning,
            format!("Part {}: {}", invite.part_id, invite.error),
            Location::part(invite.part_id.clone()),
        );
    }

    let has_text = leaves.iter().any(|leaf| media_type(leaf.part) == "text/plain" && !is_attachment(leaf.part));
    if input.html.is_some() && !has_text {
        findings.raise(&NO_TEXT_ALTERNATIVE, Severity::Warning, "The message has HTML but no text/plain part.", None);
    }

    for part in &message.parts {
        let Some(content_type) = part.content_type().filter(|ct| ct.ctype().eq_ignore_ascii_case("multipart")) else {
            continue;
        };
        let children = part.sub_parts().unwrap_or_default();
        let section = input.raw.get(part.offset_header as usize..(part.offset_end as usize).min(input.raw.len()));
        let line = Location::line(line_at(input.raw, part.offset_header as usize));
        let Some(boundary) = content_type.attribute("boundary") else {
            let kind = media_type(part);
            findings.raise(
                &BROKEN_STRUCTURE,
                Severity::Error,
                format!("A {kind} part has no boundary parameter."),
                line,
            );
            continue;
        };
        let body = section.unwrap_or_default();
        let delimiter = format!("--{boundary}");
        if !contains(body, delimiter.as_bytes()) || children.is_empty() {
            findings.raise(
                &BROKEN_STRUCTURE,
                Severity::Error,
                format!("The boundary {} never appears: the multipart part has no parts.", quote(boundary)),
                line,
            );
        } else if !contains(body, format!("{delimiter}--").as_bytes()) {
            findings.raise(
                &BROKEN_STRUCTURE,
                Severity::Warning,
                format!("The multipart part with boundary {} is never closed (no `{delimiter}--`).", quote(boundary)),
                line,
            );
        }
    }

    if let Some(html) = &input.html {
        let ids: Vec<String> = leaves.iter().map(|leaf| content_id(leaf.part).to_ascii_lowercase()).collect();
        let mut seen = Vec::new();
        for reference in CID_REFERENCE.captures_iter(html) {
            let cid = percent_encoding::percent_decode_str(&reference[1]).decode_utf8_lossy().to_ascii_lowercase();
            if !ids.contains(&cid) && !seen.contains(&cid) {
                findings.raise(
                    &CID_UNRESOLVED,
                    Severity::Error,
                    format!("The HTML refers to cid:{} and no part has that Content-ID.", quote(&cid)),
                    None,
                );
                seen.push(cid);
            }
        }
    }
}

fn is_attachment(part: &MessagePart<'_>) -> bool {
    part.content_disposition().is_some_and(|disposition| disposition.ctype().eq_ignore_ascii_case("attachment"))
}

/// The type `name`'s extension suggests, when `declared` is not one of them.
/// Generic declared types (`application/octet-stream`), containers (a `message/*`
/// part is a message whatever it is called) and unknown extensions contradict
/// nothing.
fn mismatch(name: &str, declared: &str) -> Option<String> {
    if declared == "application/octet-stream" || declared.starts_with("message/") || declared.starts_with("multipart/")
    {
        return None;
    }
    let guesses = mime_guess::from_path(name);
    let first = guesses.first()?;
    let matches = guesses.iter().any(|guess| guess.essence_str().eq_ignore_ascii_case(declared));
    (!matches).then(|| first.essence_str().to_string())
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|window| window == needle)
}
