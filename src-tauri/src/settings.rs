//! The app's settings: what the Settings dialog shows and saves, kept as
//! `settings.json` in the app's config folder (`~/.config/dev.pigeonhole.desktop/`
//! on Linux), and how they become the engine's [`Config`].
//!
//! The environment wins over the file: `PIGEONHOLE_SMTP`, `PIGEONHOLE_HTTP` and
//! `PIGEONHOLE_DATA`, the variables `pigeonhole serve` reads too, are a contract
//! (end-to-end tests start the app on free ports and a temporary data folder with
//! them), and the dialog says which setting a variable overrides. Addresses, the data
//! folder and retention take effect when the engine starts, so the dialog offers a
//! restart; notifications and start-at-login apply at once.

use std::ffi::OsString;
use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use pigeonhole::Config;
use pigeonhole::config::env;
use serde::{Deserialize, Serialize};
use tauri::{AppHandle, Manager};
use tauri_plugin_autostart::ManagerExt as _;

/// What the user chose; `None` keeps the engine's default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct Settings {
    /// Where SMTP listens (default 127.0.0.1:1025).
    pub smtp: Option<SocketAddr>,
    /// Where the HTTP API and UI listen (default 127.0.0.1:8025).
    pub http: Option<SocketAddr>,
    /// Where mail is kept (default: the platform's data folder).
    pub data: Option<PathBuf>,
    /// Keep at most this many messages; older ones are pruned.
    pub max_messages: Option<u64>,
    /// Keep at most this many megabytes of mail; older messages are pruned.
    pub max_megabytes: Option<u64>,
    /// Show a notification for new mail.
    pub notifications: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings { smtp: None, http: None, data: None, max_messages: None, max_megabytes: None, notifications: true }
    }
}

/// The variables that override a setting, by setting name (as in the JSON file).
const OVERRIDES: [(&str, &str); 3] = [("smtp", env::SMTP), ("http", env::HTTP), ("data", env::DATA)];

impl Settings {
    /// The settings in `path`; defaults when there is no file yet. `Err` says what
    /// is wrong with the file and what to do.
    pub fn load(path: &Path) -> Result<Settings, String> {
        match fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|err| {
                format!(
                    "the settings file {} is not valid ({err}): fix it, or delete it to start from the defaults",
                    path.display()
                )
            }),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(Settings::default()),
            Err(err) => Err(format!("cannot read the settings file {}: {err}", path.display())),
        }
    }

    /// Write to `path` (through a temporary file, so a crash never leaves half a file).
    pub fn save(&self, path: &Path) -> Result<(), String> {
        let write = || -> std::io::Result<()> {
            if let Some(dir) = path.parent() {
                fs::create_dir_all(dir)?;
            }
            let temp = path.with_extension("json.partial");
            fs::write(&temp, serde_json::to_vec_pretty(self).expect("settings serialize"))?;
            fs::rename(&temp, path)
        };
        write().map_err(|err| format!("cannot save the settings to {}: {err}", path.display()))
    }

    /// What a person could get wrong in the dialog, in words.
    pub fn check(&self) -> Result<(), String> {
        if let Some(data) = &self.data
            && !data.is_absolute()
        {
            return Err(format!("the data folder must be a full path, not {:?}", data.display()));
        }
        if self.max_messages == Some(0) || self.max_megabytes == Some(0) {
            return Err("retention limits must be at least 1 (leave a field empty for the default)".into());
        }
        if let (Some(smtp), Some(http)) = (self.smtp, self.http)
            && smtp == http
            && smtp.port() != 0
        {
            return Err(format!("SMTP and HTTP cannot both listen on {smtp}"));
        }
        Ok(())
    }

    /// The engine's config: the defaults, then these settings, then the environment
    /// (`var` gives a variable's value by name; empty counts as unset). `Err` is a
    /// one-line message for a person.
    pub fn config(&self, var: impl Fn(&str) -> Option<OsString>) -> Result<Config, String> {
        let var = |name: &str| var(name).filter(|value| !value.is_empty());
        let data_dir = match (var(env::DATA), &self.data) {
            (Some(dir), _) => PathBuf::from(dir),
            (None, Some(dir)) => dir.clone(),
            (None, None) => Config::default_data_dir().ok_or(
                "no data folder: choose one in Settings or set PIGEONHOLE_DATA (no platform data folder was found)",
            )?,
        };
        let mut config = Config::new(data_dir);
        config.smtp_addr = match var(env::SMTP) {
            Some(value) => address(env::SMTP, value)?,
            None => self.smtp.unwrap_or(config.smtp_addr),
        };
        config.http_addr = match var(env::HTTP) {
            Some(value) => address(env::HTTP, value)?,
            None => self.http.unwrap_or(config.http_addr),
        };
        if let Some(max) = self.max_messages {
            config.store.max_messages = max;
        }
        if let Some(megabytes) = self.max_megabytes {
            config.store.max_total_size = megabytes.saturating_mul(1_000_000);
        }
        Ok(config)
    }
}

