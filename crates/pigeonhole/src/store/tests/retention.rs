//! Retention: the newest messages kept by count and by size.

use tempfile::TempDir;

use super::{config, drain, new_message, open, simple, subjects};
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
