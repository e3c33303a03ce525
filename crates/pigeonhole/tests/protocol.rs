//! Raw-socket SMTP against the real binary, for what friendly clients never send:
//! whole pipelined transactions, BDAT chunks split anywhere, oversize messages, SMTP
//! smuggling attempts and overlong command lines.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::*;

/// The SIZE limit from the EHLO keywords ("SIZE 52428800").
fn advertised_size(extensions: &[String]) -> usize {
    extensions
        .iter()
        .find_map(|e| e.strip_prefix("SIZE "))
        .unwrap_or_else(|| panic!("no SIZE with a limit in EHLO: {extensions:?}"))
        .trim()
        .parse()
        .expect("SIZE value is a number")
}

#[test]
fn harness_dot_stuffing_round_trips() {
    let m = b".a\r\n..b\r\nc\n.d\r\n.\r\n\r\n.e";
    let stuffed = dot_stuff(m);
    assert_eq!(stuffed, b"..a\r\n...b\r\nc\n.d\r\n..\r\n\r\n..e");
    assert_eq!(dot_unstuff(&stuffed), m);
}

#[test]
fn ehlo_extensions_and_simple_commands() {
    let server = Server::start();
    let mut smtp = Smtp::connect(server.smtp);
    let ext = smtp.ehlo("raw.example.test");
    for want in ["PIPELINING", "8BITMIME", "SMTPUTF8", "ENHANCEDSTATUSCODES", "CHUNKING", "STARTTLS"] {
        assert!(ext.iter().any(|e| e == want), "{want} not advertised: {ext:?}");
    }
    let auth = ext.iter().find(|e| e.starts_with("AUTH ")).expect("AUTH advertised");
    for mech in ["PLAIN", "LOGIN", "CRAM-MD5"] {
        assert!(auth.split_whitespace().any(|m| m == mech), "{mech} missing from {auth:?}");
    }
    assert!(advertised_size(&ext) >= 1024 * 1024);

    smtp.expect("NOOP", 250);
    smtp.expect("VRFY someone@example.test", 252);
    let help = smtp.cmd("HELP");
    assert!((200..300).contains(&help.code), "HELP → {help:?}");
    smtp.expect("RSET", 250);
    // Out of sequence: RCPT and DATA before MAIL are refused, not crashed on.
    assert_eq!(smtp.cmd("RCPT TO:<a@example.test>").code / 100, 5);
    assert_eq!(smtp.cmd("DATA").code / 100, 5);
    smtp.quit();
    assert_eq!(server.total(), 0);
}

#[test]
fn pipelined_transactions() {
    let server = Server::start();
    let mut smtp = Smtp::connect(server.smtp);
    assert!(smtp.ehlo("pipe.example.test").contains(&"PIPELINING".to_string()));

    let first = simple_message("a@example.test", "b@example.test", "pipelined one", ".dotted\nplain");
    let second = simple_message("c@example.test", "d@example.test", "pipelined two", "second body");

    // A whole envelope in one write, as RFC 2920 clients do.
    smtp.send(b"MAIL FROM:<a@example.test>\r\nRCPT TO:<b@example.test>\r\nRCPT TO:<b2@example.test>\r\nDATA\r\n");
    for want in [250, 250, 250, 354] {
        let r = smtp.reply();
        assert!(r.is(want), "expected {want}, got {r:?}");
    }
    // The message, its terminator and the next envelope in one more write.
    let mut burst = dot_stuff(&first);
    burst.extend_from_slice(b".\r\nRSET\r\nMAIL FROM:<c@example.test>\r\nRCPT TO:<d@example.test>\r\nDATA\r\n");
    smtp.send(&burst);
    let id1 = queued_id(&smtp.reply());
    for want in [250, 250, 250, 354] {
        let r = smtp.reply();
        assert!(r.is(want), "expected {want}, got {r:?}");
    }
    let mut burst = dot_stuff(&second);
    burst.extend_from_slice(b".\r\nQUIT\r\n");
    smtp.send(&burst);
    let id2 = queued_id(&smtp.reply());
    assert!(smtp.reply().is(221));
    assert_ne!(id1, id2);

    assert_eq!(server.total(), 2);
    server.assert_raw(&id1, &first);
    server.assert_raw(&id2, &second);
    let env = server.envelope(&id1);
    assert_eq!(env["MailFrom"], "a@example.test", "{env:#}");
    assert_eq!(env["RcptTo"], serde_json::json!(["b@example.test", "b2@example.test"]));
    assert_eq!(env["Helo"], "pipe.example.test");
    let env = server.envelope(&id2);
    assert_eq!(env["RcptTo"], serde_json::json!(["d@example.test"]));
    let s = server.summary_by_subject("pipelined one");
    assert_eq!(s["ID"], id1.as_str());
    assert_eq!(s["To"][0]["Address"], "b@example.test");
}

