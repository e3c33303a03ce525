//! The session driven byte by byte over a real store in a temporary folder:
//! every command's answer, the error paths, the limits (a 4 GB literal is
//! refused before any of it is read), login rules, IDLE, and STARTTLS's
//! clean break.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tempfile::TempDir;

use super::{Session, Step};
use crate::config::{ImapConfig, ImapLimits, StoreConfig};
use crate::imap::ImapSetup;
use crate::login::{LoginThrottle, Users};
use crate::model::{Envelope, NewMessage, event};
use crate::store::{Selection, Store};

struct Client {
    session: Session,
    store: Store,
    /// Whether the last exchange ended in a STARTTLS or a close.
    ended: Option<Step>,
    _dir: TempDir,
}

struct Options {
    peer: &'static str,
    users: Option<&'static str>,
    config: ImapConfig,
    tls: bool,
}

impl Default for Options {
    fn default() -> Self {
        let config = ImapConfig::new("127.0.0.1:1143".parse().unwrap());
        Options { peer: "127.0.0.1:50000", users: None, config, tls: false }
    }
}

impl Client {
    async fn new() -> Client {
        Client::with(Options::default()).await
    }

    async fn with(options: Options) -> Client {
        let dir = TempDir::new().unwrap();
        let events = event::channel();
        let store = Store::open(dir.path(), StoreConfig::default(), events.clone()).unwrap();
        let users = options.users.map(|line| {
            let file = dir.path().join("users");
            std::fs::write(&file, line).unwrap();
            Arc::new(Users::load(&file).unwrap())
        });
        let tls = options
            .tls
            .then(|| crate::tls::acceptor(&dir.path().join("tls"), "imap.test").expect("a self-signed certificate"));
        let setup = Arc::new(ImapSetup {
            throttle: LoginThrottle::new(
                options.config.server.login_failures,
                options.config.server.login_failure_window,
            ),
            config: options.config,
            store: store.clone(),
            events,
            users,
            tls,
        });
        let peer: SocketAddr = options.peer.parse().unwrap();
        let mut client = Client { session: Session::new(setup, peer, false), store, ended: None, _dir: dir };
        let greeting = client.exchange(b"").await;
        assert!(greeting.starts_with("* OK [CAPABILITY IMAP4REV1"), "{greeting}");
        client
    }

    /// Send `bytes`; everything the session answers until it waits for input.
    async fn exchange(&mut self, bytes: &[u8]) -> String {
        self.session.feed(bytes);
        let mut out = Vec::new();
        loop {
            match self.session.step().await {
                Step::Write(bytes) => out.extend(bytes),
                Step::Read => break,
                ended => {
                    self.ended = Some(ended);
                    break;
                }
            }
        }
        String::from_utf8(out).unwrap()
    }

    async fn login(&mut self) {
        let answer = self.exchange(b"l LOGIN user pass\r\n").await;
        assert!(answer.starts_with("l OK"), "{answer}");
    }

    async fn deliver(&self, subject: &str) -> crate::model::MessageId {
        let raw =
            format!("From: a@example.test\r\nTo: b@example.test\r\nSubject: {subject}\r\n\r\nbody of {subject}\r\n");
        let message = NewMessage {
            raw: raw.into_bytes(),
            envelope: Envelope::default(),
            received_at: time::OffsetDateTime::now_utc(),
        };
        self.store.submit(message).await.unwrap()
    }
}

