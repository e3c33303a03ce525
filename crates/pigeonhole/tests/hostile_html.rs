//! End to end, HTML built to make parsing slow stays cheap on every route that
//! parses a message's HTML body (SECURITY.md, "Hostile HTML"): the real binary,
//! each message over SMTP, each route timed. The bounds are generous for a debug
//! build on a busy machine; a release build answers each in well under a second
//! (README.md, "Limits").

mod common;

use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::{Server, send_one};
use pigeonhole::mail::links::MAX_LINKS;

/// The longest any route may take here, in a debug build (about ten times slower
/// than release) on a busy 2-core machine. Most answer in a few seconds; the
/// million-link message is 30 MB, which a debug build takes seconds just to read
/// and send. Without the bounds each route takes minutes here.
const BOUND: Duration = Duration::from_secs(20);

/// Held by each test while it times routes: two servers reading tens of megabytes
/// at once on a 2-core machine would time each other, not themselves.
static TIMING: Mutex<()> = Mutex::new(());

/// Every route that parses the HTML body, for message `id`.
fn routes(id: &str) -> Vec<String> {
    [
        "/view/{ID}.html",
        "/view/{ID}.html?embed=1",
        "/view/{ID}.html?embed=1&dark=1",
        "/api/v1/message/{ID}/links",
        "/api/v1/message/{ID}/codes",
        "/api/v1/message/{ID}/html-check",
        "/api/v1/message/{ID}/checks",
    ]
    .iter()
    .map(|route| route.replace("{ID}", id))
    .collect()
}

/// A message with `html` as its only body, lines broken for SMTP.
fn html_message(subject: &str, html: &str) -> Vec<u8> {
    format!(
        "From: sender@example.test\r\nTo: rcpt@example.test\r\nSubject: {subject}\r\n\
         Date: Mon, 7 Dec 2026 04:00:00 +0000\r\nMessage-ID: <{subject}@example.test>\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/html; charset=utf-8\r\n\r\n{html}\r\n"
    )
    .into_bytes()
}

/// Each route answers 200 within [`BOUND`]; the embedded view's body is returned.
fn assert_routes_bounded(server: &Server, id: &str) -> String {
    let _timing = TIMING.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let mut embedded = String::new();
    for route in routes(id) {
        let started = Instant::now();
        let answer = server.get(&route);
        let status = answer.status();
        let body = answer.text().unwrap();
        let took = started.elapsed();
        assert_eq!(status, 200, "GET {route}: {body:.200}");
        assert!(took < BOUND, "GET {route} took {took:?}");
        if route.ends_with("?embed=1") {
            embedded = body;
        }
    }
    embedded
}

#[test]
fn deep_nesting_is_flattened_and_said_so() {
    let server = Server::start();
    let html =
        format!("<html><body>{}deep inside{}</body></html>", "<div>\r\n".repeat(50_000), "</div>".repeat(50_000));
    let id = send_one(server.smtp, "sender@example.test", "rcpt@example.test", &html_message("deep", &html));
    let embedded = assert_routes_bounded(&server, &id);
    assert!(embedded.contains("nesting deeper than 512 levels flattened"), "no note of the cut in:\n{embedded:.2000}");
    assert!(embedded.contains("deep inside"), "the text inside is gone");
    let cut = server.get(&format!("/view/{id}.html?embed=1"));
    let header = cut.headers().get("x-pigeonhole-html-cut").expect("an X-Pigeonhole-Html-Cut header");
    assert_eq!(header, "nesting deeper than 512 levels flattened (49488 tags)");
}

#[test]
fn ten_megabytes_of_html_are_cut_short_and_said_so() {
    let server = Server::start();
    let paragraph = "<p>A paragraph of a long message, with <a href=\"https://example.test/page\">a link</a> and \
                     <b>bold</b> words.</p>\r\n";
    let html = paragraph.repeat(10_000_000 / paragraph.len());
    let id = send_one(server.smtp, "sender@example.test", "rcpt@example.test", &html_message("large", &html));
    let embedded = assert_routes_bounded(&server, &id);
    assert!(embedded.contains("HTML beyond 1048576 bytes dropped"), "no note of the cut in:\n{embedded:.2000}");
}

#[test]
fn a_million_links_are_capped() {
    let server = Server::start();
    let html: String = (0..1_000_000).map(|n| format!("<a href=http://e.test/{n}>{n}</a>\r\n")).collect();
    let id = send_one(server.smtp, "sender@example.test", "rcpt@example.test", &html_message("links", &html));
    assert_routes_bounded(&server, &id);
    let links = server.get_json(&format!("/api/v1/message/{id}/links"));
    let links = links["Links"].as_array().unwrap();
    assert_eq!(links.len(), MAX_LINKS, "the links are not capped");
    assert_eq!(links[0]["URL"], "http://e.test/0");
}
