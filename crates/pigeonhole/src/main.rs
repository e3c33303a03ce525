//! `pigeonhole`: the headless engine on the command line.
//!
//! `pigeonhole serve` runs the SMTP listener, the store and the HTTP API until
//! SIGINT/SIGTERM. On start it prints one line per listener, in a fixed form that
//! scripts and tests parse:
//!
//! ```text
//! smtp listening on 127.0.0.1:1025
//! http listening on 127.0.0.1:8025
//! ```
//!
//! (`http listening on unix:PATH` with `--http unix:PATH`.)
//!
//! The other subcommands are clients for scripts (see [`cli`]): `wait`, `list`, `get`,
//! `delete`, `readyz` and `screenshot` talk to a running server over HTTP, `sendmail` delivers stdin to its
//! SMTP listener; `mcp` is the MCP server for coding agents on stdin/stdout, over a
//! running server's HTTP API ([`pigeonhole::mcp`]). Run under the name `sendmail` (a symlink), the binary is
//! `pigeonhole sendmail`.

use std::ffi::OsString;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use pigeonhole::config::{
    CheckConfig, DEFAULT_HTTP_ADDR, DEFAULT_SMTP_ADDR, ImapConfig, MailboxServerConfig, MessageWebhookConfig,
    Prometheus, RelayConfig, SmtpLimits, StoreConfig, StoreLocation, TagRules, UnixSocket, env,
};
use pigeonhole::model::ChaosTriggers;
use pigeonhole::{Config, Engine};
use tracing_subscriber::EnvFilter;

mod cli;

#[derive(Parser)]
#[command(name = "pigeonhole", version, about = "Catch the mail your application sends")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the SMTP listener and the web UI/API until interrupted.
    #[command(after_help = PROVIDER_SETTINGS)]
    Serve(Box<ServeArgs>),
    /// Wait for a message matching a query to arrive; print its summary as JSON (exit 1 on timeout).
    Wait(cli::client::WaitArgs),
    /// List messages (newest first), or those matching a query, as JSON or a table.
    List(cli::client::ListArgs),
    /// Print one message as JSON, or its exact raw bytes.
    Get(cli::client::GetArgs),
    /// Delete the given messages, or all of them.
    Delete(cli::client::DeleteArgs),
    /// Exit 0 when the server is ready (GET /readyz answers 200), else 1: a container's health check.
    Readyz(cli::client::ReadyzArgs),
    /// Check a message (headers, MIME, authentication, deliverability, HTML, links, accessibility); exit 1 when a check fails at --fail-on.
    Check(cli::check::CheckArgs),
    /// Compare two messages (IDs, `latest`, .eml files or a search's newest match) part by part; exit 1 when they differ.
    Diff(cli::diff::DiffArgs),
    /// sendmail-compatible: read a message from stdin and deliver it to the SMTP listener (-t, -f, -i; --help).
    #[command(visible_alias = "send")]
    Sendmail(cli::sendmail::SendmailArgs),
    /// Save a PNG screenshot of a message's HTML as the preview shows it (rendered by the engine's headless Chromium).
    Screenshot(cli::screenshot::ScreenshotArgs),
    /// MCP server for coding agents on stdin/stdout, over a running engine's API (the engine serves the same at /mcp).
    Mcp(cli::client::ServerArgs),
    /// API tokens for CI (`Authorization: Bearer`): `token new NAME [--inboxes a,b]` prints one and its --api-tokens-file line.
    Token(cli::token::TokenArgs),
}

/// `serve --help`'s closing text: the one setting to change in an app that sends
/// through a provider's SDK.
const PROVIDER_SETTINGS: &str = "\
Provider APIs: point the provider's SDK at the HTTP address (here the default, http://127.0.0.1:8025):
  SendGrid  client.setApiKey(key); client.setDefaultRequest('baseUrl', 'http://127.0.0.1:8025'); sgMail.setClient(client)
  Postmark  new postmark.ServerClient(token, { requestHost: '127.0.0.1:8025', useHttps: false })
  Resend    RESEND_BASE_URL=http://127.0.0.1:8025 (or new Resend(key, { baseUrl: 'http://127.0.0.1:8025' }))
  Mailgun   mailgun.client({ username: 'api', key, url: 'http://127.0.0.1:8025' })
  SES       endpoint_url='http://127.0.0.1:8025' (boto3), endpoint: 'http://127.0.0.1:8025' (AWS SDK for JavaScript)
