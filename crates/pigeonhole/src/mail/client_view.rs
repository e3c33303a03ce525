//! "Render as": a message's HTML as one mail client family would show it, for
//! `GET /view/{ID}.html?embed=1&view=…` and the notes beside the preview.
//!
//! A view takes out what its client is documented to drop, driven by caniemail's
//! data through [`super::htmlcheck`] (the same detectors and data as the html-check,
//! so the views follow the data when it is updated): a declaration using a
//! property, value, function or unit the client does not support (its newest
//! result in the data is `n`), a style rule whose selector uses an unsupported
//! pseudo-class, an unsupported at-rule with its block, an unsupported element
//! (`<link>`, `<style>`, `<svg>`… dropped with their content, others unwrapped) or
//! attribute (`srcset`, `background`…). Partly supported features (`a`) are kept:
//! the data does not say which part goes. Besides the data:
//!
//! * Gmail (web and app) drops a whole `<style>` block it cannot parse (here:
//!   unbalanced braces) and clips a message whose HTML as sent is over 102 KB
//!   ([`GMAIL_CLIP_BYTES`]), ending it with its "[Message clipped]" marker;
//! * Outlook on Windows blocks remote images until the reader allows them: their
//!   `src` goes, so the frame shows their `alt` text.
//!
//! The result is HTML again, which [`super::render::html_document`] then sanitizes
//! as it does every message. What was taken out is [`ViewNotes`]. A view is an
//! approximation: the data describes support feature by feature, not each client's
//! sanitizer.

use std::borrow::Cow;
use std::collections::BTreeMap;

use ego_tree::NodeId;
use scraper::{ElementRef, Html};
use serde::Serialize;

use super::htmlcheck::{self, FeatureRef, Support};
use super::{html_bounds, render};

/// Gmail clips a message whose HTML is larger than this (102 KB, as Gmail's help
/// and every tester measure it: 102 × 1,024 bytes of the HTML as sent).
pub const GMAIL_CLIP_BYTES: usize = 102 * 1024;

/// The check whose findings explain every removal (the Checks tab's ID).
const CHECK_ID: &str = "html.client-support";

/// Element features whose element goes with everything inside it; other
/// unsupported elements are unwrapped (their content stays).
const DROPPED_WITH_CONTENT: &[&str] =
    &["html-style", "html-link", "html-svg", "html-video", "html-audio", "html-object", "html-form", "html-picture"];

/// A mail client family the preview can imitate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientView {
    AsSent,
    Gmail,
    Outlook,
    OutlookCom,
    AppleMail,
    Yahoo,
    GmailAndroid,
}

/// How a client shows a message in dark mode (`?dark=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DarkMode {
    /// Colours as sent.
    None,
    /// Light backgrounds darkened and dark text lightened; the rest kept.
    Partial,
    /// Every colour's lightness inverted.
    Full,
    /// `prefers-color-scheme: dark` honoured, colours otherwise as sent.
    Prefers,
}

impl ClientView {
    pub const ALL: [ClientView; 7] = [
        ClientView::AsSent,
        ClientView::Gmail,
        ClientView::Outlook,
        ClientView::OutlookCom,
        ClientView::AppleMail,
        ClientView::Yahoo,
        ClientView::GmailAndroid,
    ];

