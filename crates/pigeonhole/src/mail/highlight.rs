//! Marks one element of a rendered HTML document, for `GET /view/{ID}.html?highlight=`:
//! the UI's Checks tab points at the element a finding is about (its `Where.Element`,
//! a CSS path from the root) and shows the preview scrolled to it, outlined.
//!
//! The preview is a sandboxed frame without scripts, and the page around it cannot
//! reach into it, so the mark is made by the engine: the first element the selector
//! matches gets `id="pigeonhole-highlight"` (the UI loads the frame at
//! `#pigeonhole-highlight`, so the browser scrolls to it) and an inline outline,
//! which the preview's policy allows (`style-src 'unsafe-inline'`). The message's own
//! `id="pigeonhole-highlight"` anywhere is taken away, so the fragment names only the
//! mark. lol_html rewrites the document as a stream of tokens, linear in its size,
//! with selectors that include `>` and `:nth-of-type`. A selector that does not parse
//! or matches nothing leaves the document as it was.
//!
//! [`selector`] makes the selectors it takes: a parsed element's path from the root,
//! for the checks' findings and the message diff's changed elements.

use std::borrow::Cow;
use std::cell::Cell;

use lol_html::html_content::Element;
use lol_html::{ElementContentHandlers, HandlerResult, RewriteStrSettings, Selector, rewrite_str};
use scraper::ElementRef;

/// The `id` the marked element gets: the fragment the UI loads the frame at.
pub const MARK_ID: &str = "pigeonhole-highlight";

/// How the mark looks: an outline (it takes no room, so the layout does not move)
/// in an amber that stands out on light and dark mail alike. `!important` beats the
/// message's own sheets.
const MARK_STYLE: &str = "outline:3px solid #f59e0b !important;outline-offset:2px !important;\
                          box-shadow:0 0 0 6px rgb(245 158 11 / 0.35) !important";

/// Selectors past this length are refused: a path from the root through a deeply
/// nested document stays well under it, and the selector engine's work grows with it.
const MAX_SELECTOR: usize = 16 * 1024;

/// `document` with the first element matching `selector` marked (see the module's
/// doc); `document` itself when the selector is too long, does not parse, or matches
/// nothing.
pub fn highlight(document: String, selector: &str) -> String {
    if selector.len() > MAX_SELECTOR {
        return document;
    }
    let Ok(target) = selector.parse::<Selector>() else { return document };
    let Ok(taken) = format!("[id=\"{MARK_ID}\"]").parse::<Selector>() else { return document };
    let marked = Cell::new(false);
    let unmark = |element: &mut Element<'_, '_>| -> HandlerResult {
        element.remove_attribute("id");
        Ok(())
    };
    let mark = |element: &mut Element<'_, '_>| -> HandlerResult {
        if marked.replace(true) {
            return Ok(());
        }
        element.set_attribute("id", MARK_ID)?;
        let style = match element.get_attribute("style") {
            Some(own) if !own.trim().is_empty() => format!("{own};{MARK_STYLE}"),
            _ => MARK_STYLE.to_string(),
        };
        element.set_attribute("style", &style)?;
        Ok(())
    };
    // The message's own mark goes first, so the element marked keeps ours.
    let settings = RewriteStrSettings::new()
        .append_element_content_handler((Cow::Owned(taken), ElementContentHandlers::default().element(unmark)))
        .append_element_content_handler((Cow::Owned(target), ElementContentHandlers::default().element(mark)));
    match rewrite_str(&document, settings) {
        Ok(rewritten) if marked.get() => rewritten,
        // Nothing matched, or markup the streaming parser cannot follow safely.
        _ => document,
    }
}

/// An element this deep gets no selector: hostile nesting would make each one
/// longer than the document it points into.
const MAX_SELECTOR_DEPTH: usize = 256;

/// Where `element` is, as a CSS selector from the root that [`highlight`] and
/// `querySelector` find: `html > body > table:nth-of-type(1) > tbody:nth-of-type(1) > tr:nth-of-type(2) > td:nth-of-type(1) > img:nth-of-type(1)`.
/// Every step after `body` (or `head`) has its `:nth-of-type`, so the selector
/// matches that one element. `None` past [`MAX_SELECTOR_DEPTH`].
pub fn selector(element: ElementRef<'_>) -> Option<String> {
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
    Some(steps.join(" > "))
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

#[cfg(test)]
mod tests {
    use super::*;

    const DOCUMENT: &str = "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"></head><body>\
        <p>Intro</p><table><tbody><tr><td><img src=\"a.png\"></td><td><img src=\"b.png\" style=\"width:10px\">\
        </td></tr></tbody></table><p id=\"pigeonhole-highlight\">Planted</p></body></html>\n";

    #[test]
    fn marks_the_element_a_root_path_names() {
        let marked = highlight(
            DOCUMENT.to_string(),
            "html > body > table:nth-of-type(1) > tbody > tr:nth-of-type(1) > td:nth-of-type(2) > img:nth-of-type(1)",
        );
        assert!(
            marked.contains(&format!(
                "<img src=\"b.png\" style=\"width:10px;{MARK_STYLE}\" id=\"pigeonhole-highlight\">"
            )),
            "{marked}"
        );
        // The first image and the rest are as they were, but the planted id.
        assert!(marked.contains("<td><img src=\"a.png\"></td>"), "{marked}");
        assert!(marked.contains("<p>Planted</p>"), "{marked}");
        assert_eq!(marked.matches(MARK_ID).count(), 1, "{marked}");
    }

    #[test]
    fn marks_only_the_first_match() {
        let marked = highlight(DOCUMENT.to_string(), "img");
        assert!(marked.contains(&format!("<img src=\"a.png\" id=\"{MARK_ID}\" style=\"{MARK_STYLE}\">")), "{marked}");
        assert!(marked.contains("<img src=\"b.png\" style=\"width:10px\">"), "{marked}");
    }

    #[test]
    fn the_messages_own_mark_is_not_kept_when_it_is_the_target() {
        let marked = highlight(DOCUMENT.to_string(), "html > body > p:nth-of-type(2)");
        assert!(marked.contains(&format!("<p id=\"{MARK_ID}\" style=\"{MARK_STYLE}\">Planted</p>")), "{marked}");
        assert_eq!(marked.matches(MARK_ID).count(), 1, "{marked}");
    }

    #[test]
    fn anything_else_leaves_the_document_unchanged() {
        for selector in [
            "html > body > table:nth-of-type(2)",
            "video",
            "",
            "p[",
            "td:hover",
            "</p><script>alert(1)</script>",
            &"html > body > ".repeat(MAX_SELECTOR / 10),
        ] {
            assert_eq!(highlight(DOCUMENT.to_string(), selector), DOCUMENT, "{selector:?}");
        }
    }

    #[test]
    fn a_large_document_is_marked_in_one_pass() {
        let rows = "<tr><td><a href=\"https://example.com/\">link</a></td></tr>".repeat(100_000);
        let document = format!("<html><head></head><body><table><tbody>{rows}</tbody></table></body></html>");
        let started = std::time::Instant::now();
        let marked = highlight(document, "html > body > table:nth-of-type(1) > tbody > tr:nth-of-type(99999) > td > a");
        assert_eq!(marked.matches(MARK_ID).count(), 1);
        // Debug builds are slow; this still catches work that grows with the square.
        assert!(started.elapsed() < std::time::Duration::from_secs(10), "{:?}", started.elapsed());
    }
}
