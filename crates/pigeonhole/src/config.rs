//! Engine settings. Every limit the engine enforces lives here, with a default that
//! protects a laptop; the CLI and the desktop app fill a [`Config`] and hand it to
//! [`crate::Engine::start`].

use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::PathBuf;
use std::time::Duration;

use crate::model::ChaosTriggers;

/// Everything the engine needs to start.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where the SMTP listener binds. Port 0 picks a free port.
    pub smtp_addr: SocketAddr,
    /// Where the HTTP API (and UI) binds. Port 0 picks a free port.
    pub http_addr: SocketAddr,
    /// A Unix socket for the HTTP API and UI instead of `http_addr` (`--http
    /// unix:PATH[:MODE]`, as Mailpit's `--listen`); `None`: TCP on `http_addr`.
    pub http_socket: Option<UnixSocket>,
    /// Folder holding the database and the TLS certificate.
    pub data_dir: PathBuf,
    pub smtp: SmtpLimits,
    /// Where mail is kept: the data folder, or a shared PostgreSQL database.
    pub store_location: StoreLocation,
    pub store: StoreConfig,
    /// Longest time shutdown waits for in-flight SMTP sessions before closing them.
    pub shutdown_grace: Duration,
    /// Let the link check reach loopback, private, link-local and metadata addresses
    /// (`--allow-local-link-check`): off, a message cannot make us probe this machine
    /// or its network.
    pub allow_local_link_check: bool,
    /// The spamd (`host:port`) that `/api/v1/message/{ID}/sa-check` asks
    /// (`--enable-spamassassin`); `None`: the check is off (404).
    pub spamassassin: Option<String>,
    /// Mailpit's chaos triggers, to start with; `Some` also lets `/api/v1/chaos`
    /// change them (`--enable-chaos`, `--chaos-triggers`). `None`: chaos is off.
    pub chaos: Option<ChaosTriggers>,
    /// Where released messages are relayed; `None` turns release off.
    pub relay: Option<RelayConfig>,
    /// The delivery simulation's rules file (`--rules`), read at start and written
    /// by `PUT /api/v1/rules`; `None`: `rules.toml` in the data folder, when there.
    pub rules_file: Option<PathBuf>,
    /// htpasswd file of the users allowed into the UI, the API and the event stream
    /// (`--ui-auth-file`); `None`: no authentication.
    pub ui_auth_file: Option<PathBuf>,
    /// API tokens (`--api-tokens-file`): `name:sha256-hex[:inboxes]` lines, taken
    /// as `Authorization: Bearer`; `None`: no tokens.
    pub api_tokens_file: Option<PathBuf>,
    /// Serve HTTP on an address other machines can reach without authentication
    /// (`--http-allow-unauthenticated`). Without it such an address needs
    /// `ui_auth_file`: captured mail holds password-reset links and codes.
    pub http_allow_unauthenticated: bool,
    /// TOML file of the keys each provider API takes and the inboxes they map to
    /// (`--provider-keys`); `None`: every provider route takes any key.
    pub provider_keys: Option<PathBuf>,
    /// Folder of copies of the providers' stored templates (`--provider-templates`:
    /// `ID.subject`, `ID.html`, `ID.txt`), rendered into templated sends; `None`:
    /// a templated send is stored with the content its request carries.
    pub provider_templates: Option<PathBuf>,
    pub http: HttpLimits,
    /// Where the authentication checks get keys and records, and which IP they
    /// check SPF for.
    pub checks: CheckConfig,
    pub message_webhooks: MessageWebhookConfig,
    /// Where `GET /metrics` is served (`--enable-prometheus`); off by default.
    pub prometheus: Prometheus,
    pub screenshots: ScreenshotConfig,
    /// The POP3 listener (`--pop3 ADDR`); `None`: off.
    pub pop3: Option<MailboxServerConfig>,
    /// The IMAP server (`--imap ADDR`); `None`: off.
    pub imap: Option<ImapConfig>,
}

