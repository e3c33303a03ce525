//! The commands: one complete line in, a reply (and perhaps an [`Action`]) out.
//! Parsing is smtp-proto's; what each command does in which state is ours.

use smtp_proto::{
    AUTH_CRAM_MD5, AUTH_LOGIN, AUTH_PLAIN, EXT_8BIT_MIME, EXT_AUTH, EXT_CHUNKING, EXT_ENHANCED_STATUS_CODES, EXT_HELP,
    EXT_PIPELINING, EXT_SIZE, EXT_SMTP_UTF8, EXT_START_TLS, EhloResponse, Error as ParseError, Request,
};

use super::data::DataReceiver;
use super::sasl::redact_auth;
use super::{Action, Session, State};
use crate::metrics::Rejection;

impl Session {
    /// A line over the limit: refused, and an AUTH exchange waiting for it cancelled
    /// (RFC 4954), however much of the line had arrived when the limit was seen.
    pub(super) fn line_too_long(&mut self) -> Option<Action> {
        self.state = State::Command;
        self.transcript.client(b"(line too long, dropped)");
        let limit = format!("Line too long, the limit is {} bytes", self.limits.max_line_length);
        self.bad_command(500, [5, 5, 2], &limit)
    }

    /// Reply to a command the client got wrong, and close the session once it has
    /// got too many wrong.
    pub(super) fn bad_command(&mut self, code: u16, esc: [u8; 3], message: &str) -> Option<Action> {
        self.bad_commands += 1;
        self.rejected(Rejection::Protocol);
        if self.bad_commands >= self.limits.max_bad_commands {
            self.reply(421, [4, 7, 0], "Too many errors, closing connection");
            return Some(self.close());
        }
        self.reply(code, esc, message);
        None
    }

    pub(super) fn command(&mut self, line: &[u8]) -> Option<Action> {
        let request = Request::parse(&mut line.iter());
        match request {
            Ok(Request::Auth { .. }) => self.transcript.client(&redact_auth(line)),
            Ok(Request::Mail { .. }) => {
                self.transcript.start_transaction();
                self.transcript.client(line);
            }
            _ => self.transcript.client(line),
        }
        match request {
            Ok(request) => {
                let request = request.into_owned();
                self.request(request, line)
            }
            Err(ParseError::UnknownCommand) => self.bad_command(500, [5, 5, 1], "Command not recognized"),
            Err(ParseError::InvalidSenderAddress) => self.bad_command(501, [5, 1, 7], "Invalid sender address"),
            Err(ParseError::InvalidRecipientAddress) => self.bad_command(501, [5, 1, 3], "Invalid recipient address"),
            Err(ParseError::SyntaxError { syntax }) => self.bad_command(501, [5, 5, 4], &format!("Syntax: {syntax}")),
            Err(ParseError::InvalidParameter { param }) => {
                self.bad_command(501, [5, 5, 4], &format!("Invalid parameter {param}"))
            }
            Err(ParseError::UnsupportedParameter { param }) => {
                let param: String = param.chars().take(64).collect();
                self.bad_command(555, [5, 5, 4], &format!("Unsupported parameter {param}"))
            }
            Err(_) => self.bad_command(500, [5, 5, 2], "Syntax error"),
        }
    }

