//! The POP3 protocol as a pure state machine: one command line in, one [`Step`] out.
//!
//! RFC 1939's three states: AUTHORIZATION (USER/PASS, SASL PLAIN per RFC 5034,
//! STLS per RFC 2595, CAPA per RFC 2449), TRANSACTION over a [`Maildrop`] (a
//! snapshot of one inbox taken at login, numbered oldest first), and UPDATE on QUIT,
//! where the messages marked with DELE are handed back to be deleted. The session
//! never reads the store or a socket: a login, a message's bytes and the deletions
//! are [`Step`]s the listener carries out and reports back.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use crate::model::MessageId;

/// Longest command line RFC 2449 allows, CRLF included. A SASL response line may be
/// longer (RFC 5034): the listener's own line cap bounds those.
pub const MAX_COMMAND: usize = 255;

/// One inbox as the session sees it from login to QUIT.
#[derive(Debug, Default)]
pub struct Maildrop {
    messages: Vec<Entry>,
}

#[derive(Debug)]
struct Entry {
    id: MessageId,
    size: u64,
    deleted: bool,
}

impl Maildrop {
    /// Messages oldest first: message 1 is the oldest.
    pub fn new(messages: impl IntoIterator<Item = (MessageId, u64)>) -> Maildrop {
        Maildrop { messages: messages.into_iter().map(|(id, size)| Entry { id, size, deleted: false }).collect() }
    }

    /// Message `number` (1-based) unless it does not exist or is marked deleted.
    fn get(&self, number: &str) -> Result<&Entry, &'static str> {
        let index = number.parse::<usize>().ok().and_then(|n| n.checked_sub(1)).ok_or("no such message")?;
        match self.messages.get(index) {
            Some(entry) if entry.deleted => Err("message is deleted"),
            Some(entry) => Ok(entry),
            None => Err("no such message"),
        }
    }

    fn live(&self) -> impl Iterator<Item = (usize, &Entry)> {
        self.messages.iter().enumerate().filter(|(_, entry)| !entry.deleted).map(|(index, entry)| (index + 1, entry))
    }
}

/// What the listener does for the command just given.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// Send these bytes and read the next command.
    Reply(Vec<u8>),
    /// Check `user` and `password`, then call [`Session::logged_in`] or
    /// [`Session::login_failed`] and send what it returns.
    Login { user: String, password: String },
    /// Send this `+OK` line and then message `id` as [`message_lines`] gives it:
    /// whole, or with `body_lines` lines of its body (TOP).
    Message { id: MessageId, status: Vec<u8>, body_lines: Option<usize> },
    /// Send this reply, then start TLS and call [`Session::tls_started`].
    StartTls(Vec<u8>),
    /// QUIT in TRANSACTION: delete these messages, send [`Session::signed_off`]'s
    /// reply, close.
    Update { delete: Vec<MessageId> },
    /// Send this reply and close.
    Close(Vec<u8>),
}

enum State {
    Authorization { user: Option<String>, sasl: bool },
    Transaction(Maildrop),
}

/// One POP3 conversation.
pub struct Session {
    state: State,
    tls: bool,
    /// STLS can be offered (the listener has a certificate).
    tls_available: bool,
    /// A password may be sent on this connection (TLS, or a loopback client).
    plaintext_allowed: bool,
}

fn ok(text: &str) -> Vec<u8> {
    format!("+OK {text}\r\n").into_bytes()
}

fn err(text: &str) -> Vec<u8> {
    format!("-ERR {text}\r\n").into_bytes()
}

impl Session {
    /// `plaintext_allowed`: whether a password may be sent before TLS (see
    /// [`crate::login::plaintext_allowed`]).
    pub fn new(tls_available: bool, plaintext_allowed: bool) -> Session {
        Session {
            state: State::Authorization { user: None, sasl: false },
            tls: false,
            tls_available,
            plaintext_allowed,
        }
    }

