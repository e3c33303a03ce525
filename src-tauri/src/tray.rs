//! The tray icon: the unread count at a glance, and a menu for what one does without
//! the window (open it, pause intake, do not disturb, mark all read, clear, quit).
//!
//! The count and the pause item follow the engine's events, so they stay right
//! whatever changed them: SMTP, the web UI, the API or this menu. The store sends a
//! `stats` event per commit, hundreds a second in a flood, so the count is redrawn at
//! most every [`COUNT_EVERY`] ([`CountThrottle`]), and the last value always shows.
//! "Do not disturb" only silences [`crate::notify`]: the count still follows the mail.

use std::time::Duration;

use pigeonhole::Engine;
use pigeonhole::model::Event;
use pigeonhole::store::Selection;
use tauri::menu::{CheckMenuItem, Menu, MenuEvent, MenuItem, PredefinedMenuItem};
use tauri::tray::{MouseButton, MouseButtonState, TrayIcon, TrayIconBuilder, TrayIconEvent};
use tauri::{AppHandle, Manager, Wry};
use tauri_plugin_dialog::{DialogExt, MessageDialogButtons, MessageDialogKind};
use tokio::sync::broadcast::error::RecvError;
use tokio::time::Instant;

use crate::EngineSlot;

/// The shortest time between two redraws of the unread count.
const COUNT_EVERY: Duration = Duration::from_millis(250);

/// What changes after the tray is built: the icon's title and tooltip, and two items.
struct Tray {
    icon: TrayIcon<Wry>,
    unread: MenuItem<Wry>,
    pause: MenuItem<Wry>,
}

/// Build the tray icon and its menu, and keep them current from `engine`'s events.
pub fn install(app: &AppHandle, engine: &Engine) -> tauri::Result<()> {
    // Linux tray hosts show no tooltips, so the count is also the menu's first line.
    let unread = MenuItem::with_id(app, "unread", unread_text(0), false, None::<&str>)?;
    let pause = MenuItem::with_id(app, "pause", pause_text(false), true, None::<&str>)?;
    let quiet = CheckMenuItem::with_id(app, "do-not-disturb", "Do not disturb", true, false, None::<&str>)?;
    let menu = Menu::with_items(
        app,
        &[
            &unread,
            &PredefinedMenuItem::separator(app)?,
            &MenuItem::with_id(app, "open", "Open Pigeonhole", true, None::<&str>)?,
            &pause,
            &quiet,
            &PredefinedMenuItem::separator(app)?,
            &MenuItem::with_id(app, "mark-read", "Mark all read", true, None::<&str>)?,
            &MenuItem::with_id(app, "clear", "Clear inbox…", true, None::<&str>)?,
            &PredefinedMenuItem::separator(app)?,
            &MenuItem::with_id(app, "quit", "Quit Pigeonhole", true, None::<&str>)?,
        ],
    )?;
    let mut builder = TrayIconBuilder::with_id("main")
        .tooltip("Pigeonhole")
        .menu(&menu)
        // A left click opens the window (Windows, macOS); the menu is a right click away.
        .show_menu_on_left_click(false)
        .on_menu_event(move |app, event| on_menu_event(app, event, &quiet))
        .on_tray_icon_event(|tray, event| {
            if let TrayIconEvent::Click { button: MouseButton::Left, button_state: MouseButtonState::Up, .. } = event {
                crate::show_main_window(tray.app_handle());
            }
        });
    if let Some(icon) = app.default_window_icon() {
        builder = builder.icon(icon.clone());
    }
    let tray = Tray { icon: builder.build(app)?, unread, pause };

    let store = engine.store().clone();
    let mut events = engine.events().subscribe();
    let paused = engine.intake_paused();
    tauri::async_runtime::spawn(async move {
        tray.show_paused(paused);
        let mut count = CountThrottle::new(COUNT_EVERY, Instant::now());
        // Read after subscribing, so no commit falls between the two.
        let unread = store.stats().map_or(0, |stats| stats.unread);
        if let Some(unread) = count.offer(unread, Instant::now()) {
            tray.show_unread(unread);
        }
        loop {
            let event = tokio::select! {
                event = events.recv() => event,
                () = tokio::time::sleep_until(count.due_at()), if count.is_pending() => {
                    if let Some(unread) = count.due(Instant::now()) {
                        tray.show_unread(unread);
                    }
                    continue;
                }
            };
            let unread = match event {
                Ok(Event::Stats(stats)) => stats.unread,
                Ok(Event::Intake(state)) => {
                    tray.show_paused(state.paused);
                    continue;
                }
                Ok(_) => continue,
                // Missed some events: the totals are one read away.
                Err(RecvError::Lagged(_)) => store.stats().map_or(0, |stats| stats.unread),
                Err(RecvError::Closed) => break,
            };
            if let Some(unread) = count.offer(unread, Instant::now()) {
                tray.show_unread(unread);
            }
        }
    });
    Ok(())
}