    fn request(&mut self, request: Request<String>, line: &[u8]) -> Option<Action> {
        match request {
            Request::Ehlo { host } => {
                self.reset_transaction();
                self.helo = Some(host);
                let mut ehlo = EhloResponse::new(self.limits.hostname.as_str());
                ehlo.capabilities = EXT_PIPELINING
                    | EXT_8BIT_MIME
                    | EXT_SMTP_UTF8
                    | EXT_SIZE
                    | EXT_ENHANCED_STATUS_CODES
                    | EXT_CHUNKING
                    | EXT_AUTH
                    | EXT_HELP;
                if self.tls_available && !self.tls {
                    ehlo.capabilities |= EXT_START_TLS;
                }
                ehlo.auth_mechanisms = AUTH_PLAIN | AUTH_LOGIN | AUTH_CRAM_MD5;
                ehlo.size = self.limits.max_message_size;
                let mut reply = Vec::new();
                ehlo.write(&mut reply).expect("writing to a Vec cannot fail");
                self.send(&reply);
                None
            }
            Request::Helo { host } => {
                self.reset_transaction();
                self.helo = Some(host);
                let hello = format!("{} Hello", self.limits.hostname);
                self.reply_plain(250, &hello);
                None
            }
            Request::Lhlo { .. } => self.bad_command(500, [5, 5, 1], "LHLO is for LMTP; this is SMTP, use EHLO"),
            Request::Mail { from } => {
                if self.helo.is_none() {
                    return self.bad_command(503, [5, 5, 1], "Send EHLO or HELO first");
                }
                if self.mail_from.is_some() {
                    return self.bad_command(503, [5, 5, 1], "Nested MAIL command, send RSET first");
                }
                if has_illegal_characters(line) {
                    return self.bad_command(501, [5, 1, 7], "Illegal characters in sender address");
                }
                if self.chaos_fired(self.chaos.sender, "sender") {
                    return None;
                }
                if from.size > self.limits.max_message_size {
                    let limit = format!("Message too big, the limit is {} bytes", self.limits.max_message_size);
                    self.reply(552, [5, 3, 4], &limit);
                    self.rejected(Rejection::Size);
                    return None;
                }
                self.mail_from = Some(from.address);
                self.reply(250, [2, 1, 0], "Sender ok");
                None
            }
            Request::Rcpt { to } => {
                if self.mail_from.is_none() {
                    return self.bad_command(503, [5, 5, 1], "Send MAIL first");
                }
                if has_illegal_characters(line) {
                    return self.bad_command(501, [5, 1, 3], "Illegal characters in recipient address");
                }
                if to.address.is_empty() {
                    return self.bad_command(501, [5, 1, 3], "Recipient address required");
                }
                if self.chaos_fired(self.chaos.recipient, "recipient") {
                    return None;
                }
                if self.rcpt_to.len() >= self.limits.max_recipients {
                    let limit = format!("Too many recipients, the limit is {}", self.limits.max_recipients);
                    self.reply(452, [4, 5, 3], &limit);
                    self.rejected(Rejection::Recipients);
                    return None;
                }
                if !self.recipient_admitted(&to.address) {
                    return None;
                }
                self.rcpt_to.push(to.address);
                self.reply(250, [2, 1, 5], "Recipient ok");
                None
            }
            Request::Data => {
                if let Some(refusal) = self.transaction_not_ready() {
                    return refusal;
                }
                if !self.body.is_empty() {
                    return self.bad_command(503, [5, 5, 1], "BDAT in progress, DATA not allowed");
                }
                self.reply_plain(354, "Start mail input; end with <CRLF>.<CRLF>");
                self.state = State::Data { receiver: DataReceiver::new(), oversize: false };
                None
            }
            Request::Bdat { chunk_size, is_last } => {
                if let Some(refusal) = self.transaction_not_ready() {
                    // The chunk follows the command whatever we answer: skip it
                    // (unless that answer closed the session).
                    if refusal.is_none() {
                        self.state = State::SkipChunk { remaining: chunk_size };
                    }
                    return refusal;
                }
                if self.body.len().saturating_add(chunk_size) > self.limits.max_message_size {
                    // Say so at once (a client that declared gigabytes should not
                    // have to send them to learn), then drop the chunk as it comes,
                    // so the session stays in step without buffering any of it.
                    self.message_too_big();
                    self.state = State::SkipChunk { remaining: chunk_size };
                    return None;
                }
                self.state = State::Bdat { remaining: chunk_size, last: is_last };
                None
            }
            Request::Rset => {
                self.reset_transaction();
                self.reply(250, [2, 0, 0], "Ok");
                None
            }
            Request::Noop { .. } => {
                self.reply(250, [2, 0, 0], "Ok");
                None
            }
            Request::Quit => {
                self.reply(221, [2, 0, 0], "Bye");
                Some(self.close())
            }
            Request::Vrfy { .. } => {
                self.reply(252, [2, 5, 2], "Cannot verify the user, but will accept the message");
                None
            }
            Request::Help { .. } => {
                self.reply(
                    214,
                    [2, 0, 0],
                    "Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP STARTTLS AUTH",
                );
                None
            }
            Request::StartTls => {
                if !self.tls_available {
                    return self.bad_command(502, [5, 5, 1], "STARTTLS is not available");
                }
                if self.tls {
                    return self.bad_command(503, [5, 5, 1], "Already in TLS");
                }
                self.reply(220, [2, 0, 0], "Ready to start TLS");
                // Anything pipelined after STARTTLS was sent in the clear and must
                // not be taken as coming over TLS (CVE-2011-0411).
                self.input.clear();
                self.consumed = 0;
                self.state = State::AwaitTls;
                Some(Action::StartTls)
            }
            Request::Auth { mechanism, initial_response } => self.auth(mechanism, initial_response),
            Request::Expn { .. } | Request::Etrn { .. } | Request::Atrn { .. } | Request::Burl { .. } => {
                self.bad_command(502, [5, 5, 1], "Command not implemented")
            }
        }
    }

    /// The reply refusing DATA/BDAT when the transaction lacks a sender or recipients.
    fn transaction_not_ready(&mut self) -> Option<Option<Action>> {
        if self.mail_from.is_none() {
            Some(self.bad_command(503, [5, 5, 1], "Send MAIL first"))
        } else if self.rcpt_to.is_empty() {
            Some(self.bad_command(503, [5, 5, 1], "Send RCPT first"))
        } else {
            None
        }
    }
}

/// Control characters (CR, LF, NUL, TAB …, DEL) anywhere in a MAIL/RCPT line but
/// its end. smtp-proto accepts some inside quoted local parts; RFC 5321 allows none
/// in a command, so we refuse them outright: no envelope value can break a header
/// or a log line.
fn has_illegal_characters(line: &[u8]) -> bool {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    line.iter().any(|&b| b < 0x20 || b == 0x7f)
}