    /// The greeting sent on connect.
    pub fn greeting() -> &'static [u8] {
        b"+OK Pigeonhole POP3 ready\r\n"
    }

    /// Said when the server stops or the session idles out.
    pub fn closing(reason: &str) -> Vec<u8> {
        err(&format!("[SYS/TEMP] {reason}"))
    }

    /// Whether a mail client is logged in.
    pub fn in_transaction(&self) -> bool {
        matches!(self.state, State::Transaction(_))
    }

    /// Handle one line (without its CRLF).
    pub fn command(&mut self, line: &[u8]) -> Step {
        if let State::Authorization { sasl: true, .. } = self.state {
            return self.sasl_response(line);
        }
        if line.len() + 2 > MAX_COMMAND && !starts_with_ignore_case(line, b"AUTH ") {
            return Step::Reply(err("command line too long (255 octets at most)"));
        }
        let Ok(line) = std::str::from_utf8(line) else {
            return Step::Reply(err("commands are ASCII"));
        };
        let (keyword, argument) = match line.split_once(' ') {
            Some((keyword, argument)) => (keyword, argument),
            None => (line, ""),
        };
        let keyword = keyword.to_ascii_uppercase();
        match keyword.as_str() {
            "CAPA" => return Step::Reply(self.capabilities()),
            "NOOP" if self.in_transaction() => return Step::Reply(ok("")),
            _ => {}
        }
        match &mut self.state {
            State::Authorization { .. } => self.authorization(&keyword, argument),
            State::Transaction(maildrop) => transaction(maildrop, &keyword, argument),
        }
    }

    fn capabilities(&self) -> Vec<u8> {
        let mut lines =
            vec!["+OK capability list follows", "TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING"];
        if !self.in_transaction() {
            lines.extend(["USER", "SASL PLAIN"]);
            if self.tls_available && !self.tls {
                lines.push("STLS");
            }
        }
        lines.extend(["IMPLEMENTATION Pigeonhole", "."]);
        lines.iter().flat_map(|line| [line.as_bytes(), b"\r\n"].concat()).collect()
    }

    fn authorization(&mut self, keyword: &str, argument: &str) -> Step {
        let State::Authorization { user, sasl } = &mut self.state else { unreachable!("called in AUTHORIZATION") };
        match keyword {
            "QUIT" => Step::Close(ok("Pigeonhole POP3 signing off")),
            "STLS" if !self.tls_available => Step::Reply(err("STLS is not available here")),
            "STLS" if self.tls => Step::Reply(err("TLS is already on")),
            "STLS" => Step::StartTls(ok("Begin TLS negotiation")),
            "USER" | "PASS" | "AUTH" if !self.plaintext_allowed && !self.tls => Step::Reply(err(
                "[SYS/PERM] send STLS first: passwords are not taken in clear text from another machine",
            )),
            "USER" if argument.is_empty() => Step::Reply(err("USER needs a name")),
            "USER" => {
                *user = Some(argument.to_string());
                Step::Reply(ok("send PASS"))
            }
            "PASS" => match user.take() {
                Some(user) => Step::Login { user, password: argument.to_string() },
                None => Step::Reply(err("send USER first")),
            },
            "AUTH" if argument.is_empty() => Step::Reply(b"+OK SASL mechanisms follow\r\nPLAIN\r\n.\r\n".to_vec()),
            "AUTH" => {
                let (mechanism, initial) = argument.split_once(' ').unwrap_or((argument, ""));
                if !mechanism.eq_ignore_ascii_case("PLAIN") {
                    return Step::Reply(err("unknown SASL mechanism; PLAIN is offered"));
                }
                match initial {
                    "" => {
                        *sasl = true;
                        Step::Reply(b"+ \r\n".to_vec())
                    }
                    initial => plain_login(initial.as_bytes()),
                }
            }
            _ => Step::Reply(err("log in first (USER and PASS, or AUTH PLAIN)")),
        }
    }

    /// The line after `AUTH PLAIN` and `+ `: the credentials, or `*` to cancel.
    fn sasl_response(&mut self, line: &[u8]) -> Step {
        self.state = State::Authorization { user: None, sasl: false };
        if line == b"*" {
            return Step::Reply(err("authentication cancelled"));
        }
        plain_login(line)
    }

    /// The login was good: the session enters TRANSACTION over `maildrop`.
    pub fn logged_in(&mut self, maildrop: Maildrop) -> Vec<u8> {
        let (count, size) = (maildrop.messages.len(), maildrop.messages.iter().map(|entry| entry.size).sum::<u64>());
        self.state = State::Transaction(maildrop);
        ok(&format!("maildrop has {count} messages ({size} octets)"))
    }

    /// The login was refused, for `reason` (said to the client).
    pub fn login_failed(&mut self, reason: &str) -> Vec<u8> {
        self.state = State::Authorization { user: None, sasl: false };
        err(reason)
    }

    /// TLS is on: the client starts over (RFC 2595), still in AUTHORIZATION.
    pub fn tls_started(&mut self) {
        self.tls = true;
        self.state = State::Authorization { user: None, sasl: false };
    }

    /// The reply to QUIT once the deletions were carried out (or failed).
    pub fn signed_off(deleted: Result<usize, String>) -> Vec<u8> {
        match deleted {
            Ok(count) => ok(&format!("Pigeonhole POP3 signing off (messages deleted: {count})")),
            Err(reason) => err(&format!("[SYS/TEMP] the messages marked deleted were kept: {reason}")),
        }
    }
}