/// Which settings the environment overrides: `(setting, variable)` pairs.
pub fn overridden(var: impl Fn(&str) -> Option<OsString>) -> Vec<(&'static str, &'static str)> {
    OVERRIDES.into_iter().filter(|(_, name)| var(name).is_some_and(|value| !value.is_empty())).collect()
}

fn address(name: &str, value: OsString) -> Result<SocketAddr, String> {
    value.to_str().and_then(|text| text.parse().ok()).ok_or_else(|| {
        format!("{name}={value:?} is not an address: use IP:PORT, e.g. 127.0.0.1:1025 (port 0 picks a free one)")
    })
}

/// Where this app keeps its settings file.
pub fn file(app: &AppHandle) -> Result<PathBuf, String> {
    app.path()
        .app_config_dir()
        .map(|dir| dir.join("settings.json"))
        .map_err(|err| format!("no config folder for the settings: {err}"))
}

/// The settings in effect for this app: its file, or defaults (with a warning in
/// the log) when the file cannot be read, so that a broken file never stops mail
/// from being caught.
pub fn current(app: &AppHandle) -> Settings {
    file(app).and_then(|path| Settings::load(&path)).unwrap_or_else(|err| {
        tracing::warn!("{err}; using the default settings");
        Settings::default()
    })
}

/// This process's environment, for [`Settings::config`] and [`overridden`].
pub fn env_var(name: &str) -> Option<OsString> {
    std::env::var_os(name)
}

/// What the Settings dialog shows.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SettingsView {
    settings: Settings,
    /// The addresses and folder the running engine uses.
    running: Running,
    /// Settings a `PIGEONHOLE_*` variable overrides: `[setting, variable]`.
    overridden: Vec<(&'static str, &'static str)>,
    start_at_login: bool,
    /// The settings file, for people who would rather edit it.
    file: String,
    version: &'static str,
}

#[derive(Debug, Serialize)]
struct Running {
    smtp: String,
    http: String,
    data: String,
}

#[tauri::command]
pub fn get_settings(app: AppHandle) -> Result<SettingsView, String> {
    let running = crate::running_engine(&app, |engine| Running {
        smtp: engine.smtp_addr().to_string(),
        http: engine.http_addr().to_string(),
        data: data_dir(engine).display().to_string(),
    })
    .ok_or("Pigeonhole is shutting down")?;
    Ok(SettingsView {
        settings: current(&app),
        running,
        overridden: overridden(env_var),
        start_at_login: app.autolaunch().is_enabled().unwrap_or(false),
        file: file(&app)?.display().to_string(),
        version: env!("CARGO_PKG_VERSION"),
    })
}

/// Save `settings` and apply what applies at once. Returns whether the engine must
/// restart for the rest to take effect.
#[tauri::command]
pub fn save_settings(app: AppHandle, settings: Settings, start_at_login: bool) -> Result<bool, String> {
    settings.check()?;
    // Refuse what the engine would refuse at the next start (a bad variable, say).
    let next = settings.config(env_var)?;
    let before = current(&app);
    settings.save(&file(&app)?)?;

    let autostart = app.autolaunch();
    if autostart.is_enabled().unwrap_or(false) != start_at_login {
        let switched = if start_at_login { autostart.enable() } else { autostart.disable() };
        switched.map_err(|err| format!("cannot change start at login: {err}"))?;
    }
    crate::notify::set_enabled(settings.notifications);

    let moved = crate::running_engine(&app, |engine| {
        !same_address(next.smtp_addr, engine.smtp_addr())
            || !same_address(next.http_addr, engine.http_addr())
            || next.data_dir != data_dir(engine)
    });
    let retention = |s: &Settings| (s.max_messages, s.max_megabytes);
    let restart = moved.unwrap_or(false) || retention(&settings) != retention(&before);
    Ok(restart)
}

