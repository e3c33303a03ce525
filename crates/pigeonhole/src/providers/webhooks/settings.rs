//! Where each provider's events go, the message webhooks (each new message's
//! summary, to every URL whose filter it passes), how deliveries are retried,
//! and the signing keys: `<data folder>/webhooks.json`, read at start and rewritten whole (a temp
//! file renamed over it, owner-only: it holds the keys) on every change.
//!
//! `GET /api/v1/webhooks` shows [`WebhooksView`]: the settings without private keys,
//! each provider with the key its app verifies with ([`Webhook::verification_key`]).

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Write};
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::keys::Keys;
use super::sns::Subscription;
use crate::providers::webhooks::Provider;

/// The file, as kept.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(super) struct Settings {
    pub webhooks: Vec<Webhook>,
    /// Those from the settings and the API; `--webhook-url`'s are not kept here.
    pub message_webhooks: Vec<MessageWebhook>,
    pub retries: Retries,
    pub keys: Keys,
    /// SNS's subscription of the SES endpoint, once one was made.
    pub sns_subscription: Option<Subscription>,
}

/// One provider's endpoint, and (in the API's view) the key its app verifies
/// deliveries with.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "PascalCase")]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Webhook {
    /// `sendgrid`, `postmark`, `mailgun`, `ses` or `resend`.
    pub provider: String,
    /// Where its events are POSTed (http or https; user:password@ sends basic auth,
    /// as Postmark's webhooks do).
    #[serde(rename = "URL")]
    pub url: String,
    pub enabled: bool,
    /// Extra headers sent with each delivery (Postmark's custom webhook headers).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// What the app checks signatures with: SendGrid's public key (base64 DER),
    /// Mailgun's signing key, Resend's `whsec_` secret, the URL of SNS's signing
    /// certificate; `null` for Postmark, which does not sign. A PUT may set
    /// Mailgun's and Resend's (to match an app's existing configuration). Always
    /// `null` in `webhooks.json`, whose `Keys` hold them.
    #[serde(default)]
    pub verification_key: Option<String>,
    /// SES only, in the API's view: whether the endpoint confirmed SNS's
    /// subscription (visited the `SubscribeURL` of the `SubscriptionConfirmation`
    /// posted to it); SNS posts it no events until then. Ignored in a PUT.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional))]
    pub subscription_confirmed: Option<bool>,
}

/// Where new messages are posted: each message that passes the filter (an inbox,
/// a search) goes as its summary, Mailpit's webhook JSON, signed per Standard
/// Webhooks with the message signing secret.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "PascalCase")]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct MessageWebhook {
    /// Names it in the delivery log (`Webhook`); made when a PUT leaves it empty.
    #[serde(rename = "ID", default)]
    pub id: String,
    /// Where messages are POSTed (http or https).
    #[serde(rename = "URL")]
    pub url: String,
    pub enabled: bool,
    /// Only messages in this inbox; empty: every inbox.
    #[serde(default)]
    pub inbox: String,
    /// Only messages matching this search (Mailpit's syntax); empty: all.
    #[serde(default)]
    pub query: String,
    /// Extra headers sent with each delivery.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Given by `--webhook-url`: on while the server runs, neither saved nor
    /// changed by a PUT.
    #[serde(default)]
    pub command_line: bool,
}

impl MessageWebhook {
    /// The search a message must match: the query, within the inbox if one is
    /// set; `None` when every message goes.
    pub fn filter(&self) -> Option<String> {
        match (self.inbox.trim(), self.query.trim()) {
            ("", "") => None,
            ("", query) => Some(query.to_string()),
            // The search's tokenizer drops quotes: an inbox name keeps its spaces.
            (inbox, query) => Some(format!("inbox:\"{}\" {query}", inbox.replace('"', ""))),
        }
    }
}

/// How a failed delivery is tried again: after `FirstDelayMillis`, then twice as
/// long each time, until `Attempts` tries in all; each try waits `TimeoutMillis`
/// for an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "PascalCase")]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Retries {
    pub attempts: u32,
    pub first_delay_millis: u64,
    pub timeout_millis: u64,
}

impl Default for Retries {
    fn default() -> Retries {
        Retries { attempts: 5, first_delay_millis: 1000, timeout_millis: 10_000 }
    }
}

impl Retries {
    /// The wait before try number `attempt + 1` (after `attempt` failed ones).
    pub fn delay_after(&self, attempt: u32) -> Duration {
        let factor = 1u64 << attempt.saturating_sub(1).min(20);
        Duration::from_millis(self.first_delay_millis.saturating_mul(factor))
    }

    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_millis)
    }
}

/// `GET/PUT /api/v1/webhooks`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "PascalCase")]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct WebhooksView {
    /// One entry per provider, in a fixed order (a PUT may list fewer: the rest
    /// are left as they are).
    pub webhooks: Vec<Webhook>,
    #[serde(default)]
    pub retries: Option<Retries>,
    /// The message webhooks, `--webhook-url`'s first. A PUT that lists them
    /// replaces the saved ones (entries marked `CommandLine` are skipped); one
    /// that leaves them out keeps them.
    #[serde(default)]
    pub message_webhooks: Option<Vec<MessageWebhook>>,
    /// The `whsec_` secret message webhooks are signed with; shown, never set.
    #[serde(default)]
    pub message_signing_secret: Option<String>,
    /// At most this many message webhook deliveries start per second
    /// (`--webhook-limit`; 0: no limit); shown, never set.
    #[serde(default)]
    pub message_limit: Option<u32>,
}

impl Settings {
    /// The settings in `path`, or the defaults when it does not exist.
    pub fn load(path: &Path) -> Result<Settings, String> {
        match fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| format!("{}: {e}", path.display())),
            Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(Settings::default()),
            Err(err) => Err(format!("{}: {err}", path.display())),
        }
    }

    /// Replace `path` with these settings: a temporary file beside it, renamed over
    /// it, so a crash leaves the old file or the new one, never half of one.
    pub fn save(&self, path: &Path) -> io::Result<()> {
        let json = serde_json::to_vec_pretty(self).map_err(io::Error::other)?;
        let temp = path.with_extension("json.tmp");
        let mut options = fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&temp)?;
        file.write_all(&json)?;
        file.sync_all()?;
        fs::rename(&temp, path)
    }

    /// The endpoint set for `provider`, if enabled.
    pub fn endpoint(&self, provider: Provider) -> Option<&Webhook> {
        self.webhooks.iter().find(|w| w.provider == provider.name() && w.enabled && !w.url.is_empty())
    }
}