/// The IMAP server: the listener's settings every mail-reading one has, TLS
/// from the first byte or not, and IMAP's own limits.
#[derive(Debug, Clone)]
pub struct ImapConfig {
    pub server: MailboxServerConfig,
    /// TLS from the first byte (IMAPS, `--imap-tls-implicit`) instead of STARTTLS.
    pub implicit_tls: bool,
    pub limits: ImapLimits,
}

impl ImapConfig {
    /// The defaults, listening on `addr`: no users file, STARTTLS with the
    /// engine's certificate, RFC 3501's 30 minutes of idling (and one more).
    pub fn new(addr: SocketAddr) -> ImapConfig {
        let mut server = MailboxServerConfig::new(addr);
        server.idle_timeout = Duration::from_secs(31 * 60);
        ImapConfig { server, implicit_tls: false, limits: ImapLimits::default() }
    }
}

/// IMAP's limits on each session, besides the listener's (connections, idle time,
/// login failures) in [`MailboxServerConfig`].
#[derive(Debug, Clone)]
pub struct ImapLimits {
    /// Longest literal (an APPENDed message); a longer announcement is refused
    /// before a byte of it is read.
    pub max_literal_size: u32,
    /// Longest command line outside literals; before login, the longest command.
    pub max_line_length: u32,
    /// Bad commands in one session before it is closed.
    pub max_bad_commands: usize,
    /// Longest time from a command's first byte to its last.
    pub command_timeout: Duration,
    /// Longest wait for a command before logging in.
    pub login_timeout: Duration,
}

impl Default for ImapLimits {
    fn default() -> Self {
        ImapLimits {
            max_literal_size: 50 * 1000 * 1000,
            max_line_length: 64 * 1024,
            max_bad_commands: 20,
            command_timeout: Duration::from_secs(60),
            login_timeout: Duration::from_secs(60),
        }
    }
}

/// A listener mail clients read the captured mail through (POP3, IMAP): where it
/// binds, who may log in, its certificate and its limits.
#[derive(Debug, Clone)]
pub struct MailboxServerConfig {
    pub addr: SocketAddr,
    /// htpasswd file of the users who may log in; `None`: any user and password,
    /// which the engine allows only on a loopback address.
    pub auth_file: Option<PathBuf>,
    /// PEM certificate chain and key for TLS; `None`: the engine's self-signed
    /// certificate (the SMTP listener's).
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// Open connections at most; more are refused with an error reply.
    pub max_connections: usize,
    /// A session that sends no complete command for this long is closed
    /// (POP3's RFC 1939 asks for at least 10 minutes).
    pub idle_timeout: Duration,
    /// Failed logins from one address within `login_failure_window` before it
    /// is refused for the rest of that window.
    pub login_failures: u32,
    pub login_failure_window: Duration,
}

impl MailboxServerConfig {
    /// The defaults, listening on `addr`.
    pub fn new(addr: SocketAddr) -> MailboxServerConfig {
        MailboxServerConfig {
            addr,
            auth_file: None,
            tls_cert: None,
            tls_key: None,
            max_connections: 64,
            idle_timeout: Duration::from_secs(10 * 60),
            login_failures: 5,
            login_failure_window: Duration::from_secs(60),
        }
    }
}

/// Message webhooks from the command line, as Mailpit's flags give them; more
/// are set in `webhooks.json` or through `/api/v1/webhooks`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageWebhookConfig {
    /// Every new message's summary is POSTed to each (`--webhook-url`).
    pub urls: Vec<String>,
    /// At most this many message webhook deliveries start per second
    /// (`--webhook-limit`, Mailpit's default 5); 0: no limit.
    pub limit: u32,
}

impl Default for MessageWebhookConfig {
    fn default() -> Self {
        MessageWebhookConfig { urls: Vec::new(), limit: 5 }
    }
}

/// Where the Prometheus metrics are served: Mailpit's `--enable-prometheus`,
/// `true`, `false` or an address.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Prometheus {
    /// No `/metrics`: the path answers as any unknown one.
    #[default]
    Off,
    /// `/metrics` on the HTTP port, behind the same Host check and basic auth as
    /// the API.
    Http,
    /// A listener of its own at this address, serving only `/metrics`.
    Listen(SocketAddr),
}

