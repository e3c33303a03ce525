//! Native notifications for new mail.
//!
//! A test suite can send hundreds of messages in a second; one notification each
//! would bury the desktop. So the first new message opens a one-second window, and
//! when it closes there is one notification: the sender and subject of a lone
//! message, or "37 new messages" for a burst. No notification is shown while the
//! window has the focus (the list already shows the mail), nor while "Do not
//! disturb" is on in the tray menu.
//!
//! Clicking a lone message's notification opens the window on that message; a
//! burst's opens the window as it was, its list showing the new mail on top. The
//! click comes back through tauri-plugin-notification's `on_action` (`tap`), which
//! on Linux listens to the notification server over D-Bus, on macOS and Windows
//! waits on notify-rust's response; Windows reports only a click on the toast
//! itself, not on the copy in the Action Center.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use pigeonhole::model::Address;
use pigeonhole::model::Event;
use pigeonhole::model::MessageSummary;
use tauri::{AppHandle, Manager};
use tauri_plugin_notification::NotificationExt;
use tokio::sync::broadcast::{self, error::RecvError};
use tokio::time::{Instant, timeout_at};

/// How long a burst is gathered into one notification.
const WINDOW: Duration = Duration::from_secs(1);

/// The key of a lone message's ID in its notification's extra payload.
const MESSAGE: &str = "message";

/// "Do not disturb", set from the tray menu. Not kept across runs.
static DO_NOT_DISTURB: AtomicBool = AtomicBool::new(false);

/// Silence notifications (`true`) or let them show again.
pub fn set_do_not_disturb(on: bool) {
    DO_NOT_DISTURB.store(on, Ordering::Relaxed);
}

/// "Notify me of new mail" in the settings (kept across runs; do not disturb is
/// for now, on top of it).
static ENABLED: AtomicBool = AtomicBool::new(true);

pub fn set_enabled(on: bool) {
    ENABLED.store(on, Ordering::Relaxed);
}

/// Notify about the new messages announced on `events`, until the engine stops.
pub fn watch(app: &AppHandle, mut events: broadcast::Receiver<Event>) {
    let notification = app.notification();
    let open = app.clone();
    let _ = notification.on_action(move |action| {
        if action.action_id() == "tap" {
            let message = action.notification().and_then(|shown| shown.extra().get(MESSAGE)?.as_str());
            open_window_on(&open, message);
        }
    });
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        while let Some(first) = next_new(&mut events).await {
            let deadline = Instant::now() + WINDOW;
            let mut count = 1;
            let stopped = loop {
                match timeout_at(deadline, next_new(&mut events)).await {
                    Ok(Some(_)) => count += 1,
                    Ok(None) => break true,
                    Err(_window_closed) => break false,
                }
            };
            if !window_focused(&app) && ENABLED.load(Ordering::Relaxed) && !DO_NOT_DISTURB.load(Ordering::Relaxed) {
                let (title, body) = text(&first.from, &first.subject, count);
                let mut notification = app.notification().builder().title(title).body(body);
                if count == 1 {
                    notification = notification.extra(MESSAGE, &first.id);
                }
                if let Err(err) = notification.show() {
                    tracing::warn!("cannot show a notification: {err}");
                }
            }
            if stopped {
                break;
            }
        }
    });
}

/// The next new message; `None` once the engine has stopped.
async fn next_new(events: &mut broadcast::Receiver<Event>) -> Option<Box<MessageSummary>> {
    loop {
        match events.recv().await {
            Ok(Event::New(summary)) => return Some(summary),
            // Missed events are only a count that comes out low.
            Ok(_) | Err(RecvError::Lagged(_)) => {}
            Err(RecvError::Closed) => return None,
        }
    }
}

/// Bring the window back, on `message` when the notification was for one.
pub fn open_window_on(app: &AppHandle, message: Option<&str>) {
    crate::show_main_window(app);
    let (Some(script), Some(window)) = (message.and_then(open_script), app.get_webview_window(crate::MAIN_WINDOW))
    else {
        return;
    };
    if let Err(err) = window.eval(script) {
        tracing::warn!("cannot open the message in the window: {err}");
    }
}

/// The script that makes the UI open message `id` (it follows a `#/ID` hash), or
/// `None` for an ID that is not safe to put in a script. The engine's IDs are
/// alphanumeric; this check keeps anything else out of the page whatever it says.
fn open_script(id: &str) -> Option<String> {
    let safe = !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    safe.then(|| format!("location.hash = '#/{id}'"))
}

fn window_focused(app: &AppHandle) -> bool {
    app.get_webview_window(crate::MAIN_WINDOW)
        .is_some_and(|window| window.is_visible().unwrap_or(false) && window.is_focused().unwrap_or(false))
}

/// Title and body: the sender and subject of a lone message, or how many came.
fn text(from: &Address, subject: &str, count: usize) -> (String, String) {
    if count > 1 {
        return ("Pigeonhole".into(), format!("{count} new messages"));
    }
    let subject = if subject.trim().is_empty() { "(no subject)" } else { subject };
    (sender(from), subject.into())
}

fn sender(from: &Address) -> String {
    match (from.name.trim(), from.address.trim()) {
        ("", "") => "New message".into(),
        ("", address) => address.into(),
        (name, "") => name.into(),
        (name, address) => format!("{name} <{address}>"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address(name: &str, address: &str) -> Address {
        Address { name: name.into(), address: address.into() }
    }

    #[test]
    fn a_lone_message_shows_its_sender_and_subject_a_burst_its_size() {
        let ada = address("Ada", "ada@example.com");
        assert_eq!(text(&ada, "Your code", 1), ("Ada <ada@example.com>".into(), "Your code".into()));
        assert_eq!(text(&ada, " ", 1).1, "(no subject)");
        assert_eq!(text(&ada, "Your code", 37), ("Pigeonhole".into(), "37 new messages".into()));
    }

    #[test]
    fn only_a_plain_id_makes_it_into_the_script() {
        assert_eq!(open_script("2Bz9x_k-Q").as_deref(), Some("location.hash = '#/2Bz9x_k-Q'"));
        for id in ["", "a'b", "a b", "x';alert(1);'", "a/b", "é"] {
            assert_eq!(open_script(id), None, "{id:?}");
        }
    }

    #[test]
    fn the_sender_is_named_as_mail_clients_do() {
        assert_eq!(sender(&address("Ada", "ada@example.com")), "Ada <ada@example.com>");
        assert_eq!(sender(&address("", "ada@example.com")), "ada@example.com");
        assert_eq!(sender(&address(" ", "")), "New message");
    }
}
