//! A message as an HTTP send API describes it (sender, recipients, subject, text,
//! HTML, attachments, headers, tags), built into real MIME with lettre. Mailpit's
//! `POST /api/v1/send` and every provider API fill a [`Draft`] from their own
//! request shape and build it here, so all of them write the same structure.

use lettre::Address;
use lettre::address::Envelope;
use lettre::message::header::{self, ContentTransferEncoding, ContentType, HeaderName, HeaderValue, Headers};
use lettre::message::{Attachment, Mailbox, Mailboxes, MessageBuilder, MultiPart, MultiPartBuilder, SinglePart};

/// A message to build: every field already checked by the API that read it.
#[derive(Debug, Default)]
pub struct Draft {
    pub from: Option<Mailbox>,
    pub to: Vec<Mailbox>,
    pub cc: Vec<Mailbox>,
    pub bcc: Vec<Mailbox>,
    pub reply_to: Vec<Mailbox>,
    pub subject: String,
    pub text: Option<String>,
    pub html: Option<String>,
    pub attachments: Vec<DraftAttachment>,
    /// Extra header fields, checked by [`header`]; they replace fields of the
    /// same name (a later one an earlier one).
    pub headers: Vec<HeaderValue>,
    /// Header fields added at the end of the header, each beside any of the same
    /// name (Mailgun's `X-Mailgun-Tag`, one per tag), checked by [`header`].
    pub added_headers: Vec<HeaderValue>,
    /// Pigeonhole tags, written as an `X-Tags` header (which the store reads).
    pub tags: Vec<String>,
    /// Keep the `Bcc` header in the message (Mailpit does; providers do not).
    pub keep_bcc: bool,
    /// Write the sender as `Return-Path`, as a delivering server would (Mailpit
    /// does).
    pub return_path: bool,
}

/// A file to attach, decoded.
#[derive(Debug, Clone)]
pub struct DraftAttachment {
    pub filename: String,
    pub content: Vec<u8>,
    /// `None`: guessed from the file name.
    pub content_type: Option<ContentType>,
    /// Set: the attachment is inline, for `cid:` URLs in the HTML.
    pub content_id: Option<String>,
}

/// A built message: its bytes, MAIL FROM and RCPT TOs.
#[derive(Debug)]
pub struct Built {
    pub raw: Vec<u8>,
    pub mail_from: String,
    pub rcpt_to: Vec<String>,
}

impl Draft {
    /// The message's bytes, with the sender and every To, Cc and Bcc as the
    /// envelope. Errors say what is missing, in words an API error can carry.
    pub fn build(self) -> Result<Built, String> {
        let from = self.from.ok_or("a sender is required")?;
        if self.to.is_empty() && self.cc.is_empty() && self.bcc.is_empty() {
            return Err("at least one recipient is required".into());
        }
        let mail_from = from.email.to_string();
        let recipients: Vec<Address> =
            self.to.iter().chain(&self.cc).chain(&self.bcc).map(|m| m.email.clone()).collect();
        let rcpt_to = recipients.iter().map(Address::to_string).collect();
        // The envelope given, not derived: lettre would parse every address
        // header it just wrote back again to make it.
        let envelope = Envelope::new(Some(from.email.clone()), recipients).map_err(|err| err.to_string())?;

        let mut builder = MessageBuilder::new().from(from).subject(self.subject).message_id(None).envelope(envelope);
        if self.return_path {
            builder = builder
                .raw_header(HeaderValue::new(HeaderName::new_from_ascii_str("Return-Path"), format!("<{mail_from}>")));
        }
        // Each list set whole: adding one mailbox at a time re-parses the header
        // so far each time, quadratic in the recipients.
        builder = with_mailboxes::<header::To>(builder, self.to);
        builder = with_mailboxes::<header::Cc>(builder, self.cc);
        builder = with_mailboxes::<header::Bcc>(builder, self.bcc);
        builder = with_mailboxes::<header::ReplyTo>(builder, self.reply_to);
        let tags: Vec<String> = self.tags.into_iter().map(|t| t.trim().to_string()).filter(|t| !t.is_empty()).collect();
        if !tags.is_empty() {
            builder = builder.raw_header(HeaderValue::new(HeaderName::new_from_ascii_str("X-Tags"), tags.join(", ")));
        }
        builder = self.headers.into_iter().fold(builder, MessageBuilder::raw_header);
        if self.keep_bcc {
            builder = builder.keep_bcc();
        }
        let message = match body(self.text, self.html, self.attachments) {
            Body::Single(part) => builder.singlepart(part),
            Body::Multi(multipart) => builder.multipart(multipart),
        }
        .map_err(|err| format!("cannot build the message: {err}"))?;
        let mut raw = message.formatted();
        if !self.added_headers.is_empty() {
            // Before the blank line that ends the message's header.
            let end = raw.windows(4).position(|w| w == b"\r\n\r\n").map_or(raw.len(), |blank| blank + 2);
            raw.splice(end..end, header_lines(self.added_headers).into_bytes());
        }
        Ok(Built { raw, mail_from, rcpt_to })
    }
}