impl Prometheus {
    /// Mailpit's values: `true`, `false` (or empty), or `[host]:port`, where no host
    /// means every interface, as Go's listeners take it.
    pub fn parse(value: &str) -> Result<Prometheus, String> {
        let value = value.trim();
        match value.to_ascii_lowercase().as_str() {
            "" | "false" => return Ok(Prometheus::Off),
            "true" => return Ok(Prometheus::Http),
            _ => {}
        }
        let address = match value.strip_prefix(':') {
            Some(port) => format!("0.0.0.0:{port}"),
            None => value.replace("localhost:", "127.0.0.1:"),
        };
        address
            .parse()
            .map(Prometheus::Listen)
            .map_err(|_| format!("`{value}` is not true, false or an address such as 127.0.0.1:9090"))
    }
}

/// The authentication checks' sources (`auth.dkim`, `auth.spf`, `auth.dmarc`,
/// `deliverability.bulk-sender`). The default asks no one: no file, no DNS, so the
/// checks report keys and records "not available" and the engine sends no query.
#[derive(Debug, Clone, Default)]
pub struct CheckConfig {
    /// Zone-file TXT lines with DKIM keys, SPF and DMARC records (`--dkim-keys`),
    /// consulted before DNS.
    pub dkim_keys: Option<PathBuf>,
    /// Look up in DNS what the file lacks (`--dns-lookups`).
    pub dns_lookups: bool,
    /// The resolver DNS lookups ask (`--dns-server`); `None`: the system's.
    pub dns_server: Option<SocketAddr>,
    /// The sending IP SPF is checked for (`--auth-ip`); `None`: the SMTP client's.
    pub auth_ip: Option<IpAddr>,
}

/// Limits and additions of the HTTP server.
#[derive(Debug, Clone)]
pub struct HttpLimits {
    /// Largest request body accepted (a send or import request's attachments
    /// included); bigger ones get 413.
    pub max_body: usize,
    /// More `frame-src` sources for the UI's page (CSP source expressions, e.g.
    /// `isolation-1234:`): the desktop app's Tauri isolation frame. Each must be a
    /// plain token (letters, digits, `-.:/*`), or the engine refuses to start.
    pub ui_frame_sources: Vec<String>,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits { max_body: 10 * 1024 * 1024, ui_frame_sources: Vec::new() }
    }
}

/// Screenshots of messages in a headless browser
/// (`/api/v1/message/{ID}/screenshot.png`).
#[derive(Debug, Clone)]
pub struct ScreenshotConfig {
    /// The Chromium or Chrome executable (`--browser`); `None`: `chromium`,
    /// `chromium-browser` or `google-chrome`, the first on `PATH`.
    pub browser: Option<PathBuf>,
    /// Longest one screenshot may take; then the browser is killed (and started
    /// again for the next).
    pub timeout: Duration,
    /// Tallest screenshot, in pixels: a taller page is cut there.
    pub max_height: u32,
    /// Most requests waiting behind the one being rendered; more get 503.
    pub queue: usize,
    /// Bytes of finished PNGs kept, to answer the same request again at once.
    pub cache_bytes: usize,
}

impl Default for ScreenshotConfig {
    fn default() -> Self {
        ScreenshotConfig {
            browser: None,
            timeout: Duration::from_secs(10),
            max_height: 16_384,
            // The UI's grid asks for a screenful of cells at once.
            queue: 64,
            cache_bytes: 64 * 1024 * 1024,
        }
    }
}

/// A Unix socket file to listen on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnixSocket {
    pub path: PathBuf,
    /// The socket file's permission bits: who may connect (0600: only this user).
    pub mode: u32,
}

