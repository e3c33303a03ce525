//! About the server: `GET /api/v1/info` (Mailpit's `AppInformation`),
//! `GET /api/v1/webui` (Mailpit's `WebUIConfiguration`), `GET /livez` and `GET /readyz`.
//!
//! Mailpit's clients compare these objects key for key, so the structs below keep
//! Mailpit's key sets and order exactly, including the deprecated
//! `MessageRelay.RecipientAllowlist` that Mailpit still sends.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::Ordering;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;

use super::error::ApiError;
use super::messages::visible_stats;
use super::{ApiState, read};
use crate::config::RelayConfig;
use crate::model::Access;

/// `/api/v1/info` (Mailpit's `AppInformation`).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "PascalCase")]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct AppInformation {
    version: &'static str,
    /// Mailpit asks GitHub; we never phone home.
    latest_version: &'static str,
    database: String,
    /// The database file plus its write-ahead log, in bytes.
    database_size: u64,
    messages: u64,
    unread: u64,
    /// Tag → number of messages with it.
    tags: BTreeMap<String, u64>,
    runtime_stats: RuntimeStats,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "PascalCase")]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct RuntimeStats {
    /// Seconds since the API state was made (at engine start).
    uptime: u64,
    /// Resident set size in bytes (Linux; 0 elsewhere).
    memory: u64,
    messages_deleted: u64,
    #[serde(rename = "SMTPAccepted")]
    smtp_accepted: u64,
    #[serde(rename = "SMTPAcceptedSize")]
    smtp_accepted_size: u64,
    #[serde(rename = "SMTPRejected")]
    smtp_rejected: u64,
    #[serde(rename = "SMTPIgnored")]
    smtp_ignored: u64,
}

/// Counts, database and runtime statistics.
#[utoipa::path(
    get,
    path = "/api/v1/info",
    tag = "server",
    responses((status = 200, description = "About the server", body = AppInformation))
)]
pub async fn info(State(state): State<ApiState>, access: Access) -> Result<Json<AppInformation>, ApiError> {
    let uptime = state.started.elapsed().as_secs();
    let smtp = state.smtp.clone();
    let info = read(&state, move |store| {
        // Messages and tags as the principal sees them; the server's own
        // counters (SMTP, deletes, memory) as they are.
        let stats = visible_stats(store, &access)?;
        let path = store.database_path();
        Ok(AppInformation {
            version: env!("CARGO_PKG_VERSION"),
            latest_version: "",
            database: path.display().to_string(),
            database_size: database_size(path),
            messages: stats.total,
            unread: stats.unread,
            tags: store.tag_counts(&access)?,
            runtime_stats: RuntimeStats {
                uptime,
                memory: resident_memory(),
                messages_deleted: store.messages_deleted(),
                smtp_accepted: smtp.accepted.load(Ordering::Relaxed),
                smtp_accepted_size: smtp.accepted_bytes.load(Ordering::Relaxed),
                smtp_rejected: smtp.rejected.load(Ordering::Relaxed),
                // Mailpit counts messages it drops as duplicates; we keep every one.
                smtp_ignored: 0,
            },
        })
    })
    .await?;
    Ok(Json(info))
}

/// Ours: the data folder and whether its disk is full (then SMTP answers
/// `452 4.3.1` until space is freed); the `disk` event reports changes.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "PascalCase")]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct StorageView {
    /// The data folder (where `pigeonhole.db` is).
    data_dir: String,
    /// A write failed for want of space, and no space was freed since.
    disk_full: bool,
}

/// Where mail is stored, and whether its disk is full.
#[utoipa::path(
    get,
    path = "/api/v1/storage",
    tag = "server",
    responses((status = 200, description = "The data folder and its disk", body = StorageView))
)]
pub async fn storage(State(state): State<ApiState>) -> Json<StorageView> {
    Json(StorageView { data_dir: state.store.data_dir().display().to_string(), disk_full: state.store.disk_full() })
}

/// Bytes of the database file and its `-wal` file (either may be missing).
fn database_size(path: &Path) -> u64 {
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    [path, Path::new(&wal)].iter().filter_map(|p| std::fs::metadata(p).ok()).map(|m| m.len()).sum()
}

