//! Carrying out what delivery simulation decided to do after a message was
//! accepted: a bounce, a complaint or an auto-reply is built ([`super::reports`])
//! and stored beside the original (same inbox, to its envelope sender), a forward
//! goes out through the user's relay (`smtp::relay`).
//!
//! Whoever commits a message (the SMTP listener, a provider API) hands it and its
//! effects to an [`EffectsHandle`] once the commit is done; the handle only queues
//! them (a bounded channel, never waiting), so the reply to the sender is never
//! held up by a report or a relay. One task works through the queue. What each
//! effect came to is logged, added to the original's simulation outcome (the
//! message view's lines: "a DSN to … in inbox …", "forward … failed: …"), and
//! passed to the [`Observer`] (provider webhooks: bounced, complained …).

use std::sync::Arc;

use time::OffsetDateTime;
use tokio::sync::mpsc;

use super::reports::{self, Failure, NoReport, Original, Report, Reporter};
use super::{Effect, Triggered};
use crate::config::RelayConfig;
use crate::model::{DEFAULT_INBOX, Envelope, MessageId, NewMessage, SimulationOutcome};
use crate::smtp::relay::Outgoing;
use crate::store::Store;

/// How many committed messages may wait for their effects; past it, effects
/// are dropped (and logged) rather than slowing ingest.
const QUEUE: usize = 1024;
/// The HELO and peer of the reports this module stores.
const REPORTER_NAME: &str = "pigeonhole-simulation";

/// A message as it was committed, with what simulation decided for it.
#[derive(Debug, Clone)]
pub struct Committed {
    pub id: MessageId,
    pub raw: Arc<[u8]>,
    pub envelope: Envelope,
    pub received_at: OffsetDateTime,
}

/// What one effect came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The message the effect was about.
    pub original: MessageId,
    pub triggered: Triggered,
    /// The report stored for it (a DSN, an ARF report, an auto-reply).
    pub report: Option<MessageId>,
    /// Whether it was carried out (false: skipped by the rules, or failed).
    pub done: bool,
    /// One line saying what happened, for the log and the message view.
    pub line: String,
}

/// Told of every effect once carried out (or not), with the message it was about
/// (whose `envelope.api` says whether a provider API took it): provider webhooks
/// turn these into the provider's events. Called on the effects task: it must not
/// block.
pub type Observer = Arc<dyn Fn(&Committed, &Outcome) + Send + Sync>;

/// Runs effects: what they need, and whom to tell.
pub struct Effects {
    pub store: Store,
    /// The relay `forward` uses (`--smtp-relay-host`); `None`: forwards are skipped.
    pub relay: Option<Arc<RelayConfig>>,
    /// The host name reports are written as (the SMTP greeting's).
    pub hostname: String,
    pub observer: Option<Observer>,
}

/// Where committed messages with effects are handed over. Cheap to clone.
#[derive(Clone)]
pub struct EffectsHandle {
    jobs: mpsc::Sender<(Committed, Vec<Triggered>)>,
}

/// The queue is full (or the effects task stopped): the effects were dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dropped;

impl Effects {
    /// Start the task that carries out effects; it ends when every handle is gone.
    pub fn spawn(self) -> EffectsHandle {
        let (jobs, mut queue) = mpsc::channel::<(Committed, Vec<Triggered>)>(QUEUE);
        tokio::spawn(async move {
            while let Some((committed, triggered)) = queue.recv().await {
                let outcomes = self.carry_out(&committed, triggered).await;
                let mut lines = Vec::new();
                for outcome in &outcomes {
                    if outcome.done {
                        tracing::info!(message = %outcome.original, "simulation: {}", outcome.line);
                    } else {
                        tracing::warn!(message = %outcome.original, "simulation: {}", outcome.line);
                    }
                    // A DSN for two recipients is one line.
                    if !lines.contains(&outcome.line) {
                        lines.push(outcome.line.clone());
                    }
                }
                if let Err(err) = self.store.record_effects(committed.id.clone(), lines).await {
                    tracing::warn!(message = %committed.id, "simulation: effects not recorded: {err}");
                }
                if let Some(observer) = &self.observer {
                    outcomes.iter().for_each(|outcome| observer(&committed, outcome));
                }
            }
        });
        EffectsHandle { jobs }
    }