Mail lands in the inbox <provider>:<key name>, or the one --provider-keys maps the key to.";

#[derive(Args)]
struct ServeArgs {
    /// SMTP listen address (port 0 picks a free port).
    #[arg(long, env = env::SMTP, default_value_t = DEFAULT_SMTP_ADDR)]
    smtp: SocketAddr,
    #[command(flatten)]
    tags: TagArgs,
    /// HTTP (UI and API) listen address (port 0 picks a free port), or a Unix socket: unix:PATH[:MODE] (MODE octal, 0600 by default).
    #[arg(long, env = env::HTTP, default_value_t = HttpListen::Tcp(DEFAULT_HTTP_ADDR), value_parser = HttpListen::parse)]
    http: HttpListen,
    /// Data folder [default: $XDG_DATA_HOME/pigeonhole].
    #[arg(long, env = env::DATA)]
    data: Option<PathBuf>,
    /// Keep mail in a PostgreSQL database several servers share (postgres://USER@HOST:PORT/DB) instead of the data folder's SQLite file.
    #[arg(long, env = "PIGEONHOLE_STORE", value_parser = StoreLocation::parse)]
    store: Option<StoreLocation>,
    /// Largest message accepted over SMTP, in bytes.
    #[arg(long, env = "PIGEONHOLE_MAX_MESSAGE_SIZE", default_value_t = SmtpLimits::default().max_message_size)]
    max_message_size: usize,
    /// Keep at most this many messages; the oldest are deleted.
    #[arg(long, env = "PIGEONHOLE_MAX_MESSAGES", default_value_t = StoreConfig::default().max_messages)]
    max_messages: u64,
    /// Keep at most this many bytes of messages (their raw size); the oldest are deleted.
    #[arg(long, env = "PIGEONHOLE_MAX_STORE_BYTES", default_value_t = StoreConfig::default().max_total_size)]
    max_store_bytes: u64,
    /// Delete messages older than this, in hours or days (Mailpit's format: 12h, 7d) [default: no age limit].
    #[arg(long, env = "PIGEONHOLE_MAX_AGE", value_name = "AGE", value_parser = parse_max_age)]
    max_age: Option<Duration>,
    /// Seconds to wait for the next SMTP command (or message bytes) before closing.
    #[arg(long, env = "PIGEONHOLE_COMMAND_TIMEOUT", default_value_t = SmtpLimits::default().command_timeout.as_secs())]
    command_timeout: u64,
    /// Longest SMTP session, in seconds.
    #[arg(long, env = "PIGEONHOLE_SESSION_TIMEOUT", default_value_t = SmtpLimits::default().session_timeout.as_secs())]
    session_timeout: u64,
    /// Most SMTP sessions open at once (lowered to fit the open-file limit); at the cap a new connection takes the slot of the longest-idle session outside a mail transaction, or gets 421 when there is none.
    #[arg(long, env = "PIGEONHOLE_MAX_CONNECTIONS", default_value_t = SmtpLimits::default().max_connections)]
    max_connections: usize,
    /// fsync every commit, so that acknowledged mail survives a power cut too (slower).
    #[arg(long, env = "PIGEONHOLE_FSYNC")]
    fsync: bool,
    /// Let the link check (/api/v1/message/{ID}/link-check) reach this machine and its networks (loopback, private, link-local).
    #[arg(long, env = "PIGEONHOLE_ALLOW_LOCAL_LINK_CHECK")]
    allow_local_link_check: bool,
    /// Check messages with the SpamAssassin daemon (spamd) at <host:port> (/api/v1/message/{ID}/sa-check).
    #[arg(long, env = "PIGEONHOLE_ENABLE_SPAMASSASSIN", value_name = "HOST:PORT", value_parser = parse_host_port)]
    enable_spamassassin: Option<String>,
    /// Let Mailpit's chaos triggers (/api/v1/chaos) make SMTP fail MAIL, RCPT or AUTH at random.
    #[arg(long, env = "PIGEONHOLE_ENABLE_CHAOS")]
    enable_chaos: bool,
    /// Enable chaos with these triggers: <trigger>:<error-code>:<probability>, comma separated (Sender:451:50,Recipient:451:50).
    #[arg(long, env = "PIGEONHOLE_CHAOS_TRIGGERS", value_parser = ChaosTriggers::parse)]
    chaos_triggers: Option<ChaosTriggers>,
    /// Require a user and password (htpasswd file: bcrypt or plain entries) for the UI, API and events; a third field `user:hash:inbox-a,inbox-b` limits a user to those inboxes (here and in POP3/IMAP).
    #[arg(long, env = "PIGEONHOLE_UI_AUTH_FILE")]
    ui_auth_file: Option<PathBuf>,
    /// API tokens for CI, sent as `Authorization: Bearer <token>`: lines `name:sha256-hex[:inbox-a,inbox-b]` (`pigeonhole token new NAME` prints one); an inbox list limits a token to those inboxes.
    #[arg(long, env = "PIGEONHOLE_API_TOKENS_FILE", value_name = "FILE")]
    api_tokens_file: Option<PathBuf>,
    /// Serve HTTP on a non-loopback address without --ui-auth-file or --api-tokens-file (anyone who reaches it reads the mail).
    #[arg(long, env = "PIGEONHOLE_HTTP_ALLOW_UNAUTHENTICATED")]
    http_allow_unauthenticated: bool,
    /// The keys the provider APIs take, and the inbox each key's mail lands in (TOML: [[key]] provider = "sendgrid", key = "SG.x.y", inbox = "shop"); a provider with keys listed refuses any other, one without takes any; an ses key may add secret = "…" to have its SigV4 signatures checked [default: any key, inbox <provider>:<key name>].
    #[arg(long, env = "PIGEONHOLE_PROVIDER_KEYS", value_name = "FILE")]
    provider_keys: Option<PathBuf>,
    /// Copies of the providers' stored templates, rendered into templated sends (SendGrid's template_id with dynamic_template_data, SES's TemplateName with TemplateData): ID.subject, ID.html and ID.txt in Handlebars, read at every send [default: a templated send keeps the content its request carries].
    #[arg(long, env = "PIGEONHOLE_PROVIDER_TEMPLATES", value_name = "DIR")]
    provider_templates: Option<PathBuf>,
    /// Delivery simulation rules (TOML: reject, defer, tarpit, disconnect, bounce, complaint, auto-reply, forward per recipient, sender, inbox, header or provider) [default: rules.toml in the data folder, when there]; the UI and PUT /api/v1/rules save to it.
    #[arg(long, env = env::RULES, value_name = "FILE")]
    rules: Option<PathBuf>,
    /// Serve Prometheus metrics at /metrics: true (on the HTTP port, behind its auth), false, or an address for a listener of its own (127.0.0.1:9090) [default: false].
    #[arg(long, env = env::PROMETHEUS, value_name = "true|false|ADDR", value_parser = Prometheus::parse, default_value = "false", hide_default_value = true)]
    enable_prometheus: Prometheus,
    /// The Chromium or Chrome executable that takes screenshots of messages (/api/v1/message/{ID}/screenshot.png) [default: chromium, chromium-browser or google-chrome on PATH].
    #[arg(long, env = env::BROWSER, value_name = "PATH")]
    browser: Option<PathBuf>,
    #[command(flatten)]
    relay: RelayArgs,
    #[command(flatten)]
    checks: CheckArgs,
    #[command(flatten)]
    webhooks: WebhookArgs,
    #[command(flatten)]
    pop3: Pop3Args,
    #[command(flatten)]
    imap: ImapArgs,
}

