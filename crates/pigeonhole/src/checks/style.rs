//! The small cascade the accessibility and privacy checks need: each element's
//! text colour, background, font size and weight, and whether it is hidden.
//!
//! Declarations come from, weakest first: presentational attributes (`bgcolor`,
//! `<font color size>`, `<body text>`), the simple rules of `<style>` blocks
//! (`*`, `tag`, `.class`, `tag.class`, `#id`, `tag#id`, in that order of
//! specificity), then the inline `style`; `!important` beats all of those. What is
//! not declared is inherited from the parent, as browsers do (a background shows
//! through to the children). Rules inside at-rules (`@media` for dark mode or
//! small screens) and selectors with combinators or pseudo-classes are left out:
//! they hold only in some clients or for some states. A background image, or a
//! colour this cascade cannot read (`var()`, `hsl()`), makes the colour unknown,
//! and contrast is not judged under it.
//!
//! [`Styles::compute`] walks the document once, each element from its parent's
//! style: the whole pass is linear in the document.

use std::collections::HashMap;

use ego_tree::NodeId;
use ego_tree::iter::Edge;
use scraper::{ElementRef, Html};

use crate::mail::client_view::matching_brace;

/// An opaque colour.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Rgb(pub u8, pub u8, pub u8);

/// A colour with its opacity (0–1).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Rgba(Rgb, f32);

impl Rgb {
    const BLACK: Rgb = Rgb(0, 0, 0);
    const WHITE: Rgb = Rgb(255, 255, 255);
    /// Browsers' unvisited link colour.
    const LINK: Rgb = Rgb(0, 0, 0xee);

    /// WCAG 2.1's relative luminance.
    fn luminance(self) -> f64 {
        let channel = |c: u8| {
            let c = f64::from(c) / 255.0;
            if c <= 0.03928 { c / 12.92 } else { ((c + 0.055) / 1.055).powf(2.4) }
        };
        0.2126 * channel(self.0) + 0.7152 * channel(self.1) + 0.0722 * channel(self.2)
    }

    /// WCAG 2.1's contrast ratio, 1 to 21.
    pub fn contrast(self, other: Rgb) -> f64 {
        let (a, b) = (self.luminance(), other.luminance());
        (a.max(b) + 0.05) / (a.min(b) + 0.05)
    }

    fn over(color: Rgba, backdrop: Rgb) -> Rgb {
        let Rgba(Rgb(r, g, b), alpha) = color;
        let mix = |top: u8, bottom: u8| (f32::from(top) * alpha + f32::from(bottom) * (1.0 - alpha)).round() as u8;
        Rgb(mix(r, backdrop.0), mix(g, backdrop.1), mix(b, backdrop.2))
    }
}

impl std::fmt::Display for Rgb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "#{:02x}{:02x}{:02x}", self.0, self.1, self.2)
    }
}

/// An element's computed style, as far as the checks need it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Style {
    /// The text colour; `None` when the cascade cannot tell.
    pub color: Option<Rgb>,
    /// The background the text shows on; `None` under an image or an unknown colour.
    pub background: Option<Rgb>,
    /// Whether the message set a colour or background on this element or above.
    pub colored: bool,
    pub font_px: f32,
    pub bold: bool,
    /// Not displayed: `display:none`, `visibility:hidden`, `opacity:0`,
    /// `max-height:0`, the `hidden` attribute, or inside such an element.
    pub hidden: bool,
}

impl Style {
    const ROOT: Style = Style {
        color: Some(Rgb::BLACK),
        background: Some(Rgb::WHITE),
        colored: false,
        font_px: 16.0,
        bold: false,
        hidden: false,
    };

    /// WCAG's large text: 18pt, or 14pt bold.
    pub fn is_large(&self) -> bool {
        self.font_px >= 24.0 || (self.bold && self.font_px >= 18.66)
    }
}

/// Every element's computed style.
pub(crate) struct Styles {
    by_node: HashMap<NodeId, Style>,
}

