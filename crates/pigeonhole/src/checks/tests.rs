//! Each check with a message that trips it and one that does not, the report's
//! shape (score, counts, order, bounds), and the corpus: no panic, and no error on
//! well-formed mail.

use super::*;
use crate::mail::authentication::{
    AuthResults, DkimOutcome, DkimVerdict, DmarcOutcome, DmarcPolicy, DmarcVerdict, SpfOutcome, SpfVerdict,
};
use crate::model::Envelope;

/// A well-formed message: every check passes on it (TLS aside, see `envelope`).
pub(crate) const CLEAN: &str = "From: Shop <news@shop.example>\r\n\
To: ann@example.com\r\n\
Subject: Your order\r\n\
Date: Mon, 07 Dec 2026 10:00:00 +0000\r\n\
Message-ID: <1@shop.example>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/alternative; boundary=\"b1\"\r\n\
\r\n\
--b1\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
\r\n\
Thanks for your order.\r\n\
--b1\r\n\
Content-Type: text/html; charset=utf-8\r\n\
\r\n\
<html lang=\"en\"><body><p>Thanks for your order.</p></body></html>\r\n\
--b1--\r\n";

/// An SMTP envelope for `raw`: sender at the From domain, STARTTLS used.
pub(crate) fn envelope() -> Envelope {
    Envelope {
        mail_from: "bounce@shop.example".into(),
        rcpt_to: vec!["ann@example.com".into()],
        helo: "shop.example".into(),
        peer: "127.0.0.1:40000".into(),
        tls: true,
        auth_user: None,
        transcript: "S: 220 pigeonhole\nC: EHLO shop.example\nC: STARTTLS\nC: MAIL FROM:<bounce@shop.example>\nC: RCPT TO:<ann@example.com>\nC: DATA\n".into(),
    }
}

pub(crate) fn run_checks(raw: &str, envelope: &Envelope) -> CheckReport {
    report(raw.as_bytes(), envelope, &Extras::default())
}

/// The findings (not passes) of check `id`.
pub(crate) fn findings<'r>(report: &'r CheckReport, id: &str) -> Vec<&'r Check> {
    report.checks.iter().filter(|check| check.id == id && check.severity != Severity::Pass).collect()
}

/// Asserts `id` raised at `severity` on `tripped` and passed on `CLEAN`.
#[track_caller]
fn trips(id: &str, severity: Severity, tripped: &str, envelope: &Envelope) -> Check {
    let clean = run_checks(CLEAN, &super::tests::envelope());
    assert!(findings(&clean, id).is_empty(), "{id} raised on the clean message: {:?}", findings(&clean, id));
    assert!(clean.checks.iter().any(|check| check.id == id && check.severity == Severity::Pass), "{id} has no pass");
    let report = run_checks(tripped, envelope);
    let found = findings(&report, id);
    assert!(!found.is_empty(), "{id} did not raise: {:#?}", report.checks);
    assert_eq!(found[0].severity, severity, "{id}: {:?}", found[0]);
    assert!(!found[0].fix.is_empty() && found[0].reference.starts_with("https://"));
    found[0].clone()
}

fn replaced(from: &str, to: &str) -> String {
    assert!(CLEAN.contains(from), "{from:?} is not in CLEAN");
    CLEAN.replacen(from, to, 1)
}

#[test]
fn the_clean_message_passes_everything() {
    let report = run_checks(CLEAN, &envelope());
    let problems: Vec<_> = report.checks.iter().filter(|check| check.severity != Severity::Pass).collect();
    assert!(problems.is_empty(), "{problems:#?}");
    assert_eq!(report.score, 100);
    assert_eq!(report.summary.passed as usize, report.checks.len());
}

