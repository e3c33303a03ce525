//! Links and one-time codes found in a message's bodies, for
//! `GET /api/v1/message/{ID}/links` and `/codes` (ours): a test that needs "the
//! reset link" or "the code we just sent" asks for it instead of writing a regex.
//!
//! Both are pure functions over the text part and the HTML part (as
//! [`super::detail::bodies`] gives them); they never fail and never panic.
//!
//! * [`links`]: every `a[href]` of the HTML (parsed with html5ever through
//!   `scraper`, so entities are decoded as a browser would), with its anchor text;
//!   then the bare `http(s)://` URLs of the HTML's visible text and of the text part.
//!   `javascript:`, `data:` and `vbscript:` links and in-page `#anchors` are left
//!   out; each URL is listed once, where it was first seen.
//! * [`codes`]: tokens of 4–8 digits, or 4–12 letters and digits with at least one
//!   of each, within a few words of a keyword ("code", "verification", "verify",
//!   "OTP", "one-time", "passcode", "PIN", "token", any word ending in "code" such as
//!   German "Bestätigungscode", "código", "код", …). Years next to a month or after
//!   "in"/"since"/"©", numbers beside other numbers (phone numbers), numbers after
//!   labels such as "order", "invoice" or "phone", amounts with a currency, and
//!   durations ("10min") are not codes. Context is the ~60 characters around it.
//!
//! The HTML is parsed within [`super::html_bounds`]' limits, and the lists are cut
//! at [`MAX_LINKS`] and [`MAX_CODES`]: a message with a million links lists the
//! first thousand, in linear time.

use std::collections::HashMap;

use scraper::node::Node;
use scraper::{ElementRef, Html, Selector};
use serde::Serialize;

use super::html_bounds;

/// The most links [`links`] lists (and so the link check checks).
pub const MAX_LINKS: usize = 1_000;

/// The most codes [`codes`] lists.
pub const MAX_CODES: usize = 100;

/// How much of a body's text [`codes`] reads, in bytes: a code sits near the top,
/// and reading megabytes of text for one would cost its full scan per request.
const CODES_TEXT_BYTES: usize = 1 << 20;

/// A link: its URL as written (entities decoded) and its anchor text (`""` for a
/// URL found in plain text).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Link {
    #[serde(rename = "URL")]
    pub url: String,
    #[serde(rename = "Text")]
    pub text: String,
}

/// A one-time code and the text around it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Code {
    #[serde(rename = "Code")]
    pub code: String,
    #[serde(rename = "Context")]
    pub context: String,
}

/// The links of a message: HTML anchors in document order, then bare URLs in the
/// HTML's text, then bare URLs in the text part; each URL once (an anchor listed
/// without text takes the text of a later anchor to the same URL). At most
/// [`MAX_LINKS`]: the first ones.
pub fn links(text: &str, html: &str) -> Vec<Link> {
    let mut found = FoundLinks::default();
    if !html.trim().is_empty() {
        let (document, _) = html_bounds::parse_document(html);
        let anchors = Selector::parse("a[href]").expect("a valid selector");
        for anchor in document.select(&anchors) {
            let Some(href) = anchor.value().attr("href") else { continue };
            let href = href.trim_matches(|c: char| c.is_ascii_whitespace());
            if href.is_empty() || href.starts_with('#') || is_script_or_data(href) {
                continue;
            }
            found.add(href, || anchor_text(anchor));
        }
        found.add_bare(bare_urls(&visible_text(&document)));
    }
    found.add_bare(bare_urls(text));
    found.links
}

/// The links found so far, each URL once, and where each is in the list.
#[derive(Default)]
struct FoundLinks {
    links: Vec<Link>,
    by_url: HashMap<String, usize>,
}

impl FoundLinks {
    fn is_full(&self) -> bool {
        self.links.len() == MAX_LINKS
    }

