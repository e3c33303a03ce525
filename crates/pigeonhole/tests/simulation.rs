//! Delivery simulation end to end: the real binary with a rules file (`--rules`),
//! Python's smtplib as the client, and what it saw: the reply codes of the
//! simulator addresses and of every rule action, greylist and `retry_after`
//! retries, tarpit delays, a dropped connection, a rejection after DATA; then
//! what followed acceptance: the DSN, ARF report and auto-reply stored beside
//! the original, each read back with Python's `email` as an app's bounce
//! handling would, and a forward arriving at a second server as the relay;
//! last, the rules replaced through the API.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};
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
    transaction_with(server, &[], recipients)
}

/// [`transaction`] with options of the script (`--login USER`, `--header "Name: value"`).
fn transaction_with(server: &Server, options: &[&str], recipients: &[&str]) -> (Vec<Value>, bool) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/smtplib_transaction.py");
    let out = Command::new(require_tool("python3"))
        .arg(script)
        .args(options)
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
    replies_of(replies, step).into_iter().next().unwrap_or_else(|| panic!("no {step}: {replies:?}"))
}

/// Every reply of `step` (one per recipient for `rcpt`) as "code text".
fn replies_of(replies: &[Value], step: &str) -> Vec<String> {
    replies
        .iter()
        .filter(|reply| reply["step"] == step)
        .map(|reply| format!("{} {}", reply["code"], reply["text"].as_str().unwrap()))
        .collect()
}

/// The ID of the message a transaction stored, from its "queued as" reply.
fn queued(replies: &[Value]) -> String {
    let data = reply(replies, "data");
    data.strip_prefix("250 2.0.0 Ok: queued as ").unwrap_or_else(|| panic!("not queued: {replies:?}")).to_string()
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

/// The report (DSN, ARF report, auto-reply) an effect of `original` stored, by
/// the ID its effects line names ("… in inbox … (message ID)").
fn report_of(server: &Server, original: &str) -> String {
    let outcome = wait_for_effects(server, original);
    let line = outcome["Effects"][0].as_str().unwrap();
    let id = line.rsplit_once("(message ").and_then(|(_, id)| id.strip_suffix(')'));
    id.unwrap_or_else(|| panic!("no report stored for {original}: {outcome}")).to_string()
}

/// A stored message's MIME tree as Python's `email` parses it (see
/// tests/data/email_structure.py), failing on any defect it finds.
fn email_structure(server: &Server, id: &str) -> Value {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/email_structure.py");
    let mut child = Command::new(require_tool("python3"))
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&server.raw(id)).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "email_structure.py: {}", String::from_utf8_lossy(&out.stderr));
    let tree: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_no_defects(&tree);
    tree
}

/// A DSN as Python's `email` reads it, checked to be a delivery-status
/// multipart/report about one recipient: that recipient's fields and the
/// original's header section it quotes.
fn parsed_dsn(server: &Server, id: &str) -> (Value, String) {
    let tree = email_structure(server, id);
    assert_eq!(tree["type"], "multipart/report", "{tree:#}");
    assert_eq!(tree["params"]["report-type"], "delivery-status", "{tree:#}");
    let blocks = part(&tree, "message/delivery-status")["blocks"].as_array().unwrap();
    assert_eq!(blocks.len(), 2, "the per-message fields, then one recipient's: {blocks:#?}");
    let headers = part(&tree, "text/rfc822-headers")["text"].as_str().unwrap().to_string();
    (blocks[1].clone(), headers)
}

fn assert_no_defects(node: &Value) {
    assert_eq!(node["defects"], json!([]), "{node:#}");
    let children = node["parts"].as_array().into_iter().flatten().chain(node.get("message"));
    children.for_each(assert_no_defects);
}

