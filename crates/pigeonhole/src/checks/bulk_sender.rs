//! Gmail's and Yahoo's 2024 rules for bulk senders, against one message: SPF and DKIM
//! pass, the From domain publishes DMARC, From aligns with SPF or DKIM, list mail
//! has a one-click unsubscribe (RFC 8058), and the session used TLS. On list mail
//! (List-Unsubscribe, List-Id or Precedence: bulk/list) each rule that fails is a
//! warning; on other mail, which the rules may not concern, a notice saying what would
//! fail if it were sent in bulk. A rule that cannot be judged (a key or record not
//! available, no SMTP session) is a notice. Absent from the report when the
//! authentication verdicts were not gathered.

use super::{Findings, Input, Spec};
use crate::mail::authentication::{AuthResults, DkimOutcome, DmarcOutcome, SpfOutcome};
use crate::model::{Category, Severity};

pub(super) const BULK_SENDER: Spec = Spec {
    id: "deliverability.bulk-sender",
    category: Category::Deliverability,
    title: "Meets the Gmail and Yahoo bulk-sender rules",
    fix: "Senders of more than 5,000 messages a day to Gmail must pass both SPF and DKIM, \
          publish DMARC (p=none is enough) with From aligned to SPF or DKIM, send over TLS, \
          and give marketing mail a one-click unsubscribe (List-Unsubscribe with an https \
          URI and List-Unsubscribe-Post: List-Unsubscribe=One-Click). Otherwise their mail \
          is rejected or sent to spam.",
    reference: "https://support.google.com/a/answer/81126",
};

pub(super) const SPECS: &[&Spec] = &[&BULK_SENDER];

/// One rule's state for this message.
enum Rule {
    Met,
    Failed(String),
    Unknown(String),
}

pub(super) fn run(input: &Input<'_>, findings: &mut Findings) {
    let Some(auth) = &input.extras.auth else {
        findings.not_applicable(&BULK_SENDER);
        return;
    };
    let rules = [spf(auth), dkim(auth), dmarc_record(auth), alignment(auth), one_click(input), tls(input)];
    let bulk = is_list_mail(input);
    for rule in rules {
        match rule {
            Rule::Met => {}
            Rule::Failed(detail) if bulk => findings.raise(&BULK_SENDER, Severity::Warning, detail, None),
            Rule::Failed(detail) => {
                findings.raise(&BULK_SENDER, Severity::Notice, format!("If sent in bulk: {detail}"), None)
            }
            Rule::Unknown(detail) => findings.raise(&BULK_SENDER, Severity::Notice, detail, None),
        }
    }
}

fn spf(auth: &AuthResults) -> Rule {
    match auth.spf.outcome {
        SpfOutcome::Pass => Rule::Met,
        SpfOutcome::NotAvailable | SpfOutcome::NoSendingIp | SpfOutcome::TemporaryError => {
            Rule::Unknown("SPF: unknown (the SPF record is not available, or there is no sending IP).".to_string())
        }
        _ => Rule::Failed("SPF does not pass (see auth.spf).".to_string()),
    }
}

fn dkim(auth: &AuthResults) -> Rule {
    if auth.dkim.iter().any(|verdict| verdict.outcome == DkimOutcome::Pass) {
        Rule::Met
    } else if auth.dkim.is_empty() {
        Rule::Failed("DKIM: the message is not signed.".to_string())
    } else if auth
        .dkim
        .iter()
        .all(|verdict| matches!(verdict.outcome, DkimOutcome::KeyNotAvailable | DkimOutcome::TemporaryError(_)))
    {
        Rule::Unknown("DKIM: unknown (the signing key is not available).".to_string())
    } else {
        Rule::Failed("DKIM does not pass (see auth.dkim).".to_string())
    }
}

fn dmarc_record(auth: &AuthResults) -> Rule {
    match &auth.dmarc.outcome {
        _ if auth.dmarc.record.is_some() => Rule::Met,
        DmarcOutcome::NotAvailable | DmarcOutcome::TemporaryError(_) => {
            Rule::Unknown("DMARC record: unknown (not available).".to_string())
        }
        _ => Rule::Failed("The From domain publishes no DMARC record.".to_string()),
    }
}

fn alignment(auth: &AuthResults) -> Rule {
    let dmarc = &auth.dmarc;
    if dmarc.dkim_aligned || dmarc.spf_aligned {
        Rule::Met
    } else if dmarc.record.is_none() {
        // mail-auth judges alignment against a policy record; without one it cannot.
        Rule::Unknown("Alignment of From with SPF or DKIM: unknown without a DMARC record.".to_string())
    } else {
        Rule::Failed("From aligns with neither a passing SPF nor a passing DKIM domain.".to_string())
    }
}

/// List mail (List-Unsubscribe, List-Id or Precedence: bulk/list) needs RFC 8058's
/// one-click unsubscribe; a transactional message does not.
/// Whether the message says it is list or bulk mail.
fn is_list_mail(input: &Input<'_>) -> bool {
    let header = |name: &'static str| input.message.header_raw(name).map(str::trim);
    header("List-Unsubscribe").is_some()
        || header("List-Id").is_some()
        || header("Precedence")
            .is_some_and(|value| value.eq_ignore_ascii_case("bulk") || value.eq_ignore_ascii_case("list"))
}

fn one_click(input: &Input<'_>) -> Rule {
    if !is_list_mail(input) {
        return Rule::Met;
    }
    let unsubscribe = input.message.header_raw("List-Unsubscribe").map(str::trim);
    let https = unsubscribe.is_some_and(|value| value.to_ascii_lowercase().contains("<https://"));
    let post = input
        .message
        .header_raw("List-Unsubscribe-Post")
        .map(str::trim)
        .is_some_and(|value| value.eq_ignore_ascii_case("List-Unsubscribe=One-Click"));
    match (https, post) {
        (true, true) => Rule::Met,
        (false, _) => {
            Rule::Failed("List mail without a one-click unsubscribe: List-Unsubscribe has no https URI.".to_string())
        }
        (true, false) => Rule::Failed(
            "List mail without a one-click unsubscribe: no List-Unsubscribe-Post: List-Unsubscribe=One-Click."
                .to_string(),
        ),
    }
}

fn tls(input: &Input<'_>) -> Rule {
    if input.envelope.transcript.is_empty() {
        Rule::Unknown("TLS: unknown (the message did not come over SMTP).".to_string())
    } else if input.envelope.tls {
        Rule::Met
    } else {
        Rule::Failed("The SMTP session did not use TLS (STARTTLS).".to_string())
    }
}