#[tokio::test]
async fn commands_before_login_are_refused_and_any_state_commands_work() {
    let mut c = Client::new().await;
    assert!(c.exchange(b"a SELECT INBOX\r\n").await.starts_with("a BAD SELECT needs a login first"));
    assert!(c.exchange(b"b NOOP\r\n").await.starts_with("b OK"));
    let caps = c.exchange(b"c CAPABILITY\r\n").await;
    assert!(caps.contains("STARTTLS") || !caps.contains("LOGINDISABLED"), "{caps}");
    assert!(caps.contains("IDLE") && caps.contains("UIDPLUS") && caps.contains("MOVE"), "{caps}");
    let id = c.exchange(b"d ID NIL\r\n").await;
    assert!(id.starts_with("* ID (\"name\" \"Pigeonhole\""), "{id}");
    let bye = c.exchange(b"e LOGOUT\r\n").await;
    assert!(bye.starts_with("* BYE") && bye.contains("e OK"), "{bye}");
    assert_eq!(c.ended, Some(Step::Close));
}

#[tokio::test]
async fn select_fetch_store_search_expunge() {
    let mut c = Client::new().await;
    let first = c.deliver("one").await;
    c.deliver("two").await;
    c.login().await;
    let selected = c.exchange(b"s SELECT INBOX\r\n").await;
    for expected in ["* 2 EXISTS", "* 0 RECENT", "[UNSEEN 1]", "[UIDVALIDITY ", "[UIDNEXT ", "s OK [READ-WRITE]"] {
        assert!(selected.contains(expected), "{expected} missing: {selected}");
    }
    let fetched = c.exchange(b"f FETCH 1 (FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)] RFC822.SIZE)\r\n").await;
    assert!(fetched.contains("FLAGS ()") && fetched.contains("Subject: one\r\n\r\n"), "{fetched}");
    assert!(fetched.contains("RFC822.SIZE 71"), "{fetched}");
    let read = c.exchange(b"g FETCH 1 (BODY[TEXT])\r\n").await;
    assert!(read.contains("body of one") && read.contains("FLAGS (\\Seen)"), "{read}");
    assert!(c.store.summary(&first).unwrap().unwrap().read);

    let stored = c.exchange(b"h STORE 2 +FLAGS (\\Flagged)\r\n").await;
    assert!(stored.starts_with("* 2 FETCH (FLAGS (\\Flagged))"), "{stored}");
    assert_eq!(c.exchange(b"i SEARCH FLAGGED\r\n").await, "* SEARCH 2\r\ni OK SEARCH done\r\n");
    assert_eq!(c.exchange(b"j SEARCH SUBJECT two\r\n").await, "* SEARCH 2\r\nj OK SEARCH done\r\n");
    let silent = c.exchange(b"k STORE 1 +FLAGS.SILENT (\\Deleted)\r\n").await;
    assert_eq!(silent, "k OK STORE done\r\n");
    assert_eq!(c.exchange(b"l EXPUNGE\r\n").await, "* 1 EXPUNGE\r\nl OK EXPUNGE done\r\n");
    assert!(c.store.summary(&first).unwrap().is_none(), "EXPUNGE deleted it in the store");
    assert!(c.exchange(b"m FETCH 5 (FLAGS)\r\n").await.starts_with("m OK"), "a missing number is no error");
}

#[tokio::test]
async fn a_deletion_elsewhere_is_told_at_noop_not_during_fetch() {
    let mut c = Client::new().await;
    let first = c.deliver("one").await;
    c.deliver("two").await;
    c.login().await;
    c.exchange(b"s SELECT INBOX\r\n").await;
    c.store.delete(Selection::Ids(vec![first])).await.unwrap();
    c.deliver("three").await;
    let during = c.exchange(b"f FETCH 1:* (UID)\r\n").await;
    assert!(!during.contains("EXPUNGE") && during.contains("* 3 EXISTS"), "{during}");
    let noop = c.exchange(b"n NOOP\r\n").await;
    assert!(noop.starts_with("* 1 EXPUNGE\r\n"), "{noop}");
    let all = c.exchange(b"a SEARCH ALL\r\n").await;
    assert_eq!(all, "* SEARCH 1 2\r\na OK SEARCH done\r\n");
}

