//! Searches and selections kept within some inboxes: what a user or token limited
//! to them gets, on a real SQLite file.

use tempfile::TempDir;

use super::{config, drain, from_user, new_message, open, simple};
use crate::model::event::Event;
use crate::model::{Access, DEFAULT_INBOX, MessageId};
use crate::store::{SearchQuery, Selection};

#[tokio::test]
async fn pages_selections_and_events_keep_within_the_inboxes() {
    let dir = TempDir::new().unwrap();
    let (store, mut events) = open(dir.path(), config());
    let own = Access::parse_list("team-a, team-b").unwrap();
    let a = store.submit(from_user(simple("one"), "team-a")).await.unwrap();
    let b = store.submit(from_user(simple("two"), "team-b")).await.unwrap();
    let foreign = store.submit(new_message(simple("three"))).await.unwrap();
    store.set_tags(vec![foreign.clone()], &["foreign-tag".to_owned()]).await.unwrap();
    store.set_tags(vec![a.clone()], &["own-tag".to_owned()]).await.unwrap();

    let page = store.search_in(&SearchQuery::from("").within(&own), 0, 10).unwrap();
    let ids: Vec<MessageId> = page.messages.iter().map(|m| m.id.clone()).collect();
    assert_eq!(ids, [b.clone(), a.clone()]);
    assert_eq!((page.total, page.unread, page.messages_count), (2, 2, 2), "totals of its inboxes only");
    assert_eq!(page.tags, ["own-tag"]);
    let matching = store.search_in(&SearchQuery::from("two").within(&own), 0, 10).unwrap();
    assert_eq!((matching.total, matching.messages_count), (2, 1));
    assert_eq!(store.tags(&own).unwrap(), ["own-tag"]);
    assert_eq!(store.tags(&Access::All).unwrap(), ["foreign-tag", "own-tag"]);
    assert_eq!(store.tag_counts(&own).unwrap().into_iter().collect::<Vec<_>>(), [("own-tag".to_owned(), 1)]);
    assert_eq!(store.latest_id(&SearchQuery::from("").within(&own)).unwrap(), Some(b.clone()));
    assert_eq!(store.summary(&a).unwrap().unwrap().inbox, "team-a");
    assert_eq!(store.summary(&foreign).unwrap().unwrap().inbox, DEFAULT_INBOX);

    // Every event about a message names its inbox, for the streams to filter by.
    drain(&mut events);
    store.set_read(Selection::All.within(&own), true).await.unwrap();
    let updated: Vec<String> = drain(&mut events)
        .into_iter()
        .filter(|event| matches!(event, Event::Update(_)))
        .map(|event| event.inbox().unwrap().to_owned())
        .collect();
    assert_eq!(updated.len(), 2);
    assert!(updated.iter().all(|inbox| own.allows(inbox)), "{updated:?}");
    assert!(!store.summary(&foreign).unwrap().unwrap().read, "a foreign message is not marked");

    store.delete(Selection::All.within(&own)).await.unwrap();
    let deleted: Vec<String> = drain(&mut events)
        .into_iter()
        .filter_map(|event| match event {
            Event::Delete(deleted) => Some(deleted.inbox),
            Event::Truncate(()) => panic!("deleting all of some inboxes is not a truncate"),
            _ => None,
        })
        .collect();
    assert_eq!(deleted.len(), 2);
    assert_eq!(store.list(0, 10).unwrap().messages.iter().map(|m| m.id.clone()).collect::<Vec<_>>(), [foreign]);
}
