"""One SMTP transaction with Python's smtplib, every reply and its delay recorded.

Usage: smtplib_transaction.py [--login USER] [--header "Name: value"]...
                              HOST PORT FROM RCPT [RCPT...]

Sends EHLO, AUTH as USER when asked (its inbox; the server takes any password),
MAIL FROM, each RCPT TO, DATA with a small message (when a recipient was accepted;
with the extra header fields given) and QUIT, and prints what the client saw as
JSON:
{"replies": [{"step": "rcpt", "code": 550, "text": "5.7.1 ...", "ms": 3}, ...],
 "disconnected": false}. A refusal is recorded, not raised; a dropped connection
ends the transaction with "disconnected": true.
"""
import argparse
import json
import smtplib
import time

parser = argparse.ArgumentParser()
parser.add_argument("--login")
parser.add_argument("--header", action="append", default=[])
parser.add_argument("host")
parser.add_argument("port", type=int)
parser.add_argument("sender")
parser.add_argument("recipients", nargs="+")
arguments = parser.parse_args()
host, port, sender, recipients = arguments.host, arguments.port, arguments.sender, arguments.recipients
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
    "X-Campaign: spring-sale\r\n" + "".join(f"{field}\r\n" for field in arguments.header) + "\r\nHello.\r\n"
).encode()

s = smtplib.SMTP(host, port, local_hostname="py.example.test", timeout=30)
try:
    step("ehlo", s.ehlo)
    if arguments.login:
        step("auth", lambda: s.login(arguments.login, "any secret"))
    step("mail", lambda: s.mail(sender))
    accepted = [r for r in recipients if step("rcpt", lambda r=r: s.rcpt(r)) == 250]
    if accepted:
        step("data", lambda: s.data(message))
    step("quit", s.quit)
except smtplib.SMTPServerDisconnected:
    disconnected = True
print(json.dumps({"replies": replies, "disconnected": disconnected}))