#[tokio::test]
async fn a_four_gigabyte_literal_is_refused_before_it_is_read() {
    let mut c = Client::new().await;
    c.login().await;
    let answer = c.exchange(b"a APPEND INBOX {4294967295}\r\n").await;
    assert!(answer.starts_with("a BAD"), "{answer}");
    assert!(!answer.contains("+ "), "no continuation: the client is not asked to send it");
    assert!(c.exchange(b"b NOOP\r\n").await.starts_with("b OK"), "the session goes on");
}

#[tokio::test]
async fn a_non_synchronizing_literal_past_the_limit_ends_the_session() {
    // It cannot be refused before it comes (LITERAL+): it is read without being
    // kept (the command-size limit bounds what is buffered), then the session ends.
    let mut options = Options::default();
    options.config.limits = ImapLimits { max_literal_size: 1000, max_line_length: 1000, ..ImapLimits::default() };
    let mut c = Client::with(options).await;
    c.login().await;
    let mut command = b"a APPEND INBOX {5000+}\r\n".to_vec();
    command.extend(vec![b'x'; 5000]);
    command.extend(b"\r\n");
    let answer = c.exchange(&command).await;
    assert!(answer.starts_with("* BYE"), "{answer}");
    assert_eq!(c.ended, Some(Step::Close));
}

#[tokio::test]
async fn malformed_commands_get_bad_and_too_many_close() {
    let mut c = Client::new().await;
    let answer = c.exchange(b"t1 FROBNICATE\r\n").await;
    assert!(answer.starts_with("t1 BAD [PARSE]"), "{answer}");
    for n in 0..18 {
        c.exchange(format!("x{n} ???\r\n").as_bytes()).await;
    }
    let last = c.exchange(b"y !!!\r\n").await;
    assert!(last.contains("* BYE Too many bad commands"), "{last}");
    assert_eq!(c.ended, Some(Step::Close));
}

#[tokio::test]
async fn no_clear_text_password_off_loopback() {
    let mut c = Client::with(Options { peer: "192.0.2.7:40000", tls: true, ..Options::default() }).await;
    let caps = c.exchange(b"a CAPABILITY\r\n").await;
    assert!(caps.contains("LOGINDISABLED") && caps.contains("STARTTLS") && !caps.contains("AUTH=PLAIN"), "{caps}");
    let answer = c.exchange(b"b LOGIN user pass\r\n").await;
    assert!(answer.starts_with("b NO [PRIVACYREQUIRED]") && answer.contains("STARTTLS"), "{answer}");
}

#[tokio::test]
async fn wrong_passwords_are_refused_then_throttled() {
    let mut options = Options { users: Some("reader:s3cret\n"), ..Options::default() };
    options.config.server.login_failures = 2;
    let mut c = Client::with(options).await;
    for tag in ["a", "b"] {
        let answer = c.exchange(format!("{tag} LOGIN reader wrong\r\n").as_bytes()).await;
        assert!(answer.starts_with(&format!("{tag} NO [AUTHENTICATIONFAILED]")), "{answer}");
    }
    let throttled = c.exchange(b"c LOGIN reader s3cret\r\n").await;
    assert!(throttled.starts_with("c NO [UNAVAILABLE]") && throttled.contains("try again"), "{throttled}");
}

#[tokio::test]
async fn authenticate_plain_with_an_initial_response() {
    let mut c = Client::with(Options { users: Some("reader:s3cret\n"), ..Options::default() }).await;
    let answer = c.exchange(b"a AUTHENTICATE PLAIN AHJlYWRlcgBzM2NyZXQ=\r\n").await;
    assert!(answer.starts_with("a OK"), "{answer}");
    assert!(c.session.authenticated());
}

