//! The client subcommands (`wait`, `list`, `get`, `delete`) and `sendmail`, run as
//! subprocesses against a real `pigeonhole serve`, the way scripts and CI steps use them.

mod common;

use std::io::Write;
use std::net::TcpListener;
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// `pigeonhole ARGS` with no inherited PIGEONHOLE_* settings, pointed at `server`
/// (if any) through the environment: PIGEONHOLE_URL and PIGEONHOLE_SMTP.
fn pigeonhole(server: Option<&Server>, args: &[&str]) -> Command {
    let mut cmd = without_settings(Command::new(BIN));
    if let Some(server) = server {
        point_at(&mut cmd, server);
    }
    cmd.args(args);
    cmd
}

fn point_at(cmd: &mut Command, server: &Server) {
    cmd.env("PIGEONHOLE_URL", format!("http://{}", server.http)).env("PIGEONHOLE_SMTP", server.smtp.to_string());
}

/// Runs `cmd` with `stdin` piped in; fails the test if it runs longer than a minute.
fn run(mut cmd: Command, stdin: &[u8]) -> Output {
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn pigeonhole");
    let mut input = child.stdin.take().unwrap();
    let stdin = stdin.to_vec();
    let writer = thread::spawn(move || {
        let _ = input.write_all(&stdin);
    });
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let output = rx.recv_timeout(IO_TIMEOUT).expect("pigeonhole still running after a minute").expect("wait");
    writer.join().unwrap();
    output
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The command must exit 0; its stdout.
fn ok(cmd: Command, stdin: &[u8]) -> Vec<u8> {
    let what = format!("{cmd:?}");
    let out = run(cmd, stdin);
    assert!(out.status.success(), "{what}: {}\nstderr: {}", out.status, text(&out.stderr));
    out.stdout
}

fn json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(bytes)))
}

fn now_rfc3339() -> String {
    OffsetDateTime::now_utc().format(&Rfc3339).unwrap()
}

/// A loopback port with nothing listening on it.
fn dead_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[test]
fn wait_returns_the_message_sendmail_delivers_afterwards() {
    let server = Server::start();
    // The cursor is taken before the waiter starts, so the test does not depend on
    // the waiter's request reaching the server before the message does.
    let after = now_rfc3339();
    let waiter =
        pigeonhole(Some(&server), &["wait", "--query", "to:bob@example.test", "--timeout", "30s", "--after", &after]);
    let waiter = thread::spawn(move || run(waiter, b""));
    thread::sleep(Duration::from_millis(300));

    // Not for bob: the waiter must let it pass.
    ok(
        pigeonhole(Some(&server), &["sendmail", "carol@example.test"]),
        &simple_message("a@x.test", "carol@example.test", "for carol", "x"),
    );
    let message = b"From: App <app@example.test>\r\nTo: Bob <bob@example.test>\r\nBcc: audit@example.test\r\n\
Subject: Your code\r\n\r\nYour code is 424242\r\n.\r\n..two dots\r\n";
    ok(pigeonhole(Some(&server), &["sendmail", "-t", "-i"]), message);

    let out = waiter.join().unwrap();
    assert_eq!(out.status.code(), Some(0), "wait: stderr {}", text(&out.stderr));
    let summary = json(&out.stdout);
    assert_eq!(summary["Subject"], "Your code");
    assert_eq!(summary["To"][0]["Address"], "bob@example.test");
    let id = summary["ID"].as_str().unwrap();
    assert_eq!(server.summary_by_subject("Your code")["ID"], id);

    // Delivered as piped in, minus the Bcc header; the Bcc address was a recipient.
    let expected: &[u8] = b"From: App <app@example.test>\r\nTo: Bob <bob@example.test>\r\n\
Subject: Your code\r\n\r\nYour code is 424242\r\n.\r\n..two dots\r\n";
    server.assert_raw(id, expected);
    let envelope = server.envelope(id);
    assert_eq!(envelope["MailFrom"], "app@example.test", "sender from the From header");
    assert_eq!(envelope["RcptTo"], serde_json::json!(["bob@example.test", "audit@example.test"]));

    // `get --raw` prints exactly the stored bytes; `get` the message JSON.
    let raw = ok(pigeonhole(Some(&server), &["get", "latest", "--raw"]), b"");
    assert_same_bytes(expected, &raw, "get latest --raw");
    let full = json(&ok(pigeonhole(Some(&server), &["get", id]), b""));
    assert_eq!(full["ID"], id);
    assert_eq!(full["Text"], "Your code is 424242\r\n.\r\n..two dots\r\n");
}

