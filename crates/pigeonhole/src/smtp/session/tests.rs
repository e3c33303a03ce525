//! The session driven byte by byte, with a stand-in for the listener that stores
//! every message (or refuses it, when a test says so).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use proptest::prelude::*;

use super::*;
use crate::store::{Budget, Reservation};

/// The listener's largest read.
const READ: usize = 16 * 1024;

fn limits() -> SmtpLimits {
    SmtpLimits {
        hostname: "test.local".into(),
        max_message_size: 1000,
        max_recipients: 3,
        max_line_length: 100,
        max_bad_commands: 5,
        ..SmtpLimits::default()
    }
}

fn session() -> Session {
    Session::new(&limits(), "127.0.0.1:5555".into(), true, "nonce".into())
}

/// What a client saw and what got delivered.
#[derive(Debug, Default, PartialEq)]
struct Outcome {
    output: String,
    delivered: Vec<Delivery>,
    closed: bool,
    tls_started: bool,
}

/// Feed `chunks` one after the other, acting as the listener would: every message
/// is stored as `ID<n>`, TLS handshakes succeed.
fn drive(session: &mut Session, chunks: &[&[u8]]) -> Outcome {
    let mut outcome = Outcome::default();
    for chunk in chunks {
        if outcome.closed {
            break;
        }
        session.receive(chunk);
        run_actions(session, &mut outcome);
    }
    outcome.output.push_str(&String::from_utf8(session.take_output()).unwrap());
    outcome
}

fn run_actions(session: &mut Session, outcome: &mut Outcome) {
    loop {
        match session.advance() {
            Some(Action::Deliver(delivery)) => {
                outcome.delivered.push(*delivery);
                let id = format!("ID{}", outcome.delivered.len());
                if let Some(Action::Close) = session.delivered(Ok(id)) {
                    outcome.closed = true;
                    return;
                }
            }
            Some(Action::StartTls) => {
                outcome.tls_started = true;
                session.tls_started();
            }
            Some(Action::Close) => {
                outcome.closed = true;
                return;
            }
            None => return,
        }
    }
}

fn replies(output: &str) -> Vec<&str> {
    output.lines().collect()
}

/// Reply codes, one per reply (multi-line replies count once).
fn codes(output: &str) -> Vec<&str> {
    output.lines().filter(|line| line.as_bytes().get(3) == Some(&b' ')).map(|line| &line[..3]).collect()
}

const TRANSACTION: &[u8] = b"EHLO client.test\r\nMAIL FROM:<a@example.test>\r\nRCPT TO:<b@example.test>\r\nDATA\r\n";

#[test]
fn greets_and_advertises_extensions() {
    let out = drive(&mut session(), &[b"EHLO client.test\r\n"]);
    assert!(out.output.starts_with("220 test.local ESMTP"), "{}", out.output);
    for extension in
        ["PIPELINING", "8BITMIME", "SMTPUTF8", "SIZE 1000", "ENHANCEDSTATUSCODES", "CHUNKING", "STARTTLS", "AUTH"]
    {
        assert!(out.output.contains(extension), "{extension} missing from {}", out.output);
    }
    let auth = out.output.lines().find(|line| line.contains("AUTH")).unwrap();
    for mechanism in ["PLAIN", "LOGIN", "CRAM-MD5"] {
        assert!(auth.contains(mechanism), "{auth}");
    }
}

#[test]
fn delivers_a_message_with_dot_stuffing_undone() {
    let body = b"Subject: hi\r\n\r\n..leading dot\r\nplain\r\n.\r\n";
    let out = drive(&mut session(), &[TRANSACTION, body, b"QUIT\r\n"]);
    assert_eq!(out.delivered.len(), 1);
    let delivery = &out.delivered[0];
    assert_eq!(delivery.raw, b"Subject: hi\r\n\r\n.leading dot\r\nplain\r\n");
    assert_eq!(delivery.envelope.mail_from, "a@example.test");
    assert_eq!(delivery.envelope.rcpt_to, vec!["b@example.test"]);
    assert_eq!(delivery.envelope.helo, "client.test");
    assert_eq!(delivery.envelope.peer, "127.0.0.1:5555");
    assert!(!delivery.envelope.tls);
    assert_eq!(codes(&out.output), ["220", "250", "250", "250", "354", "250", "221"]);
    assert!(out.output.contains("250 2.0.0 Ok: queued as ID1\r\n"));
    assert!(out.closed);
}

#[test]
fn empty_message_right_after_data() {
    let out = drive(&mut session(), &[TRANSACTION, b".\r\n"]);
    assert_eq!(out.delivered.len(), 1);
    assert_eq!(out.delivered[0].raw, b"");
}

#[test]
fn bare_lf_or_cr_dot_does_not_end_data() {
    // SMTP smuggling: only CRLF.CRLF ends a message.
    let body: &[u8] = b"a\r\n\n.\r\nMAIL FROM:<evil@x.test>\r\nb\r\n.\nc\r\n\r.\r\nd\r\n.\r\n";
    let out = drive(&mut session(), &[TRANSACTION, body]);
    assert_eq!(out.delivered.len(), 1);
    // "\r\n.\n" is a stuffed line: its dot goes, its LF stays.
    assert_eq!(out.delivered[0].raw, b"a\r\n\n.\r\nMAIL FROM:<evil@x.test>\r\nb\r\n\nc\r\n\r.\r\nd\r\n");
    assert_eq!(codes(&out.output).last(), Some(&"250"));
}

