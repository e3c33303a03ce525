//! The messages delivery simulation sends back about a message it accepted: a
//! bounce (RFC 3464 delivery status notification), a complaint (RFC 5965 abuse
//! feedback report) and an out-of-office answer (RFC 3834 auto-reply), each built
//! from the original's bytes and envelope the way a real mail system writes them,
//! so an app's bounce and complaint handling can parse them with its usual tools.
//!
//! Pure: bytes in, bytes out. [`super::effects`] submits what is built here.
//! Whatever of the original goes into a report is put in canonical form (CRLF
//! lines; bare CRs and NULs become spaces) and capped: headers at
//! [`HEADERS_CAP`], a whole embedded message at [`MESSAGE_CAP`], so a hostile
//! original neither breaks the report's MIME structure nor makes it huge.

use mail_parser::{HeaderValue, MessageParser};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc2822;

use crate::model::Envelope;

/// The most of an original's header section a report quotes.
pub const HEADERS_CAP: usize = 64 * 1024;
/// The largest original a complaint embeds whole; past it, its headers only.
pub const MESSAGE_CAP: usize = 1024 * 1024;

/// The message a report is about, as it was committed.
#[derive(Debug, Clone, Copy)]
pub struct Original<'a> {
    pub raw: &'a [u8],
    pub envelope: &'a Envelope,
    pub received_at: OffsetDateTime,
}

/// Who writes a report, and when.
#[derive(Debug, Clone)]
pub struct Reporter {
    /// The reporting host's name (`Reporting-MTA`, `MAILER-DAEMON@…`, Message-IDs).
    pub hostname: String,
    pub now: OffsetDateTime,
}

/// A built report: its bytes and the envelope to submit it with.
#[derive(Debug, Clone)]
pub struct Report {
    pub raw: Vec<u8>,
    /// Empty: the null sender `<>`, which every report here uses, so that nothing
    /// answers a report (RFC 3464 §2, RFC 3834 §3.3).
    pub mail_from: String,
    pub rcpt_to: String,
}

/// Why no report was built, in words for the message's effects line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoReport(pub String);

/// One recipient a DSN reports on.
#[derive(Debug, Clone)]
pub struct Failure {
    pub recipient: String,
    /// The enhanced status code: `5.x.x` reports a failure, `4.x.x` a delay (a
    /// deferral notice: delivery is still being tried).
    pub status: String,
    /// The SMTP reply that failed it, `550 5.1.1 user unknown`; without a reply
    /// code of its own it gets one from the status's class.
    pub diagnostic: String,
}

impl Failure {
    fn delayed(&self) -> bool {
        self.status.trim_start().starts_with('4')
    }
}

/// A bounce: a `multipart/report; report-type=delivery-status` to the original's
/// envelope sender, with the original's headers as `text/rfc822-headers`
/// (RFC 6522). None for a null-sender original, which must not be answered.
pub fn dsn(original: &Original, reporter: &Reporter, failures: &[Failure]) -> Result<Report, NoReport> {
    let to = reply_address(original, "DSN")?;
    let delayed = failures.iter().all(Failure::delayed);
    let headers = OriginalHeaders::read(original.raw);
    let host = hostname(&reporter.hostname);

    let mut human = format!(
        "This is the mail system at host {host} (Pigeonhole's delivery simulation).\r\n\r\n{}\r\n\r\n",
        if delayed {
            "Your message could not be delivered yet to the recipients below; delivery is still being tried."
        } else {
            "I'm sorry to have to inform you that your message could not be delivered to one or more recipients.\r\n\
             Its headers are attached below."
        }
    );
    let mut status = format!("Reporting-MTA: dns; {host}\r\nArrival-Date: {}\r\n", date(original.received_at));
    for failure in failures {
        let status_code = one_line(&failure.status);
        let diagnostic = diagnostic(&status_code, &failure.diagnostic);
        human.push_str(&format!("<{}>: {diagnostic}\r\n", one_line(&failure.recipient)));
        let action = if failure.delayed() { "delayed" } else { "failed" };
        status.push_str(&format!(
            "\r\nFinal-Recipient: {}\r\nAction: {action}\r\nStatus: {status_code}\r\n\
             Diagnostic-Code: smtp; {diagnostic}\r\nLast-Attempt-Date: {}\r\n",
            typed_address(&failure.recipient),
            date(reporter.now),
        ));
    }

    let subject = if delayed { "Delayed Mail (still being retried)" } else { "Undelivered Mail Returned to Sender" };
    let parts = [
        Part::text("text/plain; charset=utf-8", "Notification", human.into_bytes()),
        Part::text("message/delivery-status", "Delivery report", status.into_bytes()),
        Part::text("text/rfc822-headers", "Undelivered Message Headers", headers.block.clone()),
    ];
    let head = format!(
        "From: Mail Delivery System <MAILER-DAEMON@{host}>\r\nTo: <{to}>\r\nSubject: {subject}\r\n\
         Auto-Submitted: auto-replied\r\n{}",
        threading(&headers),
    );
    Ok(Report {
        raw: multipart_report(reporter, "delivery-status", &head, &parts),
        mail_from: String::new(),
        rcpt_to: to,
    })
}