#[test]
fn get_raw_is_binary_safe() {
    let server = Server::start();
    let mut message = simple_message("a@x.test", "b@x.test", "bytes", "");
    message.extend_from_slice(b"\xff\xfe\x00\x01 latin-1 \xe9t\xe9\r\n");
    let id = send_one(server.smtp, "a@x.test", "b@x.test", &message);
    let raw = ok(pigeonhole(Some(&server), &["get", &id, "--raw"]), b"");
    assert_same_bytes(&message, &raw, "get --raw");
}

#[test]
fn sendmail_options_and_line_ends() {
    let server = Server::start();
    // LF line ends (PHP's mail()), recipients as arguments, -f, cron's ignored options.
    let lf = b"From: Cron Daemon <root@host.test>\nTo: ops@example.test\nSubject: cron output\n\nline 1\nline 2";
    let args = [
        "send",
        "-FCronDaemon",
        "-i",
        "-B8BITMIME",
        "-oem",
        "-odi",
        "-f",
        "bounce@example.test",
        "ops@example.test, dev",
    ];
    ok(pigeonhole(Some(&server), &args), lf);
    let id = server.summary_by_subject("cron output")["ID"].as_str().unwrap().to_string();
    server.assert_raw(
        &id,
        b"From: Cron Daemon <root@host.test>\r\nTo: ops@example.test\r\nSubject: cron output\r\n\r\nline 1\r\nline 2\r\n",
    );
    let envelope = server.envelope(&id);
    assert_eq!(envelope["MailFrom"], "bounce@example.test");
    assert_eq!(envelope["RcptTo"], serde_json::json!(["ops@example.test", "dev@localhost"]));

    // --smtp on the command line wins over PIGEONHOLE_SMTP; -f '' is the null sender.
    let mut cmd = pigeonhole(Some(&server), &["sendmail", "--smtp", &server.smtp.to_string(), "-f", "", "-t"]);
    cmd.env("PIGEONHOLE_SMTP", format!("127.0.0.1:{}", dead_port()));
    ok(cmd, &simple_message("x@example.test", "y@example.test", "null sender", "bounce"));
    let id = server.summary_by_subject("null sender")["ID"].as_str().unwrap().to_string();
    assert_eq!(server.envelope(&id)["MailFrom"], "");

    // No recipients at all: a usage error, nothing delivered.
    let out = run(pigeonhole(Some(&server), &["sendmail"]), &simple_message("a@x.test", "b@x.test", "nobody", "x"));
    assert_eq!(out.status.code(), Some(64), "stderr: {}", text(&out.stderr));
    assert!(text(&out.stderr).contains("no recipients"), "{}", text(&out.stderr));
    assert_eq!(server.total(), 2);
}

#[test]
fn wait_times_out_with_exit_1() {
    let server = Server::start();
    let started = Instant::now();
    let out = run(pigeonhole(Some(&server), &["wait", "--query", "to:nobody@example.test", "--timeout", "1s"]), b"");
    let took = started.elapsed();
    assert_eq!(out.status.code(), Some(1), "stderr: {}", text(&out.stderr));
    assert!(out.stdout.is_empty(), "nothing on stdout: {}", text(&out.stdout));
    assert!(text(&out.stderr).contains("1s"), "the timeout is named: {}", text(&out.stderr));
    assert!(took >= Duration::from_secs(1) && took < Duration::from_millis(2500), "took {took:?}");

    // A timeout the server refuses is an error (2), not a timeout (1).
    let out = run(pigeonhole(Some(&server), &["wait", "--timeout", "soon"]), b"");
    assert_eq!(out.status.code(), Some(2), "stderr: {}", text(&out.stderr));
    assert!(text(&out.stderr).contains("400"), "{}", text(&out.stderr));
}