#[test]
fn pipelined_commands_in_one_write() {
    let mut input = TRANSACTION.to_vec();
    input.extend_from_slice(
        b"body\r\n.\r\nMAIL FROM:<c@example.test>\r\nRCPT TO:<d@example.test>\r\nDATA\r\nsecond\r\n.\r\nQUIT\r\n",
    );
    let out = drive(&mut session(), &[&input]);
    assert_eq!(out.delivered.len(), 2);
    assert_eq!(out.delivered[1].raw, b"second\r\n");
    assert_eq!(out.delivered[1].envelope.mail_from, "c@example.test");
    assert_eq!(codes(&out.output), ["220", "250", "250", "250", "354", "250", "250", "250", "354", "250", "221"]);
}

#[test]
fn long_line_gets_500_and_the_session_goes_on() {
    let long = format!("NOOP {}\r\n", "x".repeat(200));
    let out = drive(&mut session(), &[long.as_bytes(), b"NOOP\r\n"]);
    assert_eq!(codes(&out.output), ["220", "500", "250"]);
    // The same when the long line arrives in pieces with no LF for a while.
    let out = drive(&mut session(), &[&long.as_bytes()[..150], &long.as_bytes()[150..], b"NOOP\r\n"]);
    assert_eq!(codes(&out.output), ["220", "500", "250"]);
}

#[test]
fn oversize_data_is_drained_then_refused() {
    let big = format!("{}\r\n.\r\n", "y".repeat(3000));
    let out = drive(&mut session(), &[TRANSACTION, big.as_bytes(), b"NOOP\r\n"]);
    assert!(out.delivered.is_empty());
    assert_eq!(codes(&out.output), ["220", "250", "250", "250", "354", "552", "250"]);
}

#[test]
fn declared_size_over_limit_is_refused() {
    let out = drive(&mut session(), &[b"EHLO c\r\nMAIL FROM:<a@b.test> SIZE=5000\r\n"]);
    assert_eq!(codes(&out.output), ["220", "250", "552"]);
}

#[test]
fn too_many_recipients_get_452() {
    let out = drive(
        &mut session(),
        &[b"EHLO c\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<1@b.test>\r\nRCPT TO:<2@b.test>\r\nRCPT TO:<3@b.test>\r\nRCPT TO:<4@b.test>\r\n"],
    );
    assert_eq!(codes(&out.output), ["220", "250", "250", "250", "250", "250", "452"]);
}

#[test]
fn bdat_chunks_make_one_message() {
    let out = drive(
        &mut session(),
        &[b"EHLO c\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<x@b.test>\r\nBDAT 5\r\nhel", b"loBDAT 6 LAST\r\n world"],
    );
    assert_eq!(out.delivered.len(), 1);
    assert_eq!(out.delivered[0].raw, b"hello world");
    assert_eq!(codes(&out.output), ["220", "250", "250", "250", "250", "250"]);
}

#[test]
fn bdat_over_the_limit_is_refused_at_once_and_drained() {
    let mut session = session();
    let out =
        drive(&mut session, &[b"EHLO c\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<x@b.test>\r\nBDAT 4294967295 LAST\r\n"]);
    assert_eq!(codes(&out.output).last(), Some(&"552"));
    assert!(!out.closed);
    // The chunk's bytes are dropped as they come, never kept.
    let chunk = vec![b'x'; 64 * 1024];
    for _ in 0..100 {
        let out = drive(&mut session, &[&chunk]);
        assert!(out.output.is_empty() && out.delivered.is_empty());
        assert!(session.body.is_empty() && session.input.is_empty());
    }
    // Still inside the declared chunk: commands are chunk bytes too.
    let out = drive(&mut session, &[b"QUIT\r\n"]);
    assert!(out.output.is_empty() && !out.closed);
}

#[test]
fn bdat_over_the_limit_resyncs_after_the_chunk() {
    let big = vec![b'y'; 2000];
    let out = drive(
        &mut session(),
        &[
            b"EHLO c\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<x@b.test>\r\nBDAT 2000 LAST\r\n",
            &big,
            b"MAIL FROM:<a@b.test>\r\nRCPT TO:<x@b.test>\r\nBDAT 2 LAST\r\nok",
        ],
    );
    assert_eq!(codes(&out.output), ["220", "250", "250", "250", "552", "250", "250", "250"]);
    assert_eq!(out.delivered.len(), 1);
    assert_eq!(out.delivered[0].raw, b"ok");
}

#[test]
fn bdat_out_of_sequence_skips_its_chunk() {
    let out = drive(&mut session(), &[b"EHLO c\r\nBDAT 6\r\nNOOP\r\nNOOP\r\n"]);
    // "NOOP\r\n" is the chunk's 6 bytes, not a command.
    assert_eq!(codes(&out.output), ["220", "250", "503", "250"]);
}

