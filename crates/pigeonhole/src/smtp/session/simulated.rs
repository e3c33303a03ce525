//! The delivery simulation's verdicts in the session ([`crate::simulation`]):
//! each recipient is judged alone at RCPT (refused, deferred, tarpitted or
//! accepted), and again after DATA, once the headers are known (the message
//! refused, the connection dropped, or the message accepted with effects for
//! after it is stored). With no rule matching, nothing here changes a byte of
//! the session.

use std::net::SocketAddr;

use super::{Action, Session, State};
use crate::metrics::Rejection;
use crate::model::{DEFAULT_INBOX, SimulationOutcome};
use crate::simulation::{Judgement, Reply, Sending, Stage, Triggered, Verdict};

/// The reply recorded for a message accepted with effects: the queue ID comes
/// only with the commit, after the envelope is written.
const ACCEPTED: &str = "250 2.0.0 Ok: queued";

impl Session {
    /// Judge `recipient` at RCPT: `false` when a rule refused it (the reply is
    /// in the output).
    pub(super) fn recipient_admitted(&mut self, recipient: &str) -> bool {
        let Some(judgement) = self.judge(recipient, None).filter(|judged| judged.stage == Stage::Rcpt) else {
            return true;
        };
        match &judgement.verdict {
            Verdict::Refuse(reply) => {
                self.reply_simulated(reply);
                return false;
            }
            Verdict::Tarpit(delay) => {
                self.reply_delay = Some(*delay);
                let held = format!("each reply held {} ms from RCPT on", delay.as_millis());
                self.simulated.get_or_insert_with(|| judgement.outcome(held));
            }
            Verdict::Accept => {
                self.simulated.get_or_insert_with(|| judgement.outcome("250 2.1.5 Recipient ok".to_string()));
            }
            // Judged at the RCPT stage, a rule has none of these.
            Verdict::Disconnect | Verdict::Effect(_) => {}
        }
        true
    }

    /// Judge the complete message for each recipient. `Ok`: store it, with the
    /// outcome to record and the effects to carry out after; `Err`: the
    /// simulation refused it (its reply is in the output) or closes the
    /// connection.
    pub(super) fn judge_message(&mut self) -> Result<(Option<SimulationOutcome>, Vec<Triggered>), Option<Action>> {
        let judged: Vec<(String, Judgement)> = self
            .rcpt_to
            .iter()
            .filter_map(|recipient| {
                let judgement = self.judge(recipient, Some(&self.body))?;
                (judgement.stage == Stage::Data).then(|| (recipient.clone(), judgement))
            })
            .collect();
        if judged.iter().any(|(_, judgement)| judgement.verdict == Verdict::Disconnect) {
            self.rejected(Rejection::Simulation);
            self.body = Vec::new();
            return Err(Some(self.close()));
        }
        if let Some(reply) = judged.iter().find_map(|(_, judgement)| match &judgement.verdict {
            Verdict::Refuse(reply) => Some(reply.clone()),
            _ => None,
        }) {
            self.state = State::Command;
            self.reply_simulated(&reply);
            self.reset_transaction();
            return Err(None);
        }
        let mut effects = Vec::new();
        for (recipient, judgement) in &judged {
            match &judgement.verdict {
                Verdict::Effect(effect) => {
                    effects.push(Triggered { recipient: recipient.clone(), effect: effect.clone() })
                }
                Verdict::Tarpit(delay) => self.reply_delay = Some(*delay),
                Verdict::Accept | Verdict::Refuse(_) | Verdict::Disconnect => {}
            }
        }
        // The effects add their lines once carried out, after the commit.
        let outcome = match judged.first() {
            Some((_, judgement)) => Some(judgement.outcome(ACCEPTED.to_string())),
            None => self.simulated.take(),
        };
        Ok((outcome, effects))
    }

    /// The first rule that matches `recipient` of this transaction.
    fn judge(&self, recipient: &str, message: Option<&[u8]>) -> Option<Judgement> {
        let simulation = self.simulation.as_ref()?;
        // Greylisting knows a client by its address, whatever port it retries from.
        let client = self.peer.parse::<SocketAddr>().map(|peer| peer.ip().to_string()).unwrap_or(self.peer.clone());
        simulation.judge(&Sending {
            client: &client,
            mail_from: self.mail_from.as_deref().unwrap_or_default(),
            recipient,
            inbox: self.auth_user.as_deref().filter(|user| !user.is_empty()).unwrap_or(DEFAULT_INBOX),
            provider: None,
            message,
        })
    }

    fn reply_simulated(&mut self, reply: &Reply) {
        self.reply_plain(reply.code, &format!("{} {}", reply.enhanced, reply.text));
        self.rejected(Rejection::Simulation);
    }
}
