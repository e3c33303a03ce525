//! Parse a raw message into what the store keeps beside the bytes: the summary a
//! message list shows (Mailpit's `MessageSummary` fields) and the decoded text the
//! full-text index covers.
//!
//! Captured mail is untrusted and often broken, so [`summarize`] never fails: what
//! mail-parser cannot make sense of is left empty, and the raw bytes are stored
//! regardless. Parsing runs on the caller's side of the store (see
//! `store::Store::submit`), never on the writer thread.

use std::panic::{AssertUnwindSafe, catch_unwind};

use mail_parser::{Header, MessageParser, MessagePart, MimeHeaders};
use time::{OffsetDateTime, UtcOffset};

use crate::model::Address;

/// Longest snippet, in characters, ellipsis included.
pub const SNIPPET_CHARS: usize = 250;

/// Body text indexed per message, in bytes. A 50 MB text body would cost far more
/// to index than a search over it is worth; its beginning is what people look for.
pub const MAX_INDEXED_BODY: usize = 1024 * 1024;

/// What a message list shows about a message, plus its search text.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ParsedSummary {
    /// The Message-ID header without `<>`.
    pub message_id: String,
    /// The first From address (empty if none).
    pub from: Address,
    pub to: Vec<Address>,
    pub cc: Vec<Address>,
    pub bcc: Vec<Address>,
    pub reply_to: Vec<Address>,
    pub subject: String,
    /// The Date header, with the sender's offset, if present and valid.
    pub date: Option<OffsetDateTime>,
    /// Up to [`SNIPPET_CHARS`] of body text, whitespace collapsed.
    pub snippet: String,
    /// Parts shown as attachments (see [`is_inline`]).
    pub attachments: u32,
    /// Parts shown inline, such as images referenced by `cid:`.
    pub inlines: u32,
    /// The first `X-Tags` header as sent (comma-separated tags), "" if none.
    pub x_tags: String,
    pub search: SearchText,
}

/// Decoded text for the full-text index, one field per index column.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SearchText {
    /// Names and addresses of every From, To, Cc, Bcc and Reply-To mailbox.
    pub addresses: String,
    /// The text bodies (HTML converted to text when there is no text part), at most
    /// [`MAX_INDEXED_BODY`] bytes.
    pub body: String,
    /// File names of attachments and inline parts.
    pub attachment_names: String,
}

/// A header's value as written (unfolded, lossy UTF-8), from the raw message
/// mail-parser parsed it from.
pub fn header_raw_value(raw: &[u8], header: &Header<'_>) -> String {
    let value = raw.get(header.offset_start as usize..(header.offset_end as usize).min(raw.len())).unwrap_or_default();
    String::from_utf8_lossy(value).replace(['\r', '\n'], "").trim().to_string()
}

/// Summarise a raw message. Never panics and never fails: a message mail-parser
/// cannot parse gets an empty summary.
pub fn summarize(raw: &[u8]) -> ParsedSummary {
    // mail-parser is fuzzed, but it runs on whatever any client sends; a bug in it
    // must cost one message its summary, not the SMTP session or the process.
    catch_unwind(AssertUnwindSafe(|| summarize_unguarded(raw))).unwrap_or_else(|_| {
        tracing::warn!(size = raw.len(), "mail-parser panicked; storing the message without a summary");
        ParsedSummary::default()
    })
}

/// Whether an attachment-like part is shown inline rather than listed as an
/// attachment: it says `Content-Disposition: inline`, or it has no disposition but a
/// Content-ID (an embedded image referenced by `cid:`). The message view uses the
/// same rule, so the counts here match the lists there.
pub fn is_inline(part: &MessagePart<'_>) -> bool {
    match part.content_disposition() {
        Some(disposition) => disposition.c_type.eq_ignore_ascii_case("inline"),
        None => part.content_id().is_some(),
    }
}

fn summarize_unguarded(raw: &[u8]) -> ParsedSummary {
    let Some(message) = MessageParser::default().parse(raw) else {
        return ParsedSummary::default();
    };

    let from = addresses(message.from());
    let to = addresses(message.to());
    let cc = addresses(message.cc());
    let bcc = addresses(message.bcc());
    let reply_to = addresses(message.reply_to());

    let body = body_text(&message);

    let (mut attachments, mut inlines) = (0u32, 0u32);
    let mut attachment_names = String::new();
    for part in message.attachments() {
        if is_inline(part) {
            inlines += 1;
        } else {
            attachments += 1;
        }
        if let Some(name) = part.attachment_name() {
            push_word(&mut attachment_names, name);
        }
    }

    let mut address_text = String::new();
    for address in from.iter().chain(&to).chain(&cc).chain(&bcc).chain(&reply_to) {
        push_word(&mut address_text, &address.name);
        push_word(&mut address_text, &address.address);
    }

    ParsedSummary {
        message_id: message.message_id().unwrap_or_default().to_owned(),
        from: from.into_iter().next().unwrap_or_default(),
        to,
        cc,
        bcc,
        reply_to,
        subject: message.subject().unwrap_or_default().to_owned(),
        date: message.date().and_then(date_time),
        snippet: snippet(&body),
        attachments,
        inlines,
        x_tags: message.header_raw("X-Tags").unwrap_or_default().to_owned(),
        search: SearchText { addresses: address_text, body: truncate_bytes(body, MAX_INDEXED_BODY), attachment_names },
    }
}