#[test]
fn auth_plain_login_and_cram_md5_record_the_user() {
    let plain = BASE64.encode("\0alice\0secret");
    let out = drive(
        &mut session(),
        &[format!("EHLO c\r\nAUTH PLAIN {plain}\r\n").as_bytes(), TRANSACTION_AFTER_EHLO, b"x\r\n.\r\n"],
    );
    assert_eq!(out.delivered[0].envelope.auth_user.as_deref(), Some("alice"));
    assert!(!out.delivered[0].envelope.transcript.contains(&plain), "transcript leaks credentials");
    assert!(out.delivered[0].envelope.transcript.contains("C: AUTH PLAIN ****"));

    let out = drive(
        &mut session(),
        &[b"EHLO c\r\nAUTH PLAIN\r\n", format!("{plain}\r\n").as_bytes(), TRANSACTION_AFTER_EHLO, b"x\r\n.\r\n"],
    );
    assert_eq!(out.delivered[0].envelope.auth_user.as_deref(), Some("alice"));

    let (user, pass) = (BASE64.encode("bob"), BASE64.encode("pw"));
    let out = drive(
        &mut session(),
        &[
            b"EHLO c\r\nAUTH LOGIN\r\n",
            format!("{user}\r\n{pass}\r\n").as_bytes(),
            TRANSACTION_AFTER_EHLO,
            b"x\r\n.\r\n",
        ],
    );
    assert!(out.output.contains("334 VXNlcm5hbWU6\r\n334 UGFzc3dvcmQ6\r\n235 2.7.0"), "{}", out.output);
    assert_eq!(out.delivered[0].envelope.auth_user.as_deref(), Some("bob"));

    let response = BASE64.encode("carol 0123456789abcdef0123456789abcdef");
    let out = drive(
        &mut session(),
        &[b"EHLO c\r\nAUTH CRAM-MD5\r\n", format!("{response}\r\n").as_bytes(), TRANSACTION_AFTER_EHLO, b"x\r\n.\r\n"],
    );
    let challenge = out.output.lines().find(|line| line.starts_with("334 ")).unwrap();
    let challenge = String::from_utf8(BASE64.decode(&challenge[4..]).unwrap()).unwrap();
    assert_eq!(challenge, "<nonce@test.local>");
    assert_eq!(out.delivered[0].envelope.auth_user.as_deref(), Some("carol"));
}

const TRANSACTION_AFTER_EHLO: &[u8] = b"MAIL FROM:<a@example.test>\r\nRCPT TO:<b@example.test>\r\nDATA\r\n";

#[test]
fn auth_refusals() {
    let out = drive(&mut session(), &[b"AUTH PLAIN\r\nEHLO c\r\nAUTH GSSAPI\r\nAUTH PLAIN !!!\r\nAUTH LOGIN\r\n*\r\n"]);
    assert_eq!(codes(&out.output), ["220", "503", "250", "504", "501", "334", "501"]);
}

#[test]
fn control_characters_in_addresses_get_501() {
    let out = drive(
        &mut session(),
        &[b"EHLO c\r\nMAIL FROM:<\"a\rb\"@x.test>\r\nMAIL FROM:<\"a\x00b\"@x.test>\r\nMAIL FROM:<ok@x.test>\r\nRCPT TO:<\"x\x01\"@y.test>\r\n"],
    );
    assert_eq!(codes(&out.output), ["220", "250", "501", "501", "250", "501"]);
}

/// Every control character (C0, DEL), in a quoted or a bare local part, of MAIL
/// FROM or of RCPT TO, gets 501; a bare LF ends the line early, so its first half
/// gets 501 and its second 500. The transaction then goes on with clean addresses.
#[test]
fn every_control_character_in_an_address_gets_501() {
    for byte in (0u8..0x20).chain([0x7f]) {
        for form in ["\"a{c}b\"@x.test", "a{c}b@x.test"] {
            let address = form.replace("{c}", &char::from(byte).to_string());
            let bad_mail = format!("EHLO c\r\nMAIL FROM:<{address}>\r\n");
            let bad_rcpt = format!("MAIL FROM:<a@x.test>\r\nRCPT TO:<{address}>\r\n");
            let out = drive(
                &mut session(),
                &[bad_mail.as_bytes(), bad_rcpt.as_bytes(), b"RCPT TO:<b@x.test>\r\nDATA\r\nhi\r\n.\r\n"],
            );
            let expected: &[&str] = if byte == b'\n' {
                &["220", "250", "501", "500", "250", "501", "500", "250", "354", "250"]
            } else {
                &["220", "250", "501", "250", "501", "250", "354", "250"]
            };
            assert_eq!(codes(&out.output), expected, "{address:?}");
            assert_eq!(out.delivered.len(), 1, "{address:?}");
            assert_eq!(out.delivered[0].envelope.mail_from, "a@x.test");
            assert_eq!(out.delivered[0].envelope.rcpt_to, ["b@x.test"]);
        }
    }
}

