//! The full-message view: what `GET /api/v1/message/{ID}` shows (Mailpit's `Message`
//! shape), the header map of `/headers`, the MIME tree of `/parts` (ours), and single
//! MIME parts for `/part/{PartID}`, all read from the stored raw bytes with
//! mail-parser.
//!
//! Part IDs are IMAP section numbers, which is what Mailpit (through enmime) shows:
//! the children of a multipart root are `1`, `2`, …, theirs `1.1`, `1.2`, …; a
//! message that is not multipart is the single part `1`. An attached message
//! (`message/rfc822`) is one part; its own parts are not numbered.
//!
//! Which parts are listed, and whether as inline or as attachment, is decided
//! exactly as the summary counts them ([`super::parse::is_inline`] over mail-parser's
//! attachment list), so a message's `Attachments` count and its lists always agree.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};

use mail_parser::parsers::MessageStream;
use mail_parser::{Message, MessageParser, MessagePart, MimeHeaders, PartType};
use md5::Md5;
use serde::Serialize;
use sha1::Sha1;
use sha2::{Digest, Sha256};
use time::{OffsetDateTime, UtcOffset};

use super::parse::is_inline;
use crate::model::Address;
use crate::model::{MessageId, MessageSummary};

/// Mailpit's `Message`: key set and order matter to its clients (no `Read` key).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct MessageView {
    #[serde(rename = "ID")]
    #[schema(value_type = String)]
    #[cfg_attr(test, ts(type = "string"))]
    pub id: MessageId,
    #[serde(rename = "MessageID")]
    pub message_id: String,
    #[serde(rename = "From")]
    pub from: Address,
    #[serde(rename = "To")]
    pub to: Vec<Address>,
    #[serde(rename = "Cc")]
    pub cc: Vec<Address>,
    #[serde(rename = "Bcc")]
    pub bcc: Vec<Address>,
    #[serde(rename = "ReplyTo")]
    pub reply_to: Vec<Address>,
    #[serde(rename = "ReturnPath")]
    pub return_path: String,
    #[serde(rename = "Subject")]
    pub subject: String,
    #[serde(rename = "ListUnsubscribe")]
    pub list_unsubscribe: ListUnsubscribe,
    /// The Date header, or the time received when it is missing or invalid.
    #[serde(rename = "Date", with = "time::serde::rfc3339")]
    #[cfg_attr(test, ts(type = "string"))]
    pub date: OffsetDateTime,
    #[serde(rename = "Tags")]
    pub tags: Vec<String>,
    #[serde(rename = "Username")]
    pub username: String,
    #[serde(rename = "Text")]
    pub text: String,
    #[serde(rename = "HTML")]
    pub html: String,
    #[serde(rename = "Size")]
    pub size: u64,
    #[serde(rename = "Inline")]
    pub inline: Vec<Attachment>,
    #[serde(rename = "Attachments")]
    pub attachments: Vec<Attachment>,
    /// The calendar invitation the message carries (ours, not Mailpit's: only
    /// there when the message has a `text/calendar` part).
    #[serde(rename = "Calendar", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional))]
    pub calendar: Option<super::calendar::CalendarInvite>,
}

/// The List-Unsubscribe headers and what Mailpit's checker makes of them.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "PascalCase")]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct ListUnsubscribe {
    pub header: String,
    pub links: Vec<String>,
    /// Problems found in `header`, comma-separated; `""` if none.
    pub errors: String,
    pub header_post: String,
}

/// An inline part or attachment, without its bytes.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Attachment {
    #[serde(rename = "PartID")]
    pub part_id: String,
    /// The file name, or the Content-ID when the part has no name.
    #[serde(rename = "FileName")]
    pub file_name: String,
    /// The media type alone (`image/png`), as Mailpit shows it.
    #[serde(rename = "ContentType")]
    pub content_type: String,
    #[serde(rename = "ContentID")]
    pub content_id: String,
    /// Decoded size in bytes.
    #[serde(rename = "Size")]
    pub size: u64,
    #[serde(rename = "Checksums")]
    pub checksums: Checksums,
}

/// Lowercase hex digests of a part's decoded bytes.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Checksums {
    #[serde(rename = "MD5")]
    pub md5: String,
    #[serde(rename = "SHA1")]
    pub sha1: String,
    #[serde(rename = "SHA256")]
    pub sha256: String,
}