/// Whether an engine asked to listen on `wanted` would listen where `running` does
/// (port 0 asks for any port).
fn same_address(wanted: SocketAddr, running: SocketAddr) -> bool {
    wanted.ip() == running.ip() && (wanted.port() == 0 || wanted.port() == running.port())
}

fn data_dir(engine: &pigeonhole::Engine) -> &Path {
    engine.store().database_path().parent().unwrap_or(Path::new(""))
}

/// Restart the app so the engine starts on the saved settings (a clean engine
/// shutdown first: every acknowledged message is on disk).
#[tauri::command]
pub fn restart_app(app: AppHandle) {
    tracing::info!("restarting for the new settings");
    app.request_restart();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(settings: &Settings, vars: &[(&str, &str)]) -> Result<Config, String> {
        settings.config(|name| vars.iter().find(|(key, _)| *key == name).map(|(_, value)| value.into()))
    }

    #[test]
    fn defaults_are_the_engines() {
        let config = config(&Settings::default(), &[]).unwrap();
        assert_eq!(config.smtp_addr, "127.0.0.1:1025".parse().unwrap());
        assert_eq!(config.http_addr, "127.0.0.1:8025".parse().unwrap());
        assert!(config.data_dir.ends_with("pigeonhole"), "{}", config.data_dir.display());
    }

    #[test]
    fn settings_override_defaults_and_the_environment_overrides_settings() {
        let settings = Settings {
            smtp: Some("127.0.0.1:2525".parse().unwrap()),
            http: Some("127.0.0.1:9025".parse().unwrap()),
            data: Some("/srv/mail".into()),
            max_messages: Some(10),
            max_megabytes: Some(5),
            notifications: false,
        };
        let from_file = config(&settings, &[]).unwrap();
        assert_eq!(from_file.smtp_addr.port(), 2525);
        assert_eq!(from_file.data_dir, PathBuf::from("/srv/mail"));
        assert_eq!((from_file.store.max_messages, from_file.store.max_total_size), (10, 5_000_000));

        let vars =
            [("PIGEONHOLE_SMTP", "127.0.0.1:0"), ("PIGEONHOLE_HTTP", "[::1]:9025"), ("PIGEONHOLE_DATA", "/tmp/ph")];
        let from_env = config(&settings, &vars).unwrap();
        assert_eq!(from_env.smtp_addr, "127.0.0.1:0".parse().unwrap());
        assert_eq!(from_env.http_addr, "[::1]:9025".parse().unwrap());
        assert_eq!(from_env.data_dir, PathBuf::from("/tmp/ph"));
        let named = overridden(|name| vars.iter().find(|(key, _)| *key == name).map(|(_, value)| value.into()));
        assert_eq!(named, OVERRIDES.to_vec());
    }

    #[test]
    fn empty_variables_count_as_unset() {
        let config = config(&Settings::default(), &[("PIGEONHOLE_SMTP", ""), ("PIGEONHOLE_DATA", "")]).unwrap();
        assert_eq!(config.smtp_addr.port(), 1025);
        assert!(config.data_dir.ends_with("pigeonhole"));
    }

    #[test]
    fn a_bad_address_names_the_variable() {
        let err = config(&Settings::default(), &[("PIGEONHOLE_HTTP", "localhost")]).unwrap_err();
        assert!(err.starts_with("PIGEONHOLE_HTTP=\"localhost\" is not an address"), "{err}");
    }

    #[test]
    fn the_file_round_trips_and_a_broken_one_says_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/settings.json");
        assert_eq!(Settings::load(&path).unwrap(), Settings::default());
        let settings = Settings { max_messages: Some(500), notifications: false, ..Settings::default() };
        settings.save(&path).unwrap();
        assert_eq!(Settings::load(&path).unwrap(), settings);

        fs::write(&path, r#"{"smtp": "not an address"}"#).unwrap();
        let err = Settings::load(&path).unwrap_err();
        assert!(err.contains("is not valid") && err.contains("delete it"), "{err}");
    }

    #[test]
    fn mistakes_are_refused_in_words() {
        let relative = Settings { data: Some("mail".into()), ..Settings::default() };
        assert!(relative.check().unwrap_err().contains("full path"));
        let zero = Settings { max_messages: Some(0), ..Settings::default() };
        assert!(zero.check().is_err());
        let same = "127.0.0.1:2000".parse().ok();
        assert!(Settings { smtp: same, http: same, ..Settings::default() }.check().is_err());
    }
}
