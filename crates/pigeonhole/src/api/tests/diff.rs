//! /api/v1/diff (diff.rs): two stored messages, or one and a posted .eml file.

use axum::http::{Method, StatusCode};

use super::{Api, keys, set};

fn message(message_id: &str, subject: &str) -> Vec<u8> {
    format!(
        "From: a@example.com\r\nTo: b@example.com\r\nSubject: {subject}\r\nMessage-ID: <{message_id}@example.com>\r\n\
         Date: Mon, 07 Dec 2026 10:00:00 +0000\r\n\r\nHello\r\n"
    )
    .into_bytes()
}

#[tokio::test]
async fn diff_of_two_stored_messages() {
    let api = Api::new().await;
    let first = api.submit(&message("1", "Hi"), None).await;
    let second = api.submit(&message("2", "Hi"), None).await;
    let report = api.get_json(&format!("/api/v1/diff?a={first}&b={second}")).await;
    assert_eq!(keys(&report), set(&["Equal", "A", "B", "Options", "Headers", "Text", "Html", "Structure", "Checks"]));
    assert_eq!(report["Equal"], true, "{report}");
    assert_eq!(report["A"]["Label"], first.as_str());
    assert_eq!(report["B"]["Label"], second.as_str());
    let ignored: Vec<(&str, &str)> = report["Headers"]["Ignored"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| (h["Name"].as_str().unwrap(), h["Kind"].as_str().unwrap()))
        .collect();
    assert_eq!(ignored, [("Date", "same"), ("Message-Id", "changed")]);

    let volatile = api.get_json(&format!("/api/v1/diff?a={first}&b=latest&volatile=true")).await;
    assert_eq!(volatile["Equal"], false);
    assert_eq!(volatile["Headers"]["Changes"][0]["Name"], "Message-Id");

    let third = api.submit(&message("3", "Hello"), None).await;
    let changed = api.get_json(&format!("/api/v1/diff?a={first}&b={third}")).await;
    assert_eq!(changed["Equal"], false);
    assert_eq!(changed["Headers"]["Changes"][0]["Name"], "Subject");
    let ignored = api.get_json(&format!("/api/v1/diff?a={first}&b={third}&ignore=X-Other,subject")).await;
    assert_eq!(ignored["Equal"], true, "{ignored}");
    assert_eq!(ignored["Options"]["IgnoreHeaders"], serde_json::json!(["X-Other", "subject"]));
    // Nothing is marked read.
    assert!(api.read_flags().await.iter().all(|(_, read)| !read));
}

#[tokio::test]
async fn diff_answers_404_and_400_in_words() {
    let api = Api::new().await;
    let id = api.submit(&message("1", "Hi"), None).await;
    let missing = api.get(&format!("/api/v1/diff?a={id}&b=AAAAAAAAAAAAAAAAAAAAAA")).await;
    assert_eq!(missing.assert_error(StatusCode::NOT_FOUND), "Message not found");
    let missing = api.get(&format!("/api/v1/diff?a=nope&b={id}")).await;
    assert_eq!(missing.assert_error(StatusCode::NOT_FOUND), "Message not found");
    let one = api.get(&format!("/api/v1/diff?a={id}")).await;
    assert!(one.assert_error(StatusCode::BAD_REQUEST).contains("?a=ID&b=ID"));
}

#[tokio::test]
async fn diff_with_a_posted_file() {
    let api = Api::new().await;
    let id = api.submit(&message("1", "Hi"), None).await;
    let post = |uri: String, body: Vec<u8>, headers: &'static [(&'static str, &'static str)]| {
        let api = &api;
        async move { api.request(Method::POST, &uri, body, headers).await }
    };
    const RFC822: &[(&str, &str)] = &[("content-type", "message/rfc822")];
    let same = post(format!("/api/v1/diff?a={id}&name=golden.eml"), message("9", "Hi"), RFC822).await;
    assert_eq!(same.status, StatusCode::OK, "{:?}", same.body);
    let same = same.json();
    assert_eq!(same["Equal"], true, "{same}");
    assert_eq!((same["A"]["Label"].as_str(), same["B"]["Label"].as_str()), (Some(id.as_str()), Some("golden.eml")));

    let other = post("/api/v1/diff?b=latest".to_string(), message("9", "Changed"), RFC822).await.json();
    assert_eq!(other["Equal"], false);
    assert_eq!(other["A"]["Label"], "file");
    assert_eq!(other["Headers"]["Changes"][0]["A"][0], "Changed");
    assert_eq!(other["Headers"]["Changes"][0]["B"][0], "Hi");

    let both = post(format!("/api/v1/diff?a={id}&b={id}"), message("9", "Hi"), RFC822).await;
    assert!(both.assert_error(StatusCode::BAD_REQUEST).contains("?a=ID"));
    let text = post(format!("/api/v1/diff?a={id}"), message("9", "Hi"), &[("content-type", "text/plain")]).await;
    assert!(text.assert_error(StatusCode::UNSUPPORTED_MEDIA_TYPE).contains("message/rfc822"));
    let notes = post(format!("/api/v1/diff?a={id}"), b"just notes\n".to_vec(), RFC822).await;
    assert!(notes.assert_error(StatusCode::BAD_REQUEST).starts_with("the file is not an e-mail message"));
    let missing = post("/api/v1/diff?a=AAAAAAAAAAAAAAAAAAAAAA".to_string(), message("9", "Hi"), RFC822).await;
    assert_eq!(missing.assert_error(StatusCode::NOT_FOUND), "Message not found");
}
