//! The message list (messages.rs): paging, search, read status, deleting by IDs
//! and by search.

use std::collections::BTreeSet;

use axum::body::Body;
use axum::http::{Method, StatusCode};
use serde_json::json;
use time::macros::datetime;

use super::{Api, assert_ok, keys, plain, set};
use crate::model::message::{PAGE_KEYS, SUMMARY_KEYS};

#[tokio::test]
async fn list_pages_newest_first() {
    let api = Api::new().await;
    let empty = api.get_json("/api/v1/messages").await;
    assert_eq!(keys(&empty), set(PAGE_KEYS));
    assert_eq!(empty["messages"], json!([]));

    let first = api.submit(&plain("First"), None).await;
    let second = api.submit(&plain("Second"), None).await;
    let third = api.submit(&plain("Third"), None).await;

    let page = api.get_json("/api/v1/messages").await;
    assert_eq!(keys(&page), set(PAGE_KEYS));
    assert_eq!((page["total"].clone(), page["unread"].clone(), page["count"].clone()), (json!(3), json!(3), json!(3)));
    let ids: Vec<&str> = page["messages"].as_array().unwrap().iter().map(|m| m["ID"].as_str().unwrap()).collect();
    assert_eq!(ids, [third.as_str(), second.as_str(), first.as_str()]);
    let summary = &page["messages"][0];
    assert_eq!(keys(summary), set(SUMMARY_KEYS));
    assert_eq!(summary["Subject"], "Third");
    assert_eq!(summary["From"], json!({"Name": "", "Address": "a@example.com"}));

    let page = api.get_json("/api/v1/messages?start=1&limit=1").await;
    assert_eq!(page["start"], 1);
    assert_eq!(page["count"], 1);
    assert_eq!(page["messages"][0]["ID"], second.as_str());
    assert_eq!(page["messages_count"], 3);

    // Like Mailpit, numbers that are not numbers fall back to the defaults.
    let page = api.get_json("/api/v1/messages?start=x&limit=-5").await;
    assert_eq!((page["start"].clone(), page["count"].clone()), (json!(0), json!(3)));
}

#[tokio::test]
async fn search() {
    let api = Api::new().await;
    api.submit(&plain("Invoice March"), None).await;
    let wanted = api.submit(&plain("Invoice April"), None).await;
    api.submit(&plain("Newsletter"), None).await;

    let page = api.get_json("/api/v1/search?query=subject%3AApril").await;
    assert_eq!(keys(&page), set(PAGE_KEYS));
    assert_eq!(page["messages_count"], 1);
    assert_eq!(page["total"], 3);
    assert_eq!(page["messages"][0]["ID"], wanted.as_str());
    assert_eq!(api.get_json("/api/v1/search?query=invoice&limit=1").await["messages_count"], 2);

    for uri in ["/api/v1/search", "/api/v1/search?query=", "/api/v1/search?query=%20%20"] {
        let message = api.get(uri).await.assert_error(StatusCode::BAD_REQUEST);
        assert!(message.contains("no search query"), "{message}");
    }
}

