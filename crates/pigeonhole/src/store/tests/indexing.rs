//! Full-text indexing after the commit, text left pending by a crash, and the
//! background checkpoints (checkpoint.rs).

use std::time::Duration;

use tempfile::TempDir;

use super::{config, eml, ids, new_message, open, simple};
use crate::store::{Selection, Store};

fn pending_rows(store: &Store) -> i64 {
    let conn = rusqlite::Connection::open(store.database_path()).unwrap();
    conn.query_row("SELECT count(*) FROM fts_pending", [], |row| row.get(0)).unwrap()
}

async fn wait_until_indexed(store: &Store) {
    for _ in 0..200 {
        if pending_rows(store) == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("pending text was never indexed");
}

#[tokio::test]
async fn new_messages_are_found_before_and_after_indexing() {
    let dir = TempDir::new().unwrap();
    let (store, _events) = open(dir.path(), config());
    let id = store.submit(new_message(simple("Quarterly invoice"))).await.unwrap();
    // Found at once, from the pending text…
    assert_eq!(ids(&store.search("invoice", 0, 10).unwrap()), [id.as_str()]);
    // …then indexed in the background once the writer is idle, and still found.
    wait_until_indexed(&store).await;
    assert_eq!(ids(&store.search("invoice", 0, 10).unwrap()), [id.as_str()]);
    assert_eq!(ids(&store.search("quart", 0, 10).unwrap()), [id.as_str()]);

    // A message deleted before it is indexed leaves nothing behind.
    let gone = store.submit(new_message(simple("Ephemeral receipt"))).await.unwrap();
    store.delete(Selection::Ids(vec![gone])).await.unwrap();
    assert!(store.search("receipt", 0, 10).unwrap().messages.is_empty());
    wait_until_indexed(&store).await;
    assert!(store.search("receipt", 0, 10).unwrap().messages.is_empty());
    store.close().await;
}

#[tokio::test]
async fn text_left_pending_by_a_crash_is_indexed_at_start() {
    let dir = TempDir::new().unwrap();
    let (store, _events) = open(dir.path(), config());
    let id = store.submit(new_message(simple("Café invoice"))).await.unwrap();
    store.close().await;
    // What a process killed before indexing leaves: text pending, nothing indexed.
    {
        let conn = rusqlite::Connection::open(store.database_path()).unwrap();
        conn.execute_batch(
            "INSERT INTO fts_pending SELECT 1, 'Café invoice', 'sender@example.com', 'hello', '';
             DELETE FROM messages_fts WHERE rowid = 1;",
        )
        .unwrap();
    }
    let (store, _events) = open(dir.path(), config());
    wait_until_indexed(&store).await;
    // "cafe" finds "Café" only through the index (diacritics folded).
    assert_eq!(ids(&store.search("cafe", 0, 10).unwrap()), [id.as_str()]);
    store.close().await;
}

#[tokio::test]
async fn commits_are_checkpointed_in_the_background() {
    let dir = TempDir::new().unwrap();
    let (store, _events) = open(dir.path(), config());
    let db_size = || std::fs::metadata(store.database_path()).unwrap().len();
    let before = db_size();
    let body = "lorem ipsum ".repeat(1000);
    for i in 0..100 {
        store.submit(new_message(eml(&format!("Subject: {i}\r\n"), &body))).await.unwrap();
    }
    // SQLite's own checkpoint waits for 10,000 pages; ~1 MB of commits reach the
    // database file only through the background checkpointer.
    for _ in 0..100 {
        if db_size() > before + 500_000 {
            store.close().await;
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("no checkpoint within 2 s: the database file stayed at {} bytes", db_size());
}
