//! The HTML body itself: how well e-mail clients support what it uses
//! (caniemail's data, through `mail::htmlcheck`), whether it parses cleanly, and
//! what clients strip or refuse: external style sheets, JavaScript, forms.

use std::collections::{BTreeMap, HashSet};

use ego_tree::iter::Edge;
use scraper::ElementRef;

use super::markup::{element_location, starts_with_ignore_case};
use super::{Findings, Input, Spec, quote};
use crate::mail::htmlcheck;
use crate::model::{Category, Severity};

pub(super) const CLIENT_SUPPORT: Spec = Spec {
    id: "html.client-support",
    category: Category::Html,
    title: "E-mail clients support the HTML and CSS used",
    fix: "Some clients ignore or mangle features this message relies on, so it looks \
          different (or broken) there. Replace the least supported features, or make sure \
          the message still reads well without them; the html-check lists each client.",
    reference: "https://www.caniemail.com/",
};

pub(super) const INVALID: Spec = Spec {
    id: "html.invalid",
    category: Category::Html,
    title: "HTML is well formed",
    fix: "Elements left open, closed out of order or given twice the same id are repaired \
          differently by each client's parser, so the layout differs between them. Close \
          every element in the order it was opened and keep ids unique.",
    reference: "https://html.spec.whatwg.org/multipage/parsing.html#parse-errors",
};

pub(super) const EXTERNAL_CSS: Spec = Spec {
    id: "html.external-css",
    category: Category::Html,
    title: "No external style sheets",
    fix: "Gmail, Outlook and most webmail drop `<link rel=stylesheet>` and `@import`, so \
          the message shows unstyled. Inline the CSS (or put it in a `<style>` block).",
    reference: "https://www.caniemail.com/features/html-link/",
};

pub(super) const JAVASCRIPT: Spec = Spec {
    id: "html.javascript",
    category: Category::Html,
    title: "No JavaScript",
    fix: "No e-mail client runs scripts; they strip them, and spam filters score them as \
          an attack. Remove `<script>`, `on…` handler attributes and `javascript:` URLs.",
    reference: "https://www.caniemail.com/search/?s=script",
};

pub(super) const FORMS: Spec = Spec {
    id: "html.forms",
    category: Category::Html,
    title: "No forms",
    fix: "Many clients disable or strip forms and their fields (Outlook, Gmail's app), \
          and others warn before submitting. Link to a form on a web page instead.",
    reference: "https://www.caniemail.com/features/html-form/",
};

pub(super) const SPECS: &[&Spec] = &[&CLIENT_SUPPORT, &INVALID, &EXTERNAL_CSS, &JAVASCRIPT, &FORMS];

/// `html.client-support` warns when a feature the message uses is unsupported in at
/// least this share of clients (percent, each client family and platform once),
/// and notes one unsupported in at least [`NOTICE_UNSUPPORTED`] or unsupported and
/// partly supported together in at least [`NOTICE_TROUBLED`].
const WARN_UNSUPPORTED: f32 = 40.0;
const NOTICE_UNSUPPORTED: f32 = 20.0;
const NOTICE_TROUBLED: f32 = 50.0;

/// Features every full document has, which clients that drop them replace with
/// their own (webmail puts the message in its page without `<body>`): left out of
/// the verdict.
const DOCUMENT_FEATURES: &[&str] = &["html-body", "html-doctype"];

/// Features named in the client-support finding.
const WORST_NAMED: usize = 3;