impl Styles {
    pub fn compute(document: &Html) -> Styles {
        let sheet = Sheet::collect(document);
        let mut by_node = HashMap::new();
        let mut open = vec![Style::ROOT];
        for edge in document.tree.root().traverse() {
            match edge {
                Edge::Open(node) => {
                    if let Some(element) = ElementRef::wrap(node) {
                        let parent = *open.last().unwrap_or(&Style::ROOT);
                        let style = computed(element, &parent, &sheet);
                        by_node.insert(node.id(), style);
                        open.push(style);
                    }
                }
                Edge::Close(node) => {
                    if node.value().is_element() {
                        open.pop();
                    }
                }
            }
        }
        Styles { by_node }
    }

    pub fn of(&self, element: ElementRef<'_>) -> Style {
        self.by_node.get(&element.id()).copied().unwrap_or(Style::ROOT)
    }
}

/// The properties the cascade follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Property {
    Color,
    BackgroundColor,
    Background,
    BackgroundImage,
    FontSize,
    FontWeight,
    Font,
    Display,
    Visibility,
    Opacity,
    MaxHeight,
}

const PROPERTIES: usize = 11;

impl Property {
    fn named(name: &str) -> Option<Property> {
        Some(match name {
            "color" => Property::Color,
            "background-color" => Property::BackgroundColor,
            "background" => Property::Background,
            "background-image" => Property::BackgroundImage,
            "font-size" => Property::FontSize,
            "font-weight" => Property::FontWeight,
            "font" => Property::Font,
            "display" => Property::Display,
            "visibility" => Property::Visibility,
            "opacity" => Property::Opacity,
            "max-height" => Property::MaxHeight,
            _ => return None,
        })
    }
}

/// One declaration of a followed property: its value (lower-cased, without
/// `!important`) and whether it was important.
#[derive(Debug, Clone)]
struct Declaration {
    property: Property,
    value: String,
    important: bool,
}

/// The followed declarations of a `style` attribute or rule body.
fn declarations(block: &str) -> impl Iterator<Item = Declaration> + '_ {
    block.split(';').filter_map(|declaration| {
        let (name, value) = declaration.split_once(':')?;
        let property = Property::named(&name.trim().to_ascii_lowercase())?;
        let value = value.trim().to_ascii_lowercase();
        let (value, important) = match value.rsplit_once('!') {
            Some((value, flag)) if flag.trim() == "important" => (value.trim_end().to_string(), true),
            _ => (value, false),
        };
        Some(Declaration { property, value, important })
    })
}

/// The simple rules of the document's `<style>` blocks, merged per selector: each
/// selector's last declaration of a property wins, as in the cascade.
#[derive(Default)]
struct Sheet {
    /// `*`, `td`, `.note`, `td.note`, `#footer`, `td#footer` → declarations.
    rules: HashMap<String, Vec<Declaration>>,
}

impl Sheet {
    fn collect(document: &Html) -> Sheet {
        let mut sheet = Sheet::default();
        for block in document.tree.nodes().filter_map(ElementRef::wrap).filter(|e| e.value().name() == "style") {
            let text: String = block.text().collect();
            sheet.add(&strip_comments(&text));
        }
        sheet
    }

    /// Adds a style sheet's top-level rules; at-rules (and what they nest) are
    /// skipped.
    fn add(&mut self, css: &str) {
        let mut rest = css;
        while !rest.trim().is_empty() {
            let Some(open) = rest.find(['{', ';']) else { break };
            let prelude = rest[..open].replace("<!--", "").replace("-->", "");
            let prelude = prelude.trim();
            if rest.as_bytes()[open] == b';' {
                // A statement at-rule (`@import …;`) or stray text.
                rest = &rest[open + 1..];
                continue;
            }
            // Past the block's `}`, nested blocks included (the sheet's end when unclosed).
            let end = (matching_brace(rest, open) + 1).min(rest.len());
            if !prelude.starts_with('@') {
                let body = &rest[open + 1..end.saturating_sub(1).max(open + 1)];
                for selector in prelude.split(',').filter_map(simple_selector) {
                    let merged = self.rules.entry(selector).or_default();
                    for declaration in declarations(body) {
                        merge(merged, declaration);
                    }
                }
            }
            rest = &rest[end..];
        }
    }

