//! /api/events (event_stream.rs) over a real socket.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, StatusCode};
use futures_util::StreamExt;
use serde_json::Value;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{self, Message};

use super::{Api, keys, plain, set};
use crate::model::message::SUMMARY_KEYS;

/// The event stream over a real socket: `stats` first, then `new` for a stored
/// message; a cross-site handshake is refused; shutdown closes with "going away".
#[tokio::test]
async fn event_stream() {
    let api = Api::new().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(axum::serve(listener, api.router.clone()).into_future());
    let url = format!("ws://{addr}/api/events");

    let mut evil = url.as_str().into_client_request().unwrap();
    evil.headers_mut().insert("origin", "https://evil.example".parse().unwrap());
    match tokio_tungstenite::connect_async(evil).await {
        Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), StatusCode::FORBIDDEN),
        other => panic!("cross-site handshake was not refused: {other:?}"),
    }

    let (mut socket, _) = tokio_tungstenite::connect_async(url.as_str()).await.unwrap();
    let mut next_event = async move || -> Option<Value> {
        loop {
            match tokio::time::timeout(Duration::from_secs(10), socket.next()).await.expect("no frame in 10 s")? {
                Ok(Message::Text(text)) => return Some(serde_json::from_str(&text).unwrap()),
                Ok(Message::Close(frame)) => {
                    assert_eq!(frame.unwrap().code, CloseCode::Away);
                    return None;
                }
                Ok(_) => continue,
                Err(err) => panic!("stream failed: {err}"),
            }
        }
    };

    let stats = next_event().await.unwrap();
    assert_eq!(stats["Type"], "stats");
    assert_eq!(keys(&stats["Data"]), set(&["Total", "Unread", "Version"]));
    assert_eq!(stats["Data"]["Total"], 0);

    let id = api.submit(&plain("Live"), None).await;
    let new = loop {
        let event = next_event().await.unwrap();
        if event["Type"] == "new" {
            break event;
        }
    };
    assert_eq!(new["Data"]["ID"], id.as_str());
    assert_eq!(keys(&new["Data"]), set(SUMMARY_KEYS));

    api.state.close_streams();
    while next_event().await.is_some() {}
    match tokio_tungstenite::connect_async(url.as_str()).await {
        Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE),
        other => panic!("a stream opened after shutdown: {other:?}"),
    }
    server.abort();
}

/// After a delete-all, the next `stats` a client gets says the store is empty,
/// even when a message was stored just before it and that message's `stats` was
/// still to be sent: Mailpit's clients wait for "the next `stats`" after the
/// delete, and Mailpit computes each one when it sends it. (The delete follows
/// the message within milliseconds; the stream waits 250 ms before a `stats`.)
#[tokio::test]
async fn the_stats_after_delete_all_describe_the_empty_store() {
    let api = Api::new().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(axum::serve(listener, api.router.clone()).into_future());
    let (mut socket, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/api/events")).await.unwrap();
    let mut next_event = async move || -> Value {
        loop {
            match tokio::time::timeout(Duration::from_secs(10), socket.next()).await.expect("no frame in 10 s") {
                Some(Ok(Message::Text(text))) => return serde_json::from_str(&text).unwrap(),
                Some(Ok(_)) => continue,
                other => panic!("stream ended: {other:?}"),
            }
        }
    };
    assert_eq!(next_event().await["Type"], "stats", "the first frame");

    api.submit(&plain("Just before"), None).await;
    let deleted = api.request(Method::DELETE, "/api/v1/messages", Body::empty(), &[]).await;
    assert_eq!(deleted.status, StatusCode::OK);

    let mut seen = Vec::new();
    while !seen.contains(&"truncate".to_string()) || !seen.last().is_some_and(|last: &String| last.starts_with("stats"))
    {
        let event = next_event().await;
        seen.push(match event["Type"].as_str().unwrap() {
            "stats" => format!("stats {}/{}", event["Data"]["Total"], event["Data"]["Unread"]),
            other => other.to_string(),
        });
    }
    assert_eq!(seen, ["new", "truncate", "stats 0/0"]);
    server.abort();
}
