//! Bounds on the HTML every consumer of a message's HTML body parses: the preview
//! ([`super::render`]), links and codes ([`super::links`]), the link check
//! ([`super::linkcheck`]), the HTML check ([`super::htmlcheck`]) and the checks
//! report ([`crate::checks`]).
//!
//! html5ever's tree builder looks through its stack of open elements for nearly
//! every tag, so its work grows with the square of the nesting depth: 50,000
//! nested `<div>`s (550 KB) take seconds to parse, and each route above parses.
//! [`bounded`] gives the HTML those parsers see:
//!
//! * at most [`MAX_BYTES`] of it: the rest is dropped, at a tag boundary;
//! * nesting at most [`MAX_DEPTH`] levels deep (WebKit's own limit on DOM depth):
//!   deeper start tags are dropped with their end tags, so their content joins
//!   the element at the limit.
//!
//! Finding the depth is one linear pass of html5ever's own tokenizer, which
//! switches to raw text after `<style>`, `<script>`, `<textarea>`, `<title>` and
//! the like exactly as the tree builder would have it do, so markup-like text in
//! them is never read as tags. A stack of open elements follows the tree
//! builder's main rules (void elements, implied end tags such as `<p>` closing an
//! open `p`, end tags matched within their scope) with constant work per token;
//! where it departs from the tree builder it mostly errs towards a deeper count
//! (the copies of formatting elements the tree builder reopens go uncounted). Only
//! HTML that is cut is written again, from the kept tokens; HTML within the
//! limits (all real mail) is handed on as it is, byte for byte.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;

use html5ever::LocalName;
use html5ever::tendril::StrTendril;
use html5ever::tokenizer::states::RawKind;
use html5ever::tokenizer::{BufferQueue, Tag, TagKind, Token, TokenSink, TokenSinkResult, Tokenizer, TokenizerOpts};
use scraper::Html;

/// The deepest nesting of elements kept. WebKit caps its DOM depth at 512 too.
pub const MAX_DEPTH: usize = 512;

/// The most HTML kept, in bytes: ten times more than Gmail shows before it clips
/// a message (102 KB).
pub const MAX_BYTES: usize = 1 << 20;

/// HTML to parse, and what was cut from it to get there.
#[derive(Debug)]
pub struct Bounded<'a> {
    /// The HTML itself when nothing was cut.
    pub html: Cow<'a, str>,
    pub cut: Option<Cut>,
}

/// What [`bounded`] cut from a message's HTML.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cut {
    /// Start tags dropped (with their end tags) for being deeper than [`MAX_DEPTH`].
    pub tags_flattened: usize,
    /// Bytes dropped beyond [`MAX_BYTES`].
    pub bytes_dropped: usize,
}

/// One line, ASCII (it also goes into a response header), e.g. "nesting deeper
/// than 512 levels flattened (49488 tags); HTML beyond 1048576 bytes dropped
/// (9437184 bytes)".
impl fmt::Display for Cut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if self.tags_flattened > 0 {
            parts.push(format!("nesting deeper than {MAX_DEPTH} levels flattened ({} tags)", self.tags_flattened));
        }
        if self.bytes_dropped > 0 {
            parts.push(format!("HTML beyond {MAX_BYTES} bytes dropped ({} bytes)", self.bytes_dropped));
        }
        f.write_str(&parts.join("; "))
    }
}

/// `html` within [`MAX_BYTES`] and [`MAX_DEPTH`]: borrowed as it is when it is
/// within both (or only cut short), written again from its tokens when nesting
/// had to be flattened.
pub fn bounded(html: &str) -> Bounded<'_> {
    let kept = keep_bytes(html);
    let bytes_dropped = html.len() - kept.len();
    // Fewer tags than levels allowed cannot nest too deep: no need to look.
    let tags = kept.bytes().filter(|&b| b == b'<').count();
    let flattened = if tags > MAX_DEPTH { flatten(kept) } else { None };
    let cut =
        |tags_flattened| (tags_flattened > 0 || bytes_dropped > 0).then_some(Cut { tags_flattened, bytes_dropped });
    match flattened {
        Some((html, tags_flattened)) => Bounded { html: Cow::Owned(html), cut: cut(tags_flattened) },
        None => Bounded { html: Cow::Borrowed(kept), cut: cut(0) },
    }
}

