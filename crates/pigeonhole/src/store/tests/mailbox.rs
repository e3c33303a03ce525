//! IMAP's view of an inbox: UIDs in order, flags from read and the `flagged` tag,
//! moves that give a new UID and never reuse one, across a reopen.

use tempfile::TempDir;

use super::{config, drain, from_user, new_message, open, simple};
use crate::model::DEFAULT_INBOX;
use crate::model::event::Event;
use crate::store::{FLAGGED_TAG, Selection};

#[tokio::test]
async fn uids_ascend_flags_follow_and_a_move_takes_a_new_uid_that_survives_a_reopen() {
    let dir = TempDir::new().unwrap();
    let (store, mut events) = open(dir.path(), config());
    assert_eq!(store.mailbox(DEFAULT_INBOX).unwrap(), None);
    let first = store.submit(new_message(simple("one"))).await.unwrap();
    let second = store.submit(new_message(simple("two"))).await.unwrap();
    let other = store.submit(from_user(simple("three"), "alice")).await.unwrap();

    let inbox = store.mailbox(DEFAULT_INBOX).unwrap().unwrap();
    let uids: Vec<u32> = inbox.entries.iter().map(|e| e.uid).collect();
    assert_eq!(inbox.entries.iter().map(|e| &e.id).collect::<Vec<_>>(), [&first, &second]);
    assert!(uids[0] < uids[1], "{uids:?}");
    assert!(inbox.uid_next > uids[1] + 1, "the next UID is past alice's message too: {inbox:?}");
    assert!(inbox.uid_validity > 1_700_000_000, "{inbox:?}");
    assert!(!inbox.entries[0].read && !inbox.entries[0].flagged);

    store.set_read(Selection::Ids(vec![first.clone()]), true).await.unwrap();
    store.set_tags(vec![second.clone()], &[FLAGGED_TAG.to_owned()]).await.unwrap();
    let inbox = store.mailbox(DEFAULT_INBOX).unwrap().unwrap();
    assert!(inbox.entries[0].read && !inbox.entries[0].flagged);
    assert!(!inbox.entries[1].read && inbox.entries[1].flagged);

    drain(&mut events);
    let moved = store.move_to(vec![first.clone(), other.clone()], "alice").await.unwrap();
    assert_eq!(moved.len(), 1, "alice's own message stays where it is: {moved:?}");
    assert_eq!(moved[0].id, first);
    assert!(moved[0].uid >= inbox.uid_next, "{moved:?} vs {inbox:?}");
    assert!(drain(&mut events).iter().any(|e| matches!(e, Event::Prune(()))));

    let alice = store.mailbox("alice").unwrap().unwrap();
    assert_eq!(alice.entries.iter().map(|e| (&e.id, e.uid)).next_back(), Some((&first, moved[0].uid)));
    assert!(alice.entries[1].read, "the read flag moves with the message");
    assert_eq!(store.mailbox(DEFAULT_INBOX).unwrap().unwrap().entries.len(), 1);
    store.close().await;

    // Reopened: the same UIDs, and a new message comes after the moved one.
    let (store, _) = open(dir.path(), config());
    assert_eq!(store.mailbox("alice").unwrap().unwrap(), alice);
    let later = store.submit(from_user(simple("four"), "alice")).await.unwrap();
    let alice = store.mailbox("alice").unwrap().unwrap();
    let last = alice.entries.last().unwrap();
    assert_eq!(last.id, later);
    assert!(last.uid > moved[0].uid);
    store.close().await;
}
