//! The PostgreSQL backend on a real server (`tests/common/postgres.rs` starts
//! one per test binary; each test has its own database): the same answers as
//! SQLite for the same mail, two nodes on one database, migrations raced,
//! retention across nodes, and an outage.

use std::time::{Duration, Instant};

use tempfile::TempDir;
use time::macros::datetime;
use tokio::sync::broadcast;

use super::pg_fixture::PgCluster;
use super::{config, drain, eml, from_user, new_message, open, received, simple, subjects};
use crate::config::StoreConfig;
use crate::model::event::{self, Event};
use crate::model::{Access, MessageId};
use crate::store::{SearchQuery, Selection, Store, SubmitError};

/// A store on the PostgreSQL database `url` (opened off the runtime: the sync
/// client may not run on it).
async fn open_pg(url: &str, config: StoreConfig) -> (Store, broadcast::Receiver<Event>) {
    let events = event::channel();
    let receiver = events.subscribe();
    let url = url.to_owned();
    let store = tokio::task::spawn_blocking(move || Store::open_postgres(&url, &std::env::temp_dir(), config, events))
        .await
        .unwrap()
        .expect("open the PostgreSQL store");
    (store, receiver)
}

/// Store the same mail in `store` and ask it the same questions: the subjects
/// each search finds (sorted), tags, inboxes and counts.
async fn mailpit_answers(store: &Store) -> Vec<(String, Vec<String>)> {
    let invoice = eml(
        "From: Billing Dept <billing@shop.example>\r\nTo: Alice <alice@example.com>\r\nCc: boss@example.com\r\n\
         Bcc: audit@example.com\r\nSubject: Your invoice 50% off\r\nMessage-ID: <inv-1@shop.example>\r\n\
         X-Tags: Finance, urgent\r\nContent-Type: multipart/mixed; boundary=b\r\n",
        "--b\r\nContent-Type: text/plain\r\n\r\nPlease pay the bill.\r\n\
         --b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=receipt.pdf\r\n\r\nPDF\r\n--b--",
    );
    let newsletter = eml(
        "From: News <news@letters.example>\r\nTo: bob+weekly@example.com\r\nSubject: Weekly digest\r\n\
         Content-Type: text/html\r\n",
        &format!("<p>Big <b>sale</b> today</p>{}", "x".repeat(3000)),
    );
    let alert = eml("From: ops@example.com\r\nTo: alice@example.com\r\nSubject: Disk alert\r\n", "disk almost full");
    let plugh = eml(
        "From: Quartermaster <qm@ships.example>\r\nTo: crew@ships.example\r\nSubject: xyzzyPLUGH123\r\n",
        "The treasure map is enclosed.",
    );
    // A NUL PostgreSQL's text cannot hold: stored all the same.
    let nul = eml("From: nul@example.com\r\nTo: x@example.com\r\nSubject: Go\r\n", "zero\0byte");
    let a = store.submit(received(invoice, datetime!(2024-01-01 12:00 UTC))).await.unwrap();
    store.submit(received(newsletter, datetime!(2024-02-01 12:00 UTC))).await.unwrap();
    store.submit(from_user(alert, "ci-bot")).await.unwrap();
    store.submit(new_message(plugh)).await.unwrap();
    store.submit(new_message(nul)).await.unwrap();
    store.set_read(Selection::Ids(vec![a.clone()]), true).await.unwrap();

    let queries = [
        "",
        "invoice",
        "INV",
        "receipt.pdf",
        "\"big sale\"",
        "\"sale big\"",
        "-invoice",
        "!invoice !digest",
        "alice",
        "PLUGH12",
        "zzyP",
        "termast",
        "easure",
        "\"map is enc\"",
        "23",
        "q",
        "AP",
        "3_",
        "2%",
        "from:billing",
        "from:\"Billing Dept\"",
        "from:<ops@example.com>",
        "-from:billing",
        "to:alice",
        "to:name",
        "cc:boss",
        "bcc:audit",
        "addressed:bob",
        "subject:\"50% off\"",
        "subject:50%",
        "subject:_",
        "message-id:inv-1",
        "is:read",
        "is:unread",
        "-is:unread",
        "has:attachment",
        "before:2024-01-15",
        "after:2024/01/15",
        "after:2024-01-15 before:2024-03-01T00:00:00Z",
        "before:garbage",
        "larger:2k",
        "smaller:2KB",
        "inbox:ci-bot",
        "inbox:default",
        "tag:finance",
        "tag:weekly",
        "is:tagged",
        "-is:tagged",
        "alice is:unread",
        "NEAR(a b) OR \"x AND * ^ col:x",
        "- ! \"\"",
        "alice\0x",
        "zero",
    ];
    let mut answers = Vec::new();
    for query in queries {
        let page = store.search(query, 0, 50).unwrap_or_else(|e| panic!("{query:?}: {e}"));
        let mut found: Vec<String> = subjects(&page).into_iter().map(str::to_owned).collect();
        found.sort();
        found.push(format!("{} matching, {} unread", page.messages_count, page.unread));
        answers.push((query.to_owned(), found));
    }
    let page = store.list(0, 2).unwrap();
    answers.push(("list".into(), vec![format!("{:?} {} {:?}", subjects(&page), page.total, page.tags)]));
    let tags = store.tag_counts(&Access::All).unwrap();
    answers.push(("tags".into(), tags.iter().map(|(tag, n)| format!("{tag} {n}")).collect()));
    let inboxes = store.inboxes().unwrap();
    answers.push(("inboxes".into(), inboxes.iter().map(|i| format!("{} {} {}", i.name, i.total, i.unread)).collect()));
    answers.push(("latest alice".into(), vec![format!("{:?}", store.latest_id(&"alice".into()).unwrap().is_some())]));
    // Kept within one inbox, as for a user limited to it: the page, its totals, its tags.
    let ci_bot = Access::Inboxes(["ci-bot".to_owned()].into());
    let page = store.search_in(&SearchQuery::from("").within(&ci_bot), 0, 50).unwrap();
    let mut found: Vec<String> = subjects(&page).into_iter().map(str::to_owned).collect();
    found.sort();
    found.push(format!("{} total, {} unread, tags {:?}", page.total, page.unread, page.tags));
    answers.push(("within ci-bot".into(), found));
    answers.push(("tags within ci-bot".into(), vec![format!("{:?}", store.tag_counts(&ci_bot).unwrap())]));
    answers
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_answers_as_sqlite_does() {
    let dir = TempDir::new().unwrap();
    let (sqlite, _events) = open(dir.path(), config());
    let expected = mailpit_answers(&sqlite).await;
    sqlite.close().await;
    let (postgres, _events) = open_pg(&PgCluster::shared().database(), config()).await;
    let answers = mailpit_answers(&postgres).await;
    for (sqlite, postgres) in expected.iter().zip(&answers) {
        assert_eq!(postgres, sqlite, "PostgreSQL's answer (left) differs from SQLite's");
    }
    // A sample, so that a broken store answering nothing everywhere fails too.
    let answer = |query: &str| &answers.iter().find(|(q, _)| q == query).unwrap().1;
    assert_eq!(answer("zzyP")[0], "xyzzyPLUGH123");
    assert_eq!(answer("tag:finance")[0], "Your invoice 50% off");
    assert_eq!(answer("23"), &["xyzzyPLUGH123", "1 matching, 4 unread"]);
    postgres.close().await;
}

/// Reads, writes and IMAP's view that search does not cover.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_and_reads_round_trip() {
    let (store, mut events) = open_pg(&PgCluster::shared().database(), config()).await;
    let raw = simple("round trip");
    let id = store.submit(from_user(raw.clone(), "alice")).await.unwrap();
    assert!(matches!(&drain(&mut events)[..], [Event::New(m), Event::Stats(s)] if m.id == id && s.total == 1));
    assert_eq!(store.raw(&id).unwrap().unwrap(), raw);
    assert_eq!(store.envelope(&id).unwrap().unwrap().auth_user.as_deref(), Some("alice"));
    store.set_tags(vec![id.clone()], &["flagged".into(), "Blue".into()]).await.unwrap();
    assert_eq!(store.summary(&id).unwrap().unwrap().tags, ["Blue", "flagged"]);
    store.rename_tag("blue", "Green").await.unwrap();
    assert_eq!(store.tags(&Access::All).unwrap(), ["flagged", "Green"]);
    store.record_effects(id.clone(), vec!["a DSN was sent".into()]).await.unwrap();
    let simulation = store.envelope(&id).unwrap().unwrap().simulation.unwrap();
    assert_eq!(serde_json::to_value(&simulation).unwrap()["Effects"], serde_json::json!(["a DSN was sent"]));

    let mailbox = store.mailbox("alice").unwrap().unwrap();
    assert_eq!(mailbox.entries.len(), 1);
    assert!(mailbox.entries[0].flagged);
    let moved = store.move_to(vec![id.clone()], "archive").await.unwrap();
    assert_eq!(moved.len(), 1);
    assert!(moved[0].uid > mailbox.entries[0].uid);
    let archive = store.mailbox("archive").unwrap().unwrap();
    assert_eq!(archive.entries[0].uid, moved[0].uid);
    assert_eq!(archive.uid_next, moved[0].uid + 1);
    assert!(store.mailbox("alice").unwrap().unwrap().entries.is_empty());
    assert!(store.mailbox("nobody").unwrap().is_none());

    let after = store.position_after(&id).unwrap();
    let later = store.submit(new_message(simple("later"))).await.unwrap();
    assert_eq!(store.first_matching_after(&"".into(), after).unwrap().unwrap().id, later);
    store.delete(Selection::All).await.unwrap();
    assert_eq!(store.stats().unwrap().total, 0);
    assert_eq!(store.messages_deleted(), 2);
    assert!(store.tags(&Access::All).unwrap().is_empty());
    store.close().await;
}

