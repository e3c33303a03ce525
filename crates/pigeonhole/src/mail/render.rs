//! A message's HTML body for `GET /view/{ID}.html`, in Mailpit's two forms:
//!
//! * [`html_part`]: the HTML part as sent, with only its `cid:` URLs made URLs of
//!   the message's own parts. Nothing is taken out; what makes it harmless is the
//!   sandboxing Content-Security-Policy the API sends with it.
//! * [`html_document`] (`?embed=1`, what the UI shows in a sandboxed `<iframe>`: no
//!   scripts, no same-origin): a sanitized standalone document.
//!
//! The sanitized document's body markup goes through ammonia (html5ever) with an
//! allow-list fit for e-mail layout: tables, `font`, `center`, `style`/`class`
//! attributes, widths, colours. Scripts, event handlers, `javascript:` URLs, forms,
//! frames, objects, `<meta>` and `<base>` do not survive it. Every link gets
//! `target="_blank" rel="noreferrer noopener"`, as Mailpit's embedded view gives
//! them. ammonia parses the body as a fragment, so what lives outside it is gathered
//! separately from a full parse: `<style>` sheets and remote `<link
//! rel="stylesheet">`s go into our own `<head>`, and `<body>`'s colours and
//! background onto ours.
//!
//! On the way, `cid:` URLs (image sources, backgrounds, CSS `url(cid:…)`) become
//! URLs of the message's own parts, and remote resources (`http:`, `https:`,
//! `//host`) are counted so the UI can offer to load them. Counting is for that
//! offer only: what actually keeps remote content from loading is the
//! Content-Security-Policy the API sends with the document.
//!
//! Both forms work on the HTML as [`html_bounds`] bounds it (depth and size), so
//! hostile HTML costs no more than a large ordinary message. The sanitized document
//! then shows what was cut in a note at its top ([`Rendered::cut`]); the part as
//! sent stays as sent, only its count of remote resources is taken within bounds.
//!
//! The dark preview ([`ColorScheme::Dark`]) shows the message as a mail client in
//! dark mode would: `prefers-color-scheme: dark` rules in its sheets apply, `light`
//! ones do not, and unstyled text gets the dark defaults. (A frame's
//! `prefers-color-scheme` follows the browser, not the page around it, so the
//! sheets themselves are rewritten.)

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use ammonia::Builder;
use percent_encoding::percent_decode_str;
use scraper::Html;
use scraper::node::Node;

use super::html_bounds::{self, Cut};

/// The rendered document, how many remote resources it refers to, and what
/// was cut from the message's HTML to render it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub document: String,
    pub remote_resources: usize,
    pub cut: Option<Cut>,
}

/// Elements kept (their content is kept either way, unless listed in
/// [`DROPPED_WITH_CONTENT`]). `style` and `link` are handled outside ammonia.
const TAGS: &[&str] = &[
    "a",
    "abbr",
    "acronym",
    "address",
    "article",
    "aside",
    "b",
    "bdi",
    "bdo",
    "big",
    "blockquote",
    "br",
    "caption",
    "center",
    "cite",
    "code",
    "col",
    "colgroup",
    "dd",
    "del",
    "details",
    "dfn",
    "div",
    "dl",
    "dt",
    "em",
    "figcaption",
    "figure",
    "font",
    "footer",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hgroup",
    "hr",
    "i",
    "img",
    "ins",
    "kbd",
    "li",
    "main",
    "mark",
    "nav",
    "ol",
    "p",
    "pre",
    "q",
    "rp",
    "rt",
    "ruby",
    "s",
    "samp",
    "section",
    "small",
    "span",
    "strike",
    "strong",
    "sub",
    "summary",
    "sup",
    "table",
    "tbody",
    "td",
    "tfoot",
    "th",
    "thead",
    "time",
    "tr",
    "tt",
    "u",
    "ul",
    "var",
    "wbr",
];

/// Elements dropped with everything inside: code, sheets (taken separately), and
/// raw-text elements whose "content" is markup source rather than text to show.
const DROPPED_WITH_CONTENT: &[&str] =
    &["script", "style", "title", "noscript", "template", "iframe", "noembed", "noframes", "textarea", "select"];

/// Attributes allowed on every kept element. No `target`: every link is given
/// `target="_blank"` (and `<base target="_blank">` is there besides).
const GENERIC_ATTRIBUTES: &[&str] = &[
    "align",
    "background",
    "bgcolor",
    "border",
    "class",
    "dir",
    "height",
    "id",
    "lang",
    "style",
    "title",
    "valign",
    "width",
];

