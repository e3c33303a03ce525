//! The caller's half of storing a message: parse, summarise, compress and give it
//! an ID, so that the writer thread, which every message waits for, only runs SQL.

use std::cell::RefCell;
use std::io;

use crate::config::TagRules;
use crate::mail::{self, SearchText};
use crate::model::Envelope;

use super::codec::{addresses_to_json, from_unix_ms, unix_ms};
use super::{SubmitError, ZSTD_LEVEL, tags};
use crate::model::{Address, DEFAULT_INBOX, MessageId, MessageSummary, NewMessage};

thread_local! {
    /// One compression context per thread: setting one up costs more than
    /// compressing a small message with it.
    static COMPRESSOR: RefCell<Option<zstd::bulk::Compressor<'static>>> = const { RefCell::new(None) };
}

/// Everything the writer inserts for one message, computed in advance.
pub(crate) struct PreparedMessage {
    /// What the list shows and `Event::New` carries, exactly as read back later.
    pub summary: MessageSummary,
    pub inbox: String,
    pub received_ms: i64,
    pub date_ms: Option<i64>,
    pub inlines: u32,
    pub addresses: AddressColumns,
    pub search: SearchText,
    pub compressed: Vec<u8>,
    /// The envelope without its provider request and simulation outcome, which
    /// are in `api_json` and `simulation_json`: taken out here, a request's few
    /// KiB are freed on the thread that allocated them rather than the writer's.
    pub envelope: Envelope,
    pub rcpt_json: String,
    /// The envelope's provider request and simulation outcome as JSON (NULL columns
    /// when absent).
    pub api_json: Option<String>,
    pub simulation_json: Option<String>,
}

/// The address columns, encoded.
pub(crate) struct AddressColumns {
    pub from: String,
    pub to: String,
    pub cc: String,
    pub bcc: String,
    pub reply_to: String,
}

/// Turn a received message into its rows, tagged as `tag_rules` say. CPU-bound:
/// proportional to the size.
pub(crate) fn prepare(message: NewMessage, tag_rules: &TagRules) -> Result<PreparedMessage, SubmitError> {
    let NewMessage { raw, mut envelope, received_at } = message;
    let parsed = mail::summarize(&raw);
    let compressed = compress(&raw).map_err(|e| SubmitError::Failed(format!("cannot compress the message: {e}")))?;
    let received_ms = unix_ms(received_at);
    let username = envelope.auth_user.clone().unwrap_or_default();
    let inbox = match envelope.auth_user.as_deref() {
        Some(user) if !user.is_empty() => user.to_owned(),
        _ => DEFAULT_INBOX.to_owned(),
    };
    let from_list: &[_] = if parsed.from == Address::default() { &[] } else { std::slice::from_ref(&parsed.from) };
    let addresses = AddressColumns {
        from: addresses_to_json(from_list),
        to: addresses_to_json(&parsed.to),
        cc: addresses_to_json(&parsed.cc),
        bcc: addresses_to_json(&parsed.bcc),
        reply_to: addresses_to_json(&parsed.reply_to),
    };
    let rcpt_json = serde_json::to_string(&envelope.rcpt_to).expect("strings always serialise");
    let api_json = envelope.api.take().map(|api| {
        // Sized for the recorded request, which is most of it: grown from
        // serde_json's default, a request of a few KiB is copied at every step.
        let mut json = Vec::with_capacity(api.request.len() + api.provider_message_id.len() + 64);
        serde_json::to_writer(&mut json, &api).expect("strings always serialise");
        String::from_utf8(json).expect("serde_json writes UTF-8")
    });
    let simulation_json =
        envelope.simulation.take().map(|outcome| serde_json::to_string(&outcome).expect("strings always serialise"));
    let tags = tags::for_new_message(&parsed, &envelope.rcpt_to, &username, tag_rules);
    Ok(PreparedMessage {
        summary: MessageSummary {
            id: MessageId::generate(received_ms),
            message_id: parsed.message_id,
            read: false,
            from: parsed.from,
            to: parsed.to,
            cc: parsed.cc,
            bcc: parsed.bcc,
            reply_to: parsed.reply_to,
            subject: parsed.subject,
            created: from_unix_ms(received_ms),
            username,
            tags,
            size: raw.len() as u64,
            attachments: parsed.attachments,
            snippet: parsed.snippet,
            inbox: inbox.clone(),
        },
        inbox,
        received_ms,
        date_ms: parsed.date.map(unix_ms),
        inlines: parsed.inlines,
        addresses,
        search: parsed.search,
        compressed,
        envelope,
        rcpt_json,
        api_json,
        simulation_json,
    })
}

fn compress(raw: &[u8]) -> io::Result<Vec<u8>> {
    COMPRESSOR.with_borrow_mut(|compressor| {
        let compressor = match compressor {
            Some(compressor) => compressor,
            None => compressor.insert(zstd::bulk::Compressor::new(ZSTD_LEVEL)?),
        };
        compressor.compress(raw)
    })
}
