//! What the router refuses before any handler (guard.rs and the body limit):
//! foreign hosts, cross-site writes, oversized bodies.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::json;
use tower::ServiceExt;

use super::{Api, HOST, assert_ok, plain};
use crate::config::HttpLimits;

#[tokio::test]
async fn oversized_bodies_get_413() {
    let api = Api::new().await;
    let body = format!("{{\"IDs\": [\"{}\"], \"Read\": true}}", "x".repeat(HttpLimits::default().max_body));
    for method in [Method::PUT, Method::DELETE] {
        api.request(method, "/api/v1/messages", body.clone(), &[]).await.assert_error(StatusCode::PAYLOAD_TOO_LARGE);
    }
}

#[tokio::test]
async fn host_must_be_loopback() {
    let api = Api::new().await;
    for host in ["localhost", "localhost:8025", "127.0.0.1", "127.1.2.3:80", "[::1]:8025", "ui.localhost:5173"] {
        assert_eq!(
            api.request(Method::GET, "/livez", Body::empty(), &[("host", host)]).await.status,
            StatusCode::OK,
            "{host}"
        );
    }
    for host in ["evil.example", "evil.example:8025", "192.168.1.10:8025", "localhost.evil.example", ""] {
        let answer = api.request(Method::GET, "/api/v1/messages", Body::empty(), &[("host", host)]).await;
        answer.assert_error(StatusCode::FORBIDDEN);
    }
    // A second Host header must not smuggle a name past the check.
    let request =
        Request::get("/livez").header("host", "evil.example").header("host", HOST).body(Body::empty()).unwrap();
    assert_eq!(api.router.clone().oneshot(request).await.unwrap().status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn cross_site_writes_are_refused() {
    let api = Api::new().await;
    let id = api.submit(&plain("Keep"), None).await;
    let body = json!({"IDs": [id]}).to_string();

    for origin in ["https://evil.example", "null", "http://127.0.0.1.evil.example"] {
        for method in [Method::PUT, Method::DELETE] {
            let answer = api.request(method, "/api/v1/messages", body.clone(), &[("origin", origin)]).await;
            answer.assert_error(StatusCode::FORBIDDEN);
        }
    }
    assert_eq!(api.get_json("/api/v1/messages").await["total"], 1);

    // Reads carry no risk; the API's own origin and loopback origins may write.
    let read = api.request(Method::GET, "/api/v1/messages", Body::empty(), &[("origin", "https://evil.example")]).await;
    assert_eq!(read.status, StatusCode::OK);
    for origin in ["http://127.0.0.1:8025", "tauri://localhost", "http://localhost:5173"] {
        let answer = api.request(Method::PUT, "/api/v1/messages", body.clone(), &[("origin", origin)]).await;
        assert_ok(&answer);
    }
    assert_ok(&api.request(Method::DELETE, "/api/v1/messages", body, &[("origin", "http://127.0.0.1:8025")]).await);
    assert_eq!(api.get_json("/api/v1/messages").await["total"], 0);
}