fn transaction(maildrop: &mut Maildrop, keyword: &str, argument: &str) -> Step {
    let mut arguments = argument.split_ascii_whitespace();
    match keyword {
        "STAT" => {
            let (count, size) =
                maildrop.live().fold((0, 0), |(count, size), (_, entry)| (count + 1, size + entry.size));
            Step::Reply(ok(&format!("{count} {size}")))
        }
        "LIST" | "UIDL" => {
            let field = |entry: &Entry| if keyword == "LIST" { entry.size.to_string() } else { entry.id.to_string() };
            match arguments.next() {
                Some(number) => Step::Reply(match maildrop.get(number) {
                    Ok(entry) => ok(&format!("{number} {}", field(entry))),
                    Err(reason) => err(reason),
                }),
                None => {
                    let mut reply = ok("listing follows");
                    for (number, entry) in maildrop.live() {
                        reply.extend_from_slice(format!("{number} {}\r\n", field(entry)).as_bytes());
                    }
                    reply.extend_from_slice(b".\r\n");
                    Step::Reply(reply)
                }
            }
        }
        "RETR" => match maildrop.get(argument.trim()) {
            Ok(entry) => {
                Step::Message { id: entry.id.clone(), status: ok(&format!("{} octets", entry.size)), body_lines: None }
            }
            Err(reason) => Step::Reply(err(reason)),
        },
        "TOP" => {
            let (Some(number), Some(lines)) = (arguments.next(), arguments.next()) else {
                return Step::Reply(err("TOP needs a message number and a line count"));
            };
            let Ok(lines) = lines.parse::<usize>() else {
                return Step::Reply(err("TOP's line count is a number"));
            };
            match maildrop.get(number) {
                Ok(entry) => Step::Message {
                    id: entry.id.clone(),
                    status: ok("top of message follows"),
                    body_lines: Some(lines),
                },
                Err(reason) => Step::Reply(err(reason)),
            }
        }
        "DELE" => match maildrop.get(argument.trim()) {
            Ok(_) => {
                let index = argument.trim().parse::<usize>().expect("checked by get") - 1;
                maildrop.messages[index].deleted = true;
                Step::Reply(ok(&format!("message {} deleted", index + 1)))
            }
            Err(reason) => Step::Reply(err(reason)),
        },
        "RSET" => {
            maildrop.messages.iter_mut().for_each(|entry| entry.deleted = false);
            Step::Reply(ok(&format!("maildrop has {} messages", maildrop.messages.len())))
        }
        "QUIT" => Step::Update {
            delete: maildrop.messages.iter().filter(|entry| entry.deleted).map(|entry| entry.id.clone()).collect(),
        },
        "USER" | "PASS" | "AUTH" | "STLS" => Step::Reply(err("already logged in")),
        _ => Step::Reply(err("unknown command")),
    }
}

/// A SASL PLAIN message (`authzid NUL authcid NUL password`, base64) as a login.
fn plain_login(encoded: &[u8]) -> Step {
    let decoded = BASE64.decode(encoded.trim_ascii()).ok().and_then(|bytes| String::from_utf8(bytes).ok());
    let mut fields = decoded.as_deref().map(|text| text.split('\0'));
    match fields.as_mut().map(|fields| (fields.next(), fields.next(), fields.next(), fields.next())) {
        Some((Some(_authzid), Some(user), Some(password), None)) if !user.is_empty() => {
            Step::Login { user: user.to_string(), password: password.to_string() }
        }
        _ => Step::Reply(err("[AUTH] malformed PLAIN credentials (base64 of authzid NUL user NUL password)")),
    }
}

fn starts_with_ignore_case(line: &[u8], prefix: &[u8]) -> bool {
    line.get(..prefix.len()).is_some_and(|start| start.eq_ignore_ascii_case(prefix))
}

