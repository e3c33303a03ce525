//! DKIM, SPF and DMARC end to end: messages signed at test time by dkimpy (Debian's
//! python3-dkim: `dknewkey`, `dkimsign`, an independent signer), sent over SMTP to
//! the real binary and judged by `/api/v1/message/{ID}/checks`, with keys and
//! records from a `--dkim-keys` file, and from a real DNS server (dnsmasq) on
//! loopback with `--dns-lookups`; never the internet. `scripts/setup.sh` installs
//! both tools.

mod common;

use std::io::Write;
use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

/// The message every test signs: list mail from shop.example with a one-click
/// unsubscribe.
const MESSAGE: &str = "From: Shop <news@shop.example>\r\n\
To: ann@example.com\r\n\
Subject: Our autumn sale\r\n\
Date: Mon, 07 Dec 2026 10:00:00 +0000\r\n\
Message-ID: <sale-1@shop.example>\r\n\
List-Unsubscribe: <https://shop.example/unsubscribe/ann>\r\n\
List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n\
MIME-Version: 1.0\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
\r\n\
Everything is 20% off this week.\r\n\
See you soon.\r\n";

/// SPF for the loopback client the tests send from, and an enforcing DMARC policy.
const SPF: &str = "v=spf1 ip4:127.0.0.1 -all";
const DMARC: &str = "v=DMARC1; p=reject; adkim=r; aspf=r";

/// dkimpy's keys, made in a scratch folder: `name.key` (private) and the DNS text.
struct Keys {
    dir: tempfile::TempDir,
}

impl Keys {
    fn new() -> Keys {
        Keys { dir: tempfile::tempdir().unwrap() }
    }

    /// A new key pair `name` of type `rsa` or `ed25519`; returns its TXT record text.
    fn make(&self, name: &str, kind: &str) -> String {
        let status = Command::new(require_tool("dknewkey"))
            .args(["--ktype", kind, name])
            .current_dir(self.dir.path())
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "dknewkey {name} failed");
        std::fs::read_to_string(self.dir.path().join(format!("{name}.dns"))).unwrap().trim().to_string()
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `message` signed by dkimsign with key `key` under selector `selector`.
    fn sign(&self, message: &str, selector: &str, key: &str, options: &[&str]) -> Vec<u8> {
        let mut child = Command::new(require_tool("dkimsign"))
            .args(options)
            .args([selector, "shop.example"])
            .arg(self.path(&format!("{key}.key")))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(message.as_bytes()).unwrap();
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success(), "dkimsign failed");
        assert!(output.stdout.starts_with(b"DKIM-Signature:"), "{}", String::from_utf8_lossy(&output.stdout));
        output.stdout
    }
}

/// Sends `raw` from bounce@shop.example, saying EHLO shop.example; returns its ID.
fn send(server: &Server, raw: &[u8]) -> String {
    let mut smtp = Smtp::connect(server.smtp);
    smtp.ehlo("shop.example");
    let id = queued_id(&smtp.deliver("bounce@shop.example", &["ann@example.com"], raw));
    smtp.quit();
    id
}

/// The entries of check `id` in the message's report.
fn entries(server: &Server, message: &str, id: &str) -> Vec<Value> {
    let report = server.get_json(&format!("/api/v1/message/{message}/checks"));
    report["Checks"].as_array().unwrap().iter().filter(|check| check["ID"] == id).cloned().collect()
}

/// Asserts check `id` has exactly one entry, at `severity`, saying `words`.
#[track_caller]
fn assert_check(server: &Server, message: &str, id: &str, severity: &str, words: &str) {
    let found = entries(server, message, id);
    assert_eq!(found.len(), 1, "{id}: {found:#?}");
    assert_eq!(found[0]["Severity"], severity, "{id}: {found:#?}");
    assert!(found[0]["Detail"].as_str().unwrap().contains(words), "{id}: {found:#?}");
}

/// A TXT record line for the keys file, its text cut into quoted strings of at most
/// 200 characters (as a zone file holds a long key).
fn zone_line(name: &str, text: &str) -> String {
    let strings: Vec<String> =
        text.as_bytes().chunks(200).map(|chunk| format!("\"{}\"", std::str::from_utf8(chunk).unwrap())).collect();
    format!("{name}. 3600 IN TXT ( {} )\n", strings.join("\n    "))
}