impl UnixSocket {
    /// Mailpit's form, `unix:PATH` or `unix:PATH:MODE` (MODE octal, e.g. `0660`;
    /// 0600 when left out); `None` when `spec` does not start with `unix:`.
    pub fn parse(spec: &str) -> Option<Result<UnixSocket, String>> {
        let rest = spec.strip_prefix("unix:")?;
        let (path, mode) = match rest.rsplit_once(':') {
            Some((path, mode)) if (3..=4).contains(&mode.len()) && mode.bytes().all(|b| matches!(b, b'0'..=b'7')) => {
                (path, u32::from_str_radix(mode, 8).expect("octal digits"))
            }
            _ => (rest, 0o600),
        };
        Some(if path.is_empty() {
            Err("expected unix:PATH or unix:PATH:MODE, e.g. unix:/run/pigeonhole/http.sock:0660".to_string())
        } else {
            Ok(UnixSocket { path: PathBuf::from(path), mode })
        })
    }
}

/// Where SMTP listens unless told otherwise.
pub const DEFAULT_SMTP_ADDR: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 1025));
/// Where HTTP (UI and API) listens unless told otherwise.
pub const DEFAULT_HTTP_ADDR: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 8025));

/// The environment variables that `pigeonhole serve` and the desktop app both read.
pub mod env {
    /// The SMTP listen address.
    pub const SMTP: &str = "PIGEONHOLE_SMTP";
    /// The HTTP (UI and API) listen address.
    pub const HTTP: &str = "PIGEONHOLE_HTTP";
    /// The data folder.
    pub const DATA: &str = "PIGEONHOLE_DATA";
    /// The log filter (`tracing` syntax, e.g. `debug` or `pigeonhole=trace`).
    pub const LOG: &str = "PIGEONHOLE_LOG";
    /// The delivery simulation's rules file.
    pub const RULES: &str = "PIGEONHOLE_RULES";
    /// Where the Prometheus metrics are served: Mailpit's variable, so a Mailpit
    /// set-up keeps working.
    pub const PROMETHEUS: &str = "MP_ENABLE_PROMETHEUS";
    /// The browser that takes screenshots of messages.
    pub const BROWSER: &str = "PIGEONHOLE_BROWSER";
}

/// Mailpit's SMTP relay settings, for `POST /api/v1/message/{ID}/release`.
///
/// The server is whatever the user names, so it may be local (another catcher or
/// a test server on this machine is the usual set-up): unlike the URLs a message
/// makes us fetch, it is not refused for being loopback or private. The connection
/// is plain SMTP (no STARTTLS).
#[derive(Debug, Clone)]
pub struct RelayConfig {
    pub host: String,
    pub port: u16,
    /// SMTP AUTH user and password (PLAIN or LOGIN, whichever the server offers).
    pub credentials: Option<(String, String)>,
    /// MAIL FROM and `Return-Path` of every released message, when set.
    pub return_path: Option<String>,
    /// Only recipients matching this may be released to.
    pub allowed_recipients: Option<regex::Regex>,
    /// Recipients matching this may not be released to.
    pub blocked_recipients: Option<regex::Regex>,
    /// `From` (and MAIL FROM) of every released message, when set.
    pub override_from: Option<String>,
    /// Keep the message's `Message-ID` instead of giving each release a new one.
    pub preserve_message_ids: bool,
}

/// Limits of the SMTP listener and of each session.
#[derive(Debug, Clone)]
pub struct SmtpLimits {
    /// Host name in the greeting and the EHLO reply.
    pub hostname: String,
    /// Largest message accepted, in bytes (advertised with SIZE).
    pub max_message_size: usize,
    /// Recipients per transaction; more get 452.
    pub max_recipients: usize,
    /// Longest command line, CRLF included; longer gets 500 and is drained.
    pub max_line_length: usize,
    /// Sessions open at once (lowered to fit the open-file limit). At the cap a new
    /// connection evicts the longest-idle session outside a mail transaction, or gets
    /// 421 when every session is in one.
    pub max_connections: usize,
    /// Bad commands in one session before it is closed with 421.
    pub max_bad_commands: usize,
    /// Longest wait for the next command (or the next DATA bytes).
    pub command_timeout: Duration,
    /// The command timeout, instead, of a session outside a mail transaction while
    /// more than half the connection slots are taken (as Postfix's stress mode):
    /// ample for a real client, which answers within milliseconds, and short for
    /// sockets an app leaks or a client trickles.
    pub stress_command_timeout: Duration,
    /// Longest time one session may last.
    pub session_timeout: Duration,
}

