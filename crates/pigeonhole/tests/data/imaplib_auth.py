"""Logging in to Pigeonhole's IMAP server with a users file (--imap-auth-file):
a wrong password is refused, repeated failures are throttled, and a right one
(LOGIN or AUTHENTICATE PLAIN) gets in once the throttle allows.

Usage: imaplib_auth.py IMAP_PORT USER PASSWORD FAILURES_ALLOWED
Prints one JSON line with the answers seen.
"""

import imaplib
import json
import sys

port, user, password, allowed = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
answers = []


def attempt(name, secret):
    m = imaplib.IMAP4("127.0.0.1", port)
    try:
        typ, data = m.login(name, secret)
        answers.append(typ)
        m.logout()
    except m.error as error:
        answers.append(str(error))


# The right password works at first.
attempt(user, password)
for _ in range(allowed):
    attempt(user, "wrong")
# Now even the right one is refused for a while.
attempt(user, password)

print(json.dumps({"answers": answers}))
