//! The TypeScript declarations of the API's JSON, for the UI: `ui/src/api/types.ts`
//! is rendered from the Rust types themselves (ts-rs, which follows their serde
//! renames), so the UI cannot drift from what the API sends.
//!
//! The file is written only on request (`PIGEONHOLE_BLESS=1 cargo test -p
//! pigeonhole ts_types`); every other run checks that the committed file is
//! current. Writing it on every test run would touch `ui/src/` and make build.rs
//! rebuild the UI each time.

use std::path::PathBuf;

use ts_rs::{Config, TS};

use super::error::ErrorBody;
use super::import::ImportResponse;
use super::info::{AppInformation, MessageRelay, RuntimeStats, StorageView, WebUiConfiguration};
use super::intake::IntakeView;
use super::links::{CodesView, LinksView};
use super::rules::{RulesInfo, SimulatorAddress};
use super::send::{BccRecipient, SendAddress, SendAttachment, SendRequest, SendResponse};
use crate::diff::{
    CheckChange, ChecksDiff, ChecksSide, DiffOptions, DiffReport, HeaderChange, HeaderChangeKind, HeadersDiff,
    HtmlDiff, Hunk, Line, LineKind, LinesDiff, SideInfo, StructureDiff, VisualDiff,
};
use crate::mail::calendar::{CalendarEvent, CalendarInvite, CalendarPerson};
use crate::mail::client_view::{Removal, ViewNotes};
use crate::mail::detail::{Attachment, Checksums, ListUnsubscribe, MessageView, PartNode};
use crate::mail::htmlcheck::{ClientResult, HtmlCheck, Score, Total, Warning};
use crate::mail::linkcheck::{LinkCheck, LinkStatus};
use crate::mail::links::{Code, Link};
use crate::mail::spamassassin::{SpamCheck, SpamRule};
use crate::model::Address;
use crate::model::{
    ApiRequest, Category, ChaosTrigger, ChaosTriggers, Check, CheckReport, CheckSummary, Envelope, Location, Severity,
    SimulationOutcome,
};
use crate::model::{Burst, Deleted, DiskState, EffectsRecorded, Event, IntakeState, ReadChanged, Stats, TagsChanged};
use crate::model::{InboxInfo, MessagePage, MessageSummary};
use crate::providers::webhooks::delivery::{Attempt, DeliveryState};
use crate::providers::webhooks::settings::Retries;
use crate::providers::webhooks::{Delivery, MessageWebhook, Webhook, WebhooksView};

const HEADER: &str = "// Generated from the Rust API types by `cargo test -p pigeonhole ts_types` — do not edit.\n\
     // Regenerate with `PIGEONHOLE_BLESS=1 cargo test -p pigeonhole ts_types`.\n";

/// `export type …` for one type, with its doc comment.
fn declaration<T: TS>(config: &Config) -> String {
    format!("\n{}export {}\n", T::docs().unwrap_or_default(), T::decl(config))
}

/// The whole file.
fn render() -> String {
    // JSON numbers, not BigInt: counts and sizes stay far below 2^53.
    let config = Config::new().with_large_int("number");
    let declarations = [
        declaration::<ErrorBody>(&config),
        declaration::<Address>(&config),
        declaration::<MessageSummary>(&config),
        declaration::<MessagePage>(&config),
        declaration::<MessageView>(&config),
        declaration::<ListUnsubscribe>(&config),
        declaration::<Attachment>(&config),
        declaration::<Checksums>(&config),
        declaration::<PartNode>(&config),
        declaration::<Envelope>(&config),
        declaration::<ApiRequest>(&config),
        declaration::<SimulationOutcome>(&config),
        declaration::<CheckReport>(&config),
        declaration::<CheckSummary>(&config),
        declaration::<Check>(&config),
        declaration::<Severity>(&config),
        declaration::<Category>(&config),
        declaration::<Location>(&config),
        declaration::<DiffReport>(&config),
        declaration::<SideInfo>(&config),
        declaration::<DiffOptions>(&config),
        declaration::<HeadersDiff>(&config),
        declaration::<HeaderChange>(&config),
        declaration::<HeaderChangeKind>(&config),
        declaration::<LinesDiff>(&config),
        declaration::<Hunk>(&config),
        declaration::<Line>(&config),
        declaration::<LineKind>(&config),
        declaration::<HtmlDiff>(&config),
        declaration::<StructureDiff>(&config),
        declaration::<VisualDiff>(&config),
        declaration::<ChecksDiff>(&config),
        declaration::<ChecksSide>(&config),
        declaration::<CheckChange>(&config),
        declaration::<InboxInfo>(&config),
        declaration::<LinksView>(&config),
        declaration::<Link>(&config),
        declaration::<CodesView>(&config),
        declaration::<Code>(&config),
        declaration::<SendRequest>(&config),
        declaration::<SendAddress>(&config),
        declaration::<BccRecipient>(&config),
        declaration::<SendAttachment>(&config),
        declaration::<SendResponse>(&config),
        declaration::<ImportResponse>(&config),
        declaration::<AppInformation>(&config),
        declaration::<RuntimeStats>(&config),
        declaration::<WebUiConfiguration>(&config),
        declaration::<MessageRelay>(&config),
        declaration::<Event>(&config),
        declaration::<Stats>(&config),
        declaration::<ReadChanged>(&config),
        declaration::<TagsChanged>(&config),
        declaration::<Deleted>(&config),
        declaration::<IntakeState>(&config),
        declaration::<IntakeView>(&config),
        declaration::<Burst>(&config),
        declaration::<DiskState>(&config),
        declaration::<EffectsRecorded>(&config),
        declaration::<StorageView>(&config),
        declaration::<HtmlCheck>(&config),
        declaration::<Total>(&config),
        declaration::<Warning>(&config),
        declaration::<Score>(&config),
        declaration::<ClientResult>(&config),
        declaration::<ViewNotes>(&config),
        declaration::<CalendarInvite>(&config),
        declaration::<CalendarEvent>(&config),
        declaration::<CalendarPerson>(&config),
        declaration::<Removal>(&config),
        declaration::<LinkCheck>(&config),
        declaration::<LinkStatus>(&config),
        declaration::<SpamCheck>(&config),
        declaration::<SpamRule>(&config),
        declaration::<ChaosTriggers>(&config),
        declaration::<ChaosTrigger>(&config),
        declaration::<RulesInfo>(&config),
        declaration::<SimulatorAddress>(&config),
        declaration::<WebhooksView>(&config),
        declaration::<Webhook>(&config),
        declaration::<MessageWebhook>(&config),
        declaration::<Retries>(&config),
        declaration::<Delivery>(&config),
        declaration::<DeliveryState>(&config),
        declaration::<Attempt>(&config),
    ];
    HEADER.to_string() + &declarations.concat()
}

#[test]
fn ts_types() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../ui/src/api/types.ts");
    let rendered = render();
    if std::env::var("PIGEONHOLE_BLESS").as_deref() == Ok("1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, rendered).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == rendered,
        "ui/src/api/types.ts is stale: run PIGEONHOLE_BLESS=1 cargo test -p pigeonhole ts_types"
    );
}
