//! A stored message's public ID: 22 alphanumeric characters, like Mailpit's short
//! UUIDs. The first 8 encode the time received (ms) and the other 14 are random
//! (about 83 bits from a v4 UUID). Time first makes IDs ascend, so the unique index
//! over them grows at its end instead of splitting pages all over (that halves the
//! cost of inserting a summary row), and a deleted message's ID still tells when it
//! arrived.
//!
//! Every layer passes IDs as [`MessageId`]; one from outside (a URL, a request
//! body) is checked with [`MessageId::parse`] where it comes in, so an ID that
//! has not the shape of one is never looked up. On the wire it is a plain string:
//! fields of this type say so to utoipa (`value_type = String`) and ts-rs
//! (`type = "string"`).

use std::fmt;

use serde::Serialize;

/// How many leading characters hold the time: 62^8 ms is about 6,900 years.
const TIME_DIGITS: usize = 8;
const LENGTH: usize = 22;

/// A message ID this engine gave out, or one from outside that has its shape.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct MessageId(String);

impl MessageId {
    /// A new ID for a message received at `received_ms` (Unix ms).
    pub fn generate(received_ms: i64) -> MessageId {
        let mut id = [0u8; LENGTH];
        let (time, random) = id.split_at_mut(TIME_DIGITS);
        base62(received_ms.max(0) as u128, time);
        base62(uuid::Uuid::new_v4().as_u128(), random);
        MessageId(String::from_utf8(id.to_vec()).expect("alphabet is ASCII"))
    }

    /// `text` as an ID, or `None` when it has not the shape of one (22
    /// alphanumerics): a cheap check of an ID from outside before any lookup.
    pub fn parse(text: &str) -> Option<MessageId> {
        (text.len() == LENGTH && text.bytes().all(|c| c.is_ascii_alphanumeric())).then(|| MessageId(text.to_owned()))
    }

    /// An ID read back from the store, which holds only IDs made by
    /// [`MessageId::generate`]: not checked again.
    pub(crate) fn stored(text: String) -> MessageId {
        MessageId(text)
    }

    /// The time received (Unix ms) that the ID encodes.
    pub fn received_ms(&self) -> i64 {
        self.0.bytes().take(TIME_DIGITS).fold(0i64, |ms, c| {
            let digit = match c {
                b'0'..=b'9' => c - b'0',
                b'A'..=b'Z' => c - b'A' + 10,
                _ => c - b'a' + 36,
            };
            ms * 62 + i64::from(digit)
        })
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Write the lowest `digits.len()` base-62 digits of `value`, most significant
/// first. The alphabet is in ASCII order, so IDs sort like their numbers.
fn base62(mut value: u128, digits: &mut [u8]) {
    const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    for digit in digits.iter_mut().rev() {
        *digit = ALPHABET[(value % 62) as usize];
        value /= 62;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_ids_are_22_alphanumerics_ascending_with_time() {
        let a = MessageId::generate(1_751_358_030_000);
        let b = MessageId::generate(1_751_358_030_000);
        let later = MessageId::generate(1_751_358_030_001);
        assert_eq!(a.as_str().len(), 22);
        assert!(a.as_str().bytes().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a, b);
        assert_eq!(a.as_str()[..8], b.as_str()[..8]);
        assert!(later > a && later > b);
        assert!(MessageId::generate(62i64.pow(8) - 1) > later);
    }

    #[test]
    fn message_ids_give_back_their_time() {
        for ms in [0, 1, 1_751_358_030_123, 62i64.pow(8) - 1] {
            let id = MessageId::generate(ms);
            assert_eq!(MessageId::parse(id.as_str()).map(|id| id.received_ms()), Some(ms));
        }
        assert_eq!(MessageId::parse("short"), None);
        assert_eq!(MessageId::parse("0000000000000000000-00"), None);
    }
}
