//! One IMAP connection's protocol: bytes in, bytes out, no sockets.
//!
//! imap-next's [`Server`] does the framing: it cuts the input into commands
//! (literals included, refused past `max_literal_size` before a byte of them is
//! buffered), answers the continuation requests, runs IDLE's and AUTHENTICATE's
//! flows, and serialises what the session enqueues through imap-codec. The
//! session is what the commands mean here: the connection's state (not
//! authenticated, authenticated, selected, logged out), login through
//! [`crate::login`], and each command against the [`Store`]: commands of any
//! state and logging in here, mailbox commands in `session/mailboxes.rs`,
//! message commands in `session/messages.rs`.
//!
//! The listener drives it with [`Session::feed`] and [`Session::step`], and while
//! the client IDLEs, wakes it with [`Session::changed`] when the store's event
//! broadcast says something changed, so new mail reaches the client at once.

mod mailboxes;
mod messages;

use std::net::SocketAddr;
use std::sync::Arc;

use imap_next::imap_types::auth::{AuthMechanism, AuthenticateData};
use imap_next::imap_types::command::{Command, CommandBody};
use imap_next::imap_types::core::{IString, NString, Tag, Text, Vec1};
use imap_next::imap_types::extensions::namespace::Namespace;
use imap_next::imap_types::response::{
    Capability, Code, CodeOther, CommandContinuationRequest, Data, Greeting, Status,
};
use imap_next::server::{Error as FramingError, Event as FramingEvent, Options, Server};
use imap_next::types::CommandAuthenticate;
use imap_next::{Interrupt, Io, State};
use tokio::sync::broadcast::{self, error::RecvError, error::TryRecvError};

use super::ImapSetup;
use super::selected::Selected;
use crate::login::plaintext_allowed;
use crate::model::{Access, Event};

/// Output gathered before it is handed to the socket in one write (a FETCH of
/// every message's flags is thousands of small responses).
const WRITE_BATCH: usize = 64 * 1024;

/// What the listener does next.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// Send these bytes, then step again.
    Write(Vec<u8>),
    /// Read more input (and, while [`Session::idling`], wait for changes too).
    Read,
    /// The STARTTLS answer went out: do the TLS handshake, then
    /// [`Session::tls_started`], and step again.
    StartTls,
    /// Close the connection (after LOGOUT, or a BYE).
    Close,
}

/// A connection's IMAP session.
pub struct Session {
    server: Server,
    setup: Arc<ImapSetup>,
    peer: SocketAddr,
    tls: bool,
    /// The logged-in user, once authenticated.
    user: Option<String>,
    /// The inboxes the user may see (every one without --imap-auth-file, or
    /// without an inbox list on its line).
    access: Access,
    selected: Option<Selected>,
    events: broadcast::Receiver<Event>,
    /// The store changed in a way the selected mailbox may show.
    dirty: bool,
    /// The tag of the IDLE in progress.
    idling: Option<Tag<'static>>,
    /// The tag of the AUTHENTICATE in progress.
    authenticating: Option<Tag<'static>>,
    bad_commands: usize,
    commands_done: u64,
    closing: bool,
    /// Bytes that must go out before anything else (the STARTTLS answer).
    pending: Option<Vec<u8>>,
    start_tls: bool,
}

impl Session {
    /// A new connection from `peer`; `tls` when it is already encrypted
    /// (implicit TLS). The greeting is the first output.
    pub fn new(setup: Arc<ImapSetup>, peer: SocketAddr, tls: bool) -> Session {
        let events = setup.events.subscribe();
        let greeting = Greeting {
            kind: imap_next::imap_types::response::GreetingKind::Ok,
            code: Some(Code::Capability(capabilities(&setup, peer, tls, false))),
            text: text("Pigeonhole IMAP ready"),
        };
        Session {
            server: Server::new(options(&setup), greeting),
            setup,
            peer,
            tls,
            user: None,
            access: Access::All,
            selected: None,
            events,
            dirty: false,
            idling: None,
            authenticating: None,
            bad_commands: 0,
            commands_done: 0,
            closing: false,
            pending: None,
            start_tls: false,
        }
    }