#[test]
fn list_and_delete() {
    let server = Server::start();
    let url = format!("http://{}", server.http);
    let mut ids = Vec::new();
    for (to, subject) in [("bob@example.test", "one"), ("carol@example.test", "two"), ("bob@example.test", "three")] {
        ok(pigeonhole(Some(&server), &["sendmail", to]), &simple_message("app@example.test", to, subject, "x"));
        ids.push(server.summary_by_subject(subject)["ID"].as_str().unwrap().to_string());
    }

    // --url on the command line (no environment).
    let page = json(&ok(pigeonhole(None, &["list", "--url", &url]), b""));
    assert_eq!(page["total"], 3);
    assert_eq!(page["messages"][0]["Subject"], "three", "newest first");
    let page = json(&ok(pigeonhole(Some(&server), &["list", "--limit", "1"]), b""));
    assert_eq!(page["messages"].as_array().unwrap().len(), 1);
    let page = json(&ok(pigeonhole(Some(&server), &["list", "--query", "to:bob@example.test"]), b""));
    let subjects: Vec<&str> =
        page["messages"].as_array().unwrap().iter().map(|m| m["Subject"].as_str().unwrap()).collect();
    assert_eq!(subjects, ["three", "one"]);

    let table = text(&ok(pigeonhole(Some(&server), &["list", "--format", "table"]), b""));
    let lines: Vec<Vec<&str>> = table.lines().map(|l| l.split('\t').collect()).collect();
    assert_eq!(lines.len(), 3, "{table}");
    assert_eq!(lines[0][0], ids[2]);
    assert_eq!(lines[0][2], "app@example.test");
    assert_eq!(lines[0][3], "three");

    ok(pigeonhole(Some(&server), &["delete", &ids[0], &ids[1]]), b"");
    assert_eq!(server.total(), 1);
    ok(pigeonhole(Some(&server), &["delete", "--all"]), b"");
    assert_eq!(server.total(), 0);
    assert_eq!(json(&ok(pigeonhole(Some(&server), &["list"]), b""))["total"], 0);

    // `delete` with neither IDs nor --all is a usage error, and deletes nothing.
    let out = run(pigeonhole(Some(&server), &["delete"]), b"");
    assert_eq!(out.status.code(), Some(2));

    // A missing message: exit 2 with the server's reason.
    let out = run(pigeonhole(Some(&server), &["get", "latest"]), b"");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("404"), "{}", text(&out.stderr));
}

#[test]
fn unreachable_server_exits_2_and_says_what_to_do() {
    let url = format!("http://127.0.0.1:{}", dead_port());
    for args in [
        vec!["wait", "--timeout", "1s", "--url", &url],
        vec!["list", "--url", &url],
        vec!["get", "latest", "--raw", "--url", &url],
        vec!["delete", "--all", "--url", &url],
    ] {
        let out = run(pigeonhole(None, &args), b"");
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: one line: {stderr}");
        assert!(stderr.contains("pigeonhole serve") && stderr.contains(&url), "{args:?}: {stderr}");
    }

    let smtp = format!("127.0.0.1:{}", dead_port());
    let out =
        run(pigeonhole(None, &["sendmail", "--smtp", &smtp, "-t"]), &simple_message("a@x.test", "b@x.test", "s", "x"));
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(75), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(stderr.contains("pigeonhole serve") && stderr.contains(&smtp), "{stderr}");
}

/// What the issue asks for: `pigeonhole wait` and `sendmail` working from a shell
/// script, the way a CI step would use them (including a `sendmail` symlink).
#[test]
fn shell_script_waits_for_mail_sent_with_sendmail() {
    let server = Server::start();
    let tmp = tempfile::tempdir().unwrap();
    let script = r#"
set -euo pipefail
ph="$PH"
ln -s "$ph" "$TMP/sendmail"

# Start waiting first, then make the app send; the cursor makes the order safe.
after=$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)
"$ph" wait --query 'to:bob@example.test' --timeout 30s --after "$after" > "$TMP/msg.json" &
waiter=$!
printf 'From: app@example.test\nTo: bob@example.test\nSubject: Your code\n\nYour code is 424242\n' \
  | "$ph" sendmail -t -i
