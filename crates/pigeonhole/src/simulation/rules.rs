//! The rules file: TOML text into an ordered list of [`Rule`]s, each a set of
//! matchers and one action, and the `[simulator]` settings of the built-in
//! addresses.
//!
//! Parsing checks everything a rule could get wrong (an unknown action, a code
//! of the wrong class, a bad glob or regex, an option its action ignores) and
//! names the line, so a bad file is refused whole at start-up or by the API and
//! the rules in force never hold half of one.

use std::ops::Range;
use std::time::Duration;

use regex::{Regex, RegexBuilder};
use serde::Deserialize;
use toml::Spanned;

use super::{Effect, Reply};

/// The most compiled memory one pattern of a rules file may take: a pattern is
/// the user's own, but a typo must not cost the engine megabytes per message.
const REGEX_SIZE_LIMIT: usize = 256 * 1024;

/// The actions, in the words of the rules file (also the `Action` of a
/// message's recorded simulation).
pub const ACTIONS: [&str; 9] =
    ["accept", "reject", "defer", "tarpit", "disconnect", "bounce", "complaint", "auto-reply", "forward"];

/// A parsed rules file.
#[derive(Debug)]
pub struct RuleSet {
    pub rules: Vec<Rule>,
    /// How `bounce@simulator.test` answers.
    pub bounce: SimulatedBounce,
}

/// How the built-in bounce address behaves (`[simulator] bounce = …`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SimulatedBounce {
    /// Accept, then send an RFC 3464 DSN to the envelope sender.
    #[default]
    Dsn,
    /// Refuse at RCPT with 550 5.1.1.
    RejectAtRcpt,
}

/// One rule: every matcher it has must match; then its action applies.
#[derive(Debug, Clone)]
pub struct Rule {
    pub name: String,
    pub recipient: Option<Pattern>,
    pub sender: Option<Pattern>,
    pub inbox: Option<Pattern>,
    pub header: Option<HeaderMatch>,
    /// A provider's name (`sendgrid` …), compared without case.
    pub provider: Option<String>,
    pub action: Action,
}

/// What a rule does to the recipients it matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Accept as usual (and stop looking at further rules).
    Accept,
    /// Refuse with a permanent error, at RCPT or after DATA.
    Reject { reply: Reply, at_data: bool },
    /// Refuse with a temporary error; with `retry_after`, a retry from the same
    /// client after that long is accepted (greylisting).
    Defer { reply: Reply, retry_after: Option<Duration> },
    /// Delay each reply of the session from then on.
    Tarpit { delay: Duration },
    /// Close the connection after the message's data, without a reply.
    Disconnect,
    /// Accept, then carry out an effect.
    Effect(Effect),
}

impl Action {
    /// The action's name as the rules file spells it.
    pub fn name(&self) -> &'static str {
        match self {
            Action::Accept => "accept",
            Action::Reject { .. } => "reject",
            Action::Defer { .. } => "defer",
            Action::Tarpit { .. } => "tarpit",
            Action::Disconnect => "disconnect",
            Action::Effect(effect) => effect.action_name(),
        }
    }
}

/// An address or inbox pattern: a glob (`*@blocked.test`, without case) or, after
/// `re:`, a regex.
#[derive(Debug, Clone)]
pub struct Pattern {
    regex: Regex,
}

impl Pattern {
    pub fn parse(text: &str) -> Result<Pattern, String> {
        let source = match text.strip_prefix("re:") {
            Some(regex) => regex.to_string(),
            None => glob_regex(text),
        };
        let regex = RegexBuilder::new(&source).size_limit(REGEX_SIZE_LIMIT).build().map_err(|err| match err {
            regex::Error::CompiledTooBig(_) => format!("the pattern {text:?} is too large"),
            err => format!("the pattern {text:?} is not a valid regex: {}", first_line(&err.to_string())),
        })?;
        Ok(Pattern { regex })
    }

    pub fn matches(&self, value: &str) -> bool {
        self.regex.is_match(value)
    }
}

/// `header = "Name: value-glob"`: some header of that name (without case) has a
/// value (unfolded, trimmed) the glob matches.
#[derive(Debug, Clone)]
pub struct HeaderMatch {
    pub name: String,
    pub value: Pattern,
}

/// A glob as an anchored, case-insensitive regex: `*` any run of characters, `?`
/// one, everything else literal.
fn glob_regex(glob: &str) -> String {
    let mut regex = String::from("(?i)^");
    for c in glob.chars() {
        match c {
            '*' => regex.push_str(".*"),
            '?' => regex.push('.'),
            c => regex.push_str(&regex::escape(c.encode_utf8(&mut [0; 4]))),
        }
    }
    regex.push('$');
    regex
}

