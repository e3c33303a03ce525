//! Delivery simulation: what happens to mail for a recipient on purpose — refused,
//! deferred (greylisting), slowed, dropped, or accepted and then bounced,
//! complained about, auto-answered or forwarded.
//!
//! One [`Simulation`] serves the whole engine: the SMTP sessions ask it at RCPT
//! and after DATA, the provider APIs once per recipient. It holds the rules from
//! the rules file ([`rules`]) followed by the built-in simulator addresses
//! ([`simulator`]), and the greylist memory ([`greylist`]). [`Simulation::judge`]
//! takes who is sending what ([`Sending`]) and answers the first rule that
//! matches as a [`Judgement`]: a [`Verdict`] for the caller to carry out, the
//! [`Stage`] it belongs to, and what to record in the stored message's envelope.
//! Judging touches no socket and no store: effects after acceptance
//! ([`Effect`]) ride with the stored message to [`effects`], which carries them
//! out off the reply path (reports built by [`reports`] stored beside it,
//! forwards through the relay).
//!
//! Judging is deterministic: the same rules and the same input give the same
//! judgement, except that a greylisting rule remembers first attempts (that is
//! its point), by the clock the simulation was made with.

pub mod effects;
mod greylist;
pub mod reports;
pub mod rules;
pub mod simulator;

use std::cell::OnceCell;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use mail_parser::MessageParser;

use crate::mail::parse::header_raw_value;
use crate::model::SimulationOutcome;
use greylist::Greylist;
use rules::{Action, Rule, RuleSet, SimulatedBounce};

/// The rules file's name in the data folder, read when no `--rules` is given.
pub const RULES_FILE: &str = "rules.toml";

/// What happens after a message is accepted for a recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// A hard bounce: an RFC 3464 DSN to the envelope sender.
    Bounce {
        /// The enhanced status code the DSN reports (`5.1.1`).
        status: String,
        /// The remote server's words, as the DSN's Diagnostic-Code quotes them.
        diagnostic: String,
    },
    /// A complaint: an RFC 5965 ARF report to the envelope sender.
    Complaint {
        /// The report's Feedback-Type (`abuse`).
        feedback_type: String,
    },
    /// An RFC 3834 auto-reply with this body to the envelope sender.
    AutoReply { body: String },
    /// The message handed on to the configured SMTP relay too.
    Forward,
}

impl Effect {
    /// The rule action that causes this effect.
    pub fn action_name(&self) -> &'static str {
        match self {
            Effect::Bounce { .. } => "bounce",
            Effect::Complaint { .. } => "complaint",
            Effect::AutoReply { .. } => "auto-reply",
            Effect::Forward => "forward",
        }
    }
}

/// An SMTP error reply a rule answers with (permanent when 5xx, temporary when 4xx).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    /// The enhanced status code, `5.7.1`.
    pub enhanced: String,
    pub text: String,
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.code, self.enhanced, self.text)
    }
}

/// Who sends what to one recipient.
#[derive(Debug, Clone, Copy)]
pub struct Sending<'a> {
    /// The client's identity for greylisting: its IP address.
    pub client: &'a str,
    pub mail_from: &'a str,
    pub recipient: &'a str,
    /// The inbox the message would land in.
    pub inbox: &'a str,
    /// The provider API it came through (`sendgrid` …), `None` for SMTP.
    pub provider: Option<&'a str>,
    /// The message, once known (after DATA; at once for an API send). Rules with
    /// a `header` matcher match only then.
    pub message: Option<&'a [u8]>,
}

/// What to do with one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Accept as usual.
    Accept,
    /// Refuse with this reply (permanent or temporary by its code).
    Refuse(Reply),
    /// Accept, and hold each reply of the session from now on this long.
    Tarpit(Duration),
    /// Close the connection without a reply; nothing is stored.
    Disconnect,
    /// Accept, then carry out the effect once the message is stored.
    Effect(Effect),
}

/// When in an SMTP session a judgement is carried out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// At the RCPT command.
    Rcpt,
    /// After the message's data: it needs the message's headers, or acts on the
    /// message (reject `at = "data"`, disconnect, the effects).
    Data,
}

/// The rule that matched a recipient and what it decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Judgement {
    /// A simulator address or a rule's name.
    pub rule: String,
    /// The rule's action, as the rules file names it.
    pub action: &'static str,
    pub stage: Stage,
    pub verdict: Verdict,
}

impl Judgement {
    /// What to record in the envelope, given what the sender was answered.
    /// (The effects' lines are added once they are carried out.)
    pub fn outcome(&self, reply: String) -> SimulationOutcome {
        SimulationOutcome { rule: self.rule.clone(), action: self.action.to_string(), reply, effects: Vec::new() }
    }
}

/// An effect and the recipient whose rule or simulator address asked for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Triggered {
    pub recipient: String,
    pub effect: Effect,
}

/// The time greylisting measures retries by: `Instant::now` in the engine, a
/// fixed clock in tests.
pub type Clock = Box<dyn Fn() -> Instant + Send + Sync>;