#[test]
fn bdat_chunks_are_stored_verbatim() {
    let server = Server::start();
    let mut smtp = Smtp::connect(server.smtp);
    assert!(smtp.ehlo("bdat.example.test").contains(&"CHUNKING".to_string()));

    // BDAT has no dot-stuffing and no terminator: "\r\n.\r\n" and leading dots are
    // plain content here.
    let message = simple_message(
        "chunk@example.test",
        "rcpt@example.test",
        "bdat chunks",
        "before\n.\nafter a lone dot\n..two dots\nend",
    );
    // Cut inside CRLFs and inside the "\r\n.\r\n" on purpose.
    let lone_dot = message.windows(5).position(|w| w == b"\r\n.\r\n").unwrap();
    let cuts = [1, 7, lone_dot + 1, lone_dot + 3, message.len() - 1];
    let mut wire = b"MAIL FROM:<chunk@example.test>\r\nRCPT TO:<rcpt@example.test>\r\n".to_vec();
    let ends: Vec<usize> = cuts.iter().copied().chain([message.len()]).collect();
    let mut start = 0;
    for &end in &ends {
        let last = if end == message.len() { " LAST" } else { "" };
        wire.extend_from_slice(format!("BDAT {}{last}\r\n", end - start).as_bytes());
        wire.extend_from_slice(&message[start..end]);
        start = end;
    }
    // Everything, all chunks included, in one write.
    smtp.send(&wire);
    assert!(smtp.reply().is(250), "MAIL");
    assert!(smtp.reply().is(250), "RCPT");
    for i in 0..cuts.len() {
        let r = smtp.reply();
        assert!(r.is(250), "chunk {i}: {r:?}");
    }
    let id1 = queued_id(&smtp.reply());

    // Second transaction ends with an empty "BDAT 0 LAST".
    let second = simple_message("chunk@example.test", "other@example.test", "bdat zero last", "x");
    smtp.expect("MAIL FROM:<chunk@example.test>", 250);
    smtp.expect("RCPT TO:<other@example.test>", 250);
    let mut wire = format!("BDAT {}\r\n", second.len()).into_bytes();
    wire.extend_from_slice(&second);
    wire.extend_from_slice(b"BDAT 0 LAST\r\n");
    smtp.send(&wire);
    assert!(smtp.reply().is(250));
    let id2 = queued_id(&smtp.reply());
    smtp.quit();

    assert_eq!(server.total(), 2);
    server.assert_raw(&id1, &message);
    server.assert_raw(&id2, &second);
    assert_eq!(server.envelope(&id1)["RcptTo"], serde_json::json!(["rcpt@example.test"]));
    assert_eq!(server.summary_by_subject("bdat chunks")["ID"], id1.as_str());
}

