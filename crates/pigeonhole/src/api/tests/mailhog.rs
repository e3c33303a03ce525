//! MailHog's /api/v2 (mailhog.rs), checked against the shapes its clients expect.

use axum::body::Body;
use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use time::OffsetDateTime;

use super::{Api, MULTIPART, keys, plain, set};
use crate::model::{Envelope, NewMessage};

/// A MailHog `Message`'s key sets, all the way down, as mailhog/data marshals it.
fn assert_mailhog_message(message: &Value) {
    assert_eq!(keys(message), set(&["ID", "From", "To", "Content", "Created", "MIME", "Raw"]));
    let path_keys = set(&["Relays", "Mailbox", "Domain", "Params"]);
    assert_eq!(keys(&message["From"]), path_keys);
    for to in message["To"].as_array().unwrap() {
        assert_eq!(keys(to), path_keys);
    }
    assert_eq!(keys(&message["Content"]), set(&["Headers", "Body", "Size", "MIME"]));
    assert_eq!(message["Content"]["MIME"], Value::Null);
    assert_eq!(keys(&message["Raw"]), set(&["From", "To", "Data", "Helo"]));
    fn parts_keys(mime: &Value) {
        if mime.is_null() {
            return;
        }
        assert_eq!(keys(mime), set(&["Parts"]));
        for part in mime["Parts"].as_array().unwrap() {
            assert_eq!(keys(part), set(&["Headers", "Body", "Size", "MIME"]));
            parts_keys(&part["MIME"]);
        }
    }
    parts_keys(&message["MIME"]);
}

impl Api {
    /// A MailHog answer: 200, `text/json` as MailHog sends it, and its JSON.
    async fn get_mailhog(&self, uri: &str) -> Value {
        let answer = self.get(uri).await;
        assert_eq!(answer.status, StatusCode::OK, "{uri}: {:?}", answer.body);
        assert_eq!(answer.header("content-type"), Some("text/json"));
        answer.json()
    }
}

#[tokio::test]
async fn mailhog_messages() {
    let api = Api::new().await;
    let empty = api.get_mailhog("/api/v2/messages").await;
    assert_eq!(empty, json!({"total": 0, "count": 0, "start": 0, "items": []}));

    let first = api.submit(&plain("First"), None).await;
    let multipart = api.submit(MULTIPART, None).await;
    let page = api.get_mailhog("/api/v2/messages").await;
    assert_eq!(keys(&page), set(&["total", "count", "start", "items"]));
    assert_eq!((page["total"].clone(), page["count"].clone(), page["start"].clone()), (json!(2), json!(2), json!(0)));
    let items = page["items"].as_array().unwrap();
    assert_eq!(items[0]["ID"], multipart.as_str());
    assert_eq!(items[1]["ID"], first.as_str());
    for item in items {
        assert_mailhog_message(item);
    }

    // What cypress-mailhog reads: the raw Subject, the body, the envelope.
    let plain_item = &items[1];
    assert_eq!(plain_item["Content"]["Headers"]["Subject"], json!(["First"]));
    assert_eq!(plain_item["Content"]["Body"], "Body of First\r\n");
    assert_eq!(plain_item["Content"]["Size"], plain("First").len());
    assert_eq!(plain_item["MIME"], Value::Null);
    assert_eq!(plain_item["From"], json!({"Relays": null, "Mailbox": "a", "Domain": "example.com", "Params": ""}));
    assert_eq!(plain_item["To"], json!([{"Relays": null, "Mailbox": "b", "Domain": "example.com", "Params": ""}]));
    assert_eq!(
        plain_item["Raw"],
        json!({
            "From": "a@example.com",
            "To": ["b@example.com"],
            "Data": String::from_utf8(plain("First")).unwrap(),
            "Helo": "client.example",
        })
    );
    let created = plain_item["Created"].as_str().unwrap();
    assert!(OffsetDateTime::parse(created, &time::format_description::well_known::Rfc3339).is_ok(), "{created}");

    // Headers as written (not decoded), folded ones joined; parts split at boundaries.
    let item = &items[0];
    assert_eq!(item["Content"]["Headers"]["Subject"], json!(["=?UTF-8?Q?Caf=C3=A9?= report =?UTF-8?B?8J+Qpg==?="]));
    assert_eq!(item["Content"]["Headers"]["X-Folded"], json!(["one two"]));
    let parts = item["MIME"]["Parts"].as_array().unwrap();
    assert_eq!(parts.len(), 3);
    let dispositions: Vec<&Value> = parts.iter().map(|p| &p["Headers"]["Content-Disposition"]).collect();
    assert_eq!(
        dispositions,
        [&Value::Null, &json!(["attachment; filename=\"report.pdf\""]), &json!(["attachment; filename=\"page.html\""])]
    );
    assert_eq!(parts[1]["Body"], "JVBERi0xLjQK");
    assert_eq!(parts[0]["MIME"]["Parts"].as_array().unwrap().len(), 2, "multipart/related inside");

    // MailHog's paging: start and limit, non-positive or non-numbers are the defaults.
    let page = api.get_mailhog("/api/v2/messages?start=1&limit=1").await;
    assert_eq!((page["total"].clone(), page["count"].clone(), page["start"].clone()), (json!(2), json!(1), json!(1)));
    assert_eq!(page["items"][0]["ID"], first.as_str());
    let page = api.get_mailhog("/api/v2/messages?start=-3&limit=0").await;
    assert_eq!((page["count"].clone(), page["start"].clone()), (json!(2), json!(0)));
}

