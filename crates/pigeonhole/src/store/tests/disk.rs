//! A full disk (disk.rs): the batch fails cleanly and the state is announced.

use tempfile::TempDir;

use super::{config, drain, new_message, simple};
use crate::model::event::{self, DiskState, Event};
use crate::store::{Store, SubmitError};

/// A full disk fails the batch: nothing written, nothing acknowledged, nothing
/// announced, and the counts stay true.
#[tokio::test]
async fn full_disk_fails_the_batch_cleanly() {
    let dir = TempDir::new().unwrap();
    let events = event::channel();
    let mut receiver = events.subscribe();
    // SQLite reports a database that may not grow (max_page_count) exactly as a
    // full disk: SQLITE_FULL.
    let store = Store::open_with(dir.path(), config(), events, |conn| {
        let pages: i64 = conn.query_row("PRAGMA page_count", [], |row| row.get(0))?;
        conn.query_row(&format!("PRAGMA max_page_count = {}", pages + 8), [], |_| Ok(()))
    })
    .unwrap();
    let small = store.submit(new_message(simple("fits"))).await.unwrap();
    drain(&mut receiver);

    // Incompressible, so it needs far more than 8 pages.
    let mut noise = Vec::with_capacity(300_000);
    let mut x: u32 = 1;
    while noise.len() < 300_000 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        noise.extend_from_slice(&x.to_le_bytes());
    }
    let mut raw = b"Subject: big\r\n\r\n".to_vec();
    raw.extend(noise.iter().map(|b| b'a' + b % 26));
    let result = store.submit(new_message(raw)).await;
    assert!(matches!(result, Err(SubmitError::DiskFull)), "{result:?}");

    // Nothing announced but the disk's state, which the store now reports.
    let published = drain(&mut receiver);
    assert!(matches!(published[..], [Event::Disk(DiskState { full: true })]), "{published:?}");
    assert!(store.disk_full());
    assert_eq!(store.data_dir(), dir.path());
    let page = store.list(0, 10).unwrap();
    assert_eq!((page.total, page.count), (1, 1));
    assert_eq!(page.messages[0].id, small);
    assert_eq!(store.search("big", 0, 10).unwrap().messages_count, 0);

    // A write that fits again clears it, and says so.
    store.submit(new_message(simple("fits again"))).await.unwrap();
    assert!(!store.disk_full());
    let published = drain(&mut receiver);
    assert!(matches!(published[0], Event::Disk(DiskState { full: false })), "{published:?}");
    assert_eq!(published.iter().filter(|e| matches!(e, Event::Disk(_))).count(), 1);
    store.close().await;
}