    /// The `?view=` value.
    pub fn name(self) -> &'static str {
        match self {
            ClientView::AsSent => "as-sent",
            ClientView::Gmail => "gmail",
            ClientView::Outlook => "outlook",
            ClientView::OutlookCom => "outlook-com",
            ClientView::AppleMail => "apple-mail",
            ClientView::Yahoo => "yahoo",
            ClientView::GmailAndroid => "gmail-android",
        }
    }

    pub fn parse(name: &str) -> Option<ClientView> {
        ClientView::ALL.into_iter().find(|view| view.name() == name)
    }

    /// What the notes call the client.
    fn client_name(self) -> &'static str {
        match self {
            ClientView::AsSent => "The message as sent",
            ClientView::Gmail => "Gmail",
            ClientView::Outlook => "Outlook",
            ClientView::OutlookCom => "Outlook.com",
            ClientView::AppleMail => "Apple Mail",
            ClientView::Yahoo => "Yahoo",
            ClientView::GmailAndroid => "Gmail's Android app",
        }
    }

    /// The client's (family, platform) in caniemail's data.
    fn client(self) -> Option<(&'static str, &'static str)> {
        match self {
            ClientView::AsSent => None,
            ClientView::Gmail => Some(("gmail", "desktop-webmail")),
            ClientView::Outlook => Some(("outlook", "windows")),
            ClientView::OutlookCom => Some(("outlook", "outlook-com")),
            ClientView::AppleMail => Some(("apple-mail", "macos")),
            ClientView::Yahoo => Some(("yahoo", "desktop-webmail")),
            ClientView::GmailAndroid => Some(("gmail", "android")),
        }
    }

    fn is_gmail(self) -> bool {
        matches!(self, ClientView::Gmail | ClientView::GmailAndroid)
    }

    /// Outlook on Windows asks before downloading pictures; the others show them
    /// (Gmail, Yahoo and Outlook.com through their proxies, Apple Mail preloads).
    fn blocks_images(self) -> bool {
        self == ClientView::Outlook
    }

    /// The dark mode the client uses when its reader has dark mode on (see the
    /// README's table for the sources).
    pub fn default_dark(self) -> DarkMode {
        match self {
            ClientView::AsSent | ClientView::AppleMail => DarkMode::Prefers,
            ClientView::Outlook | ClientView::OutlookCom | ClientView::GmailAndroid => DarkMode::Partial,
            ClientView::Gmail | ClientView::Yahoo => DarkMode::None,
        }
    }
}

impl DarkMode {
    pub const ALL: [DarkMode; 4] = [DarkMode::None, DarkMode::Partial, DarkMode::Full, DarkMode::Prefers];

    /// The `?dark=` value.
    pub fn name(self) -> &'static str {
        match self {
            DarkMode::None => "none",
            DarkMode::Partial => "partial",
            DarkMode::Full => "full",
            DarkMode::Prefers => "prefers",
        }
    }

    /// A `?dark=` value; `1` is the older name of `prefers`.
    pub fn parse(name: &str) -> Option<DarkMode> {
        if name == "1" {
            return Some(DarkMode::Prefers);
        }
        DarkMode::ALL.into_iter().find(|mode| mode.name() == name)
    }
}

/// What a view took out of a message: `GET /api/v1/message/{ID}/view-notes`, and
/// `X-Pigeonhole-View-Removed` beside the view itself.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "PascalCase")]
pub struct ViewNotes {
    /// The view (`outlook`).
    pub view: String,
    /// The dark mode the client uses when its reader has dark mode on.
    pub default_dark: String,
    /// One line: "Outlook dropped 14 declarations: border-radius ×6, …", or "" when
    /// nothing was taken out.
    pub summary: String,
    /// What was taken out, grouped by kind and feature, the most frequent first.
    pub removed: Vec<Removal>,
    /// Gmail clipped the message at 102 KB.
    pub clipped: bool,
    /// Remote images the client does not load until asked.
    pub images_blocked: usize,
}

/// One kind of thing a view took out, and the caniemail feature that explains it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "PascalCase")]
pub struct Removal {
    /// `declaration`, `rule`, `at-rule`, `element`, `attribute` or `style-block`.
    pub kind: String,
    /// The caniemail feature (`css-border-radius`): the html-check's `Slug`.
    pub feature: String,
    /// The feature's title (`border-radius`).
    pub title: String,
    /// caniemail's page for the feature.
    #[serde(rename = "URL")]
    pub url: String,
    /// The check in the Checks tab whose findings list the feature.
    pub check: String,
    pub count: usize,
}

/// The message's HTML as the client would show it, and what was taken out.
#[derive(Debug)]
pub struct ClientHtml<'a> {
    /// As sent, the HTML itself: the UI's everyday preview copies nothing.
    pub html: Cow<'a, str>,
    pub notes: ViewNotes,
}

