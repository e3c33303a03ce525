//! Mailpit's search syntax (search.rs) over stored messages.

use tempfile::TempDir;
use time::macros::datetime;

use rusqlite_migration::Migrations;

use super::{config, eml, from_user, ids, new_message, open, received, simple};
use crate::model::MessageId;
use crate::store::{DATABASE_FILE, SearchQuery, Selection, Store, schema};

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
    assert_eq!(store.latest_id(&"alice".into()).unwrap(), Some(c.clone()));
    assert_eq!(store.latest_id(&"from:billing".into()).unwrap(), Some(a.clone()));
    assert_eq!(store.latest_id(&"from:nobody".into()).unwrap(), None);
    store.close().await;
}

/// Free text as Mailpit matches it: substrings, case-insensitive, in every field
/// free text searches, found the same before and after indexing.
#[tokio::test]
async fn free_text_matches_substrings() {
    let dir = TempDir::new().unwrap();
    let (store, _events) = open(dir.path(), config());
    let plugh = store
        .submit(new_message(eml(
            "From: Quartermaster <qm@ships.example>\r\nTo: crew@ships.example\r\nSubject: xyzzyPLUGH123\r\n\
             Content-Type: multipart/mixed; boundary=b\r\n",
            "--b\r\nContent-Type: text/plain\r\n\r\nThe treasure map is enclosed.\r\n\
             --b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=chart-0042.pdf\r\n\r\nPDF\r\n--b--",
        )))
        .await
        .unwrap();
    let other = store.submit(new_message(simple("Go"))).await.unwrap();
    let cases: Vec<(&str, Vec<&str>)> = vec![
        ("PLUGH12", vec![plugh.as_str()]),        // inside a word
        ("plugh12", vec![plugh.as_str()]),        // case-insensitive
        ("zzyP", vec![plugh.as_str()]),           // across the case change
        ("termast", vec![plugh.as_str()]),        // the sender's name
        ("ships.exam", vec![plugh.as_str()]),     // an address
        ("easure", vec![plugh.as_str()]),         // the body
        ("rt-004", vec![plugh.as_str()]),         // an attachment name
        ("\"map is enc\"", vec![plugh.as_str()]), // a phrase, spaces included
        ("\"map  is\"", vec![]),                  // …exactly
        ("-PLUGH12", vec![other.as_str()]),       // negated
        ("PLUGH124", vec![]),
        // Shorter than a trigram: matched by scanning the text.
        ("23", vec![plugh.as_str()]),
        ("Go", vec![other.as_str()]), // the whole subject, two characters
        ("q", vec![plugh.as_str()]),
        ("-q", vec![other.as_str()]),
        ("AP", vec![plugh.as_str()]), // "map", case-insensitive
        ("zz", vec![plugh.as_str()]),
        ("3_", vec![]), // LIKE wildcards are literal ("3 " is there)
        ("2%", vec![]),
    ];
    let check = |when: &str| {
        for (query, expected) in &cases {
            let mut found =
                ids(&store.search(query, 0, 10).unwrap()).into_iter().map(str::to_owned).collect::<Vec<_>>();
            found.sort();
            let mut expected: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
            expected.sort();
            assert_eq!(found, expected, "{query:?} {when}");
        }
    };
    check("before indexing");
    // Closing indexes all pending text.
    store.close().await;
    let (store, _events) = open(dir.path(), config());
    let pending: i64 = rusqlite::Connection::open(store.database_path())
        .unwrap()
        .query_row("SELECT count(*) FROM fts_pending", [], |row| row.get(0))
        .unwrap();
    assert_eq!(pending, 0);
    check("after indexing");
    // Deleting a message takes its text out of every place search looks.
    store.delete(Selection::Ids(vec![plugh])).await.unwrap();
    for query in ["PLUGH12", "23", "q"] {
        assert!(store.search(query, 0, 10).unwrap().messages.is_empty(), "{query}");
    }
    let conn = rusqlite::Connection::open(store.database_path()).unwrap();
    let kept: i64 = conn.query_row("SELECT count(*) FROM message_text", [], |row| row.get(0)).unwrap();
    assert_eq!(kept, 1);
    store.close().await;
}

