//! The message diff: what changed between two messages, part by part, as one
//! [`DiffReport`] (`GET`/`POST /api/v1/diff`, `pigeonhole diff`, the UI's compare
//! view). A template's golden `.eml` against the message an app just sent, or two
//! sends of the same mail, are the cases it is made for.
//!
//! Pure like [`crate::checks`]: raw bytes (and each message's envelope, for its
//! check report) in, a report out; every part is read with the existing parsers
//! ([`crate::mail::detail`], html5ever through [`crate::mail::html_bounds`]), never
//! by hand. One module per part:
//!
//! * [`headers`]: top-level headers added, removed or changed; the volatile ones
//!   (`Date`, `Message-ID`, `Received`, signatures, per-send IDs) and those the
//!   caller ignores are set aside, listed, not compared; a multipart boundary in
//!   `Content-Type` is never compared.
//! * [`text`]: the text body, a line diff.
//! * [`html`]: the HTML body normalized (one element per line, attributes sorted,
//!   whitespace collapsed), a line diff, and the changed elements as selectors
//!   into each side's preview.
//! * [`structure`]: the MIME tree: shape, content types, names, sizes, SHA-256.
//! * [`checks`]: errors and warnings of the check report that one side has and
//!   the other not.
//! * [`visual`]: optional, two screenshots compared pixel by pixel. The caller
//!   takes them (the API, with the screenshot engine) and passes the PNG bytes in;
//!   [`DiffReport::with_visual`] adds the section.
//!
//! Line diffs share [`lines`] (the `similar` crate, hunks with context). A message
//! sent twice, with a new `Date`, `Message-ID` and boundaries, compares equal under
//! the default options.

pub mod checks;
pub mod headers;
pub mod html;
pub mod lines;
pub mod structure;
#[cfg(test)]
mod tests;
pub mod text;
pub mod visual;

use serde::{Deserialize, Serialize};

use crate::model::Envelope;

pub use checks::{CheckChange, ChecksDiff, ChecksSide};
pub use headers::{HeaderChange, HeaderChangeKind, HeadersDiff, VOLATILE_HEADERS};
pub use html::HtmlDiff;
pub use lines::{Hunk, Line, LineKind, LinesDiff};
pub use structure::StructureDiff;
pub use visual::VisualDiff;

/// One message to compare: its bytes, its envelope (the check report reads the
/// SMTP session from it) and what to call it in the report.
#[derive(Debug, Clone, Copy)]
pub struct Side<'a> {
    /// A message ID, or a file's name.
    pub label: &'a str,
    pub raw: &'a [u8],
    pub envelope: &'a Envelope,
}

/// What to leave out of the comparison.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "PascalCase")]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct DiffOptions {
    /// Header names set aside besides the volatile ones (any case).
    pub ignore_headers: Vec<String>,
    /// Compare the volatile headers too ([`VOLATILE_HEADERS`]).
    pub include_volatile: bool,
}

/// What changed from message `A` to message `B`. Each section has its own `Equal`;
/// [`DiffReport::verdicts`] says which of them count toward the report's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "PascalCase")]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct DiffReport {
    /// True when no section below that counts found a difference (under `Options`).
    /// With `Visual`, the screenshots (within its threshold) judge the HTML body in
    /// place of `Html` (then `Html.Counted` is false) and of the HTML part's size and
    /// checksum in `Structure` (`Structure.EqualApartFromHtml` counts); headers, text,
    /// the rest of the structure and checks count either way.
    pub equal: bool,
    pub a: SideInfo,
    pub b: SideInfo,
    pub options: DiffOptions,
    pub headers: HeadersDiff,
    /// The text body (`text/plain`, or the HTML turned into text when there is none).
    pub text: LinesDiff,
    pub html: HtmlDiff,
    pub structure: StructureDiff,
    pub checks: ChecksDiff,
    /// The screenshots compared, when asked for (`visual=1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional))]
    pub visual: Option<VisualDiff>,
}

impl DiffReport {
    /// The report with the screenshots' comparison added, which from now on judges
    /// the HTML body: a template whose pixels barely change passes a threshold even
    /// though its markup changed.
    pub fn with_visual(self, visual: VisualDiff) -> DiffReport {
        let html = HtmlDiff { counted: false, ..self.html };
        let report = DiffReport { html, visual: Some(visual), ..self };
        DiffReport { equal: report.verdicts().iter().all(|(_, equal)| *equal), ..report }
    }

    /// Each section that counts toward `Equal`, by name, and whether it is equal.
    pub fn verdicts(&self) -> Vec<(&'static str, bool)> {
        let mut verdicts = vec![("headers", self.headers.equal), ("text", self.text.equal)];
        match &self.visual {
            None => verdicts.extend([("html", self.html.lines.equal), ("structure", self.structure.lines.equal)]),
            Some(visual) => {
                verdicts.extend([("visual", visual.equal), ("structure", self.structure.equal_apart_from_html)])
            }
        }
        verdicts.push(("checks", self.checks.equal));
        verdicts
    }
}

/// Which message a side is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "PascalCase")]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct SideInfo {
    /// The message's ID, or the compared file's name.
    pub label: String,
    /// Its decoded Subject, or `""`.
    pub subject: String,
    /// Its size in bytes.
    pub size: u64,
}

/// Compares `a` with `b`.
pub fn compare(a: Side<'_>, b: Side<'_>, options: &DiffOptions) -> DiffReport {
    let (a_text, a_html) = crate::mail::detail::bodies(a.raw);
    let (b_text, b_html) = crate::mail::detail::bodies(b.raw);
    let headers = headers::compare(a.raw, b.raw, options);
    let text = text::compare(&a_text, &b_text);
    let html = html::compare(&a_html, &b_html);
    let structure = structure::compare(a.raw, b.raw);
    let checks = checks::compare(a, b);
    let report = DiffReport {
        equal: false,
        a: side_info(a),
        b: side_info(b),
        options: options.clone(),
        headers,
        text,
        html,
        structure,
        checks,
        visual: None,
    };
    DiffReport { equal: report.verdicts().iter().all(|(_, equal)| *equal), ..report }
}

fn side_info(side: Side<'_>) -> SideInfo {
    let message = crate::mail::detail::parse(side.raw);
    let subject = message.parts.first().and_then(|_| message.subject()).unwrap_or("").to_string();
    SideInfo { label: side.label.to_string(), subject, size: side.raw.len() as u64 }
}