/// `html` (a message's HTML part as sent) as `view`'s client would show it.
pub fn apply(view: ClientView, html: &str) -> ClientHtml<'_> {
    let mut notes = ViewNotes {
        view: view.name().to_string(),
        default_dark: view.default_dark().name().to_string(),
        ..ViewNotes::default()
    };
    let Some((family, platform)) = view.client() else {
        return ClientHtml { html: Cow::Borrowed(html), notes };
    };
    let mut html = html;
    if view.is_gmail() && html.len() > GMAIL_CLIP_BYTES {
        html = clip(html);
        notes.clipped = true;
    }
    let (mut document, _) = html_bounds::parse_document(html);
    let mut filter = Filter { view, family, platform, removed: BTreeMap::new() };
    notes.images_blocked = filter.run(&mut document);

    let mut out = document.html();
    if notes.clipped {
        let at = out.rfind("</body>").unwrap_or(out.len());
        out.insert_str(at, CLIPPED_MARKER);
    }
    let mut removed: Vec<Removal> = filter
        .removed
        .into_iter()
        .map(|((kind, _), (feature, count))| Removal {
            kind: kind.to_string(),
            feature: feature.slug.to_string(),
            title: feature.title.to_string(),
            url: feature.url.to_string(),
            check: CHECK_ID.to_string(),
            count,
        })
        .collect();
    removed.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.kind.cmp(&b.kind)));
    notes.summary = summary(view, &removed);
    notes.removed = removed;
    ClientHtml { html: Cow::Owned(out), notes }
}

/// Gmail's marker at the end of a clipped message (its link opens the whole
/// message in Gmail; here it is text, the preview's "As sent" shows the rest).
const CLIPPED_MARKER: &str = "<div style=\"margin:16px 0;font:13px Arial,sans-serif;color:#222\">\
     [Message clipped]&nbsp;&nbsp;<u style=\"color:#15c\">View entire message</u></div>";

/// The first [`GMAIL_CLIP_BYTES`] of `html`, ending before the last `<` in them so
/// that no tag is cut in half.
fn clip(html: &str) -> &str {
    let mut end = GMAIL_CLIP_BYTES;
    while !html.is_char_boundary(end) {
        end -= 1;
    }
    let kept = &html[..end];
    kept.rfind('<').map_or(kept, |tag| &kept[..tag])
}

/// "Outlook dropped 14 declarations: border-radius ×6, max-width ×4; 1 element: …".
fn summary(view: ClientView, removed: &[Removal]) -> String {
    let mut groups: Vec<(&str, usize, Vec<String>)> = Vec::new();
    for removal in removed {
        let item = format!("{} ×{}", removal.title, removal.count);
        match groups.iter_mut().find(|(kind, ..)| *kind == removal.kind) {
            Some((_, total, items)) => {
                *total += removal.count;
                items.push(item);
            }
            None => groups.push((&removal.kind, removal.count, vec![item])),
        }
    }
    if groups.is_empty() {
        return String::new();
    }
    let groups: Vec<String> = groups
        .into_iter()
        .map(|(kind, total, items)| {
            let plural = if total == 1 { "" } else { "s" };
            format!("{total} {kind}{plural}: {}", items.join(", "))
        })
        .collect();
    format!("{} dropped {}", view.client_name(), groups.join("; "))
}

/// One pass over a document for one client, counting what it removes.
struct Filter {
    view: ClientView,
    family: &'static str,
    platform: &'static str,
    /// (kind, feature slug) → the feature and how often.
    removed: BTreeMap<(&'static str, &'static str), (FeatureRef, usize)>,
}

impl Filter {
    fn unsupported(&self, feature: &FeatureRef) -> bool {
        htmlcheck::support(feature.slug, self.family, self.platform) == Some(Support::No)
    }

    /// The first of `features` the client does not support.
    fn first_unsupported(&self, features: Vec<FeatureRef>) -> Option<FeatureRef> {
        features.into_iter().find(|feature| self.unsupported(feature))
    }

    fn remove(&mut self, kind: &'static str, feature: FeatureRef) {
        self.removed.entry((kind, feature.slug)).or_insert((feature, 0)).1 += 1;
    }

