//! The desktop app end to end: the real `pigeonhole-desktop` window on an Xvfb
//! display, driven through `tauri-driver` and WebKitWebDriver (WebDriver), with mail
//! delivered over real SMTP. The app takes its ports and data folder from
//! `PIGEONHOLE_SMTP`, `PIGEONHOLE_HTTP` and `PIGEONHOLE_DATA`.
//!
//! Needs `Xvfb`, `WebKitWebDriver` (Debian `webkit2gtk-driver`) and `tauri-driver`
//! (`cargo install tauri-driver --locked`); `scripts/setup.sh` installs them all. A
//! missing one fails the test with what to install: it is never skipped.
//! Screenshots of the window go to `artifacts/desktop-screenshots/`.

#![cfg(target_os = "linux")]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

/// How long the window gets to show something before a check fails.
const TIMEOUT: Duration = Duration::from_secs(30);

/// A tool the test needs, from PATH or cargo's bin folder; panics with what to do.
fn tool(name: &str, install: &str) -> PathBuf {
    let cargo_bin = std::env::var_os("HOME").map(|home| Path::new(&home).join(".cargo/bin"));
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(cargo_bin)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| panic!("{name} is missing: {install} (scripts/setup.sh does)"))
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A child process leading its own process group, killed with everything it
/// started (tauri-driver → WebKitWebDriver → the app) when dropped, even when a
/// check failed half-way.
struct Process(Child);

impl Process {
    fn spawn(command: &mut Command) -> Process {
        Process(command.process_group(0).spawn().unwrap_or_else(|e| panic!("start {command:?}: {e}")))
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-KILL", "--", &format!("-{}", self.0.id())]).status();
        let _ = self.0.wait();
    }
}

