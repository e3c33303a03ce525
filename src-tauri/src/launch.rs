//! Starting the engine for the app, with the failures a desktop user meets told in
//! the app's words.
//!
//! The engine's own messages name `pigeonhole serve`'s flags (`--smtp`, `--data`);
//! here the way out is the Settings file or a `PIGEONHOLE_*` variable. The common
//! case, a port another program already holds (another Pigeonhole, Mailpit,
//! MailHog…), gets a one-click way on: "Use port 1026" starts on the next free port
//! and keeps it in the settings.

use std::net::{SocketAddr, TcpListener};

use pigeonhole::{Config, Engine, StartError};
use tauri::{AppHandle, Manager};
use tauri_plugin_dialog::{DialogExt, MessageDialogButtons, MessageDialogKind};

use crate::settings::{self, Settings};

/// The `frame-src` sources the window's page needs beyond the engine's own: Tauri's
/// isolation frame (app state, set before the app runs).
pub struct FrameSources(pub Vec<String>);

/// Start the engine on the app's settings and hand it to `started`. When it cannot
/// start, the user is told why and what to do, and the app exits 1 after.
pub fn start(app: &AppHandle, started: fn(&AppHandle, Engine)) {
    // One read of the settings: the engine's config, and the preference that
    // applies outside it.
    let chosen = settings::current(app);
    crate::notify::set_enabled(chosen.notifications);
    match chosen.config(settings::env_var) {
        Ok(mut config) => {
            config.http.ui_frame_sources = app.state::<FrameSources>().0.clone();
            start_with(app, config, started)
        }
        Err(message) => crate::fail(app, message),
    }
}

fn start_with(app: &AppHandle, config: Config, started: fn(&AppHandle, Engine)) {
    match tauri::async_runtime::block_on(Engine::start(config.clone())) {
        Ok(engine) => started(app, engine),
        Err(StartError::AddressInUse { what, addr, .. }) => offer_another_port(app, config, what, addr, started),
        Err(err) => crate::fail(app, in_app_words(app, &err)),
    }
}

/// Ask whether to listen on the next free port instead of `addr`; on yes, start
/// there (and remember it), on no, quit.
fn offer_another_port(
    app: &AppHandle,
    mut config: Config,
    what: &str,
    addr: SocketAddr,
    started: fn(&AppHandle, Engine),
) {
    let Some(port) = next_free_port(addr) else {
        return crate::fail(app, format!("{what} address {addr} is in use, and no port near it is free"));
    };
    let smtp = what == "SMTP";
    let apps_note =
        if smtp { format!("\n\nPoint your application's SMTP settings at port {port}.") } else { String::new() };
    let message = format!(
        "The {what} address {addr} is already in use by another program (another Pigeonhole, Mailpit or MailHog, perhaps).\n\nPigeonhole can use port {port} instead and remember it in its settings.{apps_note}"
    );
    let app_ = app.clone();
    app.dialog()
        .message(message)
        .title("Port in use")
        .kind(MessageDialogKind::Warning)
        // `_` marks the mnemonic: Alt+U chooses it.
        .buttons(MessageDialogButtons::OkCancelCustom(format!("_Use port {port}"), "_Quit".into()))
        .show(move |use_it| {
            if !use_it {
                return crate::quit(&app_, 1);
            }
            let moved = SocketAddr::new(addr.ip(), port);
            if smtp {
                config.smtp_addr = moved
            } else {
                config.http_addr = moved
            }
            remember(&app_, smtp, moved);
            start_with(&app_, config, started);
        });
}

/// The first port after `addr`'s that nothing listens on (up to a hundred tries).
fn next_free_port(addr: SocketAddr) -> Option<u16> {
    (addr.port().saturating_add(1)..=addr.port().saturating_add(100))
        .find(|&port| TcpListener::bind(SocketAddr::new(addr.ip(), port)).is_ok())
}

/// Keep the chosen address in the settings, unless a variable sets it anyway.
fn remember(app: &AppHandle, smtp: bool, addr: SocketAddr) {
    let setting = if smtp { "smtp" } else { "http" };
    if settings::overridden(settings::env_var).iter().any(|(name, _)| *name == setting) {
        return;
    }
    let mut chosen: Settings = settings::current(app);
    if smtp {
        chosen.smtp = Some(addr)
    } else {
        chosen.http = Some(addr)
    }
    if let Err(err) = settings::file(app).and_then(|path| chosen.save(&path)) {
        tracing::warn!("{err}");
    }
}

/// The engine's start error, with the way out a desktop user has.
fn in_app_words(app: &AppHandle, err: &StartError) -> String {
    let file = settings::file(app).map(|path| path.display().to_string()).unwrap_or_else(|_| "settings.json".into());
    match err {
        StartError::Bind { what, addr, source, .. } => format!(
            "Cannot listen for {what} on {addr}: {source}.\n\nChoose another address: set \"{}\" in {file}, or the variable PIGEONHOLE_{what}.",
            what.to_lowercase()
        ),
        StartError::DataDir { path, source } => format!(
            "Cannot use the data folder {}: {source}.\n\nMake it writable, or choose another folder: set \"data\" in {file}, or the variable PIGEONHOLE_DATA.",
            path.display()
        ),
        StartError::DataDirInUse { path } => format!(
            "The data folder {} is in use by another Pigeonhole (the desktop app or `pigeonhole serve`).\n\nQuit that one, or choose another folder: set \"data\" in {file}, or the variable PIGEONHOLE_DATA.",
            path.display()
        ),
        // The app has no password for its web UI, so only a loopback address will do.
        StartError::OpenHttp { addr } => format!(
            "The web address {addr} can be reached from other machines, and anyone there could read the captured mail.\n\nChoose a loopback address such as 127.0.0.1:8025: set \"http\" in {file}, or the variable PIGEONHOLE_HTTP."
        ),
        other => other.to_string(),
    }
}
