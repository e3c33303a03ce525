//! The commands of the selected state: FETCH, STORE, SEARCH, EXPUNGE, COPY and
//! MOVE, each by sequence number or (UID …) by UID.
//!
//! `\Seen` is the store's read status and `\Flagged` its `flagged` tag, both
//! written through and seen by the UI and API at once; a non-PEEK body fetch
//! marks the message read, as RFC 3501 says. EXPUNGE deletes from the store.

use std::collections::{BTreeSet, HashSet};

use imap_next::imap_types::command::CommandBody;
use imap_next::imap_types::core::{IString, Literal, NString, Tag, Vec1};
use imap_next::imap_types::datetime::DateTime;
use imap_next::imap_types::extensions::uidplus::{UidElement, UidSet};
use imap_next::imap_types::fetch::{Macro, MacroOrMessageDataItemNames, MessageDataItem, MessageDataItemName};
use imap_next::imap_types::flag::{Flag, StoreResponse, StoreType};
use imap_next::imap_types::mailbox::Mailbox;
use imap_next::imap_types::response::{Code, Data};
use imap_next::imap_types::search::SearchKey;
use imap_next::imap_types::sequence::SequenceSet;

use super::super::selected::{Selected, non_zero};
use super::super::{fetch, inbox_name, search};
use super::Session;
use crate::model::{DEFAULT_INBOX, Envelope, NewMessage};
use crate::store::{FLAGGED_TAG, Selection};

impl Session {
    /// A command of the selected state (a mailbox is selected).
    pub(super) async fn message_command(&mut self, tag: Tag<'static>, body: CommandBody<'static>) {
        match body {
            CommandBody::Fetch { sequence_set, macro_or_item_names, uid, .. } => {
                self.fetch(tag, &sequence_set, macro_or_item_names, uid).await
            }
            CommandBody::Store { sequence_set, kind, response, flags, uid, .. } => {
                self.store_flags(tag, &sequence_set, kind, response, &flags, uid).await
            }
            CommandBody::Search { charset, criteria, uid } => {
                let known = charset.as_ref().is_none_or(|charset| {
                    ["UTF-8", "US-ASCII"].iter().any(|name| charset.as_ref().eq_ignore_ascii_case(name))
                });
                if !known {
                    let code = Code::BadCharset { allowed: Vec::new() };
                    return self.no(tag, Some(code), "Search in UTF-8 or US-ASCII");
                }
                self.search(tag, criteria.as_ref(), uid);
            }
            CommandBody::Expunge => self.expunge(tag, None).await,
            CommandBody::ExpungeUid { sequence_set } => self.expunge(tag, Some(&sequence_set)).await,
            CommandBody::Copy { sequence_set, mailbox, uid } => self.copy(tag, &sequence_set, &mailbox, uid).await,
            CommandBody::Move { sequence_set, mailbox, uid } => self.move_to(tag, &sequence_set, &mailbox, uid).await,
            body => unreachable!("mailbox_command sends only the selected state's commands, not {}", body.name()),
        }
    }

    fn selected(&self) -> &Selected {
        self.selected.as_ref().expect("checked by mailbox_command")
    }

