//! How values are written into columns and read back, in one place so the writer
//! and the readers cannot disagree: address lists, timestamps, message IDs.

use time::OffsetDateTime;

use crate::mail::Address;

/// Address lists as a JSON array of `[name, address]` pairs.
pub(super) fn addresses_to_json(addresses: &[Address]) -> String {
    let pairs: Vec<(&str, &str)> = addresses.iter().map(|a| (a.name.as_str(), a.address.as_str())).collect();
    serde_json::to_string(&pairs).expect("string pairs always serialise")
}

pub(super) fn addresses_from_json(json: &str) -> serde_json::Result<Vec<Address>> {
    let pairs: Vec<(String, String)> = serde_json::from_str(json)?;
    Ok(pairs.into_iter().map(|(name, address)| Address { name, address }).collect())
}

/// Times are stored as Unix milliseconds (UTC).
pub(super) fn unix_ms(time: OffsetDateTime) -> i64 {
    (time.unix_timestamp_nanos() / 1_000_000) as i64
}

/// The inverse of [`unix_ms`]; out-of-range values (only a hand-edited file has
/// them) read as the epoch rather than failing a whole page.
pub(super) fn from_unix_ms(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// A new public message ID: 22 alphanumeric characters, like Mailpit's short
/// UUIDs. The first 8 encode the time received (ms) and the other 14 are random
/// (about 83 bits from a v4 UUID). Time first makes IDs ascend, so the unique index
/// over them grows at its end instead of splitting pages all over: that halves the
/// cost of inserting a summary row.
pub(super) fn new_message_id(received_ms: i64) -> String {
    const TIME_DIGITS: usize = 8; // 62^8 ms is about 6,900 years
    let mut id = [0u8; 22];
    let (time, random) = id.split_at_mut(TIME_DIGITS);
    base62(received_ms.max(0) as u128, time);
    base62(uuid::Uuid::new_v4().as_u128(), random);
    String::from_utf8(id.to_vec()).expect("alphabet is ASCII")
}

/// The time received (Unix ms) that a message ID from [`new_message_id`] encodes,
/// or `None` when `id` is not one of ours (not 22 alphanumerics).
pub(super) fn message_id_time(id: &str) -> Option<i64> {
    if id.len() != 22 || !id.bytes().all(|c| c.is_ascii_alphanumeric()) {
        return None;
    }
    let ms = id.bytes().take(8).fold(0i64, |ms, c| {
        let digit = match c {
            b'0'..=b'9' => c - b'0',
            b'A'..=b'Z' => c - b'A' + 10,
            _ => c - b'a' + 36,
        };
        ms * 62 + i64::from(digit)
    });
    Some(ms)
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
    fn addresses_round_trip() {
        let list = vec![
            Address { name: "Jürgen \"J\" O'Brien".into(), address: "j@example.com".into() },
            Address { name: String::new(), address: "x@example.com".into() },
        ];
        let json = addresses_to_json(&list);
        assert!(!json.contains("Name"));
        assert_eq!(addresses_from_json(&json).unwrap(), list);
        assert_eq!(addresses_to_json(&[]), "[]");
    }

    #[test]
    fn times_round_trip_at_millisecond_precision() {
        let t = time::macros::datetime!(2025-07-01 10:20:30.123456 UTC);
        assert_eq!(from_unix_ms(unix_ms(t)), time::macros::datetime!(2025-07-01 10:20:30.123 UTC));
        assert_eq!(from_unix_ms(i64::MAX), OffsetDateTime::UNIX_EPOCH);
    }

    #[test]
    fn message_ids_are_22_alphanumerics_ascending_with_time() {
        let a = new_message_id(1_751_358_030_000);
        let b = new_message_id(1_751_358_030_000);
        let later = new_message_id(1_751_358_030_001);
        assert_eq!(a.len(), 22);
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a, b);
        assert_eq!(a[..8], b[..8]);
        assert!(later > a && later > b);
        assert!(new_message_id(62i64.pow(8) - 1) > later);
    }

    #[test]
    fn message_ids_give_back_their_time() {
        for ms in [0, 1, 1_751_358_030_123, 62i64.pow(8) - 1] {
            assert_eq!(message_id_time(&new_message_id(ms)), Some(ms));
        }
        assert_eq!(message_id_time("short"), None);
        assert_eq!(message_id_time("0000000000000000000-00"), None);
    }
}