/// A message as a POP3 multi-line response body: CRLF line ends (a bare LF gets
/// its CR), each line starting with `.` dot-stuffed, and the closing `.` line. With
/// `body_lines`, the headers, the blank line and that many body lines (TOP).
pub fn message_lines(raw: &[u8], body_lines: Option<usize>) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() + raw.len() / 32 + 8);
    let mut in_body = false;
    let mut body_left = body_lines.unwrap_or(usize::MAX);
    for line in raw.split_inclusive(|&byte| byte == b'\n') {
        let text = line.strip_suffix(b"\n").unwrap_or(line);
        let text = text.strip_suffix(b"\r").unwrap_or(text);
        if in_body {
            if body_left == 0 {
                break;
            }
            body_left -= 1;
        }
        if text.first() == Some(&b'.') {
            out.push(b'.');
        }
        out.extend_from_slice(text);
        out.extend_from_slice(b"\r\n");
        if text.is_empty() {
            in_body = true;
        }
    }
    out.extend_from_slice(b".\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> MessageId {
        MessageId::parse(&format!("{:A>22}", n)).expect("a valid ID")
    }

    fn reply(step: Step) -> String {
        match step {
            Step::Reply(bytes) | Step::Close(bytes) | Step::StartTls(bytes) => String::from_utf8(bytes).unwrap(),
            other => panic!("not a reply: {other:?}"),
        }
    }

    fn logged_in() -> Session {
        let mut session = Session::new(true, true);
        assert_eq!(reply(session.command(b"USER alice")), "+OK send PASS\r\n");
        assert_eq!(session.command(b"PASS pw"), Step::Login { user: "alice".into(), password: "pw".into() });
        let greeting = session.logged_in(Maildrop::new([(id(1), 100), (id(2), 250)]));
        assert_eq!(String::from_utf8(greeting).unwrap(), "+OK maildrop has 2 messages (350 octets)\r\n");
        session
    }

    #[test]
    fn transaction_commands_answer_from_the_maildrop() {
        let mut session = logged_in();
        assert_eq!(reply(session.command(b"STAT")), "+OK 2 350\r\n");
        assert_eq!(reply(session.command(b"LIST")), "+OK listing follows\r\n1 100\r\n2 250\r\n.\r\n");
        assert_eq!(reply(session.command(b"list 2")), "+OK 2 250\r\n");
        assert_eq!(reply(session.command(b"UIDL 1")), format!("+OK 1 {}\r\n", id(1)));
        assert_eq!(reply(session.command(b"LIST 3")), "-ERR no such message\r\n");
        assert_eq!(reply(session.command(b"RETR 0")), "-ERR no such message\r\n");
        match session.command(b"RETR 2") {
            Step::Message { id: got, body_lines: None, .. } => assert_eq!(got, id(2)),
            other => panic!("{other:?}"),
        }
        match session.command(b"TOP 1 3") {
            Step::Message { id: got, body_lines: Some(3), .. } => assert_eq!(got, id(1)),
            other => panic!("{other:?}"),
        }
        assert_eq!(reply(session.command(b"TOP 1")), "-ERR TOP needs a message number and a line count\r\n");
        assert_eq!(reply(session.command(b"NOOP")), "+OK \r\n");
        assert_eq!(reply(session.command(b"USER bob")), "-ERR already logged in\r\n");
        assert_eq!(reply(session.command(b"XYZZY")), "-ERR unknown command\r\n");
    }

    #[test]
    fn dele_hides_a_message_until_rset_and_quit_hands_back_the_deleted() {
        let mut session = logged_in();
        assert_eq!(reply(session.command(b"DELE 1")), "+OK message 1 deleted\r\n");
        assert_eq!(reply(session.command(b"DELE 1")), "-ERR message is deleted\r\n");
        assert_eq!(reply(session.command(b"RETR 1")), "-ERR message is deleted\r\n");
        assert_eq!(reply(session.command(b"STAT")), "+OK 1 250\r\n");
        assert_eq!(reply(session.command(b"LIST")), "+OK listing follows\r\n2 250\r\n.\r\n");
        assert_eq!(reply(session.command(b"RSET")), "+OK maildrop has 2 messages\r\n");
        assert_eq!(reply(session.command(b"STAT")), "+OK 2 350\r\n");
        session.command(b"DELE 2");
        assert_eq!(session.command(b"QUIT"), Step::Update { delete: vec![id(2)] });
    }

    #[test]
    fn authorization_refuses_transaction_commands_and_checks_order() {
        let mut session = Session::new(false, true);
        assert_eq!(reply(session.command(b"STAT")), "-ERR log in first (USER and PASS, or AUTH PLAIN)\r\n");
        assert_eq!(reply(session.command(b"PASS pw")), "-ERR send USER first\r\n");
        assert_eq!(reply(session.command(b"STLS")), "-ERR STLS is not available here\r\n");
        assert_eq!(reply(session.command(b"QUIT")), "+OK Pigeonhole POP3 signing off\r\n");
        let failed = session.login_failed("[AUTH] wrong user or password");
        assert_eq!(failed, b"-ERR [AUTH] wrong user or password\r\n");
        assert!(!session.in_transaction());
    }

    #[test]
    fn capa_offers_stls_only_before_tls_and_login_only_before_login() {
        let mut session = Session::new(true, true);
        let before = reply(session.command(b"CAPA"));
        assert!(before.contains("\r\nSTLS\r\n") && before.contains("\r\nUSER\r\n"), "{before}");
        assert!(before.contains("\r\nSASL PLAIN\r\n") && before.ends_with("\r\n.\r\n"), "{before}");
        assert_eq!(reply(session.command(b"STLS")), "+OK Begin TLS negotiation\r\n");
        session.tls_started();
        assert!(!reply(session.command(b"CAPA")).contains("STLS"));
        assert_eq!(reply(session.command(b"STLS")), "-ERR TLS is already on\r\n");
        let mut logged_in = logged_in();
        let after = reply(logged_in.command(b"CAPA"));
        assert!(!after.contains("USER") && after.contains("UIDL"), "{after}");
    }

    #[test]
    fn passwords_wait_for_tls_off_loopback() {
        let mut session = Session::new(true, false);
        for command in [&b"USER alice"[..], b"PASS x", b"AUTH PLAIN AGFsaWNlAHB3"] {
            assert!(reply(session.command(command)).starts_with("-ERR [SYS/PERM] send STLS first"));
        }
        session.command(b"STLS");
        session.tls_started();
        assert_eq!(reply(session.command(b"USER alice")), "+OK send PASS\r\n");
    }

    #[test]
    fn sasl_plain_with_an_initial_response_or_a_continuation() {
        let mut session = Session::new(false, true);
        let login = Step::Login { user: "alice".into(), password: "pw".into() };
        let credentials = BASE64.encode("\0alice\0pw");
        assert_eq!(session.command(format!("AUTH PLAIN {credentials}").as_bytes()), login);
        assert_eq!(reply(session.command(b"AUTH PLAIN")), "+ \r\n");
        assert_eq!(session.command(credentials.as_bytes()), login);
        assert_eq!(reply(session.command(b"AUTH PLAIN")), "+ \r\n");
        assert_eq!(reply(session.command(b"*")), "-ERR authentication cancelled\r\n");
        assert!(reply(session.command(b"AUTH PLAIN !!!")).starts_with("-ERR [AUTH] malformed"));
        assert!(reply(session.command(b"AUTH CRAM-MD5")).starts_with("-ERR unknown SASL mechanism"));
        assert_eq!(reply(session.command(b"AUTH")), "+OK SASL mechanisms follow\r\nPLAIN\r\n.\r\n");
    }

    #[test]
    fn long_lines_and_non_ascii_are_refused() {
        let mut session = Session::new(false, true);
        let long = format!("USER {}", "a".repeat(300));
        assert!(reply(session.command(long.as_bytes())).contains("too long"));
        assert_eq!(reply(session.command(b"USER \xff")), "-ERR commands are ASCII\r\n");
    }

    #[test]
    fn message_lines_dot_stuff_normalise_line_ends_and_cut_at_top() {
        let raw = b"Subject: x\r\nFrom: a@b\n\r\n.hidden\r\nline 2\r\n..two\r\nline 4";
        assert_eq!(
            message_lines(raw, None),
            b"Subject: x\r\nFrom: a@b\r\n\r\n..hidden\r\nline 2\r\n...two\r\nline 4\r\n.\r\n"
        );
        assert_eq!(message_lines(raw, Some(2)), b"Subject: x\r\nFrom: a@b\r\n\r\n..hidden\r\nline 2\r\n.\r\n");
        assert_eq!(message_lines(raw, Some(0)), b"Subject: x\r\nFrom: a@b\r\n\r\n.\r\n");
    }
}
