//! The IMAP session target: one input is a small header choosing the limits and
//! how the bytes are split, then the bytes a client sends.
//!
//! Header (2 bytes):
//!
//! | byte | meaning |
//! | --- | --- |
//! | 0 | `max_literal_size` = 16 × byte; bit 0 also: the client is off loopback (clear-text login refused) |
//! | 1 | chunk size − 1 the client bytes are fed in (0: one byte at a time) |
//!
//! The session runs over a real store (one per thread, emptied and given the
//! same three messages before each input; `INBOX` and `alice`), logged out at
//! first, so inputs that start with `a LOGIN u p` reach every command. Checked:
//!
//! * no panic (including imap-next's and imap-codec's own assertions);
//! * the output, read from the start, is a greeting and then whole responses that
//!   imap-codec parses back (what a client's parser must read), nothing cut off;
//! * the output never grows past what the input can explain: a bounded amount
//!   per input byte plus the messages' bytes (a FETCH of them), so no response is
//!   made out of nothing.

use std::net::SocketAddr;
use std::sync::Arc;

use imap_codec::decode::{Decoder, GreetingDecodeError, ResponseDecodeError};
use imap_codec::{GreetingCodec, ResponseCodec};

use crate::config::{ImapConfig, StoreConfig};
use crate::imap::ImapSetup;
use crate::imap::session::{Session, Step};
use crate::login::LoginThrottle;
use crate::model::{Envelope, EventSender, NewMessage, event};
use crate::store::{Selection, Store};

/// The messages every input finds.
const MESSAGES: [(&str, &str); 3] = [
    ("", "From: A <a@example.test>\r\nTo: b@example.test\r\nSubject: one\r\n\r\nbody one\r\n"),
    (
        "",
        "From: a@example.test\r\nSubject: two\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n\
         --b\r\nContent-Type: text/plain\r\n\r\npart\r\n--b\r\nContent-Type: message/rfc822\r\n\r\nSubject: in\r\n\r\nx\r\n--b--\r\n",
    ),
    ("alice", "Subject: alice's\r\n\r\nthree\r\n"),
];

struct Shared {
    runtime: tokio::runtime::Runtime,
    store: Store,
    events: EventSender,
    _dir: tempfile::TempDir,
}

impl Shared {
    fn new() -> Shared {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
        let dir = tempfile::tempdir().expect("a temporary folder");
        let events = event::channel();
        let store = runtime
            .block_on(async { Store::open(dir.path(), StoreConfig::default(), events.clone()) })
            .expect("a store");
        Shared { runtime, store, events, _dir: dir }
    }
}

thread_local! {
    /// One store per thread (opening one per input would be most of the time),
    /// so tests running side by side do not share it.
    static SHARED: Shared = Shared::new();
}

/// Run one fuzz input; panics on any broken invariant.
pub fn imap_session(data: &[u8]) {
    run(data);
}

/// The session's output for one input (checked), `None` for too short an input.
fn run(data: &[u8]) -> Option<Vec<u8>> {
    let [limits_byte, chunk_byte, bytes @ ..] = data else { return None };
    SHARED.with(|shared| run_with(shared, *limits_byte, *chunk_byte, bytes))
}

fn run_with(shared: &Shared, limits_byte: u8, chunk_byte: u8, bytes: &[u8]) -> Option<Vec<u8>> {
    shared.runtime.block_on(async {
        shared.store.delete(Selection::All).await.expect("emptied");
        for (inbox, raw) in MESSAGES {
            let envelope = Envelope { auth_user: (!inbox.is_empty()).then(|| inbox.to_owned()), ..Envelope::default() };
            let message =
                NewMessage { raw: raw.as_bytes().to_vec(), envelope, received_at: time::OffsetDateTime::now_utc() };
            shared.store.submit(message).await.expect("stored");
        }
        let mut config = ImapConfig::new("127.0.0.1:1143".parse().unwrap());
        config.limits.max_literal_size = 16 * u32::from(limits_byte);
        let setup = Arc::new(ImapSetup {
            throttle: LoginThrottle::new(config.server.login_failures, config.server.login_failure_window),
            config,
            store: shared.store.clone(),
            events: shared.events.clone(),
            users: None,
            tls: None,
        });
        let peer: SocketAddr = if limits_byte & 1 == 1 { "192.0.2.1:1" } else { "127.0.0.1:1" }.parse().unwrap();
        let mut session = Session::new(setup, peer, false);
        let chunk = usize::from(chunk_byte) + 1;
        let mut output = Vec::new();
        let mut fed = 0;
        'input: loop {
            loop {
                match session.step().await {
                    Step::Write(bytes) => output.extend(bytes),
                    Step::Read => break,
                    Step::StartTls | Step::Close => break 'input,
                }
            }
            if fed >= bytes.len() {
                break;
            }
            let end = (fed + chunk).min(bytes.len());
            session.feed(&bytes[fed..end]);
            fed = end;
        }
        check_output(&output, fed);
        Some(output)
    })
}

/// The output is a greeting, then whole responses, all parsed back; and no more
/// of it than the input explains.
fn check_output(output: &[u8], fed: usize) {
    let messages: usize = MESSAGES.iter().map(|(_, raw)| raw.len()).sum();
    // Per input byte at most one short response per message (a FETCH 1:* of
    // flags costs a few bytes of input and about 60 bytes per message), or a
    // message's bytes (BODY[] and its sections).
    let bound = 4096 + fed * (512 + 4 * messages);
    assert!(output.len() <= bound, "{} bytes of output for {fed} bytes of input", output.len());
    let (mut rest, _) = match GreetingCodec::default().decode(output) {
        Ok(parsed) => parsed,
        Err(GreetingDecodeError::Incomplete) => panic!("the greeting is cut off: {output:?}"),
        Err(error) => panic!("the greeting does not parse ({error:?}): {:?}", String::from_utf8_lossy(output)),
    };
    while !rest.is_empty() {
        rest = match ResponseCodec::default().decode(rest) {
            Ok((rest, _)) => rest,
            Err(ResponseDecodeError::Incomplete) => {
                panic!("a response is cut off: {:?}", String::from_utf8_lossy(rest))
            }
            Err(error) => panic!("a response does not parse ({error:?}): {:?}", String::from_utf8_lossy(rest)),
        };
    }
}

#[cfg(test)]
mod tests {
    /// The harness reaches the commands: a login, a SELECT (INBOX holds two of
    /// the three messages), a FETCH of one's bytes.
    #[test]
    fn inputs_reach_the_selected_state() {
        let input = b"\xfe\x04a LOGIN u p\r\nb SELECT INBOX\r\nc FETCH 1 (BODY.PEEK[])\r\n";
        let output = String::from_utf8(super::run(input).unwrap()).unwrap();
        assert!(output.contains("* 2 EXISTS") && output.contains("body one") && output.contains("c OK"), "{output}");
    }
}