    /// URLs found in text. Having no text to give a listed link, they are not
    /// read once the list is full.
    fn add_bare(&mut self, urls: impl Iterator<Item = String>) {
        for url in urls {
            if self.is_full() {
                break;
            }
            self.add(&url, String::new);
        }
    }

    /// `url` with its text (asked only when it is wanted): a new link while there
    /// is room, or the text of a listed one that has none.
    fn add(&mut self, url: &str, text: impl FnOnce() -> String) {
        match self.by_url.get(url) {
            Some(&at) if self.links[at].text.is_empty() => self.links[at].text = text(),
            Some(_) => {}
            None if !self.is_full() => {
                self.by_url.insert(url.to_string(), self.links.len());
                self.links.push(Link { url: url.to_string(), text: text() });
            }
            None => {}
        }
    }
}

/// The one-time codes of a message, in order of appearance: the text part's, then
/// those only the HTML part has. Each code once; at most [`MAX_CODES`].
pub fn codes(text: &str, html: &str) -> Vec<Code> {
    let mut found = find_codes(text_start(text));
    if !html.trim().is_empty() {
        for code in find_codes(text_start(&visible_text(&html_bounds::parse_document(html).0))) {
            if found.len() < MAX_CODES && !found.iter().any(|c| c.code == code.code) {
                found.push(code);
            }
        }
    }
    found
}