pub(super) fn run(input: &Input<'_>, findings: &mut Findings) {
    let (Some(html), Some(document)) = (input.html.as_deref(), input.document()) else {
        for spec in SPECS {
            findings.not_applicable(spec);
        }
        return;
    };
    client_support(&htmlcheck::check_document(document, html), findings);
    parse_errors(&document.errors, findings);

    let mut ids = HashSet::new();
    let mut open_forms = 0usize;
    for edge in document.tree.root().traverse() {
        let node = match edge {
            Edge::Open(node) => node,
            Edge::Close(node) => {
                if ElementRef::wrap(node).is_some_and(|element| element.value().name() == "form") {
                    open_forms -= 1;
                }
                continue;
            }
        };
        let Some(element) = ElementRef::wrap(node) else { continue };
        let value = element.value();
        let name = value.name();
        if let Some(id) = value.attr("id").filter(|id| !id.is_empty())
            && !ids.insert(id)
        {
            findings.raise_with(&INVALID, Severity::Warning, || {
                (format!("The id {} is given to more than one element.", quote(id)), element_location(element))
            });
        }
        match name {
            "link" if value.attr("rel").is_some_and(|rel| rel.split_whitespace().any(is_stylesheet)) => {
                findings.raise_with(&EXTERNAL_CSS, Severity::Warning, || {
                    let href = value.attr("href").unwrap_or("");
                    (format!("A style sheet is linked: {}.", quote(href)), element_location(element))
                });
            }
            "style" if element.text().any(|text| text.to_ascii_lowercase().contains("@import")) => {
                findings.raise_with(&EXTERNAL_CSS, Severity::Warning, || {
                    ("A <style> block imports a style sheet with @import.".into(), element_location(element))
                });
            }
            "script" if !value.attr("type").is_some_and(is_data_script) => {
                findings.raise_with(&JAVASCRIPT, Severity::Error, || {
                    ("The HTML has a <script> element.".into(), element_location(element))
                });
            }
            "form" => {
                open_forms += 1;
                findings.raise_with(&FORMS, Severity::Warning, || {
                    ("The HTML has a form.".into(), element_location(element))
                });
            }
            "input" | "button" | "select" | "textarea" if open_forms == 0 => {
                findings.raise_with(&FORMS, Severity::Warning, || {
                    (format!("The HTML has a <{name}> form field."), element_location(element))
                });
            }
            _ => {}
        }
        for (attribute, attribute_value) in value.attrs() {
            if attribute.len() > 2 && starts_with_ignore_case(attribute, "on") {
                findings.raise_with(&JAVASCRIPT, Severity::Error, || {
                    (
                        format!("<{name}> has an event handler attribute {}.", quote(attribute)),
                        element_location(element),
                    )
                });
            } else if URL_ATTRIBUTES.contains(&attribute) && is_javascript_url(attribute_value) {
                findings.raise_with(&JAVASCRIPT, Severity::Error, || {
                    (
                        format!("<{name} {attribute}> is a javascript: URL: {}.", quote(attribute_value)),
                        element_location(element),
                    )
                });
            }
        }
    }
}

fn client_support(check: &htmlcheck::HtmlCheck, findings: &mut Findings) {
    let unsupported = |warning: &&htmlcheck::Warning| warning.score.unsupported;
    let troubled = |warning: &&htmlcheck::Warning| warning.score.unsupported + warning.score.partial;
    let mut worst: Vec<&htmlcheck::Warning> = check
        .warnings
        .iter()
        .filter(|w| !w.results.is_empty() && !DOCUMENT_FEATURES.contains(&w.slug.as_str()))
        .collect();
    worst.sort_by(|a, b| unsupported(b).total_cmp(&unsupported(a)).then(troubled(b).total_cmp(&troubled(a))));
    let named: Vec<String> = worst
        .iter()
        .take(WORST_NAMED)
        .map(|w| {
            format!(
                "{} (unsupported in {:.0}% of clients, partly in {:.0}%)",
                quote(&w.title),
                w.score.unsupported,
                w.score.partial
            )
        })
        .collect();
    let most_unsupported = worst.iter().map(unsupported).fold(0.0, f32::max);
    let most_troubled = worst.iter().map(troubled).fold(0.0, f32::max);
    let severity = if most_unsupported >= WARN_UNSUPPORTED {
        Severity::Warning
    } else if most_unsupported >= NOTICE_UNSUPPORTED || most_troubled >= NOTICE_TROUBLED {
        Severity::Notice
    } else {
        Severity::Pass
    };
    let detail = if named.is_empty() {
        "No feature with limited client support found.".to_string()
    } else {
        let features = if worst.len() == 1 { "1 feature" } else { &format!("{} features", worst.len()) };
        format!(
            "{features} with limited support; the least supported: {}. Overall {:.0}% supported.",
            named.join(", "),
            check.total.supported
        )
    };
    findings.raise(&CLIENT_SUPPORT, severity, detail, None);
}