/// `html` bounded and parsed as a document (scraper), for the consumers that walk
/// or query the tree.
pub(crate) fn parse_document(html: &str) -> (Html, Option<Cut>) {
    let bounded = bounded(html);
    (Html::parse_document(&bounded.html), bounded.cut)
}

/// The first [`MAX_BYTES`] of `html`, ending before the last `<` in them so that
/// no tag is cut in half.
fn keep_bytes(html: &str) -> &str {
    if html.len() <= MAX_BYTES {
        return html;
    }
    let mut end = MAX_BYTES;
    while !html.is_char_boundary(end) {
        end -= 1;
    }
    let end = html[..end].rfind('<').unwrap_or(end);
    &html[..end]
}

/// `html` written again without the tags nested deeper than [`MAX_DEPTH`], and how
/// many start tags went; `None` when none had to.
fn flatten(html: &str) -> Option<(String, usize)> {
    let tokenizer = Tokenizer::new(Flattener::default(), TokenizerOpts::default());
    let input = BufferQueue::default();
    input.push_back(StrTendril::from(html));
    // The sink never asks to stop for a script, so one feed reads everything.
    let _ = tokenizer.feed(&input);
    tokenizer.end();
    let state = tokenizer.sink.state.into_inner();
    (state.tags_flattened > 0).then_some((state.out, state.tags_flattened))
}

/// Elements with no end tag and no content: never on the stack.
fn is_void(name: &str) -> bool {
    matches!(
        name,
        "area"
            | "base"
            | "basefont"
            | "bgsound"
            | "br"
            | "col"
            | "embed"
            | "frame"
            | "hr"
            | "image"
            | "img"
            | "input"
            | "keygen"
            | "link"
            | "meta"
            | "param"
            | "source"
            | "track"
            | "wbr"
    )
}

/// How the tokenizer reads an HTML element's content, as the tree builder has it
/// switch (with scripting enabled, as scraper and ammonia parse).
fn raw_kind(name: &str) -> Option<Content> {
    match name {
        "title" | "textarea" => Some(Content::Rcdata),
        "style" | "xmp" | "iframe" | "noembed" | "noframes" | "noscript" => Some(Content::Raw(RawKind::Rawtext)),
        "script" => Some(Content::Raw(RawKind::ScriptData)),
        "plaintext" => Some(Content::Plaintext),
        _ => None,
    }
}

/// The tree builder's "special" elements: an end tag of another element does not
/// look past them.
fn is_special(name: &str) -> bool {
    matches!(
        name,
        "address"
            | "applet"
            | "area"
            | "article"
            | "aside"
            | "base"
            | "basefont"
            | "bgsound"
            | "blockquote"
            | "body"
            | "br"
            | "button"
            | "caption"
            | "center"
            | "col"
            | "colgroup"
            | "dd"
            | "details"
            | "dir"
            | "div"
            | "dl"
            | "dt"
            | "embed"
            | "fieldset"
            | "figcaption"
            | "figure"
            | "footer"
            | "form"
            | "frame"
            | "frameset"
            | "h1"
            | "h2"
            | "h3"
            | "h4"
            | "h5"
            | "h6"
            | "head"
            | "header"
            | "hgroup"
            | "hr"
            | "html"
            | "iframe"
            | "img"
            | "input"
            | "keygen"
            | "li"
            | "link"
            | "listing"
            | "main"
            | "marquee"
            | "menu"
            | "meta"
            | "nav"
            | "noembed"
            | "noframes"
            | "noscript"
            | "object"
            | "ol"
            | "p"
            | "param"
            | "plaintext"
            | "pre"
            | "script"
            | "search"
            | "section"
            | "select"
            | "source"
            | "style"
            | "summary"
            | "table"
            | "tbody"
            | "td"
            | "template"
            | "textarea"
            | "tfoot"
            | "th"
            | "thead"
            | "title"
            | "tr"
            | "track"
            | "ul"
            | "wbr"
            | "xmp"
            | "mi"
            | "mo"
            | "mn"
            | "ms"
            | "mtext"
            | "annotation-xml"
            | "foreignobject"
            | "desc"
    )
}