/// The rules in force with the text they came from.
struct Loaded {
    text: String,
    bounce: SimulatedBounce,
    /// The user's rules, then the simulator addresses.
    rules: Vec<Rule>,
}

/// The engine's one simulation: the rules in force and the greylist memory.
pub struct Simulation {
    loaded: RwLock<Arc<Loaded>>,
    greylist: Mutex<Greylist>,
    clock: Clock,
}

/// A simulator address as the API lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimulatorEntry {
    pub address: String,
    pub effect: &'static str,
}

impl Simulation {
    /// A simulation under the rules in `text` (empty: the simulator addresses
    /// only); the error names the line.
    pub fn new(text: &str, clock: Clock) -> Result<Simulation, String> {
        Ok(Simulation { loaded: RwLock::new(Arc::new(load(text)?)), greylist: Mutex::new(Greylist::default()), clock })
    }

    /// The rules file's text in force.
    pub fn text(&self) -> String {
        self.current().text.clone()
    }

    /// Put the rules in `text` in force, or keep the old ones and say what is
    /// wrong with it.
    pub fn replace(&self, text: &str) -> Result<(), String> {
        let loaded = Arc::new(load(text)?);
        *self.loaded.write().unwrap_or_else(PoisonError::into_inner) = loaded;
        Ok(())
    }

    /// The simulator addresses under the rules in force, with what each does.
    pub fn simulator(&self) -> Vec<SimulatorEntry> {
        simulator::addresses(self.current().bounce)
            .into_iter()
            .map(|address| SimulatorEntry {
                address: format!("{}@{}", address.local, simulator::DOMAIN),
                effect: address.effect,
            })
            .collect()
    }

    /// Judge one recipient: the first rule that matches, or `None` (accept as
    /// usual). A `defer` rule with `retry_after` remembers this attempt.
    pub fn judge(&self, sending: &Sending<'_>) -> Option<Judgement> {
        let loaded = self.current();
        // Parsed only when a rule asks for a header: most judgements need none.
        let headers = OnceCell::new();
        let rule = loaded.rules.iter().find(|rule| matches(rule, sending, &headers))?;
        let stage = match &rule.action {
            _ if rule.header.is_some() => Stage::Data,
            Action::Accept | Action::Defer { .. } | Action::Tarpit { .. } | Action::Reject { at_data: false, .. } => {
                Stage::Rcpt
            }
            Action::Reject { at_data: true, .. } | Action::Disconnect | Action::Effect(_) => Stage::Data,
        };
        let verdict = match &rule.action {
            Action::Accept => Verdict::Accept,
            Action::Reject { reply, .. } => Verdict::Refuse(reply.clone()),
            Action::Defer { reply, retry_after: None } => Verdict::Refuse(reply.clone()),
            Action::Defer { reply, retry_after: Some(delay) } => {
                let triple = (sending.client, sending.mail_from, sending.recipient);
                let now = (self.clock)();
                let passes = self
                    .greylist
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .passes(triple, &rule.name, *delay, now);
                if passes { Verdict::Accept } else { Verdict::Refuse(reply.clone()) }
            }
            Action::Tarpit { delay } => Verdict::Tarpit(*delay),
            Action::Disconnect => Verdict::Disconnect,
            Action::Effect(effect) => Verdict::Effect(effect.clone()),
        };
        Some(Judgement { rule: rule.name.clone(), action: rule.action.name(), stage, verdict })
    }

    fn current(&self) -> Arc<Loaded> {
        self.loaded.read().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

fn load(text: &str) -> Result<Loaded, String> {
    let RuleSet { mut rules, bounce } = rules::parse(text)?;
    rules.extend(simulator::rules(bounce));
    Ok(Loaded { text: text.to_string(), bounce, rules })
}

/// Whether every matcher of `rule` matches; a `header` matcher never matches
/// before the message is known.
fn matches(rule: &Rule, sending: &Sending<'_>, headers: &OnceCell<Vec<(String, String)>>) -> bool {
    let matched = |pattern: &Option<rules::Pattern>, value: &str| pattern.as_ref().is_none_or(|p| p.matches(value));
    matched(&rule.recipient, sending.recipient)
        && matched(&rule.sender, sending.mail_from)
        && matched(&rule.inbox, sending.inbox)
        && rule
            .provider
            .as_ref()
            .is_none_or(|provider| sending.provider.is_some_and(|p| p.eq_ignore_ascii_case(provider)))
        && rule.header.as_ref().is_none_or(|wanted| {
            sending.message.is_some_and(|message| {
                headers
                    .get_or_init(|| header_values(message))
                    .iter()
                    .any(|(name, value)| name.eq_ignore_ascii_case(&wanted.name) && wanted.value.matches(value))
            })
        })
}

/// Every header of `message` by name, with its value as written.
fn header_values(message: &[u8]) -> Vec<(String, String)> {
    let Some(parsed) = MessageParser::new().parse_headers(message) else { return Vec::new() };
    parsed
        .headers()
        .iter()
        .map(|header| (header.name.as_str().to_string(), header_raw_value(message, header)))
        .collect()
}

#[cfg(test)]
mod tests;