/// The IMAP server: mail clients read, flag, move and delete the captured mail.
#[derive(Args)]
struct ImapArgs {
    /// Serve IMAP on this address (127.0.0.1:1143): every inbox is a mailbox, INBOX the default one; \Seen is read, \Flagged the tag "flagged", EXPUNGE deletes [default: off].
    #[arg(long, env = "PIGEONHOLE_IMAP", value_name = "ADDR")]
    imap: Option<SocketAddr>,
    /// Only these users log in to IMAP (htpasswd file: bcrypt or plain entries) [default: any user and password, loopback addresses only].
    #[arg(long, env = "PIGEONHOLE_IMAP_AUTH_FILE", value_name = "FILE", requires = "imap")]
    imap_auth_file: Option<PathBuf>,
    /// PEM certificate chain for IMAP's STARTTLS and --imap-tls-implicit [default: the engine's self-signed certificate].
    #[arg(long, env = "PIGEONHOLE_IMAP_TLS_CERT", value_name = "FILE", requires_all = ["imap", "imap_tls_key"])]
    imap_tls_cert: Option<PathBuf>,
    /// The PEM private key of --imap-tls-cert.
    #[arg(long, env = "PIGEONHOLE_IMAP_TLS_KEY", value_name = "FILE", requires = "imap_tls_cert")]
    imap_tls_key: Option<PathBuf>,
    /// IMAP speaks TLS from the first byte (IMAPS, as on port 993) instead of offering STARTTLS.
    #[arg(long, env = "PIGEONHOLE_IMAP_TLS_IMPLICIT", requires = "imap")]
    imap_tls_implicit: bool,
}

