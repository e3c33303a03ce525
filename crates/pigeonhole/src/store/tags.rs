//! Tags, as Mailpit has them: short labels on messages, set automatically at
//! ingest (the `X-Tags` header, plus-addressing, optionally the AUTH user name) and
//! by hand through the API (set, rename, delete).
//!
//! A tag is cleaned the way Mailpit cleans it: anything but ASCII letters, digits,
//! `-`, `_`, `.` and spaces becomes a space, runs of spaces become one, and the ends
//! are trimmed; an empty result is no tag. Names are unique case-insensitively (the
//! `tags` table's `COLLATE NOCASE`): the first spelling stored is the one shown. A
//! message's tags are listed in that case-insensitive order.
//!
//! The pure rules run on the caller's side of the store ([`for_new_message`], in
//! `ingest`); the SQL helpers run on the writer thread (changes) or on readers.

use std::collections::BTreeMap;

use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::search::Condition;
use crate::config::TagRules;
use crate::mail::ParsedSummary;
use crate::model::Address;

/// Why a tag could not be renamed or deleted.
#[derive(Debug, thiserror::Error)]
pub enum TagError {
    #[error("there is no tag named {0:?}; GET /api/v1/tags lists the tags in use")]
    NoSuchTag(String),
    #[error("invalid tag name {0:?}: use letters, digits, spaces, '-', '_' or '.'")]
    InvalidName(String),
    #[error(transparent)]
    Store(#[from] super::StoreError),
}

/// `tag` cleaned as Mailpit cleans it (see the module doc), in Title Case if the
/// rules ask for it; "" when nothing is left.
pub fn clean(tag: &str, rules: &TagRules) -> String {
    let spaced: String =
        tag.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') { c } else { ' ' }).collect();
    let cleaned = spaced.split_whitespace().collect::<Vec<_>>().join(" ");
    if rules.title_case { title_case(&cleaned) } else { cleaned }
}

/// Upper-case the first letter of each word (words break at spaces and `-`; the
/// rest of the word is left as it is, like Go's `cases.Title` with `NoLower`).
fn title_case(tag: &str) -> String {
    let mut word_start = true;
    tag.chars()
        .map(|c| {
            let out = if word_start { c.to_ascii_uppercase() } else { c };
            word_start = matches!(c, ' ' | '-');
            out
        })
        .collect()
}

/// Clean `tags`, drop empty and (case-insensitively) repeated ones, and sort them.
pub fn normalize<'a>(tags: impl IntoIterator<Item = &'a str>, rules: &TagRules) -> Vec<String> {
    let mut unique: Vec<String> = Vec::new();
    for tag in tags {
        let tag = clean(tag, rules);
        if !tag.is_empty() && !unique.iter().any(|seen| seen.eq_ignore_ascii_case(&tag)) {
            unique.push(tag);
        }
    }
    sort(&mut unique);
    unique
}

/// The order tags are listed in: case-insensitive, as SQLite's NOCASE orders them.
fn sort(tags: &mut [String]) {
    tags.sort_by(|a, b| a.to_ascii_lowercase().cmp(&b.to_ascii_lowercase()).then_with(|| a.cmp(b)));
}

/// The tags a new message gets by itself: those in its `X-Tags` header, the
/// `+tag` parts of plus-addressed senders and recipients (`user+a+b@host` gives
/// `a` and `b`; the envelope's recipients count, so a Bcc does too), and the AUTH
/// user name, each as `rules` allow.
pub fn for_new_message(parsed: &ParsedSummary, rcpt_to: &[String], username: &str, rules: &TagRules) -> Vec<String> {
    let mut found: Vec<&str> = Vec::new();
    if rules.from_x_tags {
        found.extend(parsed.x_tags.split(','));
    }
    if rules.from_plus_addresses {
        let headers = std::iter::once(&parsed.from).chain(&parsed.to).chain(&parsed.cc).chain(&parsed.bcc);
        let addresses = headers.map(|a: &Address| a.address.as_str()).chain(rcpt_to.iter().map(String::as_str));
        found.extend(addresses.flat_map(plus_tags));
    }
    if rules.from_username {
        found.push(username);
    }
    normalize(found, rules)
}

/// The `+`-separated parts between the first `+` and the last `@` of an address.
fn plus_tags(address: &str) -> impl Iterator<Item = &str> {
    let local = address.rsplit_once('@').map_or("", |(local, _)| local);
    local.split_once('+').map_or("", |(_, tags)| tags).split('+').filter(|tag| !tag.is_empty())
}

/// Give message `seq` exactly `tags` (already normalised), creating tags as
/// needed; returns its tags as stored (an existing tag keeps its spelling).
pub(super) fn replace(tx: &Transaction<'_>, seq: i64, tags: &[String]) -> rusqlite::Result<Vec<String>> {
    tx.prepare_cached("DELETE FROM message_tags WHERE seq = ?1")?.execute([seq])?;
    for tag in tags {
        tx.prepare_cached("INSERT INTO tags (name) VALUES (?1) ON CONFLICT (name) DO NOTHING")?.execute([tag])?;
        tx.prepare_cached("INSERT OR IGNORE INTO message_tags (seq, tag_id) SELECT ?1, id FROM tags WHERE name = ?2")?
            .execute(params![seq, tag])?;
    }
    of_message(tx, seq)
}

/// Message `seq`'s tags, in listing order.
pub(super) fn of_message(conn: &Connection, seq: i64) -> rusqlite::Result<Vec<String>> {
    let mut statement = conn.prepare_cached(
        "SELECT t.name FROM message_tags mt JOIN tags t ON t.id = mt.tag_id WHERE mt.seq = ?1 ORDER BY t.name",
    )?;
    statement.query_map([seq], |row| row.get(0))?.collect()
}

