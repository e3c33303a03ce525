//! FETCH's message data from the stored raw message: ENVELOPE, BODYSTRUCTURE
//! (BODY), and the bytes of `BODY[section]`, all read from mail-parser's parse of
//! the exact bytes received (offsets into them, never re-encoded text), so
//! `BODY[]` is the stored message byte for byte.
//!
//! Strings from the message go out as IMAP strings imap-codec checks: quoted when
//! they can be, a literal otherwise; an address's display name that is not ASCII
//! is sent RFC 2047-encoded, as it would have been on the wire.

use std::num::NonZeroU32;

use base64::Engine as _;
use imap_next::imap_types::body::{
    BasicFields, Body, BodyStructure, Disposition, MultiPartExtensionData, SinglePartExtensionData, SpecificFields,
};
use imap_next::imap_types::core::{AString, IString, NString, Vec1};
use imap_next::imap_types::envelope::{Address, Envelope};
use imap_next::imap_types::fetch::{Part, Section};
use mail_parser::{Message, MessageParser, MessagePart, MimeHeaders, PartType};

/// The raw message parsed once per FETCH of a message.
pub fn parse(raw: &[u8]) -> Option<Message<'_>> {
    MessageParser::default().parse(raw)
}

/// ENVELOPE: the header fields as sent (raw, unfolded), addresses parsed.
pub fn envelope(message: &Message<'_>) -> Envelope<'static> {
    let raw = |name: &str| nstring_bytes(message.header_raw(name).map(|value| unfold(value).into_bytes()));
    let addresses = |name: &str| -> Vec<Address<'static>> {
        let parsed = match name {
            "From" => message.from(),
            "Sender" => message.sender(),
            "Reply-To" => message.reply_to(),
            "To" => message.to(),
            "Cc" => message.cc(),
            _ => message.bcc(),
        };
        parsed.map(|list| list.iter().map(address).collect()).unwrap_or_default()
    };
    let from = addresses("From");
    let sender = addresses("Sender");
    let reply_to = addresses("Reply-To");
    Envelope {
        date: raw("Date"),
        subject: raw("Subject"),
        // RFC 3501: Sender and Reply-To default to From.
        sender: if sender.is_empty() { from.clone() } else { sender },
        reply_to: if reply_to.is_empty() { from.clone() } else { reply_to },
        from,
        to: addresses("To"),
        cc: addresses("Cc"),
        bcc: addresses("Bcc"),
        in_reply_to: raw("In-Reply-To"),
        message_id: raw("Message-ID"),
    }
}

