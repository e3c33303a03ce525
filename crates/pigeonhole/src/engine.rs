//! [`Engine::start`]: bind, open, run; [`Engine::shutdown`]: stop in order.
//!
//! Start-up order matters for the promise "a failed start touches no data": the two
//! sockets are bound first (a port in use fails here), then the data folder is
//! checked, and only then is the database opened and migrated.
//!
//! Shutdown runs the other way: stop accepting SMTP, let sessions finish within the
//! grace period, stop HTTP and the webhook workers (deliveries in flight are
//! abandoned), then flush and close the store's writer.
//!
//! HTTP listens on TCP, or on a Unix socket (`Config::http_socket`): a stale socket
//! file (nobody accepts on it) is replaced, anything else at its path is refused,
//! and the file is removed when the engine stops or fails to start.

use std::fs;
use std::io;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::net::TcpListener;
#[cfg(unix)]
use tokio::net::UnixListener;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

use crate::api::{self, ApiState};
use crate::config::{Config, MailboxServerConfig, Prometheus, StoreLocation, UnixSocket};
use crate::imap::ImapSetup;
use crate::imap::listener::Listener as ImapListener;
use crate::login;
use crate::mail::authentication::{Verifier, VerifierError};
use crate::mcp;
use crate::model::event::{self, EventSender};
use crate::pop3::listener::{Pop3Listener, Pop3Setup};
use crate::providers::ProviderKeys;
use crate::providers::templates::Templates;
use crate::providers::webhooks::{self, Webhooks, WebhooksError};
use crate::simulation::effects::Effects;
use crate::simulation::{RULES_FILE, Simulation};
use crate::smtp;
use crate::smtp::listener::{self, Listener};
use crate::store::{OpenError, Store};
use crate::tls::{self, TlsError};