#[test]
fn headers_date_message_id_and_subject_missing() {
    trips(
        "headers.date-missing",
        Severity::Error,
        &replaced("Date: Mon, 07 Dec 2026 10:00:00 +0000\r\n", ""),
        &envelope(),
    );
    trips(
        "headers.message-id-missing",
        Severity::Warning,
        &replaced("Message-ID: <1@shop.example>\r\n", ""),
        &envelope(),
    );
    trips("headers.subject-missing", Severity::Warning, &replaced("Subject: Your order\r\n", ""), &envelope());
}

#[test]
fn headers_from_invalid() {
    let check = trips(
        "headers.from-invalid",
        Severity::Error,
        &replaced("Shop <news@shop.example>", "Shop <news>"),
        &envelope(),
    );
    assert_eq!(check.location.and_then(|at| at.header).as_deref(), Some("From"));
    trips("headers.from-invalid", Severity::Error, &replaced("From: Shop <news@shop.example>\r\n", ""), &envelope());
}

#[test]
fn headers_duplicate_points_at_the_second_copy() {
    let check = trips(
        "headers.duplicate",
        Severity::Error,
        &replaced("Subject: Your order\r\n", "Subject: A\r\nSubject: B\r\n"),
        &envelope(),
    );
    assert_eq!(check.location.unwrap().line, Some(4));
}

#[test]
fn headers_bcc_leaked() {
    trips(
        "headers.bcc-leaked",
        Severity::Error,
        &replaced("To: ann@example.com\r\n", "To: ann@example.com\r\nBcc: boss@example.com\r\n"),
        &envelope(),
    );
    let empty_bcc = run_checks(&replaced("To: ann@example.com\r\n", "To: ann@example.com\r\nBcc:\r\n"), &envelope());
    assert!(findings(&empty_bcc, "headers.bcc-leaked").is_empty());
}

#[test]
fn headers_line_too_long_and_non_ascii() {
    let long = format!("X-Long: {}\r\n", "a".repeat(1000));
    trips(
        "headers.line-too-long",
        Severity::Error,
        &replaced("MIME-Version", &format!("{long}MIME-Version")),
        &envelope(),
    );
    trips(
        "headers.non-ascii-unencoded",
        Severity::Warning,
        &replaced("Subject: Your order", "Subject: Ihre Bestellung für Sie"),
        &envelope(),
    );
}

#[test]
fn smtp_bare_lf() {
    let check = trips(
        "smtp.bare-lf",
        Severity::Error,
        &replaced("Thanks for your order.\r\n--b1\r\n", "Thanks for your order.\n--b1\r\n"),
        &envelope(),
    );
    assert_eq!(check.location.unwrap().line, Some(12));
}

#[test]
fn smtp_8bit_without_8bitmime() {
    let raw = replaced("Thanks for your order.\r\n--b1\r\n", "Danke für Ihre Bestellung.\r\n--b1\r\n");
    trips("smtp.8bit-without-8bitmime", Severity::Warning, &raw, &envelope());
    let mut declared = envelope();
    declared.transcript =
        declared.transcript.replace("MAIL FROM:<bounce@shop.example>", "MAIL FROM:<bounce@shop.example> BODY=8BITMIME");
    assert!(findings(&run_checks(&raw, &declared), "smtp.8bit-without-8bitmime").is_empty());
}

#[test]
fn smtp_no_tls_only_for_smtp_sessions() {
    let mut plain = envelope();
    plain.tls = false;
    trips("smtp.no-tls", Severity::Notice, CLEAN, &plain);
    let imported = Envelope { transcript: String::new(), ..plain };
    assert!(findings(&run_checks(CLEAN, &imported), "smtp.no-tls").is_empty());
}

#[test]
fn smtp_envelope_from_mismatch() {
    let mut other = envelope();
    other.mail_from = "bounces@mailer.example".into();
    trips("smtp.envelope-from-mismatch", Severity::Warning, CLEAN, &other);
    // The null sender (a bounce) has no domain to compare.
    other.mail_from = String::new();
    assert!(findings(&run_checks(CLEAN, &other), "smtp.envelope-from-mismatch").is_empty());
}