/// The first [`CODES_TEXT_BYTES`] of `text`, ending at a character boundary.
fn text_start(text: &str) -> &str {
    let mut end = text.len().min(CODES_TEXT_BYTES);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Schemes that run or embed something rather than lead somewhere. Browsers ignore
/// tabs and newlines inside a URL and case in a scheme, so this does too.
fn is_script_or_data(href: &str) -> bool {
    let scheme: String = href
        .chars()
        .filter(|c| !c.is_ascii_whitespace() && !c.is_control())
        .take_while(|&c| c != ':')
        .take(16)
        .collect::<String>()
        .to_ascii_lowercase();
    matches!(scheme.as_str(), "javascript" | "data" | "vbscript")
        && href.chars().filter(|c| !c.is_ascii_whitespace()).any(|c| c == ':')
}

/// An anchor's text with whitespace collapsed; an image-only anchor gives its
/// image's `alt`.
fn anchor_text(anchor: ElementRef<'_>) -> String {
    let text = collapse_whitespace(&anchor.text().collect::<String>());
    if !text.is_empty() {
        return text;
    }
    let images = Selector::parse("img[alt]").expect("a valid selector");
    anchor
        .select(&images)
        .filter_map(|img| img.value().attr("alt"))
        .map(collapse_whitespace)
        .find(|alt| !alt.is_empty())
        .unwrap_or_default()
}

fn collapse_whitespace(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// What a reader of the HTML sees, roughly: text nodes outside `head`, `script`
/// and `style`, with a line break at block boundaries. Iterative: the nesting depth
/// is the sender's choice.
fn visible_text(document: &Html) -> String {
    use ego_tree::iter::Edge;
    let mut out = String::new();
    let mut hidden = 0usize;
    for edge in document.tree.root().traverse() {
        match edge {
            Edge::Open(node) => match node.value() {
                Node::Element(element) => {
                    let name = element.name();
                    if matches!(name, "head" | "script" | "style" | "template" | "noscript") {
                        hidden += 1;
                    } else if is_block(name) {
                        out.push('\n');
                    }
                }
                Node::Text(text) if hidden == 0 => out.push_str(text),
                _ => {}
            },
            Edge::Close(node) => {
                if let Node::Element(element) = node.value() {
                    let name = element.name();
                    if matches!(name, "head" | "script" | "style" | "template" | "noscript") {
                        hidden = hidden.saturating_sub(1);
                    } else if is_block(name) {
                        out.push('\n');
                    }
                }
            }
        }
    }
    out
}

fn is_block(name: &str) -> bool {
    matches!(
        name,
        "address"
            | "article"
            | "aside"
            | "blockquote"
            | "br"
            | "center"
            | "dd"
            | "div"
            | "dl"
            | "dt"
            | "footer"
            | "form"
            | "h1"
            | "h2"
            | "h3"
            | "h4"
            | "h5"
            | "h6"
            | "header"
            | "hr"
            | "li"
            | "main"
            | "nav"
            | "ol"
            | "p"
            | "pre"
            | "section"
            | "table"
            | "tbody"
            | "td"
            | "tfoot"
            | "th"
            | "thead"
            | "tr"
            | "ul"
            | "title"
    )
}

/// The `http://` and `https://` URLs in plain text. A URL ends at whitespace, a
/// quote, `<`, `>`, a brace or a closing bracket it did not open; trailing
/// punctuation (`.`, `,`, `;`, `:`, `!`, `?`, `*`) is not part of it. `&amp;` is read
/// as `&` (text made from HTML sometimes keeps it).
/// Lazy, so a caller with enough stops reading.
fn bare_urls(text: &str) -> impl Iterator<Item = String> + '_ {
    let bytes = text.as_bytes();
    let mut from = 0;
    std::iter::from_fn(move || {
        while let Some(offset) = find_ascii_ci(&bytes[from..], b"http") {
            let start = from + offset;
            from = start + 4;
            let rest = &bytes[from..];
            let scheme_len = if starts_with_ci(rest, b"s://") {
                8
            } else if rest.starts_with(b"://") {
                7
            } else {
                continue;
            };
            // "xhttp://" is not a URL start.
            if start > 0 && (bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_') {
                continue;
            }
            let end = url_end(text, start);
            from = end.max(from);
            if end <= start + scheme_len {
                continue;
            }
            return Some(text[start..end].replace("&amp;", "&"));
        }
        None
    })
}

/// Where a URL starting at `start` ends (see [`bare_urls`]).
fn url_end(text: &str, start: usize) -> usize {
    let mut end = start;
    let mut depth = [0usize; 2]; // ( and [
    for (i, c) in text[start..].char_indices() {
        let stop = match c {
            '(' => {
                depth[0] += 1;
                false
            }
            '[' => {
                depth[1] += 1;
                false
            }
            ')' | ']' => {
                let d = &mut depth[usize::from(c == ']')];
                if *d == 0 {
                    true
                } else {
                    *d -= 1;
                    false
                }
            }
            '<' | '>' | '"' | '\'' | '`' | '{' | '}' | '|' | '\\' | '^' => true,
            '\u{201c}' | '\u{201d}' | '\u{2018}' | '\u{2019}' | '\u{ab}' | '\u{bb}' => true,
            c => c.is_whitespace() || c.is_control(),
        };
        if stop {
            break;
        }
        end = start + i + c.len_utf8();
    }
    while let Some(last) = text[start..end].chars().last() {
        if matches!(last, '.' | ',' | ';' | ':' | '!' | '?' | '*') {
            end -= last.len_utf8();
        } else {
            break;
        }
    }
    end
}

fn find_ascii_ci(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|window| window.eq_ignore_ascii_case(needle))
}

fn starts_with_ci(haystack: &[u8], prefix: &[u8]) -> bool {
    haystack.len() >= prefix.len() && haystack[..prefix.len()].eq_ignore_ascii_case(prefix)
}

/// A word of the text: its byte span, and its core (the word without surrounding
/// punctuation).
struct Token<'a> {
    start: usize,
    end: usize,
    core: &'a str,
    /// Lowercase core.
    lower: String,
    /// Whether the word ends a sentence (`.`, `!`, `?` after it) or a paragraph
    /// follows (an empty line).
    ends_sentence: bool,
    /// Whether the next word follows on the same line, after one or two spaces.
    joined_to_next: bool,
}