    fn rules_for(&self, key: &str) -> &[Declaration] {
        self.rules.get(key).map(Vec::as_slice).unwrap_or_default()
    }
}

/// `selector` as a rule key when it is one of the simple forms the cascade follows.
fn simple_selector(selector: &str) -> Option<String> {
    let selector = selector.trim();
    if selector == "*" {
        return Some("*".into());
    }
    let split = selector.find(['.', '#']).unwrap_or(selector.len());
    let (tag, rest) = selector.split_at(split);
    let is_name = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    let tag_ok = tag.is_empty() || (is_name(tag) && tag.starts_with(|c: char| c.is_ascii_alphabetic()));
    let rest_ok = rest.is_empty() || is_name(&rest[1..]);
    (tag_ok && rest_ok && !selector.is_empty()).then(|| format!("{}{rest}", tag.to_ascii_lowercase()))
}

fn strip_comments(css: &str) -> String {
    let mut out = String::with_capacity(css.len());
    let mut rest = css;
    while let Some(start) = rest.find("/*") {
        out.push_str(&rest[..start]);
        rest = rest[start + 2..].find("*/").map_or("", |end| &rest[start + 2 + end + 2..]);
    }
    out.push_str(rest);
    out
}

/// Puts `declaration` into `declared` as the cascade orders them: a later one wins
/// unless the earlier was important and it is not.
fn merge(declared: &mut Vec<Declaration>, declaration: Declaration) {
    match declared.iter_mut().find(|d| d.property == declaration.property) {
        Some(earlier) if earlier.important && !declaration.important => {}
        Some(earlier) => *earlier = declaration,
        None => declared.push(declaration),
    }
}

/// Classes of one element the cascade looks up; more are ignored.
const MAX_CLASSES: usize = 16;