    async fn fetch(
        &mut self,
        tag: Tag<'static>,
        set: &SequenceSet,
        names: MacroOrMessageDataItemNames<'static>,
        uid: bool,
    ) {
        let mut names = match names {
            MacroOrMessageDataItemNames::Macro(which) => which.expand(),
            MacroOrMessageDataItemNames::MessageDataItemNames(names) => names,
        };
        if uid && !names.contains(&MessageDataItemName::Uid) {
            names.push(MessageDataItemName::Uid);
        }
        let needs_raw = names.iter().any(|name| {
            !matches!(
                name,
                MessageDataItemName::Flags
                    | MessageDataItemName::Uid
                    | MessageDataItemName::InternalDate
                    | MessageDataItemName::Rfc822Size
            )
        });
        let marks_seen = !self.selected().read_only
            && names.iter().any(|name| {
                matches!(
                    name,
                    MessageDataItemName::BodyExt { peek: false, .. }
                        | MessageDataItemName::Rfc822
                        | MessageDataItemName::Rfc822Text
                )
            });
        let indexes = self.selected().resolve(set, uid);
        let mut seen_now = Vec::new();
        for index in indexes {
            let message = &self.selected().messages[index];
            if message.gone {
                continue;
            }
            let raw = if needs_raw {
                match self.setup.store.raw(&message.entry.id) {
                    Ok(Some(raw)) => Some(raw),
                    // Deleted since: its expunge is announced at the next chance.
                    Ok(None) => continue,
                    Err(error) => return self.no(tag, None, &format!("Could not read a message: {error}")),
                }
            } else {
                None
            };
            let mut with_flags = names.clone();
            if marks_seen && !message.entry.read {
                seen_now.push(index);
                if !with_flags.contains(&MessageDataItemName::Flags) {
                    with_flags.push(MessageDataItemName::Flags);
                }
                self.selected.as_mut().expect("selected").messages[index].entry.read = true;
            }
            let items = fetch_items(self.selected(), index, raw.as_deref(), &with_flags);
            if let Ok(items) = Vec1::try_from(items) {
                self.server.enqueue_data(Data::Fetch { seq: Selected::seq(index), items });
            }
        }
        if !seen_now.is_empty() {
            let ids = seen_now.iter().map(|&index| self.selected().messages[index].entry.id.clone()).collect();
            if let Err(error) = self.setup.store.set_read(Selection::Ids(ids), true).await {
                return self.no(tag, None, &format!("Could not mark the messages read: {error}"));
            }
        }
        self.note_events();
        self.sync(uid);
        self.ok(tag, None, "FETCH done");
    }

    async fn store_flags(
        &mut self,
        tag: Tag<'static>,
        set: &SequenceSet,
        kind: StoreType,
        response: StoreResponse,
        flags: &[Flag<'_>],
        uid: bool,
    ) {
        if self.selected().read_only {
            return self.no(tag, None, "The mailbox is read-only (EXAMINE); SELECT it to change flags");
        }
        let has = |flag: Flag<'static>| flags.contains(&flag);
        let wanted = |current: bool, flag: Flag<'static>| match kind {
            StoreType::Replace => has(flag),
            StoreType::Add => current || has(flag),
            StoreType::Remove => current && !has(flag),
        };
        let indexes = self.selected().resolve(set, uid);
        let (mut read, mut unread, mut flag_changes) = (Vec::new(), Vec::new(), Vec::new());
        for &index in &indexes {
            let message = &mut self.selected.as_mut().expect("selected").messages[index];
            if message.gone {
                continue;
            }
            let seen = wanted(message.entry.read, Flag::Seen);
            if seen != message.entry.read {
                if seen { &mut read } else { &mut unread }.push(message.entry.id.clone());
                message.entry.read = seen;
            }
            let flagged = wanted(message.entry.flagged, Flag::Flagged);
            if flagged != message.entry.flagged {
                flag_changes.push((message.entry.id.clone(), flagged));
                message.entry.flagged = flagged;
            }
            message.deleted = wanted(message.deleted, Flag::Deleted);
            message.answered = wanted(message.answered, Flag::Answered);
            message.draft = wanted(message.draft, Flag::Draft);
        }
        let store = self.setup.store.clone();
        for (ids, value) in [(read, true), (unread, false)] {
            if !ids.is_empty()
                && let Err(error) = store.set_read(Selection::Ids(ids), value).await
            {
                return self.no(tag, None, &format!("Could not change \\Seen: {error}"));
            }
        }
        for (id, flagged) in flag_changes {
            let mut tags = match store.summary(&id) {
                Ok(Some(summary)) => summary.tags,
                _ => continue,
            };
            tags.retain(|tag| !tag.eq_ignore_ascii_case(FLAGGED_TAG));
            if flagged {
                tags.push(FLAGGED_TAG.to_owned());
            }
            if let Err(error) = store.set_tags(vec![id], &tags).await {
                return self.no(tag, None, &format!("Could not change \\Flagged: {error}"));
            }
        }
        if response == StoreResponse::Answer {
            for index in indexes {
                if !self.selected().messages[index].gone {
                    let data = self.selected().flags_response(index, uid);
                    self.server.enqueue_data(data);
                }
            }
        }
        // Our own changes come back as events: nothing new to tell.
        self.note_events();
        self.sync(uid);
        self.ok(tag, None, "STORE done");
    }