    /// Every effect of one message: its bounces as one DSN (as a mail system
    /// reports all the recipients of a message that failed together), its
    /// forwards as one relay transaction, each complaint and auto-reply alone.
    async fn carry_out(&self, committed: &Committed, triggered: Vec<Triggered>) -> Vec<Outcome> {
        let reporter = Reporter { hostname: self.hostname.clone(), now: OffsetDateTime::now_utc() };
        let original =
            Original { raw: &committed.raw, envelope: &committed.envelope, received_at: committed.received_at };
        let (mut bounces, mut failures, mut forwards, mut outcomes) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for trigger in triggered {
            let recipient = trigger.recipient.as_str();
            match &trigger.effect {
                Effect::Bounce { status, diagnostic } => {
                    failures.push(Failure {
                        recipient: recipient.into(),
                        status: status.clone(),
                        diagnostic: diagnostic.clone(),
                    });
                    bounces.push(trigger);
                }
                Effect::Complaint { feedback_type } => {
                    let report = reports::arf(&original, &reporter, recipient, feedback_type);
                    outcomes.extend(
                        self.store_report(committed, vec![trigger], "complaint", "an ARF report", report).await,
                    );
                }
                Effect::AutoReply { body } => {
                    let report = reports::auto_reply(&original, &reporter, recipient, body);
                    outcomes.extend(
                        self.store_report(committed, vec![trigger], "auto-reply", "an auto-reply", report).await,
                    );
                }
                Effect::Forward => forwards.push(trigger),
            }
        }
        if !bounces.is_empty() {
            let report = reports::dsn(&original, &reporter, &failures);
            outcomes.extend(self.store_report(committed, bounces, "bounce", "a DSN", report).await);
        }
        if !forwards.is_empty() {
            outcomes.extend(self.forward(committed, forwards).await);
        }
        outcomes
    }

    /// Store `report` in the original's inbox; one outcome per trigger it covers.
    async fn store_report(
        &self,
        committed: &Committed,
        triggered: Vec<Triggered>,
        action: &str,
        what: &str,
        report: Result<Report, NoReport>,
    ) -> Vec<Outcome> {
        let inbox = committed.envelope.auth_user.as_deref().unwrap_or(DEFAULT_INBOX);
        let (report, done, line) = match report {
            Err(NoReport(why)) => (None, false, why),
            Ok(report) => {
                let to = report.rcpt_to.clone();
                let message = NewMessage {
                    raw: report.raw,
                    envelope: Envelope {
                        mail_from: report.mail_from,
                        rcpt_to: vec![report.rcpt_to],
                        helo: REPORTER_NAME.into(),
                        peer: REPORTER_NAME.into(),
                        auth_user: committed.envelope.auth_user.clone(),
                        simulation: Some(SimulationOutcome {
                            rule: committed.envelope.simulation.as_ref().map_or_else(String::new, |o| o.rule.clone()),
                            action: action.into(),
                            reply: String::new(),
                            effects: vec![format!("{what} about message {}", committed.id)],
                        }),
                        ..Envelope::default()
                    },
                    received_at: OffsetDateTime::now_utc(),
                };
                match self.store.submit(message).await {
                    Ok(id) => (Some(id.clone()), true, format!("{what} to {to} in inbox {inbox} (message {id})")),
                    Err(err) => (None, false, format!("{what} to {to} could not be stored: {err}")),
                }
            }
        };
        triggered
            .into_iter()
            .map(|triggered| Outcome {
                original: committed.id.clone(),
                triggered,
                report: report.clone(),
                done,
                line: line.clone(),
            })
            .collect()
    }

    /// Send the original on through the relay to the recipients that asked for it.
    async fn forward(&self, committed: &Committed, triggered: Vec<Triggered>) -> Vec<Outcome> {
        let recipients: Vec<String> = triggered.iter().map(|trigger| trigger.recipient.clone()).collect();
        let (done, line) = match self.relay.clone() {
            None => (false, "no forward: no relay is configured (--smtp-relay-host)".to_string()),
            Some(relay) => {
                let server = format!("{}:{}", relay.host, relay.port);
                let raw = committed.raw.clone();
                let sent = tokio::task::spawn_blocking(move || {
                    Outgoing::prepare(&relay, &raw, &recipients)?.send(&relay)?;
                    Ok::<_, String>(recipients)
                })
                .await
                .unwrap_or_else(|err| Err(err.to_string()));
                match sent {
                    Ok(to) => (true, format!("forwarded through relay {server} to {}", to.join(", "))),
                    Err(err) => (false, format!("forward through relay {server} failed: {err}")),
                }
            }
        };
        triggered
            .into_iter()
            .map(|triggered| Outcome {
                original: committed.id.clone(),
                triggered,
                report: None,
                done,
                line: line.clone(),
            })
            .collect()
    }
}

impl EffectsHandle {
    /// Queue `triggered` for the committed message; never waits. Nothing to do
    /// queues nothing.
    pub fn after_commit(&self, committed: Committed, triggered: Vec<Triggered>) -> Result<(), Dropped> {
        if triggered.is_empty() {
            return Ok(());
        }
        let id = committed.id.clone();
        self.jobs.try_send((committed, triggered)).map_err(|_| {
            tracing::warn!(message = %id, "simulation: effects dropped, their queue is full");
            Dropped
        })
    }
}

#[cfg(test)]
mod tests;
