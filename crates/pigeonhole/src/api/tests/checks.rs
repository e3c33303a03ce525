//! The check report, html-check and link-check (checks.rs).

use std::collections::BTreeSet;

use axum::Router;
use axum::http::StatusCode;
use serde_json::Value;

use super::{Api, keys, plain, set};
use crate::api::router;

#[tokio::test]
async fn checks_report_has_the_documented_shape_and_finds_problems() {
    let api = Api::new().await;
    // No Date, no Message-ID, a Bcc header: the report must say so.
    let raw = "From: a@example.com\r\nTo: b@example.com\r\nBcc: c@example.com\r\nSubject: s\r\n\r\nHi\r\n";
    let id = api.submit(raw.as_bytes(), None).await;
    let report = api.get_json(&format!("/api/v1/message/{id}/checks")).await;
    assert_eq!(keys(&report), set(&["Score", "Summary", "Checks"]));
    assert_eq!(keys(&report["Summary"]), set(&["Errors", "Warnings", "Notices", "Passed"]));
    let checks = report["Checks"].as_array().unwrap();
    for check in checks {
        assert_eq!(keys(check), set(&["ID", "Category", "Severity", "Title", "Detail", "Fix", "Reference", "Where"]));
    }
    let severity =
        |id: &str| checks.iter().find(|c| c["ID"] == id).map(|c| c["Severity"].as_str().unwrap().to_string());
    assert_eq!(severity("headers.date-missing").as_deref(), Some("error"));
    assert_eq!(severity("headers.bcc-leaked").as_deref(), Some("error"));
    assert_eq!(severity("headers.subject-missing").as_deref(), Some("pass"));
    let bcc = checks.iter().find(|c| c["ID"] == "headers.bcc-leaked").unwrap();
    assert_eq!(bcc["Where"]["Header"], "Bcc");
    let score = report["Score"].as_u64().unwrap();
    assert!(score < 100, "{report}");
    assert_eq!(
        report["Summary"]["Errors"].as_u64().unwrap() as usize,
        checks.iter().filter(|c| c["Severity"] == "error").count()
    );
    // `latest` works and nothing marks the message read.
    assert_eq!(api.get_json("/api/v1/message/latest/checks").await, report);
    assert_eq!(api.read_flags().await, vec![(id, false)]);
    let missing = api.get("/api/v1/message/nope/checks").await.assert_error(StatusCode::NOT_FOUND);
    assert_eq!(missing, "Message not found");
}

/// With the engine's verifier (offline, a keys file with the dkimpy-signed
/// fixture's key), the route gathers DKIM, SPF and DMARC before the report.
#[tokio::test]
async fn checks_report_verifies_dkim_spf_and_dmarc_when_given_a_verifier() {
    use crate::config::CheckConfig;
    use crate::mail::authentication::Verifier;
    let mut api = Api::new().await;
    let testdata = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/checks/testdata");
    let signed = std::fs::read(testdata.join("rsa-relaxed.eml")).unwrap();
    let id = api.submit(&signed, None).await;
    let auth_ids = ["auth.dkim", "auth.spf", "auth.dmarc", "deliverability.bulk-sender"];
    let severities = |report: &Value| -> Vec<(String, String)> {
        let checks = report["Checks"].as_array().unwrap();
        let mut found: Vec<(String, String)> = checks
            .iter()
            .filter(|c| auth_ids.contains(&c["ID"].as_str().unwrap()))
            .map(|c| (c["ID"].as_str().unwrap().to_string(), c["Severity"].as_str().unwrap().to_string()))
            .collect();
        found.sort();
        found
    };
    // No verifier: the authentication checks are left out.
    assert!(severities(&api.get_json(&format!("/api/v1/message/{id}/checks")).await).is_empty());

    let keys = CheckConfig { dkim_keys: Some(testdata.join("records.zone")), ..CheckConfig::default() };
    api.router = router(api.state.clone().with_authentication(Verifier::new(&keys).unwrap()));
    let report = api.get_json(&format!("/api/v1/message/{id}/checks")).await;
    let pair = |id: &str, severity: &str| (id.to_string(), severity.to_string());
    // The key verifies and DMARC passes on it; the envelope's domain (example.com)
    // has no SPF record in the file: unknown; the session had no TLS.
    assert_eq!(
        severities(&report),
        [
            pair("auth.dkim", "pass"),
            pair("auth.dmarc", "pass"),
            pair("auth.spf", "notice"),
            pair("deliverability.bulk-sender", "notice"),
            pair("deliverability.bulk-sender", "warning"),
        ]
    );

    // Offline with no file: notices, never failures.
    let offline = Verifier::new(&CheckConfig::default()).unwrap();
    api.router = router(api.state.clone().with_authentication(offline));
    let report = api.get_json(&format!("/api/v1/message/{id}/checks")).await;
    let found = severities(&report);
    assert_eq!(found[..3], [pair("auth.dkim", "notice"), pair("auth.dmarc", "notice"), pair("auth.spf", "notice")]);
}