/// New text waits in `text_pending` and is moved into the trigram index when the
/// writer is idle: found by free text before and after, and a message deleted
/// while its text waits leaves none behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_text_is_found_while_pending_and_once_indexed() {
    let cluster = PgCluster::shared();
    let url = cluster.database();
    let (store, _events) = open_pg(&url, config()).await;
    let kept = store.submit(new_message(simple("zanzibar invoice"))).await.unwrap();
    let gone = store.submit(new_message(simple("zanzibar receipt"))).await.unwrap();
    // Just acknowledged: both found, whether or not their text was moved yet.
    assert_eq!(store.search("anziba", 0, 10).unwrap().messages_count, 2);
    store.delete(Selection::Ids(vec![gone])).await.unwrap();
    let count = |table: &str| cluster.execute(&url, &format!("SELECT count(*) FROM {table}"))[0].clone();
    let started = Instant::now();
    while count("text_pending") != "0" {
        assert!(started.elapsed() < Duration::from_secs(5), "text still pending after 5 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(count("message_text"), "1", "the deleted message's text was dropped, not indexed");
    let found = store.search("voic", 0, 10).unwrap();
    assert_eq!(subjects(&found), ["zanzibar invoice"]);
    assert_eq!(found.messages[0].id, kept);
    store.close().await;
}

/// Wait for an event `wanted` picks, up to `within`.
async fn event_within<T>(
    events: &mut broadcast::Receiver<Event>,
    within: Duration,
    wanted: impl Fn(&Event) -> Option<T>,
) -> Option<T> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Ok(event)) => {
                if let Some(found) = wanted(&event) {
                    return Some(found);
                }
            }
            Ok(Err(broadcast::error::RecvError::Lagged(_))) => {}
            _ => return None,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_stored_on_one_node_is_an_event_on_the_other() {
    let url = PgCluster::shared().database();
    let (a, _a_events) = open_pg(&url, config()).await;
    let (b, mut b_events) = open_pg(&url, config()).await;
    let sent = Instant::now();
    let id = a.submit(new_message(simple("hello from A"))).await.unwrap();
    let new = event_within(&mut b_events, Duration::from_secs(2), |event| match event {
        Event::New(summary) => Some(summary.clone()),
        _ => None,
    })
    .await
    .expect("node B announces the message node A stored");
    let took = sent.elapsed();
    assert_eq!((new.id.clone(), new.subject.as_str()), (id.clone(), "hello from A"));
    assert!(took < Duration::from_millis(200), "took {took:?}");
    let stats = event_within(&mut b_events, Duration::from_secs(2), |event| match event {
        Event::Stats(stats) => Some(stats.clone()),
        _ => None,
    })
    .await
    .unwrap();
    assert_eq!(stats.total, 1);
    assert_eq!(b.stats().unwrap().total, 1);
    assert_eq!(b.summary(&id).unwrap().unwrap().subject, "hello from A");

    a.set_read(Selection::Ids(vec![id.clone()]), true).await.unwrap();
    let read = event_within(&mut b_events, Duration::from_secs(2), |event| match event {
        Event::Update(changed) => Some((changed.id.clone(), changed.read)),
        _ => None,
    })
    .await;
    assert_eq!(read, Some((id.clone(), true)));
    a.set_tags(vec![id.clone()], &["urgent".into()]).await.unwrap();
    let tagged = event_within(&mut b_events, Duration::from_secs(2), |event| match event {
        Event::Tagged(changed) => Some((changed.id.clone(), changed.tags.clone())),
        _ => None,
    })
    .await;
    assert_eq!(tagged, Some((id.clone(), vec!["urgent".to_owned()])));
    a.delete(Selection::Ids(vec![id.clone()])).await.unwrap();
    let deleted = event_within(&mut b_events, Duration::from_secs(2), |event| match event {
        Event::Delete(deleted) => Some(deleted.id.clone()),
        _ => None,
    })
    .await;
    assert_eq!(deleted, Some(id));
    a.close().await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_starting_together_apply_each_migration_once() {
    let cluster = PgCluster::shared();
    let url = cluster.database();
    let opening: Vec<_> = (0..3)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || Store::open_postgres(&url, &std::env::temp_dir(), config(), event::channel()))
        })
        .collect();
    let stores: Vec<Store> = opening.into_iter().map(|t| t.join().unwrap().expect("every node opens")).collect();
    let versions = cluster.execute(&url, "SELECT version FROM schema_version ORDER BY version");
    let expected: Vec<String> = (1..=crate::store::postgres::schema_version()).map(|v| v.to_string()).collect();
    assert_eq!(versions, expected);
    for store in stores {
        store.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_holds_across_nodes() {
    let url = PgCluster::shared().database();
    let limited = StoreConfig { max_messages: 5, ..config() };
    let (a, _a_events) = open_pg(&url, limited.clone()).await;
    let (b, _b_events) = open_pg(&url, limited).await;
    for n in 0..6 {
        a.submit(new_message(simple(&format!("a{n}")))).await.unwrap();
        b.submit(new_message(simple(&format!("b{n}")))).await.unwrap();
    }
    let newest: Vec<String> = subjects(&a.list(0, 50).unwrap()).into_iter().map(str::to_owned).collect();
    assert_eq!(newest, ["b5", "a5", "b4", "a4", "b3"]);
    assert_eq!(a.stats().unwrap().total, 5);
    assert_eq!(b.list(0, 50).unwrap().messages.len(), 5);
    assert_eq!(a.messages_deleted() + b.messages_deleted(), 7);
    a.close().await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_refuses_mail_quickly_and_ingest_resumes_by_itself() {
    let cluster = PgCluster::start();
    let (store, mut events) = open_pg(&cluster.database(), config()).await;
    let mut acknowledged: Vec<MessageId> = Vec::new();
    acknowledged.push(store.submit(new_message(simple("before"))).await.unwrap());
    assert!(store.ready());
    // Reads at once, so every reader has a connection for the outage to break.
    let reads_at_once = |store: &Store| {
        let reads: Vec<_> = (0..8)
            .map(|_| {
                let store = store.clone();
                tokio::task::spawn_blocking(move || store.list(0, 1).map(|page| page.total))
            })
            .collect();
        futures_util::future::join_all(reads)
    };
    for read in reads_at_once(&store).await {
        assert_eq!(read.unwrap().unwrap(), 1);
    }

    cluster.stop_immediately();
    let started = Instant::now();
    let refused = store.submit(new_message(simple("during"))).await;
    assert!(matches!(refused, Err(SubmitError::Failed(_))), "{refused:?}");
    assert!(started.elapsed() < Duration::from_secs(3), "refused after {:?}", started.elapsed());
    assert!(!store.ready());
    // While it is down, admission refuses at once.
    let started = Instant::now();
    assert!(matches!(store.submit(new_message(simple("during"))).await, Err(SubmitError::Failed(_))));
    assert!(started.elapsed() < Duration::from_millis(500));

    cluster.restart();
    let back = Instant::now();
    loop {
        match store.submit(new_message(simple("after"))).await {
            Ok(id) => {
                acknowledged.push(id);
                break;
            }
            Err(error) => {
                assert!(back.elapsed() < Duration::from_secs(5), "still refused after 5 s: {error}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    assert!(store.ready());
    // Other nodes' notices may have been missed meanwhile: clients are told to reload.
    let reload =
        event_within(&mut events, Duration::from_secs(3), |event| matches!(event, Event::Prune(())).then_some(()))
            .await;
    assert!(reload.is_some(), "no prune after the listener reconnected");
    // Each reader finds its connection gone and reads on a new one.
    for read in reads_at_once(&store).await {
        assert_eq!(read.unwrap().unwrap(), 2, "a read after the database came back");
    }
    for id in &acknowledged {
        assert!(store.summary(id).unwrap().is_some(), "acknowledged message {id} lost");
    }
    assert_eq!(store.stats().unwrap().total, 2);
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_past_max_age_expire() {
    let aging = StoreConfig { max_age: Some(Duration::from_secs(5)), ..config() };
    let (store, mut events) = open_pg(&PgCluster::shared().database(), aging).await;
    let old = time::OffsetDateTime::now_utc() - time::Duration::hours(1);
    let expired = store.submit(received(simple("an hour old"), old)).await.unwrap();
    let fresh = store.submit(new_message(simple("fresh"))).await.unwrap();
    // The insert's own commit does not look for expired mail; the writer's next
    // look (every tenth of max_age: half a second here) does.
    let pruned =
        event_within(&mut events, Duration::from_secs(3), |event| matches!(event, Event::Prune(())).then_some(()))
            .await;
    assert!(pruned.is_some(), "no prune for the expired message");
    assert!(store.summary(&expired).unwrap().is_none());
    assert!(store.summary(&fresh).unwrap().is_some());
    assert_eq!(store.stats().unwrap().total, 1);
    store.close().await;
}
