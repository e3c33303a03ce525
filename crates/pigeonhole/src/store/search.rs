//! Mailpit's search syntax, turned into a parameterised SQL condition over
//! `messages m`.
//!
//! The query is split on spaces; double quotes group a phrase (and are dropped); a
//! leading `-` or `!` negates a term; all terms must hold. Field terms (`from:`,
//! `subject:`, …) are case-insensitive substring matches as in Mailpit. Free text
//! goes to the FTS5 index, where it matches whole words and word prefixes ("inv"
//! finds "invoice", "voice" does not), which is what makes it fast on 50,000
//! messages; messages not indexed yet (the last few milliseconds' worth) are
//! matched by substring instead. User text only ever reaches SQLite as a bound parameter; free text is
//! additionally quoted as an FTS5 string so that FTS5 operators in it are inert.

use rusqlite::types::Value;
use time::format_description::well_known::Rfc3339;
use time::{Date, Month, OffsetDateTime};

use super::codec::unix_ms;
use super::{AddressSearch, Position};
use crate::model::MessageId;

/// A SQL boolean expression over `messages m` and the values bound to its `?`s.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Condition {
    pub sql: String,
    pub params: Vec<Value>,
}

impl Condition {
    /// Every message.
    pub fn everything() -> Condition {
        Condition { sql: "1".into(), params: Vec::new() }
    }

    /// The messages with these public IDs.
    pub fn ids(ids: &[MessageId]) -> Condition {
        let list = serde_json::to_string(ids).expect("IDs always serialise");
        Condition { sql: "m.id IN (SELECT value FROM json_each(?))".into(), params: vec![Value::Text(list)] }
    }

    /// The messages stored after `position`.
    pub fn after(position: Position) -> Condition {
        let (sql, value) = match position {
            Position::Stored(seq) => ("m.seq > ?", seq),
            Position::ReceivedMs(ms) => ("m.received_ms > ?", ms),
            Position::ReceivedSince(ms) => ("m.received_ms >= ?", ms),
        };
        Condition { sql: sql.into(), params: vec![Value::Integer(value)] }
    }

    /// The messages matching both conditions.
    pub fn and(self, other: Condition) -> Condition {
        let mut params = self.params;
        params.extend(other.params);
        Condition { sql: format!("({}) AND ({})", self.sql, other.sql), params }
    }

    /// The messages whose envelope or header sender or recipients contain `value`
    /// (an empty value matches all).
    pub fn addresses(kind: AddressSearch, value: &str) -> Condition {
        let Some(pattern) = like_pattern(value) else { return Condition::everything() };
        let (envelope, header) = match kind {
            AddressSearch::From => ("mail_from", "m.from_addrs"),
            AddressSearch::To => ("rcpt_to", "m.to_addrs"),
        };
        Condition {
            sql: format!(
                "m.seq IN (SELECT seq FROM envelopes WHERE {envelope} LIKE ? ESCAPE '\\') \
                 OR {header} LIKE ? ESCAPE '\\'"
            ),
            params: vec![Value::Text(pattern.clone()), Value::Text(pattern)],
        }
    }

    /// The messages matching a Mailpit search query (an empty query matches all).
    pub fn search(query: &str) -> Condition {
        let mut clauses = Vec::new();
        let mut params = Vec::new();
        for token in tokenize(query) {
            let (negated, term) = match token.strip_prefix(['-', '!']) {
                Some(rest) if !rest.is_empty() => (true, rest),
                _ => (false, token.as_str()),
            };
            // Like Mailpit, a term without a letter or digit filters nothing.
            if !term.chars().any(char::is_alphanumeric) {
                continue;
            }
            if let Some((sql, values)) = term_condition(term) {
                clauses.push(if negated { format!("NOT ({sql})") } else { format!("({sql})") });
                params.extend(values);
            }
        }
        if clauses.is_empty() {
            return Condition::everything();
        }
        Condition { sql: clauses.join(" AND "), params }
    }
}

/// Split like Mailpit: on whitespace, except inside double quotes; quotes removed.
fn tokenize(query: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for c in query.chars() {
        match c {
            '"' => quoted = !quoted,
            c if c.is_whitespace() && !quoted => {
                if !current.is_empty() {
                    tokens.push(std::mem::take(&mut current));
                }
            }
            c => current.push(c),
        }
    }
    if !current.is_empty() {
        tokens.push(current);
    }
    tokens
}