/// A complaint: a `multipart/report; report-type=feedback-report` (ARF) to the
/// original's envelope sender, as a mailbox provider's feedback loop sends when
/// `recipient` marks the message as spam. The original is embedded whole up to
/// [`MESSAGE_CAP`], else its headers.
pub fn arf(original: &Original, reporter: &Reporter, recipient: &str, feedback_type: &str) -> Result<Report, NoReport> {
    let to = reply_address(original, "complaint report")?;
    let headers = OriginalHeaders::read(original.raw);
    let host = hostname(&reporter.hostname);
    let feedback_type = token(feedback_type).unwrap_or_else(|| "abuse".into());
    let arrival = date(original.received_at);

    let human = format!(
        "This is an email {feedback_type} report for a message received on {arrival}: its recipient \
         <{}> reported it (Pigeonhole's delivery simulation).\r\n",
        one_line(recipient)
    );
    let mut report = format!(
        "Feedback-Type: {feedback_type}\r\nUser-Agent: Pigeonhole/{}\r\nVersion: 1\r\n",
        env!("CARGO_PKG_VERSION")
    );
    report.push_str(&format!("Original-Mail-From: <{to}>\r\nOriginal-Rcpt-To: <{}>\r\n", one_line(recipient)));
    report.push_str(&format!("Arrival-Date: {arrival}\r\n"));
    if let Some(ip) = source_ip(&original.envelope.peer) {
        report.push_str(&format!("Source-IP: {ip}\r\n"));
    }
    if let Some(domain) = &headers.from_domain {
        report.push_str(&format!("Reported-Domain: {domain}\r\n"));
    }
    let embedded = if original.raw.len() <= MESSAGE_CAP {
        Part::text("message/rfc822", "Reported message", canonical(original.raw))
    } else {
        Part::text("text/rfc822-headers", "Reported message headers", headers.block.clone())
    };
    let parts = [
        Part::text("text/plain; charset=utf-8", "Notification", human.into_bytes()),
        Part::text("message/feedback-report", "Feedback report", report.into_bytes()),
        embedded,
    ];
    let head = format!(
        "From: Feedback Loop <feedback@{host}>\r\nTo: <{to}>\r\nSubject: Feedback report: {feedback_type}\r\n\
         Auto-Submitted: auto-generated\r\n{}",
        threading(&headers),
    );
    Ok(Report {
        raw: multipart_report(reporter, "feedback-report", &head, &parts),
        mail_from: String::new(),
        rcpt_to: to,
    })
}