/// Formatting elements: their end tags run the adoption agency.
fn is_formatting(name: &str) -> bool {
    matches!(
        name,
        "a" | "b" | "big" | "code" | "em" | "font" | "i" | "nobr" | "s" | "small" | "strike" | "strong" | "tt" | "u"
    )
}

/// Start tags that close an open `p` (in button scope) first.
fn closes_p(name: &str) -> bool {
    matches!(
        name,
        "address"
            | "article"
            | "aside"
            | "blockquote"
            | "center"
            | "details"
            | "dialog"
            | "dir"
            | "div"
            | "dl"
            | "fieldset"
            | "figcaption"
            | "figure"
            | "footer"
            | "form"
            | "header"
            | "hgroup"
            | "main"
            | "menu"
            | "nav"
            | "ol"
            | "p"
            | "search"
            | "section"
            | "summary"
            | "ul"
            | "h1"
            | "h2"
            | "h3"
            | "h4"
            | "h5"
            | "h6"
            | "pre"
            | "listing"
            | "li"
            | "dd"
            | "dt"
            | "plaintext"
            | "table"
            | "xmp"
    )
}

/// The tree builder's scopes: an element is "in scope" when no element of the
/// scope's boundary set is open above it.
#[derive(Clone, Copy)]
enum Scope {
    Default,
    ListItem,
    Button,
    Table,
    /// Not one of the spec's scopes: how far an end tag of an ordinary element looks.
    Special,
}

const SCOPES: [Scope; 5] = [Scope::Default, Scope::ListItem, Scope::Button, Scope::Table, Scope::Special];

impl Scope {
    fn is_boundary(self, name: &str) -> bool {
        let default = || {
            matches!(
                name,
                "applet"
                    | "caption"
                    | "html"
                    | "table"
                    | "td"
                    | "th"
                    | "marquee"
                    | "object"
                    | "template"
                    | "mi"
                    | "mo"
                    | "mn"
                    | "ms"
                    | "mtext"
                    | "annotation-xml"
                    | "foreignobject"
                    | "desc"
                    | "title"
            )
        };
        match self {
            Scope::Default => default(),
            Scope::ListItem => default() || matches!(name, "ol" | "ul"),
            Scope::Button => default() || name == "button",
            Scope::Table => matches!(name, "html" | "table" | "template"),
            Scope::Special => is_special(name),
        }
    }
}

/// How the tokenizer is reading the current element's content.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Content {
    Markup,
    /// Title, textarea: text with character references.
    Rcdata,
    Raw(RawKind),
    Plaintext,
}

/// The token sink of [`flatten`]. html5ever's `TokenSink` takes `&self`.
#[derive(Default)]
struct Flattener {
    state: RefCell<FlattenState>,
}

/// A model of the tree builder's stack of open elements, and the kept tokens
/// written out.
struct FlattenState {
    /// Open elements; `None` for one the adoption agency took out of the middle.
    stack: Vec<Option<LocalName>>,
    /// Open elements that are not `None` in `stack`.
    depth: usize,
    /// Where each open element's name is on `stack`, innermost last.
    positions: HashMap<LocalName, Vec<usize>>,
    /// Per [`SCOPES`] entry: where its boundary elements are on `stack`.
    boundaries: [Vec<usize>; SCOPES.len()],
    /// Open `svg` and `math` elements: inside them, self-closing tags close and no
    /// content is raw.
    foreign: usize,
    /// Start tags dropped whose end tags are still to come, per name.
    dropped: HashMap<LocalName, usize>,
    tags_flattened: usize,
    content: Content,
    out: String,
}

impl Default for FlattenState {
    fn default() -> FlattenState {
        FlattenState {
            stack: Vec::new(),
            depth: 0,
            positions: HashMap::new(),
            boundaries: Default::default(),
            foreign: 0,
            dropped: HashMap::new(),
            tags_flattened: 0,
            content: Content::Markup,
            out: String::new(),
        }
    }
}

impl TokenSink for Flattener {
    type Handle = ();

