//! `GET`/`PUT /api/v1/rules`: the delivery simulation's rules file (ours; see
//! [`crate::simulation`]). PUT puts a new text in force only when all of it is
//! valid, then saves it to the rules file (a temporary file renamed over it, so
//! a crash leaves the old file or the new one, never half of one).

use std::fs;
use std::io::{self, Write};
use std::path::Path;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use serde::Serialize;

use super::ApiState;
use super::auth::require_every_inbox;
use super::error::{ApiError, ErrorBody};
use super::messages::GoObject;
use crate::model::Access;

/// The rules in force, where they are saved, and the built-in simulator addresses.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "PascalCase")]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct RulesInfo {
    /// The rules file's text (TOML).
    pub rules: String,
    /// The file PUT saves to (`--rules`, or `rules.toml` in the data folder).
    pub path: String,
    /// The simulator addresses, active without any rule (user rules come first).
    pub simulator: Vec<SimulatorAddress>,
}

/// One built-in simulator address.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "PascalCase")]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct SimulatorAddress {
    /// The address (`+tags` match too: `bounce+x@simulator.test`).
    pub address: String,
    /// What mail to it meets.
    pub effect: String,
}

/// The body of `PUT /api/v1/rules`.
#[derive(utoipa::ToSchema)]
pub(super) struct RulesUpdate {
    /// The new rules file's text (TOML); empty leaves only the simulator addresses.
    #[schema(rename = "Rules")]
    rules: String,
}

/// The delivery simulation's rules.
#[utoipa::path(
    get,
    path = "/api/v1/rules",
    tag = "simulation",
    responses((status = 200, description = "The rules in force", body = RulesInfo))
)]
pub async fn show(State(state): State<ApiState>) -> Json<RulesInfo> {
    Json(info(&state))
}

/// Put new rules in force and save them. A text with any error changes nothing
/// and is answered 400 naming the line (`line 3: unknown action "bouce" …`).
#[utoipa::path(
    put,
    path = "/api/v1/rules",
    tag = "simulation",
    request_body = RulesUpdate,
    responses(
        (status = 200, description = "The rules now in force", body = RulesInfo),
        (status = 400, description = "The text is not a valid rules file (the old rules stay)", body = ErrorBody),
    )
)]
pub async fn set(
    State(state): State<ApiState>,
    access: Access,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<RulesInfo>, ApiError> {
    require_every_inbox(&access)?;
    let update = RulesUpdate {
        rules: GoObject::parse(&body?)
            .and_then(|body| body.field::<String>("Rules"))
            .map_err(ApiError::bad_request)?
            .ok_or_else(|| ApiError::bad_request("Rules (the rules file's text) is required"))?,
    };
    let simulation = &state.simulation;
    let old = simulation.text();
    simulation.replace(&update.rules).map_err(ApiError::bad_request)?;
    let file = state.rules_file.clone();
    let saved = tokio::task::spawn_blocking(move || save(&file, &update.rules)).await.map_err(ApiError::internal)?;
    if let Err(err) = saved {
        simulation.replace(&old).expect("the rules in force before were valid");
        return Err(ApiError::internal(format!("cannot save the rules to {}: {err}", state.rules_file.display())));
    }
    Ok(Json(info(&state)))
}

fn info(state: &ApiState) -> RulesInfo {
    RulesInfo {
        rules: state.simulation.text(),
        path: state.rules_file.display().to_string(),
        simulator: state
            .simulation
            .simulator()
            .into_iter()
            .map(|entry| SimulatorAddress { address: entry.address, effect: entry.effect.to_string() })
            .collect(),
    }
}

/// Write `text` to `file` through a new file beside it and a rename.
fn save(file: &Path, text: &str) -> io::Result<()> {
    let name = file.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
    let temporary = file.with_file_name(format!(".{name}.{}.tmp", uuid::Uuid::new_v4().simple()));
    let written = (|| {
        let mut out = fs::OpenOptions::new().write(true).create_new(true).open(&temporary)?;
        out.write_all(text.as_bytes())?;
        out.sync_all()?;
        fs::rename(&temporary, file)
    })();
    if written.is_err() {
        let _ = fs::remove_file(&temporary);
    }
    written
}
