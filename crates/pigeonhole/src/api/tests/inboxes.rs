//! /api/v1/inboxes (inboxes.rs).

use std::collections::BTreeSet;

use super::{Api, keys, plain, set};

#[tokio::test]
async fn inboxes() {
    let api = Api::new().await;
    api.submit(&plain("One"), None).await;
    api.submit(&plain("Two"), Some("team-a")).await;
    let inboxes = api.get_json("/api/v1/inboxes").await;
    let inboxes = inboxes.as_array().unwrap();
    for inbox in inboxes {
        assert_eq!(keys(inbox), set(&["Name", "Total", "Unread"]));
    }
    let names: BTreeSet<&str> = inboxes.iter().map(|i| i["Name"].as_str().unwrap()).collect();
    assert_eq!(names, BTreeSet::from(["default", "team-a"]));
}
