//! Reports read back by mail-parser (what the store and the UI use) and by
//! Python's `email` package (what many apps' bounce handling uses).

use std::process::Command;

use mail_parser::{MessageParser, MimeHeaders};
use serde_json::Value;
use time::macros::datetime;

use super::*;

fn envelope(mail_from: &str, rcpt: &str) -> Envelope {
    Envelope {
        mail_from: mail_from.into(),
        rcpt_to: vec![rcpt.into()],
        helo: "app.example".into(),
        peer: "192.0.2.7:40000".into(),
        ..Envelope::default()
    }
}

fn reporter() -> Reporter {
    Reporter { hostname: "mx.pigeonhole.test".into(), now: datetime!(2026-12-07 08:00:00 UTC) }
}

const ORIGINAL: &[u8] = b"From: App <app@shop.example>\r\nTo: bounce@simulator.test\r\n\
Subject: Your order\r\nMessage-ID: <order-1@shop.example>\r\nReferences: <thread-0@shop.example>\r\n\
Date: Mon, 07 Dec 2026 07:59:00 +0000\r\n\r\nThanks for your order.\r\n";

fn original<'a>(raw: &'a [u8], envelope: &'a Envelope) -> Original<'a> {
    Original { raw, envelope, received_at: datetime!(2026-12-07 07:59:30 UTC) }
}

fn bounce(recipient: &str) -> Failure {
    Failure {
        recipient: recipient.into(),
        status: "5.1.1".into(),
        diagnostic: "550 5.1.1 <bounce@simulator.test>: user unknown".into(),
    }
}

/// What Python's `email` (policy.default) makes of a report: the top type and
/// its report-type, every part's type, the fields of delivery-status blocks and
/// of the feedback report, the embedded message's subject, and every defect.
fn python_view(raw: &[u8]) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("report.eml");
    std::fs::write(&file, raw).unwrap();
    let script = r#"
import email, email.policy, json, sys
msg = email.message_from_bytes(open(sys.argv[1], 'rb').read(), policy=email.policy.default)
out = {'type': msg.get_content_type(), 'report_type': msg.get_param('report-type'),
       'to': str(msg['To']), 'from': str(msg['From']), 'subject': str(msg['Subject']),
       'parts': [], 'blocks': [], 'feedback': {}, 'embedded_subject': None, 'defects': []}
for part in msg.walk():
    out['defects'] += [repr(d) for d in part.defects]
for part in msg.iter_parts():
    ctype = part.get_content_type()
    out['parts'].append(ctype)
    if ctype == 'message/delivery-status':
        out['blocks'] = [dict(block.items()) for block in part.get_payload()]
    elif ctype == 'message/feedback-report':
        out['feedback'] = dict(part.get_payload(0).items())
    elif ctype == 'message/rfc822':
        out['embedded_subject'] = str(part.get_payload(0)['Subject'])
    elif ctype == 'text/rfc822-headers':
        out['embedded_subject'] = email.message_from_bytes(part.get_payload(decode=True))['Subject']
print(json.dumps(out))
"#;
    let output = Command::new("python3").arg("-c").arg(script).arg(&file).output().expect("python3 runs");
    assert!(output.status.success(), "python3 failed: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("the script prints JSON")
}

#[test]
fn a_dsn_is_a_delivery_status_report_to_the_envelope_sender() {
    let envelope = envelope("app@shop.example", "bounce@simulator.test");
    let report = dsn(&original(ORIGINAL, &envelope), &reporter(), &[bounce("bounce@simulator.test")]).unwrap();
    assert_eq!((report.mail_from.as_str(), report.rcpt_to.as_str()), ("", "app@shop.example"));

    let parsed = MessageParser::default().parse(&report.raw).unwrap();
    assert_eq!(parsed.subject(), Some("Undelivered Mail Returned to Sender"));
    assert_eq!(parsed.from().unwrap().first().unwrap().address(), Some("MAILER-DAEMON@mx.pigeonhole.test"));
    assert_eq!(parsed.to().unwrap().first().unwrap().address(), Some("app@shop.example"));
    assert_eq!(parsed.in_reply_to().as_text(), Some("order-1@shop.example"));
    assert_eq!(parsed.header_raw("Auto-Submitted").map(str::trim), Some("auto-replied"));
    let content_type = parsed.content_type().unwrap();
    assert_eq!((content_type.ctype(), content_type.subtype()), ("multipart", Some("report")));
    assert_eq!(content_type.attribute("report-type"), Some("delivery-status"));
    assert_eq!(parsed.parts.len(), 4, "the multipart and its three parts");

    let view = python_view(&report.raw);
    assert_eq!(view["type"], "multipart/report");
    assert_eq!(view["report_type"], "delivery-status");
    assert_eq!(view["parts"], serde_json::json!(["text/plain", "message/delivery-status", "text/rfc822-headers"]));
    assert_eq!(view["defects"], serde_json::json!([]));
    let blocks = view["blocks"].as_array().unwrap();
    assert_eq!(blocks.len(), 2, "per-message fields, then one recipient: {blocks:?}");
    assert_eq!(blocks[0]["Reporting-MTA"], "dns; mx.pigeonhole.test");
    assert_eq!(blocks[0]["Arrival-Date"], "Mon, 07 Dec 2026 07:59:30 +0000");
    assert_eq!(blocks[1]["Final-Recipient"], "rfc822; bounce@simulator.test");
    assert_eq!(blocks[1]["Action"], "failed");
    assert_eq!(blocks[1]["Status"], "5.1.1");
    assert_eq!(blocks[1]["Diagnostic-Code"], "smtp; 550 5.1.1 <bounce@simulator.test>: user unknown");
    assert_eq!(blocks[1]["Last-Attempt-Date"], "Mon, 07 Dec 2026 08:00:00 +0000");
    assert_eq!(view["embedded_subject"], "Your order");
}