#[test]
fn smtp_bcc_visible() {
    let mut blind = envelope();
    blind.rcpt_to.push("secret@example.com".into());
    // Blind, and not named anywhere: fine.
    assert!(findings(&run_checks(CLEAN, &blind), "smtp.bcc-visible").is_empty());
    let named = replaced("Subject: Your order\r\n", "Subject: Your order\r\nX-Original-To: secret@example.com\r\n");
    let check = trips("smtp.bcc-visible", Severity::Error, &named, &blind);
    assert_eq!(check.location.unwrap().header.as_deref(), Some("X-Original-To"));
}

#[test]
fn mime_charset_missing() {
    let raw =
        replaced("Content-Type: text/plain; charset=utf-8\r\n\r\nThanks", "Content-Type: text/plain\r\n\r\nDanke für");
    let check = trips("mime.charset-missing", Severity::Warning, &raw, &envelope());
    assert_eq!(check.location.unwrap().part.as_deref(), Some("1"));
}

#[test]
fn mime_no_text_alternative() {
    let html_only = "From: a@shop.example\r\nTo: ann@example.com\r\nSubject: s\r\nDate: Mon, 07 Dec 2026 10:00:00 +0000\r\nMessage-ID: <2@shop.example>\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Hi</p>\r\n";
    trips("mime.no-text-alternative", Severity::Warning, html_only, &envelope());
}

#[test]
fn mime_broken_structure() {
    trips("mime.broken-structure", Severity::Warning, &replaced("--b1--\r\n", ""), &envelope());
    trips("mime.broken-structure", Severity::Error, &replaced("; boundary=\"b1\"", ""), &envelope());
}

#[test]
fn mime_cid_unresolved() {
    let check = trips(
        "mime.cid-unresolved",
        Severity::Error,
        &replaced("<p>Thanks", "<img src=\"cid:logo@shop\" alt=\"Shop\"><p>Thanks"),
        &envelope(),
    );
    assert!(check.detail.contains("logo@shop"), "{}", check.detail);
}

#[test]
fn mime_attachment_type_mismatch() {
    let attached = replaced(
        "--b1--\r\n",
        "--b1\r\nContent-Type: image/png\r\nContent-Disposition: attachment; filename=\"invoice.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0=\r\n--b1--\r\n",
    );
    trips("mime.attachment-type-mismatch", Severity::Warning, &attached, &envelope());
}

#[test]
fn findings_of_one_check_are_bounded_and_counted() {
    let long: String = (0..50).map(|i| format!("X-Long-{i}: {}\r\n", "a".repeat(1000))).collect();
    let report = run_checks(&replaced("MIME-Version", &format!("{long}MIME-Version")), &envelope());
    let found = findings(&report, "headers.line-too-long");
    assert_eq!(found.len(), MAX_FINDINGS_PER_CHECK);
    assert!(found.last().unwrap().detail.ends_with("(and 30 more like this)"), "{}", found.last().unwrap().detail);
    assert_eq!(report.summary.errors as usize, MAX_FINDINGS_PER_CHECK);
}

#[test]
fn score_counts_each_failing_check_once_by_its_worst_severity() {
    let raw = replaced("Date: Mon, 07 Dec 2026 10:00:00 +0000\r\nMessage-ID: <1@shop.example>\r\n", "");
    let report = run_checks(&raw, &envelope());
    assert_eq!(report.score, 100 - 15 - 5);
    assert_eq!((report.summary.errors, report.summary.warnings), (1, 1));
    // Worst first.
    assert_eq!(report.checks[0].severity, Severity::Error);
    assert_eq!(report.checks[1].severity, Severity::Warning);
}

#[test]
fn quotes_are_one_line_and_bounded() {
    let quoted = quote(&format!("ignore previous instructions\n{}", "x".repeat(500)));
    assert!(!quoted.contains('\n'));
    assert!(quoted.chars().count() < MAX_QUOTE + 5, "{quoted}");
    assert!(quoted.starts_with('"') && quoted.ends_with('"'));
}

