//! The SMTP session as a pure state machine: bytes in, replies and actions out.
//!
//! [`Session`] knows the protocol (RFC 5321 with PIPELINING, 8BITMIME, SMTPUTF8,
//! SIZE, ENHANCEDSTATUSCODES, CHUNKING, STARTTLS and AUTH) and nothing about sockets,
//! clocks or storage. The listener feeds it what it read ([`Session::receive`]),
//! asks it what to do next ([`Session::advance`]), writes out what it replied
//! ([`Session::take_output`]) and reports back the outcome of the slow things it
//! asked for: storing a message ([`Session::delivered`]) and the TLS handshake
//! ([`Session::tls_started`]). Chaos triggers ([`Session::set_chaos`]) come in the
//! same way, with the random draw as an input, so tests can fix it.
//!
//! Command parsing and reply formatting are Stalwart's `smtp-proto`. The DATA
//! receiver is ours ([`data`]): it ends a message only at CRLF.CRLF, so a bare LF
//! or CR around the dot cannot smuggle a second message past us.
//!
//! Memory stays bounded whatever the client sends: an unfinished command line is
//! kept up to `max_line_length`, then discarded up to its LF; a message body up to
//! `max_message_size`, then discarded up to its end. The listener reads only when
//! the session asks for more, so pipelined input waits in the socket, not here.

use std::borrow::Cow;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use smtp_proto::{
    AUTH_CRAM_MD5, AUTH_LOGIN, AUTH_PLAIN, EXT_8BIT_MIME, EXT_AUTH, EXT_CHUNKING, EXT_ENHANCED_STATUS_CODES, EXT_HELP,
    EXT_PIPELINING, EXT_SIZE, EXT_SMTP_UTF8, EXT_START_TLS, EhloResponse, Error as ParseError, Request, Response,
};

use super::{ChaosTrigger, ChaosTriggers, Envelope};
use crate::config::SmtpLimits;
use data::DataReceiver;

mod data;

/// What the listener must do before the session can go on.
#[derive(Debug, PartialEq, Eq)]
pub enum Action {
    /// A message is complete: store it, then report with [`Session::delivered`].
    Deliver(Box<Delivery>),
    /// The "220 Ready to start TLS" reply is in the output: flush it, run the TLS
    /// handshake, then report with [`Session::tls_started`].
    StartTls,
    /// Flush the output and close the connection.
    Close,
}

/// A complete message and how it arrived.
#[derive(Debug, PartialEq, Eq)]
pub struct Delivery {
    /// The message bytes as the client meant them (dot-stuffing undone).
    pub raw: Vec<u8>,
    pub envelope: Envelope,
}

/// Why a message could not be stored, as far as SMTP cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The writer is behind: try again later (451 4.3.0).
    Busy,
    /// No space left for the store (452 4.3.1).
    DiskFull,
    /// The server is stopping (421 4.3.2, and the connection closes).
    ShuttingDown,
    /// Any other storage failure (451 4.3.0).
    Failed,
}

/// Why the listener ends a session on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// No command (or DATA bytes) within the command timeout.
    IdleTimeout,
    /// The session outlived the maximum session length.
    SessionTooLong,
    /// The server is stopping.
    ServerShutdown,
    /// The user paused intake ([`super::Intake`]).
    IntakePaused,
    /// The listener is at its connection cap and a new connection took this idle
    /// session's slot.
    Evicted,
}

/// Where the session is in the protocol.
enum State {
    /// Reading command lines.
    Command,
    /// A command line grew past the limit: drop bytes up to its LF, then reply 500.
    DiscardLine,
    /// Reading a DATA body. `oversize` once it passed the size limit: the rest is
    /// read and dropped so that the reply comes at the right place in the stream.
    Data { receiver: DataReceiver, oversize: bool },
    /// Reading a BDAT chunk of `remaining` more bytes.
    Bdat { remaining: usize, last: bool },
    /// Skipping the chunk of a BDAT command that was refused.
    SkipChunk { remaining: usize },
    /// Waiting for a SASL response line.
    Auth(AuthStep),
    /// Waiting for [`Session::delivered`].
    AwaitDelivery,
    /// Waiting for [`Session::tls_started`].
    AwaitTls,
    /// The session is over; everything else is ignored.
    Closed,
}

enum AuthStep {
    Plain,
    LoginUser,
    LoginPassword { user: String },
    CramMd5,
}