/// A node of the MIME tree (`/parts`): a container (`multipart/*`) with its
/// `Parts`, or a leaf, which `/part/{PartID}` serves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct PartNode {
    /// IMAP section number, as `/part/{PartID}` takes it; `""` for a multipart
    /// message's root (the message itself, not a part of it).
    #[serde(rename = "PartID")]
    pub part_id: String,
    /// The media type alone (`text/html`).
    #[serde(rename = "ContentType")]
    pub content_type: String,
    /// The part's file name, or `""`.
    #[serde(rename = "FileName")]
    pub file_name: String,
    /// Decoded size in bytes; a container's is the sum of its parts'.
    #[serde(rename = "Size")]
    pub size: u64,
    /// The part's own header fields in order, as (name as written, decoded value).
    #[serde(rename = "Headers")]
    pub headers: Vec<(String, String)>,
    #[serde(rename = "Parts")]
    #[schema(no_recursion)]
    pub parts: Vec<PartNode>,
}

/// Containers nested deeper than this are shown without their parts: real mail
/// nests a few levels, and the tree is built (and serialized) recursively.
const MAX_TREE_DEPTH: usize = 32;

/// One MIME part's decoded bytes, for download.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// Full Content-Type to serve. Text parts are decoded to UTF-8, so theirs says so.
    pub content_type: String,
    /// File name, or Content-ID, or `""`.
    pub file_name: String,
    pub body: Vec<u8>,
}

/// The full view of a stored message. Addresses, subject and IDs come from the
/// store's summary so that list and view always agree; bodies and parts from `raw`.
pub fn message(summary: &MessageSummary, raw: &[u8]) -> MessageView {
    let message = parse(raw);
    let headers = decoded_headers(&message);
    let header = |name: &str| headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.trim());

    let return_path = header("Return-Path")
        .map(|v| v.trim_start_matches('<').trim_end_matches('>'))
        .filter(|v| !v.is_empty())
        .unwrap_or(&summary.from.address)
        .to_string();
    let list_unsubscribe = match header("List-Unsubscribe") {
        Some(value) => {
            let (links, errors) = unsubscribe_links(value);
            ListUnsubscribe {
                header: value.to_string(),
                links,
                errors,
                header_post: header("List-Unsubscribe-Post").unwrap_or("").to_string(),
            }
        }
        None => ListUnsubscribe::default(),
    };

    let mut inline = Vec::new();
    let mut attachments = Vec::new();
    for leaf in leaves(&message) {
        if !message.attachments.contains(&leaf.index) {
            continue;
        }
        let content_id = content_id(leaf.part);
        let bytes = leaf.part.contents();
        let attachment = Attachment {
            part_id: leaf.id,
            // Mailpit names an unnamed part after its Content-ID.
            file_name: leaf.part.attachment_name().unwrap_or(&content_id).to_string(),
            content_type: media_type(leaf.part),
            content_id,
            size: bytes.len() as u64,
            checksums: Checksums {
                md5: format!("{:x}", Md5::digest(bytes)),
                sha1: format!("{:x}", Sha1::digest(bytes)),
                sha256: format!("{:x}", Sha256::digest(bytes)),
            },
        };
        if is_inline(leaf.part) { inline.push(attachment) } else { attachments.push(attachment) }
    }

    MessageView {
        id: summary.id.clone(),
        message_id: summary.message_id.clone(),
        from: summary.from.clone(),
        to: summary.to.clone(),
        cc: summary.cc.clone(),
        bcc: summary.bcc.clone(),
        reply_to: summary.reply_to.clone(),
        return_path,
        subject: summary.subject.clone(),
        list_unsubscribe,
        // mail-parser's header getters index the first part, which a message it could
        // not parse (an empty one) lacks.
        date: message
            .parts
            .first()
            .and_then(|_| message.date())
            .and_then(to_offset_datetime)
            .unwrap_or(summary.created),
        tags: summary.tags.clone(),
        username: summary.username.clone(),
        text: text_body(&message),
        html: html_body(&message),
        size: raw.len() as u64,
        inline,
        attachments,
        calendar: super::calendar::invite(&message),
    }
}