#[test]
fn commands_out_of_sequence_get_503() {
    let out = drive(&mut session(), &[b"MAIL FROM:<a@b.test>\r\nEHLO c\r\nRCPT TO:<a@b.test>\r\nDATA\r\nMAIL FROM:<a@b.test>\r\nDATA\r\nMAIL FROM:<a@b.test>\r\n"]);
    // The fifth error is one too many (max_bad_commands is 5 here).
    assert_eq!(codes(&out.output), ["220", "503", "250", "503", "503", "250", "503", "421"]);
    assert!(out.closed);
}

#[test]
fn too_many_bad_commands_close_the_session() {
    let out = drive(&mut session(), &[b"BOGUS\r\nBOGUS\r\nBOGUS\r\nBOGUS\r\nBOGUS\r\nNOOP\r\n"]);
    assert_eq!(codes(&out.output), ["220", "500", "500", "500", "500", "421"]);
    assert!(out.closed);
}

#[test]
fn starttls_discards_pipelined_plaintext_and_restarts() {
    let out = drive(
        &mut session(),
        &[b"EHLO c\r\nSTARTTLS\r\nMAIL FROM:<injected@x.test>\r\n", b"MAIL FROM:<a@b.test>\r\nEHLO c\r\n"],
    );
    assert!(out.tls_started);
    // The injected MAIL never ran; after TLS the client must EHLO again.
    assert_eq!(codes(&out.output), ["220", "250", "220", "503", "250"]);
    assert!(!out.output.split("220 2.0.0").nth(1).unwrap().contains("STARTTLS"), "STARTTLS offered again over TLS");
}

#[test]
fn misc_commands() {
    let out = drive(&mut session(), &[b"HELO c\r\nVRFY bob\r\nHELP\r\nNOOP\r\nRSET\r\nEXPN list\r\nQUIT\r\nNOOP\r\n"]);
    assert_eq!(codes(&out.output), ["220", "250", "252", "214", "250", "250", "502", "221"]);
    assert!(out.closed);
}

#[test]
fn refusals_from_the_store_become_replies() {
    let mut session = session();
    session.receive(TRANSACTION);
    session.receive(b"x\r\n.\r\n");
    assert!(matches!(session.advance(), Some(Action::Deliver(_))));
    assert_eq!(session.delivered(Err(Refusal::Busy)), None);
    session.receive(TRANSACTION_AFTER_EHLO);
    session.receive(b"x\r\n.\r\n");
    assert!(matches!(session.advance(), Some(Action::Deliver(_))));
    assert_eq!(session.delivered(Err(Refusal::DiskFull)), None);
    session.receive(TRANSACTION_AFTER_EHLO);
    session.receive(b"x\r\n.\r\n");
    assert!(matches!(session.advance(), Some(Action::Deliver(_))));
    assert_eq!(session.delivered(Err(Refusal::ShuttingDown)), Some(Action::Close));
    let output = String::from_utf8(session.take_output()).unwrap();
    assert!(output.contains("451 4.3.0"), "{output}");
    assert!(output.contains("452 4.3.1"), "{output}");
    assert!(output.ends_with("421 4.3.2 Service shutting down, try again later\r\n"), "{output}");
}

#[test]
fn endings_say_why() {
    let mut session = session();
    assert_eq!(session.end(Ending::IdleTimeout), Action::Close);
    assert!(
        String::from_utf8(session.take_output())
            .unwrap()
            .ends_with("421 4.4.2 Timeout waiting for input, closing connection\r\n")
    );
}

/// An idle session evicted at the connection cap says what a connection refused
/// there says, and a session in a transaction says it is in one (never evicted).
#[test]
fn an_evicted_session_is_told_too_many_connections() {
    let mut evicted = session();
    assert!(!evicted.in_transaction());
    assert_eq!(evicted.end(Ending::Evicted), Action::Close);
    let output = evicted.take_output();
    assert!(output.ends_with(Session::too_many_connections()), "{}", String::from_utf8_lossy(&output));

    let mut session = session();
    session.receive(b"EHLO c\r\nMAIL FROM:<a@b.test>\r\n");
    assert!(session.advance().is_none());
    assert!(session.in_transaction());
    session.receive(b"RSET\r\n");
    assert!(session.advance().is_none());
    assert!(!session.in_transaction());
}

#[test]
fn transcript_holds_commands_and_replies_of_the_transaction() {
    let out =
        drive(&mut session(), &[TRANSACTION, b"secret body\r\n.\r\n", TRANSACTION_AFTER_EHLO, b"second\r\n.\r\n"]);
    let first = &out.delivered[0].envelope.transcript;
    assert!(first.starts_with("S: 220 test.local"), "{first}");
    assert!(first.contains("C: EHLO client.test\n"));
    assert!(first.contains("C: MAIL FROM:<a@example.test>\nS: 250 2.1.0"));
    assert!(first.ends_with("C: DATA\nS: 354 Start mail input; end with <CRLF>.<CRLF>\n"), "{first}");
    assert!(!first.contains("secret body"));
    // The second message's transcript keeps the preamble but not the first transaction.
    let second = &out.delivered[1].envelope.transcript;
    assert!(second.contains("C: EHLO client.test\n"));
    assert_eq!(second.matches("C: DATA").count(), 1, "{second}");
    assert!(!second.contains("queued as ID1"));
}

