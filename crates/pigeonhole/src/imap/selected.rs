//! The selected mailbox: what this session has told its client, by message
//! sequence number, and how to tell it what changed since.
//!
//! The store keeps `\Seen` (read) and `\Flagged` (the `flagged` tag); `\Deleted`,
//! `\Answered` and `\Draft` live here, for the session (a client marks `\Deleted`
//! and expunges in the same session). [`Selected::sync`] compares a fresh
//! [`MailboxSnapshot`] with what the client knows and answers the untagged
//! responses that bring it up to date: EXPUNGE (only where the command allows
//! them), EXISTS and FETCH FLAGS.

use std::num::NonZeroU32;

use imap_next::imap_types::flag::{Flag, FlagFetch};
use imap_next::imap_types::response::Data;
use imap_next::imap_types::sequence::{SeqOrUid, Sequence, SequenceSet};

use crate::store::{MailboxEntry, MailboxSnapshot};

/// A message as the session shows it.
#[derive(Debug, Clone)]
pub struct Message {
    pub entry: MailboxEntry,
    pub deleted: bool,
    pub answered: bool,
    pub draft: bool,
    /// Gone from the store while the client could not be told (during a FETCH,
    /// STORE or SEARCH by sequence number): expunged at the next chance.
    pub gone: bool,
}

impl Message {
    fn new(entry: MailboxEntry) -> Message {
        Message { entry, deleted: false, answered: false, draft: false, gone: false }
    }

    pub fn flags(&self) -> Vec<FlagFetch<'static>> {
        [
            (self.entry.read, Flag::Seen),
            (self.entry.flagged, Flag::Flagged),
            (self.deleted, Flag::Deleted),
            (self.answered, Flag::Answered),
            (self.draft, Flag::Draft),
        ]
        .into_iter()
        .filter(|(set, _)| *set)
        .map(|(_, flag)| FlagFetch::Flag(flag))
        .collect()
    }
}

/// The mailbox a session has selected (or examined).
#[derive(Debug)]
pub struct Selected {
    /// The store's inbox name.
    pub inbox: String,
    pub read_only: bool,
    pub uid_validity: NonZeroU32,
    pub uid_next: NonZeroU32,
    /// In UID order: message sequence number N is `messages[N - 1]`.
    pub messages: Vec<Message>,
    /// Some messages are marked gone, waiting to be expunged.
    gone: bool,
}

impl Selected {
    /// `snapshot` (or an empty mailbox never written to) as first shown.
    pub fn new(inbox: String, read_only: bool, snapshot: Option<MailboxSnapshot>) -> Selected {
        let snapshot = snapshot.unwrap_or(MailboxSnapshot { uid_validity: 1, uid_next: 1, entries: Vec::new() });
        Selected {
            inbox,
            read_only,
            uid_validity: non_zero(snapshot.uid_validity),
            uid_next: non_zero(snapshot.uid_next),
            messages: snapshot.entries.into_iter().map(Message::new).collect(),
            gone: false,
        }
    }

    pub fn exists(&self) -> u32 {
        u32::try_from(self.messages.len()).unwrap_or(u32::MAX)
    }

    /// Message sequence number of `messages[index]`.
    pub fn seq(index: usize) -> NonZeroU32 {
        non_zero(u32::try_from(index + 1).unwrap_or(u32::MAX))
    }

    /// Indexes into `messages` named by `set`, ascending, each once: UIDs when
    /// `uid`, sequence numbers otherwise. `*` is the last message; a UID range
    /// holds whatever UIDs exist within it. Cost: a binary search per element.
    pub fn resolve(&self, set: &SequenceSet, uid: bool) -> Vec<usize> {
        let Some(last) = self.messages.last() else { return Vec::new() };
        let largest = if uid { last.entry.uid } else { self.exists() };
        let value = |bound: &SeqOrUid| match bound {
            SeqOrUid::Value(value) => value.get(),
            SeqOrUid::Asterisk => largest,
        };
        let mut indexes = Vec::new();
        for sequence in set.0.as_ref() {
            let (low, high) = match sequence {
                Sequence::Single(one) => (value(one), value(one)),
                Sequence::Range(a, b) => (value(a).min(value(b)), value(a).max(value(b))),
            };
            let range = if uid {
                let start = self.messages.partition_point(|m| m.entry.uid < low);
                let end = self.messages.partition_point(|m| m.entry.uid <= high);
                start..end
            } else {
                (low as usize - 1).min(self.messages.len())..(high as usize).min(self.messages.len())
            };
            indexes.extend(range);
        }
        indexes.sort_unstable();
        indexes.dedup();
        indexes
    }

    /// Whether `messages[index]` is in `set` (by UID when `uid`), without
    /// walking the set's ranges.
    pub fn contains(&self, set: &SequenceSet, uid: bool, index: usize) -> bool {
        let Some(last) = self.messages.last() else { return false };
        let (largest, number) = if uid {
            (last.entry.uid, self.messages[index].entry.uid)
        } else {
            (self.exists(), Selected::seq(index).get())
        };
        let value = |bound: &SeqOrUid| match bound {
            SeqOrUid::Value(value) => value.get(),
            SeqOrUid::Asterisk => largest,
        };
        set.0.as_ref().iter().any(|sequence| match sequence {
            Sequence::Single(one) => value(one) == number,
            Sequence::Range(a, b) => (value(a).min(value(b))..=value(a).max(value(b))).contains(&number),
        })
    }