fn address(addr: &mail_parser::Addr<'_>) -> Address<'static> {
    let (mailbox, host) = match addr.address.as_deref() {
        Some(address) => match address.rsplit_once('@') {
            Some((local, host)) => (Some(local), Some(host)),
            None => (Some(address), None),
        },
        None => (None, None),
    };
    let name = addr.name.as_deref().filter(|name| !name.is_empty()).map(|name| {
        if name.is_ascii() {
            name.to_owned()
        } else {
            format!("=?utf-8?b?{}?=", base64::engine::general_purpose::STANDARD.encode(name))
        }
    });
    Address { name: nstring(name.as_deref()), adl: NString::NIL, mailbox: nstring(mailbox), host: nstring(host) }
}

/// BODYSTRUCTURE (`extensible`: with the extension data) or BODY.
pub fn body_structure(message: &Message<'_>, extensible: bool) -> BodyStructure<'static> {
    part_structure(message, message.root_part(), extensible)
}

fn part_structure(message: &Message<'_>, part: &MessagePart<'_>, extensible: bool) -> BodyStructure<'static> {
    let content_type = part.content_type();
    let subtype = content_type.and_then(|ct| ct.subtype()).unwrap_or("plain");
    let parameters = || -> Vec<(IString<'static>, IString<'static>)> {
        content_type
            .and_then(|ct| ct.attributes())
            .unwrap_or_default()
            .iter()
            .filter_map(|a| Some((istring(&a.name.to_ascii_uppercase())?, istring(&a.value)?)))
            .collect()
    };
    if let PartType::Multipart(children) = &part.body {
        let bodies: Vec<BodyStructure<'static>> = children
            .iter()
            .filter_map(|id| message.part(*id))
            .map(|child| part_structure(message, child, extensible))
            .collect();
        if let Ok(bodies) = Vec1::try_from(bodies) {
            return BodyStructure::Multi {
                bodies,
                subtype: istring(&subtype.to_ascii_uppercase()).unwrap_or_else(|| istring("MIXED").expect("ascii")),
                extension_data: extensible
                    .then(|| MultiPartExtensionData { parameter_list: parameters(), tail: disposition(part) }),
            };
        }
    }
    let body_bytes = span(message, part.offset_body, part.offset_end).unwrap_or_default();
    let lines = u32::try_from(body_bytes.iter().filter(|&&b| b == b'\n').count()).unwrap_or(u32::MAX);
    let mut parameter_list = parameters();
    let c_type = content_type.map_or("text", |ct| ct.ctype()).to_ascii_lowercase();
    if content_type.is_none() {
        parameter_list.push((istring("CHARSET").expect("ascii"), istring("US-ASCII").expect("ascii")));
    }
    let basic = BasicFields {
        parameter_list,
        id: nstring(part.content_id().map(|id| format!("<{id}>")).as_deref()),
        description: nstring(part.content_description()),
        content_transfer_encoding: istring(&part.content_transfer_encoding().unwrap_or("7BIT").to_ascii_uppercase())
            .unwrap_or_else(|| istring("7BIT").expect("ascii")),
        size: u32::try_from(body_bytes.len()).unwrap_or(u32::MAX),
    };
    let upper_subtype = istring(&subtype.to_ascii_uppercase()).unwrap_or_else(|| istring("PLAIN").expect("ascii"));
    let specific = match (&part.body, c_type.as_str()) {
        (PartType::Message(nested), _) => SpecificFields::Message {
            envelope: Box::new(envelope(nested)),
            body_structure: Box::new(body_structure(nested, extensible)),
            number_of_lines: lines,
        },
        (_, "text") => SpecificFields::Text { subtype: upper_subtype, number_of_lines: lines },
        _ => SpecificFields::Basic {
            r#type: istring(&c_type.to_ascii_uppercase()).unwrap_or_else(|| istring("APPLICATION").expect("ascii")),
            subtype: upper_subtype,
        },
    };
    BodyStructure::Single {
        body: Body { basic, specific },
        extension_data: extensible.then(|| SinglePartExtensionData { md5: NString::NIL, tail: disposition(part) }),
    }
}

fn disposition(part: &MessagePart<'_>) -> Option<Disposition<'static>> {
    let found = part.content_disposition()?;
    let parameters = found
        .attributes()
        .unwrap_or_default()
        .iter()
        .filter_map(|a| Some((istring(&a.name.to_ascii_uppercase())?, istring(&a.value)?)))
        .collect();
    Some(Disposition { disposition: Some((istring(&found.ctype().to_ascii_uppercase())?, parameters)), tail: None })
}

/// The bytes `BODY[section]` names (`None`: the whole message); `None` when the
/// section does not exist (the client gets an empty string, as Dovecot answers).
pub fn section_bytes(message: &Message<'_>, section: Option<&Section<'_>>) -> Option<Vec<u8>> {
    let Some(section) = section else { return Some(message.raw_message().to_vec()) };
    let path = |part: &Option<Part>| part.as_ref().map(|p| p.0.as_ref().to_vec()).unwrap_or_default();
    match section {
        Section::Part(part) => {
            let (inner, found) = find(message, &path(&Some(part.clone())))?;
            span(inner, found.offset_body, found.offset_end).map(<[u8]>::to_vec)
        }
        Section::Mime(part) => {
            let (inner, found) = find(message, &path(&Some(part.clone())))?;
            span(inner, found.offset_header, found.offset_body).map(<[u8]>::to_vec)
        }
        Section::Header(part) => {
            let inner = encapsulated(message, &path(part))?;
            Some(header(inner).to_vec())
        }
        Section::Text(part) => {
            let inner = encapsulated(message, &path(part))?;
            Some(inner.raw_message()[header(inner).len()..].to_vec())
        }
        Section::HeaderFields(part, names) | Section::HeaderFieldsNot(part, names) => {
            let inner = encapsulated(message, &path(part))?;
            let header = header(inner);
            let wanted: Vec<&[u8]> = names.as_ref().iter().map(AString::as_ref).collect();
            let keep = matches!(section, Section::HeaderFields(..));
            Some(header_fields(header, &wanted, keep))
        }
    }
}

/// The bytes between two of mail-parser's offsets. They count from the start of
/// the outermost message, also in a message/rfc822 part's message, whose own
/// bytes begin at its root part's header.
fn span<'m>(message: &'m Message<'m>, start: u32, end: u32) -> Option<&'m [u8]> {
    let base = message.root_part().offset_header;
    let raw = message.raw_message();
    let (start, end) = (start.checked_sub(base)? as usize, (end.checked_sub(base)? as usize).min(raw.len()));
    raw.get(start..end)
}

/// A message's header, the blank line that ends it included.
fn header<'m>(message: &'m Message<'m>) -> &'m [u8] {
    let root = message.root_part();
    span(message, root.offset_header, root.offset_body).unwrap_or_default()
}

/// The message a HEADER or TEXT section is about: the top one (empty path) or
/// the message/rfc822 part at `path`.
fn encapsulated<'m>(message: &'m Message<'m>, path: &[NonZeroU32]) -> Option<&'m Message<'m>> {
    if path.is_empty() {
        return Some(message);
    }
    find(message, path)?.1.message()
}

/// The part at `path` (1-based numbers) and the message whose bytes hold it. A
/// part that is not multipart has one part, itself; a message/rfc822 part's
/// numbers go on into the message it holds.
fn find<'m>(message: &'m Message<'m>, path: &[NonZeroU32]) -> Option<(&'m Message<'m>, &'m MessagePart<'m>)> {
    let (mut inner, mut part) = (message, message.root_part());
    for (step, number) in path.iter().enumerate() {
        if step > 0
            && let Some(nested) = part.message()
        {
            inner = nested;
            part = nested.root_part();
        }
        match part.sub_parts() {
            Some(children) => part = inner.part(*children.get(number.get() as usize - 1)?)?,
            None if number.get() == 1 => {}
            None => return None,
        }
    }
    Some((inner, part))
}