/// Every mailbox of an address header, groups flattened; entries with neither a
/// name nor an address (such as an empty group's placeholder) are dropped.
fn addresses(header: Option<&mail_parser::Address<'_>>) -> Vec<Address> {
    header
        .into_iter()
        .flat_map(|list| list.iter())
        .map(|addr| Address {
            name: addr.name().unwrap_or_default().trim().to_owned(),
            address: addr.address().unwrap_or_default().trim().to_owned(),
        })
        .filter(|a| !a.name.is_empty() || !a.address.is_empty())
        .collect()
}

/// All text bodies joined; mail-parser lists HTML parts as text bodies (converted
/// to text) when a message has no plain-text alternative.
fn body_text(message: &mail_parser::Message<'_>) -> String {
    let mut text = String::new();
    for index in 0..message.text_body_count() {
        if text.len() >= MAX_INDEXED_BODY {
            break;
        }
        if let Some(part) = message.body_text(index) {
            if !text.is_empty() {
                text.push('\n');
            }
            text.push_str(&part);
        }
    }
    text
}

/// The first [`SNIPPET_CHARS`] of `text` with runs of whitespace collapsed to one
/// space; longer text ends in "...".
fn snippet(text: &str) -> String {
    const ELLIPSIS: &str = "...";
    let mut words = text.split_whitespace();
    let mut snippet = String::new();
    let mut chars = 0;
    for word in words.by_ref() {
        let separator = usize::from(!snippet.is_empty());
        let word_chars = word.chars().count();
        if chars + separator + word_chars > SNIPPET_CHARS {
            // Fill up to the limit, leaving room for the ellipsis.
            let room = SNIPPET_CHARS - ELLIPSIS.len();
            if chars + separator < room {
                if separator == 1 {
                    snippet.push(' ');
                    chars += 1;
                }
                snippet.extend(word.chars().take(room - chars));
            } else {
                snippet = snippet.chars().take(room).collect();
            }
            snippet.push_str(ELLIPSIS);
            return snippet;
        }
        if separator == 1 {
            snippet.push(' ');
        }
        snippet.push_str(word);
        chars += separator + word_chars;
    }
    snippet
}

/// The Date header as a time with the sender's offset; `None` when the header is
/// missing or nonsense (mail-parser reports field ranges, `time` the calendar).
fn date_time(date: &mail_parser::DateTime) -> Option<OffsetDateTime> {
    if !date.is_valid() {
        return None;
    }
    let sign = if date.tz_before_gmt { -1 } else { 1 };
    let offset = UtcOffset::from_hms(sign * date.tz_hour as i8, sign * date.tz_minute as i8, 0).ok()?;
    OffsetDateTime::from_unix_timestamp(date.to_timestamp()).ok().map(|t| t.to_offset(offset))
}

fn push_word(text: &mut String, word: &str) {
    if word.is_empty() {
        return;
    }
    if !text.is_empty() {
        text.push(' ');
    }
    text.push_str(word);
}

