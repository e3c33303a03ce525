//! The records file (`serve --dkim-keys FILE`): DKIM keys, SPF and DMARC records in
//! zone-file form, read once at start-up and answered from memory as mail-auth's
//! TXT cache.
//!
//! A line is `NAME [TTL] [IN] TXT "text" ["text" …]`; the strings of one record are
//! joined (as DNS does with a long key), a record may continue over lines inside
//! `( … )`, and `;` starts a comment. Names are absolute whether or not they end
//! with a dot (`$TTL` is skipped; `$ORIGIN` and `$INCLUDE` are refused). Each record must be a DKIM key (`v=DKIM1`, or any record under
//! `_domainkey`), an SPF record (`v=spf1`) or a DMARC record (`v=DMARC1`): anything
//! else is refused with its line, so a typo does not silently turn into "no key".

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::path::{Path, PathBuf};

use mail_auth::common::parse::TxtRecordParser;
use mail_auth::common::verify::DomainKey;
use mail_auth::dkim::DkimError;
use mail_auth::dmarc::Dmarc;
use mail_auth::spf::Spf;
use mail_auth::{Error, Txt};

/// Why the records file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum RecordsError {
    #[error("cannot read the DKIM keys file {path}: {source}; fix the path, or leave out --dkim-keys")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("the DKIM keys file {path}, line {line}: {reason}; fix the line, or leave out --dkim-keys")]
    Line { path: PathBuf, line: usize, reason: String },
}

/// The records of the file, by lowercased absolute name with its trailing dot (the
/// form mail-auth looks names up by).
#[derive(Default)]
pub struct Records {
    by_name: HashMap<Box<str>, Txt>,
}

impl Records {
    /// Reads the file at `path`.
    pub fn load(path: &Path) -> Result<Records, RecordsError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| RecordsError::Read { path: path.to_path_buf(), source })?;
        Records::parse(&text).map_err(|(line, reason)| RecordsError::Line { path: path.to_path_buf(), line, reason })
    }

    /// The records in `text`, or the line number (from 1) and reason of the first
    /// bad one.
    pub fn parse(text: &str) -> Result<Records, LineError> {
        let mut by_name = HashMap::new();
        let mut first_line: HashMap<Box<str>, usize> = HashMap::new();
        for (line, tokens) in entries(text)? {
            match tokens.first() {
                Some(Token::Word(directive)) if directive.eq_ignore_ascii_case("$TTL") => continue,
                Some(Token::Word(directive)) if directive.starts_with('$') => {
                    return Err((line, format!("{directive} is not supported: write every name in full")));
                }
                _ => {}
            }
            let (name, value) = txt_record(&tokens).map_err(|reason| (line, reason))?;
            let record = classify(&name, &value).map_err(|reason| (line, reason))?;
            if let Some(earlier) = first_line.insert(name.clone(), line) {
                return Err((line, format!("a second record for {name} (the first is on line {earlier})")));
            }
            by_name.insert(name, record);
        }
        Ok(Records { by_name })
    }

    /// The file's record for `name` (lowercased, absolute, with its trailing dot).
    pub(super) fn get<Q>(&self, name: &Q) -> Option<&Txt>
    where
        Box<str>: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.by_name.get(name)
    }

    /// How many records the file holds.
    pub(super) fn len(&self) -> usize {
        self.by_name.len()
    }
}

/// A bad line: its number (from 1) and what is wrong with it.
type LineError = (usize, String);

/// One record as written: the line it starts on and its tokens.
type Entry = (usize, Vec<Token>);

