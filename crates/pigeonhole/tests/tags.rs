//! Tags end to end: mail over real SMTP to the real binary comes out tagged from
//! its `X-Tags` header and from plus-addressed recipients (the envelope's too), and
//! `--tags-disable` turns both off.

mod common;

use common::*;
use reqwest::Method;
use serde_json::json;

/// A message with an `X-Tags` header, sent to a plus address, with a plus-addressed
/// envelope-only (Bcc) recipient; its ID.
fn send_tagged(server: &Server) -> String {
    let message = b"From: app@example.test\r\nTo: Ann <ann+welcome@example.test>\r\n\
        X-Tags: signup, Priority  High\r\nSubject: tagged\r\n\r\nhello\r\n";
    let mut smtp = Smtp::connect(server.smtp);
    smtp.ehlo("tags.example.test");
    let id =
        queued_id(&smtp.deliver("app@example.test", &["ann+welcome@example.test", "audit+copy@example.test"], message));
    smtp.quit();
    id
}

#[test]
fn smtp_mail_is_tagged_from_x_tags_and_plus_addresses() {
    let server = Server::start();
    let id = send_tagged(&server);
    let plain = simple_message("a@example.test", "b@example.test", "plain", "x");
    send_one(server.smtp, "a@example.test", "b@example.test", &plain);

    let expected = json!(["copy", "Priority High", "signup", "welcome"]);
    assert_eq!(server.get_json("/api/v1/tags"), expected);
    assert_eq!(server.summary_by_subject("tagged")["Tags"], expected);
    assert_eq!(server.summary_by_subject("plain")["Tags"], json!([]));
    assert_eq!(server.message(&id)["Tags"], expected);
    let found = server.get_json("/api/v1/search?query=tag:welcome");
    assert_eq!(found["messages"][0]["ID"], id.as_str());
    assert_eq!(found["messages_count"], 1);

    server.mutate(Method::PUT, "/api/v1/tags/Priority%20High", Some(json!({"Name": "urgent"})));
    server.mutate(Method::DELETE, "/api/v1/tags/copy", None);
    assert_eq!(server.message(&id)["Tags"], json!(["signup", "urgent", "welcome"]));
    assert_eq!(server.get_json("/api/v1/info")["Tags"], json!({"signup": 1, "urgent": 1, "welcome": 1}));
}

#[test]
fn tags_disable_turns_automatic_tags_off() {
    let server = Server::start_with(&["--tags-disable", "x-tags,plus-addresses"]);
    let id = send_tagged(&server);
    assert_eq!(server.message(&id)["Tags"], json!([]));
    assert_eq!(server.get_json("/api/v1/tags"), json!([]));
}