#[tokio::test]
async fn idle_announces_new_mail_as_it_is_committed() {
    let mut c = Client::new().await;
    c.login().await;
    c.exchange(b"s SELECT INBOX\r\n").await;
    assert_eq!(c.exchange(b"i IDLE\r\n").await, "+ idling\r\n");
    assert!(c.session.idling());
    c.deliver("while idling").await;
    tokio::time::timeout(Duration::from_secs(5), c.session.changed()).await.expect("an event");
    c.session.idle_update();
    assert_eq!(c.exchange(b"").await, "* 1 EXISTS\r\n");
    assert_eq!(c.exchange(b"DONE\r\n").await, "i OK IDLE done\r\n");
}

#[tokio::test]
async fn starttls_drops_what_the_client_sent_after_it() {
    let mut c = Client::with(Options { tls: true, ..Options::default() }).await;
    let answer = c.exchange(b"a STARTTLS\r\nb LOGIN user pass\r\n").await;
    assert_eq!(answer, "a OK Begin TLS negotiation now\r\n");
    assert_eq!(c.ended, Some(Step::StartTls));
    c.session.tls_started();
    // The LOGIN sent in clear text was never read.
    assert!(!c.session.authenticated());
    assert!(c.exchange(b"c LOGIN user pass\r\n").await.starts_with("c OK"));
}

#[tokio::test]
async fn list_status_append_move() {
    let mut c = Client::new().await;
    c.deliver("one").await;
    c.login().await;
    let appended = c.exchange(b"a APPEND alice (\\Seen) {20+}\r\nSubject: hi\r\n\r\nbody\r\n").await;
    assert!(appended.starts_with("a OK [APPENDUID "), "{appended}");
    let list = c.exchange(b"l LIST \"\" *\r\n").await;
    assert_eq!(list, "* LIST () \"/\" INBOX\r\n* LIST () \"/\" alice\r\nl OK LIST done\r\n");
    let status = c.exchange(b"s STATUS alice (MESSAGES UNSEEN)\r\n").await;
    assert_eq!(status, "* STATUS alice (MESSAGES 1 UNSEEN 0)\r\ns OK STATUS done\r\n");
    c.exchange(b"x SELECT INBOX\r\n").await;
    let moved = c.exchange(b"m MOVE 1 alice\r\n").await;
    assert!(moved.starts_with("* OK [COPYUID ") && moved.contains("* 1 EXPUNGE\r\nm OK MOVE done"), "{moved}");
    let status = c.exchange(b"t STATUS alice (MESSAGES)\r\n").await;
    assert!(status.contains("MESSAGES 2"), "{status}");
    let lsub = c.exchange(b"l LSUB \"\" *\r\n").await;
    assert_eq!(lsub, "* LSUB () \"/\" INBOX\r\n* LSUB () \"/\" alice\r\nl OK LSUB done\r\n");
    // CREATE makes an empty inbox (Thunderbird's Trash), which MOVE can then fill.
    assert_eq!(c.exchange(b"c CREATE Trash\r\n").await, "c OK CREATE done\r\n");
    assert!(c.exchange(b"c CREATE Trash\r\n").await.starts_with("c NO [ALREADYEXISTS]"));
    assert!(c.exchange(b"c CREATE inbox\r\n").await.starts_with("c NO [ALREADYEXISTS]"));
    assert!(c.exchange(b"l LIST \"\" Trash\r\n").await.starts_with("* LIST () \"/\" Trash\r\n"));
    let status = c.exchange(b"s STATUS Trash (MESSAGES)\r\n").await;
    assert_eq!(status, "* STATUS Trash (MESSAGES 0)\r\ns OK STATUS done\r\n");
    c.exchange(b"x SELECT alice\r\n").await;
    assert!(c.exchange(b"m MOVE 1 Trash\r\n").await.contains("m OK MOVE done"));
    assert!(c.exchange(b"t STATUS Trash (MESSAGES)\r\n").await.contains("MESSAGES 1"));
    assert!(c.exchange(b"r RENAME Trash Bin\r\n").await.starts_with("r NO [CANNOT]"));
    assert!(c.exchange(b"d SELECT nowhere\r\n").await.starts_with("d NO [NONEXISTENT]"));
}