#[test]
fn every_corpus_message_gets_a_report_without_panic() {
    for path in crate::mail::corpus::files() {
        let raw = std::fs::read(&path).expect("read corpus file");
        let report = report(&raw, &envelope(), &Extras::default());
        let total = report.summary.errors + report.summary.warnings + report.summary.notices + report.summary.passed;
        assert_eq!(total as usize, report.checks.len(), "{}", path.display());
    }
}

#[test]
fn spamassassin_and_link_statuses_only_when_gathered() {
    use crate::mail::linkcheck::{LinkCheck, LinkStatus};
    use crate::mail::spamassassin::SpamCheck;
    let plain = run_checks(CLEAN, &envelope());
    assert!(!plain.checks.iter().any(|check| check.id == "spam.spamassassin" || check.id == "links.broken"));

    let extras = Extras {
        spam: Some(SpamCheck { is_spam: true, error: String::new(), score: 7.5, rules: Vec::new() }),
        link_statuses: Some(LinkCheck {
            errors: 1,
            links: vec![
                LinkStatus { url: "https://shop.example/ok".into(), status_code: 200, status: "OK".into() },
                LinkStatus { url: "https://shop.example/gone".into(), status_code: 404, status: "Not Found".into() },
            ],
        }),
        ..Extras::default()
    };
    let report = report(CLEAN.as_bytes(), &envelope(), &extras);
    assert_eq!(findings(&report, "spam.spamassassin")[0].severity, Severity::Error);
    let broken = findings(&report, "links.broken");
    assert_eq!(broken.len(), 1);
    assert!(broken[0].detail.contains("/gone"), "{}", broken[0].detail);
}

/// Verdicts where everything passes: DKIM, SPF and DMARC, aligned, for shop.example.
fn passing_auth() -> AuthResults {
    AuthResults {
        dkim: vec![DkimVerdict {
            domain: "shop.example".into(),
            selector: "sel".into(),
            algorithm: "rsa-sha256",
            outcome: DkimOutcome::Pass,
        }],
        spf: SpfVerdict {
            ip: Some("192.0.2.10".parse().unwrap()),
            domain: "shop.example".into(),
            outcome: SpfOutcome::Pass,
            explanation: None,
        },
        dmarc: DmarcVerdict {
            from_domain: "shop.example".into(),
            record: Some(DmarcPolicy { policy: "reject", dkim_alignment: "relaxed", spf_alignment: "relaxed" }),
            outcome: DmarcOutcome::Pass,
            dkim_aligned: true,
            spf_aligned: true,
        },
        dns_lookups: false,
    }
}

fn with_auth(raw: &str, envelope: &Envelope, auth: AuthResults) -> CheckReport {
    report(raw.as_bytes(), envelope, &Extras { auth: Some(auth), ..Extras::default() })
}

/// Asserts `id` passes on CLEAN with `passing_auth()`, and raises at `severity`
/// with `auth` (on `raw`), saying `words`.
#[track_caller]
fn trips_with_auth(id: &str, severity: Severity, raw: &str, envelope: &Envelope, auth: AuthResults, words: &str) {
    let clean = with_auth(CLEAN, &super::tests::envelope(), passing_auth());
    assert!(findings(&clean, id).is_empty(), "{id} raised on the clean message: {:?}", findings(&clean, id));
    assert!(clean.checks.iter().any(|check| check.id == id && check.severity == Severity::Pass), "{id} has no pass");
    let report = with_auth(raw, envelope, auth);
    let found = findings(&report, id);
    let check = found
        .iter()
        .find(|check| check.detail.contains(words))
        .unwrap_or_else(|| panic!("{id}: no finding says {words:?}: {found:#?}"));
    assert_eq!(check.severity, severity, "{check:?}");
    assert!(!check.fix.is_empty() && check.reference.starts_with("https://"));
}