/// Attributes allowed on particular elements, besides the generic ones.
const TAG_ATTRIBUTES: &[(&str, &[&str])] = &[
    ("a", &["href", "hreflang", "name"]),
    ("blockquote", &["cite", "type"]),
    ("col", &["span"]),
    ("colgroup", &["span"]),
    ("font", &["color", "face", "size"]),
    ("hr", &["color", "noshade", "size"]),
    ("img", &["alt", "hspace", "sizes", "src", "srcset", "vspace"]),
    ("li", &["type", "value"]),
    ("ol", &["reversed", "start", "type"]),
    ("table", &["cellpadding", "cellspacing", "frame", "rules", "summary"]),
    ("td", &["abbr", "colspan", "headers", "nowrap", "rowspan", "scope"]),
    ("th", &["abbr", "colspan", "headers", "nowrap", "rowspan", "scope"]),
    ("ul", &["type"]),
];

/// URL schemes ammonia lets through in `href`/`src`; [`Urls`] narrows them further
/// per attribute (`data:` only for images, `cid:` rewritten).
const URL_SCHEMES: &[&str] = &["http", "https", "mailto", "tel", "sms", "cid", "data"];

/// `<body>` attributes carried over to our body.
const BODY_ATTRIBUTES: &[&str] = &["alink", "background", "bgcolor", "class", "link", "style", "text", "vlink"];

/// How the preview's reader has their mail client set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColorScheme {
    /// As the browser showing it prefers.
    AsBrowser,
    /// Dark, whatever the browser prefers.
    Dark,
}

/// What links are given in the sanitized document, after `target="_blank"`: the
/// same words, in the same order, as Mailpit's embedded view.
const LINK_REL: &str = "noreferrer noopener";

/// `html` (a message's HTML part) as sent, with only the `cid:` URLs that name one
/// of the message's parts changed to that part's URL (`part_urls`, as for
/// [`html_document`]); every other byte is the message's, but for line breaks:
/// CRLF is given as LF. A message travels with CRLF whatever its sender wrote
/// (our own `POST /api/v1/send` too), HTML parsers read CRLF as LF anyway, and
/// clients compare what they get with the `\n`-broken HTML they sent (Mailpit
/// keeps the line breaks of a message its send API builds). Nothing is
/// sanitized: the caller must serve it under a policy that keeps it inert.
///
/// `remote_resources` is the count [`html_document`] makes for the same HTML (the
/// remote images, sheets and fonts a mail client would load), so both forms
/// answer the same to "is there remote content?" (within the same bounds). Nothing
/// is cut from the part itself: `cut` is always `None`.
pub fn html_part(html: &str, part_urls: HashMap<String, String>) -> Rendered {
    let remote_resources = html_document(html, part_urls.clone(), ColorScheme::AsBrowser).remote_resources;
    Rendered {
        document: Urls::new(part_urls).cid_urls_in_markup(&html.replace("\r\n", "\n")),
        remote_resources,
        cut: None,
    }
}