    fn process_token(&self, token: Token, _line_number: u64) -> TokenSinkResult<()> {
        let mut state = self.state.borrow_mut();
        match token {
            Token::TagToken(tag) if tag.kind == TagKind::StartTag => return state.start_tag(tag),
            Token::TagToken(tag) => state.end_tag(tag),
            Token::CharacterTokens(text) => state.text(&text),
            Token::CommentToken(text) => {
                state.out.push_str("<!--");
                state.out.push_str(&text);
                state.out.push_str("-->");
            }
            Token::DoctypeToken(doctype) => {
                let out = &mut state.out;
                out.push_str("<!DOCTYPE ");
                out.push_str(doctype.name.as_deref().unwrap_or("html"));
                match (&doctype.public_id, &doctype.system_id) {
                    (Some(public), system) => {
                        out.push_str(&format!(" PUBLIC \"{public}\""));
                        if let Some(system) = system {
                            out.push_str(&format!(" \"{system}\""));
                        }
                    }
                    (None, Some(system)) => out.push_str(&format!(" SYSTEM \"{system}\"")),
                    (None, None) => {}
                }
                out.push('>');
            }
            Token::NullCharacterToken | Token::EOFToken | Token::ParseError(_) => {}
        }
        TokenSinkResult::Continue
    }

    fn adjusted_current_node_present_but_not_in_html_namespace(&self) -> bool {
        self.state.borrow().foreign > 0
    }
}

impl FlattenState {
    fn start_tag(&mut self, tag: Tag) -> TokenSinkResult<()> {
        let name = tag.name.clone();
        // Void elements close at once; `html`, `head` and `body` are the parser's own
        // (a tag for them only adds attributes); in SVG and MathML `<x/>` closes.
        let closes_at_once =
            is_void(&name) || matches!(&*name, "html" | "head" | "body") || (self.foreign > 0 && tag.self_closing);
        let pushes = !closes_at_once;
        if pushes {
            self.close_implied_by(&name);
            // Raw-text elements hold no tags, so keeping them costs one level at most
            // and keeps their content from being read as markup.
            if self.depth >= MAX_DEPTH && (self.foreign > 0 || raw_kind(&name).is_none()) {
                *self.dropped.entry(name).or_default() += 1;
                self.tags_flattened += 1;
                return TokenSinkResult::Continue;
            }
            self.push(name.clone());
        }
        self.write_tag(&tag);
        if self.foreign > 0 || !pushes {
            return TokenSinkResult::Continue;
        }
        match raw_kind(&name) {
            Some(Content::Rcdata) => {
                self.content = Content::Rcdata;
                TokenSinkResult::RawData(RawKind::Rcdata)
            }
            Some(Content::Raw(kind)) => {
                self.content = Content::Raw(kind);
                TokenSinkResult::RawData(kind)
            }
            Some(Content::Plaintext) => {
                self.content = Content::Plaintext;
                TokenSinkResult::Plaintext
            }
            Some(Content::Markup) | None => TokenSinkResult::Continue,
        }
    }

    fn end_tag(&mut self, tag: Tag) {
        let name = &tag.name;
        if self.content != Content::Plaintext {
            self.content = Content::Markup;
        }
        if let Some(dropped) = self.dropped.get_mut(name).filter(|dropped| **dropped > 0) {
            *dropped -= 1;
            return;
        }
        self.write_tag(&tag);
        match &**name {
            "html" | "head" | "body" | "br" => {}
            "p" | "button" => self.pop_in_scope(name, if &**name == "p" { Scope::Button } else { Scope::Default }),
            "li" => self.pop_in_scope(name, Scope::ListItem),
            "td" | "th" | "tr" | "tbody" | "thead" | "tfoot" | "table" => self.pop_in_scope(name, Scope::Table),
            _ if is_formatting(name) => self.adopt(name),
            _ if is_special(name) => self.pop_in_scope(name, Scope::Default),
            _ => self.pop_in_scope(name, Scope::Special),
        }
    }

    fn text(&mut self, text: &str) {
        match self.content {
            Content::Raw(_) | Content::Plaintext => self.out.push_str(text),
            Content::Rcdata | Content::Markup => {
                for c in text.chars() {
                    match c {
                        '&' => self.out.push_str("&amp;"),
                        '<' => self.out.push_str("&lt;"),
                        '>' => self.out.push_str("&gt;"),
                        c => self.out.push(c),
                    }
                }
            }
        }
    }

