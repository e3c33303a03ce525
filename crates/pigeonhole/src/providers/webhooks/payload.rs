//! Each provider's webhook request for an event: the body in its documented
//! format and the headers that carry its signature.
//!
//! Every field from captured mail (addresses, subjects, tags, URLs) goes in as a
//! JSON string through serde: hostile values stay data, never markup or syntax.
//!
//! * SendGrid's Event Webhook: a JSON array of events, signed with ECDSA P-256
//!   over timestamp + body (`X-Twilio-Email-Event-Webhook-Signature`, `-Timestamp`).
//! * Postmark: one JSON record per event (`RecordType`), unsigned.
//! * Mailgun: `{"signature": {timestamp, token, signature}, "event-data": {…}}`,
//!   the signature an HMAC of timestamp + token under the signing key.
//! * SES: the event-publishing JSON (`eventType`, `mail`, `bounce` …) as the
//!   `Message` of an SNS `Notification`, which is signed (SignatureVersion 2).
//! * Resend: `{"type": "email.delivered", "created_at", "data"}`, signed by Svix.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ring::rand::SystemRandom;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;

use super::keys::{self, Keys};
use super::sns::NotificationContext;
use super::{Detail, EventKind, Provider, ProviderEvent, SmtpStatus};

/// The TopicArn SNS notifications name (a fixed, made-up account and topic).
pub(super) const SNS_TOPIC_ARN: &str = "arn:aws:sns:us-east-1:000000000000:pigeonhole";

/// A webhook request, ready to POST.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Outgoing {
    pub body: Vec<u8>,
    pub headers: Vec<(String, String)>,
}

/// The request `event` makes for its provider, signed with `keys`; `sns` is what
/// an SES event's SNS notification names (unused by the other providers).
pub(super) fn request(event: &ProviderEvent, keys: &Keys, sns: &NotificationContext) -> Result<Outgoing, String> {
    let json = |value: &Value| serde_json::to_vec(value).expect("JSON values serialize");
    let timestamp = event.at.unix_timestamp().to_string();
    let rng = SystemRandom::new();
    match event.provider {
        Provider::SendGrid => {
            let body = json(&json!([sendgrid(event)]));
            let signature = keys.sendgrid_signature(&timestamp, &body)?;
            Ok(Outgoing {
                headers: vec![
                    content_type("application/json"),
                    ("X-Twilio-Email-Event-Webhook-Signature".into(), signature),
                    ("X-Twilio-Email-Event-Webhook-Timestamp".into(), timestamp),
                ],
                body,
            })
        }
        Provider::Postmark => {
            Ok(Outgoing { body: json(&postmark(event)), headers: vec![content_type("application/json")] })
        }
        Provider::Mailgun => {
            let token = keys::hex(&keys::random::<25>(&rng)?);
            let signature = keys.mailgun_signature(&timestamp, &token);
            let body = json(&json!({
                "signature": {"timestamp": timestamp, "token": token, "signature": signature},
                "event-data": mailgun(event),
            }));
            Ok(Outgoing { body, headers: vec![content_type("application/json")] })
        }
        Provider::Ses => {
            let message_id = uuid::Uuid::new_v4().to_string();
            let message = serde_json::to_string(&ses(event)).expect("JSON values serialize");
            let sent = sns_time(event.at);
            let canonical = format!(
                "Message\n{message}\nMessageId\n{message_id}\nTimestamp\n{sent}\nTopicArn\n{SNS_TOPIC_ARN}\nType\nNotification\n"
            );
            let body = json(&json!({
                "Type": "Notification",
                "MessageId": message_id,
                "TopicArn": SNS_TOPIC_ARN,
                "Message": message,
                "Timestamp": sent,
                "SignatureVersion": "2",
                "Signature": keys.sns_signature(&canonical)?,
                "SigningCertURL": sns.certificate_url,
                "UnsubscribeURL": sns.unsubscribe_url,
            }));
            Ok(Outgoing {
                body,
                headers: vec![
                    content_type("text/plain; charset=UTF-8"),
                    ("x-amz-sns-message-type".into(), "Notification".into()),
                    ("x-amz-sns-message-id".into(), message_id),
                    ("x-amz-sns-topic-arn".into(), SNS_TOPIC_ARN.into()),
                    ("x-amz-sns-subscription-arn".into(), sns.subscription_arn.clone()),
                ],
            })
        }
        Provider::Resend => {
            let body = json(&resend(event));
            let id = format!("msg_{}", keys::hex(&keys::random::<12>(&rng)?));
            let signature = keys.svix_signature(&id, &timestamp, &body)?;
            Ok(Outgoing {
                body,
                headers: vec![
                    content_type("application/json"),
                    ("svix-id".into(), id),
                    ("svix-timestamp".into(), timestamp),
                    ("svix-signature".into(), signature),
                ],
            })
        }
    }
}

