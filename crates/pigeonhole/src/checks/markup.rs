//! What the HTML checks share about the document's elements: the selector that
//! finds one in the preview (a finding's `Where`), an element's text, and which
//! URLs load from the network.

use scraper::ElementRef;

use crate::mail::highlight;
use crate::model::Location;

/// Where `element` is, as the selector from the root that the preview's highlight
/// finds ([`highlight::selector`]); `None` for an element nested too deep.
pub(super) fn element_location(element: ElementRef<'_>) -> Option<Location> {
    Location::element(highlight::selector(element)?, None)
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
