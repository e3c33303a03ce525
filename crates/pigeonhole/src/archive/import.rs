//! Importing mail files: a file's bytes into messages to store (`POST
//! /api/v1/import`, the UI's Import… and drag and drop).
//!
//! [`messages_in`] tells the two kinds of mail file apart by their first line, as
//! mail clients do: an mbox starts with a `From ` separator line and holds any
//! number of messages ([`mbox::read`]); anything else is one message (an `.eml`
//! file), kept byte for byte. Files that hold no message are refused with a reason.
//!
//! No SMTP session brought these messages, so [`new_message`] makes their envelope
//! from their headers: who a mail client would say sent it and whom it was for.

use std::panic::{AssertUnwindSafe, catch_unwind};

use mail_parser::{HeaderName, HeaderValue, MessageParser};
use time::OffsetDateTime;

use crate::mail::mbox;
use crate::model::Envelope;
use crate::model::{MessageId, NewMessage};
use crate::store::{Store, SubmitError};

/// The envelope's client address for imported messages.
pub const PEER: &str = "import";

/// Why a file cannot be imported; each message says what to do instead.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ImportError {
    #[error("the file is empty: choose an .eml file or an mbox file that holds messages")]
    Empty,
    #[error(
        "the file is not an e-mail message: an .eml file starts with header lines such as \
         \"From: …\" or \"Subject: …\", an mbox file with a \"From \" line; \
         save the mail from your mail client as .eml or mbox and import that"
    )]
    NotAMessage,
    #[error(
        "message {number} of {count} in the mbox file is not an e-mail message (it does not start \
         with header lines such as \"From: …\"): remove it from the file, or fix it, and import again"
    )]
    NotAMessageInMbox { number: usize, count: usize },
}

/// Why a file's messages were not all stored.
#[derive(Debug, thiserror::Error)]
pub enum StoreAllError {
    #[error(transparent)]
    NotMail(#[from] ImportError),
    /// The store refused message `stored + 1` of `count`; the ones before it are in.
    #[error("{source}{}", imported_before(*stored, *count).map(|note| format!("; {note}")).unwrap_or_default())]
    Submit { stored: usize, count: usize, source: SubmitError },
}

/// What a person importing the file again must know: some messages are in already.
pub fn imported_before(stored: usize, count: usize) -> Option<String> {
    (stored > 0).then(|| format!("{stored} of the file's {count} messages were imported before that"))
}

/// Store every message in a mail file (`bytes`) in the file's order, each through
/// [`Store::submit`] like SMTP mail; their IDs. The API's import and the desktop
/// app's "open with" both come here.
pub async fn store_all(store: &Store, bytes: &[u8]) -> Result<Vec<MessageId>, StoreAllError> {
    let messages = messages_in(bytes)?;
    let count = messages.len();
    let mut ids = Vec::with_capacity(count);
    for raw in messages {
        let id = store.submit(new_message(raw)).await.map_err(|source| StoreAllError::Submit {
            stored: ids.len(),
            count,
            source,
        })?;
        ids.push(id);
    }
    Ok(ids)
}

/// The messages in a mail file, each as its exact bytes, in the file's order.
pub fn messages_in(bytes: &[u8]) -> Result<Vec<Vec<u8>>, ImportError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ImportError::Empty);
    }
    if !mbox::is_mbox(bytes) {
        return if is_message(bytes) { Ok(vec![bytes.to_vec()]) } else { Err(ImportError::NotAMessage) };
    }
    let messages = mbox::read(bytes);
    let count = messages.len();
    if let Some(index) = messages.iter().position(|message| !is_message(message)) {
        return Err(ImportError::NotAMessageInMbox { number: index + 1, count });
    }
    Ok(messages)
}

/// Whether `bytes` start with a header section: a header field (`Name:`, or `Name :`
/// in the obsolete syntax), or the empty line that ends an empty one. Stricter
/// parsing would refuse the broken mail this tool exists to look at.
fn is_message(bytes: &[u8]) -> bool {
    if bytes.starts_with(b"\n") || bytes.starts_with(b"\r\n") {
        return true;
    }
    // RFC 5322 field names are printable ASCII but the colon.
    let name = bytes.iter().take_while(|&&b| b.is_ascii_graphic() && b != b':').count();
    name > 0 && bytes[name..].iter().find(|&&b| b != b' ' && b != b'\t') == Some(&b':')
}

/// An imported message, ready for `Store::submit`: received now, with an envelope
/// from its headers. MAIL FROM is `Return-Path` (`<>` gives the null sender), else
/// `Sender`, else the first `From`; RCPT TO every `To`, `Cc` and `Bcc` address (once
/// each). There was no client and no session: HELO is empty, the peer is [`PEER`],
/// and the transcript says where the message came from.
pub fn new_message(raw: Vec<u8>) -> NewMessage {
    // mail-parser is fuzzed, but a bug in it on one odd file must cost the message
    // its envelope, not the request.
    let (mail_from, rcpt_to) = catch_unwind(AssertUnwindSafe(|| header_envelope(&raw))).unwrap_or_default();
    let envelope = Envelope {
        mail_from,
        rcpt_to,
        helo: String::new(),
        peer: PEER.to_string(),
        tls: false,
        auth_user: None,
        transcript: "(imported from a file, not received over SMTP: the envelope comes from the headers)".to_string(),
        api: None,
        simulation: None,
    };
    NewMessage { raw, envelope, received_at: OffsetDateTime::now_utc() }
}