#[tokio::test]
async fn html_check_reports_caniemail_features() {
    let api = Api::new().await;
    let html = "From: a@example.com\r\nTo: b@example.com\r\nSubject: styled\r\nContent-Type: text/html\r\n\r\n\
                <div style=\"display: flex; border-radius: 4px\"><svg></svg><p>Hi</p></div>\r\n";
    let id = api.submit(html.as_bytes(), None).await;
    let report = api.get_json(&format!("/api/v1/message/{id}/html-check")).await;
    assert_eq!(keys(&report), set(&["Platforms", "Total", "Warnings"]));
    assert_eq!(keys(&report["Total"]), set(&["Nodes", "Tests", "Supported", "Partial", "Unsupported"]));
    assert!(report["Platforms"]["desktop-webmail"].as_array().unwrap().iter().any(|f| f == "Gmail"));
    assert_eq!(report["Total"]["Nodes"], 3);
    let warnings = report["Warnings"].as_array().unwrap();
    let slugs: BTreeSet<&str> = warnings.iter().map(|w| w["Slug"].as_str().unwrap()).collect();
    assert_eq!(
        slugs,
        BTreeSet::from(["css-display", "css-display-flex", "css-border-radius", "css-unit-px", "html-svg"])
    );
    for warning in warnings {
        let warning_keys = [
            "Slug",
            "Title",
            "Description",
            "Category",
            "Keywords",
            "Tags",
            "URL",
            "NotesByNumber",
            "Score",
            "Results",
        ];
        assert_eq!(keys(warning), set(&warning_keys));
        assert_eq!(keys(&warning["Score"]), set(&["Found", "Supported", "Partial", "Unsupported"]));
    }
    let result = warnings.iter().find_map(|w| w["Results"].as_array().and_then(|r| r.first())).unwrap();
    assert_eq!(keys(result), set(&["Name", "Family", "Platform", "Version", "Support", "NoteNumber"]));
    // The message is not marked read.
    assert_eq!(api.read_flags().await, vec![(id, false)]);

    let plain = api.submit(&plain("no html"), None).await;
    let error = api.get(&format!("/api/v1/message/{plain}/html-check")).await.assert_error(StatusCode::BAD_REQUEST);
    assert_eq!(error, "message does not contain HTML");
    let missing = api.get("/api/v1/message/nope/html-check").await.assert_error(StatusCode::NOT_FOUND);
    assert_eq!(missing, "Message not found");
}

/// A site for the link check: 200, 404, a redirect, and a page that refuses HEAD.
async fn link_site() -> std::net::SocketAddr {
    use axum::http::Method as HttpMethod;
    use axum::response::Redirect;
    use axum::routing::{any, get};
    let site = Router::new()
        .route("/ok", get(|| async { "fine" }))
        .route("/moved", get(|| async { Redirect::temporary("/ok") }))
        .route(
            "/get-only",
            any(|method: HttpMethod| async move {
                if method == HttpMethod::HEAD { StatusCode::METHOD_NOT_ALLOWED } else { StatusCode::OK }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, site).await.unwrap() });
    address
}

#[tokio::test]
async fn link_check_asks_each_link() {
    let mut api = Api::new().await;
    let site = link_site().await;
    let raw = format!(
        "From: a@example.com\r\nTo: b@example.com\r\nSubject: links\r\nContent-Type: text/html\r\n\r\n\
         <a href=\"http://{site}/ok\">ok</a> <a href=\"http://{site}/missing\">gone</a>\r\n\
         <a href=\"http://{site}/moved\">moved</a> <a href=\"http://{site}/get-only\">get</a>\r\n\
         <a href=\"mailto:x@example.com\">mail</a> <img src=\"http://{site}/ok\">\r\n"
    );
    let id = api.submit(raw.as_bytes(), None).await;
    let statuses = |report: &Value| -> Vec<(String, u64, String)> {
        report["Links"]
            .as_array()
            .unwrap()
            .iter()
            .map(|link| {
                assert_eq!(keys(link), set(&["URL", "StatusCode", "Status"]));
                let path = link["URL"].as_str().unwrap().rsplit('/').next().unwrap().to_string();
                (path, link["StatusCode"].as_u64().unwrap(), link["Status"].as_str().unwrap().to_string())
            })
            .collect()
    };

    // Off by default: the test site is on this machine.
    let refused = api.get_json(&format!("/api/v1/message/{id}/link-check")).await;
    assert_eq!(keys(&refused), set(&["Errors", "Links"]));
    assert_eq!(refused["Errors"], 4);
    for (_, code, status) in statuses(&refused) {
        assert_eq!(code, 0);
        assert!(status.starts_with("refused: loopback address (127.0.0.1)"), "{status}");
        assert!(status.contains("--allow-local-link-check"), "{status}");
    }

    api.router = router(api.state.clone().with_local_link_check(true));
    let checked = api.get_json(&format!("/api/v1/message/{id}/link-check")).await;
    assert_eq!(
        statuses(&checked),
        [
            ("ok".to_string(), 200, "OK".to_string()),
            ("missing".to_string(), 404, "Not Found".to_string()),
            ("moved".to_string(), 307, "Temporary Redirect".to_string()),
            ("get-only".to_string(), 200, "OK".to_string()),
        ]
    );
    assert_eq!(checked["Errors"], 1);
    for follow in ["true", "1"] {
        let followed = api.get_json(&format!("/api/v1/message/latest/link-check?follow={follow}")).await;
        assert_eq!(statuses(&followed)[2], ("moved".to_string(), 200, "OK".to_string()));
    }
    assert_eq!(
        api.get("/api/v1/message/nope/link-check").await.assert_error(StatusCode::NOT_FOUND),
        "Message not found"
    );
}