/// Stop at this much unconsumed input before compacting the buffer.
const COMPACT_AT: usize = 4096;
/// Longest line kept in the transcript; longer ones are cut.
const TRANSCRIPT_LINE_MAX: usize = 512;
/// Most bytes of transcript kept for the part before MAIL and for each transaction.
const TRANSCRIPT_PART_MAX: usize = 16 * 1024;

/// One SMTP session, from greeting to QUIT.
pub struct Session {
    limits: SmtpLimits,
    tls_available: bool,
    /// Random token for the CRAM-MD5 challenge (the session itself has no randomness).
    nonce: String,
    state: State,
    /// Bytes received and not yet consumed, from `consumed` on.
    input: Vec<u8>,
    consumed: usize,
    output: Vec<u8>,
    helo: Option<String>,
    tls: bool,
    auth_user: Option<String>,
    peer: String,
    mail_from: Option<String>,
    rcpt_to: Vec<String>,
    /// The message being received (DATA body or BDAT chunks so far).
    body: Vec<u8>,
    /// The listener could not fit this message in the store's byte budget
    /// ([`Session::refuse_body`]): the rest of it is read and dropped, then
    /// answered 451.
    refused_body: bool,
    bad_commands: usize,
    transcript: Transcript,
    /// Errors to answer MAIL, RCPT and AUTH with, at random.
    chaos: ChaosTriggers,
    /// A number in 0..100 for each chaos trigger checked; `None`: chaos never fires.
    chaos_draw: Option<ChaosDraw>,
}

/// The source of chaos draws: random in the listener, fixed in tests.
pub type ChaosDraw = Box<dyn FnMut() -> u8 + Send>;

impl Session {
    /// A new session with its greeting already in the output.
    pub fn new(limits: &SmtpLimits, peer: String, tls_available: bool, nonce: String) -> Session {
        let mut session = Session {
            limits: limits.clone(),
            tls_available,
            nonce,
            state: State::Command,
            input: Vec::new(),
            consumed: 0,
            output: Vec::new(),
            helo: None,
            tls: false,
            auth_user: None,
            peer,
            mail_from: None,
            rcpt_to: Vec::new(),
            body: Vec::new(),
            refused_body: false,
            bad_commands: 0,
            transcript: Transcript::default(),
            chaos: ChaosTriggers::default(),
            chaos_draw: None,
        };
        let greeting = format!("{} ESMTP Pigeonhole ready", session.limits.hostname);
        session.reply_plain(220, &greeting);
        session
    }