#[tokio::test]
async fn search_reads_dates_in_the_tz_parameter() {
    let api = &Api::new().await;
    // 23:30 UTC on January 1st is 00:30 on January 2nd in Berlin (UTC+1 in winter).
    let late = api.submit_received(&plain("Late"), None, datetime!(2024-01-01 23:30 UTC)).await;
    let found = |uri: &str| {
        let uri = uri.to_owned();
        async move { api.get_json(&uri).await["messages_count"].clone() }
    };
    assert_eq!(found("/api/v1/search?query=after%3A2024-01-02").await, 0);
    assert_eq!(found("/api/v1/search?query=after%3A2024-01-02&tz=Europe%2FBerlin").await, 1);
    assert_eq!(found("/api/v1/search?query=before%3A2024-01-02&tz=Europe%2FBerlin").await, 0);
    assert_eq!(found("/api/v1/search?query=after%3A2024-01-02&tz=").await, 0);

    for uri in ["/api/v1/search?query=after%3A2024-01-02&tz=Nowhere%2FAtAll", "/api/v1/search?query=x&tz=%2E%2E%2Fetc"]
    {
        let message = api.get(uri).await.assert_error(StatusCode::BAD_REQUEST);
        assert!(message.contains("unknown time zone"), "{message}");
    }
    // Marking read by search reads its dates in the zone too.
    let mark_late = json!({"Search": "after:2024-01-02", "Read": true});
    assert_ok(&api.send_json(Method::PUT, "/api/v1/messages", mark_late.clone()).await);
    assert_eq!(api.read_flags().await, [(late.clone(), false)]);
    assert_ok(&api.send_json(Method::PUT, "/api/v1/messages?tz=Europe%2FBerlin", mark_late.clone()).await);
    assert_eq!(api.read_flags().await, [(late.clone(), true)]);
    let unknown = api.send_json(Method::PUT, "/api/v1/messages?tz=Nowhere%2FAtAll", mark_late).await;
    assert!(unknown.assert_error(StatusCode::BAD_REQUEST).contains("unknown time zone"));

    let refused =
        api.request(Method::DELETE, "/api/v1/search?query=subject%3ALate&tz=Nowhere%2FAtAll", Body::empty(), &[]).await;
    assert!(refused.assert_error(StatusCode::BAD_REQUEST).contains("unknown time zone"));
    assert_ok(&api.request(Method::DELETE, "/api/v1/search?query=after%3A2024-01-02", Body::empty(), &[]).await);
    assert_eq!(found("/api/v1/messages").await, 1);
    let in_berlin = "/api/v1/search?query=after%3A2024-01-02&tz=Europe%2FBerlin";
    assert_ok(&api.request(Method::DELETE, in_berlin, Body::empty(), &[]).await);
    assert_eq!(api.get_json("/api/v1/messages").await["messages"], json!([]));
}

#[tokio::test]
async fn set_read_status() {
    let api = Api::new().await;
    let a = api.submit(&plain("Alpha"), None).await;
    let b = api.submit(&plain("Beta"), None).await;
    let flags = |a_read: bool, b_read: bool| vec![(b.clone(), b_read), (a.clone(), a_read)];

    // Keys match case-insensitively, as Go's encoding/json matches them.
    assert_ok(&api.send_json(Method::PUT, "/api/v1/messages", json!({"ids": [a], "read": true})).await);
    assert_eq!(api.read_flags().await, flags(true, false));

    assert_ok(&api.send_json(Method::PUT, "/api/v1/messages", json!({"Search": "subject:Beta", "Read": true})).await);
    assert_eq!(api.read_flags().await, flags(true, true));

    // Neither IDs nor Search: every message.
    assert_ok(&api.send_json(Method::PUT, "/api/v1/messages", json!({"Read": false})).await);
    assert_eq!(api.read_flags().await, flags(false, false));
    assert_ok(&api.send_json(Method::PUT, "/api/v1/messages", json!({"IDs": [], "Read": true})).await);
    assert_eq!(api.read_flags().await, flags(true, true));

    let both = api.send_json(Method::PUT, "/api/v1/messages", json!({"IDs": [a], "Search": "x", "Read": true})).await;
    assert!(both.assert_error(StatusCode::BAD_REQUEST).contains("not both"));
    let bad_type = api.send_json(Method::PUT, "/api/v1/messages", json!({"IDs": "abc", "Read": true})).await;
    assert!(bad_type.assert_error(StatusCode::BAD_REQUEST).contains("IDs"));
    for body in ["", "{", "[1]", "ids=abc"] {
        api.request(Method::PUT, "/api/v1/messages", body, &[]).await.assert_error(StatusCode::BAD_REQUEST);
    }
    assert_eq!(api.read_flags().await, flags(true, true));
}