/// The envelope sender and recipients a message's headers name (see
/// [`new_message`]); also the envelope of raw MIME a provider API is given.
pub fn header_envelope(raw: &[u8]) -> (String, Vec<String>) {
    let Some(headers) = MessageParser::new().parse_headers(raw) else {
        return Default::default();
    };
    let first_address = |name: HeaderName<'static>| {
        headers
            .header_values(name)
            .filter_map(HeaderValue::as_address)
            .flat_map(|list| list.iter())
            .find_map(|a| a.address())
            .map(str::to_string)
    };
    let return_path = headers.header_values(HeaderName::ReturnPath).next().map(|value| match value {
        HeaderValue::Text(path) => path.to_string(),
        HeaderValue::TextList(paths) => paths.first().map(|p| p.to_string()).unwrap_or_default(),
        _ => String::new(),
    });
    let mail_from = return_path
        .or_else(|| first_address(HeaderName::Sender))
        .or_else(|| first_address(HeaderName::From))
        .unwrap_or_default();

    let mut rcpt_to: Vec<String> = Vec::new();
    for name in [HeaderName::To, HeaderName::Cc, HeaderName::Bcc] {
        let lists = headers.header_values(name).filter_map(HeaderValue::as_address);
        for address in lists.flat_map(|list| list.iter()).filter_map(|a| a.address()) {
            let address = address.trim();
            if !address.is_empty() && !rcpt_to.iter().any(|seen| seen.eq_ignore_ascii_case(address)) {
                rcpt_to.push(address.to_string());
            }
        }
    }
    (mail_from.trim().to_string(), rcpt_to)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mail::corpus;

    #[test]
    fn every_corpus_file_is_one_message() {
        for path in corpus::files() {
            let bytes = std::fs::read(&path).unwrap();
            let messages = messages_in(&bytes).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
            // A file that starts with an mbox separator line (mikel-mail's
            // example14.eml) is a one-message mbox: its message is what follows.
            let expected = if mbox::is_mbox(&bytes) { mbox::read(&bytes) } else { vec![bytes] };
            assert_eq!(messages.len(), 1, "{}", path.display());
            assert_eq!(messages, expected, "{}", path.display());
        }
    }

    #[test]
    fn mbox_files_give_each_message() {
        let mbox = b"From a@example.com Tue Jan  2 15:20:30 2024\nSubject: one\n\n>From me\n\n\
                     From b@example.com Tue Jan  2 15:20:31 2024\nSubject: two\n\nBody\n\n";
        assert_eq!(
            messages_in(mbox).unwrap(),
            [b"Subject: one\n\nFrom me\n".to_vec(), b"Subject: two\n\nBody\n".to_vec()]
        );
    }

    #[test]
    fn refuses_what_is_not_mail() {
        assert_eq!(messages_in(b""), Err(ImportError::Empty));
        assert_eq!(messages_in(b" \r\n\n"), Err(ImportError::Empty));
        for not_mail in [&b"just some notes\n"[..], b"\x89PNG\r\n\x1a\n", b": no name\n", b"%PDF-1.4\n", b"<html>\n"] {
            assert_eq!(messages_in(not_mail), Err(ImportError::NotAMessage), "{not_mail:?}");
        }
        let mbox = b"From a x\nSubject: one\n\nFrom b y\nnot a header\n\n";
        let err = messages_in(mbox).unwrap_err();
        assert_eq!(err, ImportError::NotAMessageInMbox { number: 2, count: 2 });
        assert!(err.to_string().starts_with("message 2 of 2 in the mbox file is not an e-mail message"));
        // An empty header section is still a message, and so is the obsolete syntax.
        assert!(messages_in(b"\nJust a body\n").is_ok());
        assert!(messages_in(b"From  : John <j@example.com>\r\n\r\nHi\r\n").is_ok());
    }

    #[test]
    fn envelope_from_headers() {
        let raw = b"Return-Path: <bounce@example.com>\r\nSender: s@example.com\r\nFrom: A <a@example.com>\r\n\
                    To: B <b@example.com>, c@example.com\r\nCc: Group: d@example.com, B@example.com;\r\n\
                    Bcc: e@example.com\r\nSubject: x\r\n\r\nHi\r\n";
        let message = new_message(raw.to_vec());
        assert_eq!(message.raw, raw);
        let envelope = message.envelope;
        assert_eq!(envelope.mail_from, "bounce@example.com");
        assert_eq!(envelope.rcpt_to, ["b@example.com", "c@example.com", "d@example.com", "e@example.com"]);
        assert_eq!((envelope.helo.as_str(), envelope.peer.as_str(), envelope.tls), ("", PEER, false));
        assert!(!envelope.transcript.contains('\n'));

        let mail_from = |raw: &[u8]| new_message(raw.to_vec()).envelope.mail_from;
        assert_eq!(mail_from(b"Sender: s@example.com\r\nFrom: a@example.com\r\n\r\n"), "s@example.com");
        assert_eq!(mail_from(b"From: A <a@example.com>\r\n\r\n"), "a@example.com");
        assert_eq!(mail_from(b"Return-Path: <>\r\nFrom: a@example.com\r\n\r\n"), "");
        assert_eq!(mail_from(b"\r\nno headers\r\n"), "");
    }
}
