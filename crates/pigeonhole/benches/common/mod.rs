//! What the store benches share: a message as the SMTP listener would hand it
//! over, and a submit that waits out a full queue.

use pigeonhole::model::{Envelope, NewMessage};
use pigeonhole::store::{Store, SubmitError};
use time::OffsetDateTime;

/// `raw` with a fixed envelope, received now.
pub fn new_message(raw: &[u8]) -> NewMessage {
    NewMessage {
        raw: raw.to_vec(),
        envelope: Envelope {
            mail_from: "orders@shop.example".into(),
            rcpt_to: vec!["alice@example.com".into()],
            helo: "client.example".into(),
            peer: "127.0.0.1:50000".into(),
            ..Envelope::default()
        },
        received_at: OffsetDateTime::now_utc(),
    }
}

/// Submit, retrying while the queue is full (as an SMTP client retries a 451).
pub async fn submit(store: &Store, raw: &[u8]) {
    loop {
        match store.submit(new_message(raw)).await {
            Err(SubmitError::Busy) => tokio::task::yield_now().await,
            result => {
                result.expect("stored");
                return;
            }
        }
    }
}