#[test]
fn dkimpy_signatures_verify_against_the_keys_file() {
    let keys = Keys::new();
    let rsa = keys.make("rsa", "rsa");
    let ed = keys.make("ed", "ed25519");
    keys.make("other", "rsa");
    let zone = keys.path("keys.zone");
    std::fs::write(
        &zone,
        format!(
            "; dkimpy's keys\n{}{}{}{}",
            zone_line("rsa._domainkey.shop.example", &rsa),
            zone_line("ed._domainkey.shop.example", &ed),
            zone_line("shop.example", SPF),
            zone_line("_dmarc.shop.example", DMARC),
        ),
    )
    .unwrap();
    let server = Server::start_with(&["--dkim-keys", zone.to_str().unwrap()]);

    let passing = [
        ("rsa", "rsa", &["--hcanon", "relaxed", "--bcanon", "relaxed"][..], "rsa-sha256"),
        ("rsa", "rsa", &["--hcanon", "simple", "--bcanon", "simple"][..], "rsa-sha256"),
        (
            "ed",
            "ed",
            &["--signalg", "ed25519-sha256", "--hcanon", "relaxed", "--bcanon", "simple"][..],
            "ed25519-sha256",
        ),
        (
            "ed",
            "ed",
            &["--signalg", "ed25519-sha256", "--hcanon", "simple", "--bcanon", "relaxed"][..],
            "ed25519-sha256",
        ),
    ];
    for (selector, key, options, algorithm) in passing {
        let id = send(&server, &keys.sign(MESSAGE, selector, key, options));
        assert_check(
            &server,
            &id,
            "auth.dkim",
            "pass",
            &format!("s=\"{selector}\" ({algorithm}): the signature verifies"),
        );
        assert_check(&server, &id, "auth.spf", "pass", "allows 127.0.0.1");
        assert_check(&server, &id, "auth.dmarc", "pass", "policy p=reject; DKIM aligned (relaxed), SPF aligned");
        // Every rule met but TLS: the test client speaks plain SMTP.
        assert_check(&server, &id, "deliverability.bulk-sender", "warning", "did not use TLS");
    }

    let signed = keys.sign(MESSAGE, "rsa", "rsa", &[]);
    let changed = String::from_utf8(signed).unwrap().replacen("20% off", "30% off", 1);
    let id = send(&server, changed.as_bytes());
    assert_check(&server, &id, "auth.dkim", "error", "body hash mismatch");

    // Signed with another key than the one published for the selector.
    let id = send(&server, &keys.sign(MESSAGE, "rsa", "other", &[]));
    assert_check(&server, &id, "auth.dkim", "error", "signature verification failed");

    // A selector the file does not have: unknown, not failed (DNS is off).
    let id = send(&server, &keys.sign(MESSAGE, "missing", "rsa", &[]));
    assert_check(&server, &id, "auth.dkim", "notice", "key not available");
}

#[test]
fn a_bad_keys_file_stops_the_start_naming_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let zone = dir.path().join("keys.zone");
    std::fs::write(&zone, "; keys\nsel._domainkey.shop.example. IN TXT \"v=DKIM1; k=rsa; p=AAAA\n").unwrap();
    let mut cmd = serve_command();
    cmd.args(port0_args(&dir.path().join("data"))).arg("--dkim-keys").arg(&zone);
    let exited = run_to_exit(cmd, STARTUP_TIMEOUT);
    assert!(!exited.status.success());
    assert!(exited.stderr.contains(&format!("the DKIM keys file {}, line 2", zone.display())), "{}", exited.stderr);
    assert!(!exited.stdout.contains("listening on"), "{}", exited.stdout);
}

/// dnsmasq answering TXT records on a loopback port (UDP and TCP), every other name
/// under `example` "no such name"; stopped when dropped. Logs each query.
struct Dnsmasq {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Dnsmasq {
    fn start(dir: &Path, records: &[(&str, &str)]) -> Dnsmasq {
        let port = UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let log = dir.join("dnsmasq.log");
        let mut cmd = Command::new(require_tool("dnsmasq"));
        cmd.args(["--keep-in-foreground", "--conf-file=/dev/null", "--pid-file=", "--no-resolv", "--no-hosts"])
            .args(["--listen-address=127.0.0.1", "--bind-interfaces", "--local=/example/", "--log-queries"])
            .arg("--log-facility=-")
            .arg(format!("--port={port}"));
        for (name, text) in records {
            // One character-string per 200 bytes, as a long DKIM key is published.
            let strings: Vec<&str> =
                text.as_bytes().chunks(200).map(|chunk| std::str::from_utf8(chunk).unwrap()).collect();
            cmd.arg(format!("--txt-record={name},{}", strings.join(",")));
        }
        let child = cmd.stdout(Stdio::null()).stderr(std::fs::File::create(&log).unwrap()).spawn().unwrap();
        let dnsmasq = Dnsmasq { child, port, log };
        let started = Instant::now();
        while !dnsmasq.log().contains("started") {
            assert!(started.elapsed() < STARTUP_TIMEOUT, "dnsmasq did not start:\n{}", dnsmasq.log());
            std::thread::sleep(Duration::from_millis(50));
        }
        dnsmasq
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn queries(&self) -> usize {
        self.log().lines().filter(|line| line.contains("query[")).count()
    }
}

impl Drop for Dnsmasq {
    fn drop(&mut self) {
        signal(self.child.id(), "TERM");
        let _ = wait_timeout(&mut self.child, Duration::from_secs(10));
    }
}

#[test]
fn keys_and_records_from_a_real_dns_server_only_with_dns_lookups() {
    let keys = Keys::new();
    let rsa = keys.make("rsa", "rsa");
    let dns = Dnsmasq::start(
        keys.dir.path(),
        &[("rsa._domainkey.shop.example", &rsa), ("shop.example", SPF), ("_dmarc.shop.example", DMARC)],
    );
    let signed = keys.sign(MESSAGE, "rsa", "rsa", &[]);

    let resolver = format!("127.0.0.1:{}", dns.port);
    let online = Server::start_with(&["--dns-lookups", "--dns-server", &resolver]);
    let id = send(&online, &signed);
    assert_check(&online, &id, "auth.dkim", "pass", "the signature verifies");
    assert_check(&online, &id, "auth.spf", "pass", "allows 127.0.0.1");
    assert_check(&online, &id, "auth.dmarc", "pass", "policy p=reject");
    assert!(dns.queries() > 0, "{}", dns.log());
    drop(online);

    // The same message, DNS lookups off: notices, not failures.
    let offline = Server::start();
    let id = send(&offline, &signed);
    assert_check(&offline, &id, "auth.dkim", "notice", "key not available");
    assert_check(&offline, &id, "auth.spf", "notice", "No SPF record available");
    assert_check(&offline, &id, "auth.dmarc", "notice", "No DMARC record available");
}
