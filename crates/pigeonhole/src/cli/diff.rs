//! `pigeonhole diff A B`: what changed between two messages ([`pigeonhole::diff`]),
//! as a unified-style diff grouped by part, or the report as JSON, with an exit
//! code a CI step can gate on. A template's golden test is one line:
//! `pigeonhole diff golden.eml latest`.
//!
//! Each of A and B is, in this order:
//!
//! * `latest` or a message ID (22 letters and digits): a stored message;
//! * a path to an existing file, or any argument ending in `.eml`: a mail file;
//! * anything else: a search query (the API's syntax, `subject:welcome
//!   to:bob@example.test`), whose newest match is compared.
//!
//! Two files are compared here, no server needed. A stored message is compared by
//! the server at `--url` (`GET /api/v1/diff`, or `POST /api/v1/diff` with the file
//! when one side is a file), so both sides are read the same way either way.
//!
//! `--visual` compares the two messages' screenshots too, equal when at most
//! `--threshold` percent of the pixels changed; they then judge the HTML body in
//! place of its markup diff (printed, marked informational), so a change of a few
//! pixels passes a threshold. Headers, text, the rest of the structure and checks
//! count either way. The server renders the screenshots, files included (posted,
//! never stored; two files go as one JSON body), so `--visual` always needs it.
//!
//! Exit codes: 0 equal under the options; 1 different; 2 an error (no server, an
//! unknown message, a search with no match, an unreadable file, no browser on the
//! server).

use std::io::IsTerminal;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use clap::Args;
use serde_json::Value;

use pigeonhole::archive::import;
use pigeonhole::diff::{self, DiffOptions, DiffReport, HeaderChangeKind, LineKind, LinesDiff, Side, VisualDiff};
use pigeonhole::model::MessageId;

use super::Failure;
use super::client::{Api, EXIT_ERROR, REQUEST_TIMEOUT, ServerArgs, print_line, write_stdout};

/// The messages differ.
pub const EXIT_DIFFERENT: u8 = 1;

#[derive(Args, Debug)]
pub struct DiffArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    /// The first message: `latest`, a message ID, an .eml file, or a search query (its newest match).
    pub a: String,
    /// The second message, the same ways.
    pub b: String,
    /// Headers to set aside besides the volatile ones (comma separated, or repeated; `X-Trace-*` for a prefix).
    #[arg(long, value_delimiter = ',')]
    pub ignore_header: Vec<String>,
    /// Compare the volatile headers too (Date, Message-ID, Received, signatures, per-send IDs).
    #[arg(long)]
    pub include_volatile: bool,
    /// Print the report as JSON (the API's shape) instead of a diff.
    #[arg(long)]
    pub json: bool,
    /// Compare the messages' screenshots too, pixel by pixel (the server renders them, files too).
    #[arg(long)]
    pub visual: bool,
    /// With --visual: the browser window's width in CSS pixels (200 to 2000).
    #[arg(long, default_value_t = 600, requires = "visual")]
    pub width: u32,
    /// With --visual: the mail client's view (as-sent, gmail, outlook, outlook-com, apple-mail, yahoo, gmail-android).
    #[arg(long, requires = "visual")]
    pub view: Option<String>,
    /// With --visual: the dark mode (none, partial, full, prefers).
    #[arg(long, requires = "visual")]
    pub dark: Option<String>,
    /// With --visual: the percentage of changed pixels still called equal. With --visual the
    /// screenshots judge the HTML body: its markup diff is printed but does not count.
    #[arg(long, default_value_t = 0.0, requires = "visual")]
    pub threshold: f64,
}

impl DiffArgs {
    /// The API's query parameters for the visual diff, when asked for.
    fn visual_params(&self) -> Vec<(&'static str, String)> {
        if !self.visual {
            return Vec::new();
        }
        let mut params = vec![
            ("visual", "1".to_string()),
            ("width", self.width.to_string()),
            ("threshold", self.threshold.to_string()),
        ];
        params.extend(self.view.iter().map(|view| ("view", view.clone())));
        params.extend(self.dark.iter().map(|dark| ("dark", dark.clone())));
        params
    }
}

/// What an argument names.
#[derive(Debug, PartialEq, Eq)]
enum Source {
    /// `latest` or a message ID, as the API takes it.
    Stored(String),
    File(String),
    Search(String),
}

