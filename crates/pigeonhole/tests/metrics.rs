//! `GET /metrics` (`serve --enable-prometheus`) against the real binary: off by
//! default, on the HTTP port behind its basic auth, on a listener of its own; the
//! output read by `promtool check metrics` and scraped by a real Prometheus server
//! answering PromQL; and its series unchanged by a flood of mail whose senders,
//! recipients, subjects and inboxes are all different.
//!
//! The flood is 10,000 messages; `PIGEONHOLE_METRICS_FLOOD=N` changes that.

mod common;

use std::collections::BTreeSet;
use std::io::Write;
use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use common::*;

/// A free loopback port, for a listener the binary is told to bind.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The metrics text, from `url`, which must answer 200 in the Prometheus text format.
fn scrape(url: &str) -> String {
    let answer = reqwest::blocking::get(url).unwrap_or_else(|e| panic!("GET {url}: {e}"));
    assert_eq!(answer.status(), 200, "GET {url}");
    let content_type = answer.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(content_type.starts_with("text/plain; version=0.0.4"), "{content_type}");
    answer.text().unwrap()
}

/// The value of the series `series` (name and labels, exactly as written).
fn value(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no series {series} in:\n{text}"))
        .parse()
        .unwrap()
}

/// Every series (name and labels, without the value).
fn series(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .map(|line| line.rsplit_once(' ').expect("a value after the series").0.to_owned())
        .collect()
}

/// `promtool check metrics` on `text`: exit 0 and no complaint (it lints names,
/// units and help texts too).
fn promtool_check(text: &str) {
    let promtool = require_tool("promtool");
    let mut child = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && said.trim().is_empty(), "promtool check metrics: {said}\non:\n{text}");
}

fn message(subject: &str) -> Vec<u8> {
    format!("From: a@example.test\r\nTo: b@example.test\r\nSubject: {subject}\r\n\r\nHello.\r\n").into_bytes()
}

#[test]
fn metrics_are_off_by_default_and_the_path_answers_as_any_unknown_one() {
    let server = Server::start();
    let metrics = server.get("/metrics");
    let unknown = server.get("/no-such-page");
    assert_eq!(metrics.status(), unknown.status());
    assert_eq!(metrics.headers().get("content-type"), unknown.headers().get("content-type"));
    assert_eq!(metrics.text().unwrap(), unknown.text().unwrap());
}

/// `true`: on the HTTP port. Accepted mail, its bytes, refusals by reason and
/// sessions are counted; the store's totals read at scrape time; an API request
/// is labelled with its route template, never its path; promtool is content.
#[test]
fn metrics_on_the_http_port_count_what_smtp_and_the_api_did() {
    let server = Server::start_with(&["--enable-prometheus", "true"]);
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(send_one(server.smtp, "app@example.test", "user@example.test", &message(&format!("hello {i}"))));
    }
    let mut smtp = Smtp::connect(server.smtp);
    smtp.expect("NOSUCHCOMMAND", 500);
    smtp.ehlo("client.example.test");
    smtp.expect("MAIL FROM:<a@example.test> SIZE=999999999999", 552);
    smtp.quit();
    server.get_json(&format!("/api/v1/message/{}", ids[0]));
    server.get("/no-such-page");

    let text = scrape(&server.url("/metrics"));
    promtool_check(&text);
    assert_eq!(value(&text, "pigeonhole_smtp_messages_accepted_total"), 3.0);
    let bytes: usize = (0..3).map(|i| message(&format!("hello {i}")).len()).sum();
    assert_eq!(value(&text, "pigeonhole_smtp_accepted_bytes_total"), bytes as f64);
    assert_eq!(value(&text, "pigeonhole_smtp_sessions_total"), 4.0);
    assert_eq!(value(&text, "pigeonhole_smtp_rejections_total{reason=\"protocol\"}"), 1.0);
    assert_eq!(value(&text, "pigeonhole_smtp_rejections_total{reason=\"size\"}"), 1.0);
    assert_eq!(value(&text, "pigeonhole_smtp_rejections_total{reason=\"busy\"}"), 0.0);
    assert_eq!(value(&text, "pigeonhole_store_messages"), 3.0);
    assert_eq!(value(&text, "pigeonhole_store_commit_duration_seconds_count"), 3.0);
    assert!(value(&text, "pigeonhole_store_database_bytes") > 0.0);
    assert!(value(&text, "pigeonhole_store_budget_limit_bytes") > 0.0);
    let route = "pigeonhole_http_request_duration_seconds_count{route=\"/api/v1/message/{ID}\",method=\"GET\"}";
    assert_eq!(value(&text, route), 1.0);
    assert!(!text.contains(&ids[0]), "a message ID became a label:\n{text}");
    assert!(!text.contains("no-such-page"), "a path no route matched became a label:\n{text}");
    assert!(text.contains("route=\"other\",method=\"GET\""), "{text}");
}

