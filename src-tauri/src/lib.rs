//! Pigeonhole's desktop app: the engine in-process, plus what a desktop adds.
//!
//! [`run`] starts the engine ([`pigeonhole::Engine`]) on Tauri's tokio runtime and
//! opens one window on the engine's web UI (`http://<http address>/`), the very UI a
//! browser gets: the page talks to the engine only through its HTTP API and has no
//! access to Tauri (see `capabilities/default.json`). Around the window:
//!
//! * [`settings`]: the engine's settings (defaults, `PIGEONHOLE_*` overrides).
//! * [`menu`]: the window's menu bar and shortcuts, most of them sent to the UI.
//! * [`tray`]: the tray icon with the unread count, and its menu.
//! * [`notify`]: native notifications for new mail, coalesced under bursts.
//! * [`rendering`]: the window draws on the CPU unless `PIGEONHOLE_GPU=1` (memory).
//!
//! Closing the window hides it: the app keeps catching mail in the tray until Quit,
//! which shuts the engine down cleanly (so do SIGINT and SIGTERM). A second launch
//! brings the running app's window back and exits (single instance).

mod files;
mod launch;
mod menu;
mod notify;
pub mod rendering;
mod settings;
mod tray;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Mutex, PoisonError};

use pigeonhole::Engine;
use pigeonhole::store::Store;
use tauri::webview::{NewWindowResponse, PageLoadEvent};
use tauri::{AppHandle, Manager, RunEvent, Url, WebviewUrl, WebviewWindowBuilder, WindowEvent};
use tauri_plugin_dialog::{DialogExt, MessageDialogKind};
use tauri_plugin_opener::OpenerExt;
use tracing_subscriber::EnvFilter;

/// The label of the one window.
const MAIN_WINDOW: &str = "main";

/// The running engine: `None` until it has started, and again once Quit has taken it
/// to shut it down.
#[derive(Default)]
struct EngineSlot(Mutex<Option<Engine>>);

impl EngineSlot {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Engine>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Run the app until Quit; the exit code is non-zero when the engine could not start.
pub fn run() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_env("PIGEONHOLE_LOG").unwrap_or_else(|_| EnvFilter::new("info")))
        .with_writer(std::io::stderr)
        .init();
    // The engine's SMTP sockets count against the open-file limit: take all the
    // hard limit allows, as `pigeonhole serve` does.
    pigeonhole::smtp::raise_open_file_limit();
    if let Some(message) = no_display() {
        eprintln!("error: {message}");
        return ExitCode::FAILURE;
    }

    let context = tauri::generate_context!();
    // The isolation pattern (tauri.conf.json): Tauri adds its frame, on a scheme it
    // names per build, to the window's page, whose policy (the engine's) must let it.
    #[allow(irrefutable_let_patterns)]
    if let tauri::Pattern::Isolation { schema, .. } = context.pattern() {
        pigeonhole::api::allow_frame_sources(&format!("{schema}:"));
    }
    let app = tauri::Builder::default()
        // First, so that a second launch hands over to the running app and exits
        // before it binds a port or opens the store.
        .plugin(tauri_plugin_single_instance::init(|app, args, cwd| {
            show_main_window(app);
            // `pigeonhole-desktop mail.eml` while the app runs: open it there.
            files::open_files(app, args.into_iter().skip(1).map(PathBuf::from), Path::new(&cwd));
        }))
        .plugin(tauri_plugin_dialog::init())
        .plugin(tauri_plugin_notification::init())
        // Called from Rust only (links leaving the window, see `open_window`): no
        // script of its own in the page, no permission for the page.
        .plugin(tauri_plugin_opener::Builder::new().open_js_links_on_click(false).build())
        .plugin(tauri_plugin_autostart::init(tauri_plugin_autostart::MacosLauncher::LaunchAgent, None))
        .invoke_handler(tauri::generate_handler![
            files::save_message,
            files::export_messages,
            settings::get_settings,
            settings::save_settings,
            settings::restart_app,
        ])
        .manage(EngineSlot::default())
        .setup(|app| {
            start(app.handle());
            Ok(())
        })
        .build(context);
    let app = match app {
        Ok(app) => app,
        Err(err) => {
            eprintln!("error: cannot start the desktop app: {err}");
            return ExitCode::FAILURE;
        }
    };
    let code = app.run_return(|app, event| {
        // An exit that did not come through `quit` (the desktop session ending, say)
        // waits for the engine's shutdown: every acknowledged message is then on disk.
        if let RunEvent::ExitRequested { api, code, .. } = event
            && app.state::<EngineSlot>().lock().is_some()
        {
            api.prevent_exit();
            quit(app, code.unwrap_or(0));
        }
    });
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

/// Start the engine ([`launch`] tells the user when it can't), then the tray,
/// notifications and the window.
fn start(app: &AppHandle) {
    launch::start(app, started);
}

fn started(app: &AppHandle, engine: Engine) {
    // The same lines as `pigeonhole serve`, for scripts and tests that ask for port 0.
    engine.announce();

    if let Err(err) = tray::install(app, &engine) {
        // The window still works without a tray (no tray host, no appindicator).
        tracing::warn!("no tray icon: {err}");
    }
    notify::watch(app, engine.events().subscribe());
    let window = open_window(app, &engine);
    *app.state::<EngineSlot>().lock() = Some(engine);
    if let Err(err) = window {
        return fail(app, format!("cannot open the window: {err}"));
    }
    // Files the app was opened with (a file manager's "Open with").
    files::open_files(
        app,
        std::env::args_os().skip(1).map(PathBuf::from),
        &std::env::current_dir().unwrap_or_default(),
    );
    quit_on_signal(app);
}

