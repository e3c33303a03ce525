//! Delivery simulation end to end: the real binary with a rules file (`--rules`),
//! Python's smtplib as the client, and what it saw: the reply codes of the
//! simulator addresses, a greylist retry, tarpit delays, a dropped connection,
//! a rejection after DATA; then the rules replaced through the API.

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;
use serde_json::{Value, json};

const RULES: &str = r#"
[[rule]]
name = "drop spring campaign"
recipient = "*@drop.test"
header = "X-Campaign: spring*"
action = "disconnect"

[[rule]]
name = "late refusal"
recipient = "late@x.test"
action = "reject"
at = "data"
code = 554
enhanced = "5.6.0"
message = "Content refused"
"#;

/// One transaction through smtplib: the replies it saw (step, code, text, ms)
/// and whether the connection dropped.
fn transaction(server: &Server, recipients: &[&str]) -> (Vec<Value>, bool) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/smtplib_transaction.py");
    let out = Command::new(require_tool("python3"))
        .arg(script)
        .args(["127.0.0.1", &server.smtp.port().to_string(), "app@example.test"])
        .args(recipients)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "smtplib failed: {stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let seen: Value = serde_json::from_str(stdout.trim()).unwrap();
    (seen["replies"].as_array().unwrap().clone(), seen["disconnected"].as_bool().unwrap())
}

/// The reply of the first `step` (`rcpt`, `data` …) as "code text".
fn reply(replies: &[Value], step: &str) -> String {
    let reply = replies.iter().find(|reply| reply["step"] == step).unwrap_or_else(|| panic!("no {step}: {replies:?}"));
    format!("{} {}", reply["code"], reply["text"].as_str().unwrap())
}