    /// The reply for a connection refused because too many are open.
    pub fn too_many_connections() -> &'static [u8] {
        b"421 4.7.0 Too many connections, try again later\r\n"
    }

    /// The reply for a connection refused because the user paused intake.
    pub fn intake_paused() -> &'static [u8] {
        b"421 4.3.2 Pigeonhole has paused intake, try again later\r\n"
    }

    /// Let chaos triggers fire, drawing from `draw` (numbers in 0..100) for each
    /// trigger with a probability above 0.
    pub fn with_chaos_draw(mut self, draw: ChaosDraw) -> Session {
        self.chaos_draw = Some(draw);
        self
    }

    /// The chaos triggers in force from now on (the listener passes the current ones
    /// before each [`Session::advance`], so a change through the API applies at once).
    pub fn set_chaos(&mut self, triggers: ChaosTriggers) {
        self.chaos = triggers;
    }

    /// Hand the session bytes read from the client.
    pub fn receive(&mut self, bytes: &[u8]) {
        if !matches!(self.state, State::Closed) {
            self.input.extend_from_slice(bytes);
        }
    }

    /// Replies written since the last call, to send to the client.
    pub fn take_output(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.output)
    }

    /// True while a message body is being received (for the listener's timeouts).
    pub fn in_body(&self) -> bool {
        matches!(self.state, State::Data { .. } | State::Bdat { .. } | State::SkipChunk { .. })
    }

    /// True from MAIL to the end of that transaction (its message stored or
    /// refused, or RSET): the listener never evicts such a session and keeps its
    /// whole command timeout.
    pub fn in_transaction(&self) -> bool {
        self.mail_from.is_some() || self.in_body() || matches!(self.state, State::AwaitDelivery)
    }

    /// The message received so far: its length and the memory it holds (the
    /// listener counts the latter against the store's byte budget).
    pub fn body_held(&self) -> (usize, usize) {
        (self.body.len(), self.body.capacity())
    }

    /// True while the session keeps the bytes of a message it is receiving (not
    /// when it drops them: too big, refused, or a skipped BDAT chunk), including
    /// the chunks so far between two BDAT commands.
    pub fn keeps_body(&self) -> bool {
        match self.state {
            State::Data { oversize, .. } => !oversize && !self.refused_body,
            State::Bdat { .. } => !self.refused_body,
            State::Command => !self.body.is_empty(),
            _ => false,
        }
    }

    /// Memory held for input not yet consumed (its buffer's capacity).
    pub fn input_held(&self) -> usize {
        self.input.capacity()
    }

    /// The message being received does not fit in memory now (the store's byte
    /// budget is spent): drop what it has, read the rest of it without keeping
    /// any, and answer it `451 4.3.0` (try again later) at its end (between BDAT
    /// chunks: at the end of the next chunk). Nothing is lost: the client keeps
    /// the message and retries. Outside a body, nothing.
    pub fn refuse_body(&mut self) {
        if matches!(self.state, State::Data { .. } | State::Bdat { .. })
            || (matches!(self.state, State::Command) && !self.body.is_empty())
        {
            self.refused_body = true;
            self.body = Vec::new();
        }
    }

    /// Bytes held for the client: input not yet consumed, and the message so far
    /// (the fuzz target checks both against the limits).
    #[cfg(any(test, feature = "fuzzing"))]
    pub(crate) fn held(&self) -> (usize, usize) {
        (self.input.len() - self.consumed, self.body.len())
    }

    /// Process buffered input until an [`Action`] is needed or more input is.
    pub fn advance(&mut self) -> Option<Action> {
        let action = loop {
            let pending = &self.input[self.consumed..];
            match &mut self.state {
                State::Closed | State::AwaitDelivery | State::AwaitTls => break None,
                State::Command | State::Auth(_) => {
                    let Some(end) = pending.iter().position(|&b| b == b'\n') else {
                        if pending.len() >= self.limits.max_line_length {
                            self.consumed = self.input.len();
                            self.state = State::DiscardLine;
                        }
                        break None;
                    };
                    let line_end = self.consumed + end + 1;
                    let line = self.input[self.consumed..line_end].to_vec();
                    self.consumed = line_end;
                    if line.len() > self.limits.max_line_length {
                        if let Some(action) = self.line_too_long() {
                            break Some(action);
                        }
                        continue;
                    }
                    let action = if matches!(self.state, State::Auth(_)) {
                        self.auth_response(&line)
                    } else {
                        self.command(&line)
                    };
                    if action.is_some() {
                        break action;
                    }
                }
                State::DiscardLine => match pending.iter().position(|&b| b == b'\n') {
                    Some(end) => {
                        self.consumed += end + 1;
                        self.state = State::Command;
                        if let Some(action) = self.line_too_long() {
                            break Some(action);
                        }
                    }
                    None => {
                        self.consumed = self.input.len();
                        break None;
                    }
                },
                State::Data { receiver, oversize } => {
                    let (taken, done) = receiver.ingest(pending, &mut self.body);
                    self.consumed += taken;
                    // A refused body keeps nothing, so it has no size to judge: it is
                    // answered 451 however it is split (the client retries, and then
                    // learns of the limit).
                    if !self.refused_body && self.body.len() > self.limits.max_message_size {
                        *oversize = true;
                    }
                    if *oversize || self.refused_body {
                        // Keep reading to the terminator, but keep none of it.
                        self.body.clear();
                    }
                    if !done {
                        break None;
                    }
                    if *oversize {
                        self.message_too_big();
                    } else if self.refused_body {
                        self.body_refused();
                    } else {
                        break Some(self.deliver());
                    }
                }
                State::SkipChunk { remaining } => {
                    let take = pending.len().min(*remaining);
                    self.consumed += take;
                    *remaining -= take;
                    if *remaining > 0 {
                        break None;
                    }
                    self.state = State::Command;
                }
                State::Bdat { remaining, last } => {
                    let take = pending.len().min(*remaining);
                    if !self.refused_body {
                        self.body.extend_from_slice(&pending[..take]);
                    }
                    self.consumed += take;
                    *remaining -= take;
                    if *remaining > 0 {
                        break None;
                    }
                    if self.refused_body {
                        // The chunk is answered; the transaction is over, so any
                        // further BDAT of it is refused (503) until a new MAIL.
                        self.body_refused();
                    } else if *last {
                        break Some(self.deliver());
                    } else {
                        self.state = State::Command;
                        let received = format!("{} bytes received so far", self.body.len());
                        self.reply(250, [2, 0, 0], &received);
                    }
                }
            }
        };
        self.compact();
        action
    }

    /// Report the outcome of an [`Action::Deliver`].
    pub fn delivered(&mut self, outcome: Result<String, Refusal>) -> Option<Action> {
        debug_assert!(matches!(self.state, State::AwaitDelivery));
        self.state = State::Command;
        // Reply first, so that the reply belongs to this transaction's transcript.
        let close = matches!(outcome, Err(Refusal::ShuttingDown));
        match outcome {
            Ok(id) => self.reply(250, [2, 0, 0], &format!("Ok: queued as {id}")),
            Err(Refusal::Busy) => self.reply(451, [4, 3, 0], "Mail store is busy, try again later"),
            Err(Refusal::DiskFull) => self.reply(452, [4, 3, 1], "Insufficient system storage, try again later"),
            Err(Refusal::Failed) => self.reply(451, [4, 3, 0], "Could not store the message, try again later"),
            Err(Refusal::ShuttingDown) => self.reply(421, [4, 3, 2], "Service shutting down, try again later"),
        }
        self.reset_transaction();
        close.then(|| self.close())
    }

    /// Report that the TLS handshake after [`Action::StartTls`] succeeded. The
    /// session starts over, as RFC 3207 requires: the client must EHLO again.
    pub fn tls_started(&mut self) {
        debug_assert!(matches!(self.state, State::AwaitTls));
        self.state = State::Command;
        self.tls = true;
        self.helo = None;
        self.auth_user = None;
        self.reset_transaction();
    }

    /// End the session from the listener's side, with the reply that says why.
    pub fn end(&mut self, ending: Ending) -> Action {
        match ending {
            Ending::IdleTimeout => self.reply(421, [4, 4, 2], "Timeout waiting for input, closing connection"),
            Ending::SessionTooLong => self.reply(421, [4, 4, 2], "Session too long, closing connection"),
            Ending::ServerShutdown => self.reply(421, [4, 3, 2], "Service shutting down, closing connection"),
            Ending::IntakePaused => self.reply(421, [4, 3, 2], "Pigeonhole has paused intake, try again later"),
            Ending::Evicted => self.reply(421, [4, 7, 0], "Too many connections, try again later"),
        }
        self.close()
    }

    fn close(&mut self) -> Action {
        self.state = State::Closed;
        self.input.clear();
        self.consumed = 0;
        Action::Close
    }

    fn compact(&mut self) {
        if self.consumed == self.input.len() {
            self.input.clear();
            self.consumed = 0;
        } else if self.consumed >= COMPACT_AT {
            self.input.drain(..self.consumed);
            self.consumed = 0;
        }
    }

    fn reset_transaction(&mut self) {
        self.mail_from = None;
        self.rcpt_to.clear();
        self.body = Vec::new();
        self.refused_body = false;
        self.transcript.end_transaction();
    }

    fn deliver(&mut self) -> Action {
        self.state = State::AwaitDelivery;
        let envelope = Envelope {
            mail_from: self.mail_from.clone().unwrap_or_default(),
            rcpt_to: self.rcpt_to.clone(),
            helo: self.helo.clone().unwrap_or_default(),
            peer: self.peer.clone(),
            tls: self.tls,
            auth_user: self.auth_user.clone(),
            transcript: self.transcript.text(),
        };
        Action::Deliver(Box::new(Delivery { raw: std::mem::take(&mut self.body), envelope }))
    }

    /// The end of a message [`Session::refuse_body`] dropped.
    fn body_refused(&mut self) {
        self.state = State::Command;
        self.reply(451, [4, 3, 0], "Too much mail on its way in, try again later");
        self.reset_transaction();
    }

    fn message_too_big(&mut self) {
        self.state = State::Command;
        let limit = format!("Message too big, the limit is {} bytes", self.limits.max_message_size);
        self.reply(552, [5, 3, 4], &limit);
        self.reset_transaction();
    }

    /// A line over the limit: refused, and an AUTH exchange waiting for it cancelled
    /// (RFC 4954), however much of the line had arrived when the limit was seen.
    fn line_too_long(&mut self) -> Option<Action> {
        self.state = State::Command;
        self.transcript.client(b"(line too long, dropped)");
        let limit = format!("Line too long, the limit is {} bytes", self.limits.max_line_length);
        self.bad_command(500, [5, 5, 2], &limit)
    }

    /// Reply to a command the client got wrong, and close the session once it has
    /// got too many wrong.
    fn bad_command(&mut self, code: u16, esc: [u8; 3], message: &str) -> Option<Action> {
        self.bad_commands += 1;
        if self.bad_commands >= self.limits.max_bad_commands {
            self.reply(421, [4, 7, 0], "Too many errors, closing connection");
            return Some(self.close());
        }
        self.reply(code, esc, message);
        None
    }

    fn command(&mut self, line: &[u8]) -> Option<Action> {
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

    fn auth(&mut self, mechanism: u64, initial_response: String) -> Option<Action> {
        if self.helo.is_none() {
            return self.bad_command(503, [5, 5, 1], "Send EHLO first");
        }
        if self.auth_user.is_some() {
            return self.bad_command(503, [5, 5, 1], "Already authenticated");
        }
        if self.mail_from.is_some() {
            return self.bad_command(503, [5, 5, 1], "AUTH not allowed during a mail transaction");
        }
        if self.chaos_fired(self.chaos.authentication, "authentication") {
            return None;
        }
        let initial = (!initial_response.is_empty()).then_some(initial_response);
        match mechanism {
            AUTH_PLAIN => match initial {
                Some(response) => self.auth_plain(response.as_bytes()),
                None => {
                    self.reply_plain(334, "");
                    self.state = State::Auth(AuthStep::Plain);
                    None
                }
            },
            AUTH_LOGIN => match initial {
                Some(user) => self.login_user(user.as_bytes()),
                None => {
                    self.reply_plain(334, "VXNlcm5hbWU6");
                    self.state = State::Auth(AuthStep::LoginUser);
                    None
                }
            },
            AUTH_CRAM_MD5 => {
                let challenge = format!("<{}@{}>", self.nonce, self.limits.hostname);
                self.reply_plain(334, &BASE64.encode(challenge));
                self.state = State::Auth(AuthStep::CramMd5);
                None
            }
            _ => self.bad_command(504, [5, 5, 4], "Mechanism not supported, use PLAIN, LOGIN or CRAM-MD5"),
        }
    }

    /// A SASL response line, after a 334 challenge.
    fn auth_response(&mut self, line: &[u8]) -> Option<Action> {
        self.transcript.client(b"(credentials)");
        let State::Auth(step) = std::mem::replace(&mut self.state, State::Command) else {
            unreachable!("auth_response is called in the Auth state only");
        };
        let response = line.trim_ascii_end();
        if response == b"*" {
            return self.bad_command(501, [5, 7, 0], "Authentication cancelled");
        }
        match step {
            AuthStep::Plain => self.auth_plain(response),
            AuthStep::LoginUser => self.login_user(response),
            AuthStep::LoginPassword { user } => match BASE64.decode(response) {
                Ok(_) => self.authenticated(user),
                Err(_) => self.bad_command(501, [5, 5, 2], "Invalid base64"),
            },
            AuthStep::CramMd5 => match decode_text(response) {
                // "user hex-digest": any digest is accepted, the user name is kept.
                Some(text) => {
                    let user = text.rsplit_once(' ').map_or(text.as_str(), |(user, _)| user);
                    self.authenticated(user.to_string())
                }
                None => self.bad_command(501, [5, 5, 2], "Invalid base64"),
            },
        }
    }

    /// PLAIN: base64 of "authzid NUL authcid NUL password"; any password is accepted.
    fn auth_plain(&mut self, response: &[u8]) -> Option<Action> {
        let Some(text) = decode_text(response) else {
            return self.bad_command(501, [5, 5, 2], "Invalid base64");
        };
        let mut fields = text.split('\0');
        let (Some(authzid), Some(authcid), Some(_password)) = (fields.next(), fields.next(), fields.next()) else {
            return self.bad_command(501, [5, 5, 2], "PLAIN needs authzid NUL user NUL password");
        };
        let user = if authcid.is_empty() { authzid } else { authcid };
        self.authenticated(user.to_string())
    }

    fn login_user(&mut self, response: &[u8]) -> Option<Action> {
        let Some(user) = decode_text(response) else {
            return self.bad_command(501, [5, 5, 2], "Invalid base64");
        };
        self.reply_plain(334, "UGFzc3dvcmQ6");
        self.state = State::Auth(AuthStep::LoginPassword { user });
        None
    }

    fn authenticated(&mut self, user: String) -> Option<Action> {
        // The name picks the inbox and is shown in the UI: keep it printable and short.
        let user: String = user.chars().filter(|c| !c.is_control()).take(128).collect();
        self.auth_user = Some(user);
        self.reply(235, [2, 7, 0], "Authentication succeeded");
        None
    }

    /// Whether `trigger` fires now; if so, its error is answered, in Mailpit's words
    /// (`451 Chaos sender error`).
    fn chaos_fired(&mut self, trigger: ChaosTrigger, step: &str) -> bool {
        if trigger.probability == 0 {
            return false;
        }
        let Some(draw) = self.chaos_draw.as_mut().map(|draw| draw()) else {
            return false;
        };
        if !trigger.fires(draw) {
            return false;
        }
        self.reply_plain(trigger.error_code, &format!("Chaos {step} error"));
        true
    }

    /// A reply with an enhanced status code.
    fn reply(&mut self, code: u16, esc: [u8; 3], message: &str) {
        let mut reply = Vec::new();
        Response::new(code, esc[0], esc[1], esc[2], message).write(&mut reply).expect("writing to a Vec cannot fail");
        self.send(&reply);
    }

    /// A reply without an enhanced status code (greeting, 334 challenges, 354).
    fn reply_plain(&mut self, code: u16, message: &str) {
        self.send(format!("{code} {message}\r\n").as_bytes());
    }

    fn send(&mut self, reply: &[u8]) {
        for line in reply.split_inclusive(|&b| b == b'\n') {
            self.transcript.server(line);
        }
        self.output.extend_from_slice(reply);
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

/// "AUTH PLAIN <secret>" → "AUTH PLAIN ****": transcripts never hold credentials.
fn redact_auth(line: &[u8]) -> Vec<u8> {
    let mut words = line.trim_ascii().split(|&b| b == b' ').filter(|w| !w.is_empty());
    let mut redacted = Vec::new();
    for word in words.by_ref().take(2) {
        redacted.extend_from_slice(word);
        redacted.push(b' ');
    }
    if words.next().is_some() {
        redacted.extend_from_slice(b"****");
    }
    redacted
}

fn decode_text(base64: &[u8]) -> Option<String> {
    let bytes = BASE64.decode(base64.trim_ascii()).ok()?;
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

/// The session's commands and replies, kept for the envelope: the part before the
/// first MAIL (greeting, EHLO, STARTTLS, AUTH) and the current transaction, each
/// capped, so a long session stays small.
#[derive(Default)]
struct Transcript {
    preamble: String,
    transaction: String,
    in_transaction: bool,
}

impl Transcript {
    fn client(&mut self, line: &[u8]) {
        self.push("C: ", line);
    }

    fn server(&mut self, line: &[u8]) {
        self.push("S: ", line);
    }

    /// A MAIL command starts a new transaction part (even if it is then refused).
    fn start_transaction(&mut self) {
        self.transaction.clear();
        self.in_transaction = true;
    }

    fn end_transaction(&mut self) {
        if self.in_transaction {
            self.in_transaction = false;
            self.transaction.clear();
        }
    }

    fn text(&self) -> String {
        format!("{}{}", self.preamble, self.transaction)
    }

    fn push(&mut self, prefix: &str, line: &[u8]) {
        let part = if self.in_transaction { &mut self.transaction } else { &mut self.preamble };
        if part.len() >= TRANSCRIPT_PART_MAX {
            return;
        }
        let line = line.trim_ascii_end();
        let text: Cow<'_, str> = String::from_utf8_lossy(&line[..line.len().min(TRANSCRIPT_LINE_MAX)]);
        part.push_str(prefix);
        part.push_str(&text);
        if line.len() > TRANSCRIPT_LINE_MAX {
            part.push('…');
        }
        part.push('\n');
        if part.len() >= TRANSCRIPT_PART_MAX {
            part.push_str("(transcript truncated)\n");
        }
    }
}

#[cfg(test)]
mod tests;
