//! A message's check report: what is wrong with it, how badly, where, and how to
//! fix it. `checks` makes it; `/api/v1/message/{ID}/checks`, `pigeonhole check`
//! and the UI's Checks tab show it.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

/// The whole report for one message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "PascalCase")]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct CheckReport {
    /// 100 for a message with nothing to report, less for each check that fails
    /// (by its worst severity), never below 0.
    #[schema(minimum = 0, maximum = 100)]
    pub score: u8,
    pub summary: CheckSummary,
    /// Problems first (errors, warnings, notices), then the checks that passed.
    pub checks: Vec<Check>,
}

impl CheckReport {
    /// The report of `checks`: sorted worst first (then by category and ID; the
    /// findings of one check keep their order), counted and scored.
    pub fn new(mut checks: Vec<Check>) -> CheckReport {
        checks.sort_by(|a, b| (a.severity, a.category, &a.id).cmp(&(b.severity, b.category, &b.id)));
        let mut summary = CheckSummary::default();
        for check in &checks {
            *match check.severity {
                Severity::Error => &mut summary.errors,
                Severity::Warning => &mut summary.warnings,
                Severity::Notice => &mut summary.notices,
                Severity::Pass => &mut summary.passed,
            } += 1;
        }
        CheckReport { score: score(&checks), summary, checks }
    }
}

/// 100, less 15 for each check whose worst finding is an error, 5 for a warning, 1
/// for a notice: a check that fails many times counts once.
fn score(checks: &[Check]) -> u8 {
    let mut worst: HashMap<&str, Severity> = HashMap::new();
    for check in checks {
        let entry = worst.entry(&check.id).or_insert(check.severity);
        *entry = (*entry).min(check.severity);
    }
    let penalty: u32 = worst
        .values()
        .map(|severity| match severity {
            Severity::Error => 15,
            Severity::Warning => 5,
            Severity::Notice => 1,
            Severity::Pass => 0,
        })
        .sum();
    100u32.saturating_sub(penalty) as u8
}

/// How many entries of `Checks` have each severity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "PascalCase")]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct CheckSummary {
    pub errors: u32,
    pub warnings: u32,
    pub notices: u32,
    pub passed: u32,
}

/// One finding, or one check that passed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Check {
    /// Stable, for `--ignore`: `headers.date-missing`, `auth.dkim`, …
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "Category")]
    pub category: Category,
    #[serde(rename = "Severity")]
    pub severity: Severity,
    /// What the check looks at, in a few words.
    #[serde(rename = "Title")]
    pub title: String,
    /// What was found in this message (message content quoted as data, shortened).
    #[serde(rename = "Detail")]
    pub detail: String,
    /// Why it matters and how to fix it; `""` for a pass.
    #[serde(rename = "Fix")]
    pub fix: String,
    /// A standard or guide that explains the rule (an https URL).
    #[serde(rename = "Reference")]
    pub reference: String,
    /// Where in the message it applies; null when it applies to the whole message.
    #[serde(rename = "Where")]
    pub location: Option<Location>,
}

/// How bad a finding is. `pass`: the check ran and found nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(test, derive(ts_rs::TS))]
pub enum Severity {
    Error,
    Warning,
    Notice,
    Pass,
}

/// What part of the message a check is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(test, derive(ts_rs::TS))]
pub enum Category {
    Smtp,
    Headers,
    Mime,
    Auth,
    Deliverability,
    Html,
    Links,
    Accessibility,
    Privacy,
    Spam,
}

/// Where a finding applies: any of a header field, a MIME part, a line, an element.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "PascalCase")]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Location {
    /// A header field's name as written (`Subject`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional))]
    pub header: Option<String>,
    /// A MIME part's IMAP section number, as `PartID` in `/parts` (`"1.2"`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional))]
    pub part: Option<String>,
    /// A 1-based line: of the raw message, or of the HTML body when `Element` is set.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional))]
    pub line: Option<u32>,
    /// An HTML element of the HTML body, as a CSS selector from the root
    /// (`html > body > table:nth-of-type(1) > tbody > tr > td > img:nth-of-type(2)`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional))]
    pub element: Option<String>,
}

impl Location {
    pub fn header(name: impl Into<String>) -> Option<Location> {
        Some(Location { header: Some(name.into()), ..Location::default() })
    }

    /// A header field and the raw message's line it starts on.
    pub fn header_at(name: impl Into<String>, line: u32) -> Option<Location> {
        Some(Location { header: Some(name.into()), line: Some(line), ..Location::default() })
    }

    pub fn part(id: impl Into<String>) -> Option<Location> {
        Some(Location { part: Some(id.into()), ..Location::default() })
    }

    pub fn line(line: u32) -> Option<Location> {
        Some(Location { line: Some(line), ..Location::default() })
    }

    pub fn element(selector: impl Into<String>, line: Option<u32>) -> Option<Location> {
        Some(Location { element: Some(selector.into()), line, ..Location::default() })
    }
}