#[test]
fn declared_size_over_limit_is_refused() {
    let server = Server::start();
    let mut smtp = Smtp::connect(server.smtp);
    let limit = advertised_size(&smtp.ehlo("size.example.test"));

    let r = smtp.cmd(&format!("MAIL FROM:<big@example.test> SIZE={}", limit + 1));
    assert!(r.is(552), "SIZE over the limit → {r:?}");
    // The session goes on; a message within the limit is fine.
    smtp.expect(&format!("MAIL FROM:<big@example.test> SIZE={limit}"), 250);
    smtp.expect("RSET", 250);
    let msg = simple_message("small@example.test", "r@example.test", "after refusal", "ok");
    queued_id(&smtp.deliver("small@example.test", &["r@example.test"], &msg));
    smtp.quit();
    assert_eq!(server.total(), 1);
}

#[test]
fn data_over_limit_is_drained_then_refused() {
    // A 1 MB limit keeps the test fast; the code path is the one the 50 MB default takes.
    const LIMIT: usize = 1_000_000;
    let server = Server::start_with(&["--max-message-size", &LIMIT.to_string()]);
    let mut smtp = Smtp::connect(server.smtp);
    let limit = advertised_size(&smtp.ehlo("big.example.test"));
    assert_eq!(limit, LIMIT, "--max-message-size is advertised as SIZE");

    smtp.expect("MAIL FROM:<big@example.test>", 250);
    smtp.expect("RCPT TO:<r@example.test>", 250);
    smtp.expect("DATA", 354);
    let started = Instant::now();
    let header = b"Subject: too big\r\n\r\n";
    let line = [&[b'x'; 998][..], b"\r\n"].concat();
    let chunk = line.repeat(64); // 64 KB per write
    smtp.send(header);
    let mut sent = header.len();
    // Well past the limit, in many writes: the rest must be read and discarded.
    while sent <= 4 * limit {
        smtp.send(&chunk);
        sent += chunk.len();
    }
    smtp.send(b".\r\n");
    let r = smtp.reply();
    assert!(r.is(552), "{sent} bytes over a {limit} limit → {r:?}");
    eprintln!("sent {sent} bytes and got 552 in {:?}", started.elapsed());

    // Drained, not desynchronised: the next command gets its own reply.
    smtp.expect("NOOP", 250);
    let msg = simple_message("a@example.test", "b@example.test", "after oversize", "fits");
    let id = queued_id(&smtp.deliver("a@example.test", &["b@example.test"], &msg));
    smtp.quit();
    assert_eq!(server.total(), 1, "the oversize message must not be stored");
    server.assert_raw(&id, &msg);
}

#[test]
fn smuggling_bare_lf_and_cr_do_not_end_data() {
    let server = Server::start();
    // Each variant hides an end-of-data look-alike followed by a second transaction.
    // A server that ends DATA there would answer the smuggled commands; a correct one
    // stores a single message holding them as text.
    let variants: [(&str, &[u8]); 4] = [
        ("smuggle lf-dot-crlf", b"\n.\r\n"),
        ("smuggle crlf-dot-lf", b"\r\n.\n"),
        ("smuggle lf-dot-lf", b"\n.\n"),
        ("smuggle cr-dot-crlf", b"\r.\r\n"),
    ];
    for (subject, fake_end) in variants {
        let mut wire =
            format!("From: a@example.test\r\nTo: b@example.test\r\nSubject: {subject}\r\n\r\nhello").into_bytes();
        wire.extend_from_slice(fake_end);
        wire.extend_from_slice(
            b"MAIL FROM:<evil@example.test>\r\nRCPT TO:<victim@example.test>\r\nDATA\r\n\
              Subject: smuggled\r\n\r\nevil\r\n",
        );
        let mut smtp = Smtp::connect(server.smtp);
        smtp.ehlo("smuggler.example.test");
        smtp.expect("MAIL FROM:<a@example.test>", 250);
        smtp.expect("RCPT TO:<b@example.test>", 250);
        smtp.expect("DATA", 354);
        smtp.send(&[&wire[..], b".\r\nQUIT\r\n"].concat());
        let id = queued_id(&smtp.reply());
        let r = smtp.reply();
        assert!(r.is(221), "{subject}: after the one message, QUIT's 221 is next, got {r:?}");

        // What RFC 5321 says a receiver stores: only a '.' that starts a CRLF line is
        // removed (so "\r\n.\n" keeps "\r\n\n"); bare CR/LF stay as they came.
        server.assert_raw(&id, &dot_unstuff(&wire));
        let raw = server.raw(&id);
        assert!(raw.windows(12).any(|w| w == b"MAIL FROM:<e"), "{subject}: smuggled text kept");
        assert_eq!(server.envelope(&id)["RcptTo"], serde_json::json!(["b@example.test"]));
    }
    let list = server.list();
    assert_eq!(list["total"].as_u64(), Some(variants.len() as u64), "{list:#}");
    for m in list["messages"].as_array().unwrap() {
        assert_eq!(m["To"][0]["Address"], "b@example.test", "a smuggled message was stored: {m:#}");
    }
}