fn computed(element: ElementRef<'_>, parent: &Style, sheet: &Sheet) -> Style {
    let value = element.value();
    let name = value.name();
    let mut declared: Vec<Declaration> = Vec::with_capacity(PROPERTIES);
    for hint in attribute_hints(element) {
        merge(&mut declared, hint);
    }
    if !sheet.rules.is_empty() {
        let classes: Vec<&str> = value.attr("class").unwrap_or("").split_whitespace().take(MAX_CLASSES).collect();
        let mut keys = vec!["*".to_string(), name.to_string()];
        keys.extend(classes.iter().map(|class| format!(".{class}")));
        keys.extend(classes.iter().map(|class| format!("{name}.{class}")));
        if let Some(id) = value.attr("id") {
            keys.push(format!("#{id}"));
            keys.push(format!("{name}#{id}"));
        }
        for key in &keys {
            for declaration in sheet.rules_for(key) {
                merge(&mut declared, declaration.clone());
            }
        }
    }
    if let Some(style) = value.attr("style") {
        for declaration in declarations(style) {
            merge(&mut declared, declaration);
        }
    }
    let get = |property| declared.iter().find(|d| d.property == property).map(|d| d.value.as_str());

    let mut style = *parent;
    // Font size first: `em` needs the parent's, contrast needs this one.
    let default_scale = match name {
        "h1" => 2.0,
        "h2" => 1.5,
        "h3" => 1.17,
        "h5" => 0.83,
        "h6" => 0.67,
        "small" | "sub" | "sup" => 0.83,
        _ => 1.0,
    };
    style.font_px = parent.font_px * default_scale;
    let font_shorthand = get(Property::Font);
    let size = get(Property::FontSize).or_else(|| {
        font_shorthand.and_then(|font| font.split_whitespace().find(|word| font_size(word, parent.font_px).is_some()))
    });
    if let Some(px) = size.and_then(|size| font_size(size, parent.font_px)) {
        style.font_px = px;
    }
    if matches!(name, "b" | "strong" | "th" | "h1" | "h2" | "h3" | "h4" | "h5" | "h6") {
        style.bold = true;
    }
    let weight = get(Property::FontWeight)
        .or_else(|| font_shorthand.and_then(|font| font.split_whitespace().find(|word| bold(word).is_some())));
    if let Some(bold) = weight.and_then(bold) {
        style.bold = bold;
    }

    // The background: a colour shows through to the children; an image hides it.
    let background_shorthand = get(Property::Background);
    let image = get(Property::BackgroundImage).is_some_and(|v| v != "none")
        || background_shorthand.is_some_and(|v| v.contains("url("));
    let background = get(Property::BackgroundColor).or_else(|| {
        background_shorthand.map(|value| value.split_whitespace().find(|word| color(word).is_some()).unwrap_or(""))
    });
    if image {
        style.background = None;
        style.colored = true;
    } else if let Some(background) = background.filter(|value| !value.is_empty()) {
        style.colored = true;
        style.background = match color(background) {
            Some(Rgba(_, 0.0)) => parent.background,
            Some(Rgba(rgb, alpha)) if alpha >= 1.0 => Some(rgb),
            Some(translucent) => parent.background.map(|backdrop| Rgb::over(translucent, backdrop)),
            None => None,
        };
    }

    let own_color = get(Property::Color);
    if let Some(text) = own_color {
        style.colored = true;
        style.color = match (color(text), style.background) {
            (Some(Rgba(rgb, alpha)), _) if alpha >= 1.0 => Some(rgb),
            (Some(translucent), Some(backdrop)) => Some(Rgb::over(translucent, backdrop)),
            _ => None,
        };
    } else if name == "a" && value.attr("href").is_some() {
        style.color = Some(Rgb::LINK);
    }

    let is = |property, values: &[&str]| get(property).is_some_and(|value| values.contains(&value));
    style.hidden = parent.hidden
        || value.attr("hidden").is_some()
        || is(Property::Display, &["none"])
        || is(Property::Visibility, &["hidden", "collapse"])
        || get(Property::Opacity).and_then(|v| v.parse::<f32>().ok()).is_some_and(|opacity| opacity == 0.0)
        || get(Property::MaxHeight).and_then(|v| font_size(v, style.font_px)).is_some_and(|height| height == 0.0);
    style
}

/// The declarations an element's presentational attributes stand for.
fn attribute_hints(element: ElementRef<'_>) -> Vec<Declaration> {
    let value = element.value();
    let hint =
        |property, value: &str| Declaration { property, value: value.trim().to_ascii_lowercase(), important: false };
    let mut hints = Vec::new();
    hints.extend(value.attr("bgcolor").map(|color| hint(Property::BackgroundColor, color)));
    if value.attr("background").is_some_and(|url| !url.trim().is_empty()) {
        hints.push(hint(Property::BackgroundImage, "url()"));
    }
    match value.name() {
        "font" => {
            hints.extend(value.attr("color").map(|color| hint(Property::Color, color)));
            if let Some(px) = value.attr("size").and_then(font_size_attribute) {
                hints.push(hint(Property::FontSize, &format!("{px}px")));
            }
        }
        "body" => hints.extend(value.attr("text").map(|color| hint(Property::Color, color))),
        _ => {}
    }
    hints
}

/// `<font size>`: 1 to 7, or relative to 3 (`+1`, `-2`), in pixels.
fn font_size_attribute(size: &str) -> Option<f32> {
    const PIXELS: [f32; 7] = [10.0, 13.0, 16.0, 18.0, 24.0, 32.0, 48.0];
    let size = size.trim();
    let n: i32 = match size.strip_prefix('+') {
        Some(up) => 3 + up.parse::<i32>().ok()?,
        None if size.starts_with('-') => 3 + size.parse::<i32>().ok()?,
        None => size.parse().ok()?,
    };
    Some(PIXELS[(n.clamp(1, 7) - 1) as usize])
}

