//! Real IMAP clients against the real binary (`serve --imap`): Python's imaplib
//! (every command, the error paths, IDLE, STARTTLS, a users file and its
//! throttle, UIDs across a restart) and isync's mbsync (every inbox synced to a
//! Maildir, each file the stored message byte for byte, flags and deletions
//! synced back). Each checks what the REST API shows.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use base64::Engine as _;
use common::*;
use serde_json::Value;

const IMAP: &[&str] = &["--imap", "127.0.0.1:0"];

fn script(name: &str) -> String {
    format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn imap_port(server: &Server) -> String {
    server.listener("imap").port().to_string()
}

/// Sends `message` over SMTP, as SMTP AUTH user `inbox` when given (its inbox).
fn deliver(server: &Server, inbox: Option<&str>, message: &[u8]) -> String {
    let mut smtp = Smtp::connect(server.smtp);
    smtp.ehlo("client.example.test");
    if let Some(user) = inbox {
        let plain = base64::engine::general_purpose::STANDARD.encode(format!("\0{user}\0secret"));
        smtp.expect(&format!("AUTH PLAIN {plain}"), 235);
    }
    let reply = smtp.deliver("sender@example.test", &["rcpt@example.test"], message);
    assert!(reply.is(250), "{reply:?}");
    smtp.quit();
    queued_id(&reply)
}

#[test]
fn imaplib_every_command_and_error_path() {
    let python = require_tool("python3");
    let server = Server::start_with(IMAP);
    let out = run_ok(
        Command::new(python).arg(script("imaplib_session.py")).args([
            imap_port(&server),
            server.smtp.port().to_string(),
            server.http.port().to_string(),
        ]),
        "python3 imaplib_session.py",
    );
    let result: Value = serde_json::from_str(out.trim()).expect("the script prints JSON");
    // What the script did, as the API sees it: the moved message is alice's, and
    // the one marked \Deleted and expunged is gone.
    let alice = server.get_json("/api/v1/search?query=inbox:alice");
    let moved = result["moved"].as_str().unwrap();
    assert!(alice["messages"].as_array().unwrap().iter().any(|m| m["ID"] == moved), "{alice:#}");
    let first = server.get_json("/api/v1/search?query=subject:%22first%20message%22");
    assert_eq!(first["messages_count"], 0, "{first:#}");
    let latency = result["idle_latency_ms"].as_f64().unwrap();
    assert!(latency < 1000.0, "IDLE announced the new message {latency} ms after its 250");
}

#[test]
fn a_users_file_refuses_wrong_passwords_and_throttles_guessing() {
    let python = require_tool("python3");
    let tmp = tempfile::tempdir().unwrap();
    let users = tmp.path().join("users");
    let hash = bcrypt::hash("s3cret", 4).unwrap();
    std::fs::write(&users, format!("reader:{hash}\n")).unwrap();
    let server = Server::start_with(&["--imap", "127.0.0.1:0", "--imap-auth-file", users.to_str().unwrap()]);
    let out = run_ok(
        Command::new(python).arg(script("imaplib_auth.py")).args([&imap_port(&server), "reader", "s3cret", "5"]),
        "python3 imaplib_auth.py",
    );
    let result: Value = serde_json::from_str(out.trim()).unwrap();
    let answers: Vec<&str> = result["answers"].as_array().unwrap().iter().map(|a| a.as_str().unwrap()).collect();
    assert_eq!(answers[0], "OK", "{answers:?}");
    for refused in &answers[1..6] {
        assert!(refused.contains("AUTHENTICATIONFAILED") && refused.contains("--imap-auth-file"), "{answers:?}");
    }
    assert!(answers[6].contains("UNAVAILABLE") && answers[6].contains("try again"), "{answers:?}");
}

#[test]
fn imap_off_loopback_needs_a_users_file() {
    let mut cmd = serve_command();
    let tmp = tempfile::tempdir().unwrap();
    cmd.args(port0_args(tmp.path())).args(["--imap", "0.0.0.0:0"]);
    let exited = run_to_exit(cmd, std::time::Duration::from_secs(30));
    assert!(!exited.status.success());
    assert!(exited.stderr.contains("--imap-auth-file"), "{}", exited.stderr);
}

#[test]
fn uids_and_uidvalidity_survive_a_restart() {
    let python = require_tool("python3");
    let data = tempfile::tempdir().unwrap();
    let uids = |server: &Server| -> Value {
        let out = run_ok(
            Command::new(&python).arg(script("imaplib_uids.py")).arg(imap_port(server)),
            "python3 imaplib_uids.py",
        );
        serde_json::from_str(out.trim()).unwrap()
    };
    let start = || {
        let mut cmd = serve_command();
        cmd.args(port0_args(data.path())).args(IMAP);
        Server::launch(cmd, data.path().to_path_buf(), None)
    };
    let server = start();
    for n in 0..3 {
        deliver(&server, None, &simple_message("a@example.test", "b@example.test", &format!("m{n}"), "x"));
    }
    deliver(&server, Some("alice"), &simple_message("a@example.test", "b@example.test", "alice's", "x"));
    let before = uids(&server);
    assert_eq!(before["INBOX"][1].as_array().unwrap().len(), 3, "{before}");
    assert_eq!(before["alice"][1].as_array().unwrap().len(), 1, "{before}");
    server.terminate();

    let server = start();
    assert_eq!(uids(&server), before);
    // A new message's UID is above every one before.
    deliver(&server, None, &simple_message("a@example.test", "b@example.test", "later", "x"));
    let after = uids(&server);
    let inbox: Vec<u64> = after["INBOX"][1].as_array().unwrap().iter().map(|u| u.as_u64().unwrap()).collect();
    let highest_before = before["alice"][1][0].as_u64().unwrap().max(before["INBOX"][1][2].as_u64().unwrap());
    assert!(inbox[3] > highest_before, "{after} after {before}");
}

/// An mbsync configuration syncing every mailbox of `server` into `maildir`.
fn mbsync_config(server: &Server, maildir: &Path) -> String {
    format!(
        "IMAPAccount pigeonhole\nHost 127.0.0.1\nPort {port}\nUser anyone\nPass anything\nSSLType None\nAuthMechs LOGIN\n\n\
         IMAPStore remote\nAccount pigeonhole\n\n\
         MaildirStore local\nPath {dir}/\nInbox {dir}/INBOX\nSubFolders Verbatim\n\n\
         Channel sync\nFar :remote:\nNear :local:\nPatterns *\nCreate Near\nSync All\nExpunge Both\nSyncState *\n",
        port = imap_port(server),
        dir = maildir.display(),
    )
}

/// The Maildir's messages by folder: file name and bytes.
fn maildir_files(maildir: &Path) -> BTreeMap<String, Vec<(String, Vec<u8>)>> {
    let mut found = BTreeMap::new();
    for folder in std::fs::read_dir(maildir).unwrap() {
        let folder = folder.unwrap().path();
        let mut files = Vec::new();
        for sub in ["new", "cur"] {
            let Ok(entries) = std::fs::read_dir(folder.join(sub)) else { continue };
            for entry in entries {
                let path = entry.unwrap().path();
                let name = format!("{sub}/{}", path.file_name().unwrap().to_string_lossy());
                files.push((name, std::fs::read(&path).unwrap()));
            }
        }
        found.insert(folder.file_name().unwrap().to_string_lossy().into_owned(), files);
    }
    found
}

/// A Maildir file as mbsync received it over IMAP: mbsync stores lines with LF
/// (Maildir's convention) and adds its `X-TUID:` header line to every message it
/// copies (to find it again); both undone here, so nothing else may differ.
fn as_fetched(file: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(file);
    let (header, body) = text.split_once("\n\n").expect("a header and a body");
    let header: Vec<&str> = header.split('\n').filter(|line| !line.starts_with("X-TUID: ")).collect();
    format!("{}\n\n{body}", header.join("\n")).replace('\n', "\r\n").into_bytes()
}

#[test]
fn mbsync_syncs_every_inbox_byte_for_byte_and_flags_back() {
    let mbsync = require_tool("mbsync");
    let server = Server::start_with(IMAP);
    let mut sent = BTreeMap::new();
    for (inbox, subject) in [(None, "one"), (None, "two"), (None, "three"), (Some("alice"), "alice's")] {
        let message = simple_message("a@example.test", "b@example.test", subject, &format!("body of {subject}\n.dot"));
        let id = deliver(&server, inbox, &message);
        sent.insert(id, (inbox.unwrap_or("INBOX"), message));
    }
    let tmp = tempfile::tempdir().unwrap();
    let maildir = tmp.path().join("mail");
    std::fs::create_dir(&maildir).unwrap();
    let config = tmp.path().join("mbsyncrc");
    std::fs::write(&config, mbsync_config(&server, &maildir)).unwrap();
    let sync = || run_ok(Command::new(&mbsync).arg("-c").arg(&config).arg("sync"), "mbsync");
    sync();

    // Every message, in its inbox's folder, byte for byte what the API serves,
    // once mbsync's own two changes are undone (see `as_fetched`).
    let files = maildir_files(&maildir);
    for (id, (folder, message)) in &sent {
        let raw = server.raw(id);
        assert_same_bytes(message, &raw, "the stored message");
        let in_folder = &files[*folder];
        assert!(
            in_folder.iter().any(|(_, bytes)| as_fetched(bytes) == raw),
            "{id} not byte-identical in {folder}: {:?}",
            in_folder.iter().map(|(name, bytes)| (name, String::from_utf8_lossy(bytes))).collect::<Vec<_>>()
        );
    }
    assert_eq!(files["INBOX"].len(), 3);
    assert_eq!(files["alice"].len(), 1);

    // Flags back: one read, one read and flagged, one deleted.
    let by_body = |needle: &str| {
        files["INBOX"].iter().find(|(_, bytes)| String::from_utf8_lossy(bytes).contains(needle)).unwrap().0.clone()
    };
    let inbox = maildir.join("INBOX");
    let mark = |name: &str, flags: &str| {
        let file = name.rsplit('/').next().unwrap();
        let base = file.split(":2,").next().unwrap();
        std::fs::rename(inbox.join(name), inbox.join("cur").join(format!("{base}:2,{flags}"))).unwrap();
    };
    mark(&by_body("body of one"), "S");
    mark(&by_body("body of two"), "FS");
    std::fs::remove_file(inbox.join(by_body("body of three"))).unwrap();
    sync();

    let summary =
        |subject: &str| server.get_json(&format!("/api/v1/search?query=subject:{subject}"))["messages"].clone();
    let one = summary("one");
    assert_eq!(one[0]["Read"], true, "{one:#}");
    let two = summary("two");
    assert_eq!(two[0]["Read"], true, "{two:#}");
    assert_eq!(two[0]["Tags"], serde_json::json!(["flagged"]), "{two:#}");
    assert_eq!(summary("three").as_array().unwrap().len(), 0, "the message deleted in the Maildir is gone");
    assert_eq!(summary("alice%27s")[0]["Read"], false);
}

/// A neomutt in its own tmux server, driven by keys; its screen read back.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn start(home: &Path, muttrc: &Path) -> Tmux {
        let tmux = require_tool("tmux");
        require_tool("neomutt");
        let socket = format!("pigeonhole-imap-{}", std::process::id());
        run_ok(
            Command::new(tmux)
                .args(["-L", &socket, "new-session", "-d", "-x", "160", "-y", "40"])
                .arg(format!("neomutt -n -F {}", muttrc.display()))
                .env("HOME", home)
                .env("TERM", "xterm"),
            "tmux new-session neomutt",
        );
        Tmux { socket }
    }

    fn keys(&self, keys: &[&str]) {
        run_ok(Command::new("tmux").args(["-L", &self.socket, "send-keys"]).args(keys), "tmux send-keys");
    }

    fn screen(&self) -> String {
        run_ok(Command::new("tmux").args(["-L", &self.socket, "capture-pane", "-p"]), "tmux capture-pane")
    }

    /// Wait until the screen shows `text`; the screen then.
    fn wait_for(&self, text: &str) -> String {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let screen = self.screen();
            if screen.contains(text) {
                return screen;
            }
            assert!(std::time::Instant::now() < deadline, "neomutt never showed {text:?}; its screen:\n{screen}");
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux").args(["-L", &self.socket, "kill-server"]).status();
    }
}

