//! The built-in simulator addresses under `simulator.test` (RFC 2606 reserves
//! `.test`), active with no configuration, like Amazon SES's mailbox simulator.
//! Each is an ordinary [`Rule`] judged after the user's rules; `+tags` match
//! too (`bounce+signup@simulator.test`).

use std::time::Duration;

use super::rules::{Action, Pattern, Rule, SimulatedBounce};
use super::{Effect, Reply};

/// The domain of the simulator addresses.
pub const DOMAIN: &str = "simulator.test";

/// The auto-reply's text when a rule gives none.
pub const OUT_OF_OFFICE: &str = "I am out of the office and will read your message when I am back.";

/// How long `greylist@` wants a client to wait before its retry.
const GREYLIST_RETRY: Duration = Duration::from_secs(1);

/// How long `slow@` holds each reply.
const SLOW_DELAY: Duration = Duration::from_secs(1);

/// One simulator address and what it does, for the API and the README.
pub struct SimulatorAddress {
    pub local: &'static str,
    pub action: Action,
    /// What it does, in a sentence.
    pub effect: &'static str,
}

/// The simulator addresses under the given `[simulator]` settings.
pub fn addresses(bounce: SimulatedBounce) -> Vec<SimulatorAddress> {
    let (bounce_action, bounce_effect) = match bounce {
        SimulatedBounce::Dsn => (
            Action::Effect(Effect::Bounce {
                status: "5.1.1".to_string(),
                diagnostic: "Recipient address rejected: user unknown".to_string(),
            }),
            "accepted, then a hard bounce: an RFC 3464 DSN (5.1.1) to the envelope sender",
        ),
        SimulatedBounce::RejectAtRcpt => (
            Action::Reject { reply: reply(550, "5.1.1", "Recipient address rejected: user unknown"), at_data: false },
            "refused at RCPT: 550 5.1.1 user unknown",
        ),
    };
    vec![
        SimulatorAddress { local: "bounce", action: bounce_action, effect: bounce_effect },
        SimulatorAddress {
            local: "complaint",
            action: Action::Effect(Effect::Complaint { feedback_type: "abuse".to_string() }),
            effect: "accepted, then a complaint: an RFC 5965 ARF report (abuse) to the envelope sender",
        },
        SimulatorAddress {
            local: "greylist",
            action: Action::Defer {
                reply: reply(451, "4.7.1", "Greylisted, try again in 1 second"),
                retry_after: Some(GREYLIST_RETRY),
            },
            effect: "451 4.7.1 on the first try; accepted on a retry 1 s later from the same client",
        },
        SimulatorAddress {
            local: "ooto",
            action: Action::Effect(Effect::AutoReply { body: OUT_OF_OFFICE.to_string() }),
            effect: "accepted, then an out-of-office auto-reply (RFC 3834) to the envelope sender",
        },
        SimulatorAddress {
            local: "suppressed",
            action: Action::Reject {
                reply: reply(550, "5.7.1", "Recipient address is on the suppression list"),
                at_data: false,
            },
            effect: "refused at RCPT: 550 5.7.1, as a suppression list would",
        },
        SimulatorAddress {
            local: "slow",
            action: Action::Tarpit { delay: SLOW_DELAY },
            effect: "accepted, each reply from RCPT on delayed by 1 s (tarpit)",
        },
    ]
}

/// The simulator addresses as rules, named by their address.
pub fn rules(bounce: SimulatedBounce) -> Vec<Rule> {
    addresses(bounce)
        .into_iter()
        .map(|address| Rule {
            name: format!("{}@{DOMAIN}", address.local),
            recipient: Some(
                Pattern::parse(&format!("re:(?i)^{}(\\+[^@]*)?@simulator\\.test$", address.local))
                    .expect("the simulator's patterns are valid"),
            ),
            sender: None,
            inbox: None,
            header: None,
            provider: None,
            action: address.action,
        })
        .collect()
}

fn reply(code: u16, enhanced: &str, text: &str) -> Reply {
    Reply { code, enhanced: enhanced.to_string(), text: text.to_string() }
}