fn dkim_outcome(outcome: DkimOutcome) -> AuthResults {
    let mut auth = passing_auth();
    auth.dkim[0].outcome = outcome;
    auth
}

#[test]
fn the_clean_message_passes_the_authentication_checks_when_all_verifies() {
    let report = with_auth(CLEAN, &envelope(), passing_auth());
    let problems: Vec<_> = report.checks.iter().filter(|check| check.severity != Severity::Pass).collect();
    assert!(problems.is_empty(), "{problems:#?}");
    let dkim = report.checks.iter().find(|check| check.id == "auth.dkim").unwrap();
    assert!(dkim.detail.contains("d=\"shop.example\" s=\"sel\" (rsa-sha256)"), "{}", dkim.detail);
    // Not gathered: left out, as SpamAssassin is.
    let plain = run_checks(CLEAN, &envelope());
    assert!(
        !plain.checks.iter().any(|check| check.id.starts_with("auth.") || check.id == "deliverability.bulk-sender")
    );
}

#[test]
fn auth_dkim() {
    let e = envelope();
    trips_with_auth(
        "auth.dkim",
        Severity::Error,
        CLEAN,
        &e,
        dkim_outcome(DkimOutcome::BodyHashMismatch),
        "body hash mismatch",
    );
    trips_with_auth(
        "auth.dkim",
        Severity::Error,
        CLEAN,
        &e,
        dkim_outcome(DkimOutcome::SignatureMismatch),
        "header hash",
    );
    trips_with_auth("auth.dkim", Severity::Error, CLEAN, &e, dkim_outcome(DkimOutcome::KeyNotFound), "key not found");
    trips_with_auth(
        "auth.dkim",
        Severity::Notice,
        CLEAN,
        &e,
        dkim_outcome(DkimOutcome::KeyNotAvailable),
        "key not available",
    );
    let unsigned = AuthResults { dkim: Vec::new(), ..passing_auth() };
    trips_with_auth("auth.dkim", Severity::Warning, CLEAN, &e, unsigned, "no DKIM signature");
}

#[test]
fn auth_spf() {
    let e = envelope();
    let spf = |outcome| {
        let mut auth = passing_auth();
        auth.spf.outcome = outcome;
        auth
    };
    trips_with_auth("auth.spf", Severity::Error, CLEAN, &e, spf(SpfOutcome::Fail), "does not allow 192.0.2.10");
    trips_with_auth("auth.spf", Severity::Warning, CLEAN, &e, spf(SpfOutcome::SoftFail), "soft fail");
    trips_with_auth("auth.spf", Severity::Notice, CLEAN, &e, spf(SpfOutcome::NotAvailable), "No SPF record available");
    trips_with_auth("auth.spf", Severity::Notice, CLEAN, &e, spf(SpfOutcome::NoSendingIp), "--auth-ip");
}

#[test]
fn auth_dmarc() {
    let e = envelope();
    let failing = |policy| {
        let mut auth = passing_auth();
        auth.dmarc.outcome = DmarcOutcome::Fail;
        auth.dmarc.dkim_aligned = false;
        auth.dmarc.spf_aligned = false;
        auth.dmarc.record.as_mut().unwrap().policy = policy;
        auth
    };
    trips_with_auth("auth.dmarc", Severity::Error, CLEAN, &e, failing("reject"), "DKIM not aligned (relaxed)");
    trips_with_auth("auth.dmarc", Severity::Warning, CLEAN, &e, failing("none"), "policy p=none");
    let mut unknown = passing_auth();
    unknown.dmarc = DmarcVerdict { record: None, outcome: DmarcOutcome::NotAvailable, ..unknown.dmarc };
    trips_with_auth("auth.dmarc", Severity::Notice, CLEAN, &e, unknown, "No DMARC record available");
}