/// `html` (a message's HTML body) as a standalone, sanitized document. `part_urls`
/// maps a Content-ID (without `<>`) to the URL serving that part.
///
/// No script is ever added: Mailpit's embedded view also carries a script that
/// posts the document's height to the page around it, and that is deliberately
/// left out (the document must stay inert under a policy with no `script-src`).
///
/// HTML beyond [`html_bounds`]' limits is rendered as far as they go, under a note
/// ([`cut_note`]) that says what was left out.
pub fn html_document(html: &str, part_urls: HashMap<String, String>, scheme: ColorScheme) -> Rendered {
    let bounded = html_bounds::bounded(html);
    let html = &*bounded.html;
    let urls = Arc::new(Urls::new(part_urls));

    let mut head = String::from("<meta charset=\"utf-8\"><base target=\"_blank\">");
    if scheme == ColorScheme::Dark {
        // First, so the message's own colours win over these defaults.
        head.push_str("<style>:root{color-scheme:dark}</style>");
    }
    let mut body_attributes = String::new();
    let outside = Html::parse_document(html);
    for node in outside.tree.nodes() {
        let Node::Element(element) = node.value() else { continue };
        // Elements in SVG or MathML share names with HTML ones but not their meaning.
        if &*element.name.ns != "http://www.w3.org/1999/xhtml" {
            continue;
        }
        match element.name() {
            "style" => {
                let css: String = node.children().filter_map(|child| child.value().as_text().map(|t| &**t)).collect();
                let css = urls.css(&css);
                let css = if scheme == ColorScheme::Dark { force_dark(&css) } else { css };
                head.push_str("<style>");
                head.push_str(&escape_style_end(&css));
                head.push_str("</style>");
            }
            "link" => {
                let is_stylesheet = element
                    .attr("rel")
                    .is_some_and(|rel| rel.split_ascii_whitespace().any(|r| r.eq_ignore_ascii_case("stylesheet")));
                if let Some(href) = element.attr("href").filter(|href| is_stylesheet && is_remote(href)) {
                    urls.remote.fetch_add(1, Ordering::Relaxed);
                    head.push_str(&format!("<link rel=\"stylesheet\" href=\"{}\">", escape_attribute(href)));
                }
            }
            "body" if body_attributes.is_empty() => {
                for (name, value) in element.attrs() {
                    if let Some(value) = BODY_ATTRIBUTES.contains(&name).then(|| urls.attribute(name, value)).flatten()
                    {
                        body_attributes.push_str(&format!(" {name}=\"{}\"", escape_attribute(&value)));
                    }
                }
            }
            _ => {}
        }
    }

    let filter_urls = urls.clone();
    let body = Builder::empty()
        .tags(TAGS.iter().copied().collect())
        .clean_content_tags(DROPPED_WITH_CONTENT.iter().copied().collect())
        .generic_attributes(GENERIC_ATTRIBUTES.iter().copied().collect())
        .tag_attributes(
            TAG_ATTRIBUTES.iter().map(|&(tag, attributes)| (tag, attributes.iter().copied().collect())).collect(),
        )
        .url_schemes(URL_SCHEMES.iter().copied().collect())
        // Set on every `<a>` in this order (the message's own `target` and `rel`
        // are not allowed through): `target="_blank" rel="noreferrer noopener"`.
        .set_tag_attribute_value("a", "target", "_blank")
        .link_rel(Some(LINK_REL))
        .strip_comments(true)
        .attribute_filter(move |element, attribute, value| {
            // ammonia also shows this filter the attributes of elements it is about
            // to drop; those must not be counted.
            if !TAGS.contains(&element) {
                return None;
            }
            filter_urls.attribute(attribute, value).map(Cow::Owned)
        })
        .clean(html)
        .to_string();

    let note = bounded.cut.map(cut_note).unwrap_or_default();
    Rendered {
        document: format!(
            "<!DOCTYPE html>\n<html><head>{head}</head><body{body_attributes}>{note}{body}</body></html>\n"
        ),
        remote_resources: urls.remote.load(Ordering::Relaxed),
        cut: bounded.cut,
    }
}

/// The note at the top of a document rendered from cut HTML: a plain bar styled
/// inline (the message's sheets may restyle it, which does no harm).
fn cut_note(cut: Cut) -> String {
    format!(
        "<div style=\"margin:0 0 8px;padding:6px 10px;border:1px solid #d4b106;border-radius:4px;\
         background:#fffbe6;color:#3d3000;font:13px/1.4 system-ui,sans-serif\">\
         Pigeonhole shows this message shortened: {cut}.</div>"
    )
}

/// Rewrites the URLs of kept attributes and counts the remote ones. Shared (and
/// `Sync`) because ammonia's attribute filter must be `'static + Send + Sync`.
struct Urls {
    /// Lowercase Content-ID → part URL.
    by_content_id: HashMap<String, String>,
    remote: AtomicUsize,
}

impl Urls {
    /// `part_urls`: Content-ID (without `<>`, any case) → part URL.
    fn new(part_urls: HashMap<String, String>) -> Urls {
        Urls {
            by_content_id: part_urls.into_iter().map(|(cid, url)| (cid.to_lowercase(), url)).collect(),
            remote: AtomicUsize::new(0),
        }
    }

