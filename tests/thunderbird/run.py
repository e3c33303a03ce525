#!/usr/bin/env python3
"""Real Thunderbird reads captured mail over Pigeonhole's IMAP: an end-to-end check.

Debian's Thunderbird runs headless (`--headless`, no display needed) with a fresh
profile and Marionette on a loopback port; the Marionette client (PyPI
`marionette-driver`, in a venv this script makes under target/thunderbird-venv)
drives it in chrome context through Thunderbird's own mail APIs, as its UI would:

1. an IMAP account on `pigeonhole serve --imap` logs in and lists the mailboxes
   (INBOX, and `alice`, the inbox of mail sent with SMTP AUTH user alice);
2. the subjects in Thunderbird's folder databases equal the three messages sent by
   SMTP before it started (one with an RFC 2047 UTF-8 subject), and one message as
   Thunderbird fetched it equals Pigeonhole's raw message;
3. a message sent while it runs reaches the INBOX database by IDLE alone (no
   folder update asked for) within IDLE_WITHIN_S;
4. marking a message read in Thunderbird shows as `Read` in GET /api/v1/messages,
   and deleting one there (Thunderbird's default: moved to a Trash mailbox it
   creates) moves it to Pigeonhole's Trash inbox.

Each check prints [ok] or [FAIL]; the run ends with `N passed, N failed`, and with
the IMAP commands Thunderbird sent (from its own protocol log, MOZ_LOG=IMAP:5,
left in artifacts/thunderbird-imap.log beside thunderbird.out, its output, and
thunderbird-server.log, the server's). Exit 0 when every check passed, 1 when
one failed, 2 when Thunderbird is not installed (scripts/setup.sh installs it).

    python3 tests/thunderbird/run.py

The binary is target/debug/pigeonhole, or PIGEONHOLE_BIN.
"""

import base64
import collections
import importlib.util
import os
import re
import shutil
import smtplib
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
VENV = os.path.join(ROOT, "target", "thunderbird-venv")
MARIONETTE_DRIVER = "marionette-driver==3.7.1"
ARTIFACTS = os.path.join(ROOT, "artifacts")
IMAP_LOG_ARTIFACT = os.path.join(ARTIFACTS, "thunderbird-imap.log")
# How long Thunderbird may take to start idling once a folder update is done (it
# waits about 2 s), and how long a message sent while it idles may take to reach its
# database.
IDLE_START_WITHIN_S = 15
IDLE_WITHIN_S = 5
# How long Pigeonhole may take to show a change Thunderbird made.
API_WITHIN_S = 10


def ensure_venv():
    """Run this script again with the venv's Python, making the venv first if need be."""
    venv_python = os.path.join(VENV, "bin", "python")
    if os.path.realpath(sys.prefix) == os.path.realpath(VENV):
        return
    probe = [venv_python, "-c", "import marionette_driver"]
    if not os.path.exists(venv_python) or subprocess.run(probe, capture_output=True).returncode != 0:
        subprocess.run([sys.executable, "-m", "venv", VENV], check=True)
        subprocess.run([os.path.join(VENV, "bin", "pip"), "install", "--quiet", "--disable-pip-version-check",
                        MARIONETTE_DRIVER], check=True)
    os.execv(venv_python, [venv_python, os.path.abspath(__file__), *sys.argv[1:]])


# The resilience suite's server process and helpers serve here as they are.
_spec = importlib.util.spec_from_file_location("resilience", os.path.join(ROOT, "tests", "resilience", "run.py"))
resilience = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(resilience)
HOST = resilience.HOST

# Thunderbird's profile: Marionette's port; no first-run dialogs, default-client
# check, start page, telemetry or updates.
USER_JS = """\
user_pref("marionette.port", {marionette_port});
user_pref("mail.shell.checkDefaultClient", false);
user_pref("mailnews.start_page.enabled", false);
user_pref("mail.provider.suppress_dialog_on_startup", true);
user_pref("mail.rights.override", true);
user_pref("datareporting.policy.dataSubmissionEnabled", false);
user_pref("app.update.disabledForTesting", true);
"""