#[test]
fn replies_fit_in_512_bytes() {
    let out = drive(
        &mut session(),
        &[b"EHLO c\r\nMAIL FROM:<a@b.test> X-UNKNOWN-PARAMETER-WITH-A-VERY-LONG-NAME-THAT-GOES-ON-AND-ON-AND-ON=1\r\n"],
    );
    assert!(replies(&out.output).iter().all(|line| line.len() <= 510), "{}", out.output);
}

/// A script exercising most of the protocol, for the split test.
fn script() -> Vec<u8> {
    let plain = BASE64.encode("\0user\0pw");
    let mut script = format!("EHLO c\r\nAUTH PLAIN {plain}\r\nNOOP {}\r\n", "z".repeat(150)).into_bytes();
    script.extend_from_slice(TRANSACTION_AFTER_EHLO);
    script.extend_from_slice(b"line\r\n..dot\r\n\n.\r\nmore\r\n.\r\n");
    script.extend_from_slice(b"MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nBDAT 3\r\nabcBDAT 2 LAST\r\nde");
    script.extend_from_slice(TRANSACTION_AFTER_EHLO);
    script.extend_from_slice(format!("{}\r\n.\r\n", "w".repeat(1500)).as_bytes());
    script.extend_from_slice(b"BOGUS\r\nRSET\r\nQUIT\r\n");
    script
}

/// Chaos triggers fire when the draw is below their probability, answering their
/// code in Mailpit's words; a trigger at 0% draws nothing, and MAIL and RCPT stay
/// usable after a chaos error.
#[test]
fn chaos_triggers_answer_their_error_code() {
    let mut draws = [70u8, 10, 99, 0].into_iter();
    let mut first = session().with_chaos_draw(Box::new(move || draws.next().expect("one draw per trigger checked")));
    first.set_chaos(ChaosTriggers {
        sender: ChaosTrigger { error_code: 450, probability: 50 },
        recipient: ChaosTrigger { error_code: 550, probability: 100 },
        authentication: ChaosTrigger { error_code: 535, probability: 0 },
    });
    let outcome = drive(
        &mut first,
        &[b"EHLO c\r\nAUTH PLAIN AHVzZXIAcGFzcw==\r\nMAIL FROM:<a@x.test>\r\nRSET\r\nMAIL FROM:<a@x.test>\r\n\
            MAIL FROM:<a@x.test>\r\nRCPT TO:<b@x.test>\r\nQUIT\r\n"],
    );
    assert_eq!(codes(&outcome.output), ["220", "250", "235", "250", "250", "450", "250", "550", "221"]);
    assert!(outcome.output.contains("450 Chaos sender error\r\n"), "{}", outcome.output);
    assert!(outcome.output.contains("550 Chaos recipient error\r\n"), "{}", outcome.output);

    let mut second = session().with_chaos_draw(Box::new(|| 99));
    second.set_chaos(ChaosTriggers {
        authentication: ChaosTrigger { error_code: 454, probability: 100 },
        ..ChaosTriggers::default()
    });
    let outcome = drive(&mut second, &[b"EHLO c\r\nAUTH PLAIN AHVzZXIAcGFzcw==\r\nQUIT\r\n"]);
    assert_eq!(codes(&outcome.output), ["220", "250", "454", "221"]);
    assert!(outcome.output.contains("454 Chaos authentication error\r\n"));
}

/// Without a draw (chaos not enabled) no trigger fires, whatever it says.
#[test]
fn chaos_needs_a_draw() {
    let mut without_draw = session();
    without_draw.set_chaos(ChaosTriggers {
        sender: ChaosTrigger { error_code: 451, probability: 100 },
        ..ChaosTriggers::default()
    });
    let outcome = drive(&mut without_draw, &[b"EHLO c\r\nMAIL FROM:<a@x.test>\r\nQUIT\r\n"]);
    assert_eq!(codes(&outcome.output), ["220", "250", "250", "221"]);
}

proptest! {
    /// The replies and deliveries do not depend on how TCP cut the input.
    #[test]
    fn same_result_however_the_input_is_split(cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..12)) {
        let script = script();
        let whole = drive(&mut session(), &[&script]);
        let mut points: Vec<usize> = cuts.iter().map(|cut| cut.index(script.len() + 1)).collect();
        points.sort_unstable();
        let mut chunks = Vec::new();
        let mut start = 0;
        for point in points {
            chunks.push(&script[start..point]);
            start = point;
        }
        chunks.push(&script[start..]);
        let split = drive(&mut session(), &chunks);
        prop_assert_eq!(&split, &whole);
        prop_assert_eq!(whole.delivered.len(), 2);
    }

    /// Arbitrary bytes never panic the session or grow its buffers past the limits.
    #[test]
    fn arbitrary_input_stays_bounded(chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..20)) {
        let mut session = session();
        session.receive(TRANSACTION);
        for chunk in &chunks {
            session.receive(chunk);
            let mut outcome = Outcome::default();
            run_actions(&mut session, &mut outcome);
            prop_assert!(session.input.len() - session.consumed <= limits().max_line_length + 300);
            prop_assert!(session.body.len() <= limits().max_message_size + 300);
        }
    }
}