    /// Bring the client up to date with `snapshot`: the untagged responses to
    /// send. Messages gone from the store are expunged when `expunge_allowed`
    /// (else kept, marked gone); new ones are announced by EXISTS; changed
    /// flags by FETCH.
    pub fn sync(&mut self, snapshot: Option<MailboxSnapshot>, expunge_allowed: bool) -> Vec<Data<'static>> {
        let Some(snapshot) = snapshot else {
            self.messages.iter_mut().for_each(|message| message.gone = true);
            self.gone = !self.messages.is_empty();
            return self.expunge_gone(expunge_allowed);
        };
        self.uid_next = self.uid_next.max(non_zero(snapshot.uid_next));
        let mut fresh = snapshot.entries.into_iter().peekable();
        let mut changed = Vec::new();
        for (index, message) in self.messages.iter_mut().enumerate() {
            while fresh.peek().is_some_and(|entry| entry.uid < message.entry.uid) {
                // Older than a message the client knows yet unknown to it: cannot
                // happen (UIDs only grow), and cannot be shown without renumbering.
                fresh.next();
            }
            match fresh.peek() {
                Some(entry) if entry.uid == message.entry.uid => {
                    let entry = fresh.next().expect("peeked");
                    if (entry.read, entry.flagged) != (message.entry.read, message.entry.flagged) {
                        changed.push(index);
                    }
                    message.entry = entry;
                }
                _ => {
                    message.gone = true;
                    self.gone = true;
                }
            }
        }
        let changed_uids: Vec<u32> = changed.iter().map(|&index| self.messages[index].entry.uid).collect();
        let mut responses = self.expunge_gone(expunge_allowed);
        let before = self.messages.len();
        self.messages.extend(fresh.map(Message::new));
        if self.messages.len() != before {
            responses.push(Data::Exists(self.exists()));
        }
        for uid in changed_uids {
            if let Ok(index) = self.messages.binary_search_by_key(&uid, |m| m.entry.uid) {
                responses.push(self.flags_response(index, false));
            }
        }
        responses
    }

    /// Expunge the messages gone from the store, when allowed (nothing to walk
    /// when none is: this runs after every command).
    pub fn expunge_gone(&mut self, allowed: bool) -> Vec<Data<'static>> {
        if !self.gone || !allowed {
            return Vec::new();
        }
        self.gone = false;
        self.expunge_where(true, |message| message.gone)
    }

    /// Take out the messages `doomed` picks, when allowed: their EXPUNGE
    /// responses, highest sequence number first so each stays right.
    pub fn expunge_where(&mut self, allowed: bool, doomed: impl Fn(&Message) -> bool) -> Vec<Data<'static>> {
        if !allowed {
            return Vec::new();
        }
        let mut responses = Vec::new();
        for index in (0..self.messages.len()).rev() {
            if doomed(&self.messages[index]) {
                self.messages.remove(index);
                responses.push(Data::Expunge(Selected::seq(index)));
            }
        }
        responses
    }

    /// `* N FETCH (FLAGS (…))`, with the UID when a UID command caused it.
    pub fn flags_response(&self, index: usize, with_uid: bool) -> Data<'static> {
        use imap_next::imap_types::core::Vec1;
        use imap_next::imap_types::fetch::MessageDataItem;
        let message = &self.messages[index];
        let mut items = vec![MessageDataItem::Flags(message.flags())];
        if with_uid {
            items.push(MessageDataItem::Uid(non_zero(message.entry.uid)));
        }
        Data::Fetch { seq: Selected::seq(index), items: Vec1::try_from(items).expect("one item at least") }
    }
}

/// `value`, or 1 for 0 (UIDs and UIDVALIDITY are never 0).
pub fn non_zero(value: u32) -> NonZeroU32 {
    NonZeroU32::new(value).unwrap_or(NonZeroU32::MIN)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::MessageId;

    fn entry(uid: u32, read: bool) -> MailboxEntry {
        MailboxEntry { uid, id: MessageId::stored(format!("id{uid}")), read, flagged: false, size: 10, received_ms: 0 }
    }

    fn snapshot(entries: Vec<MailboxEntry>) -> Option<MailboxSnapshot> {
        Some(MailboxSnapshot { uid_validity: 7, uid_next: 100, entries })
    }

    #[test]
    fn sets_resolve_by_uid_and_by_sequence_number() {
        let selected =
            Selected::new("default".into(), false, snapshot(vec![entry(3, false), entry(8, false), entry(20, false)]));
        let set = |text: &str| SequenceSet::try_from(text).unwrap();
        assert_eq!(selected.resolve(&set("1:*"), false), [0, 1, 2]);
        assert_eq!(selected.resolve(&set("2"), false), [1]);
        assert_eq!(selected.resolve(&set("9"), false), Vec::<usize>::new());
        assert_eq!(selected.resolve(&set("4:20"), true), [1, 2]);
        assert_eq!(selected.resolve(&set("21:*"), true), [2], "a range to * holds the last message");
        assert_eq!(selected.resolve(&set("1:4294967295"), true), [0, 1, 2], "a huge range is not walked");
        assert_eq!(selected.resolve(&set("8,3,8"), true), [0, 1]);
    }

    #[test]
    fn sync_expunges_announces_and_reports_flags() {
        let mut selected =
            Selected::new("default".into(), false, snapshot(vec![entry(3, false), entry(8, false), entry(20, false)]));
        // 8 went, 20 was read, 25 arrived; expunges not allowed yet.
        let fresh = vec![entry(3, false), entry(20, true), entry(25, false)];
        let held = selected.sync(snapshot(fresh.clone()), false);
        assert_eq!(held, [Data::Exists(4), selected.flags_response(2, false)]);
        assert!(selected.messages[1].gone);
        let now = selected.sync(snapshot(fresh), true);
        assert_eq!(now, [Data::Expunge(non_zero(2))]);
        assert_eq!(selected.messages.iter().map(|m| m.entry.uid).collect::<Vec<_>>(), [3, 20, 25]);
    }
}
