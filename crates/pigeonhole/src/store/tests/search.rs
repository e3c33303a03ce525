//! Mailpit's search syntax (search.rs) over stored messages.

use tempfile::TempDir;
use time::macros::datetime;

use super::{config, eml, from_user, open, received};
use crate::model::MessageId;
use crate::store::Selection;

#[tokio::test]
async fn search_operators() {
    let dir = TempDir::new().unwrap();
    let (store, _events) = open(dir.path(), config());
    let invoice = eml(
        "From: Billing Dept <billing@shop.example>\r\nTo: Alice <alice@example.com>\r\nCc: boss@example.com\r\n\
         Bcc: audit@example.com\r\nSubject: Your invoice 50% off\r\nMessage-ID: <inv-1@shop.example>\r\n\
         Content-Type: multipart/mixed; boundary=b\r\n",
        "--b\r\nContent-Type: text/plain\r\n\r\nPlease pay the café bill.\r\n\
         --b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=receipt.pdf\r\n\r\nPDF\r\n--b--",
    );
    let newsletter = eml(
        "From: News <news@letters.example>\r\nTo: bob@example.com\r\nSubject: Weekly digest\r\n\
         Content-Type: text/html\r\n",
        &format!("<p>Big <b>sale</b> today</p>{}", "x".repeat(3000)),
    );
    let alert = eml("From: ops@example.com\r\nTo: alice@example.com\r\nSubject: Disk alert\r\n", "disk almost full");
    let a = store.submit(received(invoice, datetime!(2024-01-01 12:00 UTC))).await.unwrap();
    let b = store.submit(received(newsletter, datetime!(2024-02-01 12:00 UTC))).await.unwrap();
    let c = store.submit(from_user(alert, "ci-bot")).await.unwrap();
    store.set_read(Selection::Ids(vec![a.clone()]), true).await.unwrap();
    // Closing indexes all pending text: the table below is about the index.
    store.close().await;
    let (store, _events) = open(dir.path(), config());

    let found = |query: &str| -> Vec<String> {
        let mut ids: Vec<String> =
            store.search(query, 0, 50).unwrap().messages.into_iter().map(|m| m.id.into_string()).collect();
        ids.sort();
        ids
    };
    let set = |list: &[&MessageId]| -> Vec<String> {
        let mut ids: Vec<String> = list.iter().map(|s| s.to_string()).collect();
        ids.sort();
        ids
    };
    let cases: Vec<(&str, Vec<String>)> = vec![
        ("", set(&[&a, &b, &c])),
        ("invoice", set(&[&a])),
        ("INV", set(&[&a])),          // prefix, case-insensitive
        ("cafe", set(&[&a])),         // diacritics folded
        ("receipt.pdf", set(&[&a])),  // attachment names are indexed
        ("\"big sale\"", set(&[&b])), // phrase over HTML converted to text
        ("\"sale big\"", set(&[])),
        ("-invoice", set(&[&b, &c])),
        ("!invoice !digest", set(&[&c])),
        ("alice", set(&[&a, &c])), // addresses are indexed
        ("from:billing", set(&[&a])),
        ("from:\"Billing Dept\"", set(&[&a])),
        ("from:<ops@example.com>", set(&[&c])),
        ("-from:billing", set(&[&b, &c])),
        ("to:alice", set(&[&a, &c])),
        ("to:name", set(&[])), // no JSON key names match
        ("cc:boss", set(&[&a])),
        ("bcc:audit", set(&[&a])),
        ("addressed:bob", set(&[&b])),
        ("subject:\"50% off\"", set(&[&a])),
        ("subject:50%", set(&[&a])),
        ("subject:_", set(&[])), // LIKE wildcards are literal
        ("message-id:inv-1", set(&[&a])),
        ("is:read", set(&[&a])),
        ("is:unread", set(&[&b, &c])),
        ("-is:unread", set(&[&a])),
        ("has:attachment", set(&[&a])),
        ("has:attachments -has:attachment", set(&[])),
        ("before:2024-01-15", set(&[&a])),
        ("after:2024/01/15", set(&[&b, &c])),
        ("after:2024-01-15 before:2024-03-01T00:00:00Z", set(&[&b])),
        ("before:garbage", set(&[&a, &b, &c])), // unparseable dates filter nothing
        ("larger:2k", set(&[&b])),
        ("smaller:2KB", set(&[&a, &c])),
        ("inbox:ci-bot", set(&[&c])),
        ("inbox:default", set(&[&a, &b])),
        ("tag:anything", set(&[])),
        ("is:tagged", set(&[])),
        ("alice is:unread", set(&[&c])),
        // FTS5 syntax in user input is inert text, never an error.
        ("NEAR(a b) OR \"x AND * ^ col:x", set(&[])),
        ("- ! \"\"", set(&[&a, &b, &c])),
        ("alice\0x", set(&[])),
    ];
    for (query, expected) in cases {
        assert_eq!(found(query), expected, "query {query:?}");
    }
    assert_eq!(store.latest_id(Some("alice")).unwrap(), Some(c.clone()));
    assert_eq!(store.latest_id(Some("from:billing")).unwrap(), Some(a.clone()));
    assert_eq!(store.latest_id(Some("from:nobody")).unwrap(), None);
    store.close().await;
}