fn content_type(value: &str) -> (String, String) {
    ("Content-Type".into(), value.into())
}

/// RFC 3339 with milliseconds, as SNS, SES and Resend write times.
pub(super) fn sns_time(at: OffsetDateTime) -> String {
    at.to_offset(time::UtcOffset::UTC)
        .format(format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"))
        .expect("UTC times format")
}

fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).expect("times format as RFC 3339")
}

/// The answer a bounce or deferral reports: what its caller gave, else the
/// usual one for its kind.
fn status(event: &ProviderEvent) -> SmtpStatus {
    match &event.detail {
        Detail::Status(status) => status.clone(),
        _ => SmtpStatus::usual(event.kind),
    }
}

fn url(event: &ProviderEvent) -> &str {
    match &event.detail {
        Detail::Url(url) => url,
        _ => "",
    }
}

/// An identifier for this event, stable for the event's fields (what providers
/// give each event so apps can drop repeats).
fn event_id(event: &ProviderEvent) -> String {
    let seed = format!(
        "{}\n{}\n{}\n{}",
        event.api.provider_message_id,
        event.recipient,
        event.kind.name(),
        event.at.unix_timestamp_nanos()
    );
    keys::hex(&ring::digest::digest(&ring::digest::SHA256, seed.as_bytes()).as_ref()[..16])
}

const USER_AGENT: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Pigeonhole";

/// One SendGrid event object.
fn sendgrid(event: &ProviderEvent) -> Value {
    let name = match event.kind {
        EventKind::Delivered => "delivered",
        EventKind::Bounced => "bounce",
        EventKind::Deferred => "deferred",
        EventKind::Complained => "spamreport",
        EventKind::Opened => "open",
        EventKind::Clicked => "click",
    };
    let mut value = json!({
        "email": event.recipient,
        "timestamp": event.at.unix_timestamp(),
        "smtp-id": format!("<{}>", event.mail.message_id),
        "event": name,
        "category": event.mail.tags,
        "sg_event_id": STANDARD.encode(event_id(event)),
        "sg_message_id": format!("{}.filter0001.pigeonhole.0", event.api.provider_message_id),
    });
    let fields = value.as_object_mut().expect("an object");
    match event.kind {
        EventKind::Delivered => {
            fields.insert("response".into(), json!("250 OK"));
        }
        EventKind::Bounced => {
            let status = status(event);
            fields.insert("reason".into(), json!(format!("{} {} {}", status.code, status.enhanced, status.text)));
            fields.insert("status".into(), json!(status.enhanced));
            fields.insert("type".into(), json!("bounce"));
            fields.insert("bounce_classification".into(), json!("Invalid Address"));
        }
        EventKind::Deferred => {
            let status = status(event);
            fields.insert("response".into(), json!(format!("{} {} {}", status.code, status.enhanced, status.text)));
            fields.insert("attempt".into(), json!("1"));
        }
        EventKind::Complained => {}
        EventKind::Opened | EventKind::Clicked => {
            fields.insert("useragent".into(), json!(USER_AGENT));
            fields.insert("ip".into(), json!("127.0.0.1"));
            fields.insert("sg_machine_open".into(), json!(false));
            if event.kind == EventKind::Clicked {
                fields.remove("sg_machine_open");
                fields.insert("url".into(), json!(url(event)));
                fields.insert("url_offset".into(), json!({"index": 0, "type": "html"}));
            }
        }
    }
    value
}

