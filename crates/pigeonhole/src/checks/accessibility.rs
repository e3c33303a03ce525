//! Whether everyone can read the message: text alternatives for images, the
//! language for screen readers, contrast and size of the text (from the computed
//! styles of `style`), layout tables announced as data, and link text that says
//! where a link goes.

use ego_tree::iter::Edge;
use scraper::ElementRef;
use scraper::node::Node;

use super::markup::{self, element_location};
use super::{Findings, Input, Spec, quote};
use crate::model::{Category, Severity};

pub(super) const IMG_ALT_MISSING: Spec = Spec {
    id: "accessibility.img-alt-missing",
    category: Category::Accessibility,
    title: "Images have alt text",
    fix: "Without `alt`, screen readers read the image's file name, and clients that block \
          images show nothing in its place. Describe what the image says in `alt`, or use \
          `alt=\"\"` for a decorative one.",
    reference: "https://www.w3.org/WAI/WCAG21/Understanding/non-text-content.html",
};

pub(super) const LANG_MISSING: Spec = Spec {
    id: "accessibility.lang-missing",
    category: Category::Accessibility,
    title: "The language is declared",
    fix: "Screen readers pick their voice and pronunciation from `lang`; without it they \
          guess or use the reader's default. Add `<html lang=\"en\">` (the message's language).",
    reference: "https://www.w3.org/WAI/WCAG21/Understanding/language-of-page.html",
};

pub(super) const LOW_CONTRAST: Spec = Spec {
    id: "accessibility.low-contrast",
    category: Category::Accessibility,
    title: "Text contrasts with its background",
    fix: "Text below WCAG's contrast ratio (4.5:1, or 3:1 for large text) is hard to read \
          for people with low vision, and for everyone on a phone in daylight. Darken the \
          text or lighten the background (or the reverse).",
    reference: "https://www.w3.org/WAI/WCAG21/Understanding/contrast-minimum.html",
};

pub(super) const LAYOUT_TABLE_ROLE: Spec = Spec {
    id: "accessibility.layout-table-role",
    category: Category::Accessibility,
    title: "Layout tables have role=\"presentation\"",
    fix: "Screen readers announce a table used for layout as data (\"table, 3 rows, 2 \
          columns\") and read it cell by cell. Add `role=\"presentation\"` to every table \
          that only arranges content.",
    reference: "https://www.w3.org/WAI/tutorials/tables/#tables-used-for-layout",
};

pub(super) const LINK_TEXT: Spec = Spec {
    id: "accessibility.link-text",
    category: Category::Accessibility,
    title: "Link text says where the link goes",
    fix: "Screen reader users jump from link to link and hear only their text: \"click \
          here\" or an empty link says nothing. Use words that name the destination \
          (\"Track your order\"), or `alt` text on a linked image.",
    reference: "https://www.w3.org/WAI/WCAG21/Understanding/link-purpose-in-context.html",
};

pub(super) const SMALL_TEXT: Spec = Spec {
    id: "accessibility.small-text",
    category: Category::Accessibility,
    title: "Text is large enough to read",
    fix: "Text under 12px (9pt) is hard to read on a phone and for people with low vision, \
          and iOS Mail enlarges it, which can break the layout. Use at least 14px for body \
          text and 12px for fine print.",
    reference: "https://www.w3.org/WAI/WCAG21/Understanding/resize-text.html",
};

pub(super) const SPECS: &[&Spec] =
    &[&IMG_ALT_MISSING, &LANG_MISSING, &LOW_CONTRAST, &LAYOUT_TABLE_ROLE, &LINK_TEXT, &SMALL_TEXT];

/// Text smaller than this (pixels) is `accessibility.small-text`.
const SMALL_TEXT_PX: f32 = 12.0;

/// Text smaller than this (pixels) is not meant to be seen: the preheader trick,
/// `font-size:0` between inline blocks.
const INVISIBLE_TEXT_PX: f32 = 2.0;

/// Link texts that say nothing about where the link goes (lower case, without
/// punctuation).
const VAGUE_LINK_TEXTS: &[&str] = &[
    "click here",
    "click",
    "here",
    "click this link",
    "this link",
    "link",
    "read more",
    "more",
    "learn more",
    "more info",
    "more information",
    "details",
    "go",
    "this",
    "continue",
];

/// Longer link texts say something; [`VAGUE_LINK_TEXTS`] are shorter than this
/// with room for punctuation and spaces.
const LONGEST_VAGUE_LINK_TEXT: usize = 32;

