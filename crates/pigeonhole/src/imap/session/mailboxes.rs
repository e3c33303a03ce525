//! The commands of the authenticated state: which mailboxes there are (every
//! Pigeonhole inbox, `INBOX` being the default one), selecting one, STATUS and
//! APPEND. Inboxes come into being when mail arrives for them, so CREATE,
//! DELETE and RENAME are refused with what to do instead.

use std::borrow::Cow;

use imap_next::imap_types::command::CommandBody;
use imap_next::imap_types::core::Tag;
use imap_next::imap_types::extensions::binary::LiteralOrLiteral8;
use imap_next::imap_types::flag::{Flag, FlagNameAttribute, FlagPerm};
use imap_next::imap_types::mailbox::{ListMailbox, Mailbox};
use imap_next::imap_types::response::{Code, CodeOther, Data};
use imap_next::imap_types::status::{StatusDataItem, StatusDataItemName};
use time::OffsetDateTime;

use super::super::selected::{Selected, non_zero};
use super::super::{delimiter, imap_name, inbox_name};
use super::Session;
use crate::model::{DEFAULT_INBOX, Envelope, NewMessage};
use crate::store::Selection;

impl Session {
    /// A command of the authenticated or selected state.
    pub(super) async fn mailbox_command(&mut self, tag: Tag<'static>, body: CommandBody<'static>) {
        match body {
            CommandBody::Select { mailbox, .. } => self.select(tag, &mailbox, false),
            CommandBody::Examine { mailbox, .. } => self.select(tag, &mailbox, true),
            CommandBody::Unselect => {
                self.selected = None;
                self.ok(tag, None, "UNSELECT done");
            }
            CommandBody::Close => {
                // CLOSE expunges what is marked \Deleted, silently.
                if let Some(selected) = &self.selected
                    && !selected.read_only
                {
                    let doomed: Vec<_> =
                        selected.messages.iter().filter(|m| m.deleted).map(|m| m.entry.id.clone()).collect();
                    if !doomed.is_empty()
                        && let Err(error) = self.setup.store.delete(Selection::Ids(doomed)).await
                    {
                        return self.no(tag, None, &format!("Could not expunge: {error}"));
                    }
                }
                self.selected = None;
                self.ok(tag, None, "CLOSE done");
            }
            CommandBody::Create { mailbox } => self.create(tag, &mailbox).await,
            CommandBody::Delete { .. } | CommandBody::Rename { .. } => self.no(
                tag,
                Some(Code::Other(CodeOther::unvalidated(b"CANNOT".as_slice()))),
                "Mailboxes are Pigeonhole's inboxes, which stay while mail is in them; delete messages in the web UI",
            ),
            CommandBody::Subscribe { .. } | CommandBody::Unsubscribe { .. } => {
                self.ok(tag, None, "done (every inbox is always listed)")
            }
            CommandBody::List { reference, mailbox_wildcard } => self.list(tag, &reference, &mailbox_wildcard, false),
            // Every inbox counts as subscribed.
            CommandBody::Lsub { reference, mailbox_wildcard } => self.list(tag, &reference, &mailbox_wildcard, true),
            CommandBody::Status { mailbox, item_names } => self.status(tag, &mailbox, &item_names),
            CommandBody::Append { mailbox, flags, date, message } => {
                let raw = match message {
                    LiteralOrLiteral8::Literal(literal) => literal.into_inner().into_owned(),
                    LiteralOrLiteral8::Literal8(literal) => literal.data.into_owned(),
                };
                let received_at = date
                    .and_then(|date| OffsetDateTime::from_unix_timestamp(date.as_ref().timestamp()).ok())
                    .unwrap_or_else(OffsetDateTime::now_utc);
                self.append(tag, &mailbox, &flags, raw, received_at).await;
            }
            body @ (CommandBody::Fetch { .. }
            | CommandBody::Store { .. }
            | CommandBody::Search { .. }
            | CommandBody::Expunge
            | CommandBody::ExpungeUid { .. }
            | CommandBody::Copy { .. }
            | CommandBody::Move { .. }) => {
                if self.selected.is_some() {
                    self.message_command(tag, body).await;
                } else {
                    self.bad(tag, &format!("{} needs a mailbox: SELECT one first", body.name()));
                }
            }
            body => self.bad(tag, &format!("{} is not offered here (see CAPABILITY)", body.name())),
        }
    }

    /// Whether inbox `inbox` exists (the default one always does) and the user
    /// may see it: SELECT, EXAMINE, STATUS, APPEND, COPY and MOVE name no other.
    pub(super) fn inbox_exists(&self, inbox: &str) -> bool {
        self.access.allows(inbox)
            && (inbox == DEFAULT_INBOX
                || self.setup.store.inboxes().is_ok_and(|inboxes| inboxes.iter().any(|info| info.name == inbox)))
    }

    fn no_such_mailbox(&mut self, tag: Tag<'static>) {
        self.no(
            tag,
            Some(Code::Other(CodeOther::unvalidated(b"NONEXISTENT".as_slice()))),
            "No such mailbox; LIST shows the inboxes",
        );
    }