/// Why the engine could not start. Each message is one line saying what is wrong
/// and how to fix it.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(
        "{what} address {addr} is already in use; stop the program using it or choose another port with {flag} (port 0 picks a free one)"
    )]
    AddressInUse { what: &'static str, addr: SocketAddr, flag: &'static str },
    #[error("cannot listen for {what} on {addr}: {source}; choose another address with {flag}")]
    Bind { what: &'static str, addr: SocketAddr, flag: &'static str, source: io::Error },
    #[error("cannot listen for HTTP on unix:{path}: {reason}; choose another path with --http unix:PATH")]
    BindSocket { path: PathBuf, reason: String },
    #[error("cannot use the data folder {path}: {source}; make it writable or choose another with --data")]
    DataDir { path: PathBuf, source: io::Error },
    #[error(
        "the data folder {path} is in use by another Pigeonhole; stop that one or choose another folder with --data"
    )]
    DataDirInUse { path: PathBuf },
    #[error("the UI's extra frame sources {sources:?} are not plain CSP source tokens (letters, digits, -.:/*)")]
    FrameSources { sources: String },
    #[error(transparent)]
    Store(#[from] OpenError),
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error("cannot use the password file {path}: {reason}; fix it, or leave out {flag}")]
    AuthFile { flag: &'static str, path: PathBuf, reason: String },
    #[error(
        "{what} on {addr} can be reached from other machines, and without a password file anyone could log in; add {auth_flag} FILE (htpasswd, bcrypt) or listen on 127.0.0.1"
    )]
    OpenMailbox { what: &'static str, addr: SocketAddr, auth_flag: &'static str },
    #[error("{what}'s TLS needs both a certificate and its key: give {flag}-cert and {flag}-key together, or neither")]
    TlsPair { what: &'static str, flag: &'static str },
    #[error("cannot use the API tokens file {path}: {reason}; fix it, or leave out --api-tokens-file")]
    TokensFile { path: PathBuf, reason: String },
    #[error("cannot use the provider keys file {path}: {reason}; fix it, or leave out --provider-keys")]
    ProviderKeys { path: PathBuf, reason: String },
    #[error(
        "HTTP on {addr} can be reached from other machines, and captured mail holds password-reset links and codes; add --ui-auth-file FILE (htpasswd, bcrypt) to require a password (or --api-tokens-file FILE for API tokens), or --http-allow-unauthenticated to serve it open anyway"
    )]
    OpenHttp { addr: SocketAddr },
    #[error(transparent)]
    Authentication(#[from] VerifierError),
    #[error("cannot use the rules file {path}: {reason}; fix it, or start without it")]
    Rules { path: PathBuf, reason: String },
    #[error(transparent)]
    Webhooks(#[from] WebhooksError),
}

/// A running engine: SMTP listener, HTTP API, store.
pub struct Engine {
    smtp_addr: SocketAddr,
    http_addr: SocketAddr,
    /// Where the metrics listener of its own is bound, if there is one.
    metrics_addr: Option<SocketAddr>,
    /// The listeners mail clients read through (`pop3`), each with its address.
    mailbox_servers: Vec<(&'static str, SocketAddr, JoinHandle<()>)>,
    /// The Unix socket HTTP listens on instead of `http_addr`; removed on drop.
    http_socket: Option<SocketFile>,
    store: Store,
    events: EventSender,
    shutdown: watch::Sender<bool>,
    smtp_task: JoinHandle<()>,
    http_task: JoinHandle<()>,
    metrics_task: Option<JoinHandle<()>>,
    sessions_done: mpsc::Receiver<()>,
    grace: std::time::Duration,
    intake: Arc<smtp::Intake>,
    webhooks: Webhooks,
    /// Held while the engine runs: one engine per data folder.
    _data_lock: fs::File,
}

impl Engine {
    /// Bind the listeners, open the store and start serving.
    pub async fn start(config: Config) -> Result<Engine, StartError> {
        let auth = match &config.ui_auth_file {
            Some(path) => Some(login::Users::load(path).map_err(|reason| StartError::AuthFile {
                flag: "--ui-auth-file",
                path: path.clone(),
                reason,
            })?),
            None => None,
        };
        let tokens = match &config.api_tokens_file {
            Some(path) => Some(
                login::ApiTokens::load(path).map_err(|reason| StartError::TokensFile { path: path.clone(), reason })?,
            ),
            None => None,
        };
        // A Unix socket is reached by who may open its file (its mode), never by
        // the network, so it is as private as loopback.
        let private_http = config.http_socket.is_some() || config.http_addr.ip().is_loopback();
        // Tokens are authentication as a password is: with either, every request
        // needs credentials.
        if auth.is_none() && tokens.is_none() && !private_http && !config.http_allow_unauthenticated {
            return Err(StartError::OpenHttp { addr: config.http_addr });
        }
        if let Some(path) = &config.api_tokens_file {
            tracing::info!("the API takes the tokens of {}", path.display());
        }
        match (&config.ui_auth_file, private_http) {
            (Some(path), _) => tracing::info!("the web UI and API ask for a user of {}", path.display()),
            (None, _) if tokens.is_some() => {}
            (None, false) => tracing::warn!(
                "HTTP on {} is open to anyone who reaches it (--http-allow-unauthenticated)",
                config.http_addr
            ),
            (None, true) => {}
        }
        let provider_keys = match &config.provider_keys {
            Some(path) => {
                ProviderKeys::load(path).map_err(|reason| StartError::ProviderKeys { path: path.clone(), reason })?
            }
            None => ProviderKeys::default(),
        };
        // Before anything is bound: a bad records file is a usage error.
        let verifier = Verifier::new(&config.checks)?;
        let rules_file = config.rules_file.clone().unwrap_or_else(|| config.data_dir.join(RULES_FILE));
        let simulation = Arc::new(simulation(&rules_file, config.rules_file.is_some())?);
        let ui_policy = api::ui_policy(&config.http.ui_frame_sources)
            .ok_or_else(|| StartError::FrameSources { sources: config.http.ui_frame_sources.join(" ") })?;
        let smtp_socket = bind("SMTP", config.smtp_addr, "--smtp").await?;
        let (http_listener, http_socket) = match &config.http_socket {
            Some(socket) => bind_unix(socket)?,
            None => (HttpListener::Tcp(bind("HTTP", config.http_addr, "--http").await?), None),
        };
        let pop3 = match &config.pop3 {
            Some(pop3) => Some(MailboxDoor::open(pop3, &POP3_FLAGS).await?),
            None => None,
        };
        let imap = match &config.imap {
            Some(imap) => Some(MailboxDoor::open(&imap.server, &IMAP_FLAGS).await?),
            None => None,
        };
        let smtp_addr = local_addr(&smtp_socket, "SMTP", "--smtp")?;
        let http_addr = match &http_listener {
            HttpListener::Tcp(socket) => local_addr(socket, "HTTP", "--http")?,
            #[cfg(unix)]
            HttpListener::Unix(_) => config.http_addr,
        };
        // The metrics listener of its own, with the address it got.
        let metrics_listener = match config.prometheus {
            Prometheus::Listen(addr) => {
                let socket = bind("metrics", addr, "--enable-prometheus").await?;
                let addr = local_addr(&socket, "metrics", "--enable-prometheus")?;
                Some((socket, addr))
            }
            Prometheus::Off | Prometheus::Http => None,
        };
        let metrics_addr = metrics_listener.as_ref().map(|(_, addr)| *addr);

        let data_lock = lock_data_dir(&config.data_dir)?;
        let tls = tls::acceptor(&config.data_dir.join("tls"), &config.smtp.hostname)?;
        let events = event::channel();
        let store = {
            let (dir, store_config, events) = (config.data_dir.clone(), config.store.clone(), events.clone());
            let location = config.store_location.clone();
            tokio::task::spawn_blocking(move || match location {
                StoreLocation::DataDir => Store::open(&dir, store_config, events),
                StoreLocation::Postgres(url) => Store::open_postgres(&url, &dir, store_config, events),
            })
            .await
            .expect("opening the store panicked")?
        };

        let base_url = match &http_socket {
            None => format!("http://{http_addr}"),
            // Reached through whatever forwards to the socket; its name is unknown.
            Some(_) => "http://localhost".to_string(),
        };
        let webhooks = Webhooks::start(&config.data_dir, &base_url, &config.message_webhooks)?;
        // Subscribed before the listener starts: no message misses its webhooks.
        webhooks.watch(store.clone(), events.subscribe());

        let (shutdown, shutdown_rx) = watch::channel(false);
        let smtp_counters = Arc::new(smtp::DeliveryCounters::default());
        let chaos = Arc::new(smtp::Chaos::new(config.chaos));
        let intake = Arc::new(smtp::Intake::new(events.clone()));
        let effects = Effects {
            store: store.clone(),
            relay: config.relay.clone().map(Arc::new),
            hostname: config.smtp.hostname.clone(),
            observer: Some(webhooks::observer(webhooks.clone(), store.clone())),
        }
        .spawn();
        let api_state = ApiState::new(store.clone(), events.clone(), smtp_counters.clone(), intake.clone())
            .with_smtp_address(smtp_addr)
            .with_pop3_address(pop3.as_ref().map(|door| door.addr))
            .with_imap_address(
                imap.as_ref().zip(config.imap.as_ref()).map(|(door, imap)| (door.addr, imap.implicit_tls)),
            )
            .with_chaos(chaos.clone())
            .with_relay(config.relay.clone())
            .with_simulation(simulation.clone(), &rules_file)
            .with_effects(effects.clone())
            .with_auth(auth)
            .with_tokens(tokens)
            .with_provider_keys(provider_keys)
            .with_provider_templates(Templates::new(config.provider_templates.clone()))
            .with_http_address(http_addr, http_socket.is_some())
            .with_local_link_check(config.allow_local_link_check)
            .with_spamassassin(config.spamassassin.clone())
            .with_authentication(verifier)
            .with_webhooks(webhooks.clone())
            .with_http_limits(config.http.max_body, ui_policy)
            .with_screenshots(config.screenshots.clone());
        let api_state = match config.prometheus {
            Prometheus::Off => api_state,
            Prometheus::Http => api_state.with_metrics(true),
            Prometheus::Listen(_) => api_state.with_metrics(false),
        };
        let (sessions_done_tx, sessions_done) = mpsc::channel(1);
        let setup = listener::ListenerSetup {
            limits: config.smtp.clone(),
            tls: Some(tls.clone()),
            store: store.clone(),
            counters: smtp_counters,
            intake: intake.clone(),
            chaos,
            simulation,
            effects,
        };
        let mut mailbox_servers = Vec::new();
        if let (Some(door), Some(pop3)) = (pop3, &config.pop3) {
            let setup = Pop3Setup {
                config: pop3.clone(),
                store: store.clone(),
                tls: Some(mailbox_tls(pop3, &tls)?),
                users: door.users,
            };
            let listener = Pop3Listener::new(door.socket, setup, shutdown_rx.clone(), sessions_done_tx.clone());
            mailbox_servers.push(("pop3", door.addr, tokio::spawn(listener.run())));
        }
        if let (Some(door), Some(imap)) = (imap, &config.imap) {
            let setup = ImapSetup {
                throttle: login::LoginThrottle::new(imap.server.login_failures, imap.server.login_failure_window),
                tls: Some(mailbox_tls(&imap.server, &tls)?),
                config: imap.clone(),
                store: store.clone(),
                events: events.clone(),
                users: door.users,
            };
            let listener = ImapListener::new(door.socket, setup, shutdown_rx.clone());
            mailbox_servers.push(("imap", door.addr, tokio::spawn(listener.run())));
        }
        let listener = Listener::new(smtp_socket, setup, shutdown_rx.clone(), sessions_done_tx);
        let smtp_task = tokio::spawn(listener.run());

        let metrics_task = metrics_listener.map(|(socket, addr)| {
            let router = api::metrics_router(api_state.clone().with_http_address(addr, false));
            let mut stop = shutdown_rx.clone();
            tokio::spawn(async move {
                let stopped = async move {
                    let _ = stop.wait_for(|&stop| stop).await;
                };
                if let Err(err) = axum::serve(socket, router).with_graceful_shutdown(stopped).await {
                    tracing::error!("metrics server failed: {err}");
                }
            })
        });
        let router = mcp::api_router(api_state.clone());
        let mut http_shutdown = shutdown_rx;
        let http_task = tokio::spawn(async move {
            let stopped = async move {
                let _ = http_shutdown.wait_for(|&stop| stop).await;
                // Graceful shutdown does not wait for WebSockets; tell them to go.
                api_state.close_streams();
            };
            let served = match http_listener {
                HttpListener::Tcp(tcp) => {
                    axum::serve(tcp, router.into_make_service_with_connect_info::<SocketAddr>())
                        .with_graceful_shutdown(stopped)
                        .await
                }
                // No peer address to record: the send APIs do without.
                #[cfg(unix)]
                HttpListener::Unix(unix) => {
                    axum::serve(unix, router.into_make_service()).with_graceful_shutdown(stopped).await
                }
            };
            if let Err(err) = served {
                tracing::error!("http server failed: {err}");
            }
        });

        Ok(Engine {
            smtp_addr,
            http_addr,
            metrics_addr,
            mailbox_servers,
            http_socket,
            store,
            events,
            shutdown,
            smtp_task,
            http_task,
            metrics_task,
            sessions_done,
            grace: config.shutdown_grace,
            intake,
            webhooks,
            _data_lock: data_lock,
        })
    }

    /// Pause SMTP intake (new connections and idle sessions get 421) or resume it.
    /// Announced as the `intake` event.
    pub fn set_intake_paused(&self, paused: bool) {
        self.intake.set_paused(paused);
    }

    pub fn intake_paused(&self) -> bool {
        self.intake.is_paused()
    }

    /// Say where the engine listens: `smtp listening on ADDR`, `http listening on
    /// ADDR` and, with a metrics listener of its own, `metrics listening on ADDR` on
    /// stdout (a contract: scripts and tests that asked for port 0 read them), and
    /// the web UI's address in the log, for people. Written, not `println!`: a
    /// closed stdout must not stop the engine.
    pub fn announce(&self) {
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "smtp listening on {}", self.smtp_addr);
        match &self.http_socket {
            Some(socket) => {
                let _ = writeln!(stdout, "http listening on unix:{}", socket.0.display());
            }
            None => {
                let _ = writeln!(stdout, "http listening on {}", self.http_addr);
            }
        }
        if let Some(addr) = self.metrics_addr {
            let _ = writeln!(stdout, "metrics listening on {addr}");
        }
        for (name, addr, _) in &self.mailbox_servers {
            let _ = writeln!(stdout, "{name} listening on {addr}");
        }
        let _ = stdout.flush();
        drop(stdout);
        if self.http_socket.is_none() {
            tracing::info!("web UI at http://{}/", self.http_addr);
        }
    }

    /// The address SMTP listens on (with the real port when 0 was asked for).
    pub fn smtp_addr(&self) -> SocketAddr {
        self.smtp_addr
    }

    /// The address IMAP listens on (`--imap`), if it does.
    pub fn imap_addr(&self) -> Option<SocketAddr> {
        self.mailbox_servers.iter().find(|(name, _, _)| *name == "imap").map(|(_, addr, _)| *addr)
    }

    /// The address the metrics listener of its own (`--enable-prometheus ADDR`)
    /// is bound to, if there is one.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    /// The address the HTTP API listens on (with HTTP on a Unix socket, the
    /// configured TCP address, which nothing listens on).
    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    /// The store, for in-process callers (the desktop app).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The event stream, for in-process callers (tray, notifications).
    pub fn events(&self) -> &EventSender {
        &self.events
    }

    /// Stop accepting, let sessions finish (bounded by the grace period), stop the
    /// API, and flush the store. Every message acknowledged before is on disk after.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        let _ = self.smtp_task.await;
        for (_, _, task) in self.mailbox_servers.drain(..) {
            let _ = task.await;
        }
        if tokio::time::timeout(self.grace, self.sessions_done.recv()).await.is_err() {
            tracing::warn!("some SMTP sessions did not finish within {:?}; closing them", self.grace);
        }
        if tokio::time::timeout(self.grace, &mut self.http_task).await.is_err() {
            self.http_task.abort();
        }
        if let Some(mut task) = self.metrics_task.take()
            && tokio::time::timeout(self.grace, &mut task).await.is_err()
        {
            task.abort();
        }
        self.webhooks.shutdown();
        self.store.close().await;
    }
}