/// A CSS length or font-size keyword in pixels; `parent` is the parent's size.
fn font_size(value: &str, parent: f32) -> Option<f32> {
    let value = value.trim();
    let keyword = match value {
        "xx-small" => Some(9.0),
        "x-small" => Some(10.0),
        "small" => Some(13.0),
        "medium" => Some(16.0),
        "large" => Some(18.0),
        "x-large" => Some(24.0),
        "xx-large" => Some(32.0),
        "smaller" => Some(parent / 1.2),
        "larger" => Some(parent * 1.2),
        _ => None,
    };
    if keyword.is_some() {
        return keyword;
    }
    let number_end = value.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(value.len());
    let (number, unit) = value.split_at(number_end);
    let number: f32 = number.parse().ok()?;
    let px = match unit {
        "px" => number,
        "pt" => number * 4.0 / 3.0,
        "em" => number * parent,
        "rem" => number * 16.0,
        "%" => number * parent / 100.0,
        "" if number == 0.0 => 0.0,
        _ => return None,
    };
    Some(px)
}

/// `font-weight`: bold or not; `None` for anything else.
fn bold(value: &str) -> Option<bool> {
    match value {
        "bold" | "bolder" => Some(true),
        "normal" | "lighter" => Some(false),
        number => number.parse::<u16>().ok().map(|weight| weight >= 600),
    }
}

/// A CSS or HTML colour: a name, `#rgb`, `#rrggbb` (with alpha too), `rgb()` and
/// `rgba()`, `transparent`, and the bare `rrggbb` old HTML attributes carry.
fn color(value: &str) -> Option<Rgba> {
    let value = value.trim();
    if value == "transparent" {
        return Some(Rgba(Rgb::BLACK, 0.0));
    }
    if let Some(hex) = value.strip_prefix('#') {
        let (r, g, b, alpha) = cssparser::color::parse_hash_color(hex.as_bytes()).ok()?;
        return Some(Rgba(Rgb(r, g, b), alpha));
    }
    if let Some(arguments) = value.strip_prefix("rgba(").or_else(|| value.strip_prefix("rgb(")) {
        return rgb_function(arguments.strip_suffix(')')?);
    }
    if let Ok((r, g, b)) = cssparser::color::parse_named_color(value) {
        return Some(Rgba(Rgb(r, g, b), 1.0));
    }
    if value.len() == 6 && value.bytes().all(|b| b.is_ascii_hexdigit()) {
        let (r, g, b, alpha) = cssparser::color::parse_hash_color(value.as_bytes()).ok()?;
        return Some(Rgba(Rgb(r, g, b), alpha));
    }
    None
}