/// On the HTTP port, `/metrics` asks for the UI's password like the API does.
#[test]
fn metrics_on_the_http_port_ask_for_the_ui_password() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("htpasswd");
    std::fs::write(&file, "prometheus:scrape-password\n").unwrap();
    let server = Server::start_with(&["--enable-prometheus", "true", "--ui-auth-file", file.to_str().unwrap()]);
    let client = reqwest::blocking::Client::new();
    let refused = client.get(server.url("/metrics")).send().unwrap();
    assert_eq!(refused.status(), 401);
    let answer = client.get(server.url("/metrics")).basic_auth("prometheus", Some("scrape-password")).send().unwrap();
    assert_eq!(answer.status(), 200);
    assert!(answer.text().unwrap().contains("pigeonhole_smtp_sessions_total 0"));
}

/// An address: a listener of its own serving only `/metrics`, and the HTTP port
/// has none.
#[test]
fn metrics_on_a_listener_of_their_own() {
    let port = free_port();
    let server = Server::start_with(&["--enable-prometheus", &format!("127.0.0.1:{port}")]);
    let text = scrape(&format!("http://127.0.0.1:{port}/metrics"));
    assert!(text.contains("pigeonhole_smtp_messages_accepted_total 0"), "{text}");
    let other = reqwest::blocking::get(format!("http://127.0.0.1:{port}/api/v1/messages")).unwrap();
    assert_eq!(other.status(), 404);
    assert!(!server.get("/metrics").text().unwrap().contains("pigeonhole_smtp"));
}

