//! Sender authentication: each DKIM signature, SPF for the sending IP and DMARC for
//! the From domain, from the verdicts the caller gathered
//! ([`crate::mail::authentication`]). Absent from the report when they were not
//! gathered. A key or record that is neither in the `--dkim-keys` file nor looked up
//! (DNS lookups off) is a notice: unknown, not failed.

use super::{Findings, Input, Spec, quote};
use crate::mail::authentication::{DkimOutcome, DmarcOutcome, SpfOutcome};
use crate::model::{Category, Location, Severity};

pub(super) const DKIM: Spec = Spec {
    id: "auth.dkim",
    category: Category::Auth,
    title: "DKIM signature verifies",
    fix: "Sign every message with DKIM at the sending domain and publish the key at \
          selector._domainkey.domain. A body hash mismatch means the body changed after \
          signing (a footer added, line endings or encoding rewritten): sign last. A \
          signature failure means a signed header changed or the published key is not \
          the one that signed.",
    reference: "https://www.rfc-editor.org/rfc/rfc6376#section-6",
};

pub(super) const SPF: Spec = Spec {
    id: "auth.spf",
    category: Category::Auth,
    title: "SPF allows the sending IP",
    fix: "Publish an SPF record (v=spf1 …) at the MAIL FROM domain that lists every \
          server and service that sends for it, ending in ~all or -all.",
    reference: "https://www.rfc-editor.org/rfc/rfc7208",
};

pub(super) const DMARC: Spec = Spec {
    id: "auth.dmarc",
    category: Category::Auth,
    title: "DMARC passes for the From domain",
    fix: "Publish a DMARC record at _dmarc.<From domain> (start with p=none and a rua= \
          address), and make DKIM's d= or the MAIL FROM domain the From domain or a \
          subdomain of it, so that a passing DKIM or SPF aligns with From.",
    reference: "https://www.rfc-editor.org/rfc/rfc7489#section-3",
};

pub(super) const SPECS: &[&Spec] = &[&DKIM, &SPF, &DMARC];

/// Said of a key or record that neither the file nor DNS was asked for.
const NOT_LOOKED_UP: &str = "it is not in the --dkim-keys file, and DNS lookups are off (--dns-lookups)";