#[test]
fn deliverability_bulk_sender() {
    let id = "deliverability.bulk-sender";
    let e = envelope();
    let list_mail = replaced("MIME-Version", "List-Unsubscribe: <mailto:unsubscribe@shop.example>\r\nMIME-Version");
    trips_with_auth(id, Severity::Warning, &list_mail, &e, passing_auth(), "List-Unsubscribe has no https URI");
    let no_post = replaced("MIME-Version", "List-Unsubscribe: <https://shop.example/u/1>\r\nMIME-Version");
    trips_with_auth(id, Severity::Warning, &no_post, &e, passing_auth(), "no List-Unsubscribe-Post");
    let one_click = replaced(
        "MIME-Version",
        "List-Unsubscribe: <https://shop.example/u/1>\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\nMIME-Version",
    );
    assert!(findings(&with_auth(&one_click, &e, passing_auth()), id).is_empty());
    trips_with_auth(
        id,
        Severity::Warning,
        CLEAN,
        &e,
        dkim_outcome(DkimOutcome::BodyHashMismatch),
        "DKIM does not pass",
    );
    let clear = Envelope { tls: false, ..envelope() };
    trips_with_auth(id, Severity::Warning, CLEAN, &clear, passing_auth(), "did not use TLS");
    let mut no_dmarc = passing_auth();
    no_dmarc.dmarc = DmarcVerdict { record: None, outcome: DmarcOutcome::NoRecord, ..DmarcVerdict::default() };
    trips_with_auth(id, Severity::Warning, CLEAN, &e, no_dmarc, "publishes no DMARC record");
    // Unknown, not failed, when keys and records are not available.
    let mut offline = dkim_outcome(DkimOutcome::KeyNotAvailable);
    offline.spf.outcome = SpfOutcome::NotAvailable;
    offline.dmarc = DmarcVerdict { record: None, outcome: DmarcOutcome::NotAvailable, ..DmarcVerdict::default() };
    trips_with_auth(id, Severity::Notice, CLEAN, &e, offline.clone(), "the signing key is not available");
    let report = with_auth(CLEAN, &e, offline);
    assert!(findings(&report, id).iter().all(|check| check.severity == Severity::Notice), "{report:#?}");
}

/// The verifier on dkimpy's signed messages (`testdata/README.md`), then the report.
#[tokio::test]
async fn dkimpy_signed_messages_through_the_verifier_and_the_report() {
    use crate::config::CheckConfig;
    use crate::mail::authentication::Verifier;
    let testdata = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/checks/testdata");
    let verifier = Verifier::new(&CheckConfig {
        dkim_keys: Some(testdata.join("records.zone")),
        auth_ip: Some("192.0.2.10".parse().unwrap()),
        ..CheckConfig::default()
    })
    .unwrap();
    let checked = |name: &str| {
        let raw = std::fs::read(testdata.join(name)).unwrap();
        let verifier = &verifier;
        async move {
            let auth = verifier.verify(&raw, &envelope()).await;
            report(&raw, &envelope(), &Extras { auth: Some(auth), ..Extras::default() })
        }
    };
    for name in ["rsa-relaxed.eml", "rsa-simple.eml", "ed25519.eml"] {
        let report = checked(name).await;
        for id in ["auth.dkim", "auth.spf", "auth.dmarc", "deliverability.bulk-sender"] {
            assert!(findings(&report, id).is_empty(), "{name}: {id}: {:#?}", findings(&report, id));
        }
    }
    let changed = checked("body-changed.eml").await;
    let dkim = findings(&changed, "auth.dkim");
    assert_eq!(dkim[0].severity, Severity::Error);
    assert!(dkim[0].detail.contains("body hash mismatch"), "{}", dkim[0].detail);
    let wrong_key = checked("wrong-key.eml").await;
    assert!(findings(&wrong_key, "auth.dkim")[0].detail.contains("signature verification failed"));
}