/// A message webhook's delivery is counted as the provider webhooks' are: one
/// `--webhook-url` receiver that answers 200 to the one message sent.
#[test]
fn message_webhook_deliveries_are_counted() {
    use std::io::{BufRead, BufReader, Read};
    let receiver = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", receiver.local_addr().unwrap());
    let received = thread::spawn(move || {
        let (socket, _) = receiver.accept().unwrap();
        let mut reader = BufReader::new(socket);
        let mut length = 0;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = value.trim().parse().unwrap();
            }
            if line == "\r\n" {
                break;
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        reader.get_mut().write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").unwrap();
        String::from_utf8(body).unwrap()
    });
    let server = Server::start_with(&["--enable-prometheus", "true", "--webhook-url", &url]);
    send_one(server.smtp, "app@example.test", "user@example.test", &message("hooked"));
    assert!(received.join().unwrap().contains("hooked"));
    let deadline = Instant::now() + Duration::from_secs(10);
    let delivered = "pigeonhole_webhook_deliveries_total{outcome=\"delivered\"}";
    let text = loop {
        let text = scrape(&server.url("/metrics"));
        if value(&text, delivered) == 1.0 || Instant::now() > deadline {
            break text;
        }
        thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(value(&text, delivered), 1.0, "{text}");
    assert_eq!(value(&text, "pigeonhole_webhook_attempts_total"), 1.0, "{text}");
}

/// The seed outage: a label per sender subdomain. Here every message of the
/// flood has its own sender subdomain, recipient (with a plus tag), subject and,
/// per connection, its own AUTH user (the inbox): the series stay the same.
#[test]
fn a_flood_of_unique_senders_recipients_subjects_and_inboxes_adds_no_series() {
    let flood: usize = std::env::var("PIGEONHOLE_METRICS_FLOOD").map_or(10_000, |n| n.parse().unwrap());
    let port = free_port();
    let server = Server::start_with(&["--enable-prometheus", &format!("127.0.0.1:{port}")]);
    let url = format!("http://127.0.0.1:{port}/metrics");
    // Every series exists once one message went through and one scrape was made.
    send_one(server.smtp, "warm@example.test", "up@example.test", &message("warm-up"));
    let before = series(&scrape(&url));

    const PER_CONNECTION: usize = 10;
    let workers = 4;
    let started = Instant::now();
    let handles: Vec<_> = (0..workers)
        .map(|worker| {
            let smtp_addr: SocketAddr = server.smtp;
            thread::spawn(move || {
                let connections = flood.div_ceil(PER_CONNECTION);
                for connection in (worker..connections).step_by(workers) {
                    let mut smtp = Smtp::connect(smtp_addr);
                    smtp.ehlo("flood.example.test");
                    let user = base64(&format!("\0inbox-{connection}\0pw"));
                    smtp.expect(&format!("AUTH PLAIN {user}"), 235);
                    for i in connection * PER_CONNECTION..((connection + 1) * PER_CONNECTION).min(flood) {
                        let from = format!("sender@sub{i}.flood-sender.test");
                        let to = format!("rcpt{i}+tag{i}@flood-rcpt.test");
                        let body = format!(
                            "From: {from}\r\nTo: {to}\r\nSubject: flood subject {i}\r\nX-Tags: tag{i}\r\n\r\nbody {i}\r\n"
                        );
                        let reply = smtp.deliver(&from, &[&to], body.as_bytes());
                        assert!(reply.is(250), "message {i}: {reply:?}");
                    }
                    smtp.quit();
                }
            })
        })
        .collect();
    for handle in handles {
        handle.join().unwrap();
    }
    let took = started.elapsed();

    let text = scrape(&url);
    assert_eq!(series(&text), before, "the flood changed the series");
    assert_eq!(value(&text, "pigeonhole_smtp_messages_accepted_total"), (flood + 1) as f64);
    for hostile in ["flood-sender", "flood-rcpt", "flood subject", "inbox-", "tag1"] {
        assert!(!text.contains(hostile), "mail content {hostile:?} in the metrics:\n{text}");
    }
    eprintln!("{flood} messages in {took:?}; {} series before and after", before.len());
}

fn base64(text: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// A `prometheus` server of the test's own (config and data in a temp folder, a
/// free port); killed when dropped.
struct Prometheus {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Prometheus {
    fn scraping(target: SocketAddr) -> Prometheus {
        let binary = require_tool("prometheus");
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: pigeonhole\n    static_configs:\n      - targets: ['{target}']\n"
            ),
        )
        .unwrap();
        let port = free_port();
        let child = Command::new(binary)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", dir.path().join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        Prometheus { child, url: format!("http://127.0.0.1:{port}"), _dir: dir }
    }

    /// The instant query's first sample value, if there is one yet.
    fn query(&self, promql: &str) -> Option<String> {
        let answer = reqwest::blocking::Client::new()
            .get(format!("{}/api/v1/query", self.url))
            .query(&[("query", promql)])
            .send()
            .ok()?;
        let body: serde_json::Value = answer.json().ok()?;
        body["data"]["result"][0]["value"][1].as_str().map(str::to_owned)
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A real Prometheus scrapes the HTTP port's `/metrics` and answers PromQL on
/// the accepted-messages counter with the number of messages sent.
#[test]
fn prometheus_scrapes_the_engine_and_answers_promql() {
    let server = Server::start_with(&["--enable-prometheus", "true"]);
    for i in 0..5 {
        send_one(server.smtp, "app@example.test", "user@example.test", &message(&format!("promql {i}")));
    }
    let prometheus = Prometheus::scraping(server.http);
    let query = "sum(pigeonhole_smtp_messages_accepted_total{job=\"pigeonhole\"})";
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = None;
    while Instant::now() < deadline {
        seen = prometheus.query(query);
        if seen.as_deref() == Some("5") {
            break;
        }
        thread::sleep(Duration::from_millis(250));
    }
    assert_eq!(seen.as_deref(), Some("5"), "{query}");
    let up = prometheus.query("up{job=\"pigeonhole\"}");
    assert_eq!(up.as_deref(), Some("1"));
}
