//! The message pipeline target: arbitrary bytes as a captured message, through
//! everything the engine does with one: the store's summary and search text, the
//! API's views (headers, MIME tree, parts, full message), links and one-time codes,
//! and both HTML renderings. The same bytes also go straight into the sanitizer as
//! HTML, so its input is not limited to what survives MIME decoding.
//!
//! Checked, besides no panic: the summary's documented caps (snippet length,
//! indexed body size), and that the sanitized document, as a browser would parse
//! it, holds no element that runs or embeds anything, no event-handler attribute,
//! no `javascript:`/`vbscript:` URL and no `data:` URL but image sources; and that its
//! head holds only what `render::html_document` puts there.

use std::collections::HashMap;

use scraper::Html;
use scraper::node::Node;
use time::OffsetDateTime;

use crate::config::TagRules;
use crate::mail::detail::{self, PartNode};
use crate::mail::links;
use crate::mail::parse::{MAX_INDEXED_BODY, SNIPPET_CHARS};
use crate::mail::render::{self, ColorScheme};
use crate::model::Envelope;
use crate::model::NewMessage;
use crate::store::ingest;

/// Elements that must never come out of the sanitizer, in any namespace.
const FORBIDDEN: &[&str] = &[
    "script", "iframe", "frame", "frameset", "object", "embed", "applet", "form", "input", "button", "textarea",
    "select", "noscript", "template", "portal", "svg", "math",
];

/// Attributes that make a browser load or navigate to a URL.
const URL_ATTRIBUTES: &[&str] =
    &["href", "src", "srcset", "background", "action", "formaction", "poster", "xlink:href"];

/// Run one fuzz input; panics on any broken invariant.
pub fn message_pipeline(raw: &[u8]) {
    // What the store makes of it on ingest: the summary and the search text.
    let new = NewMessage { raw: raw.to_vec(), envelope: Envelope::default(), received_at: OffsetDateTime::UNIX_EPOCH };
    let prepared = ingest::prepare(new, &TagRules::default()).expect("any bytes compress");
    let (summary, search) = (prepared.summary, prepared.search);
    assert!(summary.snippet.chars().count() <= SNIPPET_CHARS, "snippet of {} characters", summary.snippet.len());
    assert!(search.body.len() <= MAX_INDEXED_BODY, "indexed body of {} bytes", search.body.len());

    detail::headers(raw);
    let mut leaves = Vec::new();
    collect_leaves(&detail::part_tree(raw), &mut leaves);
    for part_id in &leaves {
        detail::part(raw, part_id);
    }
    let message = detail::message(&summary, raw);
    links::links(&message.text, &message.html);
    links::codes(&message.text, &message.html);

    if let Some((html, content_ids)) = detail::html_body_and_content_ids(raw) {
        let part_urls: HashMap<String, String> = content_ids
            .into_iter()
            .map(|(content_id, part_id)| (content_id, format!("/api/v1/message/fuzz/part/{part_id}")))
            .collect();
        render::html_part(&html, part_urls.clone());
        for scheme in [ColorScheme::AsBrowser, ColorScheme::Dark] {
            check_sanitized(&render::html_document(&html, part_urls.clone(), scheme).document);
        }
    }
    let as_html = String::from_utf8_lossy(raw);
    check_sanitized(&render::html_document(&as_html, HashMap::new(), ColorScheme::AsBrowser).document);
}

/// Part IDs of the tree's leaves (the only IDs `detail::part` serves).
fn collect_leaves(node: &PartNode, leaves: &mut Vec<String>) {
    if node.parts.is_empty() {
        leaves.push(node.part_id.clone());
    }
    for child in &node.parts {
        collect_leaves(child, leaves);
    }
}

/// The sanitized document, parsed as a browser would, is inert.
fn check_sanitized(document: &str) {
    let parsed = Html::parse_document(document);
    let mut in_head = Vec::new();
    for node in parsed.tree.nodes() {
        let Node::Element(element) = node.value() else { continue };
        let name = element.name();
        assert!(!FORBIDDEN.contains(&name), "<{name}> in the sanitized document:\n{document}");
        for (attribute, value) in element.attrs() {
            assert!(
                !attribute.to_ascii_lowercase().starts_with("on"),
                "event handler {attribute}= in the sanitized document:\n{document}"
            );
            if URL_ATTRIBUTES.contains(&attribute) {
                check_url(name, attribute, value, document);
            }
        }
        let parent = node.parent().and_then(|p| p.value().as_element().map(|e| e.name()));
        if parent == Some("head") {
            in_head.push(name);
            match name {
                "meta" => assert_eq!(element.attrs().collect::<Vec<_>>(), [("charset", "utf-8")]),
                "base" => assert_eq!(element.attrs().collect::<Vec<_>>(), [("target", "_blank")]),
                "style" => {}
                "link" => assert_eq!(element.attr("rel"), Some("stylesheet"), "{document}"),
                _ => panic!("<{name}> in the sanitized document's head:\n{document}"),
            }
        }
    }
    assert!(in_head.starts_with(&["meta", "base"]), "head starts {in_head:?}:\n{document}");
    assert_eq!(in_head.iter().filter(|&&n| n == "base").count(), 1, "more than one <base>:\n{document}");
}

/// A URL a browser would load or follow: never script, `data:` only as an image.
fn check_url(element: &str, attribute: &str, value: &str, document: &str) {
    // Browsers ignore these anywhere in a URL, and case in a scheme.
    let url: String =
        value.chars().filter(|c| !c.is_ascii_whitespace() && !c.is_control()).collect::<String>().to_ascii_lowercase();
    let candidates: Vec<&str> = if attribute == "srcset" { url.split(',').collect() } else { vec![&url] };
    for candidate in candidates {
        assert!(
            !candidate.starts_with("javascript:") && !candidate.starts_with("vbscript:"),
            "script URL in <{element} {attribute}>:\n{document}"
        );
        assert!(
            !candidate.starts_with("data:") || candidate.starts_with("data:image/") && attribute != "href",
            "data: URL in <{element} {attribute}>:\n{document}"
        );
    }
}