/// The body part of a multipart tree with this content type.
fn part<'a>(tree: &'a Value, content_type: &str) -> &'a Value {
    let parts = tree["parts"].as_array().unwrap_or_else(|| panic!("not multipart: {tree:#}"));
    parts.iter().find(|part| part["type"] == content_type).unwrap_or_else(|| panic!("no {content_type}: {tree:#}"))
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
    let (recipient, quoted) = parsed_dsn(&server, dsn["ID"].as_str().unwrap());
    assert_eq!(recipient["Final-Recipient"], "rfc822; bounce+signup@simulator.test", "{recipient}");
    assert_eq!(recipient["Action"], "failed", "{recipient}");
    assert_eq!(recipient["Status"], "5.1.1", "{recipient}");
    assert!(quoted.lines().any(|line| line == "Subject: simulation"), "{quoted}");
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

/// The rules-file actions the simulator addresses do not show, with the options
/// a user would set; `accept` ahead of a `reject` that would refuse its recipient.
const ACTION_RULES: &str = r#"
[[rule]]
name = "vip"
recipient = "vip@blocked.test"
action = "accept"

[[rule]]
name = "blocked domain"
recipient = "*@blocked.test"
action = "reject"
code = 553
enhanced = "5.7.26"
message = "Unauthenticated mail from this domain is refused"

[[rule]]
name = "mailbox full"
recipient = "full@x.test"
action = "defer"
code = 452
enhanced = "4.2.2"
message = "Mailbox full, try again later"
retry_after = 1

[[rule]]
name = "slow host"
recipient = "*@slow.test"
action = "tarpit"
delay_ms = 400

[[rule]]
name = "disabled mailbox"
recipient = "disabled@x.test"
action = "bounce"
enhanced = "5.2.1"
message = "Mailbox disabled"

[[rule]]
name = "hand on"
recipient = "*@forward.test"
action = "forward"
"#;