impl ImapArgs {
    fn config(self) -> Option<ImapConfig> {
        let mut config = ImapConfig::new(self.imap?);
        config.server.auth_file = self.imap_auth_file;
        config.server.tls_cert = self.imap_tls_cert;
        config.server.tls_key = self.imap_tls_key;
        config.implicit_tls = self.imap_tls_implicit;
        Some(config)
    }
}

/// Mailpit's POP3 flags: mail clients download an inbox's mail.
#[derive(Args)]
struct Pop3Args {
    /// Serve POP3 on this address (127.0.0.1:1110); the login name picks the inbox (an SMTP AUTH user's, else the default one); DELE deletes the message in Pigeonhole [default: off].
    #[arg(long, env = "PIGEONHOLE_POP3", value_name = "ADDR")]
    pop3: Option<SocketAddr>,
    /// Only these users log in to POP3 (htpasswd file: bcrypt or plain entries) [default: any user and password, loopback addresses only].
    #[arg(long, env = "PIGEONHOLE_POP3_AUTH_FILE", value_name = "FILE", requires = "pop3")]
    pop3_auth_file: Option<PathBuf>,
    /// PEM certificate chain for POP3's STLS [default: the engine's self-signed certificate].
    #[arg(long, env = "PIGEONHOLE_POP3_TLS_CERT", value_name = "FILE", requires_all = ["pop3", "pop3_tls_key"])]
    pop3_tls_cert: Option<PathBuf>,
    /// The PEM private key of --pop3-tls-cert.
    #[arg(long, env = "PIGEONHOLE_POP3_TLS_KEY", value_name = "FILE", requires = "pop3_tls_cert")]
    pop3_tls_key: Option<PathBuf>,
}

impl Pop3Args {
    fn config(self) -> Option<MailboxServerConfig> {
        let mut config = MailboxServerConfig::new(self.pop3?);
        config.auth_file = self.pop3_auth_file;
        config.tls_cert = self.pop3_tls_cert;
        config.tls_key = self.pop3_tls_key;
        Some(config)
    }
}

/// Mailpit's webhook flags: every new message's summary POSTed to a URL.
#[derive(Args)]
struct WebhookArgs {
    /// POST each new message's summary (Mailpit's webhook JSON, signed per Standard Webhooks) to this URL; repeat for several. More, with filters, in the Webhooks dialog or PUT /api/v1/webhooks.
    #[arg(long, env = "PIGEONHOLE_WEBHOOK_URL", value_name = "URL")]
    webhook_url: Vec<String>,
    /// At most this many message webhook deliveries start per second (0: no limit).
    #[arg(long, env = "PIGEONHOLE_WEBHOOK_LIMIT", default_value_t = MessageWebhookConfig::default().limit)]
    webhook_limit: u32,
}