/// `builder` with header `H` listing `mailboxes`, unless there are none.
fn with_mailboxes<H: header::Header + From<Mailboxes>>(
    builder: MessageBuilder,
    mailboxes: Vec<Mailbox>,
) -> MessageBuilder {
    if mailboxes.is_empty() { builder } else { builder.header(H::from(mailboxes.into_iter().collect::<Mailboxes>())) }
}

/// The header lines of `headers`, encoded and folded by lettre.
fn header_lines(headers: Vec<HeaderValue>) -> String {
    headers
        .into_iter()
        .map(|header| {
            // lettre's message keeps one field of a name; a `Headers` of its own
            // per field writes each, however many share its name.
            let mut alone = Headers::new();
            alone.insert_raw(header);
            alone.to_string()
        })
        .collect()
}

/// A mailbox from an address and an optional display name; the error names
/// `field`.
pub fn mailbox(field: &str, email: &str, name: Option<&str>) -> Result<Mailbox, String> {
    let parsed = email.trim().parse().map_err(|_| format!("invalid {field} address: {email}"))?;
    let name = name.map(|name| name.trim().to_string()).filter(|name| !name.is_empty());
    Ok(Mailbox::new(name, parsed))
}

/// The mailboxes of an address list as a header writes it (`a@example.com, "Doe,
/// Jo" <jo@example.com>`); the error names `field` and the entry that is not an
/// address.
pub fn address_list(field: &str, list: &str) -> Result<Vec<Mailbox>, String> {
    list_entries(list).into_iter().filter(|entry| !entry.trim().is_empty()).map(|entry| address(field, entry)).collect()
}

/// One mailbox as a header writes it: `a@example.com` or `Name <a@example.com>`,
/// nothing after it.
pub fn address(field: &str, text: &str) -> Result<Mailbox, String> {
    let text = text.trim();
    let invalid = || format!("invalid {field} address: {text}");
    let mailbox: Mailbox = text.parse().map_err(|_| invalid())?;
    // The parser stops after the first mailbox: what it read must be all there is.
    let whole = if text.contains('<') { text.ends_with('>') } else { text == mailbox.email.to_string() };
    whole.then_some(mailbox).ok_or_else(invalid)
}

/// The entries of an address list: split at commas outside quoted names.
fn list_entries(list: &str) -> Vec<&str> {
    let (mut entries, mut start, mut quoted, mut escaped) = (Vec::new(), 0, false, false);
    for (i, c) in list.char_indices() {
        match c {
            '\\' if quoted && !escaped => {
                escaped = true;
                continue;
            }
            '"' if !escaped => quoted = !quoted,
            ',' if !quoted => {
                entries.push(&list[start..i]);
                start = i + 1;
            }
            _ => {}
        }
        escaped = false;
    }
    entries.push(&list[start..]);
    entries
}

