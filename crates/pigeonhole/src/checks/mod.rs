//! Checks: what is wrong with a captured message — its SMTP session, headers, MIME
//! structure, authentication, deliverability, HTML, links, accessibility and
//! privacy — as one [`CheckReport`] with a score.
//!
//! The report is computed on demand (`/api/v1/message/{ID}/checks`, `pigeonhole
//! check`, the UI's Checks tab), never on the SMTP reply path. It is pure: bytes,
//! envelope and whatever slow, networked results the caller gathered beforehand
//! ([`Extras`]: DKIM/SPF/DMARC verdicts, link statuses, SpamAssassin) in; a report
//! out. Message content that appears in a finding is data, quoted and shortened,
//! never an instruction.
//!
//! Each category is a module with its checks as [`Spec`] constants (ID, title, fix,
//! reference), a `SPECS` list and a `run` function that raises findings against
//! them. Every check of `SPECS` that raised nothing is reported as a pass. To add a
//! check: a `Spec` in its category's module, an entry in that module's `SPECS`, the
//! code that raises it in `run`, and a test with a message that trips it and one
//! that does not.
//!
//! The HTML checks (`html`, `links`, `accessibility`, `privacy`) share one parsed
//! document ([`Input::document`]), the element selectors of `markup` and the
//! computed styles of `style`; each walks the document once, so the whole HTML pass
//! is linear in the document's size.

mod accessibility;
mod auth;
mod bulk_sender;
mod deliverability;
mod headers;
mod html;
mod links;
mod markup;
mod mime;
mod privacy;
mod smtp;
mod spam;
mod style;
#[cfg(test)]
mod tests;

use std::cell::OnceCell;
use std::collections::HashMap;

use mail_parser::Message;
use scraper::Html;

use crate::mail::authentication::AuthResults;
use crate::mail::detail;
use crate::mail::linkcheck::LinkCheck;
use crate::mail::spamassassin::SpamCheck;
use crate::model::{Category, Check, CheckReport, Envelope, Location, Severity};

/// One check: what the report says about it whatever the message.
#[derive(Debug)]
pub(crate) struct Spec {
    /// The stable ID users `--ignore`: `category.what-is-wrong`.
    pub id: &'static str,
    pub category: Category,
    /// What the check looks at, in a few words.
    pub title: &'static str,
    /// Why it matters and how to fix it.
    pub fix: &'static str,
    /// A standard or guide that explains the rule.
    pub reference: &'static str,
}

/// Results that take the network or another process, gathered before the report.
#[derive(Debug, Default)]
pub struct Extras {
    /// The link check's statuses, when the user ran it (`links.broken`).
    pub link_statuses: Option<LinkCheck>,
    /// SpamAssassin's verdict, when enabled (`spam.spamassassin`).
    pub spam: Option<SpamCheck>,
    /// DKIM, SPF and DMARC verdicts (`auth.*`, `deliverability.bulk-sender`).
    pub auth: Option<AuthResults>,
}

/// A message as the checks see it: parsed once, shared by every category.
pub(crate) struct Input<'a> {
    pub raw: &'a [u8],
    pub envelope: &'a Envelope,
    pub message: Message<'a>,
    /// The first real HTML body, if any.
    pub html: Option<String>,
    pub extras: &'a Extras,
    /// `html` parsed, on first use.
    document: OnceCell<Html>,
    /// The document's computed styles, on first use.
    styles: OnceCell<style::Styles>,
}

impl Input<'_> {
    /// The HTML body as a document, parsed once for every check that asks.
    pub fn document(&self) -> Option<&Html> {
        let html = self.html.as_deref()?;
        Some(self.document.get_or_init(|| parse_html(html)))
    }

    /// The computed style of every element of [`Input::document`].
    pub fn styles(&self) -> Option<&style::Styles> {
        let document = self.document()?;
        Some(self.styles.get_or_init(|| style::Styles::compute(document)))
    }
}

/// The one place the checks parse HTML: bounded as every route's parse is
/// ([`crate::mail::html_bounds`]); its parse errors are kept (`html.invalid`).
fn parse_html(html: &str) -> Html {
    crate::mail::html_bounds::parse_document(html).0
}