/// Postmark's record for the event.
fn postmark(event: &ProviderEvent) -> Value {
    let tag = event.mail.tags.first().cloned().unwrap_or_default();
    let at = rfc3339(event.at);
    let common = json!({
        "MessageID": event.api.provider_message_id,
        "ServerID": 1,
        "MessageStream": "outbound",
        "Tag": tag,
        "Metadata": {},
    });
    let mut value = match event.kind {
        EventKind::Delivered => json!({
            "RecordType": "Delivery",
            "Recipient": event.recipient,
            "DeliveredAt": at,
            "Details": "Message delivered to the local capture (Pigeonhole)",
        }),
        EventKind::Bounced | EventKind::Deferred | EventKind::Complained => {
            let status = status(event);
            let (record, kind, code, name, description) = match event.kind {
                EventKind::Bounced => (
                    "Bounce",
                    "HardBounce",
                    1,
                    "Hard bounce",
                    "The server was unable to deliver your message (ex: unknown user, mailbox not found).",
                ),
                EventKind::Deferred => (
                    "Bounce",
                    "Transient",
                    2,
                    "Message delayed / Undeliverable",
                    "The server could not temporarily deliver your message (ex: Message is delayed due to network troubles).",
                ),
                _ => (
                    "SpamComplaint",
                    "SpamComplaint",
                    512,
                    "Spam complaint",
                    "The subscriber explicitly marked this message as spam.",
                ),
            };
            json!({
                "RecordType": record,
                "ID": u64::from_str_radix(&event_id(event)[..12], 16).unwrap_or_default(),
                "Type": kind,
                "TypeCode": code,
                "Name": name,
                "Description": description,
                "Details": match event.kind {
                    EventKind::Complained => String::new(),
                    _ => format!("smtp;{} {} {}", status.code, status.enhanced, status.text),
                },
                "Email": event.recipient,
                "From": event.mail.from,
                "BouncedAt": at,
                "DumpAvailable": false,
                "Inactive": event.kind != EventKind::Deferred,
                "CanActivate": true,
                "Subject": event.mail.subject,
                "Content": "",
            })
        }
        EventKind::Opened | EventKind::Clicked => {
            let mut value = json!({
                "RecordType": if event.kind == EventKind::Opened { "Open" } else { "Click" },
                "Recipient": event.recipient,
                "ReceivedAt": at,
                "Client": {"Name": "Pigeonhole", "Company": "", "Family": "Pigeonhole"},
                "OS": {"Name": "Linux", "Company": "", "Family": "Linux"},
                "Platform": "Desktop",
                "UserAgent": USER_AGENT,
                "Geo": {},
            });
            let fields = value.as_object_mut().expect("an object");
            if event.kind == EventKind::Opened {
                fields.insert("FirstOpen".into(), json!(true));
                fields.insert("ReadSeconds".into(), json!(0));
            } else {
                fields.insert("ClickLocation".into(), json!("HTML"));
                fields.insert("OriginalLink".into(), json!(url(event)));
            }
            value
        }
    };
    let fields = value.as_object_mut().expect("an object");
    for (key, field) in common.as_object().expect("an object") {
        fields.insert(key.clone(), field.clone());
    }
    value
}

/// Mailgun's `event-data`.
fn mailgun(event: &ProviderEvent) -> Value {
    let domain = event.recipient.rsplit_once('@').map(|(_, d)| d).unwrap_or_default();
    let mut value = json!({
        "id": STANDARD.encode(&event_id(event)[..16]),
        "timestamp": event.at.unix_timestamp_nanos() as f64 / 1e9,
        "log-level": "info",
        "recipient": event.recipient,
        "recipient-domain": domain,
        "tags": event.mail.tags,
        "user-variables": {},
        "envelope": {"sender": event.mail.sender, "targets": event.recipient, "transport": "smtp"},
        "message": {
            "headers": {
                "message-id": event.api.provider_message_id.trim_start_matches('<').trim_end_matches('>'),
                "from": event.mail.from,
                "to": event.mail.to.join(", "),
                "subject": event.mail.subject,
            },
        },
    });
    let fields = value.as_object_mut().expect("an object");
    let mut set = |key: &str, field: Value| fields.insert(key.into(), field);
    match event.kind {
        EventKind::Delivered => {
            set("event", json!("delivered"));
            set(
                "delivery-status",
                json!({"code": 250, "message": "OK", "description": "", "attempt-no": 1, "tls": false}),
            );
        }
        EventKind::Bounced | EventKind::Deferred => {
            let status = status(event);
            let permanent = event.kind == EventKind::Bounced;
            set("event", json!("failed"));
            set("severity", json!(if permanent { "permanent" } else { "temporary" }));
            set("reason", json!(if permanent { "bounce" } else { "generic" }));
            set("log-level", json!(if permanent { "error" } else { "warn" }));
            set(
                "delivery-status",
                json!({
                    "code": status.code,
                    "enhanced-code": status.enhanced,
                    "message": status.text,
                    "description": status.text,
                    "attempt-no": 1,
                    "tls": false,
                }),
            );
        }
        EventKind::Complained => {
            set("event", json!("complained"));
            set("log-level", json!("warn"));
        }
        EventKind::Opened | EventKind::Clicked => {
            set("event", json!(if event.kind == EventKind::Opened { "opened" } else { "clicked" }));
            set("ip", json!("127.0.0.1"));
            set("geolocation", json!({"country": "Unknown", "region": "Unknown", "city": "Unknown"}));
            set(
                "client-info",
                json!({"client-type": "browser", "client-os": "Linux", "device-type": "desktop", "client-name": "Pigeonhole", "user-agent": USER_AGENT}),
            );
            if event.kind == EventKind::Clicked {
                set("url", json!(url(event)));
            }
        }
    }
    value
}

