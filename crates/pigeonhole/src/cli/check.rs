//! `pigeonhole check [ID|latest]`: a message's check report from a running server
//! (`GET /api/v1/message/{ID}/checks`), as a table or JSON, with an exit code a CI
//! step can gate on.
//!
//! Exit codes: 0 nothing at or above `--fail-on` (after `--ignore`); 1 something
//! is; 2 a usage error, an unknown message or no server.

use std::io::IsTerminal;

use clap::{Args, ValueEnum};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};

use pigeonhole::model::{Check, CheckReport, Severity};

use super::Failure;
use super::client::{Api, EXIT_ERROR, REQUEST_TIMEOUT, ServerArgs, print_line, write_stdout};

/// A check at or above `--fail-on` failed.
pub const EXIT_FAILED: u8 = 1;

#[derive(Args, Debug)]
pub struct CheckArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    /// Message ID, or `latest` for the newest message (with --query: the newest matching it).
    #[arg(default_value = "latest")]
    pub id: String,
    /// With `latest`: the newest message matching this search query.
    #[arg(long, short)]
    pub query: Option<String>,
    /// Exit 1 when a check fails at this severity or worse.
    #[arg(long, value_enum, default_value_t = FailOn::Error)]
    pub fail_on: FailOn,
    /// Check IDs to leave out (comma separated, or repeated); `category.*` leaves out a category.
    #[arg(long, value_delimiter = ',')]
    pub ignore: Vec<String>,
    /// Check every link's status too (the server fetches them; local addresses refused unless it allows them).
    #[arg(long)]
    pub links: bool,
    /// Print the report as JSON (the API's shape, less the ignored checks) instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    Error,
    Warning,
    Notice,
}

impl FailOn {
    fn fails(self, severity: Severity) -> bool {
        let threshold = match self {
            FailOn::Error => Severity::Error,
            FailOn::Warning => Severity::Warning,
            FailOn::Notice => Severity::Notice,
        };
        severity <= threshold
    }
}

pub fn run(args: CheckArgs) -> Result<(), Failure> {
    let api = Api::new(&args.server, REQUEST_TIMEOUT)?;
    let id = utf8_percent_encode(args.id.trim(), NON_ALPHANUMERIC).to_string();
    let path = format!("/api/v1/message/{id}/checks");
    let mut params = Vec::new();
    if let Some(query) = &args.query {
        params.push(("query", query.as_str()));
    }
    if args.links {
        params.push(("links", "true"));
    }
    let what = format!("GET {path}");
    let response = api.send(api.client.get(api.url(&path, &params)), &what)?;
    let body = api.ok_body(response, &what)?;
    let report: CheckReport = serde_json::from_slice(&body)
        .map_err(|e| Failure::new(EXIT_ERROR, format!("{what}: the answer is not a check report ({e})")))?;

    let ignored = |check: &Check| args.ignore.iter().any(|pattern| matches(pattern.trim(), &check.id));
    for pattern in &args.ignore {
        if !report.checks.iter().any(|check| matches(pattern.trim(), &check.id)) {
            eprintln!("warning: --ignore {pattern}: no check with that ID in this report");
        }
    }
    let report = CheckReport::new(report.checks.into_iter().filter(|check| !ignored(check)).collect());

    if args.json {
        let json = serde_json::to_vec_pretty(&report).expect("a report serializes");
        print_line(&json)?;
    } else {
        write_stdout(table(&args.id, &report, std::io::stdout().is_terminal()).as_bytes())?;
    }
    let failed = report.checks.iter().filter(|check| args.fail_on.fails(check.severity)).count();
    if failed > 0 {
        let at = format!("{:?}", args.fail_on).to_lowercase();
        return Err(Failure::new(EXIT_FAILED, format!("{failed} finding(s) at or above --fail-on {at}")));
    }
    Ok(())
}

/// `pattern` is the ID, or `category.*` of its category.
fn matches(pattern: &str, id: &str) -> bool {
    match pattern.strip_suffix(".*") {
        Some(category) => id.split_once('.').is_some_and(|(of, _)| of == category),
        None => pattern == id,
    }
}

/// The report for people: a summary line, each problem with its detail, fix and
/// place, then the passed checks' IDs on one line.
fn table(id: &str, report: &CheckReport, colour: bool) -> String {
    let paint = |code: &str, text: &str| if colour { format!("\x1b[{code}m{text}\x1b[0m") } else { text.to_string() };
    let summary = report.summary;
    let mut out = format!(
        "{id}: score {}/100 — {} error(s), {} warning(s), {} notice(s), {} passed\n",
        report.score, summary.errors, summary.warnings, summary.notices, summary.passed
    );
    let width = report.checks.iter().map(|check| check.id.len()).max().unwrap_or(0);
    for check in report.checks.iter().filter(|check| check.severity != Severity::Pass) {
        let (label, code) = match check.severity {
            Severity::Error => ("ERROR  ", "1;31"),
            Severity::Warning => ("WARNING", "1;33"),
            Severity::Notice => ("NOTICE ", "36"),
            Severity::Pass => ("PASS   ", "32"),
        };
        // Message content in a detail is data: control characters cannot move the cursor.
        let detail: String = check.detail.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
        out.push_str(&format!("\n{} {:width$}  {}\n", paint(code, label), check.id, check.title));
        out.push_str(&format!("        {detail}\n"));
        if let Some(at) = &check.location {
            let mut place = Vec::new();
            if let Some(header) = &at.header {
                place.push(format!("header {header}"));
            }
            if let Some(part) = &at.part {
                place.push(format!("part {part}"));
            }
            if let Some(element) = &at.element {
                place.push(format!("element {element}"));
            }
            if let Some(line) = at.line {
                place.push(format!("line {line}"));
            }
            out.push_str(&format!("        where: {}\n", place.join(", ")));
        }
        out.push_str(&format!("        fix: {}\n", check.fix));
        out.push_str(&format!("        see: {}\n", check.reference));
    }
    let passed: Vec<&str> =
        report.checks.iter().filter(|check| check.severity == Severity::Pass).map(|check| check.id.as_str()).collect();
    if !passed.is_empty() {
        out.push_str(&format!("\n{} {}\n", paint("32", "passed:"), passed.join(" ")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ignore_patterns() {
        assert!(matches("headers.date-missing", "headers.date-missing"));
        assert!(!matches("headers.date", "headers.date-missing"));
        assert!(matches("headers.*", "headers.date-missing"));
        assert!(!matches("header.*", "headers.date-missing"));
    }

    #[test]
    fn fail_on_thresholds() {
        assert!(FailOn::Error.fails(Severity::Error));
        assert!(!FailOn::Error.fails(Severity::Warning));
        assert!(FailOn::Warning.fails(Severity::Error) && FailOn::Warning.fails(Severity::Warning));
        assert!(!FailOn::Warning.fails(Severity::Notice) && !FailOn::Notice.fails(Severity::Pass));
    }
}