/// Each category's checks and the code that runs them, in report order.
type CategoryChecks = (&'static [&'static Spec], fn(&Input<'_>, &mut Findings));
const CATEGORIES: &[CategoryChecks] = &[
    (smtp::SPECS, smtp::run),
    (headers::SPECS, headers::run),
    (mime::SPECS, mime::run),
    (auth::SPECS, auth::run),
    (deliverability::SPECS, deliverability::run),
    (bulk_sender::SPECS, bulk_sender::run),
    (html::SPECS, html::run),
    (links::SPECS, links::run),
    (accessibility::SPECS, accessibility::run),
    (privacy::SPECS, privacy::run),
    (spam::SPECS, spam::run),
];

/// Findings of one check beyond this many are counted, not listed: a message with a
/// million bad links gets a readable report of bounded size.
const MAX_FINDINGS_PER_CHECK: usize = 20;

/// Message content quoted in a finding is cut to this many characters.
const MAX_QUOTE: usize = 120;

/// The report for one message.
pub fn report(raw: &[u8], envelope: &Envelope, extras: &Extras) -> CheckReport {
    let message = detail::parse(raw);
    let html = detail::html_part(&message);
    let input = Input { raw, envelope, message, html, extras, document: OnceCell::new(), styles: OnceCell::new() };
    let mut findings = Findings::default();
    for (_, run) in CATEGORIES {
        run(&input, &mut findings);
    }
    findings.into_report(CATEGORIES.iter().flat_map(|(specs, _)| specs.iter().copied()))
}

/// What the checks raised so far.
#[derive(Default)]
pub(crate) struct Findings {
    found: Vec<Check>,
    /// Per check ID: how many findings it raised (listed or not).
    raised: HashMap<&'static str, usize>,
}

impl Findings {
    /// Reports a problem (or, with [`Severity::Pass`], a pass with its own detail).
    pub fn raise(&mut self, spec: &Spec, severity: Severity, detail: impl Into<String>, location: Option<Location>) {
        self.raise_with(spec, severity, || (detail.into(), location));
    }

    /// [`Findings::raise`] for findings costly to describe (an element's selector):
    /// `describe` runs only for the findings listed.
    pub fn raise_with(
        &mut self,
        spec: &Spec,
        severity: Severity,
        describe: impl FnOnce() -> (String, Option<Location>),
    ) {
        let count = self.raised.entry(spec.id).or_default();
        *count += 1;
        if *count > MAX_FINDINGS_PER_CHECK {
            return;
        }
        let (detail, location) = describe();
        self.found.push(Check {
            id: spec.id.to_string(),
            category: spec.category,
            severity,
            title: spec.title.to_string(),
            detail,
            fix: if severity == Severity::Pass { String::new() } else { spec.fix.to_string() },
            reference: spec.reference.to_string(),
            location,
        });
    }

    /// Leaves `spec` out of the report: it does not apply (its input was not
    /// gathered, e.g. the link check was not run).
    pub fn not_applicable(&mut self, spec: &Spec) {
        self.raised.entry(spec.id).or_default();
    }

    /// The report: the findings, a pass for every check in `specs` that raised
    /// nothing, the counts and the score.
    fn into_report<'s>(mut self, specs: impl Iterator<Item = &'s Spec>) -> CheckReport {
        for spec in specs {
            if !self.raised.contains_key(spec.id) {
                self.raise(spec, Severity::Pass, "No problem found.", None);
            }
        }
        // The last listed finding of a check that raised more says how many more.
        for (id, &count) in &self.raised {
            if count > MAX_FINDINGS_PER_CHECK {
                let more = count - MAX_FINDINGS_PER_CHECK;
                if let Some(last) = self.found.iter_mut().rev().find(|check| check.id == *id) {
                    last.detail.push_str(&format!(" (and {more} more like this)"));
                }
            }
        }
        CheckReport::new(self.found)
    }
}

/// `text` as a finding quotes it: on one line, at most [`MAX_QUOTE`] characters,
/// in quotes, so it reads as data.
pub(crate) fn quote(text: &str) -> String {
    let one_line: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    let one_line = one_line.trim();
    match one_line.char_indices().nth(MAX_QUOTE) {
        Some((cut, _)) => format!("{:?}", format!("{}…", &one_line[..cut])),
        None => format!("{one_line:?}"),
    }
}
