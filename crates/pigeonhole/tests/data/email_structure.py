"""A message's MIME structure as Python's `email` package parses it, as JSON.

Usage: email_structure.py < message.eml

Reads one message on stdin with the standard policy and prints its tree, each part
as {"type": "multipart/report", "params": {"report-type": ...}, "headers": {name:
value}, "defects": [...], and by kind "parts" (multipart), "blocks" (the header
blocks of a message/delivery-status), "message" (another message/*, parsed as a
message: a message/feedback-report's fields are its headers) or "text"}. A test
reads the report the way an app's bounce handling would, not the way Pigeonhole
wrote it.
"""
import email
import email.policy
import json
import sys


def headers(part):
    # The first value of each field: enough for the fields a report has once.
    seen = {}
    for name, value in part.items():
        seen.setdefault(name, str(value))
    return seen


def describe(part):
    node = {
        "type": part.get_content_type(),
        "params": dict(part.get_params([], header="content-type")[1:]),
        "headers": headers(part),
        "defects": [type(defect).__name__ for defect in part.defects],
    }
    if part.get_content_type() == "message/delivery-status":
        node["blocks"] = [headers(block) for block in part.get_payload()]
    elif part.is_multipart() and part.get_content_maintype() == "multipart":
        node["parts"] = [describe(sub) for sub in part.get_payload()]
    elif part.get_content_maintype() == "message":
        node["message"] = describe(part.get_payload(0))
    else:
        node["text"] = part.get_content()
    return node


message = email.message_from_binary_file(sys.stdin.buffer, policy=email.policy.default)
print(json.dumps(describe(message)))