    /// Markup as written, with every `cid:` URL that [`Urls::part`] knows replaced
    /// by its part URL and nothing else touched. A `cid:` counts as a URL where
    /// one starts: after `=`, `(` or `,` (an attribute value, CSS `url(`, a
    /// `srcset` candidate), possibly quoted, with spaces around. It runs up to a
    /// quote, a space, `<`, `>`, `)`, `,` or `;`. Text that merely mentions
    /// `cid:` stays as it is, and so does a `cid:` naming no part.
    fn cid_urls_in_markup(&self, markup: &str) -> String {
        // ASCII lowercasing keeps byte offsets, so positions found in `lower` hold in `markup`.
        let lower = markup.to_ascii_lowercase();
        let mut out = String::with_capacity(markup.len());
        let mut done = 0;
        for (start, _) in lower.match_indices("cid:") {
            if start < done || !url_starts_after(&markup[..start]) {
                continue;
            }
            let end = markup[start..]
                .find(|c: char| c.is_ascii_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | ')' | ',' | ';'))
                .map_or(markup.len(), |end| start + end);
            if let Some(part) = self.part(&markup[start..end]) {
                out.push_str(&markup[done..start]);
                out.push_str(&part);
                done = end;
            }
        }
        out.push_str(&markup[done..]);
        out
    }

    /// An attribute's value as it goes out, or `None` to drop the attribute.
    /// Attributes without URLs pass unchanged.
    fn attribute(&self, name: &str, value: &str) -> Option<String> {
        match name {
            "style" => Some(self.css(value)),
            "src" | "background" => self.image(value),
            "srcset" => self.srcset(value),
            "href" => self.link(value),
            _ => Some(value.to_string()),
        }
    }

    /// An image source: a part, a remote image (counted), or a `data:` image.
    /// Anything else (relative URLs would reach this API) is dropped.
    fn image(&self, url: &str) -> Option<String> {
        let url = url.trim();
        if let Some(part) = self.part(url) {
            return Some(part);
        }
        if is_remote(url) {
            self.remote.fetch_add(1, Ordering::Relaxed);
            return Some(url.to_string());
        }
        has_scheme(url, "data:image/").then(|| url.to_string())
    }

    /// `srcset`: every candidate must be a usable image, else the attribute goes.
    fn srcset(&self, srcset: &str) -> Option<String> {
        let candidates: Option<Vec<String>> = srcset
            .split(',')
            .map(str::trim)
            .filter(|candidate| !candidate.is_empty())
            .map(|candidate| {
                let (url, descriptor) = candidate.split_once(char::is_whitespace).unwrap_or((candidate, ""));
                let url = self.image(url)?;
                Some(if descriptor.is_empty() { url } else { format!("{url} {}", descriptor.trim()) })
            })
            .collect();
        candidates.map(|candidates| candidates.join(", "))
    }

    /// A link target: `cid:` links open the part; `data:` links are dropped.
    fn link(&self, url: &str) -> Option<String> {
        let url = url.trim();
        if has_scheme(url, "data:") {
            return None;
        }
        Some(self.part(url).unwrap_or_else(|| url.to_string()))
    }

    /// The part URL for a `cid:` URL naming one of the message's parts.
    fn part(&self, url: &str) -> Option<String> {
        if !has_scheme(url, "cid:") {
            return None;
        }
        // RFC 2392: the Content-ID, percent-encoded, without `<>`.
        let content_id = percent_decode_str(&url[4..]).decode_utf8_lossy();
        let content_id = content_id.trim().trim_start_matches('<').trim_end_matches('>').to_lowercase();
        self.by_content_id.get(&content_id).cloned()
    }

    /// CSS (a sheet or a `style` attribute) with `url(cid:…)` made part URLs and
    /// remote `url(…)` and `@import "…"` counted.
    fn css(&self, css: &str) -> String {
        // ASCII lowercasing keeps byte offsets, so positions found in `lower` hold in `css`.
        let lower = css.to_ascii_lowercase();
        let mut out = String::with_capacity(css.len());
        let mut done = 0;
        let mut at = 0;
        while let Some((start, is_import)) = next_css_url(&lower, at) {
            let keyword_end = start + if is_import { "@import".len() } else { "url(".len() };
            let url_start = keyword_end + (css.len() - keyword_end - css[keyword_end..].trim_start().len());
            let (url_start, url_end) = match css[url_start..].chars().next() {
                Some(quote @ ('"' | '\'')) => {
                    let inner = url_start + 1;
                    (inner, css[inner..].find(quote).map_or(css.len(), |end| inner + end))
                }
                // `@import url(…)`: the `url(` is the next match.
                _ if is_import => {
                    at = keyword_end;
                    continue;
                }
                _ => {
                    let unquoted =
                        css[url_start..].find(')').map_or(&css[url_start..], |end| &css[url_start..url_start + end]);
                    (url_start, url_start + unquoted.trim_end().len())
                }
            };
            let url = &css[url_start..url_end];
            if let Some(part) = self.part(url) {
                out.push_str(&css[done..url_start]);
                out.push_str(&part);
                done = url_end;
            } else if is_remote(url) {
                self.remote.fetch_add(1, Ordering::Relaxed);
            }
            at = url_end.max(keyword_end);
        }
        out.push_str(&css[done..]);
        out
    }
}

