//! Retention: the newest messages kept by count and by size, and none older than
//! the maximum age.

use std::time::Duration;

use tempfile::TempDir;
use time::OffsetDateTime;
use tokio::sync::broadcast;

use super::{config, drain, new_message, open, received, simple, subjects};
use crate::config::StoreConfig;
use crate::model::event::Event;

#[tokio::test]
async fn retention_keeps_the_newest_by_count() {
    let dir = TempDir::new().unwrap();
    let (store, mut events) = open(dir.path(), StoreConfig { max_messages: 5, ..config() });
    for n in 0..8 {
        store.submit(new_message(simple(&format!("m{n}")))).await.unwrap();
    }
    let page = store.list(0, 50).unwrap();
    assert_eq!(subjects(&page), ["m7", "m6", "m5", "m4", "m3"]);
    assert_eq!((page.total, page.unread), (5, 5));
    assert_eq!(drain(&mut events).iter().filter(|e| matches!(e, Event::Prune(()))).count(), 3);
    assert_eq!(store.search("m0", 0, 10).unwrap().messages_count, 0);
    store.close().await;

    // The counts the writer keeps match the table after a restart.
    let (store, _events) = open(dir.path(), StoreConfig { max_messages: 5, ..config() });
    store.submit(new_message(simple("m8"))).await.unwrap();
    assert_eq!(subjects(&store.list(0, 50).unwrap()), ["m8", "m7", "m6", "m5", "m4"]);
    store.close().await;
}

#[tokio::test]
async fn retention_keeps_the_newest_by_size() {
    let dir = TempDir::new().unwrap();
    let one = simple("m0").len() as u64;
    let (store, _events) = open(dir.path(), StoreConfig { max_total_size: 3 * one + one / 2, ..config() });
    for n in 0..6 {
        store.submit(new_message(simple(&format!("m{n}")))).await.unwrap();
    }
    assert_eq!(subjects(&store.list(0, 50).unwrap()), ["m5", "m4", "m3"]);
    store.close().await;
}

/// The events up to the first `stats` after a `prune` (or a failed test after 10 s).
async fn until_pruned(events: &mut broadcast::Receiver<Event>) -> Vec<Event> {
    let mut seen = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let event = events.recv().await.expect("the event channel is open");
            let done = matches!(event, Event::Stats(_)) && seen.iter().any(|e| matches!(e, Event::Prune(())));
            seen.push(event);
            if done {
                return;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no prune then stats within 10 s; events: {seen:?}"));
    seen
}

/// Messages that passed the maximum age while no engine ran go when the store
/// opens, announced as a `prune` and the totals after it.
#[tokio::test]
async fn messages_past_the_maximum_age_go_at_start() {
    let dir = TempDir::new().unwrap();
    let (store, _events) = open(dir.path(), config());
    let now = OffsetDateTime::now_utc();
    store.submit(received(simple("two days old"), now - time::Duration::days(2))).await.unwrap();
    store.submit(received(simple("an hour old"), now - time::Duration::hours(1))).await.unwrap();
    store.submit(new_message(simple("new"))).await.unwrap();
    store.close().await;

    let max_age = Some(Duration::from_secs(24 * 3600));
    let (store, mut events) = open(dir.path(), StoreConfig { max_age, ..config() });
    let seen = until_pruned(&mut events).await;
    assert!(matches!(seen.last(), Some(Event::Stats(s)) if s.total == 2 && s.unread == 2), "{seen:?}");
    assert_eq!(subjects(&store.list(0, 50).unwrap()), ["new", "an hour old"]);
    assert_eq!(store.search("two", 0, 10).unwrap().messages_count, 0);
    store.close().await;
}

/// A running store keeps looking: a message is deleted once it passes the
/// maximum age, without any other write to trigger it.
#[tokio::test]
async fn messages_are_deleted_as_they_pass_the_maximum_age() {
    let dir = TempDir::new().unwrap();
    let max_age = Some(Duration::from_millis(500));
    let (store, mut events) = open(dir.path(), StoreConfig { max_age, ..config() });
    store.submit(new_message(simple("short-lived"))).await.unwrap();
    assert_eq!(store.list(0, 50).unwrap().total, 1);
    drain(&mut events);

    let seen = until_pruned(&mut events).await;
    assert!(matches!(seen.last(), Some(Event::Stats(s)) if s.total == 0), "{seen:?}");
    assert_eq!(store.list(0, 50).unwrap().total, 0);
    // The store goes on taking mail.
    store.submit(new_message(simple("next"))).await.unwrap();
    assert_eq!(subjects(&store.list(0, 50).unwrap()), ["next"]);
    store.close().await;
}