#[test]
fn overlong_command_line_gets_500_and_session_continues() {
    let server = Server::start();
    let mut smtp = Smtp::connect(server.smtp);
    smtp.ehlo("long.example.test");
    // 5000 bytes is well past the 2048-byte limit and spans several read buffers: one
    // 500 for the whole line, then the next command answered normally.
    let long = format!("NOOP {}\r\nNOOP\r\n", "a".repeat(5000));
    smtp.send(long.as_bytes());
    let r = smtp.reply();
    assert!(r.is(500), "overlong line → {r:?}");
    let r = smtp.reply();
    assert!(r.is(250), "the line after the overlong one → {r:?}");

    // An overlong MAIL FROM does not start a transaction.
    let r = smtp.cmd(&format!("MAIL FROM:<{}@example.test>", "b".repeat(2100)));
    assert!(r.is(500), "overlong MAIL → {r:?}");
    let r = smtp.cmd("RCPT TO:<r@example.test>");
    assert_eq!(r.code / 100, 5, "RCPT without a transaction → {r:?}");

    let msg = simple_message("a@example.test", "r@example.test", "after long line", "ok");
    let id = queued_id(&smtp.deliver("a@example.test", &["r@example.test"], &msg));
    smtp.quit();
    server.assert_raw(&id, &msg);
}

#[test]
fn recipients_beyond_1000_get_452() {
    let server = Server::start();
    let mut smtp = Smtp::connect(server.smtp);
    smtp.ehlo("many.example.test");
    let mut wire = b"MAIL FROM:<bulk@example.test>\r\n".to_vec();
    for i in 0..1001 {
        wire.extend_from_slice(format!("RCPT TO:<r{i}@example.test>\r\n").as_bytes());
    }
    smtp.send(&wire);
    assert!(smtp.reply().is(250), "MAIL");
    for i in 0..1000 {
        let r = smtp.reply();
        assert!(r.is(250), "recipient {i}: {r:?}");
    }
    let r = smtp.reply();
    assert!(r.is(452), "recipient 1001: {r:?}");

    let msg = simple_message("bulk@example.test", "r0@example.test", "thousand", "x");
    smtp.expect("DATA", 354);
    smtp.send(&[&dot_stuff(&msg)[..], b".\r\n"].concat());
    let id = queued_id(&smtp.reply());
    smtp.quit();
    let rcpts = server.envelope(&id)["RcptTo"].as_array().unwrap().clone();
    assert_eq!(rcpts.len(), 1000);
    assert_eq!(rcpts[999], "r999@example.test");
}