/// Whether a URL may start right after `before`: after `=`, `(` or `,`, or after a
/// quote that follows `=` or `(`, ASCII spaces allowed between.
fn url_starts_after(before: &str) -> bool {
    let before = before.trim_end_matches(|c: char| c.is_ascii_whitespace());
    match before.chars().last() {
        Some('=' | '(' | ',') => true,
        Some('"' | '\'') => {
            before[..before.len() - 1].trim_end_matches(|c: char| c.is_ascii_whitespace()).ends_with(['=', '('])
        }
        _ => false,
    }
}

/// The next `url(` or `@import` in lowercased CSS at or after `from`: its offset, and
/// whether it is the `@import`.
fn next_css_url(lower: &str, from: usize) -> Option<(usize, bool)> {
    let rest = &lower[from..];
    match (rest.find("url("), rest.find("@import")) {
        (Some(url), Some(import)) if import < url => Some((from + import, true)),
        (Some(url), _) => Some((from + url, false)),
        (None, Some(import)) => Some((from + import, true)),
        (None, None) => None,
    }
}

/// Whether a browser would fetch `url` from another host: `http:`, `https:`, or
/// scheme-relative (`//host`, which browsers also accept written with backslashes).
pub(crate) fn is_remote(url: &str) -> bool {
    // Browsers drop tabs and newlines anywhere in a URL, and leading spaces.
    let url: String = url.trim_start().chars().filter(|c| !matches!(c, '\t' | '\n' | '\r')).take(8).collect();
    has_scheme(&url, "http:")
        || has_scheme(&url, "https:")
        || url.starts_with(['/', '\\']) && url[1..].starts_with(['/', '\\'])
}

fn has_scheme(url: &str, scheme: &str) -> bool {
    url.get(..scheme.len()).is_some_and(|start| start.eq_ignore_ascii_case(scheme))
}

/// A value for a double-quoted attribute.
fn escape_attribute(value: &str) -> String {
    value.replace('&', "&amp;").replace('"', "&quot;").replace('<', "&lt;")
}

/// `css` with `(prefers-color-scheme: dark)` always true and `…: light` never: the
/// first becomes `(min-width: 0px)`, the second `(max-width: -1px)` (a negative
/// width is invalid, and an invalid media query matches nothing).
fn force_dark(css: &str) -> String {
    let mut out = String::with_capacity(css.len());
    let mut rest = css;
    while let Some(at) = rest.to_ascii_lowercase().find("prefers-color-scheme") {
        let (before, from) = rest.split_at(at);
        // The feature runs up to its closing parenthesis.
        let Some(close) = from.find(')') else { break };
        let value = from["prefers-color-scheme".len()..close].trim_start().trim_start_matches(':').trim();
        // The "(" before the feature is already in `before`.
        out.push_str(before);
        out.push_str(match value.to_ascii_lowercase().as_str() {
            "dark" => "min-width: 0px",
            "light" => "max-width: -1px",
            _ => &from[..close],
        });
        rest = &from[close..];
    }
    out.push_str(rest);
    out
}