pub(super) fn run(input: &Input<'_>, findings: &mut Findings) {
    let (Some(document), Some(styles)) = (input.document(), input.styles()) else {
        for spec in SPECS {
            findings.not_applicable(spec);
        }
        return;
    };
    let html = document.root_element();
    if html.value().attr("lang").or_else(|| html.value().attr("xml:lang")).is_none_or(|lang| lang.trim().is_empty()) {
        findings.raise_with(&LANG_MISSING, Severity::Warning, || {
            ("The <html> element has no lang attribute.".into(), element_location(html))
        });
    }

    // Open tables, innermost last: whether each holds data (a header cell, caption
    // or head), and whether it is marked as layout.
    let mut tables: Vec<(bool, bool)> = Vec::new();
    for edge in document.tree.root().traverse() {
        match edge {
            Edge::Open(node) => {
                let Some(element) = ElementRef::wrap(node) else { continue };
                let value = element.value();
                match value.name() {
                    "table" => {
                        let role = value.attr("role").unwrap_or("").trim();
                        let marked = role.eq_ignore_ascii_case("presentation") || role.eq_ignore_ascii_case("none");
                        tables.push((false, marked));
                    }
                    "th" | "caption" | "thead" => {
                        if let Some(table) = tables.last_mut() {
                            table.0 = true;
                        }
                    }
                    "img" if value.attr("alt").is_none() => {
                        findings.raise_with(&IMG_ALT_MISSING, Severity::Warning, || {
                            let src = value.attr("src").unwrap_or("");
                            (format!("The image {} has no alt attribute.", quote(src)), element_location(element))
                        });
                    }
                    "a" if value.attr("href").is_some() => link_text(element, findings),
                    _ => {}
                }
                text_style(element, styles, findings);
            }
            Edge::Close(node) => {
                if let Some(element) = ElementRef::wrap(node)
                    && element.value().name() == "table"
                    && let Some((data, marked)) = tables.pop()
                    && !data
                    && !marked
                {
                    findings.raise_with(&LAYOUT_TABLE_ROLE, Severity::Warning, || {
                        (
                            "A table without header cells (a layout table) has no role=\"presentation\".".into(),
                            element_location(element),
                        )
                    });
                }
            }
        }
    }
}

fn link_text(anchor: ElementRef<'_>, findings: &mut Findings) {
    if anchor.value().attr("aria-label").is_some_and(|label| !label.trim().is_empty()) {
        return;
    }
    let text = markup::text(anchor);
    if text.len() > LONGEST_VAGUE_LINK_TEXT {
        return;
    }
    let bare: String =
        text.chars().filter(|c| c.is_alphanumeric() || c.is_whitespace()).collect::<String>().to_lowercase();
    let bare = bare.split_whitespace().collect::<Vec<_>>().join(" ");
    if bare.is_empty() {
        let described = anchor.descendants().filter_map(ElementRef::wrap).any(|element| {
            element.value().attr("alt").is_some_and(|alt| !alt.trim().is_empty())
                || element.value().attr("aria-label").is_some_and(|label| !label.trim().is_empty())
        });
        if !described && anchor.value().attr("title").is_none_or(|title| title.trim().is_empty()) {
            findings.raise_with(&LINK_TEXT, Severity::Warning, || {
                let href = anchor.value().attr("href").unwrap_or("");
                (
                    format!("The link to {} has no text (and no alt text on an image in it).", quote(href)),
                    element_location(anchor),
                )
            });
        }
    } else if VAGUE_LINK_TEXTS.contains(&bare.as_str()) {
        findings.raise_with(&LINK_TEXT, Severity::Notice, || {
            (format!("The link text {} does not say where it goes.", quote(&text)), element_location(anchor))
        });
    }
}

/// Contrast and size of the text directly in `element`.
fn text_style(element: ElementRef<'_>, styles: &super::style::Styles, findings: &mut Findings) {
    let own_text = || {
        element.children().filter_map(|child| match child.value() {
            Node::Text(text) => Some(&**text),
            _ => None,
        })
    };
    if !own_text().any(|text| !text.trim().is_empty()) {
        return;
    }
    let style = styles.of(element);
    if style.hidden || style.font_px < INVISIBLE_TEXT_PX {
        return;
    }
    let sample = || quote(&own_text().collect::<String>());
    if style.colored
        && let (Some(color), Some(background)) = (style.color, style.background)
    {
        let ratio = color.contrast(background);
        let needed = if style.is_large() { 3.0 } else { 4.5 };
        if ratio < needed {
            findings.raise_with(&LOW_CONTRAST, Severity::Warning, || {
                (
                    format!("The text {} is {color} on {background}: {ratio:.2}:1, below {needed}:1.", sample()),
                    element_location(element),
                )
            });
        }
    }
    if style.font_px < SMALL_TEXT_PX {
        findings.raise_with(&SMALL_TEXT, Severity::Notice, || {
            (format!("The text {} is {:.1}px.", sample(), style.font_px), element_location(element))
        });
    }
}