    fn search(&mut self, tag: Tag<'static>, criteria: &[SearchKey<'_>], uid: bool) {
        let found = match search::run(&self.setup.store, self.selected(), criteria) {
            Ok(found) => found,
            Err(error) => return self.no(tag, None, &format!("Could not search: {error}")),
        };
        let numbers = found
            .into_iter()
            .map(|index| if uid { non_zero(self.selected().messages[index].entry.uid) } else { Selected::seq(index) })
            .collect();
        self.server.enqueue_data(Data::Search(numbers));
        self.sync(uid);
        self.ok(tag, None, "SEARCH done");
    }

    /// EXPUNGE (or UID EXPUNGE of `only`): delete what is marked `\Deleted`.
    async fn expunge(&mut self, tag: Tag<'static>, only: Option<&SequenceSet>) {
        if self.selected().read_only {
            return self.no(tag, None, "The mailbox is read-only (EXAMINE); SELECT it to expunge");
        }
        let within: Option<BTreeSet<usize>> = only.map(|set| self.selected().resolve(set, true).into_iter().collect());
        let doomed: HashSet<u32> = self
            .selected()
            .messages
            .iter()
            .enumerate()
            .filter(|(index, m)| m.deleted && within.as_ref().is_none_or(|within| within.contains(index)))
            .map(|(_, m)| m.entry.uid)
            .collect();
        let ids = self
            .selected()
            .messages
            .iter()
            .filter(|m| doomed.contains(&m.entry.uid))
            .map(|m| m.entry.id.clone())
            .collect::<Vec<_>>();
        if !ids.is_empty()
            && let Err(error) = self.setup.store.delete(Selection::Ids(ids)).await
        {
            return self.no(tag, None, &format!("Could not delete: {error}"));
        }
        self.expunge_uids(&doomed);
        self.ok(tag, None, "EXPUNGE done");
    }

    /// Tell the client the messages with `uids` are gone (EXPUNGE responses),
    /// then whatever else changed.
    fn expunge_uids(&mut self, uids: &HashSet<u32>) {
        let selected = self.selected.as_mut().expect("selected");
        for data in selected.expunge_where(true, |m| uids.contains(&m.entry.uid)) {
            self.server.enqueue_data(data);
        }
        self.note_events();
        self.sync(true);
    }

    /// The inbox a COPY or MOVE goes to, when it exists.
    fn target(&mut self, tag: &Tag<'static>, mailbox: &Mailbox<'_>) -> Option<String> {
        let inbox = inbox_name(mailbox);
        if !self.inbox_exists(&inbox) {
            self.no(
                tag.clone(),
                Some(Code::TryCreate),
                "No such mailbox; inboxes are made by mail sent to them (SMTP AUTH as the inbox name)",
            );
            return None;
        }
        Some(inbox)
    }

    /// COPY: a new message in the target inbox with the same bytes and `\Seen`.
    async fn copy(&mut self, tag: Tag<'static>, set: &SequenceSet, mailbox: &Mailbox<'_>, uid: bool) {
        let Some(inbox) = self.target(&tag, mailbox) else { return };
        let store = self.setup.store.clone();
        let mut pairs = Vec::new();
        for index in self.selected().resolve(set, uid) {
            let entry = self.selected().messages[index].entry.clone();
            let Ok(Some(raw)) = store.raw(&entry.id) else { continue };
            let envelope = store.envelope(&entry.id).ok().flatten().unwrap_or_default();
            let copy = NewMessage {
                raw,
                envelope: Envelope { auth_user: (inbox != DEFAULT_INBOX).then(|| inbox.clone()), ..envelope },
                received_at: time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(entry.received_ms) * 1_000_000)
                    .unwrap_or_else(|_| time::OffsetDateTime::now_utc()),
            };
            match store.submit(copy).await {
                Ok(id) => {
                    if entry.read {
                        let _ = store.set_read(Selection::Ids(vec![id.clone()]), true).await;
                    }
                    pairs.push((entry.uid, id));
                }
                Err(error) => return self.no(tag, None, &format!("Could not copy: {error}")),
            }
        }
        let code = match store.mailbox(&inbox) {
            Ok(Some(target)) => {
                let moved: Vec<(u32, u32)> = pairs
                    .iter()
                    .filter_map(|(from, id)| Some((*from, target.entries.iter().find(|e| &e.id == id)?.uid)))
                    .collect();
                copy_uid(target.uid_validity, &moved)
            }
            _ => None,
        };
        self.note_events();
        self.sync(uid);
        self.ok(tag, code, "COPY done");
    }

    /// MOVE: the messages change inbox (new UIDs there), then leave this one.
    async fn move_to(&mut self, tag: Tag<'static>, set: &SequenceSet, mailbox: &Mailbox<'_>, uid: bool) {
        if self.selected().read_only {
            return self.no(tag, None, "The mailbox is read-only (EXAMINE); SELECT it to move messages");
        }
        let Some(inbox) = self.target(&tag, mailbox) else { return };
        if inbox == self.selected().inbox {
            return self.no(tag, None, "The messages are in that mailbox already");
        }
        let indexes = self.selected().resolve(set, uid);
        let ids = indexes.iter().map(|&index| self.selected().messages[index].entry.id.clone()).collect();
        let moved = match self.setup.store.move_to(ids, &inbox).await {
            Ok(moved) => moved,
            Err(error) => return self.no(tag, None, &format!("Could not move: {error}")),
        };
        let pairs: Vec<(u32, u32)> = moved
            .iter()
            .filter_map(|m| {
                let from = self.selected().messages.iter().find(|message| message.entry.id == m.id)?;
                Some((from.entry.uid, m.uid))
            })
            .collect();
        let validity = self.setup.store.mailbox(&inbox).ok().flatten().map_or(1, |target| target.uid_validity);
        if let Some(code) = copy_uid(validity, &pairs) {
            self.untagged_ok(code, "moved");
        }
        self.expunge_uids(&pairs.iter().map(|(from, _)| *from).collect());
        self.ok(tag, None, "MOVE done");
    }
}

