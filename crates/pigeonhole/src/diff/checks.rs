//! The check reports' diff: the errors and warnings ([`crate::checks::report`],
//! without the network's extras) that one message raises and the other does not.
//!
//! Findings are matched by check ID and severity, counted: a check that warns
//! twice in A and three times in B has one new warning, whatever the details say
//! (they quote content, a changed URL, a date). Only the checks that applied to
//! both messages are compared: a file has no SMTP session, so `smtp.no-tls` says
//! nothing about how a golden `.eml` differs from the message an app sent.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

use super::Side;
use crate::checks::{self, Extras};
use crate::model::{Check, CheckReport, CheckSummary, Severity};

/// The check reports' diff.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "PascalCase")]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct ChecksDiff {
    /// Neither message has an error or warning the other lacks.
    pub equal: bool,
    /// Errors and warnings B has and A not: what the change broke.
    pub added: Vec<CheckChange>,
    /// Errors and warnings A has and B not: what the change fixed.
    pub removed: Vec<CheckChange>,
    /// A's report's counts and score.
    pub a: ChecksSide,
    /// B's.
    pub b: ChecksSide,
}

/// One report's counts and score.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "PascalCase")]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct ChecksSide {
    pub score: u8,
    pub summary: CheckSummary,
}

/// A finding one side has and the other not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "PascalCase")]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct CheckChange {
    #[serde(rename = "ID")]
    pub id: String,
    pub severity: Severity,
    pub title: String,
    /// What was found (message content quoted as data).
    pub detail: String,
}

/// `a`'s check report against `b`'s.
pub fn compare(a: Side<'_>, b: Side<'_>) -> ChecksDiff {
    let extras = Extras::default();
    // The two reports are independent CPU work: one on another thread.
    let (a_report, b_report) = std::thread::scope(|scope| {
        let a_report = scope.spawn(|| checks::report(a.raw, a.envelope, &extras));
        let b_report = checks::report(b.raw, b.envelope, &extras);
        (a_report.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)), b_report)
    });
    compare_reports(&a_report, &b_report)
}

fn compare_reports(a: &CheckReport, b: &CheckReport) -> ChecksDiff {
    let ran = |report: &CheckReport| report.checks.iter().map(|check| check.id.clone()).collect::<HashSet<_>>();
    let (a_ran, b_ran) = (ran(a), ran(b));
    let both: HashSet<&String> = a_ran.intersection(&b_ran).collect();
    let added = extra_findings(b, a, &both);
    let removed = extra_findings(a, b, &both);
    ChecksDiff {
        equal: added.is_empty() && removed.is_empty(),
        added,
        removed,
        a: ChecksSide { score: a.score, summary: a.summary },
        b: ChecksSide { score: b.score, summary: b.summary },
    }
}

/// The errors and warnings of `report` beyond the count `other` has of the same
/// check and severity, for the checks in `both`.
fn extra_findings(report: &CheckReport, other: &CheckReport, both: &HashSet<&String>) -> Vec<CheckChange> {
    let counted =
        |check: &&Check| matches!(check.severity, Severity::Error | Severity::Warning) && both.contains(&check.id);
    let mut others: HashMap<(&str, Severity), usize> = HashMap::new();
    for check in other.checks.iter().filter(counted) {
        *others.entry((&check.id, check.severity)).or_default() += 1;
    }
    let mut extra = Vec::new();
    for check in report.checks.iter().filter(counted) {
        match others.get_mut(&(check.id.as_str(), check.severity)) {
            Some(count) if *count > 0 => *count -= 1,
            _ => extra.push(CheckChange {
                id: check.id.clone(),
                severity: check.severity,
                title: check.title.clone(),
                detail: check.detail.clone(),
            }),
        }
    }
    extra
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Category, Envelope};

    fn check(id: &str, severity: Severity, detail: &str) -> Check {
        Check {
            id: id.into(),
            category: Category::Html,
            severity,
            title: "t".into(),
            detail: detail.into(),
            fix: String::new(),
            reference: String::new(),
            location: None,
        }
    }

    #[test]
    fn findings_are_counted_by_id_and_severity() {
        let a = CheckReport::new(vec![
            check("html.a", Severity::Warning, "one"),
            check("html.b", Severity::Error, "gone"),
            check("html.c", Severity::Notice, "notices do not count"),
        ]);
        let b = CheckReport::new(vec![
            check("html.a", Severity::Warning, "other detail"),
            check("html.a", Severity::Warning, "two"),
            check("html.b", Severity::Pass, ""),
            check("html.c", Severity::Pass, ""),
        ]);
        let diff = compare_reports(&a, &b);
        assert!(!diff.equal);
        assert_eq!(
            diff.added.iter().map(|c| (c.id.as_str(), c.detail.as_str())).collect::<Vec<_>>(),
            [("html.a", "two")]
        );
        assert_eq!(diff.removed.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(), ["html.b"]);
    }

    #[test]
    fn checks_that_ran_on_one_side_only_are_not_compared() {
        let a = CheckReport::new(vec![check("smtp.no-tls", Severity::Warning, "clear text")]);
        let b = CheckReport::new(vec![]);
        assert!(compare_reports(&a, &b).equal);
    }

    #[test]
    fn a_real_report_pair() {
        let good = b"From: a@example.test\r\nTo: b@example.test\r\nSubject: Hi\r\nDate: Mon, 07 Dec 2026 10:00:00 +0000\r\nMessage-ID: <1@example.test>\r\n\r\nHello\r\n";
        let no_date = b"From: a@example.test\r\nTo: b@example.test\r\nSubject: Hi\r\nMessage-ID: <1@example.test>\r\n\r\nHello\r\n";
        let envelope = Envelope::default();
        let side = |raw: &'static [u8]| Side { label: "x", raw, envelope: &envelope };
        assert!(compare(side(good), side(good)).equal);
        let diff = compare(side(good), side(no_date));
        assert!(diff.added.iter().any(|c| c.id.starts_with("headers.date")), "{diff:?}");
        assert!(diff.removed.is_empty());
    }
}