/// `text` cut to at most `max` bytes, on a character boundary.
fn truncate_bytes(mut text: String, max: usize) -> String {
    if text.len() > max {
        let cut = (0..=max).rev().find(|&i| text.is_char_boundary(i)).unwrap_or(0);
        text.truncate(cut);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(name: &str, address: &str) -> Address {
        Address { name: name.into(), address: address.into() }
    }

    #[test]
    fn summarizes_headers_and_body() {
        let raw = b"Message-ID: <abc@example.com>\r\n\
From: =?UTF-8?B?SsO8cmdlbg==?= <jurgen@example.com>\r\n\
To: a@example.com, Team: b@example.com, \"Cee\" <c@example.com>;\r\n\
Cc: d@example.com\r\n\
Reply-To: r@example.com\r\n\
Subject: =?UTF-8?Q?Caf=C3=A9?= menu\r\n\
Date: Tue, 1 Jul 2025 10:20:30 +0200\r\n\
\r\n\
Hello   there,\r\n\r\n  the  menu.\r\n";
        let s = summarize(raw);
        assert_eq!(s.message_id, "abc@example.com");
        assert_eq!(s.from, addr("Jürgen", "jurgen@example.com"));
        assert_eq!(s.to, vec![addr("", "a@example.com"), addr("", "b@example.com"), addr("Cee", "c@example.com")]);
        assert_eq!(s.cc, vec![addr("", "d@example.com")]);
        assert!(s.bcc.is_empty());
        assert_eq!(s.reply_to, vec![addr("", "r@example.com")]);
        assert_eq!(s.subject, "Café menu");
        let date = s.date.expect("date");
        assert_eq!(date.unix_timestamp(), 1_751_358_030);
        assert_eq!(date.offset().whole_hours(), 2);
        assert_eq!(s.snippet, "Hello there, the menu.");
        assert!(s.search.addresses.contains("Jürgen jurgen@example.com"));
        assert!(s.search.addresses.contains("Cee c@example.com"));
        assert_eq!(s.attachments, 0);
    }

    #[test]
    fn html_only_message_gets_text_snippet() {
        let raw = b"Subject: x\r\nContent-Type: text/html\r\n\r\n<html><head><style>p{color:red}</style></head>\
<body><p>Hi <b>Bob</b>,</p><p>welcome.</p></body></html>\r\n";
        let s = summarize(raw);
        assert!(s.snippet.starts_with("Hi Bob"), "{:?}", s.snippet);
        assert!(s.snippet.ends_with("welcome."), "{:?}", s.snippet);
        assert!(!s.search.body.contains('<'));
        assert!(!s.search.body.contains("color"));
    }

    #[test]
    fn snippet_is_bounded_and_ends_in_ellipsis() {
        let long = "word ".repeat(200);
        let s = snippet(&long);
        assert_eq!(s.chars().count(), SNIPPET_CHARS);
        assert!(s.ends_with("..."));
        let one_long_word = "é".repeat(1000);
        let s = snippet(&one_long_word);
        assert_eq!(s.chars().count(), SNIPPET_CHARS);
        assert_eq!(snippet("  short \n\t text "), "short text");
        assert_eq!(snippet(""), "");
    }

    #[test]
    fn counts_attachments_and_inline_parts_apart() {
        let raw = b"Subject: parts\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n\
--b\r\nContent-Type: text/plain\r\n\r\nbody\r\n\
--b\r\nContent-Type: image/png\r\nContent-ID: <img1>\r\n\r\nPNG\r\n\
--b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"report 2024.pdf\"\r\n\r\nPDF\r\n\
--b\r\nContent-Type: text/csv; name=data.csv\r\nContent-Disposition: attachment\r\n\r\na,b\r\n\
--b--\r\n";
        let s = summarize(raw);
        assert_eq!(s.attachments, 2);
        assert_eq!(s.inlines, 1);
        assert_eq!(s.search.attachment_names, "report 2024.pdf data.csv");
        assert_eq!(s.snippet, "body");
    }

    #[test]
    fn garbage_gets_an_empty_summary() {
        for raw in [&b""[..], b"\0\0\0", b"\xff\xfe", b":::\r\n\r\n", b"From: <<<>>>\r\nDate: yesterday\r\n"] {
            let s = summarize(raw);
            assert!(s.date.is_none());
            assert_eq!(s.attachments, 0);
        }
    }

    #[test]
    fn indexed_body_is_capped_on_a_char_boundary() {
        let text = "é".repeat(MAX_INDEXED_BODY);
        let cut = truncate_bytes(text, MAX_INDEXED_BODY - 1);
        assert!(cut.len() < MAX_INDEXED_BODY);
        assert!(cut.chars().all(|c| c == 'é'));
    }

    /// Every corpus file parses without panicking, and the parts of the summary the
    /// corpus README promises are there.
    #[test]
    fn summarizes_every_corpus_file() {
        let files = crate::mail::corpus::files();
        assert_eq!(files.len(), 81, "the corpus README lists 81 files");
        for path in &files {
            let raw = std::fs::read(path).unwrap();
            let s = summarize(&raw);
            assert!(s.snippet.chars().count() <= SNIPPET_CHARS, "{}", path.display());
            assert!(s.search.body.len() <= MAX_INDEXED_BODY, "{}", path.display());
        }
        let summary = |name: &str| {
            let path = files.iter().find(|p| p.ends_with(name)).unwrap_or_else(|| panic!("{name} missing"));
            summarize(&std::fs::read(path).unwrap())
        };
        // RFC 2047 in ISO-2022-JP and a Windows-1251 encoded From.
        assert!(!summary("letters/test_japanese_plaintext_iso-2022-jp_over_7bit.eml").subject.is_empty());
        let bad_time = summary("mikel-mail/raw_email_bad_time.eml");
        assert!(!bad_time.from.name.is_empty() && !bad_time.from.name.contains("=?"));
        // Groups are flattened.
        let groups = summary("mikel-mail/example04.eml");
        assert!(groups.to.len() >= 3, "{:?}", groups.to);
        // PDF attachment beside an inline image.
        let mixed = summary("mailpit/mixed-attachment.eml");
        assert_eq!((mixed.attachments, mixed.inlines), (1, 1));
        // A year-3609 Date is not a date.
        assert!(summary("mikel-mail/raw_email_bad_time.eml").date.is_none());
    }
}
