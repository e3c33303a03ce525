//! Export tests: a real store in a temporary folder, written out in each format and
//! read back byte for byte.

use std::io::Read;

use tempfile::TempDir;
use time::OffsetDateTime;

use std::fs;
use std::path::{Path, PathBuf};

use super::*;
use crate::config::StoreConfig;
use crate::model::Envelope;
use crate::model::event;
use crate::model::{MessageId, NewMessage};
use crate::store::Store;

/// A store holding one message per subject (oldest first), and their IDs.
async fn store_with(subjects: &[&str]) -> (TempDir, Store, Vec<MessageId>, Vec<Vec<u8>>) {
    // A `From ` body line checks the mbox quoting on the way.
    let raws = subjects.iter().enumerate().map(|(n, subject)| {
        format!("From: a@example.com\r\nSubject: {subject}\r\n\r\nline {n}\r\nFrom the start\r\n").into_bytes()
    });
    store_raw(raws.collect()).await
}

/// A store holding these messages (oldest first), and their IDs.
async fn store_raw(raws: Vec<Vec<u8>>) -> (TempDir, Store, Vec<MessageId>, Vec<Vec<u8>>) {
    let dir = TempDir::new().unwrap();
    let store = Store::open(dir.path(), StoreConfig::default(), event::channel()).unwrap();
    let mut ids = Vec::new();
    for raw in &raws {
        let envelope =
            Envelope { mail_from: "a@example.com".into(), rcpt_to: vec!["b@example.com".into()], ..Default::default() };
        ids.push(
            store
                .submit(NewMessage { raw: raw.clone(), envelope, received_at: OffsetDateTime::now_utc() })
                .await
                .unwrap(),
        );
    }
    (dir, store, ids, raws)
}

/// Every path under `dir`, relative to it, sorted.
fn tree(dir: &Path) -> Vec<PathBuf> {
    let mut paths = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            paths.extend(tree(&path).into_iter().map(|inner| path.strip_prefix(dir).unwrap().join(inner)));
        }
        paths.push(path.strip_prefix(dir).unwrap().to_path_buf());
    }
    paths.sort();
    paths
}

/// MailDev's CVE-2024-27448 was a file written where a Content-ID pointed. Our
/// exports name files after the date and subject only; a message whose attachment
/// name, Content-ID, Message-ID and subject all climb out of the folder is written,
/// in every format, inside the chosen folder and nowhere else.
#[tokio::test]
async fn path_traversal_in_a_message_writes_nothing_outside_the_chosen_folder() {
    let raw = b"From: a@example.com\r\nSubject: ../../z\r\nMessage-ID: <../../y@example.com>\r\n\
        MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n\
        --b\r\nContent-Type: text/html\r\n\r\n<img src=\"cid:../x\">\r\n\
        --b\r\nContent-Type: image/png; name=\"../../evil\"\r\nContent-ID: <../x>\r\n\
        Content-Disposition: attachment; filename=\"../../evil\"\r\nContent-Transfer-Encoding: base64\r\n\r\n\
        iVBORw0KGgo=\r\n--b\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename=\"/tmp/evil2\"\r\n\r\nx\r\n--b--\r\n";
    let (_dir, store, ids, raws) = store_raw(vec![raw.to_vec()]).await;
    let out = TempDir::new().unwrap();
    let chosen = out.path().join("a").join("chosen");
    fs::create_dir_all(&chosen).unwrap();
    write(&store, &ids, Format::Folder, &chosen.join("folder"), |_, _| {}).unwrap();
    write(&store, &ids, Format::Zip, &chosen.join("mail.zip"), |_, _| {}).unwrap();
    write(&store, &ids, Format::Mbox, &chosen.join("mail.mbox"), |_, _| {}).unwrap();
    // The desktop's Save as .eml suggests this name in its dialog.
    let name = eml_file_name(&store.summary(&ids[0]).unwrap().unwrap());
    assert!(name.ends_with(" _.._z.eml"), "{name}");
    write_eml(&store, &ids[0], &chosen.join(&name)).unwrap();

    // Sorted as `tree` sorts (the name starts with the year).
    let expected: Vec<PathBuf> = [
        "",
        "/chosen",
        &format!("/chosen/{name}"),
        "/chosen/folder",
        &format!("/chosen/folder/{name}"),
        "/chosen/mail.mbox",
        "/chosen/mail.zip",
    ]
    .iter()
    .map(|path| PathBuf::from(format!("a{path}")))
    .collect();
    assert_eq!(tree(out.path()), expected);
    assert!(!Path::new("/tmp/evil2").exists());

    let mut zip = zip::ZipArchive::new(File::open(chosen.join("mail.zip")).unwrap()).unwrap();
    assert_eq!(zip.len(), 1);
    let mut entry = zip.by_index(0).unwrap();
    assert_eq!(entry.name().unwrap(), name);
    let mut bytes = Vec::new();
    entry.read_to_end(&mut bytes).unwrap();
    assert_eq!(bytes, raws[0]);
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
    let gone = MessageId::generate(0);
    ids.push(gone.clone());
    let out = TempDir::new().unwrap();
    let dest = out.path().join("one.eml");
    write_eml(&store, &ids[0], &dest).unwrap();
    assert_eq!(fs::read(&dest).unwrap(), raws[0]);
    assert!(matches!(write_eml(&store, &gone, &dest), Err(ArchiveError::Gone(_))));
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