/// The window on the engine's UI, with the menu bar. It shows the UI and nothing
/// else: a link to anywhere else, from a mail say, opens in the system browser.
fn open_window(app: &AppHandle, engine: &Engine) -> tauri::Result<()> {
    let ui: Url = format!("http://{}/", engine.http_addr()).parse().expect("a socket address makes a valid URL");
    let (origin, home) = (ui.origin(), ui.clone());
    let (navigating, popping_up) = (app.clone(), app.clone());
    let window = WebviewWindowBuilder::new(app, MAIN_WINDOW, WebviewUrl::External(ui))
        .title("Pigeonhole")
        .inner_size(1280.0, 800.0)
        .min_inner_size(640.0, 400.0)
        .menu(menu::build(app)?)
        // WebKitGTK and WKWebView ask this for the preview frame's loads too, so it
        // allows all of the engine's origin: the UI, the API and `/view/` previews.
        .on_navigation(move |url| {
            let ours = url.origin() == origin;
            if !ours {
                open_outside(&navigating, url);
            }
            ours
        })
        // A link in the preview opens a new window (`<base target=_blank>`): never
        // one of ours.
        .on_new_window(move |url, _features| {
            open_outside(&popping_up, &url);
            NewWindowResponse::Deny
        })
        // Page loads are the window's own, not its frames': where it is kept on the
        // UI, off a preview page (`/view/…`) or any other page of the engine's.
        .on_page_load(move |window, load| {
            if matches!(load.event(), PageLoadEvent::Started) && load.url().path() != home.path() {
                tracing::warn!("the window left the UI for {}: back to the UI", load.url());
                let _ = window.navigate(home.clone());
            }
        })
        // Files dropped on the window go to the page, whose drop zone imports them
        // (as in a browser); Tauri's own handler would take them first.
        .disable_drag_drop_handler()
        .build()?;
    window.on_menu_event(menu::on_event(engine));
    let hide = window.clone();
    window.on_window_event(move |event| {
        if let WindowEvent::CloseRequested { api, .. } = event {
            // The app lives on in the tray; Quit is in its menu.
            api.prevent_close();
            let _ = hide.hide();
        }
    });
    Ok(())
}

/// Open `url` in the system's browser (or mail client): only http, https and mailto
/// links, nothing that could run a program. Off the UI thread: the opener waits a
/// moment for the launcher.
fn open_outside(app: &AppHandle, url: &Url) {
    if !matches!(url.scheme(), "http" | "https" | "mailto") {
        return tracing::warn!("not opening {url}: only http, https and mailto links open outside the app");
    }
    let (app, url) = (app.clone(), url.to_string());
    tauri::async_runtime::spawn_blocking(move || {
        if let Err(err) = app.opener().open_url(&url, None::<&str>) {
            tracing::warn!("cannot open {url} in the browser: {err}");
        }
    });
}

/// Bring the window back: from the tray, a notification or a second launch.
fn show_main_window(app: &AppHandle) {
    if let Some(window) = app.get_webview_window(MAIN_WINDOW) {
        let _ = window.unminimize();
        let _ = window.show();
        let _ = window.set_focus();
    }
}

/// What `read` gets from the running engine (`None` before it started and once Quit
/// has begun).
fn running_engine<T>(app: &AppHandle, read: impl FnOnce(&Engine) -> T) -> Option<T> {
    app.state::<EngineSlot>().lock().as_ref().map(read)
}

/// The store of the running engine.
fn store(app: &AppHandle) -> Option<Store> {
    running_engine(app, |engine| engine.store().clone())
}

/// Shut the engine down (sessions finish, the store flushes), then exit with `code`.
fn quit(app: &AppHandle, code: i32) {
    let engine = app.state::<EngineSlot>().lock().take();
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        if let Some(engine) = engine {
            engine.shutdown().await;
        }
        app.exit(code);
    });
}

/// Tell the user why the app cannot go on, then exit 1 once they have read it.
fn fail(app: &AppHandle, message: String) {
    eprintln!("error: {message}");
    let app_ = app.clone();
    app.dialog()
        .message(message)
        .title("Pigeonhole cannot start")
        .kind(MessageDialogKind::Error)
        .show(move |_| quit(&app_, 1));
}

/// SIGINT and SIGTERM quit like the tray's Quit: a clean engine shutdown.
fn quit_on_signal(app: &AppHandle) {
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let (Ok(mut interrupt), Ok(mut terminate)) =
                (signal(SignalKind::interrupt()), signal(SignalKind::terminate()))
            else {
                return tracing::warn!("cannot listen for SIGINT/SIGTERM");
            };
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
        }
        #[cfg(not(unix))]
        if tokio::signal::ctrl_c().await.is_err() {
            return;
        }
        tracing::info!("shutting down");
        quit(&app, 0);
    });
}

/// On Linux, GTK aborts without a display; say so in words instead, and point at
/// the headless engine.
fn no_display() -> Option<&'static str> {
    let linux = cfg!(any(target_os = "linux", target_os = "freebsd", target_os = "openbsd", target_os = "netbsd"));
    let display = ["DISPLAY", "WAYLAND_DISPLAY"].iter().any(|var| std::env::var_os(var).is_some_and(|v| !v.is_empty()));
    (linux && !display).then_some(
        "no display (DISPLAY and WAYLAND_DISPLAY are unset): run the desktop app in a graphical session, or the headless engine with `pigeonhole serve`",
    )
}