#[test]
fn every_rule_action_through_smtplib() {
    let relay = Server::start();
    let tmp = tempfile::tempdir().unwrap();
    let rules = tmp.path().join("rules.toml");
    std::fs::write(&rules, ACTION_RULES).unwrap();
    let relay_port = relay.smtp.port().to_string();
    let server = Server::start_with(&[
        "--rules",
        rules.to_str().unwrap(),
        "--smtp-relay-host",
        "127.0.0.1",
        "--smtp-relay-port",
        &relay_port,
    ]);

    // defer with retry_after: the rule's own reply, then accepted on a retry once
    // that long has passed (tried at the end, so the wait overlaps the rest).
    let (replies, _) = transaction(&server, &["full@x.test"]);
    assert_eq!(reply(&replies, "rcpt"), "452 4.2.2 Mailbox full, try again later");
    let deferred_at = std::time::Instant::now();

    // accept before a rule that would refuse: only the later rule's recipient is
    // refused, with exactly the rule's code, enhanced code and text.
    let (replies, _) = transaction(&server, &["vip@blocked.test", "other@blocked.test"]);
    assert_eq!(
        replies_of(&replies, "rcpt"),
        ["250 2.1.5 Recipient ok", "553 5.7.26 Unauthenticated mail from this domain is refused"]
    );
    let envelope = server.envelope(&queued(&replies));
    assert_eq!(envelope["RcptTo"], json!(["vip@blocked.test"]));
    assert_eq!((&envelope["Simulation"]["Rule"], &envelope["Simulation"]["Action"]), (&json!("vip"), &json!("accept")));

    // tarpit with delay_ms: each reply from RCPT on is held that long.
    let (replies, _) = transaction(&server, &["someone@slow.test"]);
    assert!(millis(&replies, "mail") < 400, "{replies:?}");
    for step in ["rcpt", "data", "quit"] {
        assert!(millis(&replies, step) >= 400, "{step} not delayed: {replies:?}");
    }

    // bounce with a custom status: the DSN reports it and the rule's words.
    let (replies, _) = transaction(&server, &["disabled@x.test"]);
    let dsn = report_of(&server, &queued(&replies));
    let (recipient, _) = parsed_dsn(&server, &dsn);
    assert_eq!(recipient["Final-Recipient"], "rfc822; disabled@x.test", "{recipient}");
    assert_eq!(recipient["Action"], "failed", "{recipient}");
    assert_eq!(recipient["Status"], "5.2.1", "{recipient}");
    assert_eq!(recipient["Diagnostic-Code"], "smtp; 550 5.2.1 Mailbox disabled", "{recipient}");

    // complaint@: accepted, then an ARF report in the sender's inbox, to the
    // envelope sender, from the null sender.
    let (replies, _) = transaction_with(&server, &["--login", "shop"], &["complaint@simulator.test"]);
    assert_eq!(reply(&replies, "rcpt"), "250 2.1.5 Recipient ok");
    let original = queued(&replies);
    let arf = report_of(&server, &original);
    let arf_envelope = server.envelope(&arf);
    assert_eq!(server.envelope(&original)["AuthUser"], "shop");
    assert_eq!(arf_envelope["AuthUser"], "shop", "the original's inbox: {arf_envelope}");
    assert_eq!(arf_envelope["MailFrom"], "", "{arf_envelope}");
    assert_eq!(arf_envelope["RcptTo"], json!(["app@example.test"]));
    let tree = email_structure(&server, &arf);
    assert_eq!(tree["type"], "multipart/report", "{tree:#}");
    assert_eq!(tree["params"]["report-type"], "feedback-report", "{tree:#}");
    let feedback = &part(&tree, "message/feedback-report")["message"]["headers"];
    assert_eq!(feedback["Feedback-Type"], "abuse", "{feedback}");
    assert_eq!(feedback["Original-Rcpt-To"], "<complaint@simulator.test>", "{feedback}");

    // ooto@: an RFC 3834 auto-reply to the envelope sender (not to Reply-To),
    // threaded to the original.
    let ooto = ["--header", "Message-ID: <trip@example.test>", "--header", "Reply-To: desk@example.test"];
    let (replies, _) = transaction_with(&server, &ooto, &["ooto@simulator.test"]);
    assert_eq!(reply(&replies, "rcpt"), "250 2.1.5 Recipient ok");
    let answer = report_of(&server, &queued(&replies));
    let answer_envelope = server.envelope(&answer);
    assert_eq!(answer_envelope["MailFrom"], "", "{answer_envelope}");
    assert_eq!(answer_envelope["RcptTo"], json!(["app@example.test"]));
    let headers = &email_structure(&server, &answer)["headers"];
    assert_eq!(headers["Auto-Submitted"], "auto-replied", "{headers}");
    assert_eq!(headers["In-Reply-To"], "<trip@example.test>", "{headers}");
    assert_eq!(headers["To"], "app@example.test", "{headers}");
    assert_eq!(headers["From"], "ooto@simulator.test", "{headers}");

    // ... and none to a message that is itself automatic.
    let stored = server.total();
    let (replies, _) =
        transaction_with(&server, &["--header", "Auto-Submitted: auto-generated"], &["ooto@simulator.test"]);
    let outcome = wait_for_effects(&server, &queued(&replies));
    assert_eq!(
        outcome["Effects"],
        json!(["no auto-reply: the original is itself automatic (Auto-Submitted: auto-generated) (RFC 3834)"])
    );
    assert_eq!(server.total(), stored + 1, "the original only");

    // forward: the message reaches the relay (a second server) as well.
    let (replies, _) = transaction(&server, &["someone@forward.test"]);
    let outcome = wait_for_effects(&server, &queued(&replies));
    assert_eq!(
        outcome["Effects"],
        json!([format!("forwarded through relay 127.0.0.1:{relay_port} to someone@forward.test")])
    );
    let forwarded = relay.list()["messages"].as_array().unwrap().clone();
    assert_eq!(forwarded.len(), 1, "{forwarded:#?}");
    let forwarded = relay.envelope(forwarded[0]["ID"].as_str().unwrap());
    assert_eq!(forwarded["MailFrom"], "app@example.test", "{forwarded}");
    assert_eq!(forwarded["RcptTo"], json!(["someone@forward.test"]));

    // The deferred recipient's retry.
    std::thread::sleep(Duration::from_millis(1100).saturating_sub(deferred_at.elapsed()));
    let (replies, _) = transaction(&server, &["full@x.test"]);
    assert_eq!(reply(&replies, "rcpt"), "250 2.1.5 Recipient ok");
    let simulation = &server.envelope(&queued(&replies))["Simulation"];
    assert_eq!((&simulation["Rule"], &simulation["Action"]), (&json!("mailbox full"), &json!("defer")));
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