/// The top-level headers as Mailpit's `/headers` shows them: Go-canonical names
/// (`Message-Id`), sorted, each with its values in order; values unfolded and
/// RFC 2047-decoded.
pub fn headers(raw: &[u8]) -> BTreeMap<String, Vec<String>> {
    let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, value) in decoded_headers(&parse(raw)) {
        map.entry(canonical_header_name(&name)).or_default().push(value);
    }
    map
}

/// The whole MIME tree. Its root is the message: a container with `PartID` `""`
/// when it is multipart, else the single part `1`.
pub fn part_tree(raw: &[u8]) -> PartNode {
    let message = parse(raw);
    let mut seen = vec![false; message.parts.len()];
    match message.parts.first() {
        Some(root) if root.sub_parts().is_some() => tree_node(&message, root, String::new(), 0, &mut seen),
        Some(root) => tree_node(&message, root, "1".to_string(), 0, &mut seen),
        // Nothing to parse (an empty message): one empty text part.
        None => PartNode {
            part_id: "1".to_string(),
            content_type: "text/plain".to_string(),
            file_name: String::new(),
            size: 0,
            headers: Vec::new(),
            parts: Vec::new(),
        },
    }
}

/// `part` and, up to [`MAX_TREE_DEPTH`], the parts under it. `seen`: the parts
/// already in the tree (by index), each shown once.
fn tree_node(
    message: &Message<'_>,
    part: &MessagePart<'_>,
    part_id: String,
    depth: usize,
    seen: &mut [bool],
) -> PartNode {
    let parts: Vec<PartNode> = match part.sub_parts() {
        Some(children) if depth < MAX_TREE_DEPTH => children
            .iter()
            .enumerate()
            .filter_map(|(i, &index)| {
                let child = message.parts.get(index as usize)?;
                if unseen(seen, index) {
                    let dot = if part_id.is_empty() { "" } else { "." };
                    Some(tree_node(message, child, format!("{part_id}{dot}{}", i + 1), depth + 1, seen))
                } else {
                    None
                }
            })
            .collect(),
        _ => Vec::new(),
    };
    let size = match part.sub_parts() {
        Some(_) => parts.iter().map(|p| p.size).sum(),
        None => part.contents().len() as u64,
    };
    PartNode {
        part_id,
        content_type: media_type(part),
        file_name: part.attachment_name().unwrap_or("").to_string(),
        size,
        headers: decoded_part_headers(message, part),
        parts,
    }
}

/// The decoded bytes of the part with IMAP section number `part_id`.
pub fn part(raw: &[u8], part_id: &str) -> Option<Part> {
    let message = parse(raw);
    let leaf = leaves(&message).into_iter().find(|leaf| leaf.id == part_id)?;
    let media_type = media_type(leaf.part);
    let content_type = match leaf.part.body {
        PartType::Text(_) | PartType::Html(_) => format!("{media_type}; charset=utf-8"),
        _ => media_type,
    };
    let content_id = content_id(leaf.part);
    Some(Part {
        content_type,
        file_name: leaf.part.attachment_name().unwrap_or(&content_id).to_string(),
        body: leaf.part.contents().to_vec(),
    })
}

/// The HTML body (as the full view's `HTML`) and the parts it can refer to with
/// `cid:` URLs, as (Content-ID, part ID); `None` when the message has no HTML part.
pub fn html_body_and_content_ids(raw: &[u8]) -> Option<(String, Vec<(String, String)>)> {
    let message = parse(raw);
    let html = html_part(&message)?;
    let content_ids = leaves(&message)
        .into_iter()
        .map(|leaf| (content_id(leaf.part), leaf.id))
        .filter(|(content_id, _)| !content_id.is_empty())
        .collect();
    Some((html, content_ids))
}

/// The text body and the HTML body, as the full view shows them (`Text`, `HTML`).
pub fn bodies(raw: &[u8]) -> (String, String) {
    let message = parse(raw);
    (text_body(&message), html_body(&message))
}

pub(crate) fn parse(raw: &[u8]) -> Message<'_> {
    // mail-parser gives up only on input with no message at all (e.g. empty);
    // that shows as a message with no headers and no body. So does one it panics
    // on, as `parse::summarize` does (its debug assertions fire on some broken
    // MIME nesting: found by the message_pipeline fuzz target).
    catch_unwind(AssertUnwindSafe(|| MessageParser::default().parse(raw))).ok().flatten().unwrap_or_default()
}