/// An out-of-office answer from `recipient` with `body`, by RFC 3834's rules: sent
/// to the envelope sender (§4: a vacation notice goes to the Return-Path, not to
/// `Reply-To`), never to a null sender, a mailing list, bulk mail, another
/// automatic message, or a system address such as MAILER-DAEMON (§2).
pub fn auto_reply(original: &Original, reporter: &Reporter, recipient: &str, body: &str) -> Result<Report, NoReport> {
    use lettre::message::header::{HeaderName, HeaderValue as LettreValue};
    use lettre::message::{Mailbox, MessageBuilder, SinglePart};

    let to = reply_address(original, "auto-reply")?;
    let headers = OriginalHeaders::read(original.raw);
    if let Some(why) = headers.no_auto_reply() {
        return Err(NoReport(format!("no auto-reply: the original {why} (RFC 3834)")));
    }
    let local = to.rsplit_once('@').map_or(to.as_str(), |(local, _)| local).to_ascii_lowercase();
    if ["mailer-daemon", "postmaster", "listserv", "majordomo"].contains(&local.as_str())
        || local.starts_with("owner-")
        || local.ends_with("-request")
    {
        return Err(NoReport(format!("no auto-reply: {to} is a system address (RFC 3834)")));
    }
    let parse = |address: &str| {
        address
            .parse::<lettre::Address>()
            .map_err(|_| NoReport(format!("no auto-reply: {address:?} is not an address")))
    };
    let subject = format!("Automatic reply: {}", one_line(headers.subject.as_deref().unwrap_or("")));
    let mut builder = MessageBuilder::new()
        .from(Mailbox::new(None, parse(&one_line(recipient))?))
        .to(Mailbox::new(None, parse(&to)?))
        .subject(subject.trim_end())
        .date(reporter.now.into())
        .message_id(Some(message_id(reporter)))
        .raw_header(LettreValue::new(HeaderName::new_from_ascii_str("Auto-Submitted"), "auto-replied".into()));
    if let Some(id) = &headers.message_id {
        builder = builder.in_reply_to(id.clone()).references(headers.references_with_id());
    }
    let message = builder
        .singlepart(SinglePart::plain(body.replace("\r\n", "\n")))
        .map_err(|err| NoReport(format!("no auto-reply: {err}")))?;
    Ok(Report { raw: message.formatted(), mail_from: String::new(), rcpt_to: to })
}

/// The envelope sender to report to; a null sender gets nothing (no loops).
fn reply_address(original: &Original, what: &str) -> Result<String, NoReport> {
    let sender = one_line(&original.envelope.mail_from);
    if sender.is_empty() {
        return Err(NoReport(format!("no {what}: the original has a null sender (<>), which is never answered")));
    }
    Ok(sender)
}

/// What a report needs of the original's header section.
struct OriginalHeaders {
    /// The section in canonical form, capped at [`HEADERS_CAP`].
    block: Vec<u8>,
    message_id: Option<String>,
    references: Vec<String>,
    subject: Option<String>,
    from_domain: Option<String>,
    auto_submitted: Option<String>,
    precedence: Option<String>,
    list: bool,
}

impl OriginalHeaders {
    fn read(raw: &[u8]) -> OriginalHeaders {
        let section = &raw[..header_section_len(raw)];
        let block = capped_header_block(section);
        let parsed = MessageParser::default().parse_headers(&block);
        let parsed = parsed.as_ref();
        let raw_value =
            |name: &'static str| parsed.and_then(|m| m.header_raw(name)).map(|v| one_line(v).to_ascii_lowercase());
        let id_list = |value: &HeaderValue| match value {
            HeaderValue::Text(id) => vec![id.to_string()],
            HeaderValue::TextList(ids) => ids.iter().map(|id| id.to_string()).collect(),
            _ => Vec::new(),
        };
        let message_id = parsed.and_then(|m| m.message_id()).map(|id| format!("<{}>", one_line(id)));
        OriginalHeaders {
            message_id,
            references: parsed
                .map(|m| id_list(m.references()))
                .unwrap_or_default()
                .iter()
                .map(|id| format!("<{}>", one_line(id)))
                .collect(),
            subject: parsed.and_then(|m| m.subject()).map(one_line),
            from_domain: parsed
                .and_then(|m| m.from())
                .and_then(|from| from.first())
                .and_then(|address| address.address())
                .and_then(|address| address.rsplit_once('@'))
                .map(|(_, domain)| one_line(domain))
                .filter(|domain| !domain.is_empty()),
            auto_submitted: raw_value("Auto-Submitted"),
            precedence: raw_value("Precedence"),
            list: ["List-Id", "List-Help", "List-Subscribe", "List-Unsubscribe", "List-Post", "List-Owner"]
                .iter()
                .any(|name| parsed.and_then(|m| m.header_raw(*name)).is_some()),
            block,
        }
    }

