//! What the HTML checks share about the document's elements: the selector that
//! finds one in the preview (a finding's `Where`), an element's text, and which
//! URLs load from the network.

use scraper::ElementRef;

use crate::model::Location;

/// An element this deep gets no selector: hostile nesting would make each one
/// longer than the document it points into.
const MAX_SELECTOR_DEPTH: usize = 256;

/// Where `element` is, as a CSS selector from the root that `querySelector`
/// finds: `html > body > table:nth-of-type(1) > tbody:nth-of-type(1) > tr:nth-of-type(2) > td:nth-of-type(1) > img:nth-of-type(1)`.
/// Every step after `body` (or `head`) has its `:nth-of-type`, so the selector
/// matches that one element. `None` past [`MAX_SELECTOR_DEPTH`].
pub(super) fn element_location(element: ElementRef<'_>) -> Option<Location> {
    let mut steps = Vec::new();
    let mut current = Some(element);
    while let Some(step) = current {
        let name = step.value().name();
        match name {
            "html" => {
                steps.push("html".to_string());
                break;
            }
            "body" | "head" => steps.push(name.to_string()),
            _ => {
                let index = 1 + step
                    .prev_siblings()
                    .filter_map(ElementRef::wrap)
                    .filter(|sibling| sibling.value().name() == name)
                    .count();
                steps.push(format!("{}:nth-of-type({index})", css_identifier(name)));
            }
        }
        if steps.len() > MAX_SELECTOR_DEPTH {
            return None;
        }
        current = step.parent().and_then(ElementRef::wrap);
    }
    if steps.last().map(String::as_str) != Some("html") {
        return None;
    }
    steps.reverse();
    Location::element(steps.join(" > "), None)
}

/// `name` as a CSS identifier: Outlook's `o:p` is `o\:p`.
fn css_identifier(name: &str) -> String {
    let mut escaped = String::with_capacity(name.len());
    for (at, c) in name.chars().enumerate() {
        match c {
            '0'..='9' if at == 0 => escaped.push_str(&format!("\\{:x} ", c as u32)),
            c if c.is_ascii_alphanumeric() || c == '-' || c == '_' || !c.is_ascii() => escaped.push(c),
            c => {
                escaped.push('\\');
                escaped.push(c);
            }
        }
    }
    escaped
}

/// The element's text, whitespace collapsed.
pub(super) fn text(element: ElementRef<'_>) -> String {
    let mut text = String::new();
    for piece in element.text() {
        for word in piece.split_whitespace() {
            if !text.is_empty() {
                text.push(' ');
            }
            text.push_str(word);
        }
    }
    text
}

/// Whether `url` is fetched from the network: `http(s)://` or scheme-relative
/// `//host/…` (not `cid:` parts or `data:` URIs).
pub(super) fn is_remote(url: &str) -> bool {
    let url = url.trim_start();
    url.starts_with("//") || starts_with_ignore_case(url, "http://") || starts_with_ignore_case(url, "https://")
}

/// The host of a remote URL, lower-cased, without `www.`.
pub(super) fn host(url: &str) -> Option<String> {
    let url = url.trim();
    let absolute = if url.starts_with("//") { format!("https:{url}") } else { url.to_string() };
    let host = reqwest::Url::parse(&absolute).ok()?.host_str()?.to_ascii_lowercase();
    Some(host.strip_prefix("www.").map(str::to_string).unwrap_or(host))
}

pub(super) fn starts_with_ignore_case(text: &str, prefix: &str) -> bool {
    text.get(..prefix.len()).is_some_and(|start| start.eq_ignore_ascii_case(prefix))
}