/// Where the DKIM, SPF and DMARC checks get keys and records: offline by default.
#[derive(Args)]
struct CheckArgs {
    /// Zone-file TXT lines with DKIM keys (sel._domainkey.example.com. IN TXT "v=DKIM1; k=rsa; p=…"), SPF and _dmarc records, for the authentication checks; read before DNS.
    #[arg(long, value_name = "FILE")]
    dkim_keys: Option<PathBuf>,
    /// Look up in DNS the DKIM keys, SPF and DMARC records that --dkim-keys lacks (off: no DNS query is ever made; the checks say "not available").
    #[arg(long)]
    dns_lookups: bool,
    /// The DNS resolver --dns-lookups asks, ADDR[:PORT] (port 53 by default) [default: the system's].
    #[arg(long, value_name = "ADDR[:PORT]", value_parser = parse_dns_server, requires = "dns_lookups")]
    dns_server: Option<SocketAddr>,
    /// The sending IP that SPF is checked for [default: the SMTP client's address].
    #[arg(long, value_name = "IP")]
    auth_ip: Option<IpAddr>,
}

impl CheckArgs {
    fn config(self) -> CheckConfig {
        CheckConfig {
            dkim_keys: self.dkim_keys,
            dns_lookups: self.dns_lookups,
            dns_server: self.dns_server,
            auth_ip: self.auth_ip,
        }
    }
}

/// Release (`POST /api/v1/message/{ID}/release`): Mailpit's SMTP relay settings. The
/// server may be local (another catcher, a test server): it is used as given.
#[derive(Args)]
struct RelayArgs {
    /// SMTP server that released messages are sent through (plain SMTP); turns release on.
    #[arg(long, env = "PIGEONHOLE_SMTP_RELAY_HOST")]
    smtp_relay_host: Option<String>,
    /// Port of the relay server.
    #[arg(long, env = "PIGEONHOLE_SMTP_RELAY_PORT", default_value_t = 25, requires = "smtp_relay_host")]
    smtp_relay_port: u16,
    /// SMTP AUTH user for the relay (with PIGEONHOLE_SMTP_RELAY_PASSWORD).
    #[arg(long, env = "PIGEONHOLE_SMTP_RELAY_USERNAME", requires_all = ["smtp_relay_host", "smtp_relay_password"])]
    smtp_relay_username: Option<String>,
    /// SMTP AUTH password for the relay (better given in the environment than on the command line).
    #[arg(long, env = "PIGEONHOLE_SMTP_RELAY_PASSWORD", hide_env_values = true, requires = "smtp_relay_username")]
    smtp_relay_password: Option<String>,
    /// Return-Path and MAIL FROM of every released message.
    #[arg(long, env = "PIGEONHOLE_SMTP_RELAY_RETURN_PATH", requires = "smtp_relay_host")]
    smtp_relay_return_path: Option<String>,
    /// Only release to recipients matching this regular expression (e.g. '@example\.com$').
    #[arg(long, env = "PIGEONHOLE_SMTP_RELAY_ALLOWED_RECIPIENTS", value_parser = recipient_pattern, requires = "smtp_relay_host")]
    smtp_relay_allowed_recipients: Option<regex::Regex>,
    /// Never release to recipients matching this regular expression.
    #[arg(long, env = "PIGEONHOLE_SMTP_RELAY_BLOCKED_RECIPIENTS", value_parser = recipient_pattern, requires = "smtp_relay_host")]
    smtp_relay_blocked_recipients: Option<regex::Regex>,
    /// From header and MAIL FROM of every released message.
    #[arg(long, env = "PIGEONHOLE_SMTP_RELAY_OVERRIDE_FROM", requires = "smtp_relay_host")]
    smtp_relay_override_from: Option<String>,
    /// Keep each released message's Message-ID instead of giving it a new one.
    #[arg(long, env = "PIGEONHOLE_SMTP_RELAY_PRESERVE_MESSAGE_IDS", requires = "smtp_relay_host")]
    smtp_relay_preserve_message_ids: bool,
}

impl RelayArgs {
    fn config(self) -> Option<RelayConfig> {
        Some(RelayConfig {
            host: self.smtp_relay_host?,
            port: self.smtp_relay_port,
            credentials: self.smtp_relay_username.zip(self.smtp_relay_password),
            return_path: self.smtp_relay_return_path,
            allowed_recipients: self.smtp_relay_allowed_recipients,
            blocked_recipients: self.smtp_relay_blocked_recipients,
            override_from: self.smtp_relay_override_from,
            preserve_message_ids: self.smtp_relay_preserve_message_ids,
        })
    }
}

/// `--http`: a TCP address, or Mailpit's `unix:PATH[:MODE]`.
#[derive(Clone)]
enum HttpListen {
    Tcp(SocketAddr),
    Unix(UnixSocket),
}

