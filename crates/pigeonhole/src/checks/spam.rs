//! SpamAssassin's verdict, when the engine runs with `--enable-spamassassin`: the
//! check is absent from the report otherwise.

use super::{Findings, Input, Spec};
use crate::model::{Category, Severity};

pub(super) const SPAMASSASSIN: Spec = Spec {
    id: "spam.spamassassin",
    category: Category::Spam,
    title: "SpamAssassin score",
    fix: "SpamAssassin's rules that matched say what looks like spam: fix the highest-scoring \
          ones first (missing authentication, HTML-only, URL shorteners, all-caps subjects).",
    reference: "https://spamassassin.apache.org/old/tests_3_3_x.html",
};

pub(super) const SPECS: &[&Spec] = &[&SPAMASSASSIN];

pub(super) fn run(input: &Input<'_>, findings: &mut Findings) {
    let Some(spam) = &input.extras.spam else {
        findings.not_applicable(&SPAMASSASSIN);
        return;
    };
    let rules = || {
        let mut names: Vec<String> =
            spam.rules.iter().take(8).map(|rule| format!("{} ({:+})", rule.name, rule.score)).collect();
        if spam.rules.len() > names.len() {
            names.push(format!("{} more", spam.rules.len() - names.len()));
        }
        names.join(", ")
    };
    if !spam.error.is_empty() {
        findings.raise(&SPAMASSASSIN, Severity::Notice, format!("No verdict: {}", spam.error), None);
    } else if spam.is_spam {
        findings.raise(&SPAMASSASSIN, Severity::Error, format!("Spam, score {}: {}", spam.score, rules()), None);
    } else if spam.score > 0.0 {
        findings.raise(&SPAMASSASSIN, Severity::Notice, format!("Not spam, score {}: {}", spam.score, rules()), None);
    } else {
        findings.raise(&SPAMASSASSIN, Severity::Pass, format!("Not spam, score {}.", spam.score), None);
    }
}