    /// A session refused at the connection cap: its only output is a BYE.
    pub fn too_many_connections() -> Vec<u8> {
        b"* BYE [UNAVAILABLE] Too many IMAP connections; close some and connect again\r\n".to_vec()
    }

    /// Bytes the client sent.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.server.enqueue_input(bytes);
    }

    /// Whether the client is in IDLE, waiting to be told of changes.
    pub fn idling(&self) -> bool {
        self.idling.is_some()
    }

    /// Whether the client has logged in (the listener's timeouts differ).
    pub fn authenticated(&self) -> bool {
        self.user.is_some()
    }

    /// Commands completed so far (the listener times each command from its first byte).
    pub fn commands_done(&self) -> u64 {
        self.commands_done
    }

    /// Run until the session needs the socket.
    pub async fn step(&mut self) -> Step {
        let mut out = Vec::new();
        loop {
            if let Some(bytes) = self.pending.take() {
                out.extend(bytes);
            }
            if self.start_tls {
                if !out.is_empty() {
                    return Step::Write(out);
                }
                self.start_tls = false;
                return Step::StartTls;
            }
            if out.len() >= WRITE_BATCH {
                return Step::Write(out);
            }
            match self.server.next() {
                Ok(event) => self.on_event(event).await,
                Err(Interrupt::Io(Io::Output(bytes))) => out.extend(bytes),
                Err(Interrupt::Io(Io::NeedMoreInput)) if !out.is_empty() => return Step::Write(out),
                Err(Interrupt::Io(Io::NeedMoreInput)) if self.closing => return Step::Close,
                Err(Interrupt::Io(Io::NeedMoreInput)) => return Step::Read,
                Err(Interrupt::Error(error)) => self.on_framing_error(error),
            }
        }
    }

    /// The TLS handshake after STARTTLS succeeded: anything the client sent
    /// before it was already dropped (no command may ride in unencrypted).
    pub fn tls_started(&mut self) {
        self.tls = true;
    }

    /// Wait until the store changes in a way that may concern the selected
    /// mailbox; the next [`Session::idle_update`] tells the client.
    pub async fn changed(&mut self) {
        loop {
            match self.events.recv().await {
                Ok(event) if concerns_mailboxes(&event) => break,
                Ok(_) => {}
                Err(RecvError::Lagged(_)) => break,
                Err(RecvError::Closed) => std::future::pending().await,
            }
        }
        self.dirty = true;
    }

    /// While idling: tell the client what changed.
    pub fn idle_update(&mut self) {
        self.sync(true);
    }

    async fn on_event(&mut self, event: FramingEvent) {
        match event {
            FramingEvent::CommandReceived { command } => {
                self.handle(command).await;
                self.commands_done += 1;
            }
            FramingEvent::CommandAuthenticateReceived { command_authenticate } => {
                self.authenticate(command_authenticate).await;
            }
            FramingEvent::AuthenticateDataReceived { authenticate_data } => {
                self.authenticate_data(authenticate_data).await;
                self.commands_done += 1;
            }
            FramingEvent::IdleCommandReceived { tag } => self.idle(tag),
            FramingEvent::IdleDoneReceived => {
                if let Some(tag) = self.idling.take() {
                    self.sync(true);
                    self.ok(tag, None, "IDLE done");
                }
                self.commands_done += 1;
            }
            FramingEvent::GreetingSent { .. } | FramingEvent::ResponseSent { .. } => {}
        }
    }

    fn on_framing_error(&mut self, error: FramingError) {
        self.commands_done += 1;
        match error {
            // imap-next has answered BAD already, before the literal was sent.
            FramingError::LiteralTooLong { .. } => self.count_bad(),
            FramingError::CommandTooLong { .. } => {
                self.bye("Command too long; closing (the limit is --imap's literal size)")
            }
            FramingError::MalformedMessage { discarded_bytes }
            | FramingError::ExpectedCrlfGotLf { discarded_bytes } => {
                let line = discarded_bytes.declassify();
                let tag = line.split(|&b| b == b' ').next().and_then(|tag| Tag::try_from(tag.to_vec()).ok());
                self.enqueue(Status::bad(
                    tag,
                    Some(Code::Parse),
                    text("Could not parse that command; check its syntax (RFC 3501)"),
                ));
                self.count_bad();
            }
        }
    }

    fn count_bad(&mut self) {
        self.bad_commands += 1;
        if self.bad_commands >= self.setup.config.limits.max_bad_commands {
            self.bye("Too many bad commands; closing");
        }
    }

    fn bye(&mut self, why: &str) {
        self.enqueue(Status::bye(None, text(why)));
        self.closing = true;
    }

    async fn handle(&mut self, command: Command<'static>) {
        let Command { tag, body } = command;
        self.note_events();
        match body {
            CommandBody::Capability => {
                self.server.enqueue_data(Data::Capability(self.capabilities()));
                self.ok(tag, None, "CAPABILITY done");
            }
            CommandBody::Noop | CommandBody::Check => {
                self.sync(true);
                self.ok(tag, None, "done");
            }
            CommandBody::Logout => {
                self.enqueue(Status::bye(None, text("Logging out")));
                self.ok(tag, None, "LOGOUT done");
                self.closing = true;
            }
            CommandBody::Id { .. } => {
                let parameters = vec![
                    (istring("name"), NString::try_from("Pigeonhole").expect("ascii")),
                    (istring("version"), NString::try_from(env!("CARGO_PKG_VERSION")).expect("ascii")),
                ];
                self.server.enqueue_data(Data::Id { parameters: Some(parameters) });
                self.ok(tag, None, "ID done");
            }
            CommandBody::StartTLS => self.starttls(tag),
            CommandBody::Login { username, password } => {
                let user = String::from_utf8_lossy(username.as_ref()).into_owned();
                let password = String::from_utf8_lossy(password.declassify().as_ref()).into_owned();
                self.login(tag, user, password).await;
            }
            body if self.user.is_none() => {
                self.bad(tag, &format!("{} needs a login first: LOGIN user password", body.name()));
            }
            CommandBody::Enable { .. } => {
                self.server.enqueue_data(Data::Enabled { capabilities: Vec::new() });
                self.ok(tag, None, "ENABLE done (nothing to enable)");
            }
            CommandBody::Namespace => {
                let personal = vec![Namespace {
                    prefix: istring(""),
                    delimiter: Some(super::delimiter()),
                    extensions: Vec::new(),
                }];
                self.server.enqueue_data(Data::Namespace { personal, other: Vec::new(), shared: Vec::new() });
                self.ok(tag, None, "NAMESPACE done");
            }
            body => self.mailbox_command(tag, body).await,
        }
    }

    fn starttls(&mut self, tag: Tag<'static>) {
        if self.tls {
            return self.bad(tag, "This connection is encrypted already");
        }
        if self.setup.tls.is_none() || self.user.is_some() {
            return self.no(tag, None, "STARTTLS is not offered here (only before logging in)");
        }
        self.ok(tag, None, "Begin TLS negotiation now");
        // The answer goes out now, and the framing starts over, so that nothing
        // the client sent in clear text after STARTTLS is read as a command.
        if let Err(Interrupt::Io(Io::Output(bytes))) = self.server.next() {
            self.pending = Some(bytes);
        }
        let mut fresh = Server::new(options(&self.setup), Greeting::ok(None, "-").expect("valid"));
        // Its greeting is not sent: the client had one.
        let _ = fresh.next();
        self.server = fresh;
        self.start_tls = true;
    }

    async fn login(&mut self, tag: Tag<'static>, user: String, password: String) {
        if self.user.is_some() {
            return self.bad(tag, "Logged in already");
        }
        match self.check_login(user, password).await {
            Ok(()) => self.ok(tag, Some(Code::Capability(self.capabilities())), "Logged in"),
            Err((code, why)) => self.no(tag, Some(code), &why),
        }
    }

    /// Log `user` in if the rules and the users file allow; else the code and
    /// text of the refusal.
    async fn check_login(&mut self, user: String, password: String) -> Result<(), (Code<'static>, String)> {
        let code = |name: &'static [u8]| Code::Other(CodeOther::unvalidated(name));
        if !plaintext_allowed(self.peer.ip(), self.tls) {
            return Err((
                code(b"PRIVACYREQUIRED"),
                "Passwords are not sent in clear text off this machine: STARTTLS first, or connect with TLS".into(),
            ));
        }
        if let Err(wait) = self.setup.throttle.check(self.peer.ip()) {
            return Err((
                code(b"UNAVAILABLE"),
                format!("Too many failed logins from your address; try again in {} s", wait.as_secs().max(1)),
            ));
        }
        let accepted = match &self.setup.users {
            Some(users) => users.verify_off_thread(user.clone(), password).await,
            None => Some(Access::All),
        };
        if let Some(access) = accepted {
            self.setup.throttle.succeeded(self.peer.ip());
            self.user = Some(user);
            self.access = access;
            Ok(())
        } else {
            self.setup.throttle.failed(self.peer.ip());
            Err((
                code(b"AUTHENTICATIONFAILED"),
                "Wrong user name or password (the users are in --imap-auth-file)".into(),
            ))
        }
    }

    async fn authenticate(&mut self, command: CommandAuthenticate) {
        let CommandAuthenticate { tag, mechanism, initial_response } = command;
        if self.user.is_some() || mechanism != AuthMechanism::Plain {
            self.authenticate_finish(Status::no(
                Some(tag),
                None,
                text("Only AUTHENTICATE PLAIN is offered, before logging in"),
            ));
            return;
        }
        self.authenticating = Some(tag);
        match initial_response {
            Some(response) => self.authenticate_data(AuthenticateData::Continue(response)).await,
            None => {
                let _ = self.server.authenticate_continue(CommandContinuationRequest::Base64(Vec::new().into()));
            }
        }
    }

    async fn authenticate_data(&mut self, data: AuthenticateData<'static>) {
        let Some(tag) = self.authenticating.take() else { return };
        let AuthenticateData::Continue(response) = data else {
            return self.authenticate_finish(Status::bad(Some(tag), None, text("AUTHENTICATE cancelled")));
        };
        // PLAIN: authorization identity, user, password, separated by NUL.
        let fields: Vec<String> =
            response.declassify().split(|&b| b == 0).map(|f| String::from_utf8_lossy(f).into_owned()).collect();
        let [_, user, password] = fields.as_slice() else {
            return self.authenticate_finish(Status::bad(
                Some(tag),
                None,
                text("AUTHENTICATE PLAIN takes authzid NUL user NUL password"),
            ));
        };
        let status = match self.check_login(user.clone(), password.clone()).await {
            Ok(()) => Status::ok(Some(tag), Some(Code::Capability(self.capabilities())), text("Logged in")),
            Err((code, why)) => Status::no(Some(tag), Some(code), text(&why)),
        };
        self.authenticate_finish(status);
    }

    fn authenticate_finish(&mut self, status: Result<Status<'static>, impl std::fmt::Debug>) {
        match status {
            Ok(status) => {
                let _ = self.server.authenticate_finish(status);
            }
            Err(error) => tracing::error!(?error, "imap: a status did not validate"),
        }
    }

    fn idle(&mut self, tag: Tag<'static>) {
        if self.user.is_none() {
            let status = Status::bad(Some(tag), None, text("IDLE needs a login first"));
            let _ = self.server.idle_reject(status.expect("valid"));
            return;
        }
        let _ = self.server.idle_accept(CommandContinuationRequest::basic(None, text("idling")).expect("valid"));
        self.idling = Some(tag);
        self.note_events();
        self.sync(true);
    }

    /// Take note of the events broadcast since the last look.
    fn note_events(&mut self) {
        loop {
            match self.events.try_recv() {
                Ok(event) => self.dirty |= concerns_mailboxes(&event),
                Err(TryRecvError::Lagged(_)) => self.dirty = true,
                Err(TryRecvError::Empty | TryRecvError::Closed) => break,
            }
        }
    }

    /// Tell the client what changed in the selected mailbox, expunges only
    /// where `expunge_allowed` (not during FETCH, STORE or SEARCH by sequence
    /// number, whose numbers must stay put).
    fn sync(&mut self, expunge_allowed: bool) {
        let Some(selected) = &mut self.selected else { return };
        let responses = if self.dirty {
            match self.setup.store.mailbox(&selected.inbox) {
                Ok(snapshot) => {
                    self.dirty = false;
                    selected.sync(snapshot, expunge_allowed)
                }
                Err(error) => {
                    tracing::warn!(%error, "imap: reading the mailbox failed");
                    Vec::new()
                }
            }
        } else {
            selected.expunge_gone(expunge_allowed)
        };
        for data in responses {
            self.server.enqueue_data(data);
        }
    }

    fn capabilities(&self) -> Vec1<Capability<'static>> {
        capabilities(&self.setup, self.peer, self.tls, self.user.is_some())
    }

    fn enqueue(&mut self, status: Result<Status<'static>, impl std::fmt::Debug>) {
        match status {
            Ok(status) => {
                self.server.enqueue_status(status);
            }
            Err(error) => tracing::error!(?error, "imap: a status did not validate"),
        }
    }

    fn ok(&mut self, tag: Tag<'static>, code: Option<Code<'static>>, message: &str) {
        self.enqueue(Status::ok(Some(tag), code, text(message)));
    }

    fn no(&mut self, tag: Tag<'static>, code: Option<Code<'static>>, message: &str) {
        self.enqueue(Status::no(Some(tag), code, text(message)));
    }

    fn bad(&mut self, tag: Tag<'static>, message: &str) {
        self.enqueue(Status::bad(Some(tag), None, text(message)));
        self.count_bad();
    }
}