    /// Filters the document in place; answers how many images were blocked.
    fn run(&mut self, document: &mut Html) -> usize {
        let ids: Vec<NodeId> = document.tree.nodes().filter(|node| node.value().is_element()).map(|n| n.id()).collect();
        let mut images_blocked = 0;
        for id in ids {
            let Some(element) = document.tree.get(id).and_then(ElementRef::wrap) else { continue };
            // A node already detached with an ancestor is no longer under the root.
            if element.ancestors().last().is_none_or(|root| root.id() != document.tree.root().id()) {
                continue;
            }
            if &*element.value().name.ns != "http://www.w3.org/1999/xhtml" {
                continue;
            }
            match self.element_action(element) {
                Some(Action::Drop) => {
                    if let Some(mut node) = document.tree.get_mut(id) {
                        node.detach();
                    }
                    continue;
                }
                Some(Action::Unwrap) => {
                    unwrap(document, id);
                    continue;
                }
                Some(Action::DropAttributes(names)) => {
                    if let Some(mut node) = document.tree.get_mut(id)
                        && let scraper::Node::Element(element) = node.value()
                    {
                        element.attrs.retain(|(name, _)| !names.contains(&&*name.local));
                    }
                }
                None => {}
            }
            let Some(element) = document.tree.get(id).and_then(ElementRef::wrap) else { continue };
            let is_style = element.value().name() == "style";
            let style_sheet = is_style.then(|| element.text().collect::<String>());
            let blocked_image = self.view.blocks_images()
                && element.value().name() == "img"
                && element.value().attr("src").is_some_and(render::is_remote);
            let Some(mut node) = document.tree.get_mut(id) else { continue };
            if let Some(sheet) = style_sheet {
                match self.sheet(&sheet) {
                    Some(sheet) => {
                        let mut text = node.first_child();
                        if let Some(scraper::Node::Text(text)) = text.as_mut().map(|t| t.value()) {
                            text.text = sheet.as_str().into();
                        }
                    }
                    None => {
                        node.detach();
                        continue;
                    }
                }
            }
            if let scraper::Node::Element(element) = node.value() {
                if blocked_image {
                    images_blocked += 1;
                    element.attrs.retain(|(name, _)| !matches!(&*name.local, "src" | "srcset"));
                }
                for (name, value) in element.attrs.iter_mut() {
                    if &*name.local == "style" {
                        *value = self.declarations(value).as_str().into();
                    }
                }
            }
        }
        images_blocked
    }

    /// What the client does with an element, by the element features it matches.
    fn element_action(&mut self, element: ElementRef<'_>) -> Option<Action> {
        let mut attributes = Vec::new();
        for (feature, source, selector) in htmlcheck::element_features() {
            if !selector.matches(&element) || !self.unsupported(feature) {
                continue;
            }
            match attribute_feature(source) {
                Some(attribute) => {
                    self.remove("attribute", *feature);
                    attributes.push(attribute);
                }
                None => {
                    self.remove("element", *feature);
                    return Some(if DROPPED_WITH_CONTENT.contains(&feature.slug) {
                        Action::Drop
                    } else {
                        Action::Unwrap
                    });
                }
            }
        }
        (!attributes.is_empty()).then_some(Action::DropAttributes(attributes))
    }

    /// A `<style>` sheet as the client keeps it; `None` drops the block.
    fn sheet(&mut self, sheet: &str) -> Option<String> {
        let sheet = htmlcheck::without_comments(sheet);
        if self.view.is_gmail() && !balanced(&sheet) {
            let feature = htmlcheck::element_features()
                .iter()
                .find(|(feature, ..)| feature.slug == "html-style")
                .map(|(feature, ..)| *feature)?;
            self.remove("style-block", feature);
            return None;
        }
        Some(self.rules(&sheet))
    }