/// The file's entries (quoted strings unquoted, comments and parentheses gone).
fn entries(text: &str) -> Result<Vec<Entry>, LineError> {
    let mut entries = Vec::new();
    let mut current: Option<Entry> = None;
    let mut open_parens = false;
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        let mut chars = line.chars().peekable();
        let mut tokens = Vec::new();
        while let Some(&c) = chars.peek() {
            match c {
                ';' => break,
                c if c.is_whitespace() => {
                    chars.next();
                }
                '(' | ')' => {
                    if (c == '(') == open_parens {
                        return Err((number, format!("an unexpected {c:?}")));
                    }
                    open_parens = c == '(';
                    chars.next();
                }
                '"' => {
                    chars.next();
                    tokens.push(Token::Quoted(
                        quoted(&mut chars).ok_or((number, "a quoted string is not closed".to_string()))?,
                    ));
                }
                _ => {
                    let mut word = String::new();
                    while let Some(&c) = chars.peek() {
                        if c.is_whitespace() || matches!(c, ';' | '(' | ')' | '"') {
                            break;
                        }
                        word.push(c);
                        chars.next();
                    }
                    tokens.push(Token::Word(word));
                }
            }
        }
        match &mut current {
            Some((_, continued)) => continued.extend(tokens),
            None if !tokens.is_empty() => current = Some((number, tokens)),
            None => {}
        }
        if !open_parens && let Some(entry) = current.take() {
            entries.push(entry);
        }
    }
    if let Some((line, _)) = current {
        return Err((line, "a \"(\" is never closed".to_string()));
    }
    Ok(entries)
}

#[derive(Debug, PartialEq)]
enum Token {
    Word(String),
    Quoted(String),
}

/// The rest of a quoted string, after its opening quote: `\"`, `\\` and `\DDD`
/// escapes undone. `None` when the line ends first.
fn quoted(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Option<String> {
    let mut text = String::new();
    while let Some(c) = chars.next() {
        match c {
            '"' => return Some(text),
            '\\' => {
                let next = chars.next()?;
                if next.is_ascii_digit() {
                    let digits: String = [Some(next), chars.next(), chars.next()].into_iter().flatten().collect();
                    text.push(char::from(digits.parse::<u8>().ok()?));
                } else {
                    text.push(next);
                }
            }
            c => text.push(c),
        }
    }
    None
}

/// The name and joined text of a `NAME [TTL] [IN] TXT "…" …` entry.
fn txt_record(tokens: &[Token]) -> Result<(Box<str>, String), String> {
    let mut words = tokens.iter();
    let Some(Token::Word(name)) = words.next() else {
        return Err("a record must start with its name".to_string());
    };
    let mut kind = None;
    for token in words.by_ref() {
        match token {
            Token::Word(word) if word.chars().all(|c| c.is_ascii_digit()) => {}
            Token::Word(word) if word.eq_ignore_ascii_case("IN") => {}
            Token::Word(word) => {
                kind = Some(word.to_ascii_uppercase());
                break;
            }
            Token::Quoted(_) => break,
        }
    }
    match kind.as_deref() {
        Some("TXT") => {}
        Some(other) => return Err(format!("a {other} record: only TXT records (DKIM keys, SPF, DMARC) are read")),
        None => return Err("no record type: expected NAME [TTL] [IN] TXT \"…\"".to_string()),
    }
    let mut value = String::new();
    for token in words {
        match token {
            Token::Quoted(text) | Token::Word(text) => value.push_str(text),
        }
    }
    if value.is_empty() {
        return Err(format!("the TXT record of {name} has no text"));
    }
    let mut name = name.trim_end_matches('.').to_ascii_lowercase();
    name.push('.');
    Ok((name.into_boxed_str(), value))
}

/// The record as mail-auth keeps it: a DKIM key, an SPF or a DMARC record.
fn classify(name: &str, value: &str) -> Result<Txt, String> {
    let version = value.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    let under_domainkey = name.split('.').any(|label| label == "_domainkey");
    let parsed = if version == "v=dkim1" || under_domainkey {
        match DomainKey::parse(value.as_bytes()) {
            // A revoked key (empty p=) is a record to answer with, not a typo.
            Err(Error::Dkim(DkimError::RevokedPublicKey)) => {
                return Ok(Txt::Error(Error::Dkim(DkimError::RevokedPublicKey)));
            }
            other => other.map(Txt::from),
        }
    } else if version.starts_with("v=spf1") {
        Spf::parse(value.as_bytes()).map(Txt::from)
    } else if version == "v=dmarc1" {
        Dmarc::parse(value.as_bytes()).map(Txt::from)
    } else {
        return Err(format!(
            "the record of {name} is neither a DKIM key (v=DKIM1, or a name under _domainkey), SPF (v=spf1) nor DMARC (v=DMARC1)"
        ));
    };
    parsed.map_err(|err| format!("the record of {name} does not parse: {err}"))
}