/// UIDPLUS's `COPYUID validity source destination`, or `None` when nothing went.
fn copy_uid(validity: u32, pairs: &[(u32, u32)]) -> Option<Code<'static>> {
    let set = |uids: Vec<u32>| {
        Vec1::try_from(uids.into_iter().map(|uid| UidElement::Single(non_zero(uid))).collect::<Vec<_>>())
            .ok()
            .map(UidSet)
    };
    Some(Code::CopyUid {
        uid_validity: non_zero(validity),
        source: set(pairs.iter().map(|(from, _)| *from).collect())?,
        destination: set(pairs.iter().map(|(_, to)| *to).collect())?,
    })
}

trait Expand {
    fn expand(self) -> Vec<MessageDataItemName<'static>>;
}

impl Expand for Macro {
    /// FAST, ALL and FULL, as RFC 3501 defines them.
    fn expand(self) -> Vec<MessageDataItemName<'static>> {
        let mut names =
            vec![MessageDataItemName::Flags, MessageDataItemName::InternalDate, MessageDataItemName::Rfc822Size];
        if matches!(self, Macro::All | Macro::Full) {
            names.push(MessageDataItemName::Envelope);
        }
        if matches!(self, Macro::Full) {
            names.push(MessageDataItemName::Body);
        }
        names
    }
}