/// Where mail is kept (`--store`).
#[derive(Clone, PartialEq, Eq)]
pub enum StoreLocation {
    /// `pigeonhole.db` in the data folder (SQLite).
    DataDir,
    /// A PostgreSQL database that several nodes share: its `postgres://` URL.
    Postgres(String),
}

impl StoreLocation {
    /// `--store`'s value: a `postgres://` (or `postgresql://`) URL.
    pub fn parse(value: &str) -> Result<StoreLocation, String> {
        if value.starts_with("postgres://") || value.starts_with("postgresql://") {
            Ok(StoreLocation::Postgres(value.to_owned()))
        } else {
            Err("give a PostgreSQL URL, postgres://USER@HOST:PORT/DB, or leave --store out to keep mail in the \
                 data folder"
                .to_owned())
        }
    }
}

/// Never shows the URL, which may hold a password.
impl std::fmt::Debug for StoreLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreLocation::DataDir => f.write_str("DataDir"),
            StoreLocation::Postgres(_) => f.write_str("Postgres(..)"),
        }
    }
}

/// Storage settings.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// Keep at most this many messages; the oldest are pruned.
    pub max_messages: u64,
    /// Keep at most this many bytes of raw messages (uncompressed size); the oldest
    /// are pruned.
    pub max_total_size: u64,
    /// Delete messages received longer ago than this (`--max-age`), at start and
    /// then every minute at most; `None`: messages are kept whatever their age.
    pub max_age: Option<Duration>,
    /// Messages waiting for the writer; when full, SMTP answers 451 4.3.0.
    pub queue_capacity: usize,
    /// Bytes of messages waiting for the writer (being prepared or queued); past
    /// this SMTP answers 451 4.3.0 too, so a burst of large messages cannot take
    /// the memory that `queue_capacity` alone would allow.
    pub max_queued_bytes: usize,
    /// Most messages committed in one transaction.
    pub max_batch: usize,
    /// `true`: fsync every commit (survives power loss). `false`: survives a killed
    /// process, which is what a development tool needs, at a fraction of the cost.
    pub fsync: bool,
    /// Which tags new messages get by themselves.
    pub tags: TagRules,
}

/// Automatic tagging of new messages, as Mailpit does it (`--tags-disable`,
/// `--tags-title-case`, `--tags-username`).
#[derive(Debug, Clone)]
pub struct TagRules {
    /// Tags listed in the `X-Tags` header (comma-separated).
    pub from_x_tags: bool,
    /// `tag` from a `user+tag@domain` sender or recipient.
    pub from_plus_addresses: bool,
    /// The SMTP AUTH (or send API) user name as a tag.
    pub from_username: bool,
    /// Every tag in Title Case (`invoice due` → `Invoice Due`), API-set ones too.
    pub title_case: bool,
}

impl Default for TagRules {
    fn default() -> Self {
        TagRules { from_x_tags: true, from_plus_addresses: true, from_username: false, title_case: false }
    }
}

impl Default for SmtpLimits {
    fn default() -> Self {
        SmtpLimits {
            hostname: "pigeonhole.localhost".into(),
            max_message_size: 50 * 1000 * 1000,
            max_recipients: 1000,
            max_line_length: 2048,
            max_connections: 4096,
            max_bad_commands: 20,
            command_timeout: Duration::from_secs(60),
            stress_command_timeout: Duration::from_secs(10),
            session_timeout: Duration::from_secs(30 * 60),
        }
    }
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            max_messages: 50_000,
            max_total_size: 4 * 1024 * 1024 * 1024,
            max_age: None,
            queue_capacity: 1024,
            max_queued_bytes: 256 * 1024 * 1024,
            max_batch: 256,
            fsync: false,
            tags: TagRules::default(),
        }
    }
}

impl Config {
    /// Where mail is kept unless told otherwise: `$XDG_DATA_HOME/pigeonhole` (or the
    /// platform's data folder). The same for `pigeonhole serve` and the desktop app,
    /// so both see the same mail. `None` when the platform has no data folder.
    pub fn default_data_dir() -> Option<PathBuf> {
        dirs::data_dir().map(|dir| dir.join("pigeonhole"))
    }

