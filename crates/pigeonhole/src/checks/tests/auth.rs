//! The authentication checks (`auth.*`) and the bulk-sender rules over verdicts
//! given as data, then the verifier on dkimpy-signed messages.

use super::*;
use crate::mail::authentication::{
    AuthResults, DkimOutcome, DkimVerdict, DmarcOutcome, DmarcPolicy, DmarcVerdict, SpfOutcome, SpfVerdict,
};
use crate::model::Envelope;

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
    trips_with_auth("auth.dkim", Severity::Notice, CLEAN, &e, unsigned, "no DKIM signature");
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
    let list_mail = replaced("<https://shop.example/unsubscribe?u=1>, ", "");
    trips_with_auth(id, Severity::Warning, &list_mail, &e, passing_auth(), "List-Unsubscribe has no https URI");
    let no_post = replaced("List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n", "");
    trips_with_auth(id, Severity::Warning, &no_post, &e, passing_auth(), "no List-Unsubscribe-Post");
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

#[test]
fn bulk_sender_rules_are_notices_on_mail_that_is_not_list_mail() {
    let one_to_one = replaced(
        "List-Unsubscribe: <https://shop.example/unsubscribe?u=1>, <mailto:unsubscribe@shop.example>\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n",
        "",
    );
    let report = with_auth(&one_to_one, &envelope(), dkim_outcome(DkimOutcome::BodyHashMismatch));
    let found = findings(&report, "deliverability.bulk-sender");
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].severity, Severity::Notice);
    assert!(found[0].detail.starts_with("If sent in bulk: DKIM does not pass"), "{}", found[0].detail);
}