/// A body the listener cannot fit in the store's byte budget is dropped as it
/// comes and answered 451 at its end, never delivered; the session goes on, and
/// the next message is taken.
#[test]
fn a_refused_body_is_drained_and_answered_451() {
    let mut session = session();
    let mut out = drive(&mut session, &[TRANSACTION, b"Subject: big\r\n\r\nfirst half "]);
    assert!(session.keeps_body());
    assert!(!session.body.is_empty());
    assert_eq!(session.cover_body(&mut Reservation::spent(), READ), BodyCover::Refused);
    assert!(!session.keeps_body(), "the rest is not kept");
    assert_eq!((session.body.len(), session.body.capacity()), (0, 0), "what it had is let go");
    let rest = drive(
        &mut session,
        &[
            b"second half\r\n.\r\n",
            b"MAIL FROM:<a@example.test>\r\nRCPT TO:<b@example.test>\r\nDATA\r\nSubject: small\r\n\r\nok\r\n.\r\n",
        ],
    );
    out.output.push_str(&rest.output);
    assert!(out.delivered.is_empty());
    assert_eq!(rest.delivered.len(), 1);
    assert_eq!(rest.delivered[0].raw, b"Subject: small\r\n\r\nok\r\n");
    assert_eq!(codes(&out.output), ["220", "250", "250", "250", "354", "451", "250", "250", "354", "250"]);
    assert!(out.output.contains("451 4.3.0 "), "{}", out.output);

    // The same inside a BDAT chunk: the chunk is read to its end, then refused,
    // and the transaction is over (a further chunk is out of sequence).
    let mut session = super::Session::new(&limits(), "p".into(), false, "n".into());
    let first = drive(&mut session, &[b"EHLO c\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<x@b.test>\r\nBDAT 10\r\nhello"]);
    assert!(session.keeps_body());
    assert_eq!(session.cover_body(&mut Reservation::spent(), READ), BodyCover::Refused);
    let rest = drive(&mut session, &[b"world", b"BDAT 2 LAST\r\nok", b"NOOP\r\n"]);
    assert!(first.delivered.is_empty() && rest.delivered.is_empty());
    assert_eq!(codes(&format!("{}{}", first.output, rest.output)), ["220", "250", "250", "250", "451", "503", "250"]);

    // Between two BDAT chunks the chunks so far are held (and counted): refused
    // there, they are dropped and the next chunk is answered 451.
    let mut session = super::Session::new(&limits(), "p".into(), false, "n".into());
    let first = drive(&mut session, &[b"EHLO c\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<x@b.test>\r\nBDAT 5\r\nhello"]);
    assert!(session.keeps_body(), "the first chunk waits for the next");
    assert_eq!(session.body.len(), 5);
    assert_eq!(session.cover_body(&mut Reservation::spent(), READ), BodyCover::Refused);
    assert!(!session.keeps_body());
    assert_eq!((session.body.len(), session.body.capacity()), (0, 0));
    let rest = drive(&mut session, &[b"BDAT 5 LAST\r\nworld", b"NOOP\r\n"]);
    assert!(first.delivered.is_empty() && rest.delivered.is_empty());
    assert_eq!(codes(&format!("{}{}", first.output, rest.output)), ["220", "250", "250", "250", "250", "451", "250"]);

    // A refused DATA body keeps nothing, so it is not judged too big whatever
    // the chunks (found by fuzzing: a chunk over the limit used to turn the 451
    // into a 552, so the answer depended on how the bytes arrived).
    for chunk in [1, 64, 4096] {
        let mut session = super::Session::new(&limits(), "p".into(), false, "n".into());
        let mut out = drive(&mut session, &[TRANSACTION]);
        assert_eq!(session.cover_body(&mut Reservation::spent(), READ), BodyCover::Refused);
        let body = [b"x".repeat(3000).as_slice(), b"\r\n.\r\n"].concat();
        let parts: Vec<&[u8]> = body.chunks(chunk).collect();
        out.output.push_str(&drive(&mut session, &parts).output);
        assert_eq!(codes(&out.output), ["220", "250", "250", "250", "354", "451"], "chunks of {chunk}");
    }

    // Outside a body it does nothing.
    let mut session = session_at_command();
    assert_eq!(session.cover_body(&mut Reservation::spent(), READ), BodyCover::Nothing);
    let out = drive(&mut session, &[b"MAIL FROM:<a@b.test>\r\nRCPT TO:<x@b.test>\r\nDATA\r\nhi\r\n.\r\n"]);
    assert_eq!(out.delivered.len(), 1);
}