impl HttpListen {
    fn parse(value: &str) -> Result<HttpListen, String> {
        match UnixSocket::parse(value) {
            Some(socket) => socket.map(HttpListen::Unix),
            None => value.parse().map(HttpListen::Tcp).map_err(|_| {
                "expected an address like 127.0.0.1:8025, or unix:PATH[:MODE] for a Unix socket".to_string()
            }),
        }
    }
}

impl std::fmt::Display for HttpListen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HttpListen::Tcp(addr) => addr.fmt(f),
            HttpListen::Unix(socket) => write!(f, "unix:{}:{:04o}", socket.path.display(), socket.mode),
        }
    }
}

fn recipient_pattern(pattern: &str) -> Result<regex::Regex, String> {
    regex::Regex::new(pattern).map_err(|err| format!("not a regular expression: {err}"))
}

/// `host:port` with a port number (the host is resolved when the check runs).
/// `ADDR` or `ADDR:PORT` (an IPv6 address with a port in brackets), port 53 if none.
fn parse_dns_server(server: &str) -> Result<SocketAddr, String> {
    server
        .parse::<SocketAddr>()
        .or_else(|_| server.parse::<IpAddr>().map(|ip| SocketAddr::new(ip, 53)))
        .map_err(|_| "expected an IP address with an optional port, e.g. 127.0.0.1:5353 or 192.0.2.53".to_string())
}

/// Mailpit's `--max-age`: a positive whole number of hours (`h`) or days (`d`).
fn parse_max_age(age: &str) -> Result<Duration, String> {
    let of = |seconds_per_unit: u64| {
        age[..age.len() - 1]
            .parse::<u64>()
            .ok()
            .filter(|&n| n > 0)
            .and_then(|n| n.checked_mul(seconds_per_unit))
            .map(Duration::from_secs)
    };
    let parsed = match age.as_bytes().last() {
        Some(b'h') => of(3600),
        Some(b'd') => of(24 * 3600),
        _ => None,
    };
    parsed.ok_or_else(|| "expected a number of hours or days, e.g. 12h or 7d".to_string())
}

fn parse_host_port(address: &str) -> Result<String, String> {
    match address.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => Ok(address.to_string()),
        _ => Err("expected <host:port>, e.g. 127.0.0.1:783".to_string()),
    }
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_env(env::LOG).unwrap_or_else(|_| EnvFilter::new("info,rmcp=warn")))
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse_from(sendmail_by_name(std::env::args_os().collect()));
    match cli.command {
        Command::Serve(args) => {
            let runtime = tokio::runtime::Runtime::new().expect("cannot start the async runtime");
            runtime.block_on(serve(*args))
        }
        Command::Wait(args) => cli::finish(cli::client::wait(args)),
        Command::List(args) => cli::finish(cli::client::list(args)),
        Command::Get(args) => cli::finish(cli::client::get(args)),
        Command::Delete(args) => cli::finish(cli::client::delete(args)),
        Command::Readyz(args) => cli::finish(cli::client::readyz(args)),
        Command::Check(args) => cli::finish(cli::check::run(args)),
        Command::Diff(args) => cli::finish(cli::diff::run(args)),
        Command::Sendmail(args) => cli::finish(cli::sendmail::run(args)),
        Command::Screenshot(args) => cli::finish(cli::screenshot::run(args)),
        Command::Token(args) => cli::finish(cli::token::run(args)),
        Command::Mcp(args) => {
            let runtime = tokio::runtime::Runtime::new().expect("cannot start the async runtime");
            cli::finish(
                runtime
                    .block_on(pigeonhole::mcp::serve_stdio(&args.url, args.token.as_deref()))
                    .map_err(|err| cli::Failure::new(cli::client::EXIT_ERROR, err)),
            )
        }
    }
}