/// The condition for one (un-negated) term, or `None` when it filters nothing
/// (an empty field value, an unparseable date).
fn term_condition(term: &str) -> Option<(String, Vec<Value>)> {
    const ADDRESS_FIELDS: [(&str, &str); 5] = [
        ("from:", "m.from_addrs"),
        ("to:", "m.to_addrs"),
        ("cc:", "m.cc_addrs"),
        ("bcc:", "m.bcc_addrs"),
        ("reply-to:", "m.reply_to_addrs"),
    ];
    let value_after = |prefix: &str| {
        term.get(..prefix.len()).is_some_and(|p| p.eq_ignore_ascii_case(prefix)).then(|| &term[prefix.len()..])
    };

    for (prefix, column) in ADDRESS_FIELDS {
        if let Some(value) = value_after(prefix) {
            return like(column, &clean_address(value));
        }
    }
    if let Some(value) = value_after("addressed:") {
        let pattern = like_pattern(&clean_address(value))?;
        let any = ADDRESS_FIELDS.map(|(_, column)| format!("{column} LIKE ? ESCAPE '\\'")).join(" OR ");
        return Some((any, vec![Value::Text(pattern); ADDRESS_FIELDS.len()]));
    }
    if let Some(value) = value_after("subject:") {
        return like("m.subject", value);
    }
    if let Some(value) = value_after("message-id:") {
        return like("m.message_id", &clean_address(value));
    }
    if let Some(value) = value_after("inbox:") {
        return Some(("m.inbox_id IN (SELECT id FROM inboxes WHERE name = ?)".into(), vec![text(value)]));
    }
    if let Some(value) = value_after("tag:") {
        return Some((
            "m.seq IN (SELECT mt.seq FROM message_tags mt JOIN tags t ON t.id = mt.tag_id WHERE t.name = ?)".into(),
            vec![text(value)],
        ));
    }
    let flag = match term.to_ascii_lowercase().as_str() {
        "is:read" => Some("m.read = 1"),
        "is:unread" => Some("m.read = 0"),
        "is:tagged" => Some("m.seq IN (SELECT seq FROM message_tags)"),
        "has:attachment" | "has:attachments" => Some("m.attachments > 0"),
        "has:inline" | "has:inlines" => Some("m.inlines > 0"),
        _ => None,
    };
    if let Some(sql) = flag {
        return Some((sql.into(), vec![]));
    }
    if let Some(value) = value_after("after:") {
        let ms = parse_date(value)?;
        return Some(("m.received_ms >= ?".into(), vec![Value::Integer(ms)]));
    }
    if let Some(value) = value_after("before:") {
        let ms = parse_date(value)?;
        return Some(("m.received_ms <= ?".into(), vec![Value::Integer(ms)]));
    }
    // A size term with a size that does not parse is searched as text, as Mailpit does.
    if let Some(bytes) = value_after("larger:").and_then(parse_size) {
        return Some(("m.size > ?".into(), vec![Value::Integer(bytes)]));
    }
    if let Some(bytes) = value_after("smaller:").and_then(parse_size) {
        return Some(("m.size < ?".into(), vec![Value::Integer(bytes)]));
    }
    free_text(term)
}

/// Free text: the FTS5 index, plus a substring match over the text of messages
/// the writer has not indexed yet (see `fts_pending` in the schema), so that a
/// message is found the moment it is acknowledged.
fn free_text(term: &str) -> Option<(String, Vec<Value>)> {
    let pending = like_pattern(term)?;
    Some((
        "m.seq IN (SELECT rowid FROM messages_fts WHERE messages_fts MATCH ?) \
         OR m.seq IN (SELECT seq FROM fts_pending \
             WHERE (subject || ' ' || addresses || ' ' || body || ' ' || attachment_names) LIKE ? ESCAPE '\\')"
            .into(),
        vec![text(&fts_prefix_phrase(term)), Value::Text(pending)],
    ))
}

/// `column LIKE %value%`, or `None` for an empty value.
fn like(column: &str, value: &str) -> Option<(String, Vec<Value>)> {
    let pattern = like_pattern(value)?;
    Some((format!("{column} LIKE ? ESCAPE '\\'"), vec![Value::Text(pattern)]))
}

/// `%value%` with LIKE's wildcards in the value escaped, so they match literally.
fn like_pattern(value: &str) -> Option<String> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    let mut pattern = String::with_capacity(value.len() + 2);
    pattern.push('%');
    for c in value.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    Some(pattern)
}

/// Address terms drop what surrounds addresses in headers (`<>`, `"`, `,`, `;`,
/// `()`), as Mailpit does, so `to:<bob@example.com>` finds Bob.
fn clean_address(value: &str) -> String {
    value.chars().filter(|c| !matches!(c, '<' | '>' | '"' | ',' | ';' | '(' | ')')).collect()
}

/// One FTS5 string (quotes doubled, so operators and column filters are inert),
/// whose last word may be a prefix: `inv` finds "invoice", `big inv` the phrase
/// "big invoice". FTS5 reads the query as a C string, so a NUL would end it inside
/// the quotes ("unterminated string"): it becomes a space.
fn fts_prefix_phrase(term: &str) -> String {
    format!("\"{}\" *", term.replace('"', "\"\"").replace('\0', " "))
}