pub(super) fn run(input: &Input<'_>, findings: &mut Findings) {
    let Some(auth) = &input.extras.auth else {
        for spec in SPECS {
            findings.not_applicable(spec);
        }
        return;
    };

    if auth.dkim.is_empty() {
        // Apps often hand mail unsigned to a relay or provider that signs it, so an
        // unsigned capture is worth saying, not a failure of the app's mail.
        findings.raise(
            &DKIM,
            Severity::Notice,
            "The message has no DKIM signature (fine if your relay or provider signs it on the way out).",
            None,
        );
    }
    for verdict in &auth.dkim {
        let signature = if verdict.domain.is_empty() {
            "A malformed DKIM-Signature".to_string()
        } else {
            format!("d={} s={} ({})", quote(&verdict.domain), quote(&verdict.selector), verdict.algorithm)
        };
        let key = format!("{}._domainkey.{}", verdict.selector, verdict.domain);
        let (severity, detail) = match &verdict.outcome {
            DkimOutcome::Pass => (Severity::Pass, format!("{signature}: the signature verifies.")),
            DkimOutcome::BodyHashMismatch => {
                (Severity::Error, format!("{signature}: body hash mismatch: the body changed after signing."))
            }
            DkimOutcome::SignatureMismatch => (
                Severity::Error,
                format!(
                    "{signature}: signature verification failed (header hash): a signed header changed, or the key is not the one that signed."
                ),
            ),
            DkimOutcome::KeyNotAvailable => {
                (Severity::Notice, format!("{signature}: key not available: {}: {NOT_LOOKED_UP}.", quote(&key)))
            }
            DkimOutcome::KeyNotFound => {
                (Severity::Error, format!("{signature}: key not found: DNS has no key at {}.", quote(&key)))
            }
            DkimOutcome::KeyRevoked => {
                (Severity::Error, format!("{signature}: the key at {} is revoked (empty p=).", quote(&key)))
            }
            DkimOutcome::Expired => (Severity::Error, format!("{signature}: the signature has expired (x=).")),
            DkimOutcome::TemporaryError(error) => {
                (Severity::Notice, format!("{signature}: the key lookup failed: {}.", quote(error)))
            }
            DkimOutcome::Failed(error) => (Severity::Error, format!("{signature}: {}.", quote(error))),
        };
        findings.raise(&DKIM, severity, detail, Location::header("DKIM-Signature"));
    }

    let spf = &auth.spf;
    let ip = spf.ip.map(|ip| ip.to_string()).unwrap_or_default();
    let domain = quote(&spf.domain);
    let (severity, detail) = match spf.outcome {
        SpfOutcome::Pass => (Severity::Pass, format!("{domain} allows {ip}.")),
        SpfOutcome::Fail => (Severity::Error, format!("{domain} does not allow {ip} (-all).")),
        SpfOutcome::SoftFail => (Severity::Warning, format!("{domain} does not allow {ip} (~all, soft fail).")),
        SpfOutcome::Neutral => (Severity::Warning, format!("{domain} says nothing about {ip} (?all, neutral).")),
        SpfOutcome::NoRecord => (Severity::Warning, format!("{domain} publishes no SPF record.")),
        SpfOutcome::NotAvailable => {
            (Severity::Notice, format!("No SPF record available for {domain}: {NOT_LOOKED_UP}."))
        }
        SpfOutcome::NoSendingIp => (
            Severity::Notice,
            "No sending IP to check: the message did not come over SMTP; name one with --auth-ip.".to_string(),
        ),
        SpfOutcome::TemporaryError => {
            (Severity::Notice, format!("The SPF lookups for {domain} failed (DNS error); try again."))
        }
        SpfOutcome::PermanentError => {
            (Severity::Error, format!("The SPF record of {domain} is broken (syntax, or over 10 lookups)."))
        }
    };
    let detail = match &spf.explanation {
        Some(explanation) if severity != Severity::Pass => {
            format!("{detail} The domain explains: {}", quote(explanation))
        }
        _ => detail,
    };
    findings.raise(&SPF, severity, detail, None);

    let dmarc = &auth.dmarc;
    let from = quote(&dmarc.from_domain);
    let alignment = || {
        let aligned = |yes: bool| if yes { "aligned" } else { "not aligned" };
        match &dmarc.record {
            Some(record) => format!(
                "policy p={}; DKIM {} ({}), SPF {} ({})",
                record.policy,
                aligned(dmarc.dkim_aligned),
                record.dkim_alignment,
                aligned(dmarc.spf_aligned),
                record.spf_alignment
            ),
            None => String::new(),
        }
    };
    let (severity, detail) = match &dmarc.outcome {
        DmarcOutcome::Pass => (Severity::Pass, format!("{from}: {}.", alignment())),
        DmarcOutcome::Fail => {
            let enforced = dmarc.record.as_ref().is_some_and(|record| record.policy != "none");
            (
                if enforced { Severity::Error } else { Severity::Warning },
                format!("{from}: neither DKIM nor SPF passed aligned with From: {}.", alignment()),
            )
        }
        DmarcOutcome::NoRecord => (Severity::Warning, format!("{from} publishes no DMARC record.")),
        DmarcOutcome::NotAvailable => {
            (Severity::Notice, format!("No DMARC record available for {from}: {NOT_LOOKED_UP}."))
        }
        DmarcOutcome::TemporaryError(error) => {
            (Severity::Notice, format!("The DMARC lookup for {from} failed: {}.", quote(error)))
        }
        DmarcOutcome::NoFromDomain => {
            (Severity::Warning, "DMARC cannot apply: the From header has no single domain.".to_string())
        }
    };
    findings.raise(&DMARC, severity, detail, Location::header("From"));
}