/// Top-level header fields in order, each as (name as written, decoded value).
fn decoded_headers(message: &Message<'_>) -> Vec<(String, String)> {
    message.parts.first().map(|root| decoded_part_headers(message, root)).unwrap_or_default()
}

/// `part`'s header fields in order, each as (name as written, decoded value).
fn decoded_part_headers(message: &Message<'_>, part: &MessagePart<'_>) -> Vec<(String, String)> {
    part.headers
        .iter()
        .map(|header| {
            let start = header.offset_start as usize;
            let end = (header.offset_end as usize).min(message.raw_message.len());
            let mut value = message.raw_message.get(start..end).unwrap_or_default().to_vec();
            // The unstructured parser ends a value at a newline; the last header of a
            // message without a body may lack one.
            value.push(b'\n');
            let decoded = MessageStream::new(&value).parse_unstructured().into_text().unwrap_or_default();
            (header.name.as_str().to_string(), decoded.into_owned())
        })
        .collect()
}

/// Go's `textproto.CanonicalMIMEHeaderKey`: `message-id` → `Message-Id`. Names with
/// characters outside a header token are left as they are, as Go does.
fn canonical_header_name(name: &str) -> String {
    let is_token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if name.is_empty() || !name.chars().all(is_token) {
        return name.to_string();
    }
    let mut upper = true;
    name.chars()
        .map(|c| {
            let out = if upper { c.to_ascii_uppercase() } else { c.to_ascii_lowercase() };
            upper = c == '-';
            out
        })
        .collect()
}

/// A part that is not a multipart container, with its section number and its
/// index in mail-parser's part list.
pub(crate) struct Leaf<'m, 'x> {
    pub(crate) id: String,
    pub(crate) index: u32,
    pub(crate) part: &'m MessagePart<'x>,
}

/// All leaf parts in document order.
pub(crate) fn leaves<'m, 'x>(message: &'m Message<'x>) -> Vec<Leaf<'m, 'x>> {
    let Some(root) = message.parts.first() else {
        return Vec::new();
    };
    let Some(children) = root.sub_parts() else {
        return vec![Leaf { id: "1".to_string(), index: 0, part: root }];
    };
    let numbered = |prefix: &str, ids: &[u32]| -> Vec<(String, u32)> {
        let dot = if prefix.is_empty() { "" } else { "." };
        ids.iter().enumerate().rev().map(|(i, &part)| (format!("{prefix}{dot}{}", i + 1), part)).collect()
    };
    // An explicit stack, not recursion: the nesting depth is the sender's choice.
    let mut stack = numbered("", children);
    let mut leaves = Vec::new();
    let mut seen = vec![false; message.parts.len()];
    while let Some((id, index)) = stack.pop() {
        let Some(part) = message.parts.get(index as usize).filter(|_| unseen(&mut seen, index)) else { continue };
        match part.sub_parts() {
            Some(children) => stack.extend(numbered(&id, children)),
            None => leaves.push(Leaf { id, index, part }),
        }
    }
    leaves
}

/// Marks part `index` seen; true the first time. mail-parser's part lists should
/// form a tree, but on some broken MIME they share parts (or loop), and walking
/// every path then took exponential time and memory (several GB for a 19 KB
/// message; found by the message_pipeline fuzz target).
fn unseen(seen: &mut [bool], index: u32) -> bool {
    seen.get_mut(index as usize).is_some_and(|seen| !std::mem::replace(seen, true))
}

/// `type/subtype`, lowercase, without parameters.
pub(crate) fn media_type(part: &MessagePart<'_>) -> String {
    match part.content_type() {
        Some(ct) => match ct.subtype() {
            Some(subtype) => format!("{}/{}", ct.ctype(), subtype).to_ascii_lowercase(),
            None => ct.ctype().to_ascii_lowercase(),
        },
        None if part.is_message() => "message/rfc822".to_string(),
        None => "text/plain".to_string(),
    }
}

pub(crate) fn content_id(part: &MessagePart<'_>) -> String {
    part.content_id().unwrap_or("").trim().trim_start_matches('<').trim_end_matches('>').to_string()
}