wait "$waiter"
id=$(grep -o '"ID":"[^"]*"' "$TMP/msg.json" | cut -d'"' -f4)
test -n "$id"
"$ph" get "$id" --raw | grep -q 'Your code is 424242'

# The next one for bob, sent through a symlink named sendmail, found with the cursor.
printf 'To: bob@example.test\nSubject: second\n\nagain\n' | "$TMP/sendmail" -t
"$ph" wait --query 'to:bob@example.test' --after "$id" --timeout 10s | grep -q '"Subject":"second"'

# Nothing for carol: exit status 1.
status=0
"$ph" wait --query 'to:carol@example.test' --timeout 500ms 2>/dev/null || status=$?
test "$status" -eq 1

"$ph" delete --all
test "$("$ph" list --format table | wc -l)" -eq 0
echo script ok
"#;
    let mut bash = without_settings(Command::new("bash"));
    point_at(&mut bash, &server);
    bash.env("PH", BIN).env("TMP", tmp.path()).args(["-c", script]);
    let out = run(bash, b"");
    assert!(
        out.status.success(),
        "script failed: {}\nstdout: {}\nstderr: {}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(text(&out.stdout).contains("script ok"));
    assert_eq!(server.total(), 0);
}

/// `pigeonhole check`: every exit code, the table, JSON, `--fail-on` and `--ignore`,
/// against messages delivered over SMTP.
#[test]
fn check_gates_on_the_report() {
    let server = Server::start();
    let mut smtp = Smtp::connect(server.smtp);
    smtp.ehlo("app.example.test");
    // Well formed, but sent without STARTTLS, unsigned and with no List-Unsubscribe:
    // notices only.
    let good = simple_message("app@example.test", "bob@example.test", "welcome", "Hello Bob");
    assert!(smtp.deliver("app@example.test", &["bob@example.test"], &good).is(250));

    let out = run(pigeonhole(Some(&server), &["check", "--fail-on", "warning"]), b"");
    let table = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{table}\n{}", text(&out.stderr));
    assert!(table.starts_with("latest: score ") && table.contains(" 0 error(s), 0 warning(s), "), "{table}");
    for id in ["smtp.no-tls", "deliverability.list-unsubscribe", "auth.dkim"] {
        assert!(table.contains(&format!("NOTICE  {id}")), "{id} is not a notice in:\n{table}");
    }
    assert!(table.contains("passed:"), "{table}");
    let out = run(pigeonhole(Some(&server), &["check", "--fail-on", "notice"]), b"");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert!(text(&out.stderr).contains("at or above --fail-on notice"), "{}", text(&out.stderr));
    let out = run(
        pigeonhole(Some(&server), &["check", "--fail-on", "notice", "--ignore", "smtp.*,auth.*,deliverability.*"]),
        b"",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert!(text(&out.stdout).starts_with("latest: score 100/100"), "{}", text(&out.stdout));

    // No Date, and a Bcc header: errors.
    let bad = b"From: app@example.test\r\nTo: bob@example.test\r\nBcc: boss@example.test\r\nSubject: oops\r\n\
                Message-ID: <oops@example.test>\r\n\r\nHi\r\n";
    assert!(smtp.deliver("app@example.test", &["bob@example.test", "boss@example.test"], bad).is(250));
    let id = server.summary_by_subject("oops")["ID"].as_str().unwrap().to_string();
    let out = run(pigeonhole(Some(&server), &["check", &id]), b"");
    let table = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{table}");
    for id in ["headers.date-missing", "headers.bcc-leaked", "smtp.bcc-visible"] {
        assert!(table.contains(id), "{id} missing from:\n{table}");
    }
    assert!(table.contains("where: header Bcc, line 3"), "{table}");
    // JSON: the API's shape, less what is ignored, recounted.
    let out = run(pigeonhole(Some(&server), &["check", &id, "--json", "--ignore", "headers.*,smtp.bcc-visible"]), b"");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report = json(&out.stdout);
    assert_eq!(report["Summary"]["Errors"], 0, "{report}");
    let checks = report["Checks"].as_array().unwrap();
    assert!(checks.iter().all(|c| !c["ID"].as_str().unwrap().starts_with("headers.")), "{report}");
    assert!(checks.iter().any(|c| c["ID"] == "mime.no-text-alternative"), "{report}");
    // `--query` picks the newest match.
    let out = run(pigeonhole(Some(&server), &["check", "latest", "--query", "subject:welcome"]), b"");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    // An ignore that matches nothing is said, not fatal.
    let out = run(pigeonhole(Some(&server), &["check", "--query", "subject:welcome", "--ignore", "headers.typo"]), b"");
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stderr).contains("--ignore headers.typo: no check with that ID"), "{}", text(&out.stderr));

    // Exit 2: an unknown message, a bad flag, no server.
    let out = run(pigeonhole(Some(&server), &["check", "nope"]), b"");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("Message not found"), "{}", text(&out.stderr));
    let out = run(pigeonhole(Some(&server), &["check", "--fail-on", "sometimes"]), b"");
    assert_eq!(out.status.code(), Some(2));
    let url = format!("http://127.0.0.1:{}", dead_port());
    let out = run(pigeonhole(None, &["check", "--url", &url]), b"");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("pigeonhole serve"), "{}", text(&out.stderr));
}