/// Every tag on at least one message, in listing order.
pub(super) fn all(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    let mut statement = conn.prepare_cached("SELECT name FROM tags ORDER BY name")?;
    statement.query_map([], |row| row.get(0))?.collect()
}

/// The tags on the messages matching `filter`, in listing order.
pub(super) fn on_messages(conn: &Connection, filter: &Condition) -> rusqlite::Result<Vec<String>> {
    let sql = format!(
        "SELECT DISTINCT t.name FROM tags t JOIN message_tags mt ON mt.tag_id = t.id \
         JOIN messages m ON m.seq = mt.seq WHERE {} ORDER BY t.name",
        filter.sql
    );
    let mut statement = conn.prepare_cached(&sql)?;
    statement.query_map(rusqlite::params_from_iter(filter.params.iter()), |row| row.get(0))?.collect()
}

/// Every tag with the number of messages that have it.
pub(super) fn counts(conn: &Connection) -> rusqlite::Result<BTreeMap<String, u64>> {
    let mut statement = conn
        .prepare_cached("SELECT t.name, count(*) FROM tags t JOIN message_tags mt ON mt.tag_id = t.id GROUP BY t.id")?;
    statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?.collect()
}

/// The tags on the messages matching `filter`, with how many of those have each.
pub(super) fn counts_on(conn: &Connection, filter: &Condition) -> rusqlite::Result<BTreeMap<String, u64>> {
    let sql = format!(
        "SELECT t.name, count(*) FROM tags t JOIN message_tags mt ON mt.tag_id = t.id \
         JOIN messages m ON m.seq = mt.seq WHERE {} GROUP BY t.id",
        filter.sql
    );
    let mut statement = conn.prepare_cached(&sql)?;
    statement
        .query_map(rusqlite::params_from_iter(filter.params.iter()), |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect()
}

/// Rename tag `from` to `to` (already cleaned, not empty). A name another tag has
/// (case-insensitively) merges the two; a change of case only respells it.
/// `false` when there is no tag `from`.
pub(super) fn rename(tx: &Transaction<'_>, from: &str, to: &str) -> rusqlite::Result<bool> {
    let Some(id) = tag_id(tx, from)? else { return Ok(false) };
    match tag_id(tx, to)? {
        Some(other) if other != id => {
            tx.execute(
                "INSERT OR IGNORE INTO message_tags (seq, tag_id) SELECT seq, ?1 FROM message_tags WHERE tag_id = ?2",
                params![other, id],
            )?;
            tx.execute("DELETE FROM tags WHERE id = ?1", [id])?;
        }
        _ => {
            tx.execute("UPDATE tags SET name = ?1 WHERE id = ?2", params![to, id])?;
        }
    }
    Ok(true)
}

/// Take tag `name` off every message; `false` when there is no such tag.
pub(super) fn delete(tx: &Transaction<'_>, name: &str) -> rusqlite::Result<bool> {
    Ok(tx.execute("DELETE FROM tags WHERE name = ?1", [name])? > 0)
}

/// Forget tags no message has any more (after deletes and changes), so that the
/// tag list shows only tags in use.
pub(super) fn drop_unused(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    tx.prepare_cached("DELETE FROM tags WHERE id NOT IN (SELECT tag_id FROM message_tags)")?.execute([])?;
    Ok(())
}

fn tag_id(conn: &Connection, name: &str) -> rusqlite::Result<Option<i64>> {
    conn.prepare_cached("SELECT id FROM tags WHERE name = ?1")?.query_row([name], |row| row.get(0)).optional()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleans_as_mailpit_does() {
        let rules = TagRules::default();
        assert_eq!(clean("  big   invoice ", &rules), "big invoice");
        assert_eq!(clean("a@b/c", &rules), "a b c");
        assert_eq!(clean("v1.2_beta-x", &rules), "v1.2_beta-x");
        assert_eq!(clean("!!!", &rules), "");
        assert_eq!(clean("café", &rules), "caf");
        let title = TagRules { title_case: true, ..TagRules::default() };
        assert_eq!(clean("big invoice-due x_y.z", &title), "Big Invoice-Due X_y.z");
    }

    #[test]
    fn normalize_dedups_case_insensitively_and_sorts() {
        let tags = normalize(["beta", "Alpha", "BETA", " ", "alpha", "gamma"], &TagRules::default());
        assert_eq!(tags, ["Alpha", "beta", "gamma"]);
    }

    #[test]
    fn new_message_tags_follow_the_rules() {
        let address = |a: &str| Address { name: String::new(), address: a.into() };
        let parsed = ParsedSummary {
            from: address("app+sender@example.com"),
            to: vec![address("user+one+two@example.com"), address("plain@example.com")],
            cc: vec![address("c+three@example.com")],
            x_tags: " urgent, Big  Deal ,,".into(),
            ..ParsedSummary::default()
        };
        let rcpt = ["hidden+bcc@example.com".to_string(), "odd+@example.com".into()];
        let all = TagRules { from_username: true, ..TagRules::default() };
        assert_eq!(
            for_new_message(&parsed, &rcpt, "alice", &all),
            ["alice", "bcc", "Big Deal", "one", "sender", "three", "two", "urgent"]
        );
        let none = TagRules { from_x_tags: false, from_plus_addresses: false, ..TagRules::default() };
        assert!(for_new_message(&parsed, &rcpt, "alice", &none).is_empty());
        let only_header = TagRules { from_plus_addresses: false, ..TagRules::default() };
        assert_eq!(for_new_message(&parsed, &rcpt, "", &only_header), ["Big Deal", "urgent"]);
    }
}