fn first_line(text: &str) -> &str {
    text.lines().find(|line| !line.trim().is_empty()).unwrap_or(text).trim()
}

/// The file as TOML sees it; every field kept with its place for the error
/// messages.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    rule: Vec<Spanned<RawRule>>,
    #[serde(default)]
    simulator: Option<RawSimulator>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSimulator {
    bounce: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    name: Option<Spanned<String>>,
    recipient: Option<Spanned<String>>,
    sender: Option<Spanned<String>>,
    inbox: Option<Spanned<String>>,
    header: Option<Spanned<String>>,
    provider: Option<Spanned<String>>,
    action: Spanned<String>,
    code: Option<Spanned<u16>>,
    enhanced: Option<Spanned<String>>,
    message: Option<Spanned<String>>,
    at: Option<Spanned<String>>,
    retry_after: Option<Spanned<u64>>,
    delay_ms: Option<Spanned<u64>>,
    feedback_type: Option<Spanned<String>>,
}

/// Parse a rules file; the error names the line (`line 3: unknown action …`).
pub fn parse(text: &str) -> Result<RuleSet, String> {
    let at = |span: Range<usize>, message: String| format!("line {}: {message}", line_of(text, span.start));
    let file: File = toml::from_str(text).map_err(|err| {
        let message = first_line(err.message()).to_string();
        match err.span() {
            Some(span) => at(span, message),
            None => message,
        }
    })?;
    let mut rules = Vec::with_capacity(file.rule.len());
    for (index, rule) in file.rule.into_iter().enumerate() {
        let span = rule.span();
        let rule = rule.into_inner();
        rules.push(compile(rule, index + 1).map_err(|(field_span, message)| at(field_span.unwrap_or(span), message))?);
    }
    let bounce = match file.simulator.and_then(|simulator| simulator.bounce) {
        None => SimulatedBounce::Dsn,
        Some(bounce) => match bounce.get_ref().as_str() {
            "dsn" => SimulatedBounce::Dsn,
            "reject-at-rcpt" => SimulatedBounce::RejectAtRcpt,
            other => {
                return Err(at(bounce.span(), format!("unknown bounce {other:?} (dsn, reject-at-rcpt)")));
            }
        },
    };
    Ok(RuleSet { rules, bounce })
}

fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())].iter().filter(|&&b| b == b'\n').count() + 1
}