/// SES's event-publishing record (what a configuration set's SNS destination
/// gets).
fn ses(event: &ProviderEvent) -> Value {
    let at = sns_time(event.at);
    let recipient = &event.recipient;
    let mail = json!({
        "timestamp": sns_time(event.mail.sent_at),
        "source": event.mail.sender,
        "sourceArn": "arn:aws:ses:us-east-1:000000000000:identity/pigeonhole.test",
        "sendingAccountId": "000000000000",
        "messageId": event.api.provider_message_id,
        "destination": event.mail.to,
        "headersTruncated": false,
        "commonHeaders": {
            "from": [event.mail.from],
            "to": event.mail.to,
            "messageId": event.mail.message_id,
            "subject": event.mail.subject,
        },
        "tags": {},
    });
    let (name, key, detail) = match event.kind {
        EventKind::Delivered => (
            "Delivery",
            "delivery",
            json!({
                "timestamp": at,
                "processingTimeMillis": 0,
                "recipients": [recipient],
                "smtpResponse": "250 2.6.0 Message received",
                "reportingMTA": "pigeonhole.local",
            }),
        ),
        EventKind::Bounced => {
            let status = status(event);
            (
                "Bounce",
                "bounce",
                json!({
                    "bounceType": "Permanent",
                    "bounceSubType": "General",
                    "bouncedRecipients": [{
                        "emailAddress": recipient,
                        "action": "failed",
                        "status": status.enhanced,
                        "diagnosticCode": format!("smtp; {} {} {}", status.code, status.enhanced, status.text),
                    }],
                    "timestamp": at,
                    "feedbackId": event_id(event),
                    "reportingMTA": "dsn; pigeonhole.local",
                }),
            )
        }
        EventKind::Deferred => {
            let status = status(event);
            (
                "DeliveryDelay",
                "deliveryDelay",
                json!({
                    "timestamp": at,
                    "delayType": "TransientCommunicationFailure",
                    "expirationTime": sns_time(event.at + time::Duration::hours(14)),
                    "delayedRecipients": [{
                        "emailAddress": recipient,
                        "status": status.enhanced,
                        "diagnosticCode": format!("smtp; {} {} {}", status.code, status.enhanced, status.text),
                    }],
                    "reportingMTA": "pigeonhole.local",
                }),
            )
        }
        EventKind::Complained => (
            "Complaint",
            "complaint",
            json!({
                "complainedRecipients": [{"emailAddress": recipient}],
                "timestamp": at,
                "feedbackId": event_id(event),
                "userAgent": USER_AGENT,
                "complaintFeedbackType": "abuse",
                "arrivalDate": at,
            }),
        ),
        EventKind::Opened => {
            ("Open", "open", json!({"ipAddress": "127.0.0.1", "timestamp": at, "userAgent": USER_AGENT}))
        }
        EventKind::Clicked => (
            "Click",
            "click",
            json!({
                "ipAddress": "127.0.0.1",
                "timestamp": at,
                "userAgent": USER_AGENT,
                "link": url(event),
                "linkTags": {},
            }),
        ),
    };
    json!({"eventType": name, "mail": mail, key: detail})
}

/// Resend's webhook event.
fn resend(event: &ProviderEvent) -> Value {
    let name = match event.kind {
        EventKind::Delivered => "email.delivered",
        EventKind::Bounced => "email.bounced",
        EventKind::Deferred => "email.delivery_delayed",
        EventKind::Complained => "email.complained",
        EventKind::Opened => "email.opened",
        EventKind::Clicked => "email.clicked",
    };
    let mut data = json!({
        "created_at": sns_time(event.mail.sent_at),
        "email_id": event.api.provider_message_id,
        "from": event.mail.from,
        "to": [event.recipient],
        "subject": event.mail.subject,
    });
    let fields = data.as_object_mut().expect("an object");
    match event.kind {
        EventKind::Bounced => {
            let status = status(event);
            fields.insert(
                "bounce".into(),
                json!({
                    "message": format!("{} {} {}", status.code, status.enhanced, status.text),
                    "subType": "General",
                    "type": "Permanent",
                }),
            );
        }
        EventKind::Clicked => {
            fields.insert(
                "click".into(),
                json!({
                    "ipAddress": "127.0.0.1",
                    "link": url(event),
                    "timestamp": sns_time(event.at),
                    "userAgent": USER_AGENT,
                }),
            );
        }
        _ => {}
    }
    json!({"type": name, "created_at": sns_time(event.at), "data": data})
}
