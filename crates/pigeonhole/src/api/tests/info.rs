//! /livez, /readyz, /api/v1/info and /api/v1/webui (info.rs).

use axum::http::StatusCode;

use super::{Api, plain};

#[tokio::test]
async fn livez() {
    let api = Api::new().await;
    let answer = api.get("/livez").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(&answer.body[..], b"ok");
    assert_eq!(answer.header("x-content-type-options"), Some("nosniff"));
}

/// Ready once the router serves (the engine opened the store and bound both
/// listeners first); not ready from the moment shutdown starts.
#[tokio::test]
async fn readyz_until_shutdown() {
    let api = Api::new().await;
    let answer = api.get("/readyz").await;
    assert_eq!((answer.status, &answer.body[..]), (StatusCode::OK, &b"ok"[..]));
    api.state.close_streams();
    let answer = api.get("/readyz").await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(&answer.body[..], b"not ready: shutting down");
}

#[tokio::test]
async fn info_keys_and_counts() {
    let api = Api::new().await;
    let read = api.submit(&plain("Read me"), None).await;
    api.submit(&plain("Leave me"), None).await;
    api.get_json(&format!("/api/v1/message/{read}")).await;

    let answer = api.get("/api/v1/info").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.header("content-type"), Some("application/json"));
    let info = answer.json();
    let stats = &info["RuntimeStats"];
    // The exact text: Mailpit's keys, in Mailpit's order, and nothing else.
    let expected = format!(
        concat!(
            r#"{{"Version":"{}","LatestVersion":"","Database":{},"DatabaseSize":{},"Messages":2,"Unread":1,"Tags":{{}},"#,
            r#""RuntimeStats":{{"Uptime":{},"Memory":{},"MessagesDeleted":0,"SMTPAccepted":0,"SMTPAcceptedSize":0,"#,
            r#""SMTPRejected":0,"SMTPIgnored":0}}}}"#
        ),
        env!("CARGO_PKG_VERSION"),
        info["Database"],
        info["DatabaseSize"],
        stats["Uptime"],
        stats["Memory"],
    );
    assert_eq!(std::str::from_utf8(&answer.body).unwrap(), expected);

    assert_eq!(info["Database"], api.state.store.database_path().to_str().unwrap());
    let on_disk = std::fs::metadata(api.state.store.database_path()).unwrap().len();
    assert!(info["DatabaseSize"].as_u64().unwrap() >= on_disk, "{info}");
    assert!(stats["Uptime"].as_u64().unwrap() < 60);
    if cfg!(target_os = "linux") {
        assert!(stats["Memory"].as_u64().unwrap() > 1024 * 1024, "{info}");
    }
}

#[tokio::test]
async fn webui_says_what_is_off() {
    let api = Api::new().await;
    let answer = api.get("/api/v1/webui").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.header("content-type"), Some("application/json"));
    // Mailpit's keys in Mailpit's order, including the deprecated RecipientAllowlist.
    let expected = concat!(
        r#"{"Label":"","MessageRelay":{"Enabled":false,"SMTPServer":"","ReturnPath":"","AllowedRecipients":"","#,
        r#""BlockedRecipients":"","OverrideFrom":"","PreserveMessageIDs":false,"RecipientAllowlist":""},"#,
        r#""SpamAssassin":false,"ChaosEnabled":false,"DuplicatesIgnored":false,"HideDeleteAllButton":false}"#
    );
    assert_eq!(std::str::from_utf8(&answer.body).unwrap(), expected);
}
