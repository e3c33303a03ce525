"""Every mailbox's UIDVALIDITY and UIDs, as Pigeonhole's IMAP server lists them.

Usage: imaplib_uids.py IMAP_PORT
Prints one JSON line: {"MAILBOX": [UIDVALIDITY, [UID, ...]], ...}.
"""

import imaplib
import json
import re
import sys

m = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
m.login("anyone", "anything")
found = {}
for line in m.list()[1]:
    name = line.decode().rsplit(" ", 1)[1].strip('"')
    m.select(name, readonly=True)
    validity = int(m.untagged_responses["UIDVALIDITY"][0])
    uids = [int(u) for u in m.uid("SEARCH", "ALL")[1][0].split()]
    found[name] = [validity, uids]
m.logout()
print(json.dumps(found))