/// The header fields of `header` whose names are (`keep`) or are not among
/// `names`, each with its continuation lines, and the blank line that ends them.
fn header_fields(header: &[u8], names: &[&[u8]], keep: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let mut selected = false;
    for line in header.split_inclusive(|&b| b == b'\n') {
        if line == b"\r\n" || line == b"\n" {
            break;
        }
        if !line.starts_with(b" ") && !line.starts_with(b"\t") {
            let name = line.split(|&b| b == b':').next().unwrap_or_default();
            let listed = names.iter().any(|wanted| wanted.eq_ignore_ascii_case(name.trim_ascii()));
            selected = listed == keep;
        }
        if selected {
            out.extend_from_slice(line);
        }
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// A folded header value on one line, trimmed.
fn unfold(value: &str) -> String {
    value.replace("\r\n", "").replace('\n', "").trim().to_owned()
}

/// A string for IMAP: quoted when it can be, else a literal; NIL when absent.
pub fn nstring(text: Option<&str>) -> NString<'static> {
    nstring_bytes(text.map(|t| t.as_bytes().to_vec()))
}

fn nstring_bytes(bytes: Option<Vec<u8>>) -> NString<'static> {
    bytes.and_then(|bytes| NString::try_from(bytes).ok()).unwrap_or(NString::NIL)
}

fn istring(text: &str) -> Option<IString<'static>> {
    IString::try_from(text.to_owned()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) const MIXED: &[u8] = b"From: =?utf-8?q?J=C3=B6rg?= <jorg@example.com>\r\nTo: a@example.com, B <b@example.org>\r\n\
Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\nMessage-ID: <m1@example.com>\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\npreamble\r\n--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
hello\r\nworld\r\n--b1\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\nFrom: x@example.com\r\n\r\ninner body\r\n\
--b1--\r\n";

    fn section(text: &str) -> Option<Vec<u8>> {
        use imap_codec::CommandCodec;
        use imap_codec::decode::Decoder;
        use imap_next::imap_types::command::CommandBody;
        use imap_next::imap_types::fetch::{MacroOrMessageDataItemNames, MessageDataItemName};
        let line = format!("a FETCH 1 (BODY.PEEK[{text}])\r\n");
        let (_, command) = CommandCodec::default().decode(line.as_bytes()).unwrap();
        let CommandBody::Fetch {
            macro_or_item_names: MacroOrMessageDataItemNames::MessageDataItemNames(names), ..
        } = command.body
        else {
            panic!()
        };
        let MessageDataItemName::BodyExt { section, .. } = &names[0] else { panic!() };
        section_bytes(&parse(MIXED).unwrap(), section.as_ref())
    }

    #[test]
    fn sections_are_the_stored_bytes() {
        assert_eq!(section("").unwrap(), MIXED);
        assert!(section("HEADER").unwrap().ends_with(b"boundary=\"b1\"\r\n\r\n"));
        assert_eq!(
            section("HEADER.FIELDS (subject TO)").unwrap(),
            b"To: a@example.com, B <b@example.org>\r\nSubject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\n\r\n"
        );
        assert!(!String::from_utf8(section("HEADER.FIELDS.NOT (Subject)").unwrap()).unwrap().contains("Subject"));
        assert!(section("1").unwrap().starts_with(b"hello\r\nworld"));
        assert_eq!(section("1.MIME").unwrap(), b"Content-Type: text/plain; charset=utf-8\r\n\r\n");
        assert!(section("2.HEADER").unwrap().starts_with(b"Subject: inner\r\n"));
        assert!(section("2.TEXT").unwrap().starts_with(b"inner body"));
        assert!(section("2.1").unwrap().starts_with(b"inner body"));
        assert_eq!(section("3"), None);
    }

    #[test]
    fn envelope_and_structure() {
        let message = parse(MIXED).unwrap();
        let envelope = envelope(&message);
        assert_eq!(envelope.subject, nstring(Some("=?utf-8?q?Gr=C3=BC=C3=9Fe?=")));
        assert_eq!(envelope.from[0].host, nstring(Some("example.com")));
        assert_eq!(envelope.from[0].name, nstring(Some("=?utf-8?b?SsO2cmc=?=")));
        assert_eq!(envelope.sender, envelope.from);
        assert_eq!(envelope.to.len(), 2);
        let BodyStructure::Multi { bodies, subtype, .. } = body_structure(&message, true) else { panic!() };
        assert_eq!(subtype, istring("MIXED").unwrap());
        assert_eq!(bodies.as_ref().len(), 2);
        let BodyStructure::Single { body, .. } = &bodies.as_ref()[1] else { panic!() };
        assert!(matches!(body.specific, SpecificFields::Message { .. }));
    }
}