/// A header field an API asked for. Its name must be a field name and its value
/// one line (no header injection); MIME structure is ours to write.
pub fn header(name: &str, value: &str) -> Result<HeaderValue, String> {
    let is_field_name = !name.is_empty() && name.bytes().all(|b| b.is_ascii_graphic() && b != b':');
    let header_name = HeaderName::new_from_ascii(name.to_string())
        .ok()
        .filter(|_| is_field_name)
        .ok_or_else(|| format!("invalid header name: {name:?}"))?;
    if ["Content-Type", "Content-Transfer-Encoding", "MIME-Version"].iter().any(|n| n.eq_ignore_ascii_case(name)) {
        return Err(format!("header {name} cannot be set: it comes from the message's text, HTML and attachments"));
    }
    if value.contains(['\r', '\n']) {
        return Err(format!("header {name} must not contain line breaks"));
    }
    Ok(HeaderValue::new(header_name, value.to_string()))
}

/// A subject an API asked for: one line, as every header field.
pub fn subject(value: &str) -> Result<String, String> {
    if value.contains(['\r', '\n']) {
        return Err("the subject must not contain line breaks".to_string());
    }
    Ok(value.to_string())
}

/// A media type an API gave for an attachment.
pub fn content_type(given: &str) -> Option<ContentType> {
    ContentType::parse(given.trim()).ok()
}

/// A message body: one part, or a multipart tree.
enum Body {
    Single(SinglePart),
    Multi(MultiPart),
}

impl Body {
    /// This body as the first part of a new `kind` multipart, followed by `parts`.
    fn wrap(self, kind: MultiPartBuilder, parts: Vec<SinglePart>) -> Body {
        let first = match self {
            Body::Single(part) => kind.singlepart(part),
            Body::Multi(multipart) => kind.multipart(multipart),
        };
        Body::Multi(parts.into_iter().fold(first, MultiPart::singlepart))
    }
}

/// The longest line SMTP carries (RFC 5321 4.5.3.1.6: 1,000 octets with CRLF).
const MAX_LINE: usize = 998;

/// A text or HTML body as the app wrote it, with CRLF line ends: `7bit` when it
/// is ASCII, `8bit` when it is UTF-8 (the listener takes 8BITMIME), as long as no
/// line is longer than SMTP carries and there is no bare CR or NUL. lettre would
/// quoted-printable every line over 76 characters, and an app's paragraphs are
/// often one line each: that costs an encode here and a decode in the store on
/// every message, and leaves the Source tab hard to read. Otherwise, lettre's
/// own choice of encoding.
fn as_written(text: String) -> lettre::message::Body {
    let lines = text.split('\n').map(|line| line.strip_suffix('\r').unwrap_or(line));
    let mut written = String::with_capacity(text.len() + text.len() / 32);
    for (i, line) in lines.enumerate() {
        if line.len() > MAX_LINE || line.contains(['\r', '\0']) {
            return lettre::message::Body::new(text);
        }
        if i > 0 {
            written.push_str("\r\n");
        }
        written.push_str(line);
    }
    let encoding =
        if written.is_ascii() { ContentTransferEncoding::SevenBit } else { ContentTransferEncoding::EightBit };
    lettre::message::Body::dangerous_pre_encoded(written.into_bytes(), encoding)
}

