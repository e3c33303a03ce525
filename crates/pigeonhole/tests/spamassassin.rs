//! Mailpit's SpamAssassin check end to end: the real binary asking a real `spamd`
//! (Debian's, with the rules it ships; `scripts/setup.sh` installs it) about mail
//! sent over SMTP, and saying so clearly once spamd is gone.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

/// spamd loads a few thousand rules before it listens; a debug-built CI run
/// beside other builds on 2 cores can take a while.
const SPAMD_START_TIMEOUT: Duration = Duration::from_secs(120);

/// The standard test string every SpamAssassin scores 1000 (rule GTUBE).
const GTUBE: &str = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X";

/// A `spamd` on a loopback port, stopped (SIGTERM, which takes its children
/// too) when dropped.
struct Spamd {
    child: Child,
    address: String,
}

impl Spamd {
    fn start(dir: &Path) -> Spamd {
        let spamd = require_tool("spamd");
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let address = format!("127.0.0.1:{port}");
        let mut cmd = Command::new(spamd);
        // --local: no network tests (DNS blocklists, URIBL), which would only time out here.
        cmd.arg(format!("--listen={address}"))
            .args(["--max-children=1", "--local", "--syslog=stderr"])
            .arg(format!("--pidfile={}", dir.join("spamd.pid").display()))
            .arg(format!("--helper-home-dir={}", dir.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("spamd.log")).unwrap());
        // spamd refuses to run as root without a user to become.
        if is_root() {
            cmd.args(["--username=nobody"]);
        }
        let started = Instant::now();
        let mut spamd = Spamd { child: cmd.spawn().expect("spawn spamd"), address };
        while !spamd.answers_ping() {
            let log = std::fs::read_to_string(dir.join("spamd.log")).unwrap_or_default();
            if let Some(status) = spamd.child.try_wait().unwrap() {
                panic!("spamd exited ({status}) before answering:\n{log}");
            }
            assert!(
                started.elapsed() < SPAMD_START_TIMEOUT,
                "spamd did not answer within {SPAMD_START_TIMEOUT:?}:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        eprintln!("spamd answered PING {:.1} s after it was started", started.elapsed().as_secs_f64());
        spamd
    }

    /// spamd's `PING` answers `SPAMD/1.5 0 PONG` once the rules are loaded.
    fn answers_ping(&self) -> bool {
        let Ok(mut stream) = TcpStream::connect(&self.address) else { return false };
        stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut answer = String::new();
        stream.write_all(b"PING SPAMC/1.5\r\n\r\n").is_ok()
            && stream.read_to_string(&mut answer).is_ok()
            && answer.contains("PONG")
    }

    fn stop(&mut self) {
        if self.child.try_wait().unwrap().is_none() {
            signal(self.child.id(), "TERM");
            assert!(wait_timeout(&mut self.child, Duration::from_secs(30)).is_some(), "spamd did not stop");
        }
    }
}

impl Drop for Spamd {
    fn drop(&mut self) {
        self.stop();
    }
}

fn is_root() -> bool {
    let id = Command::new("id").arg("-u").output().expect("run id -u");
    String::from_utf8_lossy(&id.stdout).trim() == "0"
}

fn rule_names(check: &Value) -> Vec<&str> {
    check["Rules"].as_array().unwrap().iter().map(|rule| rule["Name"].as_str().unwrap()).collect()
}

#[test]
fn sa_check_asks_a_real_spamd() {
    let dir = tempfile::tempdir().unwrap();
    let mut spamd = Spamd::start(dir.path());
    let server = Server::start_with(&["--enable-spamassassin", &spamd.address]);
    assert_eq!(server.get_json("/api/v1/webui")["SpamAssassin"], true);

    let spam = send_one(
        server.smtp,
        "sender@example.test",
        "rcpt@example.test",
        &simple_message("sender@example.test", "rcpt@example.test", "GTUBE", GTUBE),
    );
    let check = server.get_json(&format!("/api/v1/message/{spam}/sa-check"));
    // Mailpit's key set (serde_json's map sorts them).
    let keys: Vec<&String> = check.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["Error", "IsSpam", "Rules", "Score"], "{check}");
    assert_eq!(check["IsSpam"], true, "{check}");
    assert_eq!(check["Error"], "", "{check}");
    assert!(check["Score"].as_f64().unwrap() >= 1000.0, "{check}");
    let gtube = check["Rules"].as_array().unwrap().iter().find(|rule| rule["Name"] == "GTUBE").expect("the GTUBE rule");
    assert_eq!(gtube["Score"], 1000.0);
    assert!(gtube["Description"].as_str().unwrap().contains("Generic Test for Unsolicited Bulk Email"), "{gtube}");
    eprintln!("GTUBE message: Score {} with {:?}", check["Score"], rule_names(&check));

    let clean = send_one(
        server.smtp,
        "sender@example.test",
        "rcpt@example.test",
        &simple_message("sender@example.test", "rcpt@example.test", "Lunch", "Shall we meet at noon?\n\nAlice"),
    );
    // `latest` is the clean one.
    let check = server.get_json("/api/v1/message/latest/sa-check");
    assert_eq!(check["IsSpam"], false, "{check}");
    assert_eq!(check["Error"], "", "{check}");
    assert!(check["Score"].as_f64().unwrap() < 5.0, "{check}");
    assert!(!rule_names(&check).contains(&"GTUBE"), "{check}");
    eprintln!("clean message: Score {} with {:?}", check["Score"], rule_names(&check));
    assert_eq!(server.get("/api/v1/message/nosuchmessage/sa-check").status(), 404);

    // spamd gone: still 200, with the reason in Error (as Mailpit answers).
    spamd.stop();
    let response = server.get(&format!("/api/v1/message/{clean}/sa-check"));
    assert_eq!(response.status(), 200);
    let check: Value = response.json().unwrap();
    let error = check["Error"].as_str().unwrap();
    let expected = format!("SpamAssassin (spamd at {}): cannot connect: ", spamd.address);
    assert!(error.starts_with(&expected), "{check}");
    assert_eq!(
        (&check["IsSpam"], &check["Score"], &check["Rules"]),
        (&Value::Bool(false), &0.0.into(), &Vec::<Value>::new().into())
    );
}

#[test]
fn sa_check_is_not_found_when_not_enabled() {
    let server = Server::start();
    assert_eq!(server.get_json("/api/v1/webui")["SpamAssassin"], false);
    let response = server.get("/api/v1/message/latest/sa-check");
    assert_eq!(response.status(), 404);
    let body: Value = response.json().unwrap();
    assert_eq!(body["Error"], "SpamAssassin is not enabled; start Pigeonhole with --enable-spamassassin <host:port>");
}