impl Source {
    fn of(argument: &str) -> Source {
        let argument = argument.trim();
        if argument == "latest" || MessageId::parse(argument).is_some() {
            Source::Stored(argument.to_string())
        } else if Path::new(argument).is_file() || argument.to_ascii_lowercase().ends_with(".eml") {
            Source::File(argument.to_string())
        } else {
            Source::Search(argument.to_string())
        }
    }
}

/// A side as compared: a stored message's ID, or a file's bytes and name.
enum Resolved {
    Stored(String),
    File { name: String, raw: Vec<u8> },
}

pub fn run(args: DiffArgs) -> Result<(), Failure> {
    let options = DiffOptions {
        ignore_headers: args.ignore_header.iter().map(|h| h.trim().to_string()).filter(|h| !h.is_empty()).collect(),
        include_volatile: args.include_volatile,
    };
    let (a, b) = (Source::of(&args.a), Source::of(&args.b));
    let visual = args.visual_params();
    // Only the server has a browser: two files with --visual are posted to it.
    let needs_server = args.visual || !matches!((&a, &b), (Source::File(_), Source::File(_)));
    let api = if needs_server { Some(Api::new(&args.server, REQUEST_TIMEOUT)?) } else { None };
    let resolve = |source: Source| match (source, &api) {
        (Source::File(path), _) => read_file(&path),
        (Source::Stored(id), _) => Ok(Resolved::Stored(id)),
        (Source::Search(query), Some(api)) => first_match(api, &query).map(Resolved::Stored),
        (Source::Search(_), None) => unreachable!("a search needs the server, made above"),
    };
    let (a, b) = (resolve(a)?, resolve(b)?);
    let report = match (a, b, &api) {
        (Resolved::File { name: a_name, raw: a_raw }, Resolved::File { name: b_name, raw: b_raw }, None) => {
            let (a_envelope, b_envelope) =
                (import::new_message(a_raw.clone()).envelope, import::new_message(b_raw.clone()).envelope);
            diff::compare(
                Side { label: &a_name, raw: &a_raw, envelope: &a_envelope },
                Side { label: &b_name, raw: &b_raw, envelope: &b_envelope },
                &options,
            )
        }
        (a, b, Some(api)) => server_diff(api, a, b, &options, &visual)?,
        (_, _, None) => unreachable!("a stored message or --visual needs the server, made above"),
    };

    if args.json {
        print_line(&serde_json::to_vec_pretty(&report).expect("a report serializes"))?;
    } else {
        let colour = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        write_stdout(render(&report, colour).as_bytes())?;
    }
    if report.equal {
        Ok(())
    } else {
        Err(Failure::new(
            EXIT_DIFFERENT,
            format!("{} and {} differ ({})", report.a.label, report.b.label, differing(&report)),
        ))
    }
}

/// A mail file's bytes; anything else is an error saying what to give instead.
fn read_file(path: &str) -> Result<Resolved, Failure> {
    let raw = std::fs::read(path).map_err(|e| {
        Failure::new(
            EXIT_ERROR,
            format!("cannot read {path}: {e}: give the path of an .eml file, a message ID, `latest` or a search query"),
        )
    })?;
    match import::messages_in(&raw) {
        Ok(messages) if messages.len() == 1 => {}
        Ok(messages) => {
            return Err(Failure::new(
                EXIT_ERROR,
                format!("{path} is an mbox file of {} messages: give one message's .eml file", messages.len()),
            ));
        }
        Err(e) => return Err(Failure::new(EXIT_ERROR, format!("{path}: {e}"))),
    }
    let name = Path::new(path).file_name().map_or_else(|| path.to_string(), |n| n.to_string_lossy().into_owned());
    Ok(Resolved::File { name, raw })
}

/// The ID of the newest message matching `query`.
fn first_match(api: &Api, query: &str) -> Result<String, Failure> {
    let what = "GET /api/v1/search";
    let response = api.send(api.client.get(api.url("/api/v1/search", &[("query", query), ("limit", "1")])), what)?;
    let page: Value = serde_json::from_slice(&api.ok_body(response, what)?)
        .map_err(|e| Failure::new(EXIT_ERROR, format!("{what}: the answer is not JSON ({e})")))?;
    page["messages"][0]["ID"].as_str().map(str::to_string).ok_or_else(|| {
        Failure::new(
            EXIT_ERROR,
            format!(
                "no message matches the search {query:?} (and it is no message ID, `latest` or file): \
                 check it with `pigeonhole list --query {query:?}`"
            ),
        )
    })
}

