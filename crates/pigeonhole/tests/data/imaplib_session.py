"""Python's imaplib against Pigeonhole's IMAP server: every command the server
offers, and its error paths, checked against what the REST API shows.

Usage: imaplib_session.py IMAP_PORT SMTP_PORT HTTP_PORT
Prints one JSON line: what the Rust test checks besides (IDs, the IDLE latency).
Run by crates/pigeonhole/tests/imap.rs against the real binary, started with
`--imap 127.0.0.1:0` and no users file (any login is accepted on loopback).
"""

import imaplib
import json
import re
import smtplib
import socket
import ssl
import sys
import time
import urllib.request

imap_port, smtp_port, http_port = (int(a) for a in sys.argv[1:4])
API = f"http://127.0.0.1:{http_port}/api/v1"


def api(path):
    with urllib.request.urlopen(API + path) as response:
        return json.load(response)


def raw(message_id):
    with urllib.request.urlopen(f"{API}/message/{message_id}/raw") as response:
        return response.read()


def send(subject, body="hello", user=None, extra=""):
    message = (
        f"From: Sender <sender@example.test>\r\nTo: Rcpt <rcpt@example.test>\r\n"
        f"Subject: {subject}\r\nMessage-ID: <{subject.replace(' ', '-')}@example.test>\r\n{extra}\r\n{body}\r\n"
    )
    with smtplib.SMTP("127.0.0.1", smtp_port) as smtp:
        if user:
            smtp.login(user, "any password")
        smtp.sendmail("sender@example.test", ["rcpt@example.test"], message)
    return message.encode()


def by_subject(subject):
    found = api(f"/search?query=subject:%22{urllib.parse.quote(subject)}%22")["messages"]
    assert len(found) == 1, (subject, found)
    return found[0]


def ok(result, what):
    typ, data = result
    assert typ == "OK", (what, typ, data)
    return data


def expect_error(kind, call, what):
    """`call` raises `kind`, or answers NO or BAD (imaplib raises for some commands only)."""
    try:
        result = call()
    except kind:
        return
    if isinstance(result, tuple) and result[0] in ("NO", "BAD"):
        return
    raise AssertionError(f"{what}: expected {kind.__name__}, got {result!r}")


import urllib.parse  # noqa: E402

first = send("first message", "first body\r\nsecond line")
second = send("second message", "needle in the body")
send("alice's message", user="alice")
multipart = send(
    "multipart message",
    "--b1\r\nContent-Type: text/plain\r\n\r\nplain part\r\n--b1\r\nContent-Type: text/html\r\n\r\n<p>html part</p>\r\n--b1--",
    extra="MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=b1\r\n",
)

m = imaplib.IMAP4("127.0.0.1", imap_port)
caps = m.capabilities
for cap in ("IMAP4REV1", "IDLE", "NAMESPACE", "ID", "ENABLE", "UIDPLUS", "MOVE", "LITERAL+", "STARTTLS"):
    assert cap in caps, (cap, caps)

# Before login: selecting is refused, NOOP and ID work.
expect_error(m.error, lambda: m.select("INBOX"), "SELECT before LOGIN")
ok(m.noop(), "NOOP")
ok(m.xatom("ID", "NIL"), "ID")
assert any(b"Pigeonhole" in line for line in m.untagged_responses.pop("ID", [])), "ID names the server"

ok(m.login("anyone", "anything"), "LOGIN")
ok(m.xatom("ENABLE", "CONDSTORE"), "ENABLE")
namespace = ok(m.namespace(), "NAMESPACE")
assert namespace == [b'(("" "/")) NIL NIL'], namespace

# LIST: every inbox, INBOX first.
listed = ok(m.list(), "LIST")
names = [line.decode().rsplit(" ", 1)[1].strip('"') for line in listed]
assert names[0] == "INBOX" and "alice" in names, names
assert ok(m.list('""', "al%"), "LIST al%") == [b'() "/" alice']
subscribed = [line.decode().rsplit(" ", 1)[1].strip('"') for line in ok(m.lsub(), "LSUB")]
assert subscribed == names, (subscribed, names)
ok(m.subscribe("alice"), "SUBSCRIBE")

status = ok(m.status("INBOX", "(MESSAGES UNSEEN UIDNEXT UIDVALIDITY)"), "STATUS")[0].decode()
assert "MESSAGES 3" in status and "UNSEEN 3" in status, status

# EXAMINE is read-only; SELECT is read-write.
assert ok(m.select("INBOX", readonly=True), "EXAMINE") == [b"3"]
expect_error(m.error, lambda: m.store("1", "+FLAGS", "\\Seen"), "STORE in EXAMINE")
assert ok(m.select("INBOX"), "SELECT") == [b"3"]
uidvalidity = int(m.untagged_responses["UIDVALIDITY"][0])