impl Tray {
    fn show_unread(&self, unread: u64) {
        let _ = self.unread.set_text(unread_text(unread));
        let _ = self.icon.set_tooltip(Some(format!("Pigeonhole: {}", unread_text(unread))));
        // The title is shown beside the icon (macOS menu bar, Linux indicators).
        let _ = self.icon.set_title((unread > 0).then(|| unread.to_string()));
    }

    fn show_paused(&self, paused: bool) {
        let _ = self.pause.set_text(pause_text(paused));
    }
}

/// Rate-limits redraws of a value that changes in bursts: a value offered within
/// `every` of the last redraw waits, replaced by any newer one, until its time comes.
struct CountThrottle {
    every: Duration,
    /// When the next redraw may happen.
    next: Instant,
    /// The newest value not drawn yet.
    pending: Option<u64>,
}

impl CountThrottle {
    /// Ready to draw from `now`.
    fn new(every: Duration, now: Instant) -> CountThrottle {
        CountThrottle { every, next: now, pending: None }
    }

    /// A new value: returned to be drawn now, or kept for [`CountThrottle::due`].
    fn offer(&mut self, value: u64, now: Instant) -> Option<u64> {
        self.pending = Some(value);
        self.due(now)
    }

    /// The kept value, once its time has come.
    fn due(&mut self, now: Instant) -> Option<u64> {
        if now < self.next {
            return None;
        }
        let value = self.pending.take()?;
        self.next = now + self.every;
        Some(value)
    }

    fn is_pending(&self) -> bool {
        self.pending.is_some()
    }

    fn due_at(&self) -> Instant {
        self.next
    }
}

fn unread_text(unread: u64) -> String {
    match unread {
        0 => "No unread messages".into(),
        1 => "1 unread message".into(),
        n => format!("{n} unread messages"),
    }
}

fn pause_text(paused: bool) -> &'static str {
    if paused { "Resume intake" } else { "Pause intake" }
}

/// The tray menu's items. (Tauri hands the window menu's events here too: see
/// [`crate::menu`] for why their ids differ.)
fn on_menu_event(app: &AppHandle, event: MenuEvent, quiet: &CheckMenuItem<Wry>) {
    match event.id().as_ref() {
        "open" => crate::show_main_window(app),
        "pause" => {
            if let Some(engine) = app.state::<EngineSlot>().lock().as_ref() {
                engine.set_intake_paused(!engine.intake_paused());
            }
        }
        // The item has toggled itself already.
        "do-not-disturb" => crate::notify::set_do_not_disturb(quiet.is_checked().unwrap_or(false)),
        "mark-read" => mark_all_read(app),
        "clear" => confirm_clear(app),
        "quit" => crate::quit(app, 0),
        _ => {}
    }
}

/// Mark every message read: this menu's item and the window menu's.
pub fn mark_all_read(app: &AppHandle) {
    change_all(app, "mark all messages read", Change::MarkRead);
}

/// Deleting every message cannot be undone: ask first, saying how many.
fn confirm_clear(app: &AppHandle) {
    let Some(store) = crate::store(app) else { return };
    let total = store.stats().map_or(0, |stats| stats.total);
    if total == 0 {
        return;
    }
    let what = if total == 1 { "the one message".to_string() } else { format!("all {total} messages") };
    let app_ = app.clone();
    app.dialog()
        .message(format!("Delete {what}? This cannot be undone."))
        .title("Clear inbox")
        .kind(MessageDialogKind::Warning)
        .buttons(MessageDialogButtons::OkCancelCustom("Delete".into(), "Cancel".into()))
        .show(move |confirmed| {
            if confirmed {
                change_all(&app_, "clear the inbox", Change::Delete);
            }
        });
}

enum Change {
    MarkRead,
    Delete,
}

/// Apply `change` to every message through the store (which announces it to the UI).
fn change_all(app: &AppHandle, what: &'static str, change: Change) {
    let Some(store) = crate::store(app) else { return };
    tauri::async_runtime::spawn(async move {
        let result = match change {
            Change::MarkRead => store.set_read(Selection::All, true).await,
            Change::Delete => store.delete(Selection::All).await,
        };
        if let Err(err) = result {
            tracing::error!("could not {what}: {err}");
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_of_counts_is_drawn_once_per_interval_ending_on_the_last() {
        let every = Duration::from_millis(250);
        let start = Instant::now();
        let mut count = CountThrottle::new(every, start);
        assert_eq!(count.offer(1, start), Some(1), "the first value shows at once");
        // A thousand commits within the interval: none drawn, the newest kept.
        for unread in 2..=1000 {
            assert_eq!(count.offer(unread, start + Duration::from_micros(unread * 200)), None);
        }
        assert!(count.is_pending());
        assert_eq!(count.due_at(), start + every);
        assert_eq!(count.due(start + every - Duration::from_millis(1)), None);
        assert_eq!(count.due(start + every), Some(1000));
        assert!(!count.is_pending());
        assert_eq!(count.due(start + every * 3), None, "nothing new, nothing to draw");
        // After a quiet spell a change shows at once again.
        assert_eq!(count.offer(7, start + every * 3), Some(7));
    }
}
