"""Deliver one message with Python's smtplib, as a Python application would.

Usage: smtplib_send.py HOST PORT FROM TO MESSAGE_FILE

Sends MAIL FROM with SMTPUTF8 and BODY=8BITMIME (smtplib refuses SMTPUTF8 unless the
server advertises it) and the file's bytes through smtplib's own DATA path, which
dot-stuffs them. Prints the final reply as JSON: {"code": 250, "reply": "..."}.
Any refusal raises, so the exit status is non-zero.
"""
import json
import smtplib
import sys

host, port, sender, rcpt, path = sys.argv[1:6]
with open(path, "rb") as f:
    message = f.read()

with smtplib.SMTP(host, int(port), local_hostname="py.example.test", timeout=60) as s:
    s.ehlo()
    for ext in ("smtputf8", "8bitmime"):
        if not s.has_extn(ext):
            sys.exit(f"server does not advertise {ext.upper()}")
    code, resp = s.mail(sender, ["SMTPUTF8", "BODY=8BITMIME"])
    if code != 250:
        sys.exit(f"MAIL FROM refused: {code} {resp!r}")
    code, resp = s.rcpt(rcpt)
    if code != 250:
        sys.exit(f"RCPT TO refused: {code} {resp!r}")
    code, resp = s.data(message)
    if code != 250:
        sys.exit(f"DATA refused: {code} {resp!r}")
    print(json.dumps({"code": code, "reply": resp.decode("utf-8", "replace")}))