# FETCH: sizes, dates, envelope, structure, the exact stored bytes, partials.
ids = {subject: by_subject(subject)["ID"] for subject in ("first message", "second message", "multipart message")}
data = ok(m.fetch("1:*", "(UID FLAGS RFC822.SIZE INTERNALDATE ENVELOPE)"), "FETCH")
assert len(data) == 3, data
assert b'ENVELOPE (NIL "first message" (("Sender" NIL "sender" "example.test"))' in data[0], data[0]
assert f"RFC822.SIZE {len(first)}".encode() in data[0], data[0]
assert re.search(rb'INTERNALDATE "\d\d-[A-Z][a-z]{2}-\d{4} \d\d:\d\d:\d\d \+0000"', data[0]), data[0]
uids = [int(re.search(rb"UID (\d+)", line).group(1)) for line in data]
assert uids == sorted(uids), uids

body = ok(m.uid("FETCH", str(uids[0]), "(BODY.PEEK[])"), "UID FETCH BODY.PEEK[]")
assert body[0][1] == raw(ids["first message"]) == first, body
assert by_subject("first message")["Read"] is False, "PEEK leaves the message unread"

partial = ok(m.fetch("1", "(BODY.PEEK[]<6.6>)"), "partial")
assert partial[0][0].endswith(b"BODY[]<6> {6}") and partial[0][1] == first[6:12], partial
header = ok(m.fetch("2", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])"), "HEADER.FIELDS")
assert header[0][1] == b"Subject: second message\r\n\r\n", header
text = ok(m.fetch("2", "(BODY.PEEK[TEXT])"), "TEXT")
assert text[0][1] == b"needle in the body\r\n", text
structure = ok(m.fetch("3", "(BODYSTRUCTURE)"), "BODYSTRUCTURE")[0]
assert b'("TEXT" "PLAIN"' in structure and b'("TEXT" "HTML"' in structure and b'"ALTERNATIVE"' in structure, structure
part = ok(m.fetch("3", "(BODY.PEEK[2])"), "BODY[2]")
assert part[0][1].startswith(b"<p>html part</p>"), part
ok(m.fetch("3", "FAST"), "FAST")
ok(m.fetch("3", "FULL"), "FULL")
assert ok(m.uid("FETCH", "999999", "(FLAGS)"), "UID FETCH of no message") == [None]

# A body FETCH without PEEK marks \Seen, in the API too.
seen = ok(m.fetch("1", "(BODY[])"), "FETCH BODY[]")
assert b"\\Seen" in seen[0][0] or b"\\Seen" in seen[1], seen
assert by_subject("first message")["Read"] is True

# STORE: \Seen is read, \Flagged is the tag "flagged", both in the API.
ok(m.store("1", "-FLAGS", "(\\Seen)"), "STORE -Seen")
assert by_subject("first message")["Read"] is False
flagged = ok(m.store("2", "+FLAGS", "(\\Flagged \\Seen)"), "STORE +Flagged")
assert b"\\Flagged" in flagged[0] and b"\\Seen" in flagged[0], flagged
second_summary = by_subject("second message")
assert "flagged" in second_summary["Tags"] and second_summary["Read"] is True, second_summary
ok(m.uid("STORE", str(uids[1]), "-FLAGS.SILENT", "(\\Flagged)"), "UID STORE -FLAGS.SILENT")
assert "flagged" not in by_subject("second message")["Tags"]

# SEARCH, through the store's search for text.
assert ok(m.search(None, "ALL"), "SEARCH ALL") == [b"1 2 3"]
assert ok(m.search(None, "SUBJECT", '"second message"'), "SUBJECT") == [b"2"]
assert ok(m.search(None, "BODY", "needle"), "BODY") == [b"2"]
assert ok(m.search(None, "FROM", "sender@example.test"), "FROM") == [b"1 2 3"]
assert ok(m.search(None, "SEEN"), "SEEN") == [b"2"]
assert ok(m.search(None, "NOT", "SEEN"), "NOT SEEN") == [b"1 3"]
assert ok(m.search(None, "OR", "SUBJECT", "first", "SUBJECT", "multipart"), "OR") == [b"1 3"]
assert ok(m.search(None, "LARGER", str(len(first) - 1), "SMALLER", str(len(first) + 1)), "sizes") == [b"1"]
assert ok(m.search(None, "HEADER", "Message-ID", "second-message@"), "HEADER Message-ID") == [b"2"]
assert ok(m.search(None, "SINCE", "1-Jan-2020"), "SINCE") == [b"1 2 3"]
assert ok(m.search(None, "2:*"), "sequence set") == [b"2 3"]
assert ok(m.uid("SEARCH", "UID", f"{uids[1]}:*"), "UID SEARCH") == [f"{uids[1]} {uids[2]}".encode()]
expect_error(m.error, lambda: m.search("KOI8-R", "ALL"), "unknown charset")

# APPEND to INBOX: stored, \Seen kept, APPENDUID answered.
appended = b"From: a@example.test\r\nSubject: appended\r\n\r\nappended body\r\n"
typ, data = m.append("INBOX", "(\\Seen)", None, appended)
assert typ == "OK" and b"APPENDUID" in data[0], (typ, data)
appended_uid = int(data[0].split()[2].rstrip(b"]"))
summary = by_subject("appended")
assert summary["Read"] is True and raw(summary["ID"]) == appended, summary
ok(m.noop(), "NOOP after APPEND")
assert ok(m.uid("SEARCH", "UID", str(appended_uid)), "appended UID") == [str(appended_uid).encode()]

