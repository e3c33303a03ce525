//! The events that read flags and deletes publish after their commits.

use tempfile::TempDir;

use super::{config, drain, new_message, open, simple};
use crate::model::MessageId;
use crate::model::event::Event;
use crate::store::Selection;

#[tokio::test]
async fn read_flags_and_deletes_publish_events() {
    let dir = TempDir::new().unwrap();
    let (store, mut events) = open(dir.path(), config());
    let mut sent = Vec::new();
    for n in 0..4 {
        sent.push(store.submit(new_message(simple(&format!("m{n}")))).await.unwrap());
    }
    drain(&mut events);

    store.set_read(Selection::Ids(vec![sent[0].clone(), sent[1].clone()]), true).await.unwrap();
    let published = drain(&mut events);
    let updated: Vec<(&str, bool)> = published
        .iter()
        .filter_map(|e| match e {
            Event::Update(u) => Some((u.id.as_str(), u.read)),
            _ => None,
        })
        .collect();
    assert_eq!(updated.len(), 2);
    assert!(updated.contains(&(sent[0].as_str(), true)) && updated.contains(&(sent[1].as_str(), true)));
    assert!(matches!(published.last(), Some(Event::Stats(s)) if s.total == 4 && s.unread == 2));
    assert!(store.summary(&sent[0]).unwrap().unwrap().read);

    // Only messages whose flag actually changes are reported.
    store.set_read(Selection::All, true).await.unwrap();
    let published = drain(&mut events);
    assert_eq!(published.iter().filter(|e| matches!(e, Event::Update(_))).count(), 2);
    assert_eq!(store.stats().unwrap().unread, 0);
    store.set_read(Selection::Search("subject:m3".into()), false).await.unwrap();
    assert_eq!(store.stats().unwrap().unread, 1);
    drain(&mut events);

    store.delete(Selection::Ids(vec![sent[3].clone(), MessageId::generate(0)])).await.unwrap();
    let published = drain(&mut events);
    assert!(matches!(&published[..], [Event::Delete(d), Event::Stats(s)]
        if d.id == sent[3] && s.total == 3 && s.unread == 0));
    assert!(store.raw(&sent[3]).unwrap().is_none());
    assert!(store.envelope(&sent[3]).unwrap().is_none());
    assert_eq!(store.search("m3", 0, 10).unwrap().messages_count, 0, "index entry went with the message");

    store.delete(Selection::Search("subject:m2".into())).await.unwrap();
    assert!(matches!(&drain(&mut events)[..], [Event::Delete(d), Event::Stats(_)] if d.id == sent[2]));

    store.delete(Selection::All).await.unwrap();
    assert!(matches!(&drain(&mut events)[..], [Event::Truncate(()), Event::Stats(s)] if s.total == 0));
    assert_eq!(store.list(0, 10).unwrap().total, 0);
    assert!(store.latest_id(&"".into()).unwrap().is_none());
    // The store keeps working after a truncate.
    let id = store.submit(new_message(simple("after"))).await.unwrap();
    assert_eq!(store.search("after", 0, 10).unwrap().messages[0].id, id);
    store.close().await;
}