#[test]
fn endless_bad_commands_end_the_session() {
    let server = Server::start();
    let mut smtp = Smtp::connect(server.smtp);
    smtp.ehlo("noise.example.test");
    let mut replies = Vec::new();
    for _ in 0..200 {
        let r = smtp.cmd("XYZZY plugh");
        replies.push(r.code);
        if r.is(421) {
            break;
        }
        assert_eq!(r.code / 100, 5, "bad command → {r:?}");
    }
    assert_eq!(replies.last(), Some(&421), "no 421 after {} bad commands", replies.len());
    assert!(smtp.at_eof(), "connection still open after 421");
}

/// Reads the goodbye of a session the server ends for taking too long: `421 4.4.2`,
/// then the connection closed. Returns the time from `since` to the 421.
fn timed_out(smtp: &mut Smtp, since: Instant, what: &str) -> Duration {
    // Far beyond any limit used here, so a server that never times out fails the test
    // in seconds rather than after IO_TIMEOUT.
    smtp.set_read_timeout(Duration::from_secs(15));
    let r = smtp.reply();
    let elapsed = since.elapsed();
    assert!(r.is(421) && r.text.starts_with("4.4.2"), "{what}: expected 421 4.4.2, got {r:?} after {elapsed:?}");
    assert!(smtp.at_eof(), "{what}: connection still open after {r:?}");
    elapsed
}

#[test]
fn idle_client_is_closed_after_command_timeout() {
    let server = Server::start_with(&["--command-timeout", "1"]);

    // Greeted, then silent.
    let mut smtp = Smtp::connect(server.smtp);
    let took = timed_out(&mut smtp, Instant::now(), "silent after greeting");
    assert!(
        (Duration::from_millis(800)..Duration::from_secs(3)).contains(&took),
        "silent client closed after {took:?} (timeout 1 s)"
    );

    // Silent in the middle of a message: closed the same way, and the half message is
    // not stored.
    let mut smtp = Smtp::connect(server.smtp);
    smtp.ehlo("stall.example.test");
    smtp.expect("MAIL FROM:<stall@example.test>", 250);
    smtp.expect("RCPT TO:<r@example.test>", 250);
    smtp.expect("DATA", 354);
    smtp.send(b"Subject: half a message\r\n\r\nthe first line, and then noth");
    let took = timed_out(&mut smtp, Instant::now(), "silent inside DATA");
    assert!(
        (Duration::from_millis(800)..Duration::from_secs(3)).contains(&took),
        "client stalled in DATA closed after {took:?} (timeout 1 s)"
    );
    assert_eq!(server.total(), 0, "a message cut off by the timeout was stored");

    // The server itself is fine: a client that keeps up is served.
    let msg = simple_message("quick@example.test", "r@example.test", "in time", "ok");
    let id = send_one(server.smtp, "quick@example.test", "r@example.test", &msg);
    assert_eq!(server.total(), 1);
    server.assert_raw(&id, &msg);
}

#[test]
fn trickling_client_is_closed_by_the_command_deadline() {
    // Slowloris: a byte every 200 ms never lets a read time out, but a command that
    // never ends (and a message body crawling under the minimum data rate) is still
    // cut off at the command deadline.
    use std::io::Write;
    let server = Server::start_with(&["--command-timeout", "1"]);
    for in_body in [false, true] {
        let mut stream = TcpStream::connect(server.smtp).unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        assert!(line.starts_with("220"), "{line}");
        if in_body {
            stream.write_all(b"EHLO t.test\r\nMAIL FROM:<t@t.test>\r\nRCPT TO:<r@t.test>\r\nDATA\r\n").unwrap();
            loop {
                line.clear();
                reader.read_line(&mut line).unwrap();
                if line.starts_with("354") {
                    break;
                }
            }
        }
        stream.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
        let since = Instant::now();
        line.clear();
        let reply = loop {
            assert!(since.elapsed() < Duration::from_secs(6), "trickling client (in DATA: {in_body}) still open");
            match reader.read_line(&mut line) {
                Ok(_) if line.ends_with('\n') => break std::mem::take(&mut line),
                Ok(0) => break String::new(),
                Ok(_) => {}
                Err(_) => {
                    let _ = stream.write_all(b"x");
                }
            }
        };
        let took = since.elapsed();
        assert!(reply.starts_with("421 4.4.2"), "in DATA: {in_body}: {reply:?}");
        assert!(took < Duration::from_secs(3), "trickling client (in DATA: {in_body}) closed after {took:?}");
    }
    assert_eq!(server.total(), 0);
}

