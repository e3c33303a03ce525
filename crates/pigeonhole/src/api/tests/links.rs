//! /api/v1/message/{ID}/links and /codes (links.rs).

use axum::http::StatusCode;
use serde_json::json;

use super::{Api, keys, plain, set};

#[tokio::test]
async fn links_and_codes() {
    let api = Api::new().await;
    for uri in ["/api/v1/message/latest/links", "/api/v1/message/nope/links", "/api/v1/message/nope/codes"] {
        assert_eq!(api.get(uri).await.assert_error(StatusCode::NOT_FOUND), "Message not found", "{uri}");
    }

    let otp = concat!(
        "From: a@example.com\r\nTo: b@example.com\r\nSubject: Sign in\r\nMIME-Version: 1.0\r\n",
        "Content-Type: multipart/alternative; boundary=b\r\n\r\n",
        "--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n",
        "Your verification code is 482913.\r\nOr open https://app.example.test/verify?c=482913 (valid 10 minutes).\r\n",
        "--b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n",
        "<p>Your verification code is <b>482913</b>.</p>",
        "<p><a href=\"https://app.example.test/verify?c=482913&amp;u=7\">Verify</a>",
        "<a href=\"javascript:alert(1)\">x</a><img src=\"https://t.example.test/p.gif\"></p>\r\n",
        "--b--\r\n"
    );
    let otp_id = api.submit(otp.as_bytes(), None).await;
    let plain_id = api.submit(&plain("Order 2024"), None).await;

    let links = api.get_json(&format!("/api/v1/message/{otp_id}/links")).await;
    assert_eq!(
        links,
        json!({"Links": [
            {"URL": "https://app.example.test/verify?c=482913&u=7", "Text": "Verify"},
            {"URL": "https://app.example.test/verify?c=482913", "Text": ""},
        ]})
    );
    let codes = api.get_json(&format!("/api/v1/message/{otp_id}/codes")).await;
    assert_eq!(keys(&codes), set(&["Codes"]));
    assert_eq!(codes["Codes"].as_array().unwrap().len(), 1);
    assert_eq!(keys(&codes["Codes"][0]), set(&["Code", "Context"]));
    assert_eq!(codes["Codes"][0]["Code"], "482913");
    assert!(codes["Codes"][0]["Context"].as_str().unwrap().contains("verification code is 482913"));

    // `latest` is the plain message, which has neither; `?query=` finds the other.
    assert_eq!(api.get_json("/api/v1/message/latest/links").await, json!({"Links": []}));
    assert_eq!(api.get_json("/api/v1/message/latest/codes").await, json!({"Codes": []}));
    let by_query = api.get_json("/api/v1/message/latest/codes?query=subject%3A%22Sign%20in%22").await;
    assert_eq!(by_query["Codes"][0]["Code"], "482913");
    let missing = api.get("/api/v1/message/latest/links?query=subject%3ANothing").await;
    assert_eq!(missing.assert_error(StatusCode::NOT_FOUND), "Message not found");

    // Asking is not reading.
    assert!(api.read_flags().await.iter().all(|(_, read)| !read), "{plain_id}");
}