/// The flags of a mail-reading listener, for its errors.
struct MailboxFlags {
    what: &'static str,
    flag: &'static str,
    auth_flag: &'static str,
    tls_flag: &'static str,
}

const POP3_FLAGS: MailboxFlags =
    MailboxFlags { what: "POP3", flag: "--pop3", auth_flag: "--pop3-auth-file", tls_flag: "--pop3-tls" };
const IMAP_FLAGS: MailboxFlags =
    MailboxFlags { what: "IMAP", flag: "--imap", auth_flag: "--imap-auth-file", tls_flag: "--imap-tls" };

/// A mail-reading listener's socket, bound, with the users its password file lists.
struct MailboxDoor {
    socket: TcpListener,
    addr: SocketAddr,
    users: Option<Arc<login::Users>>,
}

impl MailboxDoor {
    /// Read the password file and bind. Without a password file anyone may log
    /// in, so the address must be loopback.
    async fn open(config: &MailboxServerConfig, flags: &MailboxFlags) -> Result<MailboxDoor, StartError> {
        if config.tls_cert.is_some() != config.tls_key.is_some() {
            return Err(StartError::TlsPair { what: flags.what, flag: flags.tls_flag });
        }
        let users = match &config.auth_file {
            Some(path) => Some(Arc::new(login::Users::load(path).map_err(|reason| StartError::AuthFile {
                flag: flags.auth_flag,
                path: path.clone(),
                reason,
            })?)),
            None if !config.addr.ip().to_canonical().is_loopback() => {
                return Err(StartError::OpenMailbox {
                    what: flags.what,
                    addr: config.addr,
                    auth_flag: flags.auth_flag,
                });
            }
            None => None,
        };
        let socket = bind(flags.what, config.addr, flags.flag).await?;
        let addr = local_addr(&socket, flags.what, flags.flag)?;
        Ok(MailboxDoor { socket, addr, users })
    }
}