/// `rgb()`'s arguments: `255, 0, 0`, `255 0 0 / 50%`, `100%, 0%, 0%, 0.5`.
fn rgb_function(arguments: &str) -> Option<Rgba> {
    let parts: Vec<&str> = arguments.split([',', ' ', '/']).filter(|part| !part.is_empty()).collect();
    let channel = |part: &str| -> Option<u8> {
        let value = match part.strip_suffix('%') {
            Some(percent) => percent.parse::<f32>().ok()? * 2.55,
            None => part.parse::<f32>().ok()?,
        };
        Some(value.round().clamp(0.0, 255.0) as u8)
    };
    let alpha = match parts.get(3) {
        None => 1.0,
        Some(part) => match part.strip_suffix('%') {
            Some(percent) => percent.parse::<f32>().ok()? / 100.0,
            None => part.parse::<f32>().ok()?,
        }
        .clamp(0.0, 1.0),
    };
    (parts.len() <= 4).then_some(())?;
    Some(Rgba(Rgb(channel(parts.first()?)?, channel(parts.get(1)?)?, channel(parts.get(2)?)?), alpha))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn style_of(html: &str, selector: &str) -> Style {
        let document = Html::parse_document(html);
        let styles = Styles::compute(&document);
        let selector = scraper::Selector::parse(selector).unwrap();
        styles.of(document.select(&selector).next().expect("the element"))
    }

    #[test]
    fn colours_in_every_notation() {
        assert_eq!(color("#fff"), Some(Rgba(Rgb::WHITE, 1.0)));
        assert_eq!(color("#777777"), Some(Rgba(Rgb(0x77, 0x77, 0x77), 1.0)));
        assert_eq!(color("rgb(255, 0, 0)"), Some(Rgba(Rgb(255, 0, 0), 1.0)));
        assert_eq!(color("rgb(0 0 255 / 50%)"), Some(Rgba(Rgb(0, 0, 255), 0.5)));
        assert_eq!(color("silver"), Some(Rgba(Rgb(192, 192, 192), 1.0)));
        assert_eq!(color("ff0000"), Some(Rgba(Rgb(255, 0, 0), 1.0)));
        assert_eq!(color("var(--brand)"), None);
    }

    #[test]
    fn contrast_ratios_match_wcag() {
        assert!((Rgb::BLACK.contrast(Rgb::WHITE) - 21.0).abs() < 0.01);
        // #767676 on white is the lightest grey that passes AA (4.54:1).
        assert!((Rgb(0x76, 0x76, 0x76).contrast(Rgb::WHITE) - 4.54).abs() < 0.01);
    }

    #[test]
    fn the_cascade_orders_attributes_rules_and_inline_styles() {
        let html = "<style>td { color: #111111 } .note { color: #222222 } #x { color: #333333 }\
                    @media (prefers-color-scheme: dark) { td { color: #ffffff !important } }</style>\
                    <table bgcolor=\"#000000\"><tr><td>a</td><td class=\"note\">b</td>\
                    <td class=\"note\" id=\"x\">c</td><td class=\"note\" id=\"x\" style=\"color:#444444\">d</td>\
                    <td><span>e</span></td></tr></table>";
        assert_eq!(style_of(html, "td:nth-of-type(1)").color, Some(Rgb(0x11, 0x11, 0x11)));
        assert_eq!(style_of(html, "td:nth-of-type(2)").color, Some(Rgb(0x22, 0x22, 0x22)));
        assert_eq!(style_of(html, "td:nth-of-type(3)").color, Some(Rgb(0x33, 0x33, 0x33)));
        assert_eq!(style_of(html, "td:nth-of-type(4)").color, Some(Rgb(0x44, 0x44, 0x44)));
        let inherited = style_of(html, "span");
        assert_eq!(inherited.color, Some(Rgb(0x11, 0x11, 0x11)));
        assert_eq!(inherited.background, Some(Rgb::BLACK));
        assert!(inherited.colored);
    }

    #[test]
    fn font_sizes_resolve_against_the_parent() {
        let html = "<div style=\"font-size:10px\"><p style=\"font-size:150%\">a<b style=\"font-size:2em\">b</b></p>\
                    <font size=\"1\">c</font><h1>d</h1></div>";
        assert_eq!(style_of(html, "p").font_px, 15.0);
        let b = style_of(html, "b");
        assert_eq!(b.font_px, 30.0);
        assert!(b.bold && b.is_large());
        assert_eq!(style_of(html, "font").font_px, 10.0);
        assert_eq!(style_of(html, "h1").font_px, 20.0);
    }

    #[test]
    fn hidden_and_image_backgrounds() {
        let html = "<div style=\"display:none\"><p>a</p></div><table><tr><td style=\"background:url(x.png) #000\"><i>b</i></td></tr></table>";
        assert!(style_of(html, "p").hidden);
        assert_eq!(style_of(html, "i").background, None);
    }
}
