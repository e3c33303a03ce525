//! Each check with a message that trips it and one that does not, the report's
//! shape (score, counts, order, bounds), and the corpus: no panic, and no error on
//! well-formed mail. The HTML-based categories have a file each, over the helpers
//! here.

mod accessibility;
mod auth;
mod html;
mod links;
mod privacy;

use std::collections::HashMap;

use super::*;
use crate::model::Envelope;

/// A well-formed message: every check passes on it (TLS aside, see `envelope`).
pub(crate) const CLEAN: &str = "From: Shop <news@shop.example>\r\n\
To: ann@example.com\r\n\
Subject: Your order\r\n\
Date: Mon, 07 Dec 2026 10:00:00 +0000\r\n\
Message-ID: <1@shop.example>\r\n\
List-Unsubscribe: <https://shop.example/unsubscribe?u=1>, <mailto:unsubscribe@shop.example>\r\n\
List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n\
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
        api: None,
        simulation: None,
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

/// `CLEAN` with `html` as its HTML part.
pub(crate) fn with_html(html: &str) -> String {
    replaced("<html lang=\"en\"><body><p>Thanks for your order.</p></body></html>", html)
}

/// The element `Where` points at, found with the selector as a browser would.
#[track_caller]
fn pointed_at(check: &Check, html: &str) -> String {
    let selector = check.location.as_ref().and_then(|at| at.element.clone()).expect("an element location");
    let parsed = scraper::Selector::parse(&selector).unwrap_or_else(|err| panic!("{selector}: {err:?}"));
    let document = scraper::Html::parse_document(html);
    let found: Vec<_> = document.select(&parsed).collect();
    assert_eq!(found.len(), 1, "{selector} matches {} elements", found.len());
    found[0].html()
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
fn smtp_bare_lf_only_over_smtp() {
    let check = trips(
        "smtp.bare-lf",
        Severity::Error,
        &replaced("Thanks for your order.\r\n--b1\r\n", "Thanks for your order.\n--b1\r\n"),
        &envelope(),
    );
    assert_eq!(check.location.unwrap().line, Some(14));
    let imported = run_checks(&CLEAN.replace("\r\n", "\n"), &Envelope::default());
    assert!(!imported.checks.iter().any(|check| check.id == "smtp.bare-lf"));
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
    assert!(!run_checks(CLEAN, &imported).checks.iter().any(|check| check.id == "smtp.no-tls"));
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

#[test]
fn deliverability_gmail_clipping_and_size() {
    let big_html = format!("<p>{}</p>", "Thanks for your order. ".repeat(5000));
    trips(
        "deliverability.gmail-clipping",
        Severity::Warning,
        &replaced("<p>Thanks for your order.</p>", &big_html),
        &envelope(),
    );
    let attachment = format!(
        "--b1\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"big.pdf\"\r\n\r\n{}\r\n--b1--\r\n",
        "A".repeat(11_000_000)
    );
    let check = trips("deliverability.size", Severity::Warning, &replaced("--b1--\r\n", &attachment), &envelope());
    assert!(check.detail.contains("11.0 MB"), "{}", check.detail);
}

#[test]
fn deliverability_list_unsubscribe() {
    let no_post = replaced("List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n", "");
    trips("deliverability.list-unsubscribe", Severity::Warning, &no_post, &envelope());
    let mailto_only = replaced("<https://shop.example/unsubscribe?u=1>, ", "");
    trips("deliverability.list-unsubscribe", Severity::Error, &mailto_only, &envelope());
    let malformed = replaced("<https://shop.example/unsubscribe?u=1>", "https://shop.example/unsubscribe");
    trips("deliverability.list-unsubscribe", Severity::Error, &malformed, &envelope());
    let none =
        replaced("List-Unsubscribe: <https://shop.example/unsubscribe?u=1>, <mailto:unsubscribe@shop.example>\r\n", "");
    trips("deliverability.list-unsubscribe", Severity::Error, &none, &envelope());
    let neither = none.replace("List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n", "");
    assert_eq!(
        findings(&run_checks(&neither, &envelope()), "deliverability.list-unsubscribe")[0].severity,
        Severity::Notice
    );
}

#[test]
fn deliverability_image_only() {
    let images =
        "<img src=\"https://shop.example/a.png\" alt=\"Sale\"><img src=\"https://shop.example/b.png\" alt=\"Now\">";
    let check = trips(
        "deliverability.image-only",
        Severity::Warning,
        &replaced("<p>Thanks for your order.</p>", images),
        &envelope(),
    );
    assert!(check.detail.starts_with("2 image(s)"), "{}", check.detail);
    // The same images with a real text beside them are fine.
    let text = format!(
        "{images}<p>{}</p>",
        "Our winter sale has started: everything in the shop is 20% off until Sunday. ".repeat(4)
    );
    assert!(
        findings(
            &run_checks(&replaced("<p>Thanks for your order.</p>", &text), &envelope()),
            "deliverability.image-only"
        )
        .is_empty()
    );
}

/// The README's table of checks: each check's ID, what it looks at, and how many of
/// the corpus's messages it flags at each severity. `PIGEONHOLE_BLESS=1` rewrites it.
#[test]
fn readme_table_of_checks_matches_the_corpus() {
    let specs: Vec<&Spec> = CATEGORIES.iter().flat_map(|(specs, _)| specs.iter().copied()).collect();
    let files = crate::mail::corpus::files();
    let mut flagged: HashMap<&str, [usize; 3]> = HashMap::new();
    let mut ran: Vec<&str> = Vec::new();
    for path in &files {
        let raw = std::fs::read(path).expect("read corpus file");
        // As files, imported: no SMTP session.
        let report = report(&raw, &Envelope::default(), &Extras::default());
        ran.extend(
            report
                .checks
                .iter()
                .map(|check| check.id.as_str())
                .filter_map(|id| specs.iter().find(|s| s.id == id).map(|s| s.id)),
        );
        for spec in &specs {
            let worst = report.checks.iter().filter(|c| c.id == spec.id).map(|c| c.severity).min();
            if let Some(severity @ (Severity::Error | Severity::Warning | Severity::Notice)) = worst {
                flagged.entry(spec.id).or_default()[severity as usize] += 1;
            }
        }
    }
    let mut table = format!(
        "| check | what it looks at | corpus messages flagged (of {}), as imported files: errors / warnings / notices |\n| --- | --- | --- |\n",
        files.len()
    );
    for spec in &specs {
        let counts = match flagged.get(spec.id) {
            Some([e, w, n]) => format!("{e} / {w} / {n}"),
            None if ran.contains(&spec.id) => "0 / 0 / 0".to_string(),
            None => "not run on files (needs the SMTP session, the verifier, `links=true` or SpamAssassin)".to_string(),
        };
        table.push_str(&format!("| `{}` | {} | {counts} |\n", spec.id, spec.title));
    }
    let readme_path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../README.md");
    let readme = std::fs::read_to_string(&readme_path).expect("read README.md");
    let (begin, end) = ("<!-- checks-table -->\n", "<!-- /checks-table -->");
    let start = readme.find(begin).expect("README.md has a <!-- checks-table --> marker") + begin.len();
    let stop = readme.find(end).expect("README.md has a <!-- /checks-table --> marker");
    if std::env::var("PIGEONHOLE_BLESS").as_deref() == Ok("1") {
        std::fs::write(&readme_path, format!("{}{table}{}", &readme[..start], &readme[stop..]))
            .expect("write README.md");
        return;
    }
    assert!(
        readme[start..stop] == table,
        "README.md's table of checks is stale: run PIGEONHOLE_BLESS=1 cargo test -p pigeonhole readme_table"
    );
}

/// The HTML-based checks raise no error-level finding on any corpus message.
#[test]
fn html_checks_raise_no_error_on_the_corpus() {
    let html_categories = [Category::Html, Category::Links, Category::Accessibility, Category::Privacy];
    for path in crate::mail::corpus::files() {
        let raw = std::fs::read(&path).expect("read corpus file");
        let report = report(&raw, &envelope(), &Extras::default());
        for check in report.checks.iter().filter(|check| html_categories.contains(&check.category)) {
            assert_ne!(check.severity, Severity::Error, "{}: {check:?}", path.display());
        }
    }
}

#[test]
fn mime_calendar_invalid() {
    let calendar = |ics: &str| {
        replaced(
            "--b1--\r\n",
            &format!("--b1\r\nContent-Type: text/calendar; charset=utf-8; method=REQUEST\r\n\r\n{ics}\r\n--b1--\r\n"),
        )
    };
    let check =
        trips("mime.calendar-invalid", Severity::Warning, &calendar("BEGIN:VCALENDAR\r\nnot ical"), &envelope());
    assert!(check.detail.contains("not valid iCalendar"), "{}", check.detail);
    // A Google Calendar invitation reads cleanly.
    let google = include_str!("../../mail/testdata/google-calendar-invite.eml");
    let report = run_checks(google, &envelope());
    assert!(findings(&report, "mime.calendar-invalid").is_empty());
}