/// A mail-reading listener's TLS: the certificate and key it was given, or the
/// engine's own.
fn mailbox_tls(config: &MailboxServerConfig, engine_tls: &TlsAcceptor) -> Result<TlsAcceptor, TlsError> {
    match (&config.tls_cert, &config.tls_key) {
        (Some(cert), Some(key)) => tls::acceptor_from_files(cert, key),
        _ => Ok(engine_tls.clone()),
    }
}

async fn bind(what: &'static str, addr: SocketAddr, flag: &'static str) -> Result<TcpListener, StartError> {
    TcpListener::bind(addr).await.map_err(|source| match source.kind() {
        io::ErrorKind::AddrInUse => StartError::AddressInUse { what, addr, flag },
        _ => StartError::Bind { what, addr, flag, source },
    })
}

/// HTTP's listener: TCP, or a Unix socket (its file is a [`SocketFile`]).
enum HttpListener {
    Tcp(TcpListener),
    #[cfg(unix)]
    Unix(UnixListener),
}

/// A socket file this engine made; removed when dropped (shutdown, or a start
/// that failed after binding it).
struct SocketFile(PathBuf);

impl Drop for SocketFile {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

/// Listen on `socket.path` with `socket.mode`. A socket file there that nobody
/// accepts on is what a killed engine leaves: it is replaced. A live socket, or
/// anything that is not a socket, is left alone and refused.
#[cfg(unix)]
fn bind_unix(socket: &UnixSocket) -> Result<(HttpListener, Option<SocketFile>), StartError> {
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};
    let fail = |reason: String| StartError::BindSocket { path: socket.path.clone(), reason };
    match fs::symlink_metadata(&socket.path) {
        Ok(meta) if meta.file_type().is_socket() => {
            if std::os::unix::net::UnixStream::connect(&socket.path).is_ok() {
                return Err(fail("another program is listening on it".into()));
            }
            fs::remove_file(&socket.path).map_err(|e| fail(format!("cannot replace the stale socket: {e}")))?;
        }
        Ok(_) => return Err(fail("the path exists and is not a socket".into())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(fail(e.to_string())),
    }
    let listener = UnixListener::bind(&socket.path).map_err(|e| fail(e.to_string()))?;
    let file = SocketFile(socket.path.clone());
    fs::set_permissions(&socket.path, fs::Permissions::from_mode(socket.mode)).map_err(|e| fail(e.to_string()))?;
    Ok((HttpListener::Unix(listener), Some(file)))
}

/// Where there are no Unix sockets, `--http unix:PATH` is refused at start.
#[cfg(not(unix))]
fn bind_unix(socket: &UnixSocket) -> Result<(HttpListener, Option<SocketFile>), StartError> {
    Err(StartError::BindSocket {
        path: socket.path.clone(),
        reason: "this system has no Unix sockets; use --http ADDRESS:PORT".into(),
    })
}

fn local_addr(socket: &TcpListener, what: &'static str, flag: &'static str) -> Result<SocketAddr, StartError> {
    socket.local_addr().map_err(|source| StartError::Bind {
        what,
        addr: SocketAddr::from(([0, 0, 0, 0], 0)),
        flag,
        source,
    })
}

/// The simulation under the rules in `path`; a missing file is no rules unless
/// the user named it.
fn simulation(path: &Path, named: bool) -> Result<Simulation, StartError> {
    let fail = |reason: String| StartError::Rules { path: path.to_path_buf(), reason };
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) if err.kind() == io::ErrorKind::NotFound && !named => String::new(),
        Err(err) => return Err(fail(err.to_string())),
    };
    Simulation::new(&text, Box::new(std::time::Instant::now)).map_err(fail)
}