#[test]
fn neomutt_opens_the_account_reads_and_deletes() {
    let server = Server::start_with(IMAP);
    for n in 0..3 {
        let message = format!(
            "From: a@example.test\r\nTo: b@example.test\r\nSubject: neomutt subject {n}\r\n\
             Date: Tue, 1 Jul 2025 10:2{n}:00 +0000\r\n\r\nneomutt body number {n}\r\n"
        );
        deliver(&server, None, message.as_bytes());
    }
    let home = tempfile::tempdir().unwrap();
    let muttrc = home.path().join("muttrc");
    std::fs::write(
        &muttrc,
        format!(
            "set folder=\"imap://anyone@127.0.0.1:{}/\"\nset spoolfile=\"+INBOX\"\nset imap_pass=\"anything\"\n\
             set ssl_starttls=no\nset ssl_force_tls=no\nset header_cache=\"\"\nset message_cachedir=\"\"\n\
             set sort=date\nset delete=yes\nset mail_check=1\nset timeout=1\nunset wait_key\nunset mark_old\n\
             set move=no\n",
            imap_port(&server)
        ),
    )
    .unwrap();
    let mutt = Tmux::start(home.path(), &muttrc);
    mutt.wait_for("neomutt subject 2");

    // Read the first message (its body on screen), delete the second, and sync
    // (neomutt sends its flag changes then): the first is read in the API, the
    // second gone from the store.
    mutt.keys(&["Enter"]);
    mutt.wait_for("neomutt body number 0");
    mutt.keys(&["q"]);
    mutt.wait_for("Msgs:3");
    mutt.keys(&["j", "d", "$"]);
    mutt.wait_for("Msgs:2");
    let read = server.get_json("/api/v1/search?query=subject:%22neomutt%20subject%200%22");
    assert_eq!(read["messages"][0]["Read"], true, "{read:#}");
    let deleted = server.get_json("/api/v1/search?query=subject:%22neomutt%20subject%201%22");
    assert_eq!(deleted["messages_count"], 0, "{deleted:#}");
    assert_eq!(server.total(), 2);
}

#[test]
fn before_login_a_command_cannot_grow_past_a_line() {
    use std::io::{Read, Write};
    let server = Server::start_with(IMAP);
    let mut socket = std::net::TcpStream::connect(server.listener("imap")).unwrap();
    socket.set_read_timeout(Some(std::time::Duration::from_secs(30))).unwrap();
    // A literal the framing would take (under the literal limit), sent unasked.
    let mut command = b"a LOGIN {100000+}\r\n".to_vec();
    command.extend(vec![b'x'; 100_000]);
    // The server may close while we still write: that is the point.
    let _ = socket.write_all(&command);
    let mut answer = Vec::new();
    let _ = socket.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.contains("* BYE Log in before sending anything large"), "{answer}");
}