# Put before every script: Thunderbird's modules, the test account's server, and a
# promise for an IMAP URL (Thunderbird reports its end to an nsIUrlListener).
PRELUDE = """
const { MailServices } = ChromeUtils.importESModule("resource:///modules/MailServices.sys.mjs");
const { NetUtil } = ChromeUtils.importESModule("resource://gre/modules/NetUtil.sys.mjs");
const server = () => MailServices.accounts.accounts.find(a => a.incomingServer.type == "imap")?.incomingServer;
const folder = name =>
  server().rootFolder.descendants.find(f => f.name == name).QueryInterface(Ci.nsIMsgImapMailFolder);
const headers = name => [...folder(name).msgDatabase.enumerateMessages()];
function runUrl(start) {
  return new Promise((resolve, reject) => {
    start({
      QueryInterface: ChromeUtils.generateQI(["nsIUrlListener"]),
      OnStartRunningUrl() {},
      OnStopRunningUrl(url, status) {
        status == 0 ? resolve() : reject(new Error(`${url.spec}: ${Components.Exception("", status).name}`));
      },
    });
  });
}
"""


class Thunderbird:
    """Thunderbird headless on a fresh profile, driven through Marionette."""

    def __init__(self, executable, workdir):
        self.profile = os.path.join(workdir, "profile")
        # Named so: Gecko adds ".moz_log" to a name without it.
        self.imap_log = os.path.join(workdir, "imap.moz_log")
        os.makedirs(self.profile)
        port = resilience.free_port()
        with open(os.path.join(self.profile, "user.js"), "w") as f:
            f.write(USER_JS.format(marionette_port=port))
        # sync: every line is in the file when it happens (it is read while Thunderbird runs).
        env = dict(os.environ, MOZ_LOG="sync,timestamp,IMAP:5", MOZ_LOG_FILE=self.imap_log)
        self.output = open(os.path.join(workdir, "thunderbird.out"), "wb")
        self.proc = subprocess.Popen(
            [executable, "--headless", "--no-remote", "--profile", self.profile,
             "--marionette", "-remote-allow-system-access"],
            stdout=self.output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
        self.marionette_port, self.marionette = port, None

    def connect(self):
        from marionette_driver.marionette import Marionette

        self.marionette = Marionette(host=HOST, port=self.marionette_port, startup_timeout=120)
        self.marionette.start_session()
        self.marionette.set_context(self.marionette.CONTEXT_CHROME)
        self.marionette.timeout.script = 60

    def js(self, body, *args):
        """Run `body` (a function body; `return` a value or a promise) in chrome."""
        return self.marionette.execute_script(PRELUDE + body, script_args=list(args))

    def version(self):
        return self.js("return Services.appinfo.version;")

    def imap_log_text(self):
        if not os.path.exists(self.imap_log):
            return ""
        with open(self.imap_log, errors="replace") as f:
            return f.read()

    def imap_commands(self):
        """The IMAP commands Thunderbird sent, in order (from its protocol log)."""
        # "SendData: 12 UID fetch 1:* (FLAGS)"; a password's line is "Logging suppressed …",
        # and the end of an IDLE a bare "DONE".
        sent = re.finditer(r"SendData: [^\s\[]+ ((?:uid )?[a-z]+)", self.imap_log_text(), re.IGNORECASE)
        return [m.group(1).lower() for m in sent if m.group(1).lower() != "suppressed"]

    def close(self):
        if self.marionette:
            try:
                self.marionette.delete_session()
            except Exception:
                pass  # it may be what failed
        resilience.terminate(self.proc, 10)
        self.output.close()


def send(port, subject, body, user=None):
    """One message by SMTP, its subject already in header form (RFC 2047 if need be)."""
    raw = (f"From: Sender <sender@example.com>\r\nTo: bob@example.com\r\nSubject: {subject}\r\n"
           f"Message-ID: <{time.time_ns()}@thunderbird.test>\r\nMIME-Version: 1.0\r\n"
           f"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{body}\r\n")
    with smtplib.SMTP(HOST, port, timeout=30) as smtp:
        if user:
            smtp.login(user, "any-password")
        smtp.sendmail("sender@example.com", ["bob@example.com"], raw.encode())


def rfc2047(text):
    return f"=?UTF-8?B?{base64.b64encode(text.encode()).decode()}?="


def api_messages(server):
    return {m["Subject"]: m for m in server.api("/api/v1/messages?limit=100")["messages"]}


def wait_for(condition, within):
    """Poll `condition` until it is true or `within` seconds pass: (value, seconds taken)."""
    start = time.monotonic()
    while True:
        value = condition()
        elapsed = time.monotonic() - start
        if value or elapsed > within:
            return value, elapsed
        time.sleep(0.1)


class Checks:
    def __init__(self):
        self.passed = self.failed = 0

    def __call__(self, ok, description, detail=""):
        if ok:
            self.passed += 1
        else:
            self.failed += 1
        print(f"[{'ok' if ok else 'FAIL'}] {description}" + (f": {detail}" if detail and not ok else ""))
        return ok


PLAIN = "Plain ASCII subject"
UNICODE = "Grüße aus Köln ✓ 日本"
ALICE = "For alice's inbox"
LIVE = "Sent while Thunderbird idles"


def scenario(tb, server, imap_port, check):
    # 1. Log in and list the mailboxes. Deleting as Thunderbird does by default:
    # it CREATEs a Trash mailbox (an empty inbox in Pigeonhole) and moves there.
    folders = tb.js("""
      const account = MailServices.accounts.createAccount();
      const incoming = MailServices.accounts.createIncomingServer("tester", arguments[0], "imap");
      incoming.port = arguments[1];
      incoming.socketType = Ci.nsMsgSocketType.plain;
      incoming.authMethod = Ci.nsMsgAuthMethod.passwordCleartext;
      incoming.password = "any-password";  // held in memory: no password prompt
      const identity = MailServices.accounts.createIdentity();
      identity.email = "tester@example.com";
      account.addIdentity(identity);
      account.incomingServer = incoming;
      return runUrl(l => MailServices.imap.discoverAllFolders(incoming.rootFolder, l, null))
        .then(() => incoming.rootFolder.descendants.map(f => f.name));
    """, HOST, imap_port)
    check("login succeeded" in tb.imap_log_text(), "Thunderbird logged in (AUTHENTICATE PLAIN)",
          f"commands sent: {tb.imap_commands()}")
    check({"INBOX", "alice"} <= set(folders), "Thunderbird lists the mailboxes INBOX and alice", f"folders {folders}")

    # 2. The messages sent before, in its folder databases; one as it fetched it.
    subjects = tb.js("""
      return (async () => {
        const subjects = {};
        // INBOX last: its connection stays selected on it and idles there.
        for (const name of ["alice", "INBOX"]) {
          await runUrl(l => folder(name).updateFolderWithListener(null, l));
          subjects[name] = headers(name).map(h => h.mime2DecodedSubject).sort();
        }
        return subjects;
      })();
    """)
    check(subjects.get("INBOX") == sorted([PLAIN, UNICODE]),
          "INBOX's subjects in Thunderbird's database are the two sent to it (RFC 2047 one decoded)",
          f"{subjects.get('INBOX')}")
    check(subjects.get("alice") == [ALICE], "alice's subjects are the one sent with SMTP AUTH alice",
          f"{subjects.get('alice')}")
    fetched = tb.js("""
      const header = headers("INBOX").find(h => h.mime2DecodedSubject == arguments[0]);
      const uri = header.folder.getUriForMsg(header);
      return new Promise((resolve, reject) => {
        const chunks = [];
        MailServices.messageServiceFromURI(uri).streamMessage(uri, {
          QueryInterface: ChromeUtils.generateQI(["nsIStreamListener"]),
          onStartRequest() {},
          onDataAvailable(request, stream, offset, count) {
            chunks.push(NetUtil.readInputStreamToString(stream, count));
          },
          onStopRequest(request, status) {
            status == 0 ? resolve(chunks.join("")) : reject(new Error(Components.Exception("", status).name));
          },
        }, null, null, false, "", false);
      });
    """, UNICODE).encode("latin-1")  # a byte string: one character a byte
    # Thunderbird's offline store (where it keeps what it downloads) heads each message
    # with its own status lines.
    fetched = re.sub(rb"\A(X-Mozilla-[\w-]+: [^\r\n]*\r?\n)*", b"", fetched)
    unicode_id = api_messages(server)[UNICODE]["ID"]
    with urllib.request.urlopen(f"http://{HOST}:{server.http_port}/api/v1/message/{unicode_id}/raw") as r:
        raw = r.read()
    check(fetched == raw, "the message Thunderbird fetched is Pigeonhole's raw message, byte for byte",
          f"{len(fetched)} bytes fetched, {len(raw)} stored; fetched starts {fetched[:200]!r}")
    check("body: Grüße ✓".encode() in fetched, "its UTF-8 body is there as sent")

    # 3. A message sent now reaches the INBOX database by IDLE alone.
    _, idling_for = wait_for(lambda: "idle" in tb.imap_commands(), IDLE_START_WITHIN_S)
    check("idle" in tb.imap_commands(), f"Thunderbird starts IDLE ({idling_for:.1f} s after its folder updates)")
    send(server.smtp_port, LIVE, "live body")
    seen, latency = wait_for(
        lambda: LIVE in tb.js("return headers('INBOX').map(h => h.mime2DecodedSubject);"), IDLE_WITHIN_S)
    check(seen, f"a message sent while it idles is in its INBOX within {IDLE_WITHIN_S} s (took {latency:.2f} s)")

    # 4. Read and deleted in Thunderbird, so in Pigeonhole.
    tb.js("""
      const header = headers("INBOX").find(h => h.mime2DecodedSubject == arguments[0]);
      header.folder.markMessagesRead([header], true);
    """, PLAIN)
    read, took = wait_for(lambda: api_messages(server)[PLAIN]["Read"], API_WITHIN_S)
    check(read, f"marked read in Thunderbird, Read in GET /api/v1/messages ({took:.2f} s)")
    check(not api_messages(server)[UNICODE]["Read"], "the other message stays unread there")
    check("Trash" in tb.js("return MailServices.accounts.accounts[0].incomingServer.rootFolder.descendants"
                           ".map(f => f.name);"),
          "Thunderbird made its Trash mailbox (CREATE)", f"commands sent: {tb.imap_commands()}")
    tb.js("""
      const header = headers("INBOX").find(h => h.mime2DecodedSubject == arguments[0]);
      header.folder.deleteMessages([header], null, false, false, null, false);
    """, LIVE)

    def trash():
        return [m["Subject"] for m in server.api("/api/v1/search?query=inbox:Trash")["messages"]]

    moved, took = wait_for(lambda: trash() == [LIVE], API_WITHIN_S)
    check(moved, f"deleted in Thunderbird (its default: to Trash), in Pigeonhole's Trash inbox ({took:.2f} s)",
          f"Trash holds {trash()}; commands sent: {tb.imap_commands()}")
    inbox = [m["Subject"] for m in server.api("/api/v1/search?query=inbox:default")["messages"]]
    check(LIVE not in inbox, "and no longer in the default inbox", f"{inbox}")


def main():
    executable = shutil.which("thunderbird")
    if executable is None:
        print("not runnable: Thunderbird is not installed; run scripts/setup.sh (apt-get install thunderbird)")
        return 2
    ensure_venv()
    binary = os.environ.get("PIGEONHOLE_BIN") or os.path.join(ROOT, "target", "debug", "pigeonhole")
    if not os.access(binary, os.X_OK):
        print(f"no pigeonhole binary at {binary}: run `cargo build -p pigeonhole` or set PIGEONHOLE_BIN")
        print("0 passed, 1 failed")
        return 1
    started = time.monotonic()
    workdir = tempfile.mkdtemp(prefix="pigeonhole-thunderbird.")
    check = Checks()
    server = tb = None
    try:
        server = resilience.Server(binary, os.path.join(workdir, "data"), ["--imap", f"{HOST}:0"]).start()
        with open(server.log_path) as f:
            imap_port = int(re.search(r"imap listening on [\d.]+:(\d+)", f.read()).group(1))
        send(server.smtp_port, PLAIN, "plain body")
        send(server.smtp_port, rfc2047(UNICODE), "body: Grüße ✓")
        send(server.smtp_port, ALICE, "alice's body", user="alice")
        tb = Thunderbird(executable, workdir)
        tb.connect()
        print(f"Thunderbird {tb.version()} (headless, Marionette) against {binary}, IMAP on {HOST}:{imap_port}")
        scenario(tb, server, imap_port, check)
    except Exception as e:  # a step that could not run is a failed check, with why
        check(False, "the scenario ran to its end", f"{type(e).__name__}: {e}")
    finally:
        commands = tb.imap_commands() if tb else []
        if tb:
            tb.close()
        if server:
            server.stop()
        # What to read when a check fails: Thunderbird's IMAP log and output, the server's log.
        os.makedirs(ARTIFACTS, exist_ok=True)
        for kept, name in [(tb and tb.imap_log, IMAP_LOG_ARTIFACT), (tb and tb.output.name, "thunderbird.out"),
                           (server and server.log_path, "thunderbird-server.log")]:
            if kept and os.path.exists(kept):
                shutil.copyfile(kept, os.path.join(ARTIFACTS, name))
        shutil.rmtree(workdir, ignore_errors=True)
    counts = collections.Counter(commands)
    print("Thunderbird's IMAP commands: " + ", ".join(f"{c} ×{n}" for c, n in counts.items())
          + f" (log: {os.path.relpath(IMAP_LOG_ARTIFACT, ROOT)})")
    print(f"{check.passed} passed, {check.failed} failed in {time.monotonic() - started:.1f} s")
    return 1 if check.failed else 0


if __name__ == "__main__":
    sys.exit(main())