fn text(value: &str) -> Value {
    Value::Text(value.to_owned())
}

/// `YYYY-MM-DD` or `YYYY/MM/DD` (midnight UTC), or an RFC 3339 time, as Unix ms.
fn parse_date(value: &str) -> Option<i64> {
    let value = value.trim();
    if let Ok(time) = OffsetDateTime::parse(value, &Rfc3339) {
        return Some(unix_ms(time));
    }
    let mut parts = value.split(['-', '/']);
    let year: i32 = parts.next()?.parse().ok()?;
    let month: u8 = parts.next()?.parse().ok()?;
    let day: u8 = parts.next()?.parse().ok()?;
    if parts.next().is_some() {
        return None;
    }
    let date = Date::from_calendar_date(year, Month::try_from(month).ok()?, day).ok()?;
    Some(unix_ms(date.midnight().assume_utc()))
}

/// Mailpit's sizes: a number with an optional K/KB/M/MB unit (1024-based).
fn parse_size(value: &str) -> Option<i64> {
    let value = value.trim().to_ascii_lowercase();
    let digits_end = value.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(value.len());
    let (number, unit) = value.split_at(digits_end);
    let number: f64 = number.parse().ok()?;
    let multiplier = match unit.trim() {
        "" => 1.0,
        "k" | "kb" => 1024.0,
        "m" | "mb" => 1024.0 * 1024.0,
        _ => return None,
    };
    let bytes = (number * multiplier) as i64;
    (bytes > 0).then_some(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokenizes_like_mailpit() {
        assert_eq!(tokenize(r#"  a  subject:"big invoice" -"x y" !b "#), ["a", "subject:big invoice", "-x y", "!b"]);
        assert_eq!(tokenize(r#""unterminated phrase"#), ["unterminated phrase"]);
        assert!(tokenize("   ").is_empty());
    }

    #[test]
    fn builds_parameterised_conditions() {
        let c = Condition::search(r#"from:bob -subject:"50% off" is:unread"#);
        assert_eq!(c.sql, "(m.from_addrs LIKE ? ESCAPE '\\') AND NOT (m.subject LIKE ? ESCAPE '\\') AND (m.read = 0)");
        assert_eq!(c.params, vec![text("%bob%"), text("%50\\% off%")]);
    }

    #[test]
    fn and_keeps_both_sides_and_their_params_in_order() {
        let c = Condition::ids(&[MessageId::stored("x".into())]).and(Condition::search("subject:hi"));
        assert_eq!(c.sql, "(m.id IN (SELECT value FROM json_each(?))) AND ((m.subject LIKE ? ESCAPE '\\'))");
        assert_eq!(c.params, vec![text(r#"["x"]"#), text("%hi%")]);
    }

    #[test]
    fn address_searches_look_at_envelope_and_header() {
        let c = Condition::addresses(AddressSearch::To, "50%_off");
        assert_eq!(
            c.sql,
            "m.seq IN (SELECT seq FROM envelopes WHERE rcpt_to LIKE ? ESCAPE '\\') OR m.to_addrs LIKE ? ESCAPE '\\'"
        );
        assert_eq!(c.params, vec![text("%50\\%\\_off%"); 2]);
        assert_eq!(Condition::addresses(AddressSearch::From, "  "), Condition::everything());
    }

    #[test]
    fn free_text_is_an_inert_fts_string() {
        let c = Condition::search(r#"NEAR(a b) col:x*"#);
        let fts: Vec<_> = c.params.iter().step_by(2).cloned().collect();
        assert_eq!(fts, vec![text("\"NEAR(a\" *"), text("\"b)\" *"), text("\"col:x*\" *")]);
        let pending: Vec<_> = c.params.iter().skip(1).step_by(2).cloned().collect();
        assert_eq!(pending, vec![text("%NEAR(a%"), text("%b)%"), text("%col:x*%")]);
    }

    #[test]
    fn ignores_terms_that_filter_nothing() {
        assert_eq!(Condition::search("- ! from: before:notadate \"\" ..."), Condition::everything());
    }

    #[test]
    fn parses_dates_and_sizes() {
        assert_eq!(parse_date("2024-01-02"), Some(1_704_153_600_000));
        assert_eq!(parse_date("2024/01/02"), Some(1_704_153_600_000));
        assert_eq!(parse_date("2024-01-02T01:00:00+01:00"), Some(1_704_153_600_000));
        assert_eq!(parse_date("2024-02-30"), None);
        assert_eq!(parse_size("2k"), Some(2048));
        assert_eq!(parse_size("1.5MB"), Some(1_572_864));
        assert_eq!(parse_size("100"), Some(100));
        assert_eq!(parse_size("lots"), None);
        assert!(Condition::search("larger:lots").sql.starts_with("(m.seq IN (SELECT rowid FROM messages_fts"));
    }
}
