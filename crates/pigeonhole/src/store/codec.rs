//! How values are written into columns and read back, in one place so the writer
//! and the readers cannot disagree: address lists and timestamps.

use time::OffsetDateTime;

use crate::model::Address;

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
}
