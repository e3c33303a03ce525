//! The POP3 listener: accepts connections and runs one [`Session`] per connection,
//! carrying out what it asks (check a login, read a message, delete on QUIT).
//!
//! Shaped like the SMTP listener (tokio's mini-redis): an accept loop, a task per
//! connection, a semaphore for the connection cap (a client past it gets `-ERR` and
//! is closed), and an explicit shutdown that tells each waiting client why it is
//! closed. A session that sends no complete command within the idle timeout is
//! closed; a line longer than [`MAX_LINE`] ends the session. Failed logins go
//! through the [`LoginThrottle`], and bcrypt runs off the async threads.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, watch};
use tokio::time::timeout;
use tokio_rustls::TlsAcceptor;

use super::session::{Maildrop, Session, Step, message_lines};
use crate::config::MailboxServerConfig;
use crate::login::{LoginThrottle, Users, plaintext_allowed};
use crate::model::{Access, DEFAULT_INBOX};
use crate::store::{SearchQuery, Selection, Store, StoreError};
use crate::tls::{Connection, accept};

/// Longest line read, CRLF included: a command (255 octets) or a SASL response.
const MAX_LINE: usize = 2048;
/// How long a refused or closed client gets to read its last reply.
const LAST_WRITE_TIMEOUT: Duration = Duration::from_secs(1);

/// Everything a connection handler needs, shared by all of them.
pub struct Pop3Setup {
    pub config: MailboxServerConfig,
    pub store: Store,
    /// `None`: any user and password (the engine allows it on loopback only).
    pub users: Option<Arc<Users>>,
    /// For STLS; `None` leaves it unadvertised.
    pub tls: Option<TlsAcceptor>,
}

/// The accept loop, around a socket the engine already bound.
pub struct Pop3Listener {
    listener: TcpListener,
    setup: Arc<Pop3Setup>,
    throttle: Arc<LoginThrottle>,
    connections: Arc<Semaphore>,
    shutdown: watch::Receiver<bool>,
    /// Cloned into every handler; when all clones are gone, every session ended.
    sessions_done: mpsc::Sender<()>,
}

impl Pop3Listener {
    pub fn new(
        listener: TcpListener,
        setup: Pop3Setup,
        shutdown: watch::Receiver<bool>,
        sessions_done: mpsc::Sender<()>,
    ) -> Pop3Listener {
        Pop3Listener {
            listener,
            throttle: Arc::new(LoginThrottle::new(setup.config.login_failures, setup.config.login_failure_window)),
            connections: Arc::new(Semaphore::new(setup.config.max_connections)),
            setup: Arc::new(setup),
            shutdown,
            sessions_done,
        }
    }

    /// Accept connections until shutdown is signalled.
    pub async fn run(mut self) {
        loop {
            let Some((socket, peer)) = accept(&self.listener, &mut self.shutdown, "pop3").await else {
                return;
            };
            let Ok(permit) = self.connections.clone().try_acquire_owned() else {
                tracing::warn!(%peer, "pop3 connection refused: too many connections");
                tokio::spawn(say_last(
                    Connection::Plain(socket),
                    Session::closing("too many connections; try again later"),
                ));
                continue;
            };
            let handler = Handler {
                setup: self.setup.clone(),
                throttle: self.throttle.clone(),
                peer,
                shutdown: self.shutdown.clone(),
                _permit: permit,
            };
            let done = self.sessions_done.clone();
            tokio::spawn(async move {
                if let Err(err) = handler.run(socket).await {
                    tracing::debug!(%peer, "pop3 session ended: {err}");
                }
                drop(done);
            });
        }
    }
}

async fn say_last(mut connection: Connection, reply: Vec<u8>) {
    let _ = timeout(LAST_WRITE_TIMEOUT, connection.write_all(&reply)).await;
    let _ = timeout(LAST_WRITE_TIMEOUT, connection.shutdown()).await;
}

/// One connection, from accept to close.
struct Handler {
    setup: Arc<Pop3Setup>,
    throttle: Arc<LoginThrottle>,
    peer: SocketAddr,
    shutdown: watch::Receiver<bool>,
    /// Its place under the connection cap, released when the handler ends.
    _permit: OwnedSemaphorePermit,
}

/// What reading the next line came to.
enum Line {
    Read(Vec<u8>),
    Closed,
    /// Idle too long, a line too long, or shutdown: say this and close.
    End(Vec<u8>),
}

