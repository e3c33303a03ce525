//! The engine's settings in the desktop app: the engine's defaults, overridden by
//! `PIGEONHOLE_SMTP`, `PIGEONHOLE_HTTP` and `PIGEONHOLE_DATA`, the variables
//! `pigeonhole serve` reads too. They are a contract: end-to-end tests start the app
//! on free ports and a temporary data folder with them.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::PathBuf;

use pigeonhole::Config;

/// The settings from this process's environment. `Err` is a one-line message for a
/// person: which variable is wrong and what it should look like.
pub fn from_env() -> Result<Config, String> {
    from_vars(|name| std::env::var_os(name))
}

/// The settings from `var` (a variable's value by name; empty counts as unset).
fn from_vars(var: impl Fn(&str) -> Option<OsString>) -> Result<Config, String> {
    let var = |name: &str| var(name).filter(|value| !value.is_empty());
    let data_dir = match var("PIGEONHOLE_DATA") {
        Some(dir) => PathBuf::from(dir),
        None => Config::default_data_dir()
            .ok_or("no data folder: set PIGEONHOLE_DATA (no platform data folder was found)")?,
    };
    let mut config = Config::new(data_dir);
    if let Some(value) = var("PIGEONHOLE_SMTP") {
        config.smtp_addr = address("PIGEONHOLE_SMTP", value)?;
    }
    if let Some(value) = var("PIGEONHOLE_HTTP") {
        config.http_addr = address("PIGEONHOLE_HTTP", value)?;
    }
    Ok(config)
}

fn address(name: &str, value: OsString) -> Result<SocketAddr, String> {
    value.to_str().and_then(|text| text.parse().ok()).ok_or_else(|| {
        format!("{name}={value:?} is not an address: use IP:PORT, e.g. 127.0.0.1:1025 (port 0 picks a free one)")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<Config, String> {
        from_vars(|name| vars.iter().find(|(key, _)| *key == name).map(|(_, value)| value.into()))
    }

    #[test]
    fn defaults_are_the_engines() {
        let config = config(&[]).unwrap();
        assert_eq!(config.smtp_addr, "127.0.0.1:1025".parse().unwrap());
        assert_eq!(config.http_addr, "127.0.0.1:8025".parse().unwrap());
        assert!(config.data_dir.ends_with("pigeonhole"), "{}", config.data_dir.display());
    }

    #[test]
    fn environment_overrides_each_setting() {
        let config = config(&[
            ("PIGEONHOLE_SMTP", "127.0.0.1:0"),
            ("PIGEONHOLE_HTTP", "[::1]:9025"),
            ("PIGEONHOLE_DATA", "/tmp/ph-test"),
        ])
        .unwrap();
        assert_eq!(config.smtp_addr, "127.0.0.1:0".parse().unwrap());
        assert_eq!(config.http_addr, "[::1]:9025".parse().unwrap());
        assert_eq!(config.data_dir, PathBuf::from("/tmp/ph-test"));
    }

    #[test]
    fn empty_variables_count_as_unset() {
        let config = config(&[("PIGEONHOLE_SMTP", ""), ("PIGEONHOLE_DATA", "")]).unwrap();
        assert_eq!(config.smtp_addr.port(), 1025);
        assert!(config.data_dir.ends_with("pigeonhole"));
    }

    #[test]
    fn a_bad_address_names_the_variable() {
        let err = config(&[("PIGEONHOLE_HTTP", "localhost")]).unwrap_err();
        assert!(err.starts_with("PIGEONHOLE_HTTP=\"localhost\" is not an address"), "{err}");
    }
}