/// Create the data folder (owner-only: captured mail holds reset links and codes)
/// and take its lock file, which also proves we can write there, before anything
/// else is written. Two engines on one folder would each count and prune the
/// messages as if they were alone.
fn lock_data_dir(path: &Path) -> Result<fs::File, StartError> {
    let fail = |source| StartError::DataDir { path: path.to_path_buf(), source };
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(path).map_err(fail)?;
    let lock = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path.join("pigeonhole.lock"))
        .map_err(fail)?;
    match lock.try_lock() {
        Ok(()) => Ok(lock),
        Err(fs::TryLockError::WouldBlock) => Err(StartError::DataDirInUse { path: path.to_path_buf() }),
        Err(fs::TryLockError::Error(source)) => Err(fail(source)),
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    use super::*;

    fn config(data: &Path) -> Config {
        let mut config = Config::new(data.to_owned());
        config.smtp_addr = SocketAddr::from(([127, 0, 0, 1], 0));
        config.http_addr = SocketAddr::from(([127, 0, 0, 1], 0));
        config
    }

    /// One HTTP/1.1 request over a fresh connection; the whole answer as text.
    async fn http(engine: &Engine, request: &str) -> String {
        http_to(engine.http_addr(), request).await
    }

    async fn http_to(addr: SocketAddr, request: &str) -> String {
        let mut socket = TcpStream::connect(addr).await.unwrap();
        socket.write_all(request.as_bytes()).await.unwrap();
        let mut answer = Vec::new();
        socket.read_to_end(&mut answer).await.unwrap();
        String::from_utf8_lossy(&answer).into_owned()
    }

    /// The HTTP limits come from `Config` alone: the UI's extra frame source lands in
    /// its policy, and the body cap is the configured one.
    #[tokio::test]
    async fn the_http_limits_come_from_the_config() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = config(&dir.path().join("data"));
        config.http.ui_frame_sources = vec!["isolation-42:".into()];
        config.http.max_body = 1024;
        let engine = Engine::start(config).await.unwrap();
        let host = format!("Host: {}\r\nConnection: close\r\n", engine.http_addr());

        let page = http(&engine, &format!("GET / HTTP/1.1\r\n{host}\r\n")).await;
        let policy = page.lines().find(|l| l.to_ascii_lowercase().starts_with("content-security-policy:"));
        assert!(policy.is_some_and(|p| p.ends_with("frame-src 'self' isolation-42:")), "{page}");

        let body = "x".repeat(1025);
        let request = format!(
            "POST /api/v1/import HTTP/1.1\r\n{host}Content-Type: message/rfc822\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        let refused = http(&engine, &request).await;
        assert!(refused.starts_with("HTTP/1.1 413"), "{refused}");
        engine.shutdown().await;
    }

    /// A metrics listener asked for on port 0 reports the port it got, and serves
    /// the metrics there and only there.
    #[tokio::test]
    async fn a_metrics_listener_of_its_own_reports_its_address() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = config(&dir.path().join("data"));
        config.prometheus = Prometheus::Listen(SocketAddr::from(([127, 0, 0, 1], 0)));
        let engine = Engine::start(config).await.unwrap();
        let addr = engine.metrics_addr().expect("a metrics listener");
        assert_ne!(addr.port(), 0);
        let request = format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        let metrics = http_to(addr, &request).await;
        assert!(
            metrics.starts_with("HTTP/1.1 200") && metrics.contains("pigeonhole_smtp_sessions_total 0"),
            "{metrics}"
        );
        let host = engine.http_addr();
        let page = http(&engine, &format!("GET /metrics HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")).await;
        assert!(!page.contains("pigeonhole_smtp_sessions_total"), "{page}");
        engine.shutdown().await;
    }

    /// A frame source that is not a plain CSP token stops the start before anything
    /// is bound or written.
    #[tokio::test]
    async fn a_hostile_frame_source_refuses_to_start_and_touches_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let mut config = config(&data);
        config.http.ui_frame_sources = vec!["isolation-1: ; script-src *".into()];
        let refused = Engine::start(config).await.err().expect("must refuse");
        assert!(matches!(refused, StartError::FrameSources { .. }), "{refused}");
        assert!(!data.exists(), "the data folder was created");
    }
}