    /// The rules of a sheet (or of an at-rule's block) the client keeps.
    fn rules(&mut self, css: &str) -> String {
        let mut out = String::with_capacity(css.len());
        let mut rest = css;
        loop {
            rest = rest.trim_start();
            if rest.is_empty() {
                break;
            }
            let open = rest.find('{');
            let statement_end = rest.find(';');
            // An at-rule statement (`@import …;`) before any block.
            if rest.starts_with('@') && statement_end.is_some_and(|end| open.is_none_or(|open| end < open)) {
                let end = statement_end.unwrap_or(rest.len());
                let (name, prelude) = at_rule(&rest[1..end]);
                match self.first_unsupported(htmlcheck::at_rule_features(name, prelude)) {
                    Some(feature) => self.remove("at-rule", feature),
                    None => out.push_str(&rest[..=end]),
                }
                rest = &rest[end + 1..];
                continue;
            }
            let Some(open) = open else {
                out.push_str(rest);
                break;
            };
            let close = matching_brace(rest, open);
            let prelude = &rest[..open];
            let block = &rest[open + 1..close.min(rest.len())];
            if let Some(at) = prelude.trim().strip_prefix('@') {
                let (name, at_prelude) = at_rule(at);
                match self.first_unsupported(htmlcheck::at_rule_features(name, at_prelude)) {
                    Some(feature) => self.remove("at-rule", feature),
                    None if matches!(name.to_ascii_lowercase().as_str(), "media" | "supports") => {
                        let inner = self.rules(block);
                        out.push_str(&format!("{prelude}{{{inner}}}"));
                    }
                    None => out.push_str(&format!("{prelude}{{{block}}}")),
                }
            } else {
                match self.first_unsupported(htmlcheck::selector_features(prelude)) {
                    Some(feature) => self.remove("rule", feature),
                    None => {
                        let declarations = self.declarations(block);
                        out.push_str(&format!("{prelude}{{{declarations}}}"));
                    }
                }
            }
            rest = rest.get(close + 1..).unwrap_or("");
        }
        out
    }

    /// A declaration block (a `style` attribute or a rule's body) without the
    /// declarations the client does not support.
    fn declarations(&mut self, block: &str) -> String {
        let mut kept = Vec::new();
        for declaration in block.split(';') {
            let Some((property, value)) = declaration.split_once(':') else {
                if !declaration.trim().is_empty() {
                    kept.push(declaration.trim());
                }
                continue;
            };
            match self.first_unsupported(htmlcheck::declaration_features(property, value)) {
                Some(feature) => self.remove("declaration", feature),
                None => kept.push(declaration.trim()),
            }
        }
        kept.join("; ")
    }
}

/// What happens to an element.
enum Action {
    /// Removed with its content.
    Drop,
    /// Removed, its content kept in its place.
    Unwrap,
    /// These attributes removed.
    DropAttributes(Vec<&'static str>),
}

/// The attribute an element feature is about (`[srcset]`, `img[loading]`), when
/// its selector tests only that the attribute is there.
fn attribute_feature(selector: &'static str) -> Option<&'static str> {
    let (_, attribute) = selector.split_once('[')?;
    let attribute = attribute.strip_suffix(']')?;
    (!selector.contains([',', ' ', '=']) && !attribute.is_empty()).then_some(attribute)
}

/// Moves the element's children in its place, then removes it.
fn unwrap(document: &mut Html, id: NodeId) {
    let children: Vec<NodeId> =
        document.tree.get(id).map(|node| node.children().map(|c| c.id()).collect()).unwrap_or_default();
    if let Some(mut node) = document.tree.get_mut(id) {
        for child in children {
            node.insert_id_before(child);
        }
        node.detach();
    }
}

/// (name, prelude) of an at-rule written without its `@`.
fn at_rule(text: &str) -> (&str, &str) {
    let text = text.trim();
    text.split_once(|c: char| c.is_whitespace() || c == '(' || c == '"' || c == '\'')
        .map_or((text, ""), |(name, _)| (name, text[name.len()..].trim()))
}

/// The offset of the `}` closing the block opened at `open` (nested blocks
/// included), or `css.len()` when it is never closed.
pub(crate) fn matching_brace(css: &str, open: usize) -> usize {
    let mut depth = 0usize;
    for (at, c) in css[open..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return open + at;
                }
            }
            _ => {}
        }
    }
    css.len()
}

/// Whether every `{` of a sheet is closed, and no `}` comes before its `{`.
fn balanced(css: &str) -> bool {
    let mut depth = 0isize;
    for c in css.chars() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            _ => {}
        }
        if depth < 0 {
            return false;
        }
    }
    depth == 0
}

#[cfg(test)]
mod tests;
