"""One SMTP transaction with Python's smtplib, every reply and its delay recorded.

Usage: smtplib_transaction.py HOST PORT FROM RCPT [RCPT...]

Sends EHLO, MAIL FROM, each RCPT TO, DATA with a small message (when a recipient
was accepted) and QUIT, and prints what the client saw as JSON:
{"replies": [{"step": "rcpt", "code": 550, "text": "5.7.1 ...", "ms": 3}, ...],
 "disconnected": false}. A refusal is recorded, not raised; a dropped connection
ends the transaction with "disconnected": true.
"""
import json
import smtplib
import sys
import time

host, port, sender, *recipients = sys.argv[1:]
replies = []
disconnected = False


def step(name, call):
    start = time.monotonic()
    code, text = call()
    ms = round((time.monotonic() - start) * 1000)
    replies.append({"step": name, "code": code, "text": text.decode("utf-8", "replace"), "ms": ms})
    return code


message = (
    f"From: {sender}\r\nTo: {', '.join(recipients)}\r\nSubject: simulation\r\n"
    "X-Campaign: spring-sale\r\n\r\nHello.\r\n"
).encode()

s = smtplib.SMTP(host, int(port), local_hostname="py.example.test", timeout=30)
try:
    step("ehlo", s.ehlo)
    step("mail", lambda: s.mail(sender))
    accepted = [r for r in recipients if step("rcpt", lambda r=r: s.rcpt(r)) == 250]
    if accepted:
        step("data", lambda: s.data(message))
    step("quit", s.quit)
except smtplib.SMTPServerDisconnected:
    disconnected = True
print(json.dumps({"replies": replies, "disconnected": disconnected}))
