//! Opening a data folder: refusals that leave foreign files untouched, their one-line
//! errors, and reopening with everything kept.

use std::io;
use std::path::PathBuf;

use tempfile::TempDir;

use super::{config, from_user, new_message, open, simple};
use crate::model::event;
use crate::store::{DATABASE_FILE, OpenError, Selection, Store};

#[tokio::test]
async fn refuses_a_newer_schema_without_touching_the_file() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join(DATABASE_FILE);
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch("CREATE TABLE future (x); PRAGMA user_version = 99;").unwrap();
    }
    let before = std::fs::read(&path).unwrap();
    let error = Store::open(dir.path(), config(), event::channel()).err().expect("must refuse");
    assert!(matches!(error, OpenError::NewerSchema { found: 99, .. }), "{error:?}");
    let text = error.to_string();
    assert!(text.contains("newer Pigeonhole") && text.contains("--data") && !text.contains('\n'), "{text}");
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

#[tokio::test]
async fn refuses_another_programs_database_without_touching_it() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join(DATABASE_FILE);
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO customers (name) VALUES ('x');",
        )
        .unwrap();
    }
    let before = std::fs::read(&path).unwrap();
    let error = Store::open(dir.path(), config(), event::channel()).err().expect("must refuse");
    assert!(matches!(error, OpenError::ForeignDatabase { .. }), "{error:?}");
    let text = error.to_string();
    assert!(text.contains("another program") && text.contains("--data") && !text.contains('\n'), "{text}");
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

#[tokio::test]
async fn refuses_a_file_that_is_not_a_database_without_touching_it() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join(DATABASE_FILE);
    let junk = b"this is not a database, it is a shopping list\n".repeat(200);
    std::fs::write(&path, &junk).unwrap();
    let error = Store::open(dir.path(), config(), event::channel()).err().expect("must refuse");
    assert!(matches!(error, OpenError::NotADatabase { .. }), "{error:?}");
    assert!(!error.to_string().contains('\n'));
    assert_eq!(std::fs::read(&path).unwrap(), junk);
}

#[tokio::test]
async fn reports_an_unusable_data_folder() {
    let dir = TempDir::new().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"").unwrap();
    let error = Store::open(&file.join("data"), config(), event::channel()).err().expect("must refuse");
    assert!(matches!(error, OpenError::DataDir { .. }), "{error:?}");
    let text = error.to_string();
    assert!(text.contains("a-file") && text.contains("--data") && !text.contains('\n'), "{text}");

    // A read-only folder (meaningless for root, who may write anywhere).
    use std::os::unix::fs::PermissionsExt;
    let locked = dir.path().join("locked");
    std::fs::create_dir(&locked).unwrap();
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o555)).unwrap();
    if std::fs::write(locked.join("probe"), b"").is_err() {
        let error = Store::open(&locked, config(), event::channel()).err().expect("must refuse");
        assert!(matches!(error, OpenError::CannotOpen { .. }), "{error:?}");
        assert!(error.to_string().contains("writable"));
    }
}

#[tokio::test]
async fn reopening_keeps_everything() {
    let dir = TempDir::new().unwrap();
    let mut sent = Vec::new();
    {
        let (store, _events) = open(dir.path(), config());
        for n in 0..3 {
            let raw = simple(&format!("kept {n}"));
            sent.push((store.submit(from_user(raw.clone(), "bob")).await.unwrap(), raw));
        }
        store.set_read(Selection::Ids(vec![sent[0].0.clone()]), true).await.unwrap();
        // Dropped without close(): the writer stops when the last handle goes.
    }
    let (store, _events) = open(dir.path(), config());
    let page = store.list(0, 10).unwrap();
    assert_eq!((page.total, page.unread), (3, 2));
    for (id, raw) in &sent {
        assert_eq!(&store.raw(id).unwrap().unwrap(), raw);
    }
    assert_eq!(store.search("kept", 0, 10).unwrap().messages_count, 3);
    assert_eq!(store.inboxes().unwrap()[0].name, "bob");
    store.submit(new_message(simple("more"))).await.unwrap();
    assert_eq!(store.stats().unwrap().total, 4);
    store.close().await;
}

#[test]
fn open_errors_are_one_line_with_a_fix() {
    let path = PathBuf::from("/data/pigeonhole.db");
    let errors = [
        OpenError::DataDir { path: path.clone(), source: io::Error::from(io::ErrorKind::PermissionDenied) },
        OpenError::CannotOpen { path: path.clone() },
        OpenError::ReadOnly { path: path.clone() },
        OpenError::NotADatabase { path: path.clone() },
        OpenError::ForeignDatabase { path: path.clone() },
        OpenError::NewerSchema { path: path.clone(), found: 7, known: 1 },
        OpenError::Busy { path: path.clone() },
        OpenError::DiskFull { path: path.clone() },
        OpenError::Database { path: path.clone(), detail: "disk I/O error".into() },
    ];
    for error in errors {
        let text = error.to_string();
        assert!(!text.contains('\n'), "{text}");
        assert!(text.contains("/data/pigeonhole.db") && text.contains("--data"), "{text}");
    }
}