    /// Why RFC 3834 forbids answering this message automatically, if it does.
    fn no_auto_reply(&self) -> Option<String> {
        if let Some(value) = self.auto_submitted.as_deref().filter(|value| !value.starts_with("no")) {
            return Some(format!("is itself automatic (Auto-Submitted: {value})"));
        }
        if let Some(value) = self.precedence.as_deref().filter(|v| ["bulk", "list", "junk"].contains(v)) {
            return Some(format!("is bulk mail (Precedence: {value})"));
        }
        self.list.then(|| "came from a mailing list (List-* headers)".to_string())
    }

    /// `References` for an answer: the original's, then its Message-ID.
    fn references_with_id(&self) -> String {
        self.references.iter().chain(&self.message_id).cloned().collect::<Vec<_>>().join(" ")
    }
}

/// `In-Reply-To` and `References` lines answering the original, when it has a
/// Message-ID.
fn threading(headers: &OriginalHeaders) -> String {
    match &headers.message_id {
        Some(id) => format!("In-Reply-To: {id}\r\nReferences: {}\r\n", headers.references_with_id()),
        None => String::new(),
    }
}

/// How many bytes of `raw` its header section takes (its empty line excluded);
/// all of it when it has no body.
fn header_section_len(raw: &[u8]) -> usize {
    let mut at = 0;
    for line in raw.split_inclusive(|&b| b == b'\n') {
        if line == b"\r\n" || line == b"\n" {
            return at;
        }
        at += line.len();
    }
    raw.len()
}

/// A header section in canonical form, cut before the first field that would
/// pass [`HEADERS_CAP`] (a field is never cut in the middle).
fn capped_header_block(section: &[u8]) -> Vec<u8> {
    let canonical = canonical(&section[..section.len().min(HEADERS_CAP + 1)]);
    if canonical.len() <= HEADERS_CAP && section.len() <= HEADERS_CAP {
        return canonical;
    }
    // `end`: where the field being read starts, i.e. the end of every field
    // before it, which all fit.
    let (mut end, mut at) = (0, 0);
    for line in canonical.split_inclusive(|&b| b == b'\n') {
        if !line.starts_with(b" ") && !line.starts_with(b"\t") {
            end = at;
        }
        if at + line.len() > HEADERS_CAP {
            break;
        }
        at += line.len();
    }
    let mut block = canonical[..end].to_vec();
    block.extend_from_slice(b"X-Pigeonhole-Note: the rest of the header section was left out\r\n");
    block
}

/// `bytes` with CRLF line ends, bare CRs and NULs as spaces, and a final line end.
fn canonical(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + bytes.len() / 32 + 2);
    for line in bytes.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        out.extend(line.iter().map(|&b| if b == b'\r' || b == 0 { b' ' } else { b }));
        out.extend_from_slice(b"\r\n");
    }
    // `split` yields an empty last piece after a final LF: drop its line end.
    if bytes.ends_with(b"\n") || bytes.is_empty() {
        out.truncate(out.len() - 2);
    }
    out
}

/// A header field value on one line: control characters (CR and LF among them)
/// as spaces, trimmed, at most 900 bytes.
fn one_line(value: &str) -> String {
    let mut line: String = value.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    if line.len() > 900 {
        let mut end = 900;
        while !line.is_char_boundary(end) {
            end -= 1;
        }
        line.truncate(end);
    }
    line.trim().to_string()
}

