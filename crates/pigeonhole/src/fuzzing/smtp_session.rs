//! The SMTP session target: one input is a small header choosing the limits and
//! how the listener behaves, then the bytes a client sends.
//!
//! Header (6 bytes, then `split count` more):
//!
//! | byte | meaning |
//! | --- | --- |
//! | 0 | bit 0: STARTTLS offered; bit 1: chaos triggers on (451, 50 %); bits 2-3: how the listener ends a session still open when the input runs out; bit 4: a fourth session, below |
//! | 1 | `max_line_length` = 32 + 4 × byte |
//! | 2 | `max_message_size` = 16 × byte |
//! | 3 | low 4 bits: `max_recipients` − 1; high 4 bits: `max_bad_commands` − 1 |
//! | 4 | the store's answers: delivery *n* gets outcome (byte + *n*) mod 8 (0-3 stored, then busy, disk full, failed, shutting down) |
//! | 5 | split count *k* (mod 16), followed by *k* chunk sizes (byte + 1, used in turn; none: 64) |
//!
//! The client bytes go through three sessions, as the listener would drive them:
//! all at once, in the chunks the header chose, and one byte at a time. Checked:
//!
//! * no panic (including the session's own `debug_assert!`s);
//! * every reply line ends with CRLF, has no other CR or LF, starts with a code,
//!   and is at most 512 bytes (RFC 5321 4.5.3.1.5), and output only ever holds
//!   whole replies;
//! * while waiting for input, the unconsumed input is under `max_line_length` and
//!   the message so far within `max_message_size`; no message delivered is over it;
//! * a DATA message ends at the first CRLF.CRLF after the DATA command and at
//!   nothing else, with dot-stuffing undone exactly (checked against a reference
//!   in the byte-at-a-time session, where it is known which bytes were the body);
//! * envelope addresses hold no control characters, the AUTH user is printable
//!   and at most 128 characters, the transcript stays within its caps;
//! * after STARTTLS, nothing pipelined in the clear is acted on;
//! * all three sessions give the same replies, byte for byte, and the same
//!   deliveries at the same points (up to STARTTLS, where the split decides by
//!   design which clear-text bytes are dropped).
//!
//! With header bit 4, a fourth session is fed one byte at a time and refuses every
//! message body the moment it starts, as the listener does when the store's byte
//! budget is spent ([`Session::cover_body`] with a spent [`Reservation`]). Checked as well: from then on the
//! session keeps no byte of that message, no message with a body is delivered, and
//! every refused message that ends is answered `451 4.3.0`.

use crate::config::SmtpLimits;
use crate::model::{ChaosTrigger, ChaosTriggers};
use crate::smtp::session::{Action, BodyCover, Delivery, Ending, Refusal, Session};
use crate::store::Reservation;

/// The listener's largest read.
const READ: usize = 16 * 1024;
/// Longest reply line, CRLF included (RFC 5321 4.5.3.1.5).
const MAX_REPLY_LINE: usize = 512;
/// The transcript keeps two parts of 16 KB each, plus one last line and a note
/// past each cap (a line of 512 bytes can grow threefold as lossy UTF-8).
const MAX_TRANSCRIPT: usize = 2 * (16 * 1024 + 3 * 512 + 64);

/// How one input sets up the sessions.
struct Setup {
    limits: SmtpLimits,
    tls: bool,
    chaos: bool,
    refuse_bodies: bool,
    ending: Ending,
    outcome_seed: u8,
    chunks: Vec<usize>,
}

/// Everything a session said and did, for comparing sessions fed differently.
#[derive(Debug, Default, PartialEq)]
struct Run {
    output: Vec<u8>,
    /// Each delivery with the output length when it was asked for.
    deliveries: Vec<(usize, Delivery)>,
    /// The output length at the first STARTTLS handshake.
    tls_at: Option<usize>,
}

/// Run one fuzz input; panics on any broken invariant.
pub fn smtp_session(data: &[u8]) {
    let Some((setup, bytes)) = setup(data) else { return };
    let whole = run(&setup, bytes, std::iter::repeat(bytes.len().max(1)), Feed::Chunks);
    let split = run(&setup, bytes, setup.chunks.iter().copied().cycle(), Feed::Chunks);
    let bytewise = run(&setup, bytes, std::iter::repeat(1), Feed::Bytewise);
    assert_same(&whole, &split, "split");
    assert_same(&whole, &bytewise, "byte-at-a-time");
    if setup.refuse_bodies {
        run(&setup, bytes, std::iter::repeat(1), Feed::RefusingBodies);
    }
}