#[test]
fn busy_session_is_closed_after_session_timeout() {
    let server = Server::start_with(&["--session-timeout", "2"]);
    let mut smtp = Smtp::connect(server.smtp);
    let started = Instant::now();
    smtp.ehlo("chatty.example.test");
    // Never idle (a NOOP every 0.5 s, far within the 60 s command timeout), yet the
    // session as a whole must end after 2 s.
    let (mut noops, mut closed) = (0, false);
    while !closed && started.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(500));
        smtp.send(b"NOOP\r\n");
        smtp.set_read_timeout(Duration::from_secs(15));
        let r = smtp.reply();
        if r.is(421) {
            assert!(r.text.starts_with("4.4.2"), "session timeout → {r:?}");
            assert!(smtp.at_eof(), "connection still open after {r:?}");
            closed = true;
            continue;
        }
        assert!(r.is(250), "NOOP {noops} → {r:?}");
        noops += 1;
    }
    let took = started.elapsed();
    assert!(closed, "no 421 after {took:?} of NOOPs ({noops} answered 250); session limit 2 s");
    assert!(noops >= 2, "only {noops} NOOPs answered before the 421, after {took:?} (limit 2 s)");
    assert!(
        (Duration::from_millis(1500)..Duration::from_secs(4)).contains(&took),
        "session closed after {took:?} ({noops} NOOPs answered), limit 2 s"
    );
}

/// The first line the server sends on a fresh connection.
fn greeting_line(stream: &TcpStream) -> String {
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).expect("read greeting");
    line
}

/// A session inside a mail transaction (MAIL sent), holding its slot: one that
/// was only greeted could be evicted for a new connection at the cap.
fn in_transaction(addr: std::net::SocketAddr, i: usize) -> TcpStream {
    let s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let mut reader = BufReader::new(&s);
    let mut line = String::new();
    reader.read_line(&mut line).expect("read greeting");
    assert!(line.starts_with("220"), "session {i} greeted {line:?}");
    (&s).write_all(b"EHLO holder.test\r\nMAIL FROM:<holder@example.test>\r\n").unwrap();
    // The EHLO reply's last line, then MAIL's.
    for _ in 0..2 {
        loop {
            line.clear();
            reader.read_line(&mut line).expect("read reply");
            if line.as_bytes().get(3) == Some(&b' ') {
                break;
            }
        }
        assert!(line.starts_with("250"), "session {i}: {line:?}");
    }
    s
}