/// `value` if it is an RFC 5965 token (`abuse`, `not-spam` …).
fn token(value: &str) -> Option<String> {
    let value = value.trim().to_ascii_lowercase();
    (!value.is_empty() && value.len() <= 64 && value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        .then_some(value)
}

/// The configured host name if it is one, else `localhost`.
fn hostname(configured: &str) -> &str {
    let valid = !configured.is_empty()
        && configured.len() <= 253
        && configured.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
    if valid { configured } else { "localhost" }
}

/// The client's IP from an envelope's `ip:port` peer.
fn source_ip(peer: &str) -> Option<std::net::IpAddr> {
    peer.parse::<std::net::SocketAddr>().map(|addr| addr.ip()).ok().or_else(|| peer.parse().ok())
}

/// A diagnostic with an SMTP reply code in front (from the status's class when it
/// has none).
fn diagnostic(status: &str, given: &str) -> String {
    let given = one_line(given);
    let has_code = given.len() >= 3 && given.as_bytes()[..3].iter().all(u8::is_ascii_digit);
    if has_code {
        return given;
    }
    let code = if status.starts_with('4') { "450" } else { "550" };
    let text = if given.is_empty() { "delivery failed (simulated)" } else { &given };
    format!("{code} {status} {text}")
}

/// A recipient as a DSN address field: `rfc822; a@b`, or for an internationalised
/// address RFC 6533's `utf-8;` type with its non-ASCII characters as `\x{HEX}`.
fn typed_address(address: &str) -> String {
    let address = one_line(address);
    if address.is_ascii() {
        return format!("rfc822; {address}");
    }
    let escaped: String = address
        .chars()
        .map(|c| if c.is_ascii_graphic() && c != '\\' { c.to_string() } else { format!("\\x{{{:X}}}", c as u32) })
        .collect();
    format!("utf-8; {escaped}")
}

fn date(at: OffsetDateTime) -> String {
    at.format(&Rfc2822).unwrap_or_else(|_| "Thu, 01 Jan 1970 00:00:00 +0000".into())
}

fn message_id(reporter: &Reporter) -> String {
    format!("<{}@{}>", uuid::Uuid::new_v4().simple(), hostname(&reporter.hostname))
}

/// One body part of a report.
struct Part {
    content_type: &'static str,
    description: &'static str,
    body: Vec<u8>,
}

impl Part {
    fn text(content_type: &'static str, description: &'static str, body: Vec<u8>) -> Part {
        Part { content_type, description, body }
    }

    /// 7bit for ASCII, else 8bit: parts are canonical CRLF text either way.
    fn encoding(&self) -> &'static str {
        if self.body.is_ascii() { "7bit" } else { "8bit" }
    }
}

/// A `multipart/report` message: `head` (its own header fields), then the parts
/// under a boundary that occurs in none of them.
fn multipart_report(reporter: &Reporter, report_type: &str, head: &str, parts: &[Part]) -> Vec<u8> {
    let boundary = loop {
        let candidate = format!("{}/{}", uuid::Uuid::new_v4().simple(), hostname(&reporter.hostname));
        let found = parts.iter().any(|part| part.body.windows(candidate.len()).any(|w| w == candidate.as_bytes()));
        if !found {
            break candidate;
        }
    };
    let mut out = format!(
        "{head}Date: {}\r\nMessage-ID: {}\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/report; report-type={report_type};\r\n\tboundary=\"{boundary}\"\r\n\r\n\
         This is a MIME-encapsulated message.\r\n",
        date(reporter.now),
        message_id(reporter),
    )
    .into_bytes();
    for part in parts {
        out.extend_from_slice(
            format!(
                "\r\n--{boundary}\r\nContent-Description: {}\r\nContent-Type: {}\r\n\
                 Content-Transfer-Encoding: {}\r\n\r\n",
                part.description,
                part.content_type,
                part.encoding()
            )
            .as_bytes(),
        );
        out.extend_from_slice(&part.body);
        if !part.body.ends_with(b"\r\n") {
            out.extend_from_slice(b"\r\n");
        }
    }
    out.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    out
}

#[cfg(test)]
mod tests;