/// Words that make a nearby token a code (lowercase), besides any word that ends
/// in "code" or "codes" (passcode, Bestätigungscode, verificatiecode, …).
const KEYWORDS: &[&str] = &[
    "verification",
    "verify",
    "verifying",
    "otp",
    "one-time",
    "onetime",
    "pin",
    "token",
    "2fa",
    "mfa",
    "código",
    "codigo",
    "códigos",
    "codice",
    "kod",
    "kodu",
    "код",
    "кода",
    "verificación",
    "verificacion",
    "vérification",
    "verificação",
    "verifizierung",
    "bestätigung",
    "bestätigen",
];

/// Words ending in "code" that are not about a one-time code.
const NOT_KEYWORDS: &[&str] = &["postcode", "zipcode", "barcode", "qrcode", "unicode", "opcode", "encode", "decode"];

/// Words before a keyword that make it something else ("zip code", "source code").
const KEYWORD_SPOILERS: &[&str] = &["zip", "postal", "post", "area", "country", "source", "tax", "sort", "swift", "qr"];

/// Labels after which a number is an identifier, not a code.
const ID_LABELS: &[&str] = &[
    "order",
    "invoice",
    "receipt",
    "ref",
    "reference",
    "no",
    "nr",
    "number",
    "account",
    "acct",
    "id",
    "ticket",
    "case",
    "tracking",
    "transaction",
    "phone",
    "tel",
    "telephone",
    "fax",
    "call",
    "ext",
    "card",
    "ending",
    "suite",
    "room",
    "flight",
    "booking",
    "confirmation",
    "customer",
    "member",
    "item",
    "sku",
    "qty",
    "zip",
    "postal",
];

const MONTHS: &[&str] = &[
    "jan",
    "january",
    "feb",
    "february",
    "mar",
    "march",
    "apr",
    "april",
    "may",
    "jun",
    "june",
    "jul",
    "july",
    "aug",
    "august",
    "sep",
    "sept",
    "september",
    "oct",
    "october",
    "nov",
    "november",
    "dec",
    "december",
];

/// Words before a year ("in 2024", "© 2024").
const YEAR_LEADS: &[&str] = &["in", "since", "from", "by", "of", "until", "to", "for", "year", "©", "(c)", "copyright"];

const CURRENCIES: &[&str] =
    &["usd", "eur", "gbp", "chf", "jpy", "cad", "aud", "inr", "sek", "nok", "dkk", "pln", "rub"];

/// Units a number may carry that make it a quantity ("10min", "24h", "2nd").
const UNITS: &[&str] = &[
    "s", "sec", "secs", "second", "seconds", "m", "min", "mins", "minute", "minutes", "h", "hr", "hrs", "hour",
    "hours", "d", "day", "days", "am", "pm", "st", "nd", "rd", "th", "px", "pt", "em", "k", "kb", "mb", "gb", "tb",
    "x",
];

/// How many words after a keyword a code may come, and how many before one.
const AFTER_KEYWORD: usize = 6;
const BEFORE_KEYWORD: usize = 5;

fn find_codes(text: &str) -> Vec<Code> {
    let tokens = tokenize(text);
    let keywords: Vec<bool> = (0..tokens.len()).map(|i| is_keyword(&tokens, i)).collect();
    let mut found: Vec<Code> = Vec::new();
    for (i, token) in tokens.iter().enumerate() {
        if found.len() == MAX_CODES {
            break;
        }
        if keywords[i] || !looks_like_code(token.core) || excluded(&tokens, i) {
            continue;
        }
        let after_keyword = (i.saturating_sub(AFTER_KEYWORD)..i).any(|k| keywords[k]);
        // "482913 is your code": the keyword in the same sentence.
        let before_keyword = (i + 1..tokens.len().min(i + 1 + BEFORE_KEYWORD))
            .take_while(|&k| !tokens[k - 1].ends_sentence)
            .any(|k| keywords[k]);
        if !(after_keyword || before_keyword) || found.iter().any(|c| c.code == token.core) {
            continue;
        }
        found.push(Code { code: token.core.to_string(), context: context(text, token.start, token.end) });
    }
    found
}

