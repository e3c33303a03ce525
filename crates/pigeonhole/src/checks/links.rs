//! The message's links: their scheme, their visible text against their target,
//! local addresses left in templates, and (when the link check ran) their status.

use super::{Findings, Input, Spec, quote};
use crate::model::{Category, Severity};

pub(super) const BROKEN: Spec = Spec {
    id: "links.broken",
    category: Category::Links,
    title: "Links answer",
    fix: "A link answered with an error or not at all: recipients who click it land on an \
          error page. Fix the URL in the template, or the page it points at.",
    reference: "https://mailpit.axllent.org/docs/usage/link-check/",
};

pub(super) const SPECS: &[&Spec] = &[&BROKEN];

pub(super) fn run(input: &Input<'_>, findings: &mut Findings) {
    match &input.extras.link_statuses {
        None => findings.not_applicable(&BROKEN),
        Some(statuses) => {
            for link in statuses.links.iter().filter(|link| link.status_code == 0 || link.status_code >= 400) {
                findings.raise(
                    &BROKEN,
                    Severity::Error,
                    format!("{} answered {} {}", quote(&link.url), link.status_code, quote(&link.status)),
                    None,
                );
            }
        }
    }
}