/// `serve --max-age` takes Mailpit's hours or days; anything else stops it before
/// it starts, with a usage error that names the flag and the format.
#[test]
fn serve_max_age_takes_hours_or_days() {
    for bad in ["7", "7w", "0d", "1.5d", "12 h", "h"] {
        let out = run(pigeonhole(None, &["serve", "--max-age", bad]), b"");
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{bad}: {stderr}");
        assert!(stderr.contains("--max-age") && stderr.contains("12h or 7d"), "{bad}: {stderr}");
    }
    for good in ["12h", "7d"] {
        let server = Server::start_with(&["--max-age", good]);
        assert_eq!(server.total(), 0, "{good}");
    }
}

/// `readyz`, a container's health check: exit 0 against a running server, 1 (never
/// 2, which Docker reserves) with one line naming the URL when nothing answers.
#[test]
fn readyz_exits_0_when_ready_and_1_otherwise() {
    let server = Server::start();
    let out = run(pigeonhole(Some(&server), &["readyz"]), b"");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(out.stdout.is_empty(), "{}", text(&out.stdout));

    let url = format!("http://127.0.0.1:{}", dead_port());
    for args in [vec!["readyz", "--url", &url], vec!["readyz", "--url", "ftp://127.0.0.1:1"]] {
        let out = run(pigeonhole(None, &args), b"");
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: one line: {stderr}");
        assert!(stderr.contains(args[2]), "{args:?}: {stderr}");
    }
}

/// The same newsletter as Python's email package writes it on each send: its own
/// Date, Message-ID and random multipart boundary; sent with smtplib.
const SEND_NEWSLETTER: &str = r#"
import smtplib, sys
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
port, price = int(sys.argv[1]), sys.argv[2]
m = EmailMessage()
m["From"] = "Shop <news@shop.example.test>"
m["To"] = "alice@example.test"
m["Subject"] = "Spring sale"
m["Date"] = formatdate()
m["Message-ID"] = make_msgid(domain="shop.example.test")
m.set_content(f"Everything at {price}.\nSee you soon\n")
m.add_alternative(f"<html><body><h1>Spring sale</h1><p class='price'>Everything at {price}.</p></body></html>", subtype="html")
with smtplib.SMTP("127.0.0.1", port) as s:
    s.send_message(m)
"#;

