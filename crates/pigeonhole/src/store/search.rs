//! Mailpit's search syntax, turned into a parameterised SQL condition over
//! `messages m`.
//!
//! The query is split on spaces; double quotes group a phrase (and are dropped); a
//! leading `-` or `!` negates a term; all terms must hold. Field terms (`from:`,
//! `subject:`, …) are case-insensitive substring matches as in Mailpit. Free text
//! is a case-insensitive substring match too ("voice" finds "invoice"), answered
//! by the FTS5 trigram index: a term is the phrase of its three-character
//! sequences, which is what makes it fast on 100,000 messages. What the index
//! cannot answer is matched with LIKE: messages not indexed yet (the last few
//! milliseconds' worth), and terms shorter than three characters, which have no
//! trigram (a scan of all the text, slower). `before:` and `after:` dates are read
//! in the search's time zone. User text only ever reaches SQLite as a bound
//! parameter; free text is additionally quoted as an FTS5 string so that FTS5
//! operators in it are inert.
//!
//! The same parse serves the PostgreSQL backend ([`Dialect::Postgres`]): only what
//! the two databases spell differently branches on the dialect — case-insensitive
//! matching (SQLite's LIKE is ASCII case-insensitive already; PostgreSQL's ILIKE),
//! free text (there `message_text` with a `pg_trgm` GIN index answers ILIKE
//! '%term%', the same substring semantics, and `text_pending` the text not moved
//! into it yet, as SQLite's `fts_pending`), and a JSON
//! list of IDs (`json_each` vs `jsonb_array_elements_text`). Placeholders are `?`
//! in both; the PostgreSQL backend numbers them ([`numbered`]).

use jiff::Timestamp;
use jiff::civil::{Date, DateTime, Time};
use jiff::tz::TimeZone;
use rusqlite::types::Value;

use super::{AddressSearch, Position, SearchQuery, Selection};
use crate::model::MessageId;

/// Which database's SQL a [`Condition`] is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// The case-insensitive substring operator.
    fn like(self) -> &'static str {
        match self {
            Dialect::Sqlite => "LIKE",
            Dialect::Postgres => "ILIKE",
        }
    }
}

/// `sql` with its `?` placeholders numbered `$1`, `$2`… as PostgreSQL wants them
/// (no `?` appears in the SQL this module writes other than as a placeholder).
pub(super) fn numbered(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut n = 0;
    for c in sql.chars() {
        if c == '?' {
            n += 1;
            out.push('$');
            out.push_str(&n.to_string());
        } else {
            out.push(c);
        }
    }
    out
}

/// A SQL boolean expression over `messages m` and the values bound to its `?`s.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Condition {
    pub sql: String,
    pub params: Vec<Value>,
}

impl Condition {
    /// Every message.
    pub fn everything() -> Condition {
        Condition { sql: "TRUE".into(), params: Vec::new() }
    }

    /// The messages with these public IDs.
    pub fn ids(ids: &[MessageId], dialect: Dialect) -> Condition {
        let list = serde_json::to_string(ids).expect("IDs always serialise");
        let sql = match dialect {
            Dialect::Sqlite => "m.id IN (SELECT value FROM json_each(?))",
            Dialect::Postgres => "m.id IN (SELECT jsonb_array_elements_text(CAST(? AS text)::jsonb))",
        };
        Condition { sql: sql.into(), params: vec![Value::Text(list)] }
    }

    /// Which messages a selection names.
    pub fn selected(selection: Selection, dialect: Dialect) -> Condition {
        match selection {
            Selection::All => Condition::everything(),
            Selection::Ids(ids) => Condition::ids(&ids, dialect),
            Selection::Search(query) => Condition::matching(&query, dialect),
            Selection::Within(inboxes, selection) => {
                Condition::selected(*selection, dialect).and(Condition::inboxes(&inboxes))
            }
        }
    }

    /// The messages a search matches, within its inboxes when it names some.
    pub fn matching(query: &SearchQuery, dialect: Dialect) -> Condition {
        let condition = Condition::search_in(&query.text, &query.zone, dialect);
        match &query.inboxes {
            Some(inboxes) => condition.and(Condition::inboxes(inboxes)),
            None => condition,
        }
    }

