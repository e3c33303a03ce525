//! The colour-rewriting dark modes of the preview (`?dark=partial` and `?dark=full`):
//! the sanitized document ([`super::render::html_document`]) with its colours
//! changed as mail clients change them when their reader has dark mode on.
//!
//! * [`DarkMode::Partial`] (Outlook.com, Outlook on Windows, Gmail's apps): light
//!   backgrounds become dark and dark text light; dark backgrounds and light text
//!   stay as they are.
//! * [`DarkMode::Full`] (Gmail on iOS): every colour is inverted.
//!
//! (`prefers` is not here: it honours the message's own
//! `prefers-color-scheme: dark` rules, see [`super::render::ColorScheme`].)
//!
//! A colour is light or dark by its relative luminance (WCAG); inverting keeps its
//! hue and saturation and mirrors its HSL lightness, held within 7 % and 93 % as
//! clients keep pure black and white away (white becomes `#121212`, Material's
//! dark surface, black `#ededed`). Colours are rewritten where the document sets
//! them: `style` attributes, `<style>` sheets, and the `bgcolor`, `color`, `text`
//! and link-colour attributes. Images are left alone, as the clients leave them.
//! Only colour values are replaced, by `#rrggbb` (or `rgba(…)`) the code writes
//! itself, so the rewrite cannot add markup.

use std::borrow::Cow;
use std::cell::RefCell;

use csscolorparser::Color;
use lol_html::html_content::{ContentType, Element, TextChunk};
use lol_html::{ElementContentHandlers, HandlerResult, RewriteStrSettings, Selector, rewrite_str};

pub use super::client_view::DarkMode;

/// The client's own colours, under the message's: a dark page and light text.
const DEFAULTS: &str = "<style>:root{color-scheme:dark}html{background:#121212;color:#ededed}</style>";

/// Lightness is kept within these after inverting.
const DARKEST: f32 = 0.07;
const LIGHTEST: f32 = 0.93;

/// Whether a colour paints a background or a foreground (text, borders).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Background,
    Foreground,
}

/// `document` with its colours rewritten for `mode`; `None` and `Prefers` leave
/// it as it is.
pub fn apply(document: String, mode: DarkMode) -> String {
    if !matches!(mode, DarkMode::Partial | DarkMode::Full) {
        return document;
    }
    let sheet = RefCell::new(String::new());
    let attributes = |element: &mut Element<'_, '_>| -> HandlerResult {
        let rewrites: Vec<(String, String)> = element
            .attributes()
            .iter()
            .filter_map(|attribute| {
                let name = attribute.name();
                let value = attribute.value();
                let rewritten = match name.as_str() {
                    "style" => declarations(&value, mode),
                    "bgcolor" => colour(&value, Role::Background, mode).unwrap_or(value),
                    "color" | "text" | "link" | "vlink" | "alink" => {
                        colour(&value, Role::Foreground, mode).unwrap_or(value)
                    }
                    _ => return None,
                };
                Some((name, rewritten))
            })
            .collect();
        for (name, value) in rewrites {
            element.set_attribute(&name, &value)?;
        }
        Ok(())
    };
    let sheets = |chunk: &mut TextChunk<'_>| -> HandlerResult {
        sheet.borrow_mut().push_str(chunk.as_str());
        if chunk.last_in_text_node() {
            let css = std::mem::take(&mut *sheet.borrow_mut());
            // The sheet was escaped for `<style>` when the document was made, and
            // rewriting colours adds no `<`.
            chunk.replace(&rules(&css, mode), ContentType::Html);
        } else {
            chunk.remove();
        }
        Ok(())
    };
    let head = |element: &mut Element<'_, '_>| -> HandlerResult {
        element.prepend(DEFAULTS, ContentType::Html);
        Ok(())
    };
    let selector = |s: &str| Cow::Owned(s.parse::<Selector>().expect("a valid selector"));
    let settings = RewriteStrSettings::new()
        .append_element_content_handler((selector("head"), ElementContentHandlers::default().element(head)))
        .append_element_content_handler((selector("*"), ElementContentHandlers::default().element(attributes)))
        .append_element_content_handler((selector("style"), ElementContentHandlers::default().text(sheets)));
    // The document is our own serialization, which the rewriter always follows.
    rewrite_str(&document, settings).unwrap_or(document)
}