/// html5ever's parse errors about the document's structure, each kind once with
/// its count. The others (a missing doctype, stray characters) change nothing a
/// reader sees.
fn parse_errors(errors: &[std::borrow::Cow<'static, str>], findings: &mut Findings) {
    let mut kinds: BTreeMap<&'static str, usize> = BTreeMap::new();
    for error in errors {
        if let Some(kind) = structural_error(error) {
            *kinds.entry(kind).or_default() += 1;
        }
    }
    for (kind, count) in kinds {
        let times = if count == 1 { "once".to_string() } else { format!("{count} times") };
        findings.raise(&INVALID, Severity::Warning, format!("{kind} ({times})."), None);
    }
}

/// What a parse error of html5ever (exact or not) says about the structure, in
/// words a reader of the report knows.
fn structural_error(error: &str) -> Option<&'static str> {
    const KINDS: &[(&str, &str)] = &[
        ("Unexpected open element", "An element was closed while elements inside it were still open"),
        ("Unexpected open tag", "Elements were left open at the end of the body"),
        ("Formatting element not in scope", "Formatting elements (b, i, a, font, …) overlap"),
        ("Formatting element not current node", "Formatting elements (b, i, a, font, …) overlap"),
        ("Formatting element not open", "A closing tag has no matching opening tag"),
        ("No matching tag to close", "A closing tag has no matching opening tag"),
        ("No <p> tag to close", "A closing tag has no matching opening tag"),
        ("No heading tag to close", "A closing tag has no matching opening tag"),
        ("Closing wrong heading tag", "A heading is closed with another heading's tag"),
        ("Found special tag while closing generic tag", "A closing tag skips over open elements"),
        ("expected to close <td> or <th> with cell", "A table cell is closed out of order"),
        ("Unexpected characters in table", "Text sits directly inside a table, outside any cell"),
        ("Non-space table text", "Text sits directly inside a table, outside any cell"),
        ("nested forms", "Elements are nested where they may not be"),
        ("nested buttons", "Elements are nested where they may not be"),
        ("nested heading tags", "Elements are nested where they may not be"),
        ("Nested <nobr>", "Elements are nested where they may not be"),
        ("Duplicate attribute", "An element has the same attribute twice"),
    ];
    KINDS.iter().find(|(prefix, _)| error.starts_with(prefix)).map(|(_, kind)| *kind)
}

/// Attributes that hold a URL a click or a load would follow.
const URL_ATTRIBUTES: &[&str] = &["href", "src", "action", "formaction", "background", "xlink:href"];

fn is_stylesheet(rel: &str) -> bool {
    rel.eq_ignore_ascii_case("stylesheet")
}

/// Script types that hold data, not code (schema.org markup for Gmail's actions).
fn is_data_script(kind: &str) -> bool {
    let kind = kind.trim();
    kind.eq_ignore_ascii_case("application/ld+json") || kind.eq_ignore_ascii_case("application/json")
}

/// `javascript:` as a browser reads a URL: leading spaces and controls, and tabs and
/// newlines anywhere, ignored.
fn is_javascript_url(value: &str) -> bool {
    let scheme: String = value
        .trim_start_matches(|c: char| c <= ' ')
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .take("javascript:".len())
        .collect();
    scheme.eq_ignore_ascii_case("javascript:")
}