/// CSS placed inside `<style>` must not close it: `</` becomes `<\/`, the same to CSS.
fn escape_style_end(css: &str) -> String {
    css.replace("</", "<\\/")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(html: &str) -> Rendered {
        let parts = HashMap::from([("Logo@X".to_string(), "/api/v1/message/M/part/1.2".to_string())]);
        html_document(html, parts, ColorScheme::AsBrowser)
    }

    /// The rendered document's elements, as (name, attributes).
    fn elements(document: &str) -> Vec<(String, Vec<(String, String)>)> {
        Html::parse_document(document)
            .tree
            .nodes()
            .filter_map(|node| node.value().as_element().cloned())
            .map(|e| (e.name().to_string(), e.attrs().map(|(n, v)| (n.to_string(), v.to_string())).collect()))
            .collect()
    }

    /// No scripts, no event handlers, no script URLs, no frames, forms or base of
    /// the message's own.
    fn assert_inert(document: &str) {
        for (name, attributes) in elements(document) {
            assert!(
                !["script", "iframe", "object", "embed", "form", "meta", "input", "button", "svg", "math"]
                    .contains(&name.as_str())
                    || name == "meta" && attributes == [("charset".to_string(), "utf-8".to_string())],
                "<{name}> in {document}"
            );
            for (attribute, value) in attributes {
                assert!(!attribute.starts_with("on"), "{attribute} in {document}");
                let value = value.trim().to_ascii_lowercase();
                assert!(!value.starts_with("javascript:") && !value.starts_with("vbscript:"), "{value} in {document}");
                if name == "base" {
                    assert_eq!((attribute.as_str(), value.as_str()), ("target", "_blank"));
                }
            }
        }
        assert_links_open_outside(document);
    }

    /// Every link ends in `target="_blank" rel="noreferrer noopener"`, in that order
    /// (read from the text: a parse does not keep the order of attributes).
    fn assert_links_open_outside(document: &str) {
        let links = elements(document).iter().filter(|(name, _)| name == "a").count();
        let ends = document.matches(r#" target="_blank" rel="noreferrer noopener">"#).count();
        assert_eq!(ends, links, "{document}");
    }

    #[test]
    fn hostile_markup_is_neutralised() {
        let html = r##"<html><head><title>T</title><meta http-equiv="refresh" content="0;url=https://evil.test/">
            <base href="https://evil.test/"><script>alert(1)</script>
            <style>.x { background: url(http://tracker.test/bg.png) } td { background: url('cid:logo@x') }</style>
            <link rel="stylesheet" href="https://cdn.test/a.css"><link rel="prefetch" href="https://cdn.test/b">
            </head><body bgcolor="#eeeeee" onload="alert(2)">
            <p onclick="alert(3)">Hi <img src="cid:logo@x" onerror="alert(4)"> <img src="http://tracker.test/p.gif">
            <a href="javascript:alert(5)">bad</a> <a href="https://ok.test/" target="_self">good</a></p>
            <form action="https://evil.test/steal"><input name="p"><button formaction="https://evil.test/">Go</button></form>
            <iframe src="https://evil.test/"></iframe><object data="x.swf"></object>
            <svg><script>alert(6)</script></svg><div style="background-image:url(&quot;https://t.test/x.png&quot;)">x</div>
            </body></html>"##;
        let rendered = render(html);
        let document = &rendered.document;
        assert_inert(document);
        assert!(!document.contains("alert"), "{document}");
        assert!(!document.contains("evil.test"), "{document}");
        assert!(!document.contains("<title"), "{document}");
        assert!(
            document
                .starts_with("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><base target=\"_blank\"><style>")
        );
        // cid: in an image and in a sheet point at the part.
        assert!(document.contains(r#"<img src="/api/v1/message/M/part/1.2">"#), "{document}");
        assert!(document.contains("background: url('/api/v1/message/M/part/1.2')"), "{document}");
        // Links open outside the frame, with no opener and no referrer: the message's
        // own target goes, ours is set on every link.
        assert!(
            document.contains(r#"<a href="https://ok.test/" target="_blank" rel="noreferrer noopener">good</a>"#),
            "{document}"
        );
        assert!(document.contains(r#"<a target="_blank" rel="noreferrer noopener">bad</a>"#), "{document}");
        assert!(!document.contains("_self"), "{document}");
        assert!(document.contains(r##"<body bgcolor="#eeeeee">"##), "{document}");
        assert!(document.contains(r#"<link rel="stylesheet" href="https://cdn.test/a.css">"#), "{document}");
        assert!(!document.contains("prefetch"), "{document}");
        // The sheet's url(), the stylesheet, the <img>, the style attribute's url().
        assert_eq!(rendered.remote_resources, 4, "{document}");
    }

    #[test]
    fn email_layout_survives() {
        let html = r##"<table width="600" cellpadding="0" cellspacing="0" border="0" bgcolor="#ffffff" align="center"
            class="main" style="width:600px"><tr><td valign="top" background="cid:LOGO@x" nowrap>
            <font face="Arial" size="2" color="red">Hello</font><center>c</center></td></tr></table>"##;
        let document = render(html).document;
        for kept in [
            r#"width="600""#,
            r#"cellpadding="0""#,
            r##"bgcolor="#ffffff""##,
            r#"class="main""#,
            r#"style="width:600px""#,
            r#"background="/api/v1/message/M/part/1.2""#,
            r#"<font face="Arial" size="2" color="red">Hello</font>"#,
            "<center>c</center>",
        ] {
            assert!(document.contains(kept), "{kept} missing from {document}");
        }
    }

    #[test]
    fn image_urls() {
        let urls = Urls::new(HashMap::from([("A@b".into(), "/p/1".into())]));
        assert_eq!(urls.image("cid:a%40b").as_deref(), Some("/p/1"));
        assert_eq!(urls.image("cid:<A@B>").as_deref(), Some("/p/1"));
        assert_eq!(urls.image("cid:unknown"), None);
        assert_eq!(urls.image("data:image/png;base64,AA").as_deref(), Some("data:image/png;base64,AA"));
        assert_eq!(urls.image("data:text/html,<b>"), None);
        assert_eq!(urls.image("/api/v1/messages"), None, "relative URLs would reach the API");
        assert_eq!(urls.remote.load(Ordering::Relaxed), 0);
        for remote in ["http://a.test/x", "HTTPS://a.test/x", "//a.test/x", "/\\a.test/x", " h\tttp://a.test"] {
            assert!(urls.image(remote).is_some(), "{remote}");
        }
        assert_eq!(urls.remote.load(Ordering::Relaxed), 5);
        assert_eq!(
            urls.srcset("cid:a@b 1x, https://a.test/2.png 2x").as_deref(),
            Some("/p/1 1x, https://a.test/2.png 2x")
        );
        assert_eq!(urls.srcset("/x.png 1x"), None);
        assert_eq!(urls.remote.load(Ordering::Relaxed), 6);
    }

    #[test]
    fn css_urls() {
        let urls = Urls::new(HashMap::from([("A@b".into(), "/p/1".into())]));
        let css = r#"@import "https://a.test/1.css"; @IMPORT url(//a.test/2.css); a { background: URL( cid:a@b ) }
            b { background: url("http://a.test/3.png") } i { background: url(data:image/png;base64,AA) } u { x: url("#;
        let out = urls.css(css);
        assert!(out.contains("background: URL( /p/1 )"), "{out}");
        assert_eq!(urls.remote.load(Ordering::Relaxed), 3, "{out}");
        assert_eq!(out.replace("/p/1", "cid:a@b"), css);
        assert_eq!(escape_style_end("a{}</style><script>"), "a{}<\\/style><script>");
    }

    #[test]
    fn cid_urls_in_markup() {
        let urls = Urls::new(HashMap::from([("A@b".into(), "/p/1".into())]));
        for (markup, expected) in [
            (r#"<img src="cid:a@b">"#, r#"<img src="/p/1">"#),
            ("<img src='CID:A%40B' alt=x>", "<img src='/p/1' alt=x>"),
            ("<img src=cid:a@b>", "<img src=/p/1>"),
            ("<img src = \"cid:a@b\" />", "<img src = \"/p/1\" />"),
            (r#"<td background="cid:a@b">"#, r#"<td background="/p/1">"#),
            (r#"<img srcset="cid:a@b 1x,cid:a@b 2x">"#, r#"<img srcset="/p/1 1x,/p/1 2x">"#),
            ("<p style=\"background:url( 'cid:a@b' );\">", "<p style=\"background:url( '/p/1' );\">"),
            ("<style>td{background:url(cid:a@b)}</style>", "<style>td{background:url(/p/1)}</style>"),
        ] {
            assert_eq!(urls.cid_urls_in_markup(markup), expected, "{markup}");
        }
        // Unknown parts, and cid: that is not where a URL starts, are left as written.
        for unchanged in [
            r#"<img src="cid:other@b">"#,
            "<p>Logo: cid:a@b</p>",
            r#"<img src="xcid:a@b">"#,
            r#"<img src="cid:a@bc">"#,
            "cid:a@b",
            "",
        ] {
            assert_eq!(urls.cid_urls_in_markup(unchanged), unchanged);
        }
        assert_eq!(urls.remote.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn html_part_is_the_part_as_sent_but_cid_urls_and_crlf() {
        let html = "<!doctype html>\r\n<HTML><head><script>alert(1)</script><base href=\"https://evil.test/\">\n\
            <style>p { background: url(http://tracker.test/bg.png) }</style></head>\n\
            <body onload=\"alert(2)\"><img src=\"cid:logo@x\" onerror=alert(3)> <img src=\"cid:unknown@x\">\
            <a href=\"https://ok.test/\" target=\"_self\">good</a><img src=\"http://tracker.test/p.gif\"></body></HTML>";
        let part = html_part(html, HashMap::from([("Logo@X".to_string(), "/api/v1/message/M/part/1.2".to_string())]));
        assert_eq!(part.document, html.replace("cid:logo@x", "/api/v1/message/M/part/1.2").replace("\r\n", "\n"));
        assert!(part.document.starts_with("<!doctype html>\n<HTML><head>"));
        assert!(part.document.contains("<script>alert(1)</script>"));
        // Counted as in the sanitized document: the sheet's url() and the <img>.
        assert_eq!(part.remote_resources, 2);
        assert_eq!(part.remote_resources, render(html).remote_resources);
        assert_eq!(html_part("", HashMap::new()), Rendered { document: String::new(), remote_resources: 0, cut: None });
    }

    #[test]
    fn empty_and_broken_input() {
        for html in ["", "<", "<table><tr><td>unclosed", "<p style=\"x: url(", "\u{0}<b>\u{feff}</b>"] {
            assert_inert(&render(html).document);
        }
    }

    #[test]
    fn dark_preview_applies_dark_rules_only() {
        let css = "p{color:#000}@media (prefers-color-scheme: dark){p{color:#eee}}\
                   @media screen and (PREFERS-COLOR-SCHEME:light){p{color:#111}}";
        assert_eq!(
            force_dark(css),
            "p{color:#000}@media (min-width: 0px){p{color:#eee}}@media screen and (max-width: -1px){p{color:#111}}"
        );
        // No parenthesis to end the feature: left alone.
        assert_eq!(force_dark("@media (prefers-color-scheme: dark"), "@media (prefers-color-scheme: dark");

        let html = "<style>@media (prefers-color-scheme: dark){body{background:#000}}</style><p>Hi</p>";
        let dark = html_document(html, HashMap::new(), ColorScheme::Dark).document;
        assert!(dark.contains("<style>:root{color-scheme:dark}</style><style>@media (min-width: 0px)"), "{dark}");
        let as_browser = html_document(html, HashMap::new(), ColorScheme::AsBrowser).document;
        assert!(
            as_browser.contains("@media (prefers-color-scheme: dark)") && !as_browser.contains("color-scheme:dark}")
        );
    }

    /// Every HTML body of the corpus renders, inert.
    #[test]
    fn corpus_renders() {
        let mut rendered = 0;
        for path in crate::mail::corpus::files() {
            let raw = std::fs::read(&path).unwrap();
            let Some((html, content_ids)) = crate::mail::detail::html_body_and_content_ids(&raw) else { continue };
            let part_urls = content_ids.into_iter().map(|(cid, part)| (cid, format!("/part/{part}"))).collect();
            assert_inert(&html_document(&html, part_urls, ColorScheme::AsBrowser).document);
            rendered += 1;
        }
        // The corpus has 18 messages with an HTML body.
        assert!(rendered >= 18, "only {rendered} corpus messages have HTML");
    }

    #[test]
    fn cut_html_renders_under_a_note_saying_what_went() {
        let html = format!("<p>before</p>{}deep inside{}", "<div>".repeat(20_000), "</div>".repeat(20_000));
        let rendered = render(&html);
        let cut = rendered.cut.expect("the nesting is cut");
        assert_eq!(cut.tags_flattened, 20_000 - html_bounds::MAX_DEPTH);
        let note = format!("Pigeonhole shows this message shortened: {cut}.</div>");
        assert!(rendered.document.contains(&format!("<body>{}", cut_note(cut))), "{:.600}", rendered.document);
        assert!(rendered.document.contains(&note));
        assert!(rendered.document.contains("deep inside"));
        assert_inert(&rendered.document);
        // The part as sent is served whole; only its count is taken within bounds.
        let part = html_part(&html, HashMap::new());
        assert_eq!((part.document, part.cut), (html, None));
        assert!(!render("<p>whole</p>").document.contains("shortened"));
    }
}