#[test]
fn connections_beyond_1000_get_421() {
    // 1000 sessions here plus 1000 in the server: each process needs ~1000 descriptors.
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    let soft: u64 = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3)?.parse().ok())
        .unwrap_or(u64::MAX);
    assert!(
        soft >= 2048,
        "open-file limit {soft} is too low for this test: raise it (`ulimit -n 4096`); scripts/test.sh does"
    );

    let server = Server::start_with(&["--max-connections", "1000"]);
    let open: Vec<TcpStream> = (0..1000).map(|i| in_transaction(server.smtp, i)).collect();
    let extra = TcpStream::connect(server.smtp).expect("connect");
    extra.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let g = greeting_line(&extra);
    assert!(g.starts_with("421"), "session 1001 greeted {g:?}");

    drop(open);
    // Closed sessions free their slots (the server notices the EOFs shortly).
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let s = TcpStream::connect(server.smtp).expect("connect");
        s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        let g = greeting_line(&s);
        if g.starts_with("220") {
            break;
        }
        assert!(Instant::now() < deadline, "slots not freed 10 s after closing 1000 sessions: {g:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// At the cap, a new client is not turned away by sessions doing nothing: the one
/// idle longest outside a transaction gets `421 4.7.0` and is closed, and the new
/// client takes its slot. A session in a transaction keeps its slot, however idle.
#[test]
fn at_the_cap_the_longest_idle_session_gives_its_slot_to_a_new_client() {
    let server = Server::start_with(&["--max-connections", "20"]);
    let mut sending = Smtp::connect(server.smtp);
    sending.ehlo("sending.example");
    sending.expect("MAIL FROM:<a@example.com>", 250);
    std::thread::sleep(Duration::from_millis(20));
    let mut idle: Vec<Smtp> = (0..19)
        .map(|_| {
            let smtp = Smtp::connect(server.smtp);
            std::thread::sleep(Duration::from_millis(20));
            smtp
        })
        .collect();

    let mut newcomer = Smtp::connect(server.smtp);
    newcomer.ehlo("newcomer.example");
    let message = simple_message("a@example.com", "b@example.com", "At the cap", "hi");
    assert!(newcomer.deliver("a@example.com", &["b@example.com"], &message).is(250));

    let evicted = idle[0].reply();
    assert!(evicted.is(421) && evicted.text == "4.7.0 Too many connections, try again later", "{evicted:?}");
    assert!(idle[0].at_eof(), "evicted session still open");
    // The others, and the idle one in a transaction, go on.
    idle[1].ehlo("second.example");
    sending.expect("RCPT TO:<b@example.com>", 250);
}

#[test]
fn paused_intake_answers_421_until_resumed() {
    let server = Server::start();
    let message = simple_message("a@example.com", "b@example.com", "Before the pause", "hi");
    // A session that is idle between commands when the pause comes…
    let mut idle = Smtp::connect(server.smtp);
    idle.ehlo("idle.example");
    // …and one in the middle of a message: it finishes, and nothing acknowledged is lost.
    let mut sending = Smtp::connect(server.smtp);
    sending.ehlo("sending.example");
    sending.expect("MAIL FROM:<a@example.com>", 250);
    sending.expect("RCPT TO:<b@example.com>", 250);
    sending.expect("DATA", 354);

    server.mutate(reqwest::Method::PUT, "/api/v1/intake", Some(serde_json::json!({"Paused": true})));
    let intake = serde_json::json!({
        "Paused": true,
        "SMTPAddress": server.smtp.to_string(),
        "POP3Address": "",
        "IMAPAddress": "",
        "IMAPImplicitTLS": false,
    });
    assert_eq!(server.get_json("/api/v1/intake"), intake);

    let closed = idle.reply();
    assert!(closed.is(421) && closed.text.contains("paused intake"), "idle session got {closed:?}");
    let mut wire = dot_stuff(&message);
    wire.extend_from_slice(b".\r\n");
    sending.send(&wire);
    let queued = sending.reply();
    assert!(queued.is(250), "the message in DATA when paused: {queued:?}");
    let after = sending.reply();
    assert!(after.is(421), "after its message, the session is closed with 421: {after:?}");
    server.assert_raw(server.summary_by_subject("Before the pause")["ID"].as_str().unwrap(), &message);

    let refused = TcpStream::connect(server.smtp).expect("connect");
    refused.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let greeting = greeting_line(&refused);
    assert!(greeting.starts_with("421 4.3.2"), "a new connection while paused: {greeting:?}");

    server.mutate(reqwest::Method::PUT, "/api/v1/intake", Some(serde_json::json!({"Paused": false})));
    let mut resumed = Smtp::connect(server.smtp);
    resumed.ehlo("resumed.example");
    let after_resume = simple_message("a@example.com", "b@example.com", "After the pause", "hi");
    assert!(resumed.deliver("a@example.com", &["b@example.com"], &after_resume).is(250));
    assert_eq!(server.total(), 2);
}
