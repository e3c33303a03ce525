//! The window's menu bar (File, Edit, View, Help) and its keyboard shortcuts.
//!
//! Most items act in the web UI, which has the message list and the selection: the
//! menu sends the page a `pigeonhole-command` event naming what to do (`search`,
//! `delete`, `save`, `export`, `import`, `settings`, `shortcuts`), and the UI does
//! what its own buttons do. The rest is native: Close window (which hides it, as
//! closing always does), Quit (the clean engine shutdown), Mark all read (the tray's
//! action), Reload, Full screen and About.
//!
//! Delete has no accelerator on purpose: a menu accelerator gets its key before the
//! page does, so the Delete key would stop deleting text in the search box. The UI
//! handles the Delete key itself.

use std::path::Path;

use pigeonhole::Engine;
use tauri::menu::{Menu, MenuEvent, MenuItem, PredefinedMenuItem, Submenu};
use tauri::{AppHandle, Manager, Window, Wry};
use tauri_plugin_dialog::{DialogExt, MessageDialogKind};

/// The prefix of this menu's item ids. Tauri hands every menu event, the tray's
/// included, to every menu handler: the prefix keeps the tray's "quit" from also
/// being this menu's.
const ID: &str = "window-menu:";

/// The menu bar, for the window's builder.
pub fn build(app: &AppHandle) -> tauri::Result<Menu<Wry>> {
    let item = |name: &str, text: &str, accelerator: Option<&str>| {
        MenuItem::with_id(app, format!("{ID}{name}"), text, true, accelerator)
    };
    let separator = || PredefinedMenuItem::separator(app);
    let file = Submenu::with_items(
        app,
        "&File",
        true,
        &[
            &item("save", "&Save as .eml…", Some("CmdOrCtrl+S"))?,
            &item("export", "&Export…", None)?,
            &item("import", "&Import…", None)?,
            &separator()?,
            &item("settings", "Se&ttings…", Some("CmdOrCtrl+,"))?,
            &separator()?,
            &item("close", "&Close window", Some("CmdOrCtrl+W"))?,
            &item("quit", "&Quit", Some("CmdOrCtrl+Q"))?,
        ],
    )?;
    let edit = Submenu::with_items(
        app,
        "&Edit",
        true,
        &[
            &item("search", "&Find", Some("CmdOrCtrl+F"))?,
            &separator()?,
            &item("delete", "&Delete", None)?,
            &item("mark-read", "&Mark all read", None)?,
        ],
    )?;
    if cfg!(target_os = "macos") {
        // macOS sends ⌘C, ⌘V… to the page only through these items; GTK and
        // Windows give the page those keys without them.
        edit.prepend_items(&[
            &PredefinedMenuItem::cut(app, None)?,
            &PredefinedMenuItem::copy(app, None)?,
            &PredefinedMenuItem::paste(app, None)?,
            &PredefinedMenuItem::select_all(app, None)?,
            &separator()?,
        ])?;
    }
    let view = Submenu::with_items(
        app,
        "&View",
        true,
        &[&item("reload", "&Reload", Some("CmdOrCtrl+R"))?, &item("fullscreen", "&Full screen", Some("F11"))?],
    )?;
    let help = Submenu::with_items(
        app,
        "&Help",
        true,
        &[&item("shortcuts", "&Keyboard shortcuts", None)?, &separator()?, &item("about", "&About Pigeonhole", None)?],
    )?;
    Menu::with_items(app, &[&file, &edit, &view, &help])
}

/// The handler of the menu's items, for the window's `on_menu_event`.
pub fn on_event(engine: &Engine) -> impl Fn(&Window, MenuEvent) + Send + Sync + 'static {
    let about = about_text(engine);
    move |window, event| {
        let Some(name) = event.id().as_ref().strip_prefix(ID) else { return };
        let (app, logged) = (window.app_handle(), |result: tauri::Result<()>| {
            if let Err(err) = result {
                tracing::warn!("menu item {name}: {err}");
            }
        });
        let Some(webview) = app.get_webview_window(crate::MAIN_WINDOW) else { return };
        match name {
            "search" | "delete" | "save" | "export" | "import" | "settings" | "shortcuts" => {
                // The UI listens for this event; `name` is one of these literals.
                let script =
                    format!("window.dispatchEvent(new CustomEvent('pigeonhole-command', {{ detail: '{name}' }}))");
                logged(webview.eval(script))
            }
            "close" => logged(window.close()),
            "quit" => crate::quit(app, 0),
            "mark-read" => crate::tray::mark_all_read(app),
            "reload" => logged(webview.reload()),
            "fullscreen" => logged(window.is_fullscreen().and_then(|full| window.set_fullscreen(!full))),
            "about" => app
                .dialog()
                .message(about.as_str())
                .title("About Pigeonhole")
                .kind(MessageDialogKind::Info)
                .parent(window)
                .show(|_| {}),
            _ => {}
        }
    }
}

/// What About says: the version, where this engine listens and keeps its mail, and
/// the licence.
fn about_text(engine: &Engine) -> String {
    let data = engine.store().database_path().parent().unwrap_or(Path::new(""));
    format!(
        "Pigeonhole {version}\nCatches the mail your application sends.\n\n\
         SMTP: {smtp}\nWeb UI: http://{http}/\nData folder: {data}\n\n\
         Licence: {licence}",
        version = env!("CARGO_PKG_VERSION"),
        smtp = engine.smtp_addr(),
        http = engine.http_addr(),
        data = data.display(),
        licence = env!("CARGO_PKG_LICENSE"),
    )
}