/// Text and HTML (as alternatives), inline attachments beside the HTML
/// (`multipart/related`), other attachments after it all (`multipart/mixed`).
fn body(text: Option<String>, html: Option<String>, attachments: Vec<DraftAttachment>) -> Body {
    let (text, html) = (text.filter(|t| !t.is_empty()), html.filter(|h| !h.is_empty()));
    let mut body = match (text, html) {
        (Some(text), Some(html)) => Body::Multi(
            MultiPart::alternative()
                .singlepart(SinglePart::plain(as_written(text)))
                .singlepart(SinglePart::html(as_written(html))),
        ),
        (None, Some(html)) => Body::Single(SinglePart::html(as_written(html))),
        (text, None) => Body::Single(SinglePart::plain(as_written(text.unwrap_or_default()))),
    };

    let (mut inline, mut attached) = (Vec::new(), Vec::new());
    for attachment in attachments {
        let content_type = attachment.content_type.unwrap_or_else(|| {
            let guess = mime_guess::from_path(&attachment.filename).first_or_octet_stream();
            ContentType::parse(guess.essence_str()).expect("mime_guess gives media types that parse")
        });
        let content_id =
            attachment.content_id.map(|cid| cid.trim().trim_start_matches('<').trim_end_matches('>').to_string());
        match content_id {
            Some(cid) if !cid.is_empty() => inline.push(
                Attachment::new_inline_with_name(cid, attachment.filename).body(attachment.content, content_type),
            ),
            _ => attached.push(Attachment::new(attachment.filename).body(attachment.content, content_type)),
        }
    }
    if !inline.is_empty() {
        body = body.wrap(MultiPart::related(), inline);
    }
    if !attached.is_empty() {
        body = body.wrap(MultiPart::mixed(), attached);
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The built message's one text part: its transfer encoding and its decoded
    /// text, without the CRLF that ends every single-part message lettre writes.
    fn text_part(text: &str) -> (String, String) {
        let draft = Draft {
            from: Some(mailbox("From", "app@example.test", None).unwrap()),
            to: vec![mailbox("To", "user@example.test", None).unwrap()],
            text: Some(text.to_string()),
            ..Draft::default()
        };
        let raw = draft.build().unwrap().raw;
        let message = mail_parser::MessageParser::default().parse(&raw).unwrap();
        let encoding = message.header_raw("Content-Transfer-Encoding").unwrap_or_default().trim().to_string();
        let text = message.body_text(0).unwrap();
        (encoding, text.strip_suffix("\r\n").unwrap_or(&text).to_string())
    }

    #[test]
    fn text_is_written_as_is_when_smtp_can_carry_it() {
        let paragraph = "An app's paragraph is one line. ".repeat(20);
        assert_eq!(text_part(&format!("{paragraph}\nbye\n")), ("7bit".into(), format!("{paragraph}\r\nbye\r\n")));
        let accented = "Grüße aus Köln, ".repeat(30);
        assert_eq!(text_part(&accented), ("8bit".into(), accented.clone()));
        // Longer than SMTP carries: lettre encodes it, and it reads back the same.
        let long = "x".repeat(MAX_LINE + 1);
        assert_eq!(text_part(&long), ("quoted-printable".into(), long.clone()));
    }

    #[test]
    fn address_lists_as_headers_write_them() {
        let list =
            address_list("To", r#"ann@example.test, "Doe, Jo \"J\"" <jo@example.test>,, Bob <bob@example.test>"#)
                .unwrap();
        let emails: Vec<String> = list.iter().map(|m| m.email.to_string()).collect();
        assert_eq!(emails, ["ann@example.test", "jo@example.test", "bob@example.test"]);
        assert_eq!(list[1].name.as_deref(), Some("Doe, Jo \"J\""));
        assert_eq!(address_list("To", " ").unwrap(), []);
        for bad in ["nope", "a@example.test b@example.test", "Ann <ann@example.test> x", "<>"] {
            assert_eq!(address_list("To", bad).unwrap_err(), format!("invalid To address: {bad}"));
        }
    }

    /// Added fields sit beside those of the same name, in the message's header;
    /// extra fields replace.
    #[test]
    fn added_headers_repeat_a_name_and_extra_headers_replace() {
        let draft = Draft {
            from: Some(mailbox("From", "app@example.test", None).unwrap()),
            to: vec![mailbox("To", "ann@example.test", None).unwrap()],
            subject: "Given".to_string(),
            text: Some("Body".to_string()),
            headers: vec![header("Subject", "First").unwrap(), header("Subject", "Second").unwrap()],
            added_headers: vec![header("X-Mailgun-Tag", "welcome").unwrap(), header("X-Mailgun-Tag", "Grüße").unwrap()],
            ..Draft::default()
        };
        let raw = draft.build().unwrap().raw;
        let headers = crate::mail::detail::headers(&raw);
        assert_eq!(headers["X-Mailgun-Tag"], ["welcome", "Grüße"]);
        assert_eq!(headers["Subject"], ["Second"]);
        let text = String::from_utf8(raw).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.ends_with("\r\nX-Mailgun-Tag: welcome\r\nX-Mailgun-Tag: =?utf-8?b?R3LDvMOfZQ==?="), "{head}");
        assert_eq!(body.trim(), "Body");
    }
}