    /// The messages in these inboxes (by name): plain SQL, one `?` per inbox.
    pub fn inboxes(names: &[String]) -> Condition {
        let marks = vec!["?"; names.len()].join(", ");
        Condition {
            sql: format!("m.inbox_id IN (SELECT id FROM inboxes WHERE name IN ({marks}))"),
            params: names.iter().map(|name| text(name)).collect(),
        }
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
    pub fn addresses(kind: AddressSearch, value: &str, dialect: Dialect) -> Condition {
        let Some(pattern) = like_pattern(value) else { return Condition::everything() };
        let (envelope, header) = match kind {
            AddressSearch::From => ("mail_from", "m.from_addrs"),
            AddressSearch::To => ("rcpt_to", "m.to_addrs"),
        };
        let like = dialect.like();
        Condition {
            sql: format!(
                "m.seq IN (SELECT seq FROM envelopes WHERE {envelope} {like} ? ESCAPE '\\') \
                 OR {header} {like} ? ESCAPE '\\'"
            ),
            params: vec![Value::Text(pattern.clone()), Value::Text(pattern)],
        }
    }

    /// The messages matching a Mailpit search query (an empty query matches all),
    /// its dates read in UTC.
    #[cfg(test)]
    pub fn search(query: &str, dialect: Dialect) -> Condition {
        Condition::search_in(query, &TimeZone::UTC, dialect)
    }

    /// The messages matching a Mailpit search query, its dates read in `zone`.
    pub fn search_in(query: &str, zone: &TimeZone, dialect: Dialect) -> Condition {
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
            if let Some((sql, values)) = term_condition(term, zone, dialect) {
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
fn term_condition(term: &str, zone: &TimeZone, dialect: Dialect) -> Option<(String, Vec<Value>)> {
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
            return like(column, &clean_address(value), dialect);
        }
    }
    if let Some(value) = value_after("addressed:") {
        let pattern = like_pattern(&clean_address(value))?;
        let like = dialect.like();
        let any = ADDRESS_FIELDS.map(|(_, column)| format!("{column} {like} ? ESCAPE '\\'")).join(" OR ");
        return Some((any, vec![Value::Text(pattern); ADDRESS_FIELDS.len()]));
    }
    if let Some(value) = value_after("subject:") {
        return like("m.subject", value, dialect);
    }
    if let Some(value) = value_after("message-id:") {
        return like("m.message_id", &clean_address(value), dialect);
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
        let ms = parse_date(value, zone)?;
        return Some(("m.received_ms >= ?".into(), vec![Value::Integer(ms)]));
    }
    if let Some(value) = value_after("before:") {
        let ms = parse_date(value, zone)?;
        return Some(("m.received_ms <= ?".into(), vec![Value::Integer(ms)]));
    }
    // A size term with a size that does not parse is searched as text, as Mailpit does.
    if let Some(bytes) = value_after("larger:").and_then(parse_size) {
        return Some(("m.size > ?".into(), vec![Value::Integer(bytes)]));
    }
    if let Some(bytes) = value_after("smaller:").and_then(parse_size) {
        return Some(("m.size < ?".into(), vec![Value::Integer(bytes)]));
    }
    match dialect {
        Dialect::Sqlite => free_text(term),
        Dialect::Postgres => free_text_postgres(term),
    }
}

/// The trigram tokenizer's unit: shorter text has nothing in the index.
const TRIGRAM: usize = 3;

/// Free text: the trigram index, plus a substring match over the text it cannot
/// answer for. That is the text of messages the writer has not indexed yet (see
/// `fts_pending` in the schema), so that a message is found the moment it is
/// acknowledged; for a term shorter than a trigram, whose index lookup finds
/// nothing (quickly), it is all the text, the indexed messages' included.
fn free_text(term: &str) -> Option<(String, Vec<Value>)> {
    let pattern = like_pattern(term)?;
    let unindexed = if term.trim().chars().count() < TRIGRAM {
        "(SELECT seq, subject, addresses, body, attachment_names FROM message_text \
         UNION ALL SELECT seq, subject, addresses, body, attachment_names FROM fts_pending)"
    } else {
        "fts_pending"
    };
    Some((
        format!(
            "m.seq IN (SELECT rowid FROM messages_fts WHERE messages_fts MATCH ?) \
             OR m.seq IN (SELECT seq FROM {unindexed} \
                 WHERE (subject || ' ' || addresses || ' ' || body || ' ' || attachment_names) LIKE ? ESCAPE '\\')"
        ),
        vec![text(&fts_prefix_phrase(term)), Value::Text(pattern)],
    ))
}

/// Free text in PostgreSQL: ILIKE over `message_text`'s document, the expression
/// its `pg_trgm` GIN index is built on (see `postgres::schema`), so a term of three
/// characters or more is answered by the index and a shorter one by a scan, as
/// in SQLite; and over `text_pending`, the text not moved into the index yet (a
/// few thousand messages at most), so a message is found once it is acknowledged.
fn free_text_postgres(term: &str) -> Option<(String, Vec<Value>)> {
    let pattern = like_pattern(term)?;
    let document = "(subject || ' ' || addresses || ' ' || body || ' ' || attachment_names) ILIKE ? ESCAPE '\\'";
    Some((
        format!(
            "m.seq IN (SELECT seq FROM message_text WHERE {document}) \
             OR m.seq IN (SELECT seq FROM text_pending WHERE {document})"
        ),
        vec![Value::Text(pattern.clone()), Value::Text(pattern)],
    ))
}

/// `column LIKE %value%` (ILIKE in PostgreSQL), or `None` for an empty value.
fn like(column: &str, value: &str, dialect: Dialect) -> Option<(String, Vec<Value>)> {
    let pattern = like_pattern(value)?;
    Some((format!("{column} {} ? ESCAPE '\\'", dialect.like()), vec![Value::Text(pattern)]))
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

/// One FTS5 string (quotes doubled, so operators and column filters are inert):
/// the trigram tokenizer turns it into the phrase of its trigrams, which matches
/// exactly where the term is a substring (`voice` finds "invoice", `big inv` finds
/// "a big invoice"); the trailing `*` asks for the last trigram as a prefix, and
/// a full trigram is its own only prefix. FTS5 reads the query as a C string, so
/// a NUL would end it inside the quotes ("unterminated string"): it becomes a space.
fn fts_prefix_phrase(term: &str) -> String {
    format!("\"{}\" *", term.replace('"', "\"\"").replace('\0', " "))
}

fn text(value: &str) -> Value {
    Value::Text(value.to_owned())
}

/// Calendar dates `before:` and `after:` take, as Mailpit's date parser reads
/// them (US order for slashes after the month: `01/04/2024` is January 4).
const DATE_FORMATS: &[&str] = &[
    "%Y-%m-%d",
    "%Y/%m/%d",
    "%Y.%m.%d",
    "%m/%d/%Y",
    "%d %b %Y",
    "%d %B %Y",
    "%d-%b-%Y",
    "%b %d %Y",
    "%B %d %Y",
    "%b %d, %Y",
    "%B %d, %Y",
];

/// Dates with a time of day and no offset.
const DATETIME_FORMATS: &[&str] = &[
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
];

/// A `before:`/`after:` value as Unix ms: a time with an offset (RFC 3339) as
/// written; a date (midnight) or a date and time without one in `zone`;
/// `YYYYMMDD`; Unix seconds (10 digits) or milliseconds (13 digits).
fn parse_date(value: &str, zone: &TimeZone) -> Option<i64> {
    let value = value.trim();
    if let Ok(time) = value.parse::<Timestamp>() {
        return Some(time.as_millisecond());
    }
    let civil = if value.bytes().all(|b| b.is_ascii_digit()) {
        match value.len() {
            8 => Date::strptime("%Y%m%d", value).ok()?.to_datetime(Time::midnight()),
            10 => return Some(Timestamp::from_second(value.parse().ok()?).ok()?.as_millisecond()),
            13 => return Some(Timestamp::from_millisecond(value.parse().ok()?).ok()?.as_millisecond()),
            _ => return None,
        }
    } else if let Some(date) = DATE_FORMATS.iter().find_map(|format| Date::strptime(format, value).ok()) {
        date.to_datetime(Time::midnight())
    } else {
        DATETIME_FORMATS.iter().find_map(|format| DateTime::strptime(format, value).ok())?
    };
    // A time a clock change skips or repeats reads as the later or earlier
    // moment respectively (jiff's "compatible", as RFC 5545 does).
    Some(civil.to_zoned_datetime(zone.clone()).ok()?.timestamp().as_millisecond())
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
        let c = Condition::search(r#"from:bob -subject:"50% off" is:unread"#, Dialect::Sqlite);
        assert_eq!(c.sql, "(m.from_addrs LIKE ? ESCAPE '\\') AND NOT (m.subject LIKE ? ESCAPE '\\') AND (m.read = 0)");
        assert_eq!(c.params, vec![text("%bob%"), text("%50\\% off%")]);
    }

    #[test]
    fn and_keeps_both_sides_and_their_params_in_order() {
        let c = Condition::ids(&[MessageId::stored("x".into())], Dialect::Sqlite)
            .and(Condition::search("subject:hi", Dialect::Sqlite));
        assert_eq!(c.sql, "(m.id IN (SELECT value FROM json_each(?))) AND ((m.subject LIKE ? ESCAPE '\\'))");
        assert_eq!(c.params, vec![text(r#"["x"]"#), text("%hi%")]);
    }

    #[test]
    fn inboxes_are_one_parameter_each() {
        let c = Condition::inboxes(&["a".to_owned(), "b'c".to_owned()]);
        assert_eq!(c.sql, "m.inbox_id IN (SELECT id FROM inboxes WHERE name IN (?, ?))");
        assert_eq!(c.params, vec![text("a"), text("b'c")]);
    }

    #[test]
    fn address_searches_look_at_envelope_and_header() {
        let c = Condition::addresses(AddressSearch::To, "50%_off", Dialect::Sqlite);
        assert_eq!(
            c.sql,
            "m.seq IN (SELECT seq FROM envelopes WHERE rcpt_to LIKE ? ESCAPE '\\') OR m.to_addrs LIKE ? ESCAPE '\\'"
        );
        assert_eq!(c.params, vec![text("%50\\%\\_off%"); 2]);
        assert_eq!(Condition::addresses(AddressSearch::From, "  ", Dialect::Sqlite), Condition::everything());
    }

    #[test]
    fn free_text_is_an_inert_fts_string() {
        let c = Condition::search(r#"NEAR(a b) col:x*"#, Dialect::Sqlite);
        let fts: Vec<_> = c.params.iter().step_by(2).cloned().collect();
        assert_eq!(fts, vec![text("\"NEAR(a\" *"), text("\"b)\" *"), text("\"col:x*\" *")]);
        let pending: Vec<_> = c.params.iter().skip(1).step_by(2).cloned().collect();
        assert_eq!(pending, vec![text("%NEAR(a%"), text("%b)%"), text("%col:x*%")]);
    }

    #[test]
    fn postgres_spells_what_differs_its_own_way() {
        let c = Condition::search("from:bob tag:x abc", Dialect::Postgres);
        assert_eq!(
            numbered(&c.sql),
            "(m.from_addrs ILIKE $1 ESCAPE '\\') AND (m.seq IN (SELECT mt.seq FROM message_tags mt JOIN tags t \
             ON t.id = mt.tag_id WHERE t.name = $2)) AND (m.seq IN (SELECT seq FROM message_text \
             WHERE (subject || ' ' || addresses || ' ' || body || ' ' || attachment_names) ILIKE $3 ESCAPE '\\') \
             OR m.seq IN (SELECT seq FROM text_pending \
             WHERE (subject || ' ' || addresses || ' ' || body || ' ' || attachment_names) ILIKE $4 ESCAPE '\\'))"
        );
        assert_eq!(c.params, vec![text("%bob%"), text("x"), text("%abc%"), text("%abc%")]);
        let ids = Condition::ids(&[MessageId::stored("x".into())], Dialect::Postgres);
        assert_eq!(ids.sql, "m.id IN (SELECT jsonb_array_elements_text(CAST(? AS text)::jsonb))");
        assert_eq!(numbered("a = ? AND b IN (?, ?)"), "a = $1 AND b IN ($2, $3)");
    }

    #[test]
    fn ignores_terms_that_filter_nothing() {
        assert_eq!(Condition::search("- ! from: before:notadate \"\" ...", Dialect::Sqlite), Condition::everything());
    }

    #[test]
    fn parses_dates_and_sizes() {
        let utc = &TimeZone::UTC;
        assert_eq!(parse_date("2024-01-02", utc), Some(1_704_153_600_000));
        assert_eq!(parse_date("2024/01/02", utc), Some(1_704_153_600_000));
        assert_eq!(parse_date("2024-01-02T01:00:00+01:00", utc), Some(1_704_153_600_000));
        assert_eq!(parse_date("2024-02-30", utc), None);
        assert_eq!(parse_size("2k"), Some(2048));
        assert_eq!(parse_size("1.5MB"), Some(1_572_864));
        assert_eq!(parse_size("100"), Some(100));
        assert_eq!(parse_size("lots"), None);
        assert!(
            Condition::search("larger:lots", Dialect::Sqlite)
                .sql
                .starts_with("(m.seq IN (SELECT rowid FROM messages_fts")
        );
    }

    #[test]
    fn reads_dates_as_mailpit_does() {
        let utc = &TimeZone::UTC;
        let jan_2 = Some(1_704_153_600_000);
        for value in [
            "2024.01.02",
            "01/02/2024",
            "1/2/2024",
            "20240102",
            "2 Jan 2024",
            "2 January 2024",
            "02-Jan-2024",
            "Jan 2 2024",
            "January 2, 2024",
            "2024-01-02T00:00",
            "2024-01-02 00:00:00",
            "1704153600",
            "1704153600000",
        ] {
            assert_eq!(parse_date(value, utc), jan_2, "{value}");
        }
        assert_eq!(parse_date("2024-01-02 10:30", utc), Some(1_704_153_600_000 + 37_800_000));
        for value in ["", "13/01/2024", "2024-1", "tomorrow", "123", "2024-01-02T25:00"] {
            assert_eq!(parse_date(value, utc), None, "{value}");
        }
    }

    #[test]
    fn reads_dates_in_the_search_time_zone() {
        let berlin = TimeZone::get("Europe/Berlin").unwrap();
        // Midnight in Berlin: 23:00 UTC the day before in winter, 22:00 in summer.
        assert_eq!(parse_date("2024-01-02", &berlin), Some(1_704_153_600_000 - 3_600_000));
        assert_eq!(parse_date("2024-07-02", &berlin), Some(1_719_878_400_000 - 7_200_000));
        // An explicit offset wins over the zone.
        assert_eq!(parse_date("2024-01-02T00:00:00Z", &berlin), Some(1_704_153_600_000));
        // A time in the spring-forward gap reads as the moment after it.
        assert_eq!(parse_date("2024-03-31 02:30", &berlin), parse_date("2024-03-31T01:30:00Z", &berlin));
        let c = Condition::search_in("after:2024-01-02", &berlin, Dialect::Sqlite);
        assert_eq!(c.params, vec![Value::Integer(1_704_153_600_000 - 3_600_000)]);
    }

    #[test]
    fn short_free_text_scans_all_the_text() {
        let short = Condition::search("ab", Dialect::Sqlite);
        assert!(short.sql.contains("FROM message_text"), "{}", short.sql);
        assert_eq!(short.params, vec![text("\"ab\" *"), text("%ab%")]);
        let long = Condition::search("abc", Dialect::Sqlite);
        assert!(!long.sql.contains("message_text"), "{}", long.sql);
        // Characters, not bytes: two accented letters are still too short.
        assert!(Condition::search("éé", Dialect::Sqlite).sql.contains("FROM message_text"));
    }
}