/// An Xvfb display of our own: `-displayfd` tells which number it took.
fn start_xvfb() -> (Process, String) {
    let mut xvfb = Process::spawn(
        Command::new(tool("Xvfb", "apt-get install xvfb"))
            // -noreset: the server must not reset when its last client (an xdotool poll, say)
            // disconnects before the app connects; GTK then fails to initialise.
            .args(["-displayfd", "1", "-noreset", "-screen", "0", "1400x900x24", "-nolisten", "tcp"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null()),
    );
    let mut line = String::new();
    BufReader::new(xvfb.0.stdout.take().unwrap()).read_line(&mut line).expect("Xvfb's display number");
    (xvfb, format!(":{}", line.trim()))
}

/// The app under tauri-driver, and a WebDriver session in its window.
struct Desktop {
    client: Client,
    smtp: SocketAddr,
    http: SocketAddr,
    /// The Xvfb display the app runs on (for xdotool).
    display: String,
    _driver: Process,
    _xvfb: Process,
    _data: tempfile::TempDir,
}

impl Desktop {
    async fn launch() -> Desktop {
        Desktop::launch_with(&[]).await
    }

    /// [`Desktop::launch`] with these variables added to the app's environment.
    async fn launch_with(env: &[(&str, &Path)]) -> Desktop {
        Desktop::launch_full(env, &[], |_| {}).await
    }

    /// [`Desktop::launch_with`], with `args` on the app's command line, running
    /// `first` (in a thread, given the display) while the app starts: to answer a
    /// dialog it shows before its window.
    async fn launch_full(
        env: &[(&str, &Path)],
        args: &[&Path],
        first: impl FnOnce(String) + Send + 'static,
    ) -> Desktop {
        tool("WebKitWebDriver", "apt-get install webkit2gtk-driver");
        let (xvfb, display) = start_xvfb();
        let data = tempfile::tempdir().unwrap();
        let smtp: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let http: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let (port, native_port) = (free_port(), free_port());
        // tauri-driver starts WebKitWebDriver, which starts the app: all inherit this
        // environment.
        let driver = Process::spawn(
            Command::new(tool("tauri-driver", "cargo install tauri-driver --locked"))
                .args(["--port", &port.to_string(), "--native-port", &native_port.to_string()])
                .env("DISPLAY", &display)
                .env("PIGEONHOLE_SMTP", smtp.to_string())
                .env("PIGEONHOLE_HTTP", http.to_string())
                .env("PIGEONHOLE_DATA", data.path())
                // GTK's file dialogs keep their state in memory, not in dconf (no D-Bus here).
                .env("GSETTINGS_BACKEND", "memory")
                .envs(env.iter().copied())
                .stdout(Stdio::null()),
        );
        let webdriver = format!("http://127.0.0.1:{port}");
        wait_until("tauri-driver to listen", || TcpStream::connect(("127.0.0.1", port)).is_ok());
        let answering = std::thread::spawn({
            let display = display.clone();
            move || first(display)
        });

        let mut capabilities = serde_json::Map::new();
        capabilities.insert("browserName".into(), json!("wry"));
        capabilities.insert(
            "tauri:options".into(),
            json!({ "application": env!("CARGO_BIN_EXE_pigeonhole-desktop"), "args": args }),
        );
        // Plain HTTP to the local driver; `native` only names the (unused) TLS stack.
        let client = ClientBuilder::native()
            .capabilities(capabilities)
            .connect(&webdriver)
            .await
            .expect("a WebDriver session in the app's window");
        answering.join().expect("answering the app's first dialog");
        Desktop { client, smtp, http, display, _driver: driver, _xvfb: xvfb, _data: data }
    }

    /// The first element matching `css`, waiting for it.
    async fn find(&self, css: &str) -> Element {
        self.client
            .wait()
            .at_most(TIMEOUT)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("the window never showed {css}: {e}"))
    }

    /// The text content of the first element matching `css` (WebKitWebDriver's own
    /// element text leaves out text it deems clipped, such as ellipsised lines).
    async fn text(&self, css: &str) -> String {
        let text = self
            .client
            .execute("return document.querySelector(arguments[0])?.textContent ?? null", vec![json!(css)])
            .await
            .expect("read the window's text");
        text.as_str().unwrap_or_else(|| panic!("nothing matches {css}")).trim().to_string()
    }

    /// Wait until `css` matches nothing. (Counted in the page: element handles for a
    /// node that is being removed can come back stale.)
    async fn gone(&self, css: &str) {
        let deadline = Instant::now() + TIMEOUT;
        let count = || async {
            let n = self.client.execute("return document.querySelectorAll(arguments[0]).length", vec![json!(css)]);
            n.await.expect("count elements in the window").as_u64().unwrap()
        };
        while count().await > 0 {
            assert!(Instant::now() < deadline, "{css} is still in the window");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Answer the native (GTK) file dialog titled `title` with `path`, as a person
    /// would: type the path into its name field and press Enter.
    fn answer_file_dialog(&self, title: &str, path: &Path) {
        type_into_window(
            &self.display,
            title,
            &[Input::Key("ctrl+a"), Input::Text(path.to_str().unwrap()), Input::Key("Return")],
        );
    }

    /// Save a screenshot as a test artifact, `artifacts/desktop-screenshots/{name}.png`.
    /// Taken from the X display (ImageMagick's `import`), so it shows the window as a
    /// person sees it, native menu bar included. (WebDriver's own screenshot waits for
    /// a GL snapshot that never comes while the app draws on the CPU, its default:
    /// see src-tauri/src/rendering.rs.)
    async fn screenshot(&self, name: &str) {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("artifacts/desktop-screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        let import = tool("import", "apt-get install imagemagick");
        let png = dir.join(format!("{name}.png"));
        let status = Command::new(import)
            .args(["-display", &self.display, "-window", "root"])
            .arg(&png)
            .status()
            .expect("run ImageMagick's import");
        assert!(status.success(), "import could not take a screenshot of {}: {status}", self.display);
    }
}

/// What [`type_into_window`] sends: a key chord (`ctrl+a`, `Return`), text, or a
/// pause for the window to catch up.
enum Input<'a> {
    Key(&'a str),
    Text(&'a str),
    Pause,
}

/// Wait for a window titled `title` on `display` (a native dialog, say), focus it
/// and send it `input`, as a person at the keyboard would. xdotool sends the keys
/// through XTEST to the focused window; no window manager runs on Xvfb, so it
/// focuses the window itself.
fn type_into_window(display: &str, title: &str, input: &[Input]) {
    let xdotool = tool("xdotool", "apt-get install xdotool");
    let run = |args: &[&str]| {
        let done = Command::new(&xdotool).args(args).env("DISPLAY", display).output().expect("run xdotool");
        (done.status.success(), String::from_utf8_lossy(&done.stdout).trim().to_string(), done.stderr)
    };
    let mut window = String::new();
    let deadline = Instant::now() + TIMEOUT;
    while window.is_empty() {
        window = run(&["search", "--onlyvisible", "--name", title]).1;
        if Instant::now() > deadline {
            let shown = run(&["search", "--onlyvisible", "--name", "."]).1;
            let names: Vec<_> = shown.lines().map(|id| run(&["getwindowname", id]).1).collect();
            panic!("no window titled {title:?} came up; the windows shown: {names:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let window = window.lines().last().unwrap().to_string();
    // GTK needs a moment after mapping a window before it takes keys.
    std::thread::sleep(Duration::from_millis(500));
    let mut steps = vec![vec!["windowfocus", "--sync", window.as_str()]];
    for step in input {
        steps.push(match step {
            Input::Key(chord) => vec!["key", "--clearmodifiers", chord],
            Input::Text(text) => vec!["type", "--delay", "10", text],
            Input::Pause => vec!["sleep", "0.5"],
        });
    }
    for args in steps {
        let (ok, _, stderr) = run(&args);
        assert!(ok, "xdotool {args:?}: {}", String::from_utf8_lossy(&stderr));
    }
}

fn wait_until(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + TIMEOUT;
    while !ready() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The body of `GET path` from the app's HTTP API (HTTP/1.0: the body runs to the
/// end of the connection).
fn http_get(http: SocketAddr, path: &str) -> Vec<u8> {
    let mut response = Vec::new();
    TcpStream::connect(http)
        .and_then(|mut s| {
            s.write_all(format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").as_bytes())?;
            s.read_to_end(&mut response)
        })
        .expect("the app's HTTP API");
    let body = response.windows(4).position(|w| w == b"\r\n\r\n").expect("an HTTP response") + 4;
    response.split_off(body)
}

/// The first line a new SMTP connection gets.
fn greeting(smtp: SocketAddr) -> String {
    let stream = TcpStream::connect(smtp).expect("connect to SMTP");
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).unwrap();
    line
}

/// Deliver `message` over SMTP, one command at a time; returns the final reply.
fn deliver(smtp: SocketAddr, message: &str) -> String {
    let mut stream = TcpStream::connect(smtp).expect("connect to SMTP");
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut reply = || {
        let mut all = String::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            all.push_str(&line);
            if line.as_bytes().get(3) != Some(&b'-') {
                return all;
            }
        }
    };
    assert!(reply().starts_with("220"));
    for (command, code) in [
        ("EHLO desktop-test.example", "250"),
        ("MAIL FROM:<app@example.com>", "250"),
        ("RCPT TO:<dev@example.com>", "250"),
        ("DATA", "354"),
    ] {
        stream.write_all(format!("{command}\r\n").as_bytes()).unwrap();
        let got = reply();
        assert!(got.starts_with(code), "{command} → {got}");
    }
    stream.write_all(format!("{message}\r\n.\r\n").as_bytes()).unwrap();
    let queued = reply();
    stream.write_all(b"QUIT\r\n").unwrap();
    queued
}

#[tokio::test(flavor = "multi_thread")]
async fn the_window_shows_mail_as_it_lands_and_pauses_intake() {
    let desktop = Desktop::launch().await;
    desktop.find("[data-testid=app][data-connected=true]").await;
    assert_eq!(desktop.client.title().await.unwrap(), "Pigeonhole");
    // The engine runs inside the app, on the ports the environment named.
    let intake = String::from_utf8(http_get(desktop.http, "/api/v1/intake")).unwrap();
    assert!(intake.contains(&format!("\"SMTPAddress\":\"{}\"", desktop.smtp)), "{intake}");
    desktop.screenshot("empty").await;

    let message = "From: App <app@example.com>\r\nTo: dev@example.com\r\nSubject: Desktop window check\r\n\r\nHello from the desktop test.";
    let queued = deliver(desktop.smtp, message);
    assert!(queued.starts_with("250"), "{queued}");
    let row = desktop.find("[data-testid=message-row]").await;
    assert_eq!(desktop.text("[data-testid=message-row] .subject").await, "Desktop window check");
    desktop.screenshot("list").await;
    row.click().await.unwrap();
    desktop.find("[data-testid=message-subject]").await;
    assert_eq!(desktop.text("[data-testid=message-subject]").await, "Desktop window check");
    desktop.find("[data-testid=tab-text]").await.click().await.unwrap();
    desktop.find("[data-testid=tab-panel] pre").await;
    assert!(desktop.text("[data-testid=tab-panel]").await.contains("Hello from the desktop test."));
    desktop.screenshot("message").await;

    // Save as .eml through the native save dialog: the file holds the bytes sent.
    let out = tempfile::tempdir().unwrap();
    let saved = out.path().join("saved.eml");
    desktop.find("[data-testid=action-download]").await.click().await.unwrap();
    desktop.answer_file_dialog("Save message as .eml", &saved);
    desktop.find("[data-testid=notice]").await;
    wait_until("the saved file", || saved.exists());
    assert_eq!(std::fs::read(&saved).unwrap(), format!("{message}\r\n").into_bytes());
    assert!(desktop.text("[data-testid=notice]").await.contains(saved.to_str().unwrap()));

    // Export… every message as an mbox: it splits back into the bytes sent.
    let mbox = out.path().join("all.mbox");
    desktop.find("[data-testid=export-all]").await.click().await.unwrap();
    desktop.find("[data-testid=export-mbox]").await.click().await.unwrap();
    desktop.answer_file_dialog("Export as mbox", &mbox);
    wait_until("the mbox file", || mbox.exists());
    let messages = pigeonhole::mail::mbox::read(&std::fs::read(&mbox).unwrap());
    assert_eq!(messages, vec![format!("{message}\r\n").into_bytes()]);
    desktop.screenshot("exported").await;

    // … and as a folder of .eml files, picked in the folder dialog.
    let folder = out.path().join("folder");
    std::fs::create_dir(&folder).unwrap();
    desktop.find("[data-testid=export-all]").await.click().await.unwrap();
    desktop.find("[data-testid=export-folder]").await.click().await.unwrap();
    let typed = format!("{}/", folder.display());
    type_into_window(
        &desktop.display,
        "Export to a folder",
        // A typed `/` opens the location field (keys typed while it opens are
        // lost); Return chooses the folder.
        &[Input::Text("/"), Input::Pause, Input::Text(&typed[1..]), Input::Key("Return")],
    );
    wait_until("the exported .eml file", || std::fs::read_dir(&folder).unwrap().count() == 1);
    let exported = std::fs::read_dir(&folder).unwrap().next().unwrap().unwrap();
    assert!(exported.file_name().to_str().unwrap().ends_with(" Desktop window check.eml"), "{exported:?}");
    assert_eq!(std::fs::read(exported.path()).unwrap(), format!("{message}\r\n").into_bytes());

    desktop.find("[data-testid=intake-toggle]").await.click().await.unwrap();
    desktop.find("[data-testid=intake-paused]").await;
    let refused = greeting(desktop.smtp);
    assert!(refused.starts_with("421"), "a connection while paused got {refused:?}");
    desktop.screenshot("paused").await;
    desktop.find("[data-testid=intake-paused] button").await.click().await.unwrap();
    desktop.gone("[data-testid=intake-paused]").await;
    let welcomed = greeting(desktop.smtp);
    assert!(welcomed.starts_with("220"), "a connection after resuming got {welcomed:?}");

    desktop.client.close().await.unwrap();
}

/// Links in mail open in the system browser, never in the window. xdg-open (what the
/// app's opener runs on Linux) asks the desktop's default handler of the URL's
/// scheme first and `$BROWSER` only when there is none, so `$BROWSER` alone would
/// lose to any installed browser: the app gets a private XDG config naming a script
/// as the handler of http, https and mailto, which records what it is asked to open.
#[tokio::test(flavor = "multi_thread")]
async fn links_open_in_the_system_browser_and_the_window_stays_on_the_ui() {
    let home = tempfile::tempdir().unwrap();
    let (config, share, opened) = (home.path().join("config"), home.path().join("share"), home.path().join("opened"));
    let browser = home.path().join("browser");
    std::fs::write(&browser, format!("#!/bin/sh\nprintf '%s\\n' \"$1\" >> '{}'\n", opened.display())).unwrap();
    std::fs::set_permissions(&browser, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    std::fs::create_dir_all(share.join("applications")).unwrap();
    std::fs::write(
        share.join("applications/test-browser.desktop"),
        format!("[Desktop Entry]\nType=Application\nName=Test browser\nExec={} %u\n", browser.display()),
    )
    .unwrap();
    std::fs::create_dir_all(&config).unwrap();
    let defaults =
        ["http", "https", "mailto"].map(|scheme| format!("x-scheme-handler/{scheme}=test-browser.desktop\n"));
    std::fs::write(config.join("mimeapps.list"), format!("[Default Applications]\n{}", defaults.concat())).unwrap();
    let opened_urls = || std::fs::read_to_string(&opened).unwrap_or_default();

    let desktop = Desktop::launch_with(&[("XDG_CONFIG_HOME", &config), ("XDG_DATA_HOME", &share)]).await;
    desktop.find("[data-testid=app][data-connected=true]").await;
    let link = "https://example.com/confirm?token=abc123&next=%2Fhome";
    let message = format!(
        "From: App <app@example.com>\r\nTo: dev@example.com\r\nSubject: Confirm your address\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/html; charset=utf-8\r\n\r\n\
         <p><a href=\"tel:+15550100\">Call us</a></p>\r\n<p><a href=\"{}\">Confirm</a></p>",
        link.replace('&', "&amp;")
    );
    let queued = deliver(desktop.smtp, &message);
    assert!(queued.starts_with("250"), "{queued}");
    desktop.find("[data-testid=message-row]").await.click().await.unwrap();
    desktop.find("[data-testid=tab-html]").await.click().await.unwrap();
    desktop.find("[data-testid=html-frame]").await.enter_frame().await.unwrap();
    // A tel: link is refused (only http, https and mailto leave the app); the next
    // click then shows that only the https one reached the browser.
    desktop.find("a[href^='tel:']").await.click().await.unwrap();
    desktop.find("a[href^='https:']").await.click().await.unwrap();
    let browser_got = |count: usize| async move {
        let deadline = Instant::now() + TIMEOUT;
        while opened_urls().lines().count() < count {
            assert!(Instant::now() < deadline, "the browser never got link {count}: {:?}", opened_urls());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    browser_got(1).await;
    assert_eq!(opened_urls(), format!("{link}\n"));
    desktop.client.enter_parent_frame().await.unwrap();
    desktop.screenshot("link-opened").await;
    assert_eq!(desktop.client.windows().await.unwrap().len(), 1, "a link opened a window in the app");
    let ui = desktop.client.current_url().await.unwrap();
    assert_eq!((ui.origin().ascii_serialization(), ui.path()), (format!("http://{}", desktop.http), "/"));
    let id = ui.fragment().and_then(|hash| hash.strip_prefix('/')).expect("the open message in the URL").to_string();

    // The window itself going to another site: that opens in the browser instead.
    let go = |url: String| desktop.client.execute("location.assign(arguments[0])", vec![json!(url)]);
    go("https://example.org/elsewhere".into()).await.unwrap();
    browser_got(2).await;
    assert_eq!(opened_urls(), format!("{link}\nhttps://example.org/elsewhere\n"));
    // Going to a page of the engine's that is not the UI, a preview: back to the UI.
    desktop.client.execute("window.beforeLeaving = true", vec![]).await.unwrap();
    go(format!("/view/{id}.html")).await.unwrap();
    let reloaded_ui =
        "return !window.beforeLeaving && location.pathname === '/' && !!document.querySelector('[data-testid=app]')";
    let deadline = Instant::now() + TIMEOUT;
    while desktop.client.execute(reloaded_ui, vec![]).await.ok() != Some(json!(true)) {
        assert!(Instant::now() < deadline, "the window did not come back to the UI");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(opened_urls().lines().count(), 2, "an engine page went to the browser");

    desktop.client.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_port_in_use_is_offered_another_and_settings_are_saved() {
    // Another program holds the SMTP port the app is told to use.
    let holder = TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = holder.local_addr().unwrap();
    let home = tempfile::tempdir().unwrap();
    let taken_text = taken.to_string();
    let env = [("PIGEONHOLE_SMTP", Path::new(&taken_text)), ("HOME", home.path())];
    // "Port in use": Alt+U is "Use port …".
    let desktop = Desktop::launch_full(&env, &[], |display| {
        type_into_window(&display, "Port in use", &[Input::Key("alt+u")]);
    })
    .await;
    desktop.find("[data-testid=app][data-connected=true]").await;

    // The app runs on a port after the taken one, and says so.
    let intake: serde_json::Value = serde_json::from_slice(&http_get(desktop.http, "/api/v1/intake")).unwrap();
    let smtp: SocketAddr = intake["SMTPAddress"].as_str().unwrap().parse().unwrap();
    assert!(smtp.port() > taken.port(), "{smtp} after {taken}");
    assert!(greeting(smtp).starts_with("220"));

    // Settings: the variable wins over the SMTP field, and saving writes the file and
    // the autostart entry at once; a new retention limit needs a restart.
    // The menu's accelerators reach the page: Ctrl+F the search box, Ctrl+, Settings.
    type_into_window(&desktop.display, "Pigeonhole", &[Input::Key("ctrl+f")]);
    let focused = "return document.activeElement?.dataset.testid ?? null";
    wait_until_value(&desktop, focused, "search-input").await;
    type_into_window(&desktop.display, "Pigeonhole", &[Input::Key("ctrl+comma")]);
    desktop.find("[data-testid=settings-max-messages]").await.send_keys("250").await.unwrap();
    assert!(desktop.text("[data-testid=settings-dialog]").await.contains("PIGEONHOLE_SMTP is set"));
    desktop.find("[data-testid=settings-start-at-login]").await.click().await.unwrap();
    desktop.screenshot("settings").await;
    desktop.find("[data-testid=settings-save]").await.click().await.unwrap();
    desktop.find("[data-testid=settings-restart]").await;

    let file = home.path().join(".config/dev.pigeonhole.desktop/settings.json");
    let saved: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(saved["maxMessages"], 250, "{saved}");
    assert!(saved["smtp"].is_null(), "an address from the environment is not written: {saved}");
    let autostart = std::fs::read_dir(home.path().join(".config/autostart")).expect("an autostart folder");
    let entries: Vec<_> = autostart.map(|entry| entry.unwrap().file_name().into_string().unwrap()).collect();
    assert!(entries.iter().any(|name| name.ends_with(".desktop")), "{entries:?}");
    drop(holder);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_mail_file_opened_with_the_app_is_imported_and_shown() {
    let files = tempfile::tempdir().unwrap();
    let eml = files.path().join("opened.eml");
    let raw = "From: Files <files@example.com>\r\nTo: dev@example.com\r\nSubject: Opened with the app\r\n\r\nFrom a file.\r\n";
    std::fs::write(&eml, raw).unwrap();
    let desktop = Desktop::launch_full(&[], &[eml.as_path()], |_| {}).await;
    desktop.find("[data-testid=message-subject]").await;
    assert_eq!(desktop.text("[data-testid=message-subject]").await, "Opened with the app");
    // Stored byte for byte.
    let id = desktop.client.execute("return location.hash.slice(2)", vec![]).await.unwrap();
    let stored = http_get(desktop.http, &format!("/api/v1/message/{}/raw", id.as_str().unwrap()));
    assert_eq!(stored, raw.as_bytes());

    // Import…: an mbox of two. (Under WebDriver, WebKit hands a file input the files
    // sent to it instead of showing its native chooser.)
    let mbox = files.path().join("two.mbox");
    let second = "From: Files <files@example.com>\nSubject: Second from the mbox\n\nTwo.\n";
    std::fs::write(&mbox, format!("From a@example.com Sat Nov 28 10:00:00 2026\nSubject: First from the mbox\n\nOne.\n\nFrom b@example.com Sat Nov 28 10:00:01 2026\n{second}\n")).unwrap();
    desktop.find("[data-testid=import-button]").await;
    desktop.find("[data-testid=import-input]").await.send_keys(mbox.to_str().unwrap()).await.unwrap();
    wait_until_text(&desktop, "[data-testid=message-subject]", "Second from the mbox").await;
    assert_eq!(desktop.text("[data-testid=bulk-summary-count]").await, "3 messages");
    desktop.screenshot("imported").await;
}

/// The Checks tab in the window: a message with problems shows the engine's score and
/// counts, its categories, the list's badge, and a "Show" jump lands on the header row,
/// highlighted; a check's reference link is one the window sends to the system browser.
#[tokio::test(flavor = "multi_thread")]
async fn the_checks_tab_shows_the_report_and_jumps_to_a_header() {
    let desktop = Desktop::launch().await;
    desktop.find("[data-testid=app][data-connected=true]").await;
    let message = "From: App <app@example.com>\r\nTo: dev@example.com\r\nSubject: Checked\r\n\
                   Subject: Checked twice\r\nBcc: hidden@example.com\r\n\r\nHello from the checks test.";
    let queued = deliver(desktop.smtp, message);
    assert!(queued.starts_with("250"), "{queued}");
    let report: serde_json::Value =
        serde_json::from_slice(&http_get(desktop.http, "/api/v1/message/latest/checks")).expect("the report");
    let errors = report["Summary"]["Errors"].as_u64().unwrap();
    assert!(errors > 0, "the message trips an error-level check: {report}");

    // The badge comes with the row, before the message is opened.
    wait_until_text(&desktop, "[data-testid=message-row] [data-testid=check-badge]", &errors.to_string()).await;
    desktop.find("[data-testid=message-row]").await.click().await.unwrap();
    desktop.find("[data-testid=tab-checks]").await.click().await.unwrap();
    wait_until_text(&desktop, "[data-testid=checks-score]", &format!("{}/100", report["Score"])).await;
    assert!(desktop.text("[data-testid=checks-errors]").await.starts_with(&errors.to_string()));
    for category in ["smtp", "headers"] {
        desktop.find(&format!("[data-testid=check-category][data-category={category}]")).await;
    }
    let reference = "[data-testid=check-reference]";
    let target = desktop.client.execute("return document.querySelector(arguments[0]).target", vec![json!(reference)]);
    assert_eq!(target.await.unwrap(), json!("_blank"));
    desktop.screenshot("checks").await;

    let show =
        "[data-testid=check-item][data-check-id='headers.bcc-leaked'] [data-testid=check-show][data-jump=header]";
    desktop.find(show).await.click().await.unwrap();
    wait_until_text(&desktop, "[data-testid=headers-table] tr[data-highlighted] th", "Bcc").await;
    let selected = "return document.querySelector('[data-testid=tab-headers]').getAttribute('aria-selected')";
    assert_eq!(desktop.client.execute(selected, vec![]).await.unwrap(), json!("true"));
    desktop.screenshot("checks-jump-header").await;
}

/// Wait until the first element matching `css` has exactly `text`.
async fn wait_until_text(desktop: &Desktop, css: &str, text: &str) {
    let script = format!("return document.querySelector({})?.textContent.trim() ?? null", json!(css));
    wait_until_value(desktop, &script, text).await;
}

/// Wait until `script`, run in the page, returns the string `value`.
async fn wait_until_value(desktop: &Desktop, script: &str, value: &str) {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let now = desktop.client.execute(script, vec![]).await.unwrap();
        if now.as_str() == Some(value) {
            return;
        }
        assert!(Instant::now() < deadline, "`{script}` never gave {value:?} (last {now})");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Run `script` in the window's current frame as an async WebDriver script: it gets
/// `done` (call it with the result) as its last argument.
async fn run_async(desktop: &Desktop, script: &str) -> serde_json::Value {
    desktop.client.execute_async(script, vec![]).await.unwrap_or_else(|e| panic!("`{script}` failed: {e}"))
}

/// The isolation pattern (tauri.conf.json, src-tauri/isolation/) works in our window,
/// which shows a remote page (the engine's UI over http): Tauri adds its isolation
/// frame, every IPC call passes through the frame's hook, the app's own commands with
/// their arguments get through, and anything else comes back refused by the hook
/// (not merely by the capability). The UI's policy lets the frame and the IPC be:
/// not one violation meanwhile.
#[tokio::test(flavor = "multi_thread")]
async fn the_isolation_frame_vets_every_command() {
    let desktop = Desktop::launch().await;
    desktop.find("[data-testid=app][data-connected=true]").await;
    watch_csp(&desktop).await;
    let pattern = desktop
        .client
        .execute(
            "return [window.__TAURI_INTERNALS__.__TAURI_PATTERN__.pattern, \
             document.querySelector('iframe#__tauri_isolation__')?.src ?? null]",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(pattern[0], "isolation", "{pattern}");
    let frame = pattern[1].as_str().expect("Tauri's isolation frame in the page");
    assert!(frame.starts_with("isolation-") && frame.ends_with("://localhost/"), "{frame}");

    let invoke = |command: &str, args: serde_json::Value| {
        format!(
            "const done = arguments[arguments.length - 1]; \
             window.__TAURI_INTERNALS__.invoke({}, {args}).then((ok) => done({{ ok }}), (err) => done({{ err: String(err) }}))",
            json!(command)
        )
    };
    // The app's command, as the Settings dialog calls it: through the frame and back.
    let settings = run_async(&desktop, &invoke("get_settings", json!({}))).await;
    assert!(settings["ok"]["running"]["http"].as_str() == Some(&desktop.http.to_string()), "{settings}");
    // A command the page may not call, and an app command with arguments it does not
    // take: the hook turns each into a call of no command at all.
    for (command, args) in [
        ("plugin:opener|open_url", json!({"url": "https://example.org"})),
        ("plugin:shell|execute", json!({"program": "sh"})),
        ("save_message", json!({"id": 42})),
        ("save_message", json!({"id": "x", "path": "/etc/passwd"})),
        ("export_messages", json!({"selection": {"ids": ["x"]}, "format": "../../x", "progress": "__CHANNEL__:1"})),
        ("save_settings", json!({"settings": {"data": "/tmp", "evil": 1}, "startAtLogin": false})),
    ] {
        let refused = run_async(&desktop, &invoke(command, args.clone())).await;
        let error = refused["err"].as_str().unwrap_or_else(|| panic!("{command} {args} was let through: {refused}"));
        assert!(error.contains("refused-by-isolation"), "{command} {args}: {error}");
    }
    assert_eq!(csp_violations(&desktop).await, Vec::<String>::new());
}

/// From now on, record the CSP violations of the window's page (the UI's).
async fn watch_csp(desktop: &Desktop) {
    let script = "window.__cspViolations = []; \
        document.addEventListener('securitypolicyviolation', (e) => \
          window.__cspViolations.push(`${e.effectiveDirective} refused ${e.blockedURI || '(inline)'}`))";
    desktop.client.execute(script, vec![]).await.unwrap();
}

/// What the page's policy refused since [`watch_csp`].
async fn csp_violations(desktop: &Desktop) -> Vec<String> {
    let seen = desktop.client.execute("return window.__cspViolations", vec![]).await.unwrap();
    serde_json::from_value(seen).unwrap()
}

/// A local HTTP server that records the path of every request it gets: the canary
/// of the XSS corpus (its payloads ask it for `/js/<n>` when they run and load
/// `/leak/<n>` when they reach out). `page`, when given, is served at `/control`.
struct Canary {
    origin: String,
    requests: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Canary {
    fn start(page: impl FnOnce(&str) -> Option<String>) -> Canary {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let origin = format!("http://{}", listener.local_addr().unwrap());
        let page = page(&origin);
        let requests = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = requests.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (seen, page) = (seen.clone(), page.clone());
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(&stream);
                    let mut line = String::new();
                    if reader.read_line(&mut line).is_err() {
                        return;
                    }
                    let path = line.split(' ').nth(1).unwrap_or("").to_string();
                    while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                        line.clear();
                    }
                    let (kind, body) = match page {
                        Some(page) if path == "/control" => ("text/html", page),
                        _ => ("text/plain", String::new()),
                    };
                    seen.lock().unwrap().push(path);
                    let _ = (&stream).write_all(
                        format!(
                            "HTTP/1.0 200 OK\r\nContent-Type: {kind}\r\nContent-Length: {}\r\n\r\n{body}",
                            body.len()
                        )
                        .as_bytes(),
                    );
                });
            }
        });
        Canary { origin, requests }
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

/// `node ui/tests/xss-corpus.mjs args…` (the corpus made into mail, shared with the
/// browser test html-safety.test.mjs): its output.
fn xss_corpus(args: &[&str]) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("ui/tests/xss-corpus.mjs");
    let node = tool("node", "install Node.js 20+");
    let done = Command::new(node).arg(script).args(args).output().expect("run node ui/tests/xss-corpus.mjs");
    assert!(done.status.success(), "xss-corpus.mjs {args:?}: {}", String::from_utf8_lossy(&done.stderr));
    String::from_utf8(done.stdout).unwrap()
}

/// The control: WebKitGTK itself (MiniBrowser, the same WebKit as the window, driven
/// by WebKitWebDriver on the same display) showing the first corpus message's HTML in
/// a page without sandbox or policy must trip the canary: payloads run there, so the
/// window's silence means something.
async fn control_trips_the_canary(display: &str) {
    let canary = Canary::start(|origin| Some(xss_corpus(&["control", origin])));
    let minibrowser = Path::new("/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser");
    assert!(minibrowser.is_file(), "{} is missing: apt-get install libwebkit2gtk-4.1-0", minibrowser.display());
    let port = free_port();
    let _driver = Process::spawn(
        Command::new(tool("WebKitWebDriver", "apt-get install webkit2gtk-driver"))
            .arg(format!("--port={port}"))
            .env("DISPLAY", display)
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    wait_until("WebKitWebDriver to listen", || TcpStream::connect(("127.0.0.1", port)).is_ok());
    let mut capabilities = serde_json::Map::new();
    capabilities.insert("webkitgtk:browserOptions".into(), json!({ "binary": minibrowser, "args": ["--automation"] }));
    let client = ClientBuilder::native()
        .capabilities(capabilities)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("a WebDriver session in MiniBrowser");
    client.goto(&format!("{}/control", canary.origin)).await.unwrap();
    let deadline = Instant::now() + TIMEOUT;
    while !canary.requests().iter().any(|path| path.starts_with("/js/")) {
        assert!(Instant::now() < deadline, "the canary is dead: no payload called it in WebKit unprotected");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = client.close().await;
}

/// The XSS corpus of the browser test (ui/tests/data/xss-payloads.json, made into 10
/// messages by ui/tests/xss-corpus.mjs) in the real window: every message opened and
/// every tab shown (HTML, text, headers, attachments, parts, source). Nothing runs
/// (no `window.__pwned` in the page or the preview, no dialog, the title and the
/// address unchanged, no request for `/js/<n>`) and, with remote content blocked,
/// nothing loads (not one request to the canary). Controls: the same HTML trips the
/// canary in unprotected WebKit, and the window does reach the canary once "load
/// remote content" is clicked.
#[tokio::test(flavor = "multi_thread")]
async fn the_xss_corpus_runs_nothing_and_loads_nothing_in_the_window() {
    let desktop = Desktop::launch().await;
    control_trips_the_canary(&desktop.display).await;
    desktop.find("[data-testid=app][data-connected=true]").await;
    watch_csp(&desktop).await;
    let canary = Canary::start(|_| None);
    let sent = xss_corpus(&["send", &desktop.smtp.port().to_string(), &canary.origin]);
    let messages: Vec<serde_json::Value> = sent.lines().map(|line| serde_json::from_str(line).unwrap()).collect();
    assert_eq!(messages.len(), 10, "{sent}");
    let pwned = "return window.__pwned ?? null";

    for (m, message) in messages.iter().enumerate() {
        let id = message["id"].as_str().unwrap();
        desktop.find(&format!("[data-testid=message-row][data-id='{id}']")).await.click().await.unwrap();
        wait_until_value(
            &desktop,
            "return document.querySelector('[data-testid=message-view]')?.dataset.id ?? null",
            id,
        )
        .await;
        let subject = desktop.text("[data-testid=message-subject]").await;
        assert!(subject.starts_with(&format!("XSS {m}: ")), "message {m}: the subject as text: {subject}");
        for tab in ["html", "text", "headers", "attachments", "parts", "source"] {
            // The corpus's twenty-odd long names make the message header taller than the
            // window: the tabs are clicked in the page (WebDriver refuses a hidden one).
            let click = format!("document.querySelector('[data-testid=tab-{tab}]').click()");
            desktop.client.execute(&click, vec![]).await.unwrap();
            let selected =
                format!("return document.querySelector('[data-testid=tab-{tab}]').getAttribute('aria-selected')");
            wait_until_value(&desktop, &selected, "true").await;
            if tab == "html" {
                let frame = desktop.find("[data-testid=html-frame]").await;
                let sandbox = frame.attr("sandbox").await.unwrap().unwrap_or_default();
                assert!(!sandbox.contains("allow-scripts"), "message {m}: the preview may run scripts: {sandbox}");
                frame.enter_frame().await.unwrap();
                // Its first paragraph (hostile nesting further on may make the sanitizer
                // drop the rest).
                let marker = format!("//p[normalize-space(.)='corpus {m}']");
                let shown = desktop.client.wait().at_most(TIMEOUT).for_element(Locator::XPath(&marker)).await;
                shown.unwrap_or_else(|e| panic!("message {m}: the preview never showed {marker}: {e}"));
                let inside = desktop.client.execute(pwned, vec![]).await;
                assert!(
                    matches!(&inside, Ok(serde_json::Value::Null) | Err(_)),
                    "message {m}: payload ran in the preview: {inside:?}"
                );
                desktop.client.enter_parent_frame().await.unwrap();
            }
        }
        let ran = desktop.client.execute(pwned, vec![]).await.unwrap();
        assert_eq!(ran, serde_json::Value::Null, "message {m}: payload {ran} ran in the UI");
        assert!(desktop.client.get_alert_text().await.is_err(), "message {m}: a dialog is open");
    }
    desktop.screenshot("xss-corpus").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        canary.requests(),
        Vec::<String>::new(),
        "with remote content blocked the canary was asked (/js/<n>: payload n ran; /leak/<n>: it loaded)"
    );
    assert_eq!(desktop.client.title().await.unwrap(), "Pigeonhole", "a message retitled the UI");
    let ui = desktop.client.current_url().await.unwrap();
    assert_eq!((ui.origin().ascii_serialization(), ui.path()), (format!("http://{}", desktop.http), "/"));
    assert_eq!(
        csp_violations(&desktop).await,
        Vec::<String>::new(),
        "the UI's policy refused something while showing the corpus"
    );
    // The window's own requests count as the UI's: every message opened is read.
    let list: serde_json::Value = serde_json::from_slice(&http_get(desktop.http, "/api/v1/messages")).unwrap();
    let unread: Vec<_> = list["messages"].as_array().unwrap().iter().filter(|m| m["Read"] != true).collect();
    assert!(unread.is_empty(), "opened in the window but unread: {unread:?}");

    // The second control: allowed, the remote content of the last message does reach
    // the canary from the window (and still runs nothing).
    desktop.client.execute("document.querySelector('[data-testid=tab-html]').click()", vec![]).await.unwrap();
    desktop.find("[data-testid=load-remote]").await;
    desktop.client.execute("document.querySelector('[data-testid=load-remote]').click()", vec![]).await.unwrap();
    let deadline = Instant::now() + TIMEOUT;
    while !canary.requests().iter().any(|path| path.starts_with("/leak/")) {
        assert!(Instant::now() < deadline, "remote content allowed, yet the window never reached the canary");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let ran: Vec<_> = canary.requests().into_iter().filter(|path| path.starts_with("/js/")).collect();
    assert!(ran.is_empty(), "with remote content allowed, payloads ran: {ran:?}");
}
