"""ses_boto3.py - boto3's SES clients against Pigeonhole, for ses.test.mjs.

Usage: python3 ses_boto3.py ENDPOINT_URL. boto3 unchanged but for endpoint_url:
the v2 client (`sesv2`, JSON) sends a Simple message, the v1 client (`ses`, the
query API) a SendEmail and a SendRawEmail, then one SendEmail without a Source;
then templated sends (v2 by name, v1 SendTemplatedEmail; Debian's botocore
predates inline TemplateContent, which ses.test.mjs sends with the JS SDK) and a v2 send of
a template Pigeonhole has no copy of.
Prints one JSON object: the MessageIds the answers gave and the error the last
one raised (its code and message as botocore read them from SES's XML).
"""

import json
import sys

import boto3
import botocore.exceptions

ENDPOINT = sys.argv[1]
SESSION = boto3.Session(
    aws_access_key_id="AKIAPIGEONHOLEBOTO3",
    aws_secret_access_key="not-checked",
    region_name="eu-west-1",
)

v2 = SESSION.client("sesv2", endpoint_url=ENDPOINT)
v1 = SESSION.client("ses", endpoint_url=ENDPOINT)

results = {}
results["v2"] = v2.send_email(
    FromEmailAddress="boto@example.test",
    Destination={"ToAddresses": ["ann@example.test"], "BccAddresses": ["hidden@example.test"]},
    Content={"Simple": {"Subject": {"Data": "boto3 v2 simple"}, "Body": {"Text": {"Data": "Hello from sesv2"}}}},
    EmailTags=[{"Name": "flow", "Value": "signup"}],
)["MessageId"]
results["v1"] = v1.send_email(
    Source="Boto <boto@example.test>",
    Destination={"ToAddresses": ["ann@example.test", "bob@example.test"]},
    Message={"Subject": {"Data": "boto3 v1 send_email"}, "Body": {"Html": {"Data": "<p>Hello from ses</p>"}}},
    ReplyToAddresses=["reply@example.test"],
)["MessageId"]
raw = (
    b"From: boto@example.test\r\nTo: raw@example.test\r\nSubject: boto3 v1 send_raw_email\r\n"
    b"MIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nraw body\r\n"
)
results["v1_raw"] = v1.send_raw_email(RawMessage={"Data": raw})["MessageId"]
try:
    v1.send_email(
        Source="",
        Destination={"ToAddresses": ["ann@example.test"]},
        Message={"Subject": {"Data": "boto3 invalid"}, "Body": {"Text": {"Data": "x"}}},
    )
except botocore.exceptions.ClientError as err:
    results["v1_error"] = {
        "code": err.response["Error"]["Code"],
        "message": err.response["Error"]["Message"],
        "status": err.response["ResponseMetadata"]["HTTPStatusCode"],
    }
results["v2_template"] = v2.send_email(
    FromEmailAddress="boto@example.test",
    Destination={"ToAddresses": ["ann@example.test"]},
    Content={"Template": {"TemplateName": "receipt", "TemplateData": json.dumps({"order": 7, "name": "Ann & Bob"})}},
)["MessageId"]
results["v1_template"] = v1.send_templated_email(
    Source="boto@example.test",
    Destination={"ToAddresses": ["ann@example.test"]},
    Template="receipt",
    TemplateData=json.dumps({"order": 9, "name": "Di"}),
)["MessageId"]
try:
    v2.send_email(
        FromEmailAddress="boto@example.test",
        Destination={"ToAddresses": ["ann@example.test"]},
        Content={"Template": {"TemplateName": "nosuch", "TemplateData": "{}"}},
    )
except botocore.exceptions.ClientError as err:
    results["v2_template_error"] = {
        "message": err.response["Error"]["Message"],
        "status": err.response["ResponseMetadata"]["HTTPStatusCode"],
    }
print(json.dumps(results))