/// The server's report for two sides, at least one of them stored.
fn server_diff(
    api: &Api,
    a: Resolved,
    b: Resolved,
    options: &DiffOptions,
    visual: &[(&'static str, String)],
) -> Result<DiffReport, Failure> {
    let ignore = options.ignore_headers.join(",");
    let mut params: Vec<(&str, &str)> = visual.iter().map(|(name, value)| (*name, value.as_str())).collect();
    if !ignore.is_empty() {
        params.push(("ignore", &ignore));
    }
    if options.include_volatile {
        params.push(("volatile", "true"));
    }
    let (what, request) = match (&a, &b) {
        (Resolved::Stored(a), Resolved::Stored(b)) => {
            params.extend([("a", a.as_str()), ("b", b.as_str())]);
            ("GET /api/v1/diff", api.client.get(api.url("/api/v1/diff", &params)))
        }
        (Resolved::Stored(id), Resolved::File { name, raw }) | (Resolved::File { name, raw }, Resolved::Stored(id)) => {
            let stored_side = if matches!(a, Resolved::Stored(_)) { "a" } else { "b" };
            params.extend([(stored_side, id.as_str()), ("name", name.as_str())]);
            let request = api
                .client
                .post(api.url("/api/v1/diff", &params))
                .header("content-type", "message/rfc822")
                .body(raw.clone());
            ("POST /api/v1/diff", request)
        }
        (Resolved::File { name: a_name, raw: a_raw }, Resolved::File { name: b_name, raw: b_raw }) => {
            let file = |name: &str, raw: &[u8]| serde_json::json!({ "Name": name, "Eml": BASE64.encode(raw) });
            let body = serde_json::json!({ "A": file(a_name, a_raw), "B": file(b_name, b_raw) });
            let request = api.client.post(api.url("/api/v1/diff", &params)).json(&body);
            ("POST /api/v1/diff", request)
        }
    };
    let body = api.ok_body(api.send(request, what)?, what)?;
    serde_json::from_slice(&body).map_err(|e| {
        Failure::new(
            EXIT_ERROR,
            format!("{what}: the answer is not a diff report ({e}): is the server as new as this client?"),
        )
    })
}

/// The sections that differ and count, comma separated.
fn differing(report: &DiffReport) -> String {
    report.verdicts().iter().filter(|(_, equal)| !equal).map(|(name, _)| *name).collect::<Vec<_>>().join(", ")
}

/// Message content on a terminal: control characters shown escaped, so a hostile
/// message cannot move the cursor or recolour the screen.
fn printable(text: &str) -> String {
    text.chars().map(|c| if c.is_control() { c.escape_default().to_string() } else { c.to_string() }).collect()
}

/// The report for people: what each side is, then each part that differs.
fn render(report: &DiffReport, colour: bool) -> String {
    let paint = |code: &str, text: &str| if colour { format!("\x1b[{code}m{text}\x1b[0m") } else { text.to_string() };
    let side = |marker: &str, side: &diff::SideInfo| {
        format!("{marker} {}  {:?}  {} bytes\n", printable(&side.label), printable(&side.subject), side.size)
    };
    let mut out = paint("1", &side("---", &report.a)) + &paint("1", &side("+++", &report.b));
    let section = |out: &mut String, name: &str| out.push_str(&paint("1;35", &format!("\n== {name}\n")));

    if !report.headers.equal {
        section(&mut out, "headers");
        for change in &report.headers.changes {
            let kind = match change.kind {
                HeaderChangeKind::Added => "added",
                HeaderChangeKind::Removed => "removed",
                HeaderChangeKind::Changed | HeaderChangeKind::Same => "changed",
            };
            out.push_str(&format!("{} ({kind})\n", printable(&change.name)));
            for value in &change.a {
                out.push_str(&paint("31", &format!("-  {}", printable(value))));
                out.push('\n');
            }
            for value in &change.b {
                out.push_str(&paint("32", &format!("+  {}", printable(value))));
                out.push('\n');
            }
        }
    }
    if !report.text.equal {
        section(&mut out, "text");
        hunks(&mut out, &report.text, &paint);
    }
    if !report.html.lines.equal {
        section(
            &mut out,
            if report.html.counted {
                "html (normalized: one element per line)"
            } else {
                "html (normalized: one element per line; informational, the screenshots judge it)"
            },
        );
        hunks(&mut out, &report.html.lines, &paint);
        for (marker, selectors) in [("a", &report.html.changed_a), ("b", &report.html.changed_b)] {
            for selector in selectors {
                out.push_str(&format!("changed in {marker}: {}\n", printable(selector)));
            }
        }
    }
    if !report.structure.lines.equal {
        let html_bytes_only = report.visual.is_some() && report.structure.equal_apart_from_html;
        section(
            &mut out,
            if html_bytes_only { "structure (only the HTML part's bytes: informational)" } else { "structure" },
        );
        hunks(&mut out, &report.structure.lines, &paint);
    }
    if !report.checks.equal {
        section(&mut out, "checks");
        for (marker, code, changes) in [("-", "31", &report.checks.removed), ("+", "32", &report.checks.added)] {
            for change in changes {
                let line = format!(
                    "{marker} {:?} {}  {}: {}",
                    change.severity,
                    change.id,
                    change.title,
                    printable(&change.detail)
                );
                out.push_str(&paint(code, &line.to_string()));
                out.push('\n');
            }
        }
    }
    if let Some(visual) = &report.visual {
        if !visual.equal {
            section(&mut out, "visual");
        }
        out.push_str(&format!("{}\n", visual_line(visual)));
        // A file comparison's is served only while the server's screenshot cache keeps it.
        if !visual.equal {
            out.push_str(&format!("difference image: {}\n", printable(&visual.difference_url)));
        }
    }
    let set_aside: Vec<String> = report.headers.ignored.iter().map(|h| printable(&h.name)).collect();
    out.push('\n');
    out.push_str(&if report.equal {
        paint("1;32", "equal")
    } else {
        paint("1;31", &format!("different: {}", differing(report)))
    });
    if !set_aside.is_empty() {
        out.push_str(&format!(
            " (headers set aside: {}; --include-volatile compares the volatile ones)",
            set_aside.join(", ")
        ));
    }
    out.push('\n');
    out
}

/// The visual diff in one line.
fn visual_line(visual: &VisualDiff) -> String {
    format!(
        "visual: {} of {} pixels changed ({}%) at {}px, view {}, dark {}",
        visual.changed_pixels,
        visual.total_pixels,
        percent(visual.changed_percent),
        visual.width,
        printable(&visual.view),
        printable(&visual.dark)
    )
}

/// A percentage with as many decimals as it takes to tell a small change from none.
fn percent(value: f64) -> String {
    let text = format!("{value:.4}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// A part's hunks as a unified diff shows them.
fn hunks(out: &mut String, diff: &LinesDiff, paint: &dyn Fn(&str, &str) -> String) {
    for hunk in &diff.hunks {
        let header = format!("@@ -{},{} +{},{} @@", hunk.old_start, hunk.old_lines, hunk.new_start, hunk.new_lines);
        out.push_str(&paint("36", &header));
        out.push('\n');
        for line in &hunk.lines {
            let (marker, code) = match line.kind {
                LineKind::Context => (" ", "0"),
                LineKind::Removed => ("-", "31"),
                LineKind::Added => ("+", "32"),
            };
            out.push_str(&paint(code, &format!("{marker}{}", printable(&line.text))));
            out.push('\n');
        }
    }
    if diff.omitted > 0 {
        out.push_str(&format!("… {} more lines of changes (see --json)\n", diff.omitted));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_name_stored_messages_files_or_searches() {
        assert_eq!(Source::of("latest"), Source::Stored("latest".into()));
        assert_eq!(Source::of("0123456789abcdefABCDEF"), Source::Stored("0123456789abcdefABCDEF".into()));
        assert_eq!(Source::of("missing/golden.eml"), Source::File("missing/golden.eml".into()));
        assert_eq!(Source::of("Cargo.toml"), Source::File("Cargo.toml".into()));
        assert_eq!(Source::of("subject:welcome"), Source::Search("subject:welcome".into()));
    }

    #[test]
    fn percentages_keep_the_decimals_that_matter() {
        assert_eq!(percent(0.0), "0");
        assert_eq!(percent(12.5), "12.5");
        assert_eq!(percent(0.00042), "0.0004");
        assert_eq!(percent(100.0), "100");
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(printable("a\x1b[2Jb\r"), "a\\u{1b}[2Jb\\r");
    }
}
