//! Mailpit's SMTP chaos triggers as values: which step fails, with which code, how
//! often. The listener's sessions draw against them; `/api/v1/chaos` and
//! `serve --chaos-triggers` set them.

use serde::Serialize;

/// Mailpit's `ChaosTriggers`: which SMTP step fails, with which code, how often.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "PascalCase")]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct ChaosTriggers {
    /// Fails MAIL FROM.
    pub sender: ChaosTrigger,
    /// Fails RCPT TO.
    pub recipient: ChaosTrigger,
    /// Fails AUTH.
    pub authentication: ChaosTrigger,
}

/// One trigger: answer `ErrorCode` (400–599), with a `Probability` percent chance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "PascalCase")]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct ChaosTrigger {
    #[schema(minimum = 400, maximum = 599)]
    pub error_code: u16,
    #[schema(maximum = 100)]
    pub probability: u8,
}

impl ChaosTrigger {
    /// A trigger, checked as Mailpit checks it (and refused in its words).
    pub fn new(error_code: i64, probability: i64) -> Result<ChaosTrigger, &'static str> {
        if !(400..=599).contains(&error_code) {
            return Err("error code must be between 400 and 599");
        }
        if !(0..=100).contains(&probability) {
            return Err("probability must be between 0 and 100");
        }
        Ok(ChaosTrigger { error_code: error_code as u16, probability: probability as u8 })
    }

    /// Whether the trigger fires for `draw`, a random number in 0..100.
    pub fn fires(self, draw: u8) -> bool {
        draw < self.probability
    }
}

impl ChaosTriggers {
    /// Mailpit's `--chaos-triggers` syntax: `<trigger>:<code>:<probability>`, comma
    /// separated (`Sender:451:50,Recipient:451:50`); triggers not named stay off.
    pub fn parse(spec: &str) -> Result<ChaosTriggers, String> {
        let mut triggers = ChaosTriggers::default();
        for item in spec.split(',').map(str::trim).filter(|item| !item.is_empty()) {
            let fields: Vec<&str> = item.split(':').collect();
            let [name, code, probability] = fields[..] else {
                return Err(format!("{item:?} is not <trigger>:<error-code>:<probability>, e.g. Sender:451:50"));
            };
            let number =
                |text: &str| text.trim().parse::<i64>().map_err(|_| format!("{text:?} in {item:?} is not a number"));
            let trigger =
                ChaosTrigger::new(number(code)?, number(probability)?).map_err(|err| format!("{item}: {err}"))?;
            match name.trim().to_ascii_lowercase().as_str() {
                "sender" => triggers.sender = trigger,
                "recipient" | "recipients" => triggers.recipient = trigger,
                "auth" | "authentication" => triggers.authentication = trigger,
                _ => return Err(format!("unknown trigger {name:?}: use Sender, Recipient or Authentication")),
            }
        }
        Ok(triggers)
    }
}

impl Default for ChaosTriggers {
    /// Mailpit's defaults: every trigger off, with the codes it uses when none is given.
    fn default() -> Self {
        ChaosTriggers {
            sender: ChaosTrigger { error_code: 451, probability: 0 },
            recipient: ChaosTrigger { error_code: 451, probability: 0 },
            authentication: ChaosTrigger { error_code: 535, probability: 0 },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chaos_triggers_in_mailpits_flag_syntax() {
        let triggers = ChaosTriggers::parse("Sender:452:50,recipients:550:100").unwrap();
        assert_eq!(triggers.sender, ChaosTrigger { error_code: 452, probability: 50 });
        assert_eq!(triggers.recipient, ChaosTrigger { error_code: 550, probability: 100 });
        assert_eq!(triggers.authentication, ChaosTriggers::default().authentication);
        assert!(ChaosTriggers::parse("Sender:451").unwrap_err().contains("<trigger>:<error-code>:<probability>"));
        assert!(ChaosTriggers::parse("Sender:200:5").unwrap_err().contains("error code must be between 400 and 599"));
        assert!(ChaosTriggers::parse("Sender:451:101").unwrap_err().contains("probability must be between 0 and 100"));
        assert!(ChaosTriggers::parse("Helo:451:5").unwrap_err().contains("use Sender, Recipient or Authentication"));
    }
}