/// `before:`/`after:` dates are read in the search's time zone.
#[tokio::test]
async fn dates_are_read_in_the_search_time_zone() {
    let dir = TempDir::new().unwrap();
    let (store, _events) = open(dir.path(), config());
    // 23:30 UTC on January 1st is 01:30 on January 2nd at UTC+2.
    let late = store.submit(received(simple("late"), datetime!(2024-01-01 23:30 UTC))).await.unwrap();
    let utc = SearchQuery::from("after:2024-01-02");
    assert!(store.search_in(&utc, 0, 10).unwrap().messages.is_empty());
    let plus_two = SearchQuery::in_zone("after:2024-01-02", "Etc/GMT-2").unwrap();
    assert_eq!(ids(&store.search_in(&plus_two, 0, 10).unwrap()), [late.as_str()]);
    let before = SearchQuery::in_zone("before:2024-01-02", "Etc/GMT-2").unwrap();
    assert!(store.search_in(&before, 0, 10).unwrap().messages.is_empty());
    // Behind UTC, the same moment is still January 1st.
    let new_york = SearchQuery::in_zone("before:2024-01-02 after:2024-01-01", "America/New_York").unwrap();
    assert_eq!(ids(&store.search_in(&new_york, 0, 10).unwrap()), [late.as_str()]);
    assert_eq!(SearchQuery::in_zone("x", "Mars/Olympus_Mons").unwrap_err(), "unknown time zone \"Mars/Olympus_Mons\"");
    // A delete by search reads its dates in the zone too.
    store.delete(Selection::Search(plus_two)).await.unwrap();
    assert!(store.search("", 0, 10).unwrap().messages.is_empty());
    store.close().await;
}

/// A database made before the trigram index (schema version 2, word index, text
/// not stored) upgrades in place, and every message in it is found by substring.
#[tokio::test]
async fn a_word_indexed_database_upgrades_to_substring_search() {
    let dir = TempDir::new().unwrap();
    let (store, _events) = open(dir.path(), config());
    let plugh = store.submit(new_message(simple("xyzzyPLUGH123"))).await.unwrap();
    let cafe = store.submit(from_user(simple("Café invoice"), "ci-bot")).await.unwrap();
    store.close().await;

    // The same mail in a file the previous schema made and its writer indexed.
    let old_dir = TempDir::new().unwrap();
    let old_path = old_dir.path().join(DATABASE_FILE);
    {
        let mut conn = rusqlite::Connection::open(&old_path).unwrap();
        Migrations::new(schema::migrations()).to_version(&mut conn, 2).unwrap();
        conn.execute("ATTACH ?1 AS new", [store.database_path().to_str().unwrap()]).unwrap();
        conn.execute_batch(
            "INSERT INTO inboxes SELECT * FROM new.inboxes;
             INSERT INTO messages SELECT seq, id, inbox_id, received_ms, message_id, from_addrs, to_addrs,
                 cc_addrs, bcc_addrs, reply_to_addrs, subject, date_ms, size, snippet, attachments, inlines,
                 username, read FROM new.messages;
             INSERT INTO raw SELECT * FROM new.raw;
             INSERT INTO envelopes SELECT * FROM new.envelopes;
             INSERT INTO messages_fts (rowid, subject, addresses, body, attachment_names)
                 SELECT seq, subject, addresses, body, attachment_names FROM new.message_text;
             DETACH new;",
        )
        .unwrap();
        assert_eq!(conn.pragma_query_value(None, "user_version", |row| row.get::<_, i64>(0)).unwrap(), 2);
        // The word index finds words and prefixes only.
        let words: i64 = conn
            .query_row("SELECT count(*) FROM messages_fts WHERE messages_fts MATCH '\"PLUGH12\" *'", [], |r| r.get(0))
            .unwrap();
        assert_eq!(words, 0);
    }

    let found = |store: &Store| {
        assert_eq!(ids(&store.search("PLUGH12", 0, 10).unwrap()), [plugh.as_str()]);
        assert_eq!(ids(&store.search("voic", 0, 10).unwrap()), [cafe.as_str()]);
        assert_eq!(ids(&store.search("inbox:ci-bot", 0, 10).unwrap()), [cafe.as_str()]);
    };
    let (store, _events) = open(old_dir.path(), config());
    // Found at once, from the text the upgrade queued…
    found(&store);
    // …and from the index, once the writer has indexed it (closing does).
    store.close().await;
    let conn = rusqlite::Connection::open(&old_path).unwrap();
    let pending: i64 = conn.query_row("SELECT count(*) FROM fts_pending", [], |r| r.get(0)).unwrap();
    assert_eq!(pending, 0);
    let (store, _events) = open(old_dir.path(), config());
    found(&store);
    // Diacritics are folded by the index, as the word index folded them.
    assert_eq!(ids(&store.search("cafe", 0, 10).unwrap()), [cafe.as_str()]);
    store.close().await;
}