/// The plain-text bodies joined as enmime joins them, or the HTML body turned into
/// text when there is no plain one.
pub(crate) fn text_body(message: &Message<'_>) -> String {
    let texts: Vec<&str> = message
        .text_body
        .iter()
        .filter_map(|&index| match &message.parts.get(index as usize)?.body {
            PartType::Text(text) => Some(text.as_ref()),
            _ => None,
        })
        .collect();
    if texts.is_empty() { message.body_text(0).map(Cow::into_owned).unwrap_or_default() } else { texts.join("\n--\n") }
}

/// The first real HTML body, or `""`.
fn html_body(message: &Message<'_>) -> String {
    html_part(message).unwrap_or_default()
}

/// The first real HTML body (mail-parser would otherwise offer text turned into HTML).
pub(crate) fn html_part(message: &Message<'_>) -> Option<String> {
    let index = html_part_index(message)?;
    match &message.parts.get(index as usize)?.body {
        PartType::Html(html) => Some(html.to_string()),
        _ => None,
    }
}

/// Where [`html_part`] is in `message.parts` (a [`Leaf`]'s `index`).
pub(crate) fn html_part_index(message: &Message<'_>) -> Option<u32> {
    message
        .html_body
        .iter()
        .copied()
        .find(|&index| matches!(message.parts.get(index as usize).map(|part| &part.body), Some(PartType::Html(_))))
}

fn to_offset_datetime(date: &mail_parser::DateTime) -> Option<OffsetDateTime> {
    if !date.is_valid() {
        return None;
    }
    let sign = if date.tz_before_gmt { -1 } else { 1 };
    let offset =
        UtcOffset::from_whole_seconds(sign * (i32::from(date.tz_hour) * 3600 + i32::from(date.tz_minute) * 60)).ok()?;
    Some(OffsetDateTime::from_unix_timestamp(date.to_timestamp()).ok()?.to_offset(offset))
}