/// The FETCH data of `selected.messages[index]`; `raw` is its stored bytes when
/// an item needs them.
fn fetch_items(
    selected: &Selected,
    index: usize,
    raw: Option<&[u8]>,
    names: &[MessageDataItemName<'static>],
) -> Vec<MessageDataItem<'static>> {
    let message = &selected.messages[index];
    let parsed = raw.and_then(fetch::parse);
    let whole = || raw.map(<[u8]>::to_vec).unwrap_or_default();
    let header = || parsed.as_ref().and_then(|p| fetch::section_bytes(p, Some(&header_section()))).unwrap_or_default();
    let text = || {
        let header_len = header().len();
        raw.map(|raw| raw.get(header_len..).unwrap_or_default().to_vec()).unwrap_or_default()
    };
    let mut items = Vec::new();
    for name in names {
        let item = match name {
            MessageDataItemName::Flags => MessageDataItem::Flags(message.flags()),
            MessageDataItemName::Uid => MessageDataItem::Uid(non_zero(message.entry.uid)),
            MessageDataItemName::Rfc822Size => {
                MessageDataItem::Rfc822Size(u32::try_from(message.entry.size).unwrap_or(u32::MAX))
            }
            MessageDataItemName::InternalDate => {
                MessageDataItem::InternalDate(internal_date(message.entry.received_ms))
            }
            MessageDataItemName::Envelope => match &parsed {
                Some(parsed) => MessageDataItem::Envelope(fetch::envelope(parsed)),
                None => continue,
            },
            MessageDataItemName::Body | MessageDataItemName::BodyStructure => {
                let Some(parsed) = &parsed else { continue };
                if matches!(name, MessageDataItemName::Body) {
                    MessageDataItem::Body(fetch::body_structure(parsed, false))
                } else {
                    MessageDataItem::BodyStructure(fetch::body_structure(parsed, true))
                }
            }
            MessageDataItemName::BodyExt { section, partial, .. } => {
                let bytes = match &parsed {
                    Some(parsed) => fetch::section_bytes(parsed, section.as_ref()).unwrap_or_default(),
                    None => whole(),
                };
                let (origin, bytes) = match partial {
                    Some((origin, count)) => {
                        let start = (*origin as usize).min(bytes.len());
                        let end = start.saturating_add(count.get() as usize).min(bytes.len());
                        (Some(*origin), bytes[start..end].to_vec())
                    }
                    None => (None, bytes),
                };
                MessageDataItem::BodyExt { section: section.clone(), origin, data: literal(bytes) }
            }
            MessageDataItemName::Rfc822 => MessageDataItem::Rfc822(literal(whole())),
            MessageDataItemName::Rfc822Header => MessageDataItem::Rfc822Header(literal(header())),
            MessageDataItemName::Rfc822Text => MessageDataItem::Rfc822Text(literal(text())),
            // BINARY is not advertised.
            _ => continue,
        };
        items.push(item);
    }
    items
}

fn header_section() -> imap_next::imap_types::fetch::Section<'static> {
    imap_next::imap_types::fetch::Section::Header(None)
}

/// Message bytes as a literal (which takes any byte but NUL; a NUL, which mail
/// should not hold, goes out as a space).
fn literal(bytes: Vec<u8>) -> NString<'static> {
    let literal = Literal::try_from(bytes.clone()).unwrap_or_else(|_| {
        let cleaned: Vec<u8> = bytes.into_iter().map(|b| if b == 0 { b' ' } else { b }).collect();
        Literal::try_from(cleaned).expect("no NUL left")
    });
    NString(Some(IString::Literal(literal)))
}

/// INTERNALDATE: when the message was received, to the second, in UTC.
fn internal_date(received_ms: i64) -> DateTime {
    let time = chrono::DateTime::from_timestamp(received_ms.div_euclid(1000), 0).unwrap_or_default();
    DateTime::unvalidated(time.fixed_offset())
}