#[tokio::test]
async fn delete_some_or_all() {
    let api = Api::new().await;
    let a = api.submit(&plain("Alpha"), None).await;
    let b = api.submit(&plain("Beta"), None).await;
    let c = api.submit(&plain("Gamma"), None).await;

    assert_ok(&api.send_json(Method::DELETE, "/api/v1/messages", json!({"Ids": [a, "unknown"]})).await);
    let left: Vec<String> = api.read_flags().await.into_iter().map(|(id, _)| id).collect();
    assert_eq!(left, [c.clone(), b.clone()]);
    api.get(&format!("/api/v1/message/{a}")).await.assert_error(StatusCode::NOT_FOUND);

    // Like Mailpit: a body that does not decode (here form data) deletes everything.
    assert_ok(&api.request(Method::DELETE, "/api/v1/messages", format!("ids={b}"), &[]).await);
    assert!(api.read_flags().await.is_empty());

    api.submit(&plain("Delta"), None).await;
    assert_ok(&api.request(Method::DELETE, "/api/v1/messages", Body::empty(), &[]).await);
    assert_eq!(api.get_json("/api/v1/messages").await["total"], 0);
}

/// IDs are parsed where they come in: a list of only texts that are not IDs
/// (wrong length, stray characters) names no message, so it selects none, never
/// every message as an empty list would.
#[tokio::test]
async fn ids_that_are_not_ids_select_no_message() {
    let api = Api::new().await;
    let a = api.submit(&plain("Alpha"), None).await;
    let b = api.submit(&plain("Beta"), None).await;
    let not_ids = json!(["unknown", "../etc/passwd", "x".repeat(22) + "!", ""]);

    assert_ok(&api.send_json(Method::PUT, "/api/v1/messages", json!({"IDs": not_ids, "Read": true})).await);
    assert_ok(&api.send_json(Method::PUT, "/api/v1/tags", json!({"IDs": not_ids, "Tags": ["kept"]})).await);
    assert_ok(&api.send_json(Method::DELETE, "/api/v1/messages", json!({"IDs": not_ids})).await);
    let mailhog = api.request(Method::DELETE, "/api/v1/messages/unknown", Body::empty(), &[]).await;
    assert_eq!(mailhog.status, StatusCode::OK);
    assert_eq!(api.read_flags().await, [(b, false), (a, false)]);
    assert_eq!(api.get_json("/api/v1/tags").await, json!([]));
}

#[tokio::test]
async fn delete_by_search() {
    let api = Api::new().await;
    let march = api.submit(&plain("Invoice March"), None).await;
    let april = api.submit(&plain("Invoice April"), None).await;
    let news = api.submit(&plain("Newsletter"), None).await;
    let mut events = api.state.events.subscribe();

    assert_ok(&api.request(Method::DELETE, "/api/v1/search?query=subject%3Ainvoice", Body::empty(), &[]).await);
    let left: Vec<String> = api.read_flags().await.into_iter().map(|(id, _)| id).collect();
    assert_eq!(left, [news]);
    assert_eq!(api.get_json("/api/v1/info").await["Messages"], 1);

    // The writer publishes before it answers, so every event is already there.
    let mut deleted = BTreeSet::new();
    let mut last_stats = None;
    while let Ok(event) = events.try_recv() {
        let event = serde_json::to_value(event).unwrap();
        match event["Type"].as_str().unwrap() {
            "delete" => assert!(deleted.insert(event["Data"]["ID"].as_str().unwrap().to_string())),
            "stats" => last_stats = Some(event["Data"].clone()),
            other => panic!("unexpected event {other}: {event}"),
        }
    }
    assert_eq!(deleted, BTreeSet::from([march, april]));
    assert_eq!(last_stats.unwrap()["Total"], 1);

    // No match: nothing deleted, still ok.
    assert_ok(&api.request(Method::DELETE, "/api/v1/search?query=subject%3Anothing", Body::empty(), &[]).await);
    assert_eq!(api.get_json("/api/v1/messages").await["total"], 1);

    // An empty query never means "everything".
    for uri in ["/api/v1/search", "/api/v1/search?query=", "/api/v1/search?query=%20"] {
        let message = api.request(Method::DELETE, uri, Body::empty(), &[]).await.assert_error(StatusCode::BAD_REQUEST);
        assert!(message.contains("no search query"), "{message}");
    }
    assert_eq!(api.get_json("/api/v1/messages").await["total"], 1);
}