/// Mailpit's List-Unsubscribe check (RFC 2369 / 8058): `<link>`s separated by
/// commas, at most one `mailto:` and one `http(s)://` link, no spaces inside.
/// Returns the valid links and the problems found, comma-separated.
pub(crate) fn unsubscribe_links(header: &str) -> (Vec<String>, String) {
    // Comments in parentheses are ignored.
    let mut value = String::with_capacity(header.len());
    let mut depth = 0usize;
    for c in header.chars() {
        match c {
            '(' => depth += 1,
            ')' if depth > 0 => depth -= 1,
            _ if depth == 0 => value.push(c),
            _ => {}
        }
    }
    let value = value.trim();
    if !value.contains('<') || !value.contains('>') {
        return (Vec::new(), format!("{value:?} no valid unsubscribe links found"));
    }
    if !value.starts_with('<') || !value.ends_with('>') {
        return (Vec::new(), format!("{value:?} should be enclosed in <>"));
    }
    let segments: Vec<&str> = value[1..value.len() - 1].split('>').collect();
    let mut links = Vec::new();
    for (i, segment) in segments.iter().enumerate() {
        let link = if i == 0 {
            *segment
        } else {
            match segment.split_once('<') {
                Some((between, link)) if between.trim() == "," => link,
                _ => return (Vec::new(), format!("{value:?} <> should be split with a comma and optional spaces")),
            }
        };
        links.push(link);
    }
    if links.len() > 2 {
        return (Vec::new(), format!("{value:?} should include a maximum of one email and one HTTP link"));
    }

    let mut valid = Vec::new();
    let mut errors = Vec::new();
    let (mut mailto, mut http) = (false, false);
    for link in links {
        let lower = link.to_ascii_lowercase();
        if link.chars().any(char::is_whitespace) {
            errors.push(format!("{link:?} should not contain spaces"));
        } else if lower.starts_with("mailto:") && link.len() > 7 {
            if std::mem::replace(&mut mailto, true) {
                errors.push(format!("{link:?} should only contain one mailto:"));
            } else {
                valid.push(link.to_string());
            }
        } else if (lower.starts_with("http://") || lower.starts_with("https://")) && !link.ends_with("//") {
            if std::mem::replace(&mut http, true) {
                errors.push(format!("{link:?} should only contain one HTTP link"));
            } else {
                valid.push(link.to_string());
            }
        } else {
            errors.push(format!("{link:?} should start with either http(s):// or mailto:"));
        }
    }
    (valid, errors.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A text and an HTML body, an inline image, a PDF attachment (whose `name=`
    /// is not its `filename=`) and an HTML attachment; List-Unsubscribe headers and
    /// a folded header. Shared with the API tests.
    const MULTIPART: &[u8] = include_bytes!("testdata/multipart.eml");

    fn summary() -> MessageSummary {
        MessageSummary {
            id: MessageId::stored("abc".into()),
            message_id: "m1@example.com".into(),
            read: false,
            from: Address { name: "A".into(), address: "a@example.com".into() },
            to: vec![],
            cc: vec![],
            bcc: vec![],
            reply_to: vec![],
            subject: "Hello".into(),
            created: OffsetDateTime::UNIX_EPOCH,
            username: String::new(),
            tags: vec![],
            size: 0,
            attachments: 1,
            snippet: String::new(),
            inbox: String::new(),
        }
    }

    #[test]
    fn part_ids_follow_imap_sections() {
        let message = parse(MULTIPART);
        let ids: Vec<String> = leaves(&message).into_iter().map(|leaf| leaf.id).collect();
        assert_eq!(ids, ["1.1.1", "1.1.2", "1.2", "2", "3"]);
        let single = parse(b"Subject: x\r\n\r\nbody\r\n");
        assert_eq!(leaves(&single).into_iter().map(|l| l.id).collect::<Vec<_>>(), ["1"]);
    }

    #[test]
    fn full_view() {
        let view = message(&summary(), MULTIPART);
        assert_eq!(view.text.trim_end(), "Plain body");
        assert!(view.html.contains("<p>HTML body"));
        assert_eq!(view.return_path, "a@example.com");
        assert_eq!(view.size, MULTIPART.len() as u64);
        assert_eq!(view.date.to_string(), "2024-01-02 10:20:30.0 -05:00:00");

        assert_eq!(view.inline.len(), 1);
        let logo = &view.inline[0];
        assert_eq!((logo.part_id.as_str(), logo.file_name.as_str()), ("1.2", "logo@x"));
        assert_eq!((logo.content_type.as_str(), logo.content_id.as_str()), ("image/png", "logo@x"));
        assert_eq!(logo.size, 8);

        assert_eq!(view.attachments.len(), 2);
        let pdf = &view.attachments[0];
        assert_eq!((pdf.part_id.as_str(), pdf.file_name.as_str()), ("2", "report.pdf"));
        assert_eq!(pdf.content_type, "application/pdf");
        // "%PDF-1.4\n"
        assert_eq!(pdf.size, 9);
        assert_eq!(pdf.checksums.md5, format!("{:x}", Md5::digest(b"%PDF-1.4\n")));
        assert_eq!(pdf.checksums.sha256.len(), 64);
        let html = &view.attachments[1];
        assert_eq!((html.part_id.as_str(), html.file_name.as_str()), ("3", "page.html"));
        assert_eq!(html.content_type, "text/html");
        assert_eq!(html.content_id, "");

        assert_eq!(view.list_unsubscribe.links, ["mailto:u@example.com", "https://example.com/u"]);
        assert_eq!(view.list_unsubscribe.errors, "");
        assert_eq!(view.list_unsubscribe.header_post, "List-Unsubscribe=One-Click");
    }

    #[test]
    fn date_falls_back_to_received() {
        let view = message(&summary(), b"Subject: no date\r\n\r\nhi\r\n");
        assert_eq!(view.date, OffsetDateTime::UNIX_EPOCH);
        assert!(view.attachments.is_empty() && view.inline.is_empty());
        assert_eq!(view.text.trim_end(), "hi");
        assert_eq!(view.html, "");
    }

    #[test]
    fn html_only_message_gets_text_from_html() {
        let raw = b"Content-Type: text/html\r\n\r\n<p>Hello <b>there</b></p>\r\n";
        let view = message(&summary(), raw);
        assert!(view.text.contains("Hello there"), "{:?}", view.text);
        assert!(view.html.contains("<b>there</b>"));
    }

    #[test]
    fn parts_are_served_decoded() {
        let png = part(MULTIPART, "1.2").unwrap();
        assert_eq!(png.content_type, "image/png");
        assert_eq!(png.file_name, "logo@x");
        assert_eq!(&png.body[..4], b"\x89PNG");
        let text = part(MULTIPART, "1.1.1").unwrap();
        assert_eq!(text.content_type, "text/plain; charset=utf-8");
        assert_eq!(part(MULTIPART, "2").unwrap().body, b"%PDF-1.4\n");
        assert_eq!(part(MULTIPART, "3").unwrap().content_type, "text/html; charset=utf-8");
        assert_eq!(part(MULTIPART, "4"), None);
        assert_eq!(part(MULTIPART, "1"), None, "containers are not parts");
    }

    #[test]
    fn html_body_with_its_content_ids() {
        let (html, content_ids) = html_body_and_content_ids(MULTIPART).unwrap();
        assert!(html.contains("<img src=\"cid:logo@x\">"));
        assert_eq!(content_ids, [("logo@x".to_string(), "1.2".to_string())]);
        assert_eq!(html_body_and_content_ids(b"Subject: x\r\n\r\ntext\r\n"), None);
    }

    #[test]
    fn part_tree_numbers_like_part() {
        let tree = part_tree(MULTIPART);
        let shape = |node: &PartNode| (node.part_id.clone(), node.content_type.clone(), node.parts.len());
        assert_eq!(shape(&tree), ("".into(), "multipart/mixed".into(), 3));
        assert_eq!(tree.headers[2], ("Subject".to_string(), "Café report 🐦".to_string()));
        let related = &tree.parts[0];
        assert_eq!(shape(related), ("1".into(), "multipart/related".into(), 2));
        assert_eq!(shape(&related.parts[0]), ("1.1".into(), "multipart/alternative".into(), 2));
        let html = &related.parts[0].parts[1];
        assert_eq!(shape(html), ("1.1.2".into(), "text/html".into(), 0));
        assert_eq!(html.headers, [("Content-Type".to_string(), "text/html; charset=utf-8".to_string())]);
        let pdf = &tree.parts[1];
        assert_eq!((pdf.part_id.as_str(), pdf.file_name.as_str(), pdf.size), ("2", "report.pdf", 9));
        assert_eq!(tree.size, tree.parts.iter().map(|p| p.size).sum::<u64>());

        let single = part_tree(b"Subject: x\r\n\r\nbody\r\n");
        assert_eq!(shape(&single), ("1".into(), "text/plain".into(), 0));
        assert_eq!(single.size, 6);
        assert_eq!(part_tree(b"").part_id, "1");
    }

    #[test]
    fn part_tree_depth_is_bounded() {
        let depth = MAX_TREE_DEPTH + 10;
        let mut raw = String::from("Content-Type: multipart/mixed; boundary=b0\r\n\r\n");
        for level in 1..depth {
            raw += &format!("--b{}\r\nContent-Type: multipart/mixed; boundary=b{level}\r\n\r\n", level - 1);
        }
        raw += &format!("--b{}\r\n\r\nleaf\r\n", depth - 1);
        let mut node = &part_tree(raw.as_bytes());
        let mut levels = 0;
        while let Some(child) = node.parts.first() {
            node = child;
            levels += 1;
        }
        assert_eq!(levels, MAX_TREE_DEPTH);
    }

    #[test]
    fn headers_are_canonical_decoded_and_sorted() {
        let map = headers(MULTIPART);
        assert_eq!(map["Subject"], ["Café report 🐦"]);
        assert_eq!(map["Message-Id"], ["<multi@example.com>"]);
        assert_eq!(map["Mime-Version"], ["1.0"]);
        assert_eq!(map["X-Folded"], ["one two"]);
        assert!(map.contains_key("List-Unsubscribe-Post"));
        let names: Vec<&String> = map.keys().collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted);

        let repeated = headers(b"Received: a\r\nreceived: b\r\n\r\n");
        assert_eq!(repeated["Received"], ["a", "b"]);
        assert!(headers(b"").is_empty());
    }

    fn corpus_file(name: &str) -> Vec<u8> {
        let path = crate::mail::corpus::files().into_iter().find(|p| p.ends_with(name)).expect(name);
        std::fs::read(path).unwrap()
    }

    /// Mailpit's own expectations for its test messages (internal/storage/messages_test.go).
    #[test]
    fn mailpit_test_messages() {
        let view = message(&summary(), &corpus_file("mailpit/mime-attachment.eml"));
        assert_eq!(view.attachments.iter().map(|a| a.file_name.as_str()).collect::<Vec<_>>(), ["Sample PDF.pdf"]);
        assert_eq!(view.inline.iter().map(|a| a.file_name.as_str()).collect::<Vec<_>>(), ["inline-image.jpg"]);

        let view = message(&summary(), &corpus_file("mailpit/inline-attachment.eml"));
        assert_eq!((view.inline.len(), view.attachments.len()), (1, 0));
        assert_eq!(view.inline[0].content_id, "test1@example.com");

        let view = message(&summary(), &corpus_file("mailpit/regular-attachment.eml"));
        assert_eq!((view.inline.len(), view.attachments.len()), (0, 1));
        let checksums = &view.attachments[0].checksums;
        assert_eq!(view.attachments[0].content_id, "");
        assert_eq!(checksums.md5, "b04930eb1ba0c62066adfa87e5d262c4");
        assert_eq!(checksums.sha1, "15605d6a2fca44e966209d1701f16ecf816df880");
        assert_eq!(checksums.sha256, "92c4ccff376003381bd9054d3da7b32a3c5661905b55e3b0728c17aba6d223ec");

        let view = message(&summary(), &corpus_file("mailpit/mixed-attachment.eml"));
        assert_eq!((view.inline.len(), view.attachments.len()), (1, 1));
        assert_eq!(view.inline[0].content_id, "inline@example.com");
        assert_eq!(view.attachments[0].content_id, "");
    }

    /// Every corpus message: the lists agree with the summary's counts, and every
    /// listed part downloads with the listed size and checksum.
    #[test]
    fn corpus_views_agree_with_summaries_and_parts() {
        for path in crate::mail::corpus::files() {
            let raw = std::fs::read(&path).unwrap();
            let view = message(&summary(), &raw);
            let parsed = crate::mail::summarize(&raw);
            assert_eq!(view.attachments.len() as u32, parsed.attachments, "{}", path.display());
            assert_eq!(view.inline.len() as u32, parsed.inlines, "{}", path.display());
            // The tree's leaves are exactly the parts, numbered alike, sized alike.
            let mut tree_leaves = Vec::new();
            let mut stack = vec![part_tree(&raw)];
            while let Some(node) = stack.pop() {
                if node.parts.is_empty() && node.part_id.is_empty() {
                    continue;
                }
                if node.parts.is_empty() {
                    tree_leaves.push((node.part_id, node.size));
                }
                stack.extend(node.parts);
            }
            tree_leaves.sort();
            let mut leaves: Vec<(String, u64)> =
                leaves(&parse(&raw)).into_iter().map(|leaf| (leaf.id, leaf.part.contents().len() as u64)).collect();
            leaves.sort();
            assert_eq!(tree_leaves, leaves, "{}", path.display());
            for listed in view.attachments.iter().chain(&view.inline) {
                let body =
                    part(&raw, &listed.part_id).unwrap_or_else(|| panic!("{} {}", path.display(), listed.part_id)).body;
                assert_eq!(body.len() as u64, listed.size);
                assert_eq!(format!("{:x}", Sha256::digest(&body)), listed.checksums.sha256);
            }
            headers(&raw);
        }
    }

    #[test]
    fn canonical_names() {
        assert_eq!(canonical_header_name("message-id"), "Message-Id");
        assert_eq!(canonical_header_name("MIME-VERSION"), "Mime-Version");
        assert_eq!(canonical_header_name("x-spam--score"), "X-Spam--Score");
        assert_eq!(canonical_header_name("bad name"), "bad name");
    }

    #[test]
    fn unsubscribe_checks() {
        assert_eq!(
            unsubscribe_links("<https://a.example/u> (comment)"),
            (vec!["https://a.example/u".into()], String::new())
        );
        assert!(unsubscribe_links("https://a.example/u").1.contains("no valid unsubscribe links"));
        assert!(unsubscribe_links("x <https://a.example/u>").1.contains("enclosed in <>"));
        assert!(unsubscribe_links("<https://a> ; <mailto:b@c>").1.contains("split with a comma"));
        assert!(unsubscribe_links("<ftp://a>").1.contains("should start with"));
        assert!(unsubscribe_links("<https://a>, <https://b>").1.contains("only contain one HTTP"));
        assert!(unsubscribe_links("<a>, <b>, <c>").1.contains("maximum of one"));
    }
}