/// A sheet with the colours of its declarations rewritten: every run of text
/// between `{`, `}` and `;` that reads `property: value` inside a block is a
/// declaration; selectors and at-rule preludes pass unchanged.
fn rules(css: &str, mode: DarkMode) -> String {
    let mut out = String::with_capacity(css.len());
    let mut depth = 0usize;
    let mut start = 0;
    for (at, c) in css.char_indices() {
        if matches!(c, '{' | '}' | ';') {
            let piece = &css[start..at];
            if depth > 0 && c != '{' {
                out.push_str(&declaration(piece, mode));
            } else {
                out.push_str(piece);
            }
            out.push(c);
            start = at + 1;
            match c {
                '{' => depth += 1,
                '}' => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
    }
    out.push_str(&css[start..]);
    out
}

/// A declaration block (`style` attribute) with its colours rewritten.
fn declarations(block: &str, mode: DarkMode) -> String {
    block.split(';').map(|piece| declaration(piece, mode)).collect::<Vec<_>>().join(";")
}

/// One `property: value` with the colours in its value rewritten, when the
/// property paints a background or a foreground.
fn declaration(piece: &str, mode: DarkMode) -> Cow<'_, str> {
    let Some((property, value)) = piece.split_once(':') else { return Cow::Borrowed(piece) };
    let role = match property.trim().to_ascii_lowercase().as_str() {
        "background" | "background-color" => Role::Background,
        "color"
        | "border"
        | "border-color"
        | "border-top"
        | "border-right"
        | "border-bottom"
        | "border-left"
        | "border-top-color"
        | "border-right-color"
        | "border-bottom-color"
        | "border-left-color"
        | "outline"
        | "outline-color"
        | "text-decoration-color"
        | "column-rule-color" => Role::Foreground,
        _ => return Cow::Borrowed(piece),
    };
    Cow::Owned(format!("{property}:{}", colours_in(value, role, mode)))
}

/// A CSS value with each colour in it (`#fff`, `rgb(…)`, `hsl(…)`, a colour name)
/// rewritten; `url(…)` and everything else kept.
fn colours_in(value: &str, role: Role, mode: DarkMode) -> String {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(c) = rest.chars().next() {
        let token_end = if c == '#' {
            1 + rest[1..].find(|c: char| !c.is_ascii_alphanumeric()).unwrap_or(rest.len() - 1)
        } else if c.is_ascii_alphabetic() {
            let word = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '-')).unwrap_or(rest.len());
            if rest[word..].starts_with('(') {
                // A function: up to its closing parenthesis (colour functions do
                // not nest others that matter here).
                rest[word..].find(')').map_or(rest.len(), |close| word + close + 1)
            } else {
                word
            }
        } else {
            c.len_utf8()
        };
        let token = &rest[..token_end];
        let is_url = token.len() >= 4 && token[..4].eq_ignore_ascii_case("url(");
        match (!is_url).then(|| colour(token, role, mode)).flatten() {
            Some(rewritten) => out.push_str(&rewritten),
            None => out.push_str(token),
        }
        rest = &rest[token_end..];
    }
    out
}

/// One colour value rewritten for `role` and `mode`: `None` when it is not a
/// colour, is transparent, or stays as it is.
fn colour(value: &str, role: Role, mode: DarkMode) -> Option<String> {
    let value = value.trim();
    // HTML attributes write `bgcolor="ffffff"` without the `#` too.
    let color = csscolorparser::parse(value).ok().or_else(|| {
        (value.len() == 6 && value.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| csscolorparser::parse(&format!("#{value}")).ok())
            .flatten()
    })?;
    if color.a == 0.0 {
        return None;
    }
    let light = luminance(&color) > 0.5;
    let flip = match (mode, role) {
        (DarkMode::Full, _) => true,
        (_, Role::Background) => light,
        (_, Role::Foreground) => !light,
    };
    flip.then(|| css(&inverted(&color)))
}

/// WCAG relative luminance (0 black – 1 white).
fn luminance(color: &Color) -> f32 {
    let linear = |c: f32| if c <= 0.03928 { c / 12.92 } else { ((c + 0.055) / 1.055).powf(2.4) };
    0.2126 * linear(color.r) + 0.7152 * linear(color.g) + 0.0722 * linear(color.b)
}

/// Hue and saturation kept, HSL lightness mirrored within [`DARKEST`]–[`LIGHTEST`].
fn inverted(color: &Color) -> Color {
    let [hue, saturation, lightness, alpha] = color.to_hsla();
    Color::from_hsla(hue, saturation, (1.0 - lightness).clamp(DARKEST, LIGHTEST), alpha)
}

/// `#rrggbb`, or `rgba(r,g,b,a)` when not opaque.
fn css(color: &Color) -> String {
    let [r, g, b, a] = color.to_rgba8();
    if a == 255 { format!("#{r:02x}{g:02x}{b:02x}") } else { format!("rgba({r},{g},{b},{:.3})", color.a) }
}

#[cfg(test)]
mod tests;