/// A message being received holds, beyond what it has, what the next read may add
/// to it and the read and input buffers; outside a message the budget holds
/// nothing. A budget that has not that much free refuses the message.
#[test]
fn a_body_holds_what_the_next_read_may_take() {
    let budget = Budget::new(1024 * 1024);
    let mut share = budget.reservation();
    let mut session = session_at_command();
    assert_eq!(session.cover_body(&mut share, READ), BodyCover::Nothing);
    assert_eq!(share.bytes(), 0);

    drive(&mut session, &[b"MAIL FROM:<a@b.test>\r\nRCPT TO:<x@b.test>\r\nDATA\r\nSubject: s\r\n\r\nhi"]);
    assert_eq!(session.cover_body(&mut share, READ), BodyCover::Covered);
    // The body with two reads' worth more, one read buffer, one input buffer, in KiB.
    assert!(!session.body.is_empty());
    let expected = session.body.len() + 2 * READ + READ + session.input.capacity().max(READ);
    assert_eq!(share.bytes(), expected.div_ceil(1024) * 1024);

    let mut other = budget.reservation();
    assert!(other.cover(1024 * 1024 - share.bytes()), "the rest of the budget");
    let mut session_b = session_at_command();
    drive(&mut session_b, &[b"MAIL FROM:<a@b.test>\r\nRCPT TO:<x@b.test>\r\nDATA\r\nhi"]);
    let mut share_b = budget.reservation();
    assert_eq!(session_b.cover_body(&mut share_b, READ), BodyCover::Refused);
    assert_eq!(share_b.bytes(), 0);

    let out = drive(&mut session, &[b"\r\n.\r\n"]);
    assert_eq!(out.delivered.len(), 1);
    assert_eq!(session.cover_body(&mut share, READ), BodyCover::Nothing);
    assert_eq!(share.bytes(), 0, "a delivered message holds no more of the budget here");
}

fn session_at_command() -> Session {
    let mut session = session();
    drive(&mut session, &[b"EHLO c\r\n"]);
    session
}

/// A session judged by a simulation under `rules` (the simulator addresses
/// after them), whose greylisting clock stands still unless `clock` moves it.
fn simulated(rules: &str, clock: crate::simulation::Clock) -> Session {
    let simulation = crate::simulation::Simulation::new(rules, clock).unwrap();
    session().with_simulation(std::sync::Arc::new(simulation))
}

fn still() -> crate::simulation::Clock {
    let now = std::time::Instant::now();
    Box::new(move || now)
}

const MESSAGE: &[u8] = b"Subject: hi\r\nX-Campaign: spring-sale\r\n\r\nbody\r\n.\r\n";

#[test]
fn simulator_addresses_refuse_at_rcpt_and_others_pass_unchanged() {
    let rcpts = b"EHLO c\r\nMAIL FROM:<app@x.test>\r\nRCPT TO:<suppressed@simulator.test>\r\nRCPT TO:<greylist+a@simulator.test>\r\nRCPT TO:<b@x.test>\r\nDATA\r\n";
    let out = drive(&mut simulated("", still()), &[rcpts, MESSAGE]);
    assert_eq!(codes(&out.output), ["220", "250", "250", "550", "451", "250", "354", "250"]);
    let lines = replies(&out.output);
    assert!(lines.contains(&"550 5.7.1 Recipient address is on the suppression list"), "{lines:?}");
    assert!(lines.contains(&"451 4.7.1 Greylisted, try again in 1 second"), "{lines:?}");
    assert_eq!(out.delivered.len(), 1);
    assert_eq!(out.delivered[0].envelope.rcpt_to, ["b@x.test"]);
    assert_eq!(out.delivered[0].envelope.simulation, None);
    assert!(out.delivered[0].effects.is_empty());
    assert!(out.delivered[0].envelope.transcript.contains("550 5.7.1 Recipient address is on the suppression list"));

    // Nothing matched: the same bytes as a session without a simulation.
    let plain = [TRANSACTION, MESSAGE, b"QUIT\r\n"];
    assert_eq!(drive(&mut simulated("", still()), &plain), drive(&mut session(), &plain));
}

#[test]
fn greylisting_accepts_the_retry_after_the_delay() {
    let start = std::time::Instant::now();
    let elapsed = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let shared = elapsed.clone();
    let clock: crate::simulation::Clock =
        Box::new(move || start + std::time::Duration::from_millis(shared.load(std::sync::atomic::Ordering::SeqCst)));
    let simulation = std::sync::Arc::new(crate::simulation::Simulation::new("", clock).unwrap());
    let attempt = b"EHLO c\r\nMAIL FROM:<app@x.test>\r\nRCPT TO:<greylist@simulator.test>\r\n";
    let first = drive(&mut session().with_simulation(simulation.clone()), &[attempt]);
    assert_eq!(codes(&first.output), ["220", "250", "250", "451"]);
    elapsed.store(1000, std::sync::atomic::Ordering::SeqCst);
    // From another port of the same client: greylisting knows it by address.
    let mut again = Session::new(&limits(), "127.0.0.1:6666".into(), true, "n".into()).with_simulation(simulation);
    let retry = drive(&mut again, &[attempt, b"DATA\r\n", MESSAGE]);
    assert_eq!(codes(&retry.output), ["220", "250", "250", "250", "354", "250"]);
    let outcome = retry.delivered[0].envelope.simulation.clone().unwrap();
    assert_eq!((outcome.rule.as_str(), outcome.action.as_str()), ("greylist@simulator.test", "defer"));
}