/// What the server offers a client from `peer` (on TLS or not, logged in or not).
fn capabilities(setup: &ImapSetup, peer: SocketAddr, tls: bool, logged_in: bool) -> Vec1<Capability<'static>> {
    let mut capabilities = vec![Capability::Imap4Rev1];
    if !logged_in {
        if !tls && setup.tls.is_some() {
            capabilities.push(Capability::StartTls);
        }
        if plaintext_allowed(peer.ip(), tls) {
            capabilities.extend([Capability::Auth(AuthMechanism::Plain), Capability::SaslIr]);
        } else {
            capabilities.push(Capability::LoginDisabled);
        }
    }
    capabilities.extend([
        Capability::Idle,
        Capability::Namespace,
        Capability::Id,
        Capability::Enable,
        Capability::UidPlus,
        Capability::Move,
        Capability::LiteralPlus,
        Capability::Unselect,
    ]);
    Vec1::try_from(capabilities).expect("never empty")
}

/// imap-next's framing limits: literals up to `max_literal_size`, a command up
/// to that plus a line.
fn options(setup: &ImapSetup) -> Options {
    let mut options = Options::default();
    let limits = &setup.config.limits;
    options.max_literal_size = limits.max_literal_size;
    options.max_command_size = limits.max_literal_size.saturating_add(limits.max_line_length);
    options.crlf_relaxed = true;
    options
}

/// Whether an event may change what a selected mailbox shows.
fn concerns_mailboxes(event: &Event) -> bool {
    matches!(
        event,
        Event::New(_) | Event::Update(_) | Event::Tagged(_) | Event::Delete(_) | Event::Truncate(()) | Event::Prune(())
    )
}

/// Response text: ours, always valid (no CR or LF, not empty).
fn text(message: &str) -> Text<'static> {
    Text::try_from(message.to_owned()).unwrap_or_else(|_| Text::try_from("-".to_owned()).expect("valid"))
}

fn istring(value: &str) -> IString<'static> {
    IString::try_from(value.to_owned()).expect("our strings are valid")
}

#[cfg(test)]
mod tests;