    fn write_tag(&mut self, tag: &Tag) {
        let out = &mut self.out;
        out.push('<');
        if tag.kind == TagKind::EndTag {
            out.push('/');
        }
        out.push_str(&tag.name);
        for attribute in &tag.attrs {
            out.push(' ');
            out.push_str(&attribute.name.local);
            out.push_str("=\"");
            for c in attribute.value.chars() {
                match c {
                    '&' => out.push_str("&amp;"),
                    '"' => out.push_str("&quot;"),
                    c => out.push(c),
                }
            }
            out.push('"');
        }
        if tag.self_closing {
            out.push('/');
        }
        out.push('>');
    }

    /// The end tags a start tag `name` implies, as far as the model can tell in
    /// constant time.
    fn close_implied_by(&mut self, name: &LocalName) {
        let top = |state: &FlattenState| state.stack.last().cloned().flatten();
        match &**name {
            "li" | "dd" | "dt" => {
                // An open item of the same list closes, through at most a few
                // elements that do not stop the search (`p`, `div`, inline ones).
                let closes: &[&str] = if &**name == "li" { &["li"] } else { &["dd", "dt"] };
                let item = self
                    .stack
                    .iter()
                    .enumerate()
                    .rev()
                    .take(4)
                    .take_while(|(_, open)| {
                        open.as_ref().is_none_or(|open| {
                            closes.contains(&&**open) || matches!(&**open, "p" | "div" | "address") || !is_special(open)
                        })
                    })
                    .find(|(_, open)| open.as_ref().is_some_and(|open| closes.contains(&&**open)))
                    .map(|(position, _)| position);
                if let Some(position) = item {
                    self.pop_to(position);
                }
            }
            "td" | "th" => self.pop_to_innermost_in_table_scope(&["td", "th"]),
            "tr" => self.pop_to_innermost_in_table_scope(&["tr"]),
            "tbody" | "thead" | "tfoot" => self.pop_to_innermost_in_table_scope(&["tbody", "thead", "tfoot"]),
            "table" if top(self).is_some_and(|top| matches!(&*top, "table" | "tbody" | "thead" | "tfoot" | "tr")) => {
                self.pop_to_innermost_in_table_scope(&["table"]);
            }
            "option" | "optgroup" => {
                while top(self).is_some_and(|top| &*top == "option" || (&**name == "optgroup" && &*top == "optgroup")) {
                    self.pop_to(self.stack.len() - 1);
                }
            }
            "a" | "nobr" => self.adopt(name),
            "button" => self.pop_in_scope(name, Scope::Default),
            _ => {}
        }
        if closes_p(name) {
            self.pop_in_scope(&LocalName::from("p"), Scope::Button);
        }
        if matches!(&**name, "h1" | "h2" | "h3" | "h4" | "h5" | "h6")
            && top(self).is_some_and(|top| matches!(&*top, "h1" | "h2" | "h3" | "h4" | "h5" | "h6"))
        {
            self.pop_to(self.stack.len() - 1);
        }
    }

    fn push(&mut self, name: LocalName) {
        let position = self.stack.len();
        for (scope, boundaries) in SCOPES.iter().zip(&mut self.boundaries) {
            if scope.is_boundary(&name) {
                boundaries.push(position);
            }
        }
        if matches!(&*name, "svg" | "math") {
            self.foreign += 1;
        }
        self.positions.entry(name.clone()).or_default().push(position);
        self.stack.push(Some(name));
        self.depth += 1;
    }

    /// Where the innermost open `name` is, if it is in `scope`.
    fn in_scope(&self, name: &LocalName, scope: Scope) -> Option<usize> {
        let position = *self.positions.get(name)?.last()?;
        let boundary = self.boundaries[scope as usize].last().copied();
        boundary.is_none_or(|boundary| position >= boundary).then_some(position)
    }

    fn pop_in_scope(&mut self, name: &LocalName, scope: Scope) {
        if let Some(position) = self.in_scope(name, scope) {
            self.pop_to(position);
        }
    }

