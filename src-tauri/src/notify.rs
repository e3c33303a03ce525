//! Native notifications for new mail.
//!
//! A test suite can send hundreds of messages in a second; one notification each
//! would bury the desktop. So the first new message opens a one-second window, and
//! when it closes there is one notification: the sender and subject of a lone
//! message, or "37 new messages" for a burst. No notification is shown while the
//! window has the focus: the list already shows the mail. Clicking one opens the
//! window.

use std::time::Duration;

use pigeonhole::events::Event;
use pigeonhole::mail::Address;
use pigeonhole::store::MessageSummary;
use tauri::{AppHandle, Manager};
use tauri_plugin_notification::NotificationExt;
use tokio::sync::broadcast::{self, error::RecvError};
use tokio::time::{Instant, timeout_at};

/// How long a burst is gathered into one notification.
const WINDOW: Duration = Duration::from_secs(1);

/// Notify about the new messages announced on `events`, until the engine stops.
pub fn watch(app: &AppHandle, mut events: broadcast::Receiver<Event>) {
    let notification = app.notification();
    let open = app.clone();
    let _ = notification.on_action(move |action| {
        if action.action_id() == "tap" {
            crate::show_main_window(&open);
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
            if !window_focused(&app) {
                let (title, body) = text(&first.from, &first.subject, count);
                if let Err(err) = app.notification().builder().title(title).body(body).show() {
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
    fn the_sender_is_named_as_mail_clients_do() {
        assert_eq!(sender(&address("Ada", "ada@example.com")), "Ada <ada@example.com>");
        assert_eq!(sender(&address("", "ada@example.com")), "ada@example.com");
        assert_eq!(sender(&address(" ", "")), "New message");
    }
}