#[test]
fn diff_compares_sends_files_and_searches_with_exit_codes() {
    let python = require_tool("python3");
    let server = Server::start();
    let send = |price: &str| {
        let mut python = without_settings(Command::new(&python));
        python.args(["-c", SEND_NEWSLETTER, &server.smtp.port().to_string(), price]);
        let out = run(python, b"");
        assert!(out.status.success(), "python: {}", text(&out.stderr));
        server.list()["messages"][0]["ID"].as_str().unwrap().to_string()
    };
    let first = send("$10");
    let second = send("$10");
    assert_ne!(server.raw(&first), server.raw(&second), "two sends differ in their bytes");

    // Sent twice: equal by default, different with the volatile headers.
    let out = run(pigeonhole(Some(&server), &["diff", &first, &second]), b"");
    assert_eq!(out.status.code(), Some(0), "{}\n{}", text(&out.stdout), text(&out.stderr));
    assert!(text(&out.stdout).contains("\nequal (headers set aside: Date, Message-Id"), "{}", text(&out.stdout));
    let out = run(pigeonhole(Some(&server), &["diff", &first, "latest", "--include-volatile"]), b"");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert!(text(&out.stdout).contains("Message-Id (changed)"), "{}", text(&out.stdout));

    // The golden test: a saved .eml against the latest send.
    let tmp = tempfile::tempdir().unwrap();
    let golden = tmp.path().join("golden.eml");
    std::fs::write(&golden, server.raw(&first)).unwrap();
    let golden = golden.to_str().unwrap();
    let out = run(pigeonhole(Some(&server), &["diff", golden, "latest"]), b"");
    assert_eq!(out.status.code(), Some(0), "{}\n{}", text(&out.stdout), text(&out.stderr));

    let changed = send("$12");
    let out = run(pigeonhole(Some(&server), &["diff", golden, "latest"]), b"");
    let diff = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{diff}");
    assert!(diff.starts_with("--- golden.eml  \"Spring sale\""), "{diff}");
    for expected in [
        "== text\n",
        "-Everything at $10.\n",
        "+Everything at $12.\n",
        "== html",
        "changed in b: html > body > p:nth-of-type(1)",
        "== structure",
    ] {
        assert!(diff.contains(expected), "{expected:?} missing from:\n{diff}");
    }
    assert!(!diff.contains("\x1b["), "no colours when stdout is not a terminal");
    assert!(
        text(&out.stderr).contains("golden.eml and") && text(&out.stderr).contains("differ (text, html, structure)"),
        "{}",
        text(&out.stderr)
    );
    // JSON, the API's report; the file as b.
    let out = run(pigeonhole(Some(&server), &["diff", &changed, golden, "--json"]), b"");
    assert_eq!(out.status.code(), Some(1));
    let report = json(&out.stdout);
    assert_eq!((report["Equal"].as_bool(), report["B"]["Label"].as_str()), (Some(false), Some("golden.eml")));
    // A search query's newest match (the $12 send).
    let out = run(pigeonhole(Some(&server), &["diff", "subject:spring", &changed]), b"");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    // Two files need no server at all.
    let changed_file = tmp.path().join("changed.eml");
    std::fs::write(&changed_file, server.raw(&changed)).unwrap();
    let dead = format!("http://127.0.0.1:{}", dead_port());
    let out = run(pigeonhole(None, &["diff", golden, changed_file.to_str().unwrap(), "--url", &dead]), b"");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let out = run(pigeonhole(None, &["diff", golden, golden, "--url", &dead]), b"");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = run(
        pigeonhole(None, &["diff", golden, changed_file.to_str().unwrap(), "--ignore-header", "x", "--url", &dead]),
        b"",
    );
    assert_eq!(out.status.code(), Some(1));

    // Exit 2, each with what to do.
    let cases: [(&[&str], &str); 4] = [
        (&["diff", &first, "AAAAAAAAAAAAAAAAAAAAAA"], "Message not found"),
        (&["diff", "missing/golden.eml", "latest"], "cannot read missing/golden.eml"),
        (&["diff", "subject:nothing-has-this", "latest"], "no message matches the search"),
        (&["diff", golden, "latest", "--url", &dead], "is `pigeonhole serve` running there?"),
    ];
    for (args, says) in cases {
        let out = run(pigeonhole(Some(&server), args), b"");
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out.stderr));
        assert!(text(&out.stderr).contains(says), "{args:?}: {}", text(&out.stderr));
    }
}