fn setup(data: &[u8]) -> Option<(Setup, &[u8])> {
    let (&[flags, line, size, counts, outcome_seed, splits], rest) = data.split_first_chunk::<6>()?;
    let (chunks, bytes) = rest.split_at_checked(usize::from(splits % 16))?;
    let limits = SmtpLimits {
        hostname: "fuzz.pigeonhole.test".into(),
        max_line_length: 32 + 4 * usize::from(line),
        max_message_size: 16 * usize::from(size),
        max_recipients: 1 + usize::from(counts & 0x0f),
        max_bad_commands: 1 + usize::from(counts >> 4),
        ..SmtpLimits::default()
    };
    let ending = [Ending::IdleTimeout, Ending::SessionTooLong, Ending::ServerShutdown, Ending::IntakePaused]
        [usize::from((flags >> 2) & 3)];
    let mut chunks: Vec<usize> = chunks.iter().map(|&b| usize::from(b) + 1).collect();
    if chunks.is_empty() {
        chunks.push(64);
    }
    let setup = Setup {
        limits,
        tls: flags & 1 != 0,
        chaos: flags & 2 != 0,
        refuse_bodies: flags & 0x10 != 0,
        ending,
        outcome_seed,
        chunks,
    };
    Some((setup, bytes))
}

/// How a run feeds its session.
#[derive(Clone, Copy, PartialEq)]
enum Feed {
    /// In the chunks given.
    Chunks,
    /// One byte at a time, checking each DATA body against the bytes sent.
    Bytewise,
    /// One byte at a time, refusing every message body as it starts.
    RefusingBodies,
}

/// Drive a session as the listener does: feed a chunk only when it wants input,
/// answer its actions at once, end it when the input runs out.
fn run(setup: &Setup, bytes: &[u8], mut chunks: impl Iterator<Item = usize>, feed: Feed) -> Run {
    let limits = &setup.limits;
    let mut session = Session::new(limits, "192.0.2.1:25000".into(), setup.tls, "fuzz".into());
    if setup.chaos {
        // A fixed sequence, so every run draws the same number for the same command.
        let mut draw = 0u8;
        session = session.with_chaos_draw(Box::new(move || {
            draw = (draw + 37) % 100;
            draw
        }));
        let trigger = ChaosTrigger::new(451, 50).expect("a valid chaos trigger");
        session.set_chaos(ChaosTriggers { sender: trigger, recipient: trigger, authentication: trigger });
    }
    let mut out = Run::default();
    take_output(&mut session, &mut out);
    let mut fed = 0;
    // Byte-at-a-time only: where the current DATA body starts in `bytes`.
    let mut data_start = None;
    // Refusing bodies only: bodies refused while being received (each must end in
    // 451), and whether the one being received now is one of them.
    let mut refused = 0;
    let mut refusing_this_body = false;
    loop {
        let mut action = session.advance();
        let mut step_output = take_output(&mut session, &mut out);
        while let Some(next) = action.take() {
            match next {
                Action::Deliver(delivery) => {
                    check_delivery(limits, &delivery);
                    if feed == Feed::RefusingBodies {
                        assert!(delivery.raw.is_empty(), "a refused message was delivered");
                    }
                    if let Some(start) = data_start.take() {
                        check_data(&bytes[start..fed], &delivery.raw);
                    }
                    let outcome = match (usize::from(setup.outcome_seed) + out.deliveries.len()) % 8 {
                        n @ 0..=3 => Ok(format!("ID{n}")),
                        4 => Err(Refusal::Busy),
                        5 => Err(Refusal::DiskFull),
                        6 => Err(Refusal::Failed),
                        _ => Err(Refusal::ShuttingDown),
                    };
                    out.deliveries.push((out.output.len(), *delivery));
                    action = session.delivered(outcome).or_else(|| session.advance());
                }
                Action::StartTls => {
                    out.tls_at.get_or_insert(out.output.len());
                    session.tls_started();
                    // CVE-2011-0411: what came in the clear after STARTTLS is gone.
                    assert!(session.advance().is_none(), "acted on input pipelined after STARTTLS");
                    assert!(session.take_output().is_empty(), "answered input pipelined after STARTTLS");
                }
                Action::Close => {
                    take_output(&mut session, &mut out);
                    return out;
                }
            }
            step_output |= take_output(&mut session, &mut out);
        }
        let (unconsumed, body) = session.held();
        assert!(unconsumed < limits.max_line_length, "{unconsumed} bytes held waiting for input");
        assert!(body <= limits.max_message_size, "{body} bytes of message held");
        if feed == Feed::RefusingBodies {
            refusing_this_body &= session.in_body();
            // Between two BDAT chunks the refusal is answered at the end of the next
            // chunk, if one comes: only a refusal inside a body must end in 451.
            if session.cover_body(&mut Reservation::spent(), READ) == BodyCover::Refused && session.in_body() {
                refused += 1;
                refusing_this_body = true;
            }
            let (_, body) = session.held();
            let kept = session.cover_body(&mut Reservation::spent(), READ) != BodyCover::Nothing;
            assert!(!kept && body == 0, "a refused message is kept: {body} bytes");
        }
        if feed == Feed::Bytewise {
            match step_output {
                Output::DataStart => data_start = Some(fed),
                Output::Replies => data_start = None,
                Output::Nothing => {}
            }
        }
        if fed == bytes.len() {
            break;
        }
        let end = bytes.len().min(fed + chunks.next().expect("chunk sizes never run out"));
        session.receive(&bytes[fed..end]);
        fed = end;
    }
    let cut_off = refusing_this_body && session.in_body();
    session.end(setup.ending);
    take_output(&mut session, &mut out);
    if feed == Feed::RefusingBodies {
        let answered = out.output.split(|&b| b == b'\n').filter(|line| line.starts_with(b"451 4.3.0")).count();
        let ended = refused - usize::from(cut_off);
        assert!(answered >= ended, "{ended} refused messages ended, {answered} answered 451 4.3.0");
    }
    out
}