#[test]
fn tarpit_asks_the_listener_to_hold_replies_from_rcpt_on() {
    let mut session = simulated("", still());
    drive(&mut session, &[b"EHLO c\r\nMAIL FROM:<a@x.test>\r\n"]);
    assert_eq!(session.reply_delay(), None);
    let out = drive(&mut session, &[b"RCPT TO:<slow@simulator.test>\r\nDATA\r\n", MESSAGE]);
    assert_eq!(session.reply_delay(), Some(std::time::Duration::from_secs(1)));
    let outcome = out.delivered[0].envelope.simulation.clone().unwrap();
    assert_eq!(outcome.action, "tarpit");
    assert_eq!(outcome.reply, "each reply held 1000 ms from RCPT on");
}

#[test]
fn after_data_a_rule_rejects_disconnects_or_plans_effects_per_recipient() {
    let reject = "[[rule]]\nname = \"late\"\nrecipient = \"late@x.test\"\naction = \"reject\"\nat = \"data\"\nmessage = \"No thanks\"\n";
    let data = b"EHLO c\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<late@x.test>\r\nDATA\r\n";
    let out = drive(&mut simulated(reject, still()), &[data, MESSAGE, b"NOOP\r\n"]);
    assert_eq!(codes(&out.output), ["220", "250", "250", "250", "354", "550", "250"]);
    assert!(out.output.contains("550 5.7.1 No thanks\r\n"));
    assert!(out.delivered.is_empty());

    let disconnect = "[[rule]]\nheader = \"X-Campaign: spring*\"\naction = \"disconnect\"\n";
    let out = drive(&mut simulated(disconnect, still()), &[TRANSACTION, MESSAGE, b"NOOP\r\n"]);
    assert_eq!(codes(&out.output), ["220", "250", "250", "250", "354"]);
    assert!(out.closed);
    assert!(out.delivered.is_empty());

    let mixed = b"EHLO c\r\nMAIL FROM:<app@x.test>\r\nRCPT TO:<bounce@simulator.test>\r\nRCPT TO:<b@x.test>\r\nRCPT TO:<complaint+1@simulator.test>\r\nDATA\r\n";
    let out = drive(&mut simulated("", still()), &[mixed, MESSAGE]);
    assert_eq!(codes(&out.output), ["220", "250", "250", "250", "250", "250", "354", "250"]);
    let delivery = &out.delivered[0];
    assert_eq!(delivery.envelope.rcpt_to.len(), 3);
    let planned: Vec<(&str, &str)> =
        delivery.effects.iter().map(|planned| (planned.recipient.as_str(), planned.effect.action_name())).collect();
    assert_eq!(planned, [("bounce@simulator.test", "bounce"), ("complaint+1@simulator.test", "complaint")]);
    let outcome = delivery.envelope.simulation.clone().unwrap();
    assert_eq!((outcome.rule.as_str(), outcome.action.as_str()), ("bounce@simulator.test", "bounce"));
    assert!(outcome.effects.is_empty(), "the effects add their lines once carried out");
}

/// Each refusal is counted once under its reason: a bad command, a declared and
/// a received message over the size limit, a recipient past the limit, a chaos
/// error, a store refusal and the listener's ending; answers that are not
/// refusals count nothing.
#[test]
fn refusals_are_counted_by_reason() {
    use crate::metrics::Rejection;
    use crate::smtp::DeliveryCounters;

    let counters = Arc::new(DeliveryCounters::default());
    let mut client = session().counting_into(counters.clone()).with_chaos_draw(Box::new(|| 0));
    client.set_chaos(ChaosTriggers {
        authentication: ChaosTrigger { error_code: 454, probability: 100 },
        ..ChaosTriggers::default()
    });
    let big = format!("{}\r\n.\r\n", "y".repeat(3000));
    drive(
        &mut client,
        &[
            b"BOGUS\r\nEHLO c\r\nAUTH PLAIN AHVzZXIAcGFzcw==\r\nMAIL FROM:<a@b.test> SIZE=5000\r\n",
            b"MAIL FROM:<a@b.test>\r\nRCPT TO:<1@b.test>\r\nRCPT TO:<2@b.test>\r\nRCPT TO:<3@b.test>\r\n",
            b"RCPT TO:<4@b.test>\r\nDATA\r\n",
            big.as_bytes(),
            b"MAIL FROM:<a@b.test>\r\nRCPT TO:<1@b.test>\r\nDATA\r\nsmall\r\n.\r\n",
        ],
    );
    let counted = |reason| counters.rejections.get(reason);
    assert_eq!(counted(Rejection::Protocol), 1);
    assert_eq!(counted(Rejection::Chaos), 1);
    assert_eq!(counted(Rejection::Size), 2);
    assert_eq!(counted(Rejection::Recipients), 1);
    assert_eq!(counted(Rejection::Busy), 0);

    let mut refused = session().counting_into(counters.clone());
    refused.receive(TRANSACTION);
    refused.receive(b"small\r\n.\r\n");
    while let Some(action) = refused.advance() {
        if let Action::Deliver(_) = action {
            refused.delivered(Err(Refusal::Busy));
        }
    }
    refused.end(Ending::IdleTimeout);
    assert_eq!(counted(Rejection::Busy), 1);
    assert_eq!(counted(Rejection::Timeout), 1);
    let total: u64 = Rejection::ALL.iter().map(|&reason| counted(reason)).sum();
    assert_eq!(total, 7, "nothing else was counted");
}
