//! Tags (tags.rs): from X-Tags and plus addresses at ingest, the rules, and setting,
//! renaming and deleting them.

use tempfile::TempDir;

use super::{config, drain, eml, from_user, ids, new_message, open, simple};
use crate::config::{StoreConfig, TagRules};
use crate::model::MessageId;
use crate::model::event::Event;
use crate::store::{Selection, TagError};

#[tokio::test]
async fn tags_from_x_tags_and_plus_addresses_at_ingest() {
    let dir = TempDir::new().unwrap();
    let (store, mut events) = open(dir.path(), config());
    let tagged = eml("From: app@example.com\r\nTo: user+Signup@example.com\r\nX-Tags: urgent, big  deal\r\n", "hi");
    let mut envelope_only = new_message(simple("bcc"));
    envelope_only.envelope.rcpt_to.push("hidden+audit@example.com".into());
    let a = store.submit(new_message(tagged)).await.unwrap();
    let b = store.submit(envelope_only).await.unwrap();
    let plain = store.submit(new_message(simple("plain"))).await.unwrap();

    let summary = store.summary(&a).unwrap().unwrap();
    assert_eq!(summary.tags, ["big deal", "Signup", "urgent"]);
    // The new-message event carries the tags as stored.
    let new_tags: Vec<Vec<String>> = drain(&mut events)
        .into_iter()
        .filter_map(|e| match e {
            Event::New(s) => Some(s.tags),
            _ => None,
        })
        .collect();
    assert_eq!(new_tags, [summary.tags.clone(), vec!["audit".to_string()], vec![]]);

    let page = store.list(0, 50).unwrap();
    assert_eq!(page.tags, ["audit", "big deal", "Signup", "urgent"]);
    assert_eq!(page.messages.iter().find(|m| m.id == plain).unwrap().tags, Vec::<String>::new());
    assert_eq!(ids(&store.search("tag:SIGNUP", 0, 50).unwrap()), [a.as_str()]);
    assert_eq!(ids(&store.search("tag:\"big deal\"", 0, 50).unwrap()), [a.as_str()]);
    assert_eq!(ids(&store.search("is:tagged", 0, 50).unwrap()), [b.as_str(), a.as_str()]);
    assert_eq!(ids(&store.search("-is:tagged", 0, 50).unwrap()), [plain.as_str()]);
    let counts = store.tag_counts(&crate::model::Access::All).unwrap();
    assert_eq!(counts.get("audit"), Some(&1));
    assert_eq!(counts.len(), 4);
    store.close().await;
}

#[tokio::test]
async fn tag_rules_can_turn_sources_off_and_add_the_user_name() {
    let dir = TempDir::new().unwrap();
    let rules = TagRules { from_x_tags: false, from_plus_addresses: false, from_username: true, title_case: true };
    let (store, _events) = open(dir.path(), StoreConfig { tags: rules, ..config() });
    let raw = eml("From: a@example.com\r\nTo: b+plus@example.com\r\nX-Tags: header\r\n", "hi");
    let id = store.submit(from_user(raw, "ci bot")).await.unwrap();
    assert_eq!(store.summary(&id).unwrap().unwrap().tags, ["Ci Bot"]);
    // API-set tags are cleaned by the same rules.
    store.set_tags(vec![id.clone()], &["new  one".into(), "@@".into()]).await.unwrap();
    assert_eq!(store.summary(&id).unwrap().unwrap().tags, ["New One"]);
    store.close().await;
}

#[tokio::test]
async fn set_rename_and_delete_tags() {
    let dir = TempDir::new().unwrap();
    let (store, mut events) = open(dir.path(), config());
    let a = store.submit(new_message(simple("a"))).await.unwrap();
    let b = store.submit(new_message(simple("b"))).await.unwrap();
    let tags_of = |id: &MessageId| store.summary(id).unwrap().unwrap().tags;
    drain(&mut events);

    // Set: replaces, dedups case-insensitively, skips unknown IDs, one update each.
    let asked = ["Blue".to_string(), "red".into(), "BLUE".into(), " ".into()];
    store
        .set_tags(vec![a.clone(), b.clone(), MessageId::parse("nosuchmessageid0000000").unwrap()], &asked)
        .await
        .unwrap();
    let published = drain(&mut events);
    let updates: Vec<(&str, &[String])> = published
        .iter()
        .filter_map(|e| match e {
            Event::Tagged(t) => Some((t.id.as_str(), t.tags.as_slice())),
            _ => None,
        })
        .collect();
    let both = ["Blue".to_string(), "red".into()];
    assert_eq!(updates, [(a.as_str(), &both[..]), (b.as_str(), &both[..])]);
    assert!(matches!(published.last(), Some(Event::Stats(_))));
    store.set_tags(vec![b.clone()], &["red".into(), "green".into()]).await.unwrap();
    assert_eq!(tags_of(&b), ["green", "red"]);
    assert_eq!(store.tags(&crate::model::Access::All).unwrap(), ["Blue", "green", "red"]);

    // Rename: any case finds the tag; a case change respells it; another tag's
    // name merges the two.
    store.rename_tag("BLUE", "navy blue").await.unwrap();
    assert_eq!(tags_of(&a), ["navy blue", "red"]);
    store.rename_tag("Navy Blue", "RED").await.unwrap();
    assert_eq!(tags_of(&a), ["red"]);
    assert_eq!(store.tags(&crate::model::Access::All).unwrap(), ["green", "red"]);
    store.rename_tag("red", "Red").await.unwrap();
    assert_eq!(tags_of(&b), ["green", "Red"]);
    assert!(matches!(store.rename_tag("nope", "x").await, Err(TagError::NoSuchTag(name)) if name == "nope"));
    assert!(matches!(store.rename_tag("Red", " !! ").await, Err(TagError::InvalidName(name)) if name == " !! "));
    drain(&mut events);

    // Delete: off every message, the messages stay; announced as prune + stats.
    store.delete_tag("red").await.unwrap();
    assert!(matches!(&drain(&mut events)[..], [Event::Prune(()), Event::Stats(s)] if s.total == 2));
    assert_eq!(tags_of(&a), Vec::<String>::new());
    assert_eq!(tags_of(&b), ["green"]);
    assert!(matches!(store.delete_tag("red").await, Err(TagError::NoSuchTag(_))));

    // Clearing a message's tags, and deleting the last message with a tag, drop
    // the tag from the list.
    store.set_tags(vec![b.clone()], &[]).await.unwrap();
    assert!(store.tags(&crate::model::Access::All).unwrap().is_empty());
    store.set_tags(vec![a.clone()], &["keep".into()]).await.unwrap();
    store.delete(Selection::Ids(vec![a.clone()])).await.unwrap();
    assert!(store.tags(&crate::model::Access::All).unwrap().is_empty());
    assert!(store.tag_counts(&crate::model::Access::All).unwrap().is_empty());
    store.close().await;
}