    fn pop_to_innermost_in_table_scope(&mut self, names: &[&str]) {
        let innermost = names.iter().filter_map(|name| self.in_scope(&LocalName::from(*name), Scope::Table)).max();
        if let Some(position) = innermost {
            self.pop_to(position);
        }
    }

    /// An end tag of a formatting element (or a start tag of `a` or `nobr` with one
    /// open): with no special element inside it, it closes as any element does;
    /// otherwise the adoption agency moves what is inside, and the model takes
    /// only the formatting element itself off the stack.
    fn adopt(&mut self, name: &LocalName) {
        let Some(position) = self.in_scope(name, Scope::Default) else { return };
        let special_inside = self.boundaries[Scope::Special as usize].last().is_some_and(|&special| special > position);
        if special_inside {
            self.positions.get_mut(name).map(Vec::pop);
            self.stack[position] = None;
            self.depth -= 1;
        } else {
            self.pop_to(position);
        }
    }

    /// Closes the element at `position` and everything open inside it.
    fn pop_to(&mut self, position: usize) {
        while self.stack.len() > position {
            let Some(Some(name)) = self.stack.pop() else { continue };
            let at = self.stack.len();
            self.depth -= 1;
            for boundaries in &mut self.boundaries {
                if boundaries.last() == Some(&at) {
                    boundaries.pop();
                }
            }
            if matches!(&*name, "svg" | "math") {
                self.foreign -= 1;
            }
            if let Some(positions) = self.positions.get_mut(&name) {
                positions.pop();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use ego_tree::iter::Edge;
    use scraper::Selector;

    use super::*;

    /// The deepest element of `html` as parsed.
    fn parsed_depth(html: &str) -> usize {
        let document = Html::parse_document(html);
        let (mut depth, mut deepest) = (0usize, 0);
        for edge in document.tree.root().traverse() {
            match edge {
                Edge::Open(node) if node.value().is_element() => {
                    depth += 1;
                    deepest = deepest.max(depth);
                }
                Edge::Close(node) if node.value().is_element() => depth -= 1,
                _ => {}
            }
        }
        deepest
    }

    fn text_of(html: &str, selector: &str) -> String {
        let document = Html::parse_document(html);
        let selector = Selector::parse(selector).unwrap();
        document.select(&selector).next().unwrap_or_else(|| panic!("no {selector:?}")).text().collect()
    }

    fn deep(levels: usize, inside: &str) -> String {
        format!("<html><body>{}{inside}{}</body></html>", "<div>".repeat(levels), "</div>".repeat(levels))
    }

    #[test]
    fn nesting_deeper_than_the_limit_is_flattened() {
        let html = deep(50_000, "deep inside");
        let bounded = bounded(&html);
        assert_eq!(bounded.cut, Some(Cut { tags_flattened: 50_000 - MAX_DEPTH, bytes_dropped: 0 }));
        // `html` and `body` come from the parser, above the kept levels.
        assert_eq!(parsed_depth(&bounded.html), MAX_DEPTH + 2);
        assert!(bounded.html.contains("deep inside"));
        assert_eq!(bounded.html.matches("<div>").count(), MAX_DEPTH);
        assert_eq!(bounded.html.matches("</div>").count(), MAX_DEPTH);
    }

    #[test]
    fn nesting_at_the_limit_is_kept_as_it_is() {
        let html = deep(MAX_DEPTH, "at the limit");
        let bounded = bounded(&html);
        assert_eq!(bounded.cut, None);
        assert!(matches!(bounded.html, Cow::Borrowed(kept) if kept == html));
    }

    #[test]
    fn raw_text_elements_are_not_read_as_tags() {
        let style = "p > a { color: red } /* <div><div><div> */";
        let script = "if (a < b) { document.write('<div><div>') } // </div>";
        let inside = format!(
            "<style>{style}</style><script>{script}</script><textarea>&lt;div&gt; <div> </div></textarea>\
             <title>a <div> title</title>"
        );
        let html = format!("<p class=\"q&amp;&quot;\">text &lt;div&gt; &amp; more</p>{}", deep(2_000, &inside));
        let bounded = bounded(&html);
        assert_eq!(bounded.cut.map(|cut| cut.tags_flattened), Some(2_000 - MAX_DEPTH));
        assert_eq!(text_of(&bounded.html, "style"), style);
        assert_eq!(text_of(&bounded.html, "script"), script);
        assert_eq!(text_of(&bounded.html, "textarea"), "<div> <div> </div>");
        assert_eq!(text_of(&bounded.html, "title"), "a <div> title");
        assert_eq!(text_of(&bounded.html, "p"), "text <div> & more");
        let document = Html::parse_document(&bounded.html);
        let p = document.select(&Selector::parse("p").unwrap()).next().unwrap();
        assert_eq!(p.value().attr("class"), Some("q&\""));
        assert_eq!(parsed_depth(&bounded.html), MAX_DEPTH + 3);
    }

    #[test]
    fn html_beyond_the_size_limit_is_dropped_at_a_tag() {
        let html = "<p>a paragraph of text</p>\n".repeat(2 * MAX_BYTES / 26);
        let bounded = bounded(&html);
        let kept = bounded.html.len();
        assert!(kept <= MAX_BYTES && kept > MAX_BYTES - 30, "{kept}");
        assert!(html[kept..].starts_with('<'));
        assert_eq!(bounded.cut, Some(Cut { tags_flattened: 0, bytes_dropped: html.len() - kept }));
        assert!(matches!(bounded.html, Cow::Borrowed(_)));
    }

    #[test]
    fn a_cut_says_what_went() {
        let cut = Cut { tags_flattened: 49_488, bytes_dropped: 10 };
        assert_eq!(
            cut.to_string(),
            "nesting deeper than 512 levels flattened (49488 tags); HTML beyond 1048576 bytes dropped (10 bytes)"
        );
    }

    /// Elements the tree builder closes without an end tag do not add up.
    #[test]
    fn implied_end_tags_keep_long_flat_documents_whole() {
        let n = 3 * MAX_DEPTH;
        let documents = [
            "<p>a paragraph".repeat(n),
            format!("<ul>{}</ul>", "<li>an item<p>with a paragraph".repeat(n)),
            format!("<dl>{}</dl>", "<dt>term<dd>definition".repeat(n)),
            format!("<table>{}</table>", "<tr><td>cell<td><p>cell".repeat(n)),
            format!("<table><thead><tr><th>h{}</table>", "<tbody><tr><td>x".repeat(n)),
            format!("<select>{}</select>", "<optgroup><option>one<option>two".repeat(n)),
            "<a href=\"https://example.test/\">a link without its end tag ".repeat(n),
            "<b><div>misnested</b></div>".repeat(n),
            "<div><span><i>unclosed inline elements</div>".repeat(n),
            "<h1>one<h2>heading after another".repeat(n),
            "<img src=x><br><hr><input><meta charset=utf-8><wbr>".repeat(n),
            "<p><table><tr><td>a table in a paragraph</table>".repeat(n),
            "<svg><circle r=1 /><path d=\"M0\"/></svg>".repeat(n),
        ];
        for html in &documents {
            let bounded = bounded(html);
            assert_eq!(bounded.cut, None, "{:.80}", html);
            assert!(matches!(bounded.html, Cow::Borrowed(_)));
        }
    }

    /// End tags that the tree builder ignores (they are out of scope) do not make
    /// the nesting look shallower than it is.
    #[test]
    fn out_of_scope_end_tags_do_not_hide_depth() {
        let html = "<div><table><tr><td></div>".repeat(20_000);
        let bounded = bounded(&html);
        assert!(bounded.cut.is_some());
        assert!(parsed_depth(&bounded.html) <= 2 * MAX_DEPTH, "{}", parsed_depth(&bounded.html));
    }

    #[test]
    fn the_corpus_is_kept_byte_for_byte() {
        for path in crate::mail::corpus::files() {
            let raw = std::fs::read(&path).unwrap();
            let (_, html) = crate::mail::detail::bodies(&raw);
            let bounded = bounded(&html);
            assert_eq!(bounded.cut, None, "{}", path.display());
            assert!(matches!(bounded.html, Cow::Borrowed(kept) if kept == html), "{}", path.display());
            // No corpus message has enough tags to need the model; it must agree.
            assert_eq!(flatten(&html), None, "{}", path.display());
        }
    }
}