#[test]
fn a_deferral_notice_says_delayed_and_a_bare_diagnostic_gets_a_reply_code() {
    let envelope = envelope("app@shop.example", "slow@simulator.test");
    let failure = Failure {
        recipient: "slow@simulator.test".into(),
        status: "4.4.1".into(),
        diagnostic: "no answer from host".into(),
    };
    let report = dsn(&original(ORIGINAL, &envelope), &reporter(), &[failure]).unwrap();
    let view = python_view(&report.raw);
    assert_eq!(view["subject"], "Delayed Mail (still being retried)");
    assert_eq!(view["blocks"][1]["Action"], "delayed");
    assert_eq!(view["blocks"][1]["Diagnostic-Code"], "smtp; 450 4.4.1 no answer from host");
}

#[test]
fn an_arf_report_embeds_the_original_and_names_the_complaint() {
    let envelope = envelope("bounces@shop.example", "complaint@simulator.test");
    let report = arf(&original(ORIGINAL, &envelope), &reporter(), "complaint@simulator.test", "abuse").unwrap();
    assert_eq!((report.mail_from.as_str(), report.rcpt_to.as_str()), ("", "bounces@shop.example"));

    let parsed = MessageParser::default().parse(&report.raw).unwrap();
    assert_eq!(parsed.content_type().unwrap().attribute("report-type"), Some("feedback-report"));

    let view = python_view(&report.raw);
    assert_eq!(view["type"], "multipart/report");
    assert_eq!(view["report_type"], "feedback-report");
    assert_eq!(view["parts"], serde_json::json!(["text/plain", "message/feedback-report", "message/rfc822"]));
    assert_eq!(view["defects"], serde_json::json!([]));
    let feedback = &view["feedback"];
    assert_eq!(feedback["Feedback-Type"], "abuse");
    assert_eq!(feedback["User-Agent"], format!("Pigeonhole/{}", env!("CARGO_PKG_VERSION")));
    assert_eq!(feedback["Version"], "1");
    assert_eq!(feedback["Original-Mail-From"], "<bounces@shop.example>");
    assert_eq!(feedback["Original-Rcpt-To"], "<complaint@simulator.test>");
    assert_eq!(feedback["Arrival-Date"], "Mon, 07 Dec 2026 07:59:30 +0000");
    assert_eq!(feedback["Source-IP"], "192.0.2.7");
    assert_eq!(feedback["Reported-Domain"], "shop.example");
    assert_eq!(view["embedded_subject"], "Your order");
}

#[test]
fn an_auto_reply_answers_the_envelope_sender_in_its_thread() {
    // A raw UTF-8 subject (RFC 6532), which lettre encodes for the answer.
    let raw = std::str::from_utf8(ORIGINAL).unwrap().replace("Subject: Your order", "Subject: Grüße zum Auftrag");
    let raw = raw.into_bytes();
    let envelope = envelope("app@shop.example", "ooto@simulator.test");
    let report =
        auto_reply(&original(&raw, &envelope), &reporter(), "ooto@simulator.test", "I am away until Monday.").unwrap();
    assert_eq!((report.mail_from.as_str(), report.rcpt_to.as_str()), ("", "app@shop.example"));
    let parsed = MessageParser::default().parse(&report.raw).unwrap();
    assert_eq!(parsed.subject(), Some("Automatic reply: Grüße zum Auftrag"));
    assert_eq!(parsed.from().unwrap().first().unwrap().address(), Some("ooto@simulator.test"));
    assert_eq!(parsed.to().unwrap().first().unwrap().address(), Some("app@shop.example"));
    assert_eq!(parsed.header_raw("Auto-Submitted").map(str::trim), Some("auto-replied"));
    assert_eq!(parsed.header_raw("MIME-Version").map(str::trim), Some("1.0"));
    assert_eq!(parsed.in_reply_to().as_text(), Some("order-1@shop.example"));
    let references: Vec<_> = parsed.references().as_text_list().unwrap().iter().map(|r| r.to_string()).collect();
    assert_eq!(references, ["thread-0@shop.example", "order-1@shop.example"]);
    assert_eq!(parsed.body_text(0).unwrap().trim_end(), "I am away until Monday.");
}

