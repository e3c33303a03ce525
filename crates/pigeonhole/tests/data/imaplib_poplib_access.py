"""A user limited to some inboxes (a third field in --imap-auth-file and
--pop3-auth-file) through Python's imaplib and poplib: LIST shows only its
inboxes, SELECT, EXAMINE, STATUS, APPEND, COPY and CREATE naming another are refused, and its POP3
maildrop is one of its inboxes.

Usage: imaplib_poplib_access.py IMAP_PORT POP3_PORT USER PASSWORD OWN FOREIGN
Prints one JSON line with what each command answered.
"""

import imaplib
import json
import poplib
import sys

imap_port, pop3_port, user, password, own, foreign = sys.argv[1:7]
result = {}

m = imaplib.IMAP4("127.0.0.1", int(imap_port))
m.login(user, password)
typ, names = m.list()
result["list"] = sorted(line.decode().rsplit(" ", 1)[-1].strip('"') for line in names if line)
for command, call in [
    ("select_foreign", lambda: m.select(foreign)),
    ("examine_foreign", lambda: m.select(foreign, readonly=True)),
    ("status_foreign", lambda: m.status(foreign, "(MESSAGES)")),
    ("append_foreign", lambda: m.append(foreign, None, None, b"Subject: x\r\n\r\nx\r\n")),
    ("create_outside", lambda: m.create("not-" + own)),
]:
    try:
        typ, data = call()
        result[command] = [typ] + [d.decode() if isinstance(d, bytes) else str(d) for d in data]
    except m.error as error:
        result[command] = ["error", str(error)]
typ, data = m.select(own, readonly=True)
result["select_own"] = [typ, data[0].decode()]
typ, data = m.copy("1", foreign)
result["copy_foreign"] = [typ] + [d.decode() for d in data if d]
m.logout()

p = poplib.POP3("127.0.0.1", int(pop3_port))
p.user(user)
p.pass_(password)
result["pop3_stat"] = list(p.stat())
p.quit()

print(json.dumps(result))