/// Automatic tags on new messages, with Mailpit's option names.
#[derive(Args)]
#[command(next_help_heading = "Tags")]
struct TagArgs {
    /// Turn off automatic tags from these sources, comma-separated: x-tags (the X-Tags header), plus-addresses (user+tag@).
    #[arg(long, env = "PIGEONHOLE_TAGS_DISABLE", value_delimiter = ',', value_parser = ["x-tags", "plus-addresses"])]
    tags_disable: Vec<String>,
    /// Write every tag in Title Case.
    #[arg(long, env = "PIGEONHOLE_TAGS_TITLE_CASE")]
    tags_title_case: bool,
    /// Also tag each message with the SMTP AUTH (or send API) user name.
    #[arg(long, env = "PIGEONHOLE_TAGS_USERNAME")]
    tags_username: bool,
}

impl TagArgs {
    fn rules(self) -> TagRules {
        let enabled = |source: &str| !self.tags_disable.iter().any(|off| off == source);
        TagRules {
            from_x_tags: enabled("x-tags"),
            from_plus_addresses: enabled("plus-addresses"),
            from_username: self.tags_username,
            title_case: self.tags_title_case,
        }
    }
}

/// Run as `sendmail` (a symlink to this binary, for apps that call sendmail by
/// name), the arguments are those of `pigeonhole sendmail`.
fn sendmail_by_name(mut args: Vec<OsString>) -> Vec<OsString> {
    let name = args.first().and_then(|arg0| PathBuf::from(arg0).file_name().map(|n| n.to_owned()));
    if name.is_some_and(|name| name == "sendmail") {
        args.insert(1, "sendmail".into());
    }
    args
}

async fn serve(args: ServeArgs) -> ExitCode {
    let Some(data_dir) = args.data.or_else(Config::default_data_dir) else {
        eprintln!("error: no data folder: set --data or PIGEONHOLE_DATA (no platform data folder was found)");
        return ExitCode::FAILURE;
    };
    let mut config = Config::new(data_dir);
    if let Some(location) = args.store {
        config.store_location = location;
    }
    config.smtp_addr = args.smtp;
    match args.http {
        HttpListen::Tcp(addr) => config.http_addr = addr,
        HttpListen::Unix(socket) => config.http_socket = Some(socket),
    }
    config.prometheus = args.enable_prometheus;
    config.smtp.max_message_size = args.max_message_size;
    config.smtp.command_timeout = Duration::from_secs(args.command_timeout);
    config.smtp.session_timeout = Duration::from_secs(args.session_timeout);
    config.smtp.max_connections = args.max_connections;
    config.store.tags = args.tags.rules();
    config.store.max_messages = args.max_messages;
    config.store.max_total_size = args.max_store_bytes;
    config.store.max_age = args.max_age;
    config.store.fsync = args.fsync;
    config.allow_local_link_check = args.allow_local_link_check;
    config.spamassassin = args.enable_spamassassin;
    config.chaos = args.chaos_triggers.or(args.enable_chaos.then(ChaosTriggers::default));
    config.ui_auth_file = args.ui_auth_file;
    config.api_tokens_file = args.api_tokens_file;
    config.http_allow_unauthenticated = args.http_allow_unauthenticated;
    config.provider_keys = args.provider_keys;
    config.provider_templates = args.provider_templates;
    config.message_webhooks =
        MessageWebhookConfig { urls: args.webhooks.webhook_url, limit: args.webhooks.webhook_limit };
    config.relay = args.relay.config();
    config.rules_file = args.rules;
    config.checks = args.checks.config();
    config.screenshots.browser = args.browser;
    config.pop3 = args.pop3.config();
    config.imap = args.imap.config();

    // Listen for signals before anything is bound: a signal that arrives as soon as
    // the ports answer must stop us cleanly, not kill us.
    let stop = stop_signal();
    let engine = match Engine::start(config).await {
        Ok(engine) => engine,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::FAILURE;
        }
    };
    engine.announce();

    stop.await;
    tracing::info!("shutting down");
    engine.shutdown().await;
    ExitCode::SUCCESS
}

/// Resolves on SIGINT or SIGTERM. The handlers are installed when this is called,
/// not when it is first awaited.
fn stop_signal() -> impl Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut terminate = signal(SignalKind::terminate()).expect("cannot listen for SIGTERM");
        let mut interrupt = signal(SignalKind::interrupt()).expect("cannot listen for SIGINT");
        async move {
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
        }
    }
    #[cfg(not(unix))]
    {
        let ctrl_c = tokio::signal::ctrl_c();
        async move {
            let _ = ctrl_c.await;
        }
    }
}