/// What a step of a session wrote.
#[derive(Clone, Copy, PartialEq)]
enum Output {
    Nothing,
    /// "354 Start mail input": the DATA body follows.
    DataStart,
    Replies,
}

impl std::ops::BitOrAssign for Output {
    fn bitor_assign(&mut self, later: Output) {
        if later != Output::Nothing {
            *self = later;
        }
    }
}

/// Move the session's output into `run`, checking every reply line on the way.
fn take_output(session: &mut Session, run: &mut Run) -> Output {
    let output = session.take_output();
    if output.is_empty() {
        return Output::Nothing;
    }
    let mut last = &b""[..];
    for line in output.split_inclusive(|&b| b == b'\n') {
        let text = String::from_utf8_lossy(line);
        assert!(line.len() <= MAX_REPLY_LINE, "reply line of {} bytes: {text:?}", line.len());
        let Some(content) = line.strip_suffix(b"\r\n") else { panic!("reply line without CRLF: {text:?}") };
        assert!(!content.contains(&b'\r'), "bare CR in a reply: {text:?}");
        assert!(
            content.len() >= 4 && content[..3].iter().all(u8::is_ascii_digit) && matches!(content[3], b' ' | b'-'),
            "malformed reply line: {text:?}"
        );
        last = line;
    }
    assert_eq!(last[3], b' ', "output ends inside a multi-line reply");
    run.output.extend_from_slice(&output);
    if last.starts_with(b"354 ") { Output::DataStart } else { Output::Replies }
}

fn check_delivery(limits: &SmtpLimits, delivery: &Delivery) {
    assert!(delivery.raw.len() <= limits.max_message_size, "delivered {} bytes", delivery.raw.len());
    let envelope = &delivery.envelope;
    for address in std::iter::once(&envelope.mail_from).chain(&envelope.rcpt_to) {
        assert!(
            !address.chars().any(|c| c.is_ascii_control() && c != '\t'),
            "control character in address {address:?}"
        );
    }
    if let Some(user) = &envelope.auth_user {
        assert!(user.chars().count() <= 128 && !user.chars().any(char::is_control), "AUTH user {user:?}");
    }
    assert!(envelope.transcript.len() <= MAX_TRANSCRIPT, "transcript of {} bytes", envelope.transcript.len());
}

/// `data`: the bytes after the DATA command's LF, up to the byte that completed
/// the message. They must end with the first CRLF.CRLF (counting the DATA line's
/// CRLF), and `raw` must be them up to that CRLF with each stuffed dot removed.
fn check_data(data: &[u8], raw: &[u8]) {
    let stream = [b"\r\n", data].concat();
    let first_end = stream.windows(5).position(|w| w == b"\r\n.\r\n").map(|at| at + 5);
    assert_eq!(first_end, Some(stream.len()), "DATA did not end at its first CRLF.CRLF");
    let content = &stream[..stream.len() - 3];
    let expected: Vec<u8> = content
        .iter()
        .enumerate()
        .filter(|&(at, &b)| !(b == b'.' && at >= 2 && content[at - 2..at] == *b"\r\n"))
        .map(|(_, &b)| b)
        .skip(2)
        .collect();
    assert!(raw == expected.as_slice(), "DATA body not unstuffed exactly");
}

/// `other` must match `whole`; past a STARTTLS only what came before it.
fn assert_same(whole: &Run, other: &Run, how: &str) {
    assert_eq!(whole.tls_at, other.tls_at, "{how}: STARTTLS at a different point");
    match whole.tls_at {
        None => assert!(whole == other, "{how}: a different session from the same bytes"),
        Some(at) => {
            let before = |run: &'_ Run| run.deliveries.iter().take_while(|(when, _)| *when <= at).count();
            assert!(whole.output[..at] == other.output[..at], "{how}: different replies before STARTTLS");
            assert!(
                whole.deliveries[..before(whole)] == other.deliveries[..before(other)],
                "{how}: different deliveries before STARTTLS"
            );
        }
    }
}