impl Handler {
    async fn run(mut self, socket: TcpStream) -> io::Result<()> {
        let mut connection = Connection::Plain(socket);
        let mut session = Session::new(self.setup.tls.is_some(), plaintext_allowed(self.peer.ip(), false));
        connection.write_all(Session::greeting()).await?;
        let mut buffer = Vec::new();
        loop {
            let line = match self.next_line(&mut connection, &mut buffer).await? {
                Line::Read(line) => line,
                Line::Closed => return Ok(()),
                Line::End(reply) => {
                    say_last(connection, reply).await;
                    return Ok(());
                }
            };
            match session.command(&line) {
                Step::Reply(reply) => connection.write_all(&reply).await?,
                Step::Login { user, password } => {
                    let reply = self.login(&mut session, user, password).await;
                    connection.write_all(&reply).await?;
                }
                Step::Message { id, status, body_lines } => {
                    let store = self.setup.store.clone();
                    let read = tokio::task::spawn_blocking(move || store.raw(&id)).await.map_err(io::Error::other)?;
                    match read {
                        Ok(Some(raw)) => {
                            let mut reply = status;
                            reply.extend(message_lines(&raw, body_lines));
                            connection.write_all(&reply).await?;
                        }
                        Ok(None) => connection.write_all(b"-ERR the message was deleted meanwhile\r\n").await?,
                        Err(err) => {
                            connection.write_all(format!("-ERR {}\r\n", store_failure(&err)).as_bytes()).await?
                        }
                    }
                }
                Step::StartTls(reply) => {
                    connection.write_all(&reply).await?;
                    let acceptor = self.setup.tls.as_ref().expect("STLS is offered only with TLS");
                    connection = connection.upgrade(acceptor, self.setup.config.idle_timeout).await?;
                    // Whatever the client sent before TLS was on is not trusted after.
                    buffer.clear();
                    session.tls_started();
                }
                Step::Update { delete } => {
                    let count = delete.len();
                    let deleted = if delete.is_empty() {
                        Ok(0)
                    } else {
                        self.setup
                            .store
                            .delete(Selection::Ids(delete))
                            .await
                            .map(|()| count)
                            .map_err(|err| err.to_string())
                    };
                    say_last(connection, Session::signed_off(deleted)).await;
                    return Ok(());
                }
                Step::Close(reply) => {
                    say_last(connection, reply).await;
                    return Ok(());
                }
            }
        }
    }

    /// The next line without its CRLF, from `buffer` or the socket.
    async fn next_line(&mut self, connection: &mut Connection, buffer: &mut Vec<u8>) -> io::Result<Line> {
        let deadline = tokio::time::Instant::now() + self.setup.config.idle_timeout;
        loop {
            if let Some(end) = buffer.iter().position(|&byte| byte == b'\n') {
                let mut line: Vec<u8> = buffer.drain(..=end).collect();
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(Line::Read(line));
            }
            if buffer.len() >= MAX_LINE {
                return Ok(Line::End(Session::closing("line too long; closing")));
            }
            let mut chunk = [0u8; 1024];
            let read = tokio::select! {
                read = tokio::time::timeout_at(deadline, connection.read(&mut chunk)) => read,
                _ = self.shutdown.wait_for(|&stop| stop) => {
                    return Ok(Line::End(Session::closing("Pigeonhole is shutting down")));
                }
            };
            let Ok(read) = read else {
                return Ok(Line::End(Session::closing("idle too long; closing")));
            };
            let read = read?;
            if read == 0 {
                return Ok(Line::Closed);
            }
            buffer.extend_from_slice(&chunk[..read]);
        }
    }

    /// Check a login (throttled), and open its maildrop.
    async fn login(&self, session: &mut Session, user: String, password: String) -> Vec<u8> {
        let peer = self.peer.ip();
        if let Err(wait) = self.throttle.check(peer) {
            tracing::warn!(%peer, "pop3 login refused: too many failures");
            return session.login_failed(&format!(
                "[SYS/TEMP] too many failed logins from your address; try again in {} s",
                wait.as_secs().max(1)
            ));
        }
        let access = match &self.setup.users {
            Some(users) => users.verify_off_thread(user.clone(), password).await,
            None => Some(Access::All),
        };
        let Some(access) = access else {
            self.throttle.failed(peer);
            tracing::info!(%peer, user, "pop3 login failed");
            return session.login_failed("[AUTH] wrong user or password");
        };
        self.throttle.succeeded(peer);
        let store = self.setup.store.clone();
        match tokio::task::spawn_blocking(move || open_maildrop(&store, &user, &access)).await {
            Ok(Ok(maildrop)) => session.logged_in(maildrop),
            Ok(Err(err)) => session.login_failed(&store_failure(&err)),
            Err(err) => session.login_failed(&format!("[SYS/TEMP] reading the inbox failed: {err}")),
        }
    }
}

/// The inbox a login name picks: the inbox of that name (an SMTP AUTH user's), or
/// the default inbox for any other name. A user limited to some inboxes gets the
/// one of its name if it is among them, else the first of them by name. Oldest
/// message first.
fn open_maildrop(store: &Store, user: &str, access: &Access) -> Result<Maildrop, StoreError> {
    // The search's quotes keep a name with spaces whole; a name with a quote of its
    // own cannot be searched for, so it gets the default inbox too.
    let named = store.inboxes()?.iter().any(|inbox| inbox.name == user) && !user.contains('"');
    let inbox = match access.inboxes() {
        Some(allowed) if !allowed.iter().any(|name| name == user) => allowed.into_iter().next().unwrap_or_default(),
        Some(_) => user.to_owned(),
        None if named => user.to_owned(),
        None => DEFAULT_INBOX.to_owned(),
    };
    // Kept within the access too, so a name with a quote cannot reach further.
    let query = SearchQuery::from(format!("inbox:\"{inbox}\"")).within(access);
    let page = store.search_in(&query, 0, i64::MAX as u64)?;
    Ok(Maildrop::new(page.messages.into_iter().rev().map(|summary| (summary.id, summary.size))))
}

fn store_failure(err: &StoreError) -> String {
    format!("[SYS/TEMP] the store failed: {err}; try again")
}