# COPY to alice: a new message there; MOVE to alice: it leaves INBOX.
typ, data = m.copy("3", "alice")
assert typ == "OK" and b"COPYUID" in data[0], (typ, data)
typ, data = m._simple_command("MOVE", "2", "alice")
assert typ == "OK", (typ, data)
assert any(b"COPYUID" in line for line in m.untagged_responses.pop("OK", [])), "MOVE answers COPYUID"
expunged = m.untagged_responses.pop("EXPUNGE", [])
assert expunged == [b"2"], expunged
moved = by_subject("second message")
alice_ids = [s["ID"] for s in api("/search?query=inbox:alice")["messages"]]
assert moved["ID"] in alice_ids, (moved, alice_ids)
expect_error(m.error, lambda: m.copy("1", "nonexistent"), "COPY to no mailbox")

# \Deleted + EXPUNGE deletes in the store.
ok(m.store("1", "+FLAGS", "(\\Deleted)"), "STORE +Deleted")
assert ok(m.expunge(), "EXPUNGE") == [b"1"]
expect_error(urllib.error.HTTPError, lambda: raw(ids["first message"]), "expunged message's raw")

# UID EXPUNGE only takes the UIDs named.
ok(m.store("1:*", "+FLAGS", "(\\Deleted)"), "STORE 1:* +Deleted")
typ, data = m.uid("EXPUNGE", str(appended_uid))
assert typ == "OK", (typ, data)
ok(m.store("1:*", "-FLAGS", "(\\Deleted)"), "STORE 1:* -Deleted")
assert ok(m.search(None, "ALL"), "after UID EXPUNGE") == [b"1"]

# Mailbox errors.
expect_error(m.error, lambda: m.select("nonexistent"), "SELECT of no mailbox")
ok(m.create("new"), "CREATE of an empty inbox")
assert ok(m.list('""', "new"), "LIST new") == [b'() "/" new']
expect_error(m.error, lambda: m.create("new"), "CREATE of one that exists")
expect_error(m.error, lambda: m.delete("alice"), "DELETE")
ok(m.select("alice"), "SELECT alice")
assert ok(m.search(None, "ALL"), "alice's messages") == [b"1 2 3"]
ok(m.unselect(), "UNSELECT")
expect_error(m.error, lambda: m.fetch("1", "(FLAGS)"), "FETCH without a mailbox")

# IDLE: a message sent over SMTP is announced within a second of its 250.
ok(m.select("INBOX"), "SELECT for IDLE")
tag = m._new_tag()
m.send(tag + b" IDLE\r\n")
assert m.readline().startswith(b"+"), "IDLE continuation"
sent_at = None


def sent():
    global sent_at
    with smtplib.SMTP("127.0.0.1", smtp_port) as smtp:
        smtp.sendmail("sender@example.test", ["rcpt@example.test"], "Subject: while idling\r\n\r\nhi\r\n")
        # The 250 is in: the clock starts.
        sent_at = time.monotonic()


import threading  # noqa: E402

sender = threading.Thread(target=sent)
sender.start()
m.sock.settimeout(5)
line = m.readline()
announced_at = time.monotonic()
sender.join()
assert re.match(rb"\* \d+ EXISTS", line), line
idle_latency_ms = max(0.0, (announced_at - sent_at) * 1000)
m.send(b"DONE\r\n")
while True:
    line = m.readline()
    if line.startswith(tag):
        assert b"OK" in line, line
        break
m.sock.settimeout(None)

# Protocol errors: the session goes on.
tag = m._new_tag()
m.send(tag + b" APPEND INBOX {4294967295}\r\n")
line = m.readline()
assert line.startswith(tag + b" BAD"), line
m.send(b"garbage\r\n")
line = m.readline()
assert b"BAD" in line, line
ok(m.noop(), "NOOP after errors")
ok(m.logout() and ("OK", []), "LOGOUT")

# STARTTLS, then a login over TLS.
t = imaplib.IMAP4("127.0.0.1", imap_port)
context = ssl.create_default_context()
context.check_hostname = False
context.verify_mode = ssl.CERT_NONE
ok(t.starttls(context), "STARTTLS")
assert "STARTTLS" not in t.capabilities, t.capabilities
ok(t.login("anyone", "anything"), "LOGIN over TLS")
ok(t.logout() and ("OK", []), "LOGOUT")

# AUTHENTICATE PLAIN (SASL-IR).
a = imaplib.IMAP4("127.0.0.1", imap_port)
ok(a.authenticate("PLAIN", lambda _: b"\0someone\0secret"), "AUTHENTICATE PLAIN")
ok(a.select("INBOX"), "SELECT after AUTHENTICATE")
a.logout()

print(json.dumps({"uidvalidity": uidvalidity, "moved": moved["ID"], "idle_latency_ms": idle_latency_ms}))
