//! The SMTP session as a pure state machine: bytes in, replies and actions out.
//!
//! [`Session`] knows the protocol (RFC 5321 with PIPELINING, 8BITMIME, SMTPUTF8,
//! SIZE, ENHANCEDSTATUSCODES, CHUNKING, STARTTLS and AUTH) and nothing about sockets,
//! clocks or storage. The listener feeds it what it read ([`Session::receive`]),
//! asks it what to do next ([`Session::advance`]), writes out what it replied
//! ([`Session::take_output`]) and reports back the outcome of the slow things it
//! asked for: storing a message ([`Session::delivered`]) and the TLS handshake
//! ([`Session::tls_started`]). Chaos triggers ([`Session::set_chaos`]) come in the
//! same way, with the random draw as an input, so tests can fix it; so does the
//! delivery simulation ([`Session::with_simulation`]), whose greylisting reads
//! the clock it was made with, so tests fix that too.
//!
//! This file holds the states, the input loop and the listener's side of the API;
//! the rest is split by concern: [`commands`] (what each command does), [`sasl`]
//! (AUTH), [`transcript`] (the commands and replies kept for the envelope),
//! [`budget`] (the memory a message being received holds, and refusing it when the
//! store's byte budget is spent), [`data`] (the DATA receiver) and [`simulated`]
//! (the simulation's verdicts at RCPT and after DATA).
//!
//! Command parsing and reply formatting are Stalwart's `smtp-proto`. The DATA
//! receiver is ours: it ends a message only at CRLF.CRLF, so a bare LF or CR
//! around the dot cannot smuggle a second message past us.
//!
//! Memory stays bounded whatever the client sends: an unfinished command line is
//! kept up to `max_line_length`, then discarded up to its LF; a message body up to
//! `max_message_size`, then discarded up to its end. The listener reads only when
//! the session asks for more, so pipelined input waits in the socket, not here.

use std::sync::Arc;
use std::time::Duration;

use smtp_proto::Response;

use super::DeliveryCounters;
use crate::config::SmtpLimits;
use crate::metrics::Rejection;
use crate::model::{ChaosTrigger, ChaosTriggers, Envelope, SimulationOutcome};
use crate::simulation::{Simulation, Triggered};
pub use budget::{BodyBudget, BodyCover};
use data::DataReceiver;
use sasl::AuthStep;
use transcript::Transcript;

mod budget;
mod commands;
mod data;
mod sasl;
mod simulated;
mod transcript;

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
    /// What the simulation wants done once the message is stored.
    pub effects: Vec<Triggered>,
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

/// Stop at this much unconsumed input before compacting the buffer.
const COMPACT_AT: usize = 4096;

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
    /// ([`Session::cover_body`]): the rest of it is read and dropped, then
    /// answered 451.
    refused_body: bool,
    bad_commands: usize,
    transcript: Transcript,
    /// Errors to answer MAIL, RCPT and AUTH with, at random.
    chaos: ChaosTriggers,
    /// A number in 0..100 for each chaos trigger checked; `None`: chaos never fires.
    chaos_draw: Option<ChaosDraw>,
    /// The delivery simulation's rules; `None`: every recipient is accepted as usual.
    simulation: Option<Arc<Simulation>>,
    /// What a simulation rule did at RCPT in this transaction, for the envelope.
    simulated: Option<SimulationOutcome>,
    /// How long the listener holds each reply, from the RCPT a tarpit rule matched on.
    reply_delay: Option<Duration>,
    /// Where refusals are counted by reason; `None`: not counted.
    counters: Option<Arc<DeliveryCounters>>,
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
            simulation: None,
            simulated: None,
            reply_delay: None,
            counters: None,
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

    /// Count every refusal by its reason in `counters` (the listener's).
    pub fn counting_into(mut self, counters: Arc<DeliveryCounters>) -> Session {
        self.counters = Some(counters);
        self
    }

    /// The chaos triggers in force from now on (the listener passes the current ones
    /// before each [`Session::advance`], so a change through the API applies at once).
    pub fn set_chaos(&mut self, triggers: ChaosTriggers) {
        self.chaos = triggers;
    }

    /// Judge recipients by the delivery simulation's rules (at RCPT, and again
    /// after DATA, when the message's headers are known).
    pub fn with_simulation(mut self, simulation: Arc<Simulation>) -> Session {
        self.simulation = Some(simulation);
        self
    }

    /// How long to hold the output before writing it (a tarpit rule matched).
    pub fn reply_delay(&self) -> Option<Duration> {
        self.reply_delay
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
                    } else if let Some(action) = self.deliver() {
                        break Some(action);
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
                        if let Some(action) = self.deliver() {
                            break Some(action);
                        }
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
        if let Err(refusal) = outcome {
            self.rejected(match refusal {
                Refusal::Busy => Rejection::Busy,
                Refusal::DiskFull => Rejection::DiskFull,
                Refusal::Failed => Rejection::Failed,
                Refusal::ShuttingDown => Rejection::Shutdown,
            });
        }
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
        self.rejected(match ending {
            Ending::IdleTimeout | Ending::SessionTooLong => Rejection::Timeout,
            Ending::ServerShutdown => Rejection::Shutdown,
            Ending::IntakePaused => Rejection::Paused,
            Ending::Evicted => Rejection::Connections,
        });
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
        self.simulated = None;
        self.transcript.end_transaction();
    }

    /// The message is complete: judged by the simulation after DATA (which may
    /// refuse it, or drop the connection: `None` or [`Action::Close`]), else
    /// handed to the listener to store.
    fn deliver(&mut self) -> Option<Action> {
        let (simulation, effects) = match self.judge_message() {
            Ok(judged) => judged,
            Err(action) => return action,
        };
        self.state = State::AwaitDelivery;
        let envelope = Envelope {
            mail_from: self.mail_from.clone().unwrap_or_default(),
            rcpt_to: self.rcpt_to.clone(),
            helo: self.helo.clone().unwrap_or_default(),
            peer: self.peer.clone(),
            tls: self.tls,
            auth_user: self.auth_user.clone(),
            transcript: self.transcript.text(),
            api: None,
            simulation,
        };
        Some(Action::Deliver(Box::new(Delivery { raw: std::mem::take(&mut self.body), envelope, effects })))
    }

    fn message_too_big(&mut self) {
        self.state = State::Command;
        let limit = format!("Message too big, the limit is {} bytes", self.limits.max_message_size);
        self.reply(552, [5, 3, 4], &limit);
        self.rejected(Rejection::Size);
        self.reset_transaction();
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
        self.rejected(Rejection::Chaos);
        true
    }

    fn rejected(&self, reason: Rejection) {
        if let Some(counters) = &self.counters {
            counters.rejections.add(reason);
        }
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

#[cfg(test)]
mod tests;