/// The process's resident set size in bytes: `VmRSS` of `/proc/self/status` (the
/// resident pages of `/proc/self/statm`, in kB, without needing the page size).
/// 0 where there is no `/proc`.
fn resident_memory() -> u64 {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return 0;
    };
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().strip_suffix("kB"))
        .and_then(|kb| kb.trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// `/api/v1/webui` (Mailpit's `WebUIConfiguration`): what the UI may offer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "PascalCase")]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct WebUiConfiguration {
    label: &'static str,
    message_relay: MessageRelay,
    spam_assassin: bool,
    chaos_enabled: bool,
    duplicates_ignored: bool,
    hide_delete_all_button: bool,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "PascalCase")]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct MessageRelay {
    enabled: bool,
    /// `host:port`.
    #[serde(rename = "SMTPServer")]
    smtp_server: String,
    return_path: String,
    /// Patterns (regular expressions); empty when not set.
    allowed_recipients: String,
    blocked_recipients: String,
    override_from: String,
    #[serde(rename = "PreserveMessageIDs")]
    preserve_message_ids: bool,
    /// Mailpit's deprecated name for `AllowedRecipients`, still sent by it.
    recipient_allowlist: String,
}

impl MessageRelay {
    /// The release settings (`serve --smtp-relay-…`); all empty when release is off.
    fn from_config(relay: Option<&RelayConfig>) -> MessageRelay {
        let Some(relay) = relay else {
            return MessageRelay {
                enabled: false,
                smtp_server: String::new(),
                return_path: String::new(),
                allowed_recipients: String::new(),
                blocked_recipients: String::new(),
                override_from: String::new(),
                preserve_message_ids: false,
                recipient_allowlist: String::new(),
            };
        };
        let pattern = |regex: &Option<regex::Regex>| regex.as_ref().map(|r| r.as_str().to_string()).unwrap_or_default();
        MessageRelay {
            enabled: true,
            smtp_server: format!("{}:{}", relay.host, relay.port),
            return_path: relay.return_path.clone().unwrap_or_default(),
            allowed_recipients: pattern(&relay.allowed_recipients),
            blocked_recipients: pattern(&relay.blocked_recipients),
            override_from: relay.override_from.clone().unwrap_or_default(),
            preserve_message_ids: relay.preserve_message_ids,
            recipient_allowlist: pattern(&relay.allowed_recipients),
        }
    }
}

/// What the web UI may offer: release, chaos and SpamAssassin as configured.
#[utoipa::path(
    get,
    path = "/api/v1/webui",
    tag = "server",
    responses((status = 200, description = "What the web UI may offer", body = WebUiConfiguration))
)]
pub async fn webui(State(state): State<ApiState>) -> Json<WebUiConfiguration> {
    Json(WebUiConfiguration {
        label: "",
        message_relay: MessageRelay::from_config(state.relay.as_deref()),
        spam_assassin: state.spamassassin.is_some(),
        chaos_enabled: state.chaos.is_enabled(),
        duplicates_ignored: false,
        hide_delete_all_button: false,
    })
}

/// Liveness, for health checks: `ok` while the server answers; never asks for auth.
#[utoipa::path(
    get,
    path = "/livez",
    tag = "server",
    responses((status = 200, description = "Alive", body = String, content_type = "text/plain", example = "ok"))
)]
pub async fn livez() -> &'static str {
    "ok"
}

/// Readiness, for health checks (`pigeonhole readyz`, a container's probe): `ok`
/// while the engine takes mail. The HTTP server answers only once the store is
/// open and both listeners are bound, so what is left to refuse is a full disk
/// (SMTP answers 452: a probe should send traffic elsewhere), a PostgreSQL store
/// whose database is unreachable (SMTP answers 451) and shutdown. Like
/// `/livez`, never asks for auth.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "server",
    responses(
        (status = 200, description = "Ready", body = String, content_type = "text/plain", example = "ok"),
        (status = 503, description = "Not ready: the reason", body = String, content_type = "text/plain",
            example = "not ready: the data folder's disk is full"),
    )
)]
pub async fn readyz(State(state): State<ApiState>) -> (StatusCode, &'static str) {
    if *state.streams.closing().borrow() {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready: shutting down")
    } else if !state.store.ready() {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready: the PostgreSQL database is unreachable")
    } else if state.store.disk_full() {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready: the data folder's disk is full")
    } else {
        (StatusCode::OK, "ok")
    }
}

#[cfg(test)]
mod tests {
    use super::resident_memory;

    #[test]
    fn memory_is_read_on_linux() {
        if cfg!(target_os = "linux") {
            assert!(resident_memory() > 0);
        }
    }
}