    /// Defaults: SMTP on 127.0.0.1:1025, HTTP on 127.0.0.1:8025, data in the
    /// platform data folder (`$XDG_DATA_HOME/pigeonhole`).
    pub fn new(data_dir: PathBuf) -> Config {
        Config {
            smtp_addr: DEFAULT_SMTP_ADDR,
            http_addr: DEFAULT_HTTP_ADDR,
            http_socket: None,
            data_dir,
            smtp: SmtpLimits::default(),
            store_location: StoreLocation::DataDir,
            store: StoreConfig::default(),
            shutdown_grace: Duration::from_secs(10),
            allow_local_link_check: false,
            spamassassin: None,
            chaos: None,
            relay: None,
            rules_file: None,
            ui_auth_file: None,
            api_tokens_file: None,
            http_allow_unauthenticated: false,
            provider_keys: None,
            provider_templates: None,
            http: HttpLimits::default(),
            checks: CheckConfig::default(),
            message_webhooks: MessageWebhookConfig::default(),
            prometheus: Prometheus::Off,
            screenshots: ScreenshotConfig::default(),
            pop3: None,
            imap: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    /// Mailpit's values for `--enable-prometheus`, as its Go listener takes them.
    #[test]
    fn prometheus_takes_mailpits_values() {
        assert_eq!(Prometheus::parse("false"), Ok(Prometheus::Off));
        assert_eq!(Prometheus::parse(""), Ok(Prometheus::Off));
        assert_eq!(Prometheus::parse("TRUE"), Ok(Prometheus::Http));
        assert_eq!(Prometheus::parse("127.0.0.1:9090"), Ok(Prometheus::Listen("127.0.0.1:9090".parse().unwrap())));
        assert_eq!(Prometheus::parse(":9090"), Ok(Prometheus::Listen("0.0.0.0:9090".parse().unwrap())));
        assert_eq!(Prometheus::parse("localhost:9090"), Ok(Prometheus::Listen("127.0.0.1:9090".parse().unwrap())));
        assert_eq!(Prometheus::parse("[::1]:9090"), Ok(Prometheus::Listen("[::1]:9090".parse().unwrap())));
        assert!(Prometheus::parse("yes").is_err());
        assert!(Prometheus::parse("9090").is_err());
    }

    #[test]
    fn store_locations_are_postgres_urls() {
        let url = "postgres://u@db:5432/mail";
        assert_eq!(StoreLocation::parse(url), Ok(StoreLocation::Postgres(url.into())));
        assert!(StoreLocation::parse("postgresql://u@db/mail").is_ok());
        assert!(StoreLocation::parse("/var/lib/mail.db").unwrap_err().contains("postgres://USER@HOST:PORT/DB"));
        // The URL may hold a password: never in a debug print.
        assert_eq!(format!("{:?}", StoreLocation::Postgres("postgres://u:pw@db/m".into())), "Postgres(..)");
    }

    #[test]
    fn unix_socket_specs() {
        let socket = |path: &str, mode| Some(Ok(UnixSocket { path: PathBuf::from(path), mode }));
        assert_eq!(UnixSocket::parse("unix:/run/ph.sock"), socket("/run/ph.sock", 0o600));
        assert_eq!(UnixSocket::parse("unix:/run/ph.sock:0660"), socket("/run/ph.sock", 0o660));
        assert_eq!(UnixSocket::parse("unix:/run/ph.sock:666"), socket("/run/ph.sock", 0o666));
        // Not a mode: part of the path.
        assert_eq!(UnixSocket::parse("unix:/tmp/a:b.sock"), socket("/tmp/a:b.sock", 0o600));
        assert_eq!(UnixSocket::parse("unix:/tmp/x:0800"), socket("/tmp/x:0800", 0o600));
        assert!(matches!(UnixSocket::parse("unix:"), Some(Err(_))));
        assert!(matches!(UnixSocket::parse("unix::0600"), Some(Err(_))));
        assert_eq!(UnixSocket::parse("127.0.0.1:8025"), None);
    }
}
