//! Export tests: a real store in a temporary folder, written out in each format and
//! read back byte for byte.

use std::io::Read;

use tempfile::TempDir;
use time::OffsetDateTime;

use super::*;
use crate::config::StoreConfig;
use crate::events;
use crate::smtp::Envelope;
use crate::store::NewMessage;

/// A store holding one message per subject (oldest first), and their IDs.
async fn store_with(subjects: &[&str]) -> (TempDir, Store, Vec<String>, Vec<Vec<u8>>) {
    let dir = TempDir::new().unwrap();
    let store = Store::open(dir.path(), StoreConfig::default(), events::channel()).unwrap();
    let (mut ids, mut raws) = (Vec::new(), Vec::new());
    for (n, subject) in subjects.iter().enumerate() {
        // A `From ` body line checks the mbox quoting on the way.
        let raw =
            format!("From: a@example.com\r\nSubject: {subject}\r\n\r\nline {n}\r\nFrom the start\r\n").into_bytes();
        let envelope =
            Envelope { mail_from: "a@example.com".into(), rcpt_to: vec!["b@example.com".into()], ..Default::default() };
        ids.push(
            store
                .submit(NewMessage { raw: raw.clone(), envelope, received_at: OffsetDateTime::now_utc() })
                .await
                .unwrap(),
        );
        raws.push(raw);
    }
    (dir, store, ids, raws)
}

fn files_in(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|entry| {
            let entry = entry.unwrap();
            (entry.file_name().into_string().unwrap(), fs::read(entry.path()).unwrap())
        })
        .collect();
    files.sort();
    files
}

#[tokio::test]
async fn a_folder_export_keeps_hostile_subjects_inside_the_folder() {
    let subjects = ["../../escape", "/etc/passwd", "CON", "a\0b\r\nc", ".hidden", "same", "same"];
    let (_dir, store, ids, raws) = store_with(&subjects).await;
    let out = TempDir::new().unwrap();
    let dest = out.path().join("export");
    let mut seen = Vec::new();
    let written = write(&store, &ids, Format::Folder, &dest, |done, total| seen.push((done, total))).unwrap();

    assert_eq!(written, subjects.len());
    assert_eq!(seen.last(), Some(&(7, 7)));
    // Nothing outside the chosen folder.
    assert_eq!(fs::read_dir(out.path()).unwrap().count(), 1);
    let files = files_in(&dest);
    assert_eq!(files.len(), subjects.len());
    for (name, _) in &files {
        assert!(
            name.ends_with(".eml") && !name.starts_with('.') && !name.contains(['/', '\\', '\0', '\r', '\n']),
            "{name:?}"
        );
    }
    let mut contents: Vec<_> = files.into_iter().map(|(_, bytes)| bytes).collect();
    let mut expected = raws.clone();
    contents.sort();
    expected.sort();
    assert_eq!(contents, expected);
}

#[tokio::test]
async fn a_folder_export_never_overwrites_a_file() {
    let (_dir, store, ids, raws) = store_with(&["report"]).await;
    let out = TempDir::new().unwrap();
    write(&store, &ids, Format::Folder, out.path(), |_, _| {}).unwrap();
    write(&store, &ids, Format::Folder, out.path(), |_, _| {}).unwrap();
    let files = files_in(out.path());
    assert_eq!(files.len(), 2);
    assert!(files.iter().any(|(name, _)| name.ends_with(" report (2).eml")), "{files:?}");
    assert!(files.iter().all(|(_, bytes)| *bytes == raws[0]));
}

#[tokio::test]
async fn a_zip_export_holds_each_message_exactly() {
    let (_dir, store, ids, raws) = store_with(&["one", "two", "two"]).await;
    let out = TempDir::new().unwrap();
    let dest = out.path().join("mail.zip");
    assert_eq!(write(&store, &ids, Format::Zip, &dest, |_, _| {}).unwrap(), 3);

    let mut zip = zip::ZipArchive::new(File::open(&dest).unwrap()).unwrap();
    let mut names = Vec::new();
    for (index, raw) in raws.iter().enumerate() {
        let mut entry = zip.by_index(index).unwrap();
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).unwrap();
        assert_eq!(&bytes, raw);
        names.push(entry.name().unwrap().to_string());
    }
    assert!(names[2].ends_with("two (2).eml"), "{names:?}");
    // No temporary file left beside it.
    assert_eq!(fs::read_dir(out.path()).unwrap().count(), 1);
}

#[tokio::test]
async fn an_mbox_export_splits_back_into_the_messages() {
    let (_dir, store, ids, raws) = store_with(&["one", "two"]).await;
    let out = TempDir::new().unwrap();
    let dest = out.path().join("mail.mbox");
    write(&store, &ids, Format::Mbox, &dest, |_, _| {}).unwrap();
    let file = fs::read(&dest).unwrap();
    assert!(file.starts_with(b"From a@example.com "));
    assert_eq!(mbox::read(&file), raws);
}

#[tokio::test]
async fn deleted_messages_are_skipped_and_a_failed_write_leaves_nothing() {
    let (_dir, store, mut ids, raws) = store_with(&["kept"]).await;
    ids.push("no-such-id".into());
    let out = TempDir::new().unwrap();
    let dest = out.path().join("one.eml");
    write_eml(&store, &ids[0], &dest).unwrap();
    assert_eq!(fs::read(&dest).unwrap(), raws[0]);
    assert!(matches!(write_eml(&store, "no-such-id", &dest), Err(ArchiveError::Gone(_))));
    assert_eq!(write(&store, &ids, Format::Mbox, &out.path().join("all.mbox"), |_, _| {}).unwrap(), 1);

    let missing = out.path().join("no-such-folder/x.zip");
    let err = write(&store, &ids, Format::Zip, &missing, |_, _| {}).unwrap_err();
    assert!(err.to_string().starts_with("cannot write"), "{err}");
}

#[test]
fn names_are_safe_on_every_platform() {
    assert_eq!(safe_name("../../etc/passwd", 80), "_.._etc_passwd");
    assert_eq!(safe_name("  Hello\t\r\n  world  ", 80), "Hello world");
    assert_eq!(safe_name("nul", 80), "_nul");
    assert_eq!(safe_name("Re: a|b?", 80), "Re_ a_b_");
    assert_eq!(safe_name(&"x".repeat(300), 80).len(), 80);
    assert_eq!(safe_name("...", 80), "");
}
