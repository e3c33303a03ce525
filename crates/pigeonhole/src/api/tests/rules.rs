//! /api/v1/rules (rules.rs): the rules in force, replaced only by a valid text,
//! saved to the rules file.

use axum::http::{Method, StatusCode};
use serde_json::json;

use super::{Api, keys, set};
use crate::simulation::{Sending, Verdict};

const RULES: &str = "[[rule]]\nname = \"block\"\nrecipient = \"*@blocked.test\"\naction = \"reject\"\n";

fn to(recipient: &str) -> Sending<'_> {
    Sending { client: "127.0.0.1", mail_from: "a@x.test", recipient, inbox: "default", provider: None, message: None }
}

#[tokio::test]
async fn rules_are_shown_replaced_and_saved() {
    let api = Api::new().await;
    let file = api.dir.path().join("rules.toml");
    let shown = api.get_json("/api/v1/rules").await;
    assert_eq!(keys(&shown), set(&["Rules", "Path", "Simulator"]));
    assert_eq!(shown["Rules"], "");
    assert_eq!(shown["Path"], file.display().to_string());
    let simulator = shown["Simulator"].as_array().unwrap();
    assert_eq!(simulator.len(), 6);
    assert_eq!(keys(&simulator[0]), set(&["Address", "Effect"]));
    assert_eq!(simulator[0]["Address"], "bounce@simulator.test");
    assert!(simulator[0]["Effect"].as_str().unwrap().contains("DSN"), "{simulator:?}");

    let saved = api.send_json(Method::PUT, "/api/v1/rules", json!({"Rules": RULES})).await;
    assert_eq!(saved.status, StatusCode::OK, "{:?}", saved.body);
    assert_eq!(saved.json()["Rules"], RULES);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), RULES);
    assert_eq!(api.get_json("/api/v1/rules").await["Rules"], RULES);
    assert!(matches!(api.state.simulation.judge(&to("x@blocked.test")).unwrap().verdict, Verdict::Refuse(_)));
    // No temporary file is left beside it.
    assert_eq!(
        std::fs::read_dir(api.dir.path())
            .unwrap()
            .filter(|entry| { entry.as_ref().unwrap().file_name().to_string_lossy().ends_with(".tmp") })
            .count(),
        0
    );

    let simulator_changed = "[simulator]\nbounce = \"reject-at-rcpt\"\n";
    let changed = api.send_json(Method::PUT, "/api/v1/rules", json!({"rules": simulator_changed})).await;
    assert!(changed.json()["Simulator"][0]["Effect"].as_str().unwrap().contains("550 5.1.1"));
    api.send_json(Method::PUT, "/api/v1/rules", json!({"Rules": RULES})).await;
}

#[tokio::test]
async fn a_bad_text_is_refused_naming_the_line_and_changes_nothing() {
    let api = Api::new().await;
    api.send_json(Method::PUT, "/api/v1/rules", json!({"Rules": RULES})).await;
    let bad = "[[rule]]\nname = \"typo\"\naction = \"bouce\"\n";
    let refused = api.send_json(Method::PUT, "/api/v1/rules", json!({"Rules": bad})).await;
    assert_eq!(
        refused.assert_error(StatusCode::BAD_REQUEST),
        "line 3: unknown action \"bouce\" (accept, reject, defer, tarpit, disconnect, bounce, complaint, auto-reply, forward)"
    );
    assert_eq!(api.get_json("/api/v1/rules").await["Rules"], RULES);
    assert_eq!(std::fs::read_to_string(api.dir.path().join("rules.toml")).unwrap(), RULES);

    let missing = api.send_json(Method::PUT, "/api/v1/rules", json!({})).await;
    assert_eq!(missing.assert_error(StatusCode::BAD_REQUEST), "Rules (the rules file's text) is required");
    let wrong = api.send_json(Method::PUT, "/api/v1/rules", json!({"Rules": 3})).await;
    assert!(wrong.assert_error(StatusCode::BAD_REQUEST).contains("Rules"));
}