/// The stored message's Simulation once its effects have added their lines.
fn wait_for_effects(server: &Server, id: &str) -> Value {
    for _ in 0..100 {
        let outcome = server.envelope(id)["Simulation"].clone();
        if outcome["Effects"].as_array().is_some_and(|effects| !effects.is_empty()) {
            return outcome;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("the effects of {id} never recorded a line: {}", server.envelope(id));
}

fn millis(replies: &[Value], step: &str) -> u64 {
    replies.iter().find(|reply| reply["step"] == step).unwrap()["ms"].as_u64().unwrap()
}

#[test]
fn simulated_delivery_through_smtplib() {
    let tmp = tempfile::tempdir().unwrap();
    let rules = tmp.path().join("my-rules.toml");
    std::fs::write(&rules, RULES).unwrap();
    let server = Server::start_with(&["--rules", rules.to_str().unwrap()]);

    let (replies, _) = transaction(&server, &["suppressed@simulator.test"]);
    assert_eq!(reply(&replies, "rcpt"), "550 5.7.1 Recipient address is on the suppression list");
    assert!(replies.iter().all(|reply| reply["step"] != "data"), "{replies:?}");

    let (replies, _) = transaction(&server, &["greylist@simulator.test"]);
    assert_eq!(reply(&replies, "rcpt"), "451 4.7.1 Greylisted, try again in 1 second");
    std::thread::sleep(Duration::from_millis(1100));
    let (replies, _) = transaction(&server, &["greylist@simulator.test"]);
    assert_eq!(reply(&replies, "rcpt"), "250 2.1.5 Recipient ok");
    assert!(reply(&replies, "data").starts_with("250 2.0.0 Ok: queued as "), "{replies:?}");
    assert_eq!(server.total(), 1);
    let id = server.list()["messages"][0]["ID"].as_str().unwrap().to_string();
    let simulation = &server.envelope(&id)["Simulation"];
    assert_eq!(simulation["Rule"], "greylist@simulator.test", "{simulation}");
    assert_eq!(simulation["Action"], "defer");

    // Each reply from RCPT on is held; the ones before are not.
    let (replies, _) = transaction(&server, &["slow@simulator.test"]);
    assert!(millis(&replies, "mail") < 500, "{replies:?}");
    for step in ["rcpt", "data", "quit"] {
        assert!(millis(&replies, step) >= 900, "{step} not delayed: {replies:?}");
    }
    assert_eq!(server.total(), 2);

    let (replies, disconnected) = transaction(&server, &["someone@drop.test"]);
    assert!(disconnected, "{replies:?}");
    assert!(replies.iter().all(|reply| reply["step"] != "data"), "{replies:?}");

    let (replies, disconnected) = transaction(&server, &["late@x.test"]);
    assert!(!disconnected);
    assert_eq!(reply(&replies, "rcpt"), "250 2.1.5 Recipient ok");
    assert_eq!(reply(&replies, "data"), "554 5.6.0 Content refused");
    assert_eq!(server.total(), 2, "refused and dropped mail is not stored");

    // A bounce: accepted, then a DSN to the sender, stored beside the original,
    // and the original's outcome says so once it is done.
    let (replies, _) = transaction(&server, &["bounce+signup@simulator.test"]);
    assert!(reply(&replies, "data").starts_with("250 2.0.0 Ok: queued as "), "{replies:?}");
    let list = server.list();
    let original =
        list["messages"].as_array().unwrap().iter().find(|m| m["To"][0]["Address"] == "bounce+signup@simulator.test");
    let original = original.unwrap_or_else(|| panic!("no original: {list:#}"))["ID"].as_str().unwrap().to_string();
    let dsn = server.get_json(&format!("/api/v1/wait?after={original}&timeout=10s"));
    let dsn_envelope = server.envelope(dsn["ID"].as_str().unwrap());
    assert_eq!(dsn_envelope["MailFrom"], "", "a DSN has a null sender: {dsn_envelope}");
    assert_eq!(dsn_envelope["RcptTo"], json!(["app@example.test"]));
    let raw = String::from_utf8(server.raw(dsn["ID"].as_str().unwrap())).unwrap();
    assert!(raw.contains("multipart/report") && raw.contains("delivery-status"), "{raw}");
    assert!(raw.contains("Final-Recipient: rfc822;") && raw.contains("bounce+signup@simulator.test"), "{raw}");
    let outcome = wait_for_effects(&server, &original);
    assert_eq!(outcome["Rule"], "bounce@simulator.test");
    assert_eq!(outcome["Action"], "bounce");
    assert_eq!(server.total(), 4);

    // The rules through the API: shown with their file, replaced, saved there.
    let shown = server.get_json("/api/v1/rules");
    assert_eq!(shown["Rules"], RULES);
    assert_eq!(shown["Path"], rules.display().to_string());
    let replaced = "[[rule]]\nname = \"no late\"\nrecipient = \"late@x.test\"\naction = \"reject\"\n";
    server.mutate(reqwest::Method::PUT, "/api/v1/rules", Some(json!({"Rules": replaced})));
    assert_eq!(server.get_json("/api/v1/rules")["Rules"], replaced);
    assert_eq!(std::fs::read_to_string(&rules).unwrap(), replaced);
    let (replies, _) = transaction(&server, &["late@x.test"]);
    assert_eq!(reply(&replies, "rcpt"), "550 5.7.1 Rejected by rule \"no late\"");
    let bad = server
        .client()
        .put(server.url("/api/v1/rules"))
        .json(&json!({"Rules": "[[rule]]\naction = 1\n"}))
        .send()
        .unwrap();
    assert_eq!(bad.status(), 400);
    assert!(bad.json::<Value>().unwrap()["Error"].as_str().unwrap().starts_with("line 2: "));
    assert_eq!(std::fs::read_to_string(&rules).unwrap(), replaced);
}

#[test]
fn a_bad_rules_file_stops_the_start_naming_the_line() {
    let tmp = tempfile::tempdir().unwrap();
    let rules = tmp.path().join("rules.toml");
    std::fs::write(&rules, "[[rule]]\nname = \"x\"\naction = \"bouce\"\n").unwrap();
    let mut cmd = serve_command();
    cmd.args(port0_args(tmp.path())).arg("--rules").arg(&rules);
    let exited = run_to_exit(cmd, Duration::from_secs(30));
    assert!(!exited.status.success());
    assert!(exited.stderr.contains("line 3: unknown action \"bouce\""), "{}", exited.stderr);
}
