//! The writer thread's queue (writer.rs, sqlite.rs): group commit, a full queue
//! answering busy, and closing after the queue is written.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tempfile::TempDir;
use tokio::sync::broadcast;

use super::{WriteLock, config, drain, enqueue, new_message, open, simple, subjects};
use crate::config::StoreConfig;
use crate::model::event::{self, Event};
use crate::store::sqlite::Sqlite;
use crate::store::{Selection, Store, StoreError, SubmitError};

/// [`open`], keeping a handle on the SQLite backend to watch its write queue.
fn open_sqlite(dir: &Path, config: StoreConfig) -> (Store, Arc<Sqlite>, broadcast::Receiver<Event>) {
    let events = event::channel();
    let receiver = events.subscribe();
    let sqlite = Arc::new(Sqlite::open(dir, &config, events, |_| Ok(())).expect("open store"));
    (Store::with_backend(sqlite.clone(), &config), sqlite, receiver)
}

/// Wait until the writer's queue has exactly `free` free slots.
async fn queue_has_free_slots(sqlite: &Sqlite, free: usize) {
    for _ in 0..500 {
        if sqlite.queue.free_slots() == free {
            return;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    panic!("queue never had {free} free slots (has {})", sqlite.queue.free_slots());
}

#[tokio::test]
async fn close_flushes_then_refuses() {
    let dir = TempDir::new().unwrap();
    let (store, _events) = open(dir.path(), config());
    let lock = WriteLock::take(&store);
    let mut pending = Vec::new();
    for n in 0..5 {
        pending.push(enqueue(&store, simple(&format!("q{n}"))).await);
    }
    let mut closing = Box::pin(store.close());
    assert!(futures_util::poll!(&mut closing).is_pending(), "close waits for the queued messages");
    lock.release();
    closing.await;
    for submit in pending {
        submit.await.expect("queued before close, so written");
    }
    assert_eq!(store.stats().unwrap().total, 5);
    assert!(matches!(store.submit(new_message(simple("late"))).await, Err(SubmitError::Closed)));
    assert!(matches!(store.delete(Selection::All).await, Err(StoreError::Closed)));
    assert_eq!(store.list(0, 10).unwrap().count, 5, "reads still work");
    store.close().await;
}

/// Many concurrent submits are all acknowledged, all present, and share commits.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn group_commit_acknowledges_every_message() {
    let dir = TempDir::new().unwrap();
    let (store, sqlite, mut events) = open_sqlite(dir.path(), config());

    // Messages that queue up while the writer waits go out in one transaction,
    // which publishes one stats event.
    let capacity = config().queue_capacity;
    let lock = WriteLock::take(&store);
    let first = enqueue(&store, simple("first")).await;
    queue_has_free_slots(&sqlite, capacity).await; // the writer took it and waits for the lock
    let mut queued = Vec::new();
    for n in 0..100 {
        queued.push(enqueue(&store, simple(&format!("queued {n}"))).await);
    }
    assert_eq!(sqlite.queue.free_slots(), capacity - 100);
    lock.release();
    first.await.unwrap();
    for submit in queued {
        submit.await.unwrap();
    }
    let published = drain(&mut events);
    assert_eq!(published.iter().filter(|e| matches!(e, Event::New(_))).count(), 101);
    let commits = published.iter().filter(|e| matches!(e, Event::Stats(_))).count();
    assert_eq!(commits, 2, "one commit for the first message, one for the hundred queued behind it");

    // And without a stall: 1,000 submits from many tasks at once.
    let tasks: Vec<_> = (0..1000)
        .map(|n| {
            let store = store.clone();
            tokio::spawn(async move {
                let raw = simple(&format!("burst {n}"));
                loop {
                    match store.submit(new_message(raw.clone())).await {
                        Err(SubmitError::Busy) => tokio::task::yield_now().await,
                        other => return (other.unwrap(), raw),
                    }
                }
            })
        })
        .collect();
    let mut acknowledged = std::collections::HashSet::new();
    for task in tasks {
        let (id, raw) = task.await.unwrap();
        assert_eq!(store.raw(&id).unwrap().unwrap(), raw);
        assert!(acknowledged.insert(id));
    }
    assert_eq!(store.stats().unwrap().total, 1101);
    assert_eq!(store.search("burst", 0, 1).unwrap().messages_count, 1000);
    store.close().await;
}

/// A full queue refuses at once instead of growing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_queue_answers_busy() {
    let dir = TempDir::new().unwrap();
    let (store, sqlite, _events) = open_sqlite(dir.path(), StoreConfig { queue_capacity: 1, ..config() });
    let lock = WriteLock::take(&store);
    let in_writer = enqueue(&store, simple("in the writer")).await;
    queue_has_free_slots(&sqlite, 1).await; // the writer took it and waits for the lock
    let queued = enqueue(&store, simple("queued")).await;
    assert_eq!(sqlite.queue.free_slots(), 0);

    let refused = store.submit(new_message(simple("refused"))).await;
    assert!(matches!(refused, Err(SubmitError::Busy)), "{refused:?}");

    lock.release();
    in_writer.await.unwrap();
    queued.await.unwrap();
    assert_eq!(subjects(&store.list(0, 10).unwrap()), ["queued", "in the writer"]);
    store.close().await;
}