fn is_trimmed(c: char) -> bool {
    matches!(c, '.' | ',' | ';' | '!' | '?' | '(' | ')' | '[' | ']' | '{' | '}' | '"' | '\'' | '*' | '_' | '<' | '>')
        || matches!(c, '\u{201c}' | '\u{201d}' | '\u{2018}' | '\u{2019}' | '\u{ab}' | '\u{bb}')
}

fn tokenize(text: &str) -> Vec<Token<'_>> {
    let is_separator = |c: char| c.is_whitespace() || c == ':' || c == '=';
    let mut words = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        match (is_separator(c), start) {
            (true, Some(s)) => {
                words.push((s, i));
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    if let Some(s) = start {
        words.push((s, text.len()));
    }
    let mut tokens: Vec<Token<'_>> = Vec::new();
    for (start, end) in words {
        let word = &text[start..end];
        let core = word.trim_matches(is_trimmed);
        if core.is_empty() {
            // A lone "." still ends a sentence.
            if let Some(last) = tokens.last_mut() {
                last.ends_sentence |= word.contains(['.', '!', '?']);
            }
            continue;
        }
        let offset = start + (word.len() - word.trim_start_matches(is_trimmed).len());
        let tail = &word[word.trim_end_matches(is_trimmed).len()..];
        tokens.push(Token {
            start: offset,
            end: offset + core.len(),
            core,
            lower: core.to_lowercase(),
            ends_sentence: tail.contains(['.', '!', '?']),
            joined_to_next: false,
        });
    }
    for i in 1..tokens.len() {
        let gap = &text[tokens[i - 1].end..tokens[i].start];
        let newlines = gap.matches('\n').count();
        if newlines >= 2 {
            tokens[i - 1].ends_sentence = true;
        }
        // Only spaces between the two words (the trims of either side aside).
        let spaces = gap.chars().filter(|c| c.is_whitespace()).count();
        tokens[i - 1].joined_to_next = newlines == 0 && (1..=2).contains(&spaces) && !gap.contains([':', '=']);
    }
    tokens
}

fn is_keyword(tokens: &[Token<'_>], i: usize) -> bool {
    let word = tokens[i].lower.as_str();
    let keyword = KEYWORDS.contains(&word)
        || ((word.ends_with("code") || word.ends_with("codes")) && !NOT_KEYWORDS.contains(&word))
        || word.ends_with("passwort");
    keyword && !(i > 0 && KEYWORD_SPOILERS.contains(&tokens[i - 1].lower.as_str()))
}

/// 4–8 ASCII digits, or 4–12 ASCII letters and digits with at least one of each.
fn looks_like_code(word: &str) -> bool {
    let len = word.len();
    if !word.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return false;
    }
    let digits = word.bytes().filter(u8::is_ascii_digit).count();
    if digits == len {
        return (4..=8).contains(&len);
    }
    digits > 0 && (4..=12).contains(&len)
}

/// Years, phone-number pieces, labelled identifiers, amounts and quantities.
fn excluded(tokens: &[Token<'_>], i: usize) -> bool {
    let word = tokens[i].core;
    let previous = i.checked_sub(1).map(|p| &tokens[p]);
    let next = tokens.get(i + 1);
    let previous_word = previous.map_or("", |t| t.lower.as_str());
    let next_word = next.map_or("", |t| t.lower.as_str());
    let all_digits = word.bytes().all(|b| b.is_ascii_digit());

    if ID_LABELS.contains(&previous_word)
        || (previous_word == "#" && i >= 2 && ID_LABELS.contains(&tokens[i - 2].lower.as_str()))
    {
        return true;
    }
    if CURRENCIES.contains(&previous_word) || CURRENCIES.contains(&next_word) {
        return true;
    }
    if all_digits {
        // A number beside another number on the same line: a phone number, a date,
        // an amount in pieces.
        let numeric = |t: &Token<'_>| {
            t.core.bytes().any(|b| b.is_ascii_digit())
                && t.core.bytes().all(|b| b.is_ascii_digit() || b"+-()./".contains(&b))
        };
        if previous.is_some_and(|p| p.joined_to_next && numeric(p))
            || next.is_some_and(|n| tokens[i].joined_to_next && numeric(n))
        {
            return true;
        }
        let year = word.len() == 4 && matches!(word.parse::<u32>(), Ok(1900..=2099));
        if year {
            let near = |k: usize| tokens.get(k).is_some_and(|t| MONTHS.contains(&t.lower.as_str()));
            if YEAR_LEADS.contains(&previous_word)
                || previous_word.contains('©')
                || (i.saturating_sub(3)..(i + 3).min(tokens.len())).any(near)
            {
                return true;
            }
        }
    } else {
        // "10min", "24hours", "2nd": a number with a unit.
        let split = word.find(|c: char| !c.is_ascii_digit()).unwrap_or(word.len());
        let (number, unit) = word.split_at(split);
        if !number.is_empty()
            && !unit.bytes().any(|b| b.is_ascii_digit())
            && UNITS.contains(&unit.to_ascii_lowercase().as_str())
        {
            return true;
        }
    }
    false
}

/// Up to 30 characters either side of `start..end` in whole words, whitespace
/// collapsed.
fn context(text: &str, start: usize, end: usize) -> String {
    const SIDE: usize = 30;
    let mut before = text[..start].char_indices().rev().nth(SIDE - 1).map_or(0, |(i, _)| i);
    let mut after = text[end..].char_indices().nth(SIDE).map_or(text.len(), |(i, _)| end + i);
    // Whole words only: drop a word cut at either edge.
    if text[..before].chars().next_back().is_some_and(|c| !c.is_whitespace()) {
        before = text[before..start].find(char::is_whitespace).map_or(start, |i| before + i);
    }
    if text[after..].chars().next().is_some_and(|c| !c.is_whitespace()) {
        after = text[end..after].rfind(char::is_whitespace).map_or(end, |i| end + i);
    }
    collapse_whitespace(&text[before..after])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn urls(links: &[Link]) -> Vec<&str> {
        links.iter().map(|l| l.url.as_str()).collect()
    }

    fn code_list(text: &str, html: &str) -> Vec<String> {
        codes(text, html).into_iter().map(|c| c.code).collect()
    }

    const RESET_HTML: &str = r##"<!DOCTYPE html>
<html><head><title>Reset your password</title>
<style>a { color: #123456; }</style>
<script>var track = "https://evil.test/js";</script></head>
<body>
  <table><tr><td>
    <p>Hi Alice,</p>
    <p>Someone asked to reset the password for your account.</p>
    <a href="https://app.example.test/reset?token=abc&amp;user=42" class="button" style="padding:12px">
      Reset   password
    </a>
    <p>Or paste this into your browser: https://app.example.test/reset?token=abc&amp;user=42</p>
    <p><a href="javascript:alert(1)">Not this</a> <a href=" JaVa&#x09;script:void(0)">nor this</a>
       <a href="data:text/html,hi">nor this</a> <a href="#top">top</a></p>
    <p><a href="https://example.test/help"><img src="https://cdn.example.test/help.png" alt="Help centre"></a>
       <a href="mailto:support@example.test">support@example.test</a></p>
    <img src="https://t.example.test/open.gif?id=9f8e7d" width="1" height="1" alt="">
  </td></tr></table>
</body></html>"##;

    const RESET_TEXT: &str = "Hi Alice,\n\nSomeone asked to reset the password for your account.\n\n\
        Reset password: https://app.example.test/reset?token=abc&user=42\n\n\
        Help: <https://example.test/help>. Unsubscribe: https://example.test/unsub?u=1&amp;l=2\n";

    #[test]
    fn password_reset_links() {
        let links = links(RESET_TEXT, RESET_HTML);
        assert_eq!(
            links,
            [
                Link { url: "https://app.example.test/reset?token=abc&user=42".into(), text: "Reset password".into() },
                Link { url: "https://example.test/help".into(), text: "Help centre".into() },
                Link { url: "mailto:support@example.test".into(), text: "support@example.test".into() },
                Link { url: "https://example.test/unsub?u=1&l=2".into(), text: String::new() },
            ]
        );
        // The tracking pixel and the script's string are no links.
        assert!(!urls(&links).iter().any(|u| u.contains("open.gif") || u.contains("evil")));
    }

    #[test]
    fn text_urls_end_where_prose_resumes() {
        let text = "Docs (see https://x.test/a). Also https://x.test/b, https://x.test/c; \
            \"https://x.test/d\" [https://x.test/e] https://en.wikipedia.test/wiki/Foo_(bar)! \
            HTTPS://X.TEST/F?q=1#frag... <https://x.test/g>\n[link](https://x.test/h)\n\
            nohttp://x.test/no https:// http://x.test/a https://x.test/a \u{201c}https://x.test/i\u{201d}";
        assert_eq!(
            urls(&links(text, "")),
            [
                "https://x.test/a",
                "https://x.test/b",
                "https://x.test/c",
                "https://x.test/d",
                "https://x.test/e",
                "https://en.wikipedia.test/wiki/Foo_(bar)",
                "HTTPS://X.TEST/F?q=1#frag",
                "https://x.test/g",
                "https://x.test/h",
                "http://x.test/a",
                "https://x.test/i",
            ]
        );
    }

    #[test]
    fn an_anchor_without_text_takes_a_later_ones() {
        let html = r#"<a href="https://x.test/p"><img src="logo.png"></a> <a href="https://x.test/p">Open</a>"#;
        assert_eq!(links("", html), [Link { url: "https://x.test/p".into(), text: "Open".into() }]);
    }

    #[test]
    fn otp_emails() {
        assert_eq!(code_list("Your verification code is 482913", ""), ["482913"]);
        assert_eq!(code_list("Use code AB12CD to sign in.", ""), ["AB12CD"]);
        assert_eq!(code_list("482913 is your Acme login code.", ""), ["482913"]);
        assert_eq!(code_list("Your one-time passcode (OTP):\n\n   7731\n\nIt expires in 10min.", ""), ["7731"]);
        assert_eq!(code_list("Ihr Bestätigungscode lautet: 552201", ""), ["552201"]);
        assert_eq!(code_list("Tu código de verificación es 90817", ""), ["90817"]);
        assert_eq!(code_list("Security code: 2024", ""), ["2024"]);
        assert_eq!(code_list("Your PIN is 0042", ""), ["0042"]);

        let found = codes("Hello Bob,\nYour verification code is 482913. It is valid for 10 minutes.\nThanks", "");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].context, "Your verification code is 482913. It is valid for 10 minutes.");
    }

    #[test]
    fn html_codes_and_dedup() {
        let html = "<html><head><title>Code 111111</title></head><body><p>Your code:</p>\
            <div style='font-size:32px'><b>482913</b></div><p>Didn't ask? Ignore this.</p></body></html>";
        assert_eq!(code_list("", html), ["482913"]);
        // Found in both parts: once, from the text.
        assert_eq!(code_list("Your code: 482913", html), ["482913"]);
        let found = codes("", html);
        assert_eq!(found[0].context, "Your code: 482913 Didn't ask? Ignore this.");
    }

    #[test]
    fn receipts_have_no_codes() {
        let text = "Thanks for your order!\n\n\
            Order #100234 placed on May 3, 2024 at 14:05\n\
            Order number 5550123\n\
            Invoice INV2024001, due 2024-06-01\n\
            2 x Widget        $19.99\n\
            Shipping          EUR 4500\n\
            Total             1234 USD\n\
            Card ending 4242\n\
            Questions? Call +1 (800) 555 0199 or 0800 123456.\n\
            Track it: https://shop.example.test/t/9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\n\
            Tracking ID 1Z999AA10123456784\n\
            \u{a9} 2024 Shop Inc., 12 Main St, Springfield 62704";
        assert_eq!(code_list(text, ""), Vec::<String>::new());
        // Even right after a keyword, labels, years and phone numbers are not codes.
        let text = "Enter the verification code sent to your phone 555 0199 in 2024. Order number 100234.";
        assert_eq!(code_list(text, ""), Vec::<String>::new());
        // Unless labelled: a promo code is a code.
        assert_eq!(code_list(&format!("{text}\nYour promo code is SAVE20."), ""), ["SAVE20"]);
        // Zip codes, hashes and long numbers near "code" are not.
        assert_eq!(
            code_list("Zip code 62704. Source code 9f86d081884c7d659a2f. Code 123456789012 expired.", ""),
            Vec::<String>::new()
        );
    }

    #[test]
    fn words_are_not_codes() {
        assert_eq!(
            code_list("Verify your email to finish signing up. Code of conduct applies.", ""),
            Vec::<String>::new()
        );
    }

    #[test]
    fn odd_input_never_panics() {
        for text in ["", "http", "https://", "code", "code é 1234é", "(((https://x", "\u{301}code\u{301} 1234", "&amp;"]
        {
            links(text, text);
            codes(text, text);
        }
        let deep = "<div>".repeat(5_000) + "code 1234";
        assert_eq!(code_list("", &deep), ["1234"]);
    }

    #[test]
    fn every_corpus_message() {
        for path in crate::mail::corpus::files() {
            let raw = std::fs::read(&path).unwrap();
            let (text, html) = crate::mail::detail::bodies(&raw);
            let found = links(&text, &html);
            for link in &found {
                assert!(!is_script_or_data(&link.url), "{}: {}", path.display(), link.url);
            }
            codes(&text, &html);
        }
    }

    #[test]
    fn a_million_links_are_listed_up_to_the_cap_in_linear_time() {
        let urls: String = (0..1_000_000).map(|n| format!("https://example.test/{n}\n")).collect();
        let html: String = (0..1_000_000).map(|n| format!("<a href=https://example.test/{n}>{n}</a>\n")).collect();
        let started = std::time::Instant::now();
        let found = links(&urls, &html);
        assert_eq!(found.len(), MAX_LINKS);
        assert_eq!(found[0], Link { url: "https://example.test/0".into(), text: "0".into() });
        assert_eq!(found[MAX_LINKS - 1].url, format!("https://example.test/{}", MAX_LINKS - 1));
        // Debug build; quadratic work would take minutes.
        assert!(started.elapsed() < std::time::Duration::from_secs(10), "{:?}", started.elapsed());
    }

    #[test]
    fn codes_are_looked_for_in_the_first_megabyte() {
        let filler = "é filler words ".repeat(CODES_TEXT_BYTES / 16);
        let found = codes(&format!("{filler}Your code: 482913"), "");
        assert_eq!(found, []);
        assert_eq!(codes(&format!("Your code: 482913 {filler}"), "")[0].code, "482913");
    }

    #[test]
    fn codes_are_listed_up_to_the_cap() {
        let text: String = (0..100_000).map(|n| format!("Your code: {}.\n", 100_000 + n)).collect();
        let found = codes(&text, &format!("<p>{text}</p>"));
        assert_eq!(found.len(), MAX_CODES);
        assert_eq!(found[0].code, "100000");
    }
}
