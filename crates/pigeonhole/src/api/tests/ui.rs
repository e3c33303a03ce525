//! The embedded web UI (ui.rs): its document, assets and policy, and the JSON
//! answers for unknown routes and methods that the fallback gives.

use axum::http::{Method, StatusCode};

use super::Api;
use crate::api::ui_policy;

#[tokio::test]
async fn unknown_routes_and_methods_answer_json() {
    let api = Api::new().await;
    api.get("/api/v1/nope").await.assert_error(StatusCode::NOT_FOUND);
    api.get("/api/v3/messages").await.assert_error(StatusCode::NOT_FOUND);
    api.request(Method::POST, "/api/v1/messages", "{}", &[]).await.assert_error(StatusCode::METHOD_NOT_ALLOWED);
    // Not a WebSocket handshake.
    let answer = api.get("/api/events").await;
    assert!(answer.status.is_client_error());
    answer.assert_error(answer.status);
}

#[tokio::test]
async fn serves_the_embedded_ui() {
    let api = Api::new().await;
    for path in ["/", "/some/deep/link"] {
        let page = api.get(path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        assert_eq!(page.header("content-type"), Some("text/html"));
        assert_eq!(page.header("cache-control"), Some("no-cache"));
        let policy = page.header("content-security-policy").unwrap();
        assert!(policy.contains("script-src 'self'") && !policy.contains("unsafe-eval"), "{policy}");
        let html = String::from_utf8_lossy(&page.body);
        let script = html.split("src=\"/").nth(1).and_then(|s| s.split('"').next()).expect("index.html loads a script");
        let asset = api.get(&format!("/{script}")).await;
        assert_eq!(asset.status, StatusCode::OK, "{script}");
        assert_eq!(asset.header("content-type"), Some("text/javascript"));
        assert!(asset.header("cache-control").unwrap().contains("immutable"));
    }
    // API and view paths never fall back to the UI.
    api.get("/view/nope.html").await.assert_error(StatusCode::NOT_FOUND);
    api.request(Method::POST, "/", "", &[]).await.assert_error(StatusCode::METHOD_NOT_ALLOWED);
}

/// The UI's document carries the whole policy and its companions, exactly; its
/// assets and the API do not need them (and `/view/` has its own, `view_html_part`).
#[tokio::test]
async fn the_ui_document_has_a_strict_policy() {
    let api = Api::new().await;
    let page = api.get("/").await;
    assert_eq!(page.status, StatusCode::OK);
    let policy = page.header("content-security-policy").unwrap();
    let directives: std::collections::BTreeMap<&str, &str> =
        policy.split(';').map(|d| d.trim().split_once(' ').unwrap_or((d.trim(), ""))).collect();
    let expected = std::collections::BTreeMap::from([
        ("default-src", "'self'"),
        ("script-src", "'self'"),
        ("style-src", "'self' 'unsafe-inline'"),
        ("img-src", "'self' data: blob:"),
        ("connect-src", "'self' ipc: http://ipc.localhost"),
        ("worker-src", "'self'"),
        ("object-src", "'none'"),
        ("base-uri", "'none'"),
        ("form-action", "'none'"),
        ("frame-ancestors", "'none'"),
        ("frame-src", "'self'"),
    ]);
    assert_eq!(directives, expected, "{policy}");
    assert_eq!(page.header("x-frame-options"), Some("DENY"));
    assert_eq!(page.header("referrer-policy"), Some("no-referrer"));
    assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
    // No inline script in the built page: `script-src 'self'` would refuse it.
    let html = String::from_utf8_lossy(&page.body).to_ascii_lowercase();
    for script in html.split("<script").skip(1) {
        let tag = script.split('>').next().unwrap();
        assert!(tag.contains("src=\"/"), "an inline or foreign script in index.html: <script{tag}>");
    }
    // A deep link is the same document with the same headers.
    let deep = api.get("/some/deep/link").await;
    assert_eq!(deep.header("content-security-policy"), Some(policy));
    assert_eq!(deep.header("x-frame-options"), Some("DENY"));

    // The extra frame sources are checked tokens: nothing can end a directive early.
    assert!(ui_policy(&["isolation-1: ; script-src *".into()]).is_none());
    assert!(ui_policy(&["isolation-1:".into(), ";".into()]).is_none());
    assert!(ui_policy(&["evil'".into()]).is_none());
    let desktop = ui_policy(&["isolation-1:".into()]).unwrap();
    assert!(desktop.to_str().unwrap().ends_with("frame-src 'self' isolation-1:"), "{desktop:?}");
}