#[tokio::test]
async fn mailhog_search() {
    let api = Api::new().await;
    let invoice = api.submit(&plain("Invoice March"), None).await;
    let other =
        b"From: Carol <carol@other.example>\r\nTo: Dave <dave@other.example>\r\nSubject: Lunch\r\n\r\nSoup?\r\n";
    let envelope = Envelope {
        mail_from: "bounces@other.example".into(),
        rcpt_to: vec!["dave@other.example".into(), "hidden@bcc.example".into()],
        ..Envelope::default()
    };
    let message = NewMessage { raw: other.to_vec(), envelope, received_at: OffsetDateTime::now_utc() };
    let lunch = api.state.store.submit(message).await.unwrap().into_string();

    let page = api.get_mailhog("/api/v2/search?kind=from&query=carol@other").await;
    assert_eq!(keys(&page), set(&["total", "count", "start", "items"]));
    assert_eq!((page["total"].clone(), page["count"].clone()), (json!(1), json!(1)));
    assert_mailhog_message(&page["items"][0]);
    // As in MailHog: the envelope's or the header's addresses, any part, any case.
    for (query, expected) in [
        ("kind=from&query=carol@other", &lunch),
        ("kind=from&query=BOUNCES@", &lunch),
        ("kind=from&query=a@example.com", &invoice),
        ("kind=to&query=hidden@bcc.example", &lunch),
        ("kind=to&query=Dave", &lunch),
        ("kind=to&query=B@EXAMPLE.COM", &invoice),
        ("kind=containing&query=soup", &lunch),
        ("kind=containing&query=invoice%20march", &invoice),
    ] {
        let page = api.get_mailhog(&format!("/api/v2/search?{query}")).await;
        let ids: Vec<&str> = page["items"].as_array().unwrap().iter().map(|m| m["ID"].as_str().unwrap()).collect();
        assert_eq!(ids, [expected.as_str()], "{query}");
    }
    let page = api.get_mailhog("/api/v2/search?kind=to&query=example&limit=1").await;
    assert_eq!((page["total"].clone(), page["count"].clone()), (json!(2), json!(1)));
    let page = api.get_mailhog("/api/v2/search?kind=from&query=nobody").await;
    assert_eq!(page, json!({"total": 0, "count": 0, "start": 0, "items": []}));

    let message = api.get("/api/v2/search?kind=subject&query=x").await.assert_error(StatusCode::BAD_REQUEST);
    assert!(message.contains("from, to or containing"), "{message}");
    let message = api.get("/api/v2/search?kind=to&query=").await.assert_error(StatusCode::BAD_REQUEST);
    assert!(message.contains("?query="), "{message}");
}

#[tokio::test]
async fn mailhog_single_message() {
    let api = Api::new().await;
    let id = api.submit(&plain("One"), None).await;
    let message = api.get_mailhog(&format!("/api/v1/messages/{id}")).await;
    assert_mailhog_message(&message);
    assert_eq!(message["ID"], id.as_str());

    let answer = api.request(Method::DELETE, &format!("/api/v1/messages/{id}"), Body::empty(), &[]).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert!(answer.body.is_empty());
    api.get(&format!("/api/v1/messages/{id}")).await.assert_error(StatusCode::NOT_FOUND);
    assert_eq!(api.get_mailhog("/api/v2/messages").await["total"], 0);
}