#[test]
fn automatic_list_and_bulk_mail_and_system_senders_get_no_auto_reply() {
    let envelope_from = |sender: &str| envelope(sender, "ooto@simulator.test");
    let refused = |headers: &str, sender: &str| {
        let raw = [headers.as_bytes(), ORIGINAL].concat();
        let envelope = envelope_from(sender);
        auto_reply(&original(&raw, &envelope), &reporter(), "ooto@simulator.test", "away").unwrap_err().0
    };
    assert!(refused("Auto-Submitted: auto-replied\r\n", "a@x.test").contains("Auto-Submitted: auto-replied"));
    assert!(refused("Precedence: bulk\r\n", "a@x.test").contains("Precedence: bulk"));
    assert!(refused("List-Id: <news.x.test>\r\n", "a@x.test").contains("mailing list"));
    assert!(refused("", "MAILER-DAEMON@x.test").contains("system address"));
    assert!(refused("", "news-request@x.test").contains("system address"));
    // `Auto-Submitted: no` is a person's message: answered.
    let raw = [b"Auto-Submitted: no\r\n".as_slice(), ORIGINAL].concat();
    let envelope = envelope_from("a@x.test");
    assert!(auto_reply(&original(&raw, &envelope), &reporter(), "ooto@simulator.test", "away").is_ok());
}

#[test]
fn a_null_sender_is_never_answered() {
    let envelope = envelope("", "bounce@simulator.test");
    let original = original(ORIGINAL, &envelope);
    let reasons = [
        dsn(&original, &reporter(), &[bounce("bounce@simulator.test")]).unwrap_err().0,
        arf(&original, &reporter(), "bounce@simulator.test", "abuse").unwrap_err().0,
        auto_reply(&original, &reporter(), "bounce@simulator.test", "away").unwrap_err().0,
    ];
    for reason in reasons {
        assert!(reason.contains("null sender"), "{reason}");
    }
}

#[test]
fn hostile_originals_cannot_break_the_report() {
    // Bare CR and LF, a NUL, 8-bit bytes, a line that looks like a boundary, and
    // 200,000 header lines (several MB) in front of a 10 MB body.
    let mut raw = b"Subject: a\rBcc: injected\r\nX-Eight: \xff\xfe caf\xc3\xa9\r\nX-Nul: a\0b\n--\r\n".to_vec();
    for n in 0..200_000 {
        raw.extend_from_slice(format!("X-Filler-{n}: {}\r\n", "x".repeat(20)).as_bytes());
    }
    raw.extend_from_slice(b"\r\n");
    raw.extend(std::iter::repeat_n(b'b', 10 * 1024 * 1024));
    // A sender with CR/LF in it (an envelope can only carry one through a bug
    // elsewhere; the report still must not grow a header from it).
    let envelope = envelope("app@shop.example\r\nBcc: victim@x.test", "bounce@simulator.test");
    let original = original(&raw, &envelope);

    let report = dsn(&original, &reporter(), &[bounce("bounce@simulator.test")]).unwrap();
    assert!(report.raw.len() < HEADERS_CAP + 8 * 1024, "DSN of {} bytes", report.raw.len());
    assert!(!report.raw.windows(6).any(|w| w == b"\nBcc: "), "no injected header line in the DSN");
    assert!(!report.rcpt_to.contains('\n'));
    let view = python_view(&report.raw);
    assert_eq!(view["parts"], serde_json::json!(["text/plain", "message/delivery-status", "text/rfc822-headers"]));
    assert_eq!(view["blocks"][1]["Status"], "5.1.1");

    let report = arf(&original, &reporter(), "bounce@simulator.test", "abuse\r\nX-Evil: 1").unwrap();
    assert!(report.raw.len() < HEADERS_CAP + 8 * 1024, "ARF of {} bytes", report.raw.len());
    let view = python_view(&report.raw);
    assert_eq!(view["parts"], serde_json::json!(["text/plain", "message/feedback-report", "text/rfc822-headers"]));
    assert_eq!(view["feedback"]["Feedback-Type"], "abuse", "a feedback type that is no token is not written");
    assert!(view["feedback"].get("X-Evil").is_none());
}

#[test]
fn an_internationalised_recipient_is_written_as_a_utf8_address() {
    assert_eq!(typed_address("zoë@exämple.test"), "utf-8; zo\\x{EB}@ex\\x{E4}mple.test");
    assert_eq!(typed_address("a@b.test"), "rfc822; a@b.test");
}

#[test]
fn header_sections_are_cut_between_fields() {
    let mut section = Vec::new();
    for n in 0..10_000 {
        section.extend_from_slice(format!("X-{n}: value\r\n folded\n").as_bytes());
    }
    let block = capped_header_block(&section);
    assert!(block.len() <= HEADERS_CAP + 100);
    let text = String::from_utf8(block).unwrap();
    let kept: Vec<&str> = text.lines().collect();
    assert!(kept[kept.len() - 2].starts_with(" folded"), "the last field kept is whole: {:?}", &kept[kept.len() - 3..]);
    assert!(kept.last().unwrap().starts_with("X-Pigeonhole-Note:"));
    assert!(!text.contains("\r\r") && text.split("\r\n").all(|line| !line.contains('\n')));
}
