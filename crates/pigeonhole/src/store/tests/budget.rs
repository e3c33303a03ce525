//! The byte budget (budget.rs): queued bytes and reservations share it.

use tempfile::TempDir;

use super::{WriteLock, config, eml, enqueue, new_message, open, simple, subjects};
use crate::config::StoreConfig;
use crate::store::SubmitError;

#[tokio::test]
async fn queued_bytes_over_the_budget_answer_busy() {
    let dir = TempDir::new().unwrap();
    let config = StoreConfig { max_queued_bytes: 100 * 1024, ..config() };
    let (store, _events) = open(dir.path(), config);
    let lock = WriteLock::take(&store);
    let big = |subject: &str| eml(&format!("Subject: {subject}\r\n"), &"b".repeat(60 * 1024));
    // 60 KiB waits for the writer; another 60 KiB would pass the 100 KiB budget,
    // though the queue has room for a thousand messages.
    let waiting = enqueue(&store, big("waiting")).await;
    let refused = store.submit(new_message(big("refused"))).await;
    assert!(matches!(refused, Err(SubmitError::Busy)), "{refused:?}");
    let small = enqueue(&store, simple("small fits")).await;

    lock.release();
    waiting.await.unwrap();
    small.await.unwrap();
    // Once written, the budget is free again.
    store.submit(new_message(big("after"))).await.unwrap();
    assert_eq!(subjects(&store.list(0, 10).unwrap()), ["after", "small fits", "waiting"]);
    store.close().await;
}

/// One budget for messages on their way in: what a reservation holds (a body
/// still arriving) is not available to submits, a reservation cannot grow past
/// what is free, and it is given back when dropped or when its message is written.
#[tokio::test]
async fn reservations_share_the_byte_budget() {
    let dir = TempDir::new().unwrap();
    let config = StoreConfig { max_queued_bytes: 100 * 1024, ..config() };
    let (store, _events) = open(dir.path(), config);
    let big = |subject: &str| eml(&format!("Subject: {subject}\r\n"), &"b".repeat(60 * 1024));

    let mut arriving = store.reservation();
    assert!(arriving.cover(50 * 1024));
    assert_eq!(arriving.bytes(), 50 * 1024);
    assert!(arriving.cover(10 * 1024), "already held");
    assert_eq!(arriving.bytes(), 50 * 1024);
    // 50 KiB held by a body still arriving: a 60 KiB message does not fit.
    let refused = store.submit(new_message(big("refused"))).await;
    assert!(matches!(refused, Err(SubmitError::Busy)), "{refused:?}");
    let mut other = store.reservation();
    assert!(!other.cover(60 * 1024), "past what is free");
    assert_eq!(other.bytes(), 0);
    assert!(other.cover(40 * 1024));
    assert!(!arriving.cover(70 * 1024), "the other holds the rest");
    assert_eq!(arriving.bytes(), 50 * 1024, "a failed cover keeps what it held");
    drop(other);
    // The body arrives whole (61 KiB with its header): its reservation grows to
    // it and goes to the store with it.
    let id = store.submit_reserved(new_message(big("arrived")), arriving).await.unwrap();
    assert_eq!(store.summary(&id).unwrap().unwrap().subject, "arrived");
    // Written: all of the budget is free again.
    let mut all = store.reservation();
    assert!(all.cover(100 * 1024));
    all.release();
    assert_eq!(all.bytes(), 0);
    store.submit(new_message(big("after"))).await.unwrap();
    store.close().await;
}