    fn select(&mut self, tag: Tag<'static>, mailbox: &Mailbox<'_>, read_only: bool) {
        self.selected = None;
        let inbox = inbox_name(mailbox);
        if !self.inbox_exists(&inbox) {
            return self.no_such_mailbox(tag);
        }
        // Events from before this read are in it.
        self.note_events();
        let snapshot = match self.setup.store.mailbox(&inbox) {
            Ok(snapshot) => snapshot,
            Err(error) => return self.no(tag, None, &format!("Could not read the mailbox: {error}")),
        };
        self.dirty = false;
        let selected = Selected::new(inbox, read_only, snapshot);
        let permanent = if read_only {
            Vec::new()
        } else {
            vec![FlagPerm::Flag(Flag::Seen), FlagPerm::Flag(Flag::Flagged), FlagPerm::Flag(Flag::Deleted)]
        };
        self.server.enqueue_data(Data::Flags(vec![
            Flag::Seen,
            Flag::Flagged,
            Flag::Deleted,
            Flag::Answered,
            Flag::Draft,
        ]));
        self.server.enqueue_data(Data::Exists(selected.exists()));
        self.server.enqueue_data(Data::Recent(0));
        if let Some(first) = selected.messages.iter().position(|m| !m.entry.read) {
            self.untagged_ok(Code::Unseen(Selected::seq(first)), "first unseen");
        }
        self.untagged_ok(Code::PermanentFlags(permanent), "flags kept");
        self.untagged_ok(Code::UidValidity(selected.uid_validity), "UIDs valid");
        self.untagged_ok(Code::UidNext(selected.uid_next), "predicted next UID");
        let code = if read_only { Code::ReadOnly } else { Code::ReadWrite };
        self.selected = Some(selected);
        self.ok(tag, Some(code), if read_only { "EXAMINE done" } else { "SELECT done" });
    }

    pub(super) fn untagged_ok(&mut self, code: Code<'static>, message: &str) {
        self.enqueue(imap_next::imap_types::response::Status::ok(None, Some(code), super::text(message)));
    }

    /// CREATE makes an empty inbox (Thunderbird, by default, creates `Trash` to
    /// move deleted messages to; MOVE then takes them there).
    async fn create(&mut self, tag: Tag<'static>, mailbox: &Mailbox<'_>) {
        let inbox = inbox_name(mailbox);
        if !self.access.allows(&inbox) {
            return self.no(
                tag,
                Some(Code::Other(CodeOther::unvalidated(b"NOPERM".as_slice()))),
                "This login may not use that inbox",
            );
        }
        if self.inbox_exists(&inbox) {
            return self.no(tag, Some(Code::Other(CodeOther::unvalidated(b"ALREADYEXISTS".as_slice()))), "It exists");
        }
        match self.setup.store.create_inbox(&inbox).await {
            Ok(()) => self.ok(tag, None, "CREATE done"),
            Err(error) => self.no(tag, None, &format!("Could not create the inbox: {error}")),
        }
    }

    /// LIST, or LSUB (`subscribed`) with the same names in `LSUB` responses.
    fn list(&mut self, tag: Tag<'static>, reference: &Mailbox<'_>, wildcard: &ListMailbox<'_>, subscribed: bool) {
        let done = if subscribed { "LSUB done" } else { "LIST done" };
        let data = |items, mailbox| {
            let delimiter = Some(delimiter());
            if subscribed { Data::Lsub { items, delimiter, mailbox } } else { Data::List { items, delimiter, mailbox } }
        };
        let pattern: Vec<u8> = match wildcard {
            ListMailbox::Token(token) => token.as_ref().to_vec(),
            ListMailbox::String(string) => string.as_ref().to_vec(),
        };
        if pattern.is_empty() {
            // The hierarchy delimiter and root.
            let root = Mailbox::try_from("").expect("the empty name is valid");
            self.server.enqueue_data(data(vec![FlagNameAttribute::Noselect], root));
            return self.ok(tag, None, done);
        }
        let reference = match reference {
            Mailbox::Inbox => b"INBOX".to_vec(),
            Mailbox::Other(other) => other.inner().as_ref().to_vec(),
        };
        let pattern = [reference, pattern].concat();
        let inboxes = match self.setup.store.inboxes() {
            Ok(inboxes) => inboxes,
            Err(error) => return self.no(tag, None, &format!("Could not read the inboxes: {error}")),
        };
        // INBOX first, then the others by name.
        let others = inboxes.into_iter().map(|info| info.name).filter(|name| name != DEFAULT_INBOX);
        let names: Vec<String> =
            std::iter::once(DEFAULT_INBOX.to_owned()).chain(others).filter(|name| self.access.allows(name)).collect();
        for name in names {
            let Some(mailbox) = imap_name(&name) else { continue };
            let shown: &[u8] = if matches!(mailbox, Mailbox::Inbox) { b"INBOX" } else { name.as_bytes() };
            let matched = if matches!(mailbox, Mailbox::Inbox) {
                // INBOX is case-insensitive.
                glob(&pattern.to_ascii_uppercase(), shown)
            } else {
                glob(&pattern, shown)
            };
            if matched {
                self.server.enqueue_data(data(Vec::new(), mailbox));
            }
        }
        self.ok(tag, None, done);
    }