/// An option of a rule: its name, where it is in the file when set, and the
/// actions it belongs to.
type OptionOwners = (&'static str, Option<Range<usize>>, &'static [&'static str]);

/// A rule's problem and, when one field is to blame, where that field is.
type RuleError = (Option<Range<usize>>, String);

fn compile(raw: RawRule, number: usize) -> Result<Rule, RuleError> {
    let pattern = |field: &Option<Spanned<String>>| -> Result<Option<Pattern>, RuleError> {
        field.as_ref().map(|text| Pattern::parse(text.get_ref()).map_err(|err| (Some(text.span()), err))).transpose()
    };
    let header = match &raw.header {
        None => None,
        Some(text) => {
            let (name, value) = text
                .get_ref()
                .split_once(':')
                .ok_or_else(|| (Some(text.span()), format!("header {:?} is not \"Name: value\"", text.get_ref())))?;
            let name = name.trim();
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic() && b != b':') {
                return Err((Some(text.span()), format!("header {:?} has no valid field name", text.get_ref())));
            }
            let value = Pattern::parse(value.trim()).map_err(|err| (Some(text.span()), err))?;
            Some(HeaderMatch { name: name.to_string(), value })
        }
    };
    let name = match &raw.name {
        Some(name) => name.get_ref().clone(),
        None => format!("rule {number}"),
    };
    let action = action(&raw, &name)?;
    Ok(Rule {
        recipient: pattern(&raw.recipient)?,
        sender: pattern(&raw.sender)?,
        inbox: pattern(&raw.inbox)?,
        header,
        provider: raw.provider.map(|provider| provider.into_inner().to_ascii_lowercase()),
        name,
        action,
    })
}

fn action(raw: &RawRule, name: &str) -> Result<Action, RuleError> {
    let action = raw.action.get_ref().as_str();
    // Each option belongs to some actions only: one set on another action is a
    // mistake the user should hear of, not an option silently ignored.
    let owners: [OptionOwners; 7] = [
        ("code", raw.code.as_ref().map(Spanned::span), &["reject", "defer"]),
        ("enhanced", raw.enhanced.as_ref().map(Spanned::span), &["reject", "defer", "bounce"]),
        ("message", raw.message.as_ref().map(Spanned::span), &["reject", "defer", "bounce", "auto-reply"]),
        ("at", raw.at.as_ref().map(Spanned::span), &["reject"]),
        ("retry_after", raw.retry_after.as_ref().map(Spanned::span), &["defer"]),
        ("delay_ms", raw.delay_ms.as_ref().map(Spanned::span), &["tarpit"]),
        ("feedback_type", raw.feedback_type.as_ref().map(Spanned::span), &["complaint"]),
    ];
    if !ACTIONS.contains(&action) {
        return Err((Some(raw.action.span()), format!("unknown action {action:?} ({})", ACTIONS.join(", "))));
    }
    for (option, span, actions) in owners {
        if let Some(span) = span
            && !actions.contains(&action)
        {
            return Err((
                Some(span),
                format!("{option:?} does not apply to {action} (only to {})", actions.join(", ")),
            ));
        }
    }
    let text = |default: String| -> Result<String, RuleError> {
        match &raw.message {
            None => Ok(default),
            Some(message) if message.get_ref().contains(['\r', '\n']) => {
                Err((Some(message.span()), "message must be one line".to_string()))
            }
            Some(message) => Ok(message.get_ref().clone()),
        }
    };
    let reply = |class: u8, code: u16, enhanced: &str, message: String| -> Result<Reply, RuleError> {
        let code = raw.code.as_ref().map_or(Ok(code), |given| {
            let value = *given.get_ref();
            if value / 100 == u16::from(class) && value < 600 {
                Ok(value)
            } else {
                Err((Some(given.span()), format!("code {value} for {action} must be {class}xx")))
            }
        })?;
        let enhanced = enhanced_code(raw.enhanced.as_ref(), enhanced, class)?;
        Ok(Reply { code, enhanced, text: text(message)? })
    };
    Ok(match action {
        "accept" => Action::Accept,
        "reject" => {
            let at_data = match &raw.at {
                None => false,
                Some(at) => match at.get_ref().as_str() {
                    "rcpt" => false,
                    "data" => true,
                    other => return Err((Some(at.span()), format!("unknown at {other:?} (rcpt, data)"))),
                },
            };
            Action::Reject { reply: reply(5, 550, "5.7.1", format!("Rejected by rule \"{name}\""))?, at_data }
        }
        "defer" => Action::Defer {
            reply: reply(4, 451, "4.7.1", "Try again later".to_string())?,
            retry_after: raw.retry_after.as_ref().map(|seconds| Duration::from_secs(*seconds.get_ref())),
        },
        "tarpit" => {
            let delay = raw.delay_ms.as_ref().ok_or_else(|| (None, "tarpit needs delay_ms".to_string()))?;
            if *delay.get_ref() > 60_000 {
                return Err((Some(delay.span()), "delay_ms is at most 60000".to_string()));
            }
            Action::Tarpit { delay: Duration::from_millis(*delay.get_ref()) }
        }
        "disconnect" => Action::Disconnect,
        "bounce" => {
            let status = enhanced_code(raw.enhanced.as_ref(), "5.1.1", 5)?;
            let diagnostic = text("Recipient address rejected: user unknown".to_string())?;
            Action::Effect(Effect::Bounce { status, diagnostic })
        }
        "complaint" => Action::Effect(Effect::Complaint {
            feedback_type: raw.feedback_type.as_ref().map_or("abuse".to_string(), |kind| kind.get_ref().clone()),
        }),
        "auto-reply" => Action::Effect(Effect::AutoReply { body: text(super::simulator::OUT_OF_OFFICE.to_string())? }),
        "forward" => Action::Effect(Effect::Forward),
        _ => unreachable!("checked against ACTIONS above"),
    })
}

/// An enhanced status code (`5.7.1`) of the given class, or `default`.
fn enhanced_code(given: Option<&Spanned<String>>, default: &str, class: u8) -> Result<String, RuleError> {
    let Some(given) = given else { return Ok(default.to_string()) };
    let text = given.get_ref();
    let parts: Vec<&str> = text.split('.').collect();
    let valid = parts.len() == 3
        && parts[0] == class.to_string()
        && parts[1..].iter().all(|part| (1..=3).contains(&part.len()) && part.bytes().all(|b| b.is_ascii_digit()));
    if valid {
        Ok(text.clone())
    } else {
        Err((Some(given.span()), format!("enhanced code {text:?} must look like \"{class}.7.1\"")))
    }
}
