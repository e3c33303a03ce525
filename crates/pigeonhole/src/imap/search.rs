//! SEARCH and UID SEARCH: IMAP's search keys over the selected mailbox.
//!
//! Text keys go to the store's search (Mailpit's syntax, the same index the API
//! searches): FROM, TO, CC, BCC and SUBJECT as `from:` … `subject:`, BODY and
//! TEXT as free text, HEADER Message-ID as `message-id:`; each distinct one runs
//! once per command. Other HEADER keys read the message's header. Flags, sizes,
//! sequence and UID sets are answered from the session's own view; dates compare
//! the internal date (the day received, UTC), SENT* included.

use std::collections::{HashMap, HashSet};

use imap_next::imap_types::core::AString;
use imap_next::imap_types::search::SearchKey;

use super::selected::{Message, Selected};
use crate::model::MessageId;
use crate::store::{Store, StoreError};

/// The messages (indexes into `selected.messages`) that match all of `criteria`.
pub fn run(store: &Store, selected: &Selected, criteria: &[SearchKey<'_>]) -> Result<Vec<usize>, StoreError> {
    let mut found = Found { store, queries: HashMap::new(), inbox: &selected.inbox };
    for key in criteria {
        found.collect(key)?;
    }
    let mut matching = Vec::new();
    for (index, message) in selected.messages.iter().enumerate() {
        if message.gone {
            continue;
        }
        let mut all = true;
        for key in criteria {
            if !found.matches(key, selected, index, message)? {
                all = false;
                break;
            }
        }
        if all {
            matching.push(index);
        }
    }
    Ok(matching)
}

/// The IDs each store query found, run before matching.
struct Found<'a> {
    store: &'a Store,
    inbox: &'a str,
    queries: HashMap<String, HashSet<MessageId>>,
}

impl Found<'_> {
    /// Run every store query `key` needs.
    fn collect(&mut self, key: &SearchKey<'_>) -> Result<(), StoreError> {
        match key {
            SearchKey::And(keys) => keys.as_ref().iter().try_for_each(|key| self.collect(key)),
            SearchKey::Not(key) => self.collect(key),
            SearchKey::Or(a, b) => {
                self.collect(a)?;
                self.collect(b)
            }
            other => match store_query(other) {
                Some(query) if !self.queries.contains_key(&query) => {
                    let scoped = format!("inbox:\"{}\" {query}", self.inbox.replace('"', ""));
                    let page = self.store.search(&scoped, 0, u64::MAX)?;
                    self.queries.insert(query, page.messages.into_iter().map(|summary| summary.id).collect());
                    Ok(())
                }
                _ => Ok(()),
            },
        }
    }

    fn matches(
        &self,
        key: &SearchKey<'_>,
        selected: &Selected,
        index: usize,
        message: &Message,
    ) -> Result<bool, StoreError> {
        let entry = &message.entry;
        let day = || chrono::DateTime::from_timestamp_millis(entry.received_ms).map(|time| time.date_naive());
        Ok(match key {
            SearchKey::All | SearchKey::Old => true,
            SearchKey::Recent => false,
            SearchKey::And(keys) => {
                for key in keys.as_ref() {
                    if !self.matches(key, selected, index, message)? {
                        return Ok(false);
                    }
                }
                true
            }
            SearchKey::Not(key) => !self.matches(key, selected, index, message)?,
            SearchKey::Or(a, b) => {
                self.matches(a, selected, index, message)? || self.matches(b, selected, index, message)?
            }
            SearchKey::SequenceSet(set) => selected.contains(set, false, index),
            SearchKey::Uid(set) => selected.contains(set, true, index),
            SearchKey::Seen => entry.read,
            SearchKey::Unseen | SearchKey::New => !entry.read,
            SearchKey::Flagged => entry.flagged,
            SearchKey::Unflagged => !entry.flagged,
            SearchKey::Deleted => message.deleted,
            SearchKey::Undeleted => !message.deleted,
            SearchKey::Answered => message.answered,
            SearchKey::Unanswered => !message.answered,
            SearchKey::Draft => message.draft,
            SearchKey::Undraft => !message.draft,
            SearchKey::Keyword(_) => false,
            SearchKey::Unkeyword(_) => true,
            SearchKey::Larger(size) => entry.size > u64::from(*size),
            SearchKey::Smaller(size) => entry.size < u64::from(*size),
            SearchKey::Before(date) | SearchKey::SentBefore(date) => day().is_some_and(|day| day < *date.as_ref()),
            SearchKey::On(date) | SearchKey::SentOn(date) => day().is_some_and(|day| day == *date.as_ref()),
            SearchKey::Since(date) | SearchKey::SentSince(date) => day().is_some_and(|day| day >= *date.as_ref()),
            SearchKey::Header(name, value) if store_query(key).is_none() => {
                header_contains(self.store, &entry.id, name, value)?
            }
            other => match store_query(other) {
                Some(query) => self.queries.get(&query).is_some_and(|ids| ids.contains(&entry.id)),
                None => false,
            },
        })
    }
}

/// The store query (Mailpit syntax) a text key stands for.
fn store_query(key: &SearchKey<'_>) -> Option<String> {
    let quoted = |value: &AString<'_>| format!("\"{}\"", String::from_utf8_lossy(value.as_ref()).replace('"', ""));
    Some(match key {
        SearchKey::From(value) => format!("from:{}", quoted(value)),
        SearchKey::To(value) => format!("to:{}", quoted(value)),
        SearchKey::Cc(value) => format!("cc:{}", quoted(value)),
        SearchKey::Bcc(value) => format!("bcc:{}", quoted(value)),
        SearchKey::Subject(value) => format!("subject:{}", quoted(value)),
        SearchKey::Body(value) | SearchKey::Text(value) => quoted(value),
        SearchKey::Header(name, value) if name.as_ref().eq_ignore_ascii_case(b"message-id") => {
            format!("message-id:{}", quoted(value))
        }
        _ => return None,
    })
}

/// Whether message `id` has a header field `name` whose value contains `value`
/// (case-insensitively; an empty value: the field is there).
fn header_contains(store: &Store, id: &MessageId, name: &AString<'_>, value: &AString<'_>) -> Result<bool, StoreError> {
    let Some(raw) = store.raw(id)? else { return Ok(false) };
    let Some(message) = super::fetch::parse(&raw) else { return Ok(false) };
    let name = String::from_utf8_lossy(name.as_ref()).into_owned();
    let wanted = String::from_utf8_lossy(value.as_ref()).to_lowercase();
    Ok(message.header_raw(name.as_str()).is_some_and(|found| found.to_lowercase().contains(&wanted)))
}