    fn status(&mut self, tag: Tag<'static>, mailbox: &Mailbox<'static>, names: &[StatusDataItemName]) {
        let inbox = inbox_name(mailbox);
        if !self.inbox_exists(&inbox) {
            return self.no_such_mailbox(tag);
        }
        let snapshot = match self.setup.store.mailbox(&inbox) {
            Ok(snapshot) => Selected::new(inbox, true, snapshot),
            Err(error) => return self.no(tag, None, &format!("Could not read the mailbox: {error}")),
        };
        let items: Vec<StatusDataItem> = names
            .iter()
            .filter_map(|name| {
                Some(match name {
                    StatusDataItemName::Messages => StatusDataItem::Messages(snapshot.exists()),
                    StatusDataItemName::Recent => StatusDataItem::Recent(0),
                    StatusDataItemName::UidNext => StatusDataItem::UidNext(snapshot.uid_next),
                    StatusDataItemName::UidValidity => StatusDataItem::UidValidity(snapshot.uid_validity),
                    StatusDataItemName::Unseen => StatusDataItem::Unseen(
                        u32::try_from(snapshot.messages.iter().filter(|m| !m.entry.read).count()).unwrap_or(u32::MAX),
                    ),
                    StatusDataItemName::Deleted => StatusDataItem::Deleted(0),
                    StatusDataItemName::DeletedStorage => StatusDataItem::DeletedStorage(0),
                    #[allow(unreachable_patterns)]
                    _ => return None,
                })
            })
            .collect();
        self.server.enqueue_data(Data::Status { mailbox: mailbox.clone(), items: Cow::Owned(items) });
        self.ok(tag, None, "STATUS done");
    }

    /// APPEND: the message is stored as if sent to the inbox (SMTP AUTH as its
    /// name), `\Seen` kept; answered with its UID (UIDPLUS).
    async fn append(
        &mut self,
        tag: Tag<'static>,
        mailbox: &Mailbox<'_>,
        flags: &[Flag<'_>],
        raw: Vec<u8>,
        received_at: OffsetDateTime,
    ) {
        let inbox = inbox_name(mailbox);
        // A new inbox is made by appending to it, but not one the user may not see.
        if !self.access.allows(&inbox) {
            return self.no_such_mailbox(tag);
        }
        let envelope = Envelope {
            helo: "IMAP APPEND".into(),
            peer: self.peer.to_string(),
            tls: self.tls,
            auth_user: (inbox != DEFAULT_INBOX).then(|| inbox.clone()),
            transcript: format!("IMAP APPEND by {}", self.user.as_deref().unwrap_or_default()),
            ..Envelope::default()
        };
        let store = self.setup.store.clone();
        let id = match store.submit(NewMessage { raw, envelope, received_at }).await {
            Ok(id) => id,
            Err(error) => return self.no(tag, None, &format!("Could not store the message: {error}")),
        };
        if flags.contains(&Flag::Seen) {
            let _ = store.set_read(Selection::Ids(vec![id.clone()]), true).await;
        }
        if flags.contains(&Flag::Flagged) {
            let _ = store.set_tags(vec![id.clone()], &[crate::store::FLAGGED_TAG.to_owned()]).await;
        }
        let code = match store.mailbox(&inbox) {
            Ok(Some(snapshot)) => snapshot.entries.iter().find(|e| e.id == id).map(|entry| Code::AppendUid {
                uid_validity: non_zero(snapshot.uid_validity),
                uid: non_zero(entry.uid),
            }),
            _ => None,
        };
        self.note_events();
        self.sync(true);
        self.ok(tag, code, "APPEND done");
    }
}

/// IMAP's LIST wildcards: `*` matches anything, `%` anything but the delimiter.
/// Dynamic programming over (pattern, name) prefixes: linear in their product,
/// whatever the pattern (a row of `*` cannot make it exponential).
fn glob(pattern: &[u8], name: &[u8]) -> bool {
    let separator = delimiter().inner() as u8;
    // matches[j]: the pattern so far matches name[..j].
    let mut matches = vec![false; name.len() + 1];
    matches[0] = true;
    for &p in pattern {
        let mut next = vec![false; name.len() + 1];
        for j in 0..=name.len() {
            next[j] = match p {
                b'*' => matches[j] || (j > 0 && next[j - 1]),
                b'%' => matches[j] || (j > 0 && next[j - 1] && name[j - 1] != separator),
                _ => j > 0 && matches[j - 1] && name[j - 1] == p,
            };
        }
        matches = next;
    }
    matches[name.len()]
}

#[cfg(test)]
mod tests {
    use super::glob;

    #[test]
    fn list_wildcards() {
        assert!(glob(b"*", b"a/b"));
        assert!(glob(b"%", b"ab"));
        assert!(!glob(b"%", b"a/b"));
        assert!(glob(b"a/%", b"a/b"));
        assert!(glob(b"INBOX", b"INBOX"));
        assert!(!glob(b"INB", b"INBOX"));
    }
}
