//! The IMAP listener: accepts connections and runs one [`Session`] per
//! connection, shaped like the SMTP listener (an accept loop, a task per
//! connection, a cap on open sessions, an explicit shutdown).
//!
//! All I/O, clocks and timeouts live here; the protocol lives in the session.
//! A connection is plain (STARTTLS upgrades it: the session resumes on the TLS
//! stream) or TLS from the first byte (`--imap-tls-implicit`). Timeouts: a
//! command must be complete within `command_timeout` of its first byte (no
//! slowloris), a session waits `login_timeout` for a command before logging in
//! and `idle_timeout` after (IDLE included, the 29-minute re-IDLE of clients
//! fits); before login, a command may not grow past a line's length (no literal's
//! worth of memory for a client nobody knows). While the client IDLEs, the
//! session also waits on the store's event broadcast, so a new message is
//! announced as soon as it is committed.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::time::{Instant, timeout};

use super::ImapSetup;
use super::session::{Session, Step};
use crate::tls::accept;

/// Bytes read from the socket at a time.
const READ_CHUNK: usize = 16 * 1024;
/// How long a TLS handshake may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a refused client gets to read its BYE.
const REFUSAL_WRITE_TIMEOUT: Duration = Duration::from_secs(1);

/// The accept loop, built by the engine around an already bound socket.
pub struct Listener {
    listener: TcpListener,
    setup: Arc<ImapSetup>,
    slots: Arc<Semaphore>,
    shutdown: watch::Receiver<bool>,
}

impl Listener {
    pub fn new(listener: TcpListener, setup: ImapSetup, shutdown: watch::Receiver<bool>) -> Listener {
        Listener {
            listener,
            slots: Arc::new(Semaphore::new(setup.config.server.max_connections.max(1))),
            setup: Arc::new(setup),
            shutdown,
        }
    }

    /// Accept connections until shutdown is signalled.
    pub async fn run(mut self) {
        loop {
            let Some((socket, peer)) = accept(&self.listener, &mut self.shutdown, "imap").await else {
                return;
            };
            let Ok(slot) = self.slots.clone().try_acquire_owned() else {
                tracing::warn!(%peer, "imap connection refused: too many connections");
                tokio::spawn(refuse(socket));
                continue;
            };
            let setup = self.setup.clone();
            let shutdown = self.shutdown.clone();
            tokio::spawn(async move {
                if let Err(err) = connection(setup, socket, peer, slot, shutdown).await {
                    tracing::debug!(%peer, "imap session ended: {err}");
                }
            });
        }
    }
}

async fn refuse(mut socket: TcpStream) {
    let _ = timeout(REFUSAL_WRITE_TIMEOUT, socket.write_all(&Session::too_many_connections())).await;
}

/// How a stream's part of a session ended.
enum Ended {
    Closed,
    /// STARTTLS: go on over TLS on the same socket.
    StartTls,
}

async fn connection(
    setup: Arc<ImapSetup>,
    socket: TcpStream,
    peer: SocketAddr,
    _slot: OwnedSemaphorePermit,
    mut shutdown: watch::Receiver<bool>,
) -> io::Result<()> {
    if setup.config.implicit_tls {
        let acceptor = setup.tls.clone().ok_or_else(|| io::Error::other("implicit TLS without a certificate"))?;
        let mut stream = handshake(&acceptor, socket).await?;
        let mut session = Session::new(setup.clone(), peer, true);
        serve(&mut session, &mut stream, &setup, &mut shutdown).await?;
        return Ok(());
    }
    let mut socket = socket;
    let mut session = Session::new(setup.clone(), peer, false);
    if let Ended::StartTls = serve(&mut session, &mut socket, &setup, &mut shutdown).await? {
        let acceptor = setup.tls.clone().ok_or_else(|| io::Error::other("STARTTLS without a certificate"))?;
        let mut stream = handshake(&acceptor, socket).await?;
        session.tls_started();
        serve(&mut session, &mut stream, &setup, &mut shutdown).await?;
    }
    Ok(())
}

async fn handshake(
    acceptor: &tokio_rustls::TlsAcceptor,
    socket: TcpStream,
) -> io::Result<tokio_rustls::server::TlsStream<TcpStream>> {
    timeout(HANDSHAKE_TIMEOUT, acceptor.accept(socket))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "TLS handshake timed out"))?
}

/// Run `session` over `stream` until it closes or asks for TLS.
async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    session: &mut Session,
    stream: &mut S,
    setup: &ImapSetup,
    shutdown: &mut watch::Receiver<bool>,
) -> io::Result<Ended> {
    let limits = &setup.config.limits;
    let mut buffer = vec![0u8; READ_CHUNK];
    // When the command being received began, how many were done then, and the
    // bytes of it received so far.
    let mut command_started: Option<(Instant, u64)> = None;
    let mut command_bytes = 0usize;
    loop {
        match session.step().await {
            Step::Write(bytes) => {
                timeout(limits.command_timeout, stream.write_all(&bytes))
                    .await
                    .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "the client stopped reading"))??;
            }
            Step::StartTls => {
                stream.flush().await?;
                return Ok(Ended::StartTls);
            }
            Step::Close => {
                let _ = stream.shutdown().await;
                return Ok(Ended::Closed);
            }
            Step::Read => {
                if session.idling() || command_started.is_some_and(|(_, done)| done != session.commands_done()) {
                    command_started = None;
                    command_bytes = 0;
                }
                let wait = match command_started {
                    Some((since, _)) => limits.command_timeout.saturating_sub(since.elapsed()),
                    None if session.authenticated() => setup.config.server.idle_timeout,
                    None => limits.login_timeout,
                };
                let idling = session.idling();
                let read = tokio::select! {
                    read = timeout(wait, stream.read(&mut buffer)) => read,
                    _ = session.changed(), if idling => {
                        session.idle_update();
                        continue;
                    }
                    // As a plain value: the watch's guard must not live in the select.
                    _ = async { shutdown.wait_for(|&stop| stop).await.is_ok() } => {
                        let _ = timeout(REFUSAL_WRITE_TIMEOUT, stream.write_all(b"* BYE Pigeonhole is shutting down\r\n")).await;
                        return Ok(Ended::Closed);
                    }
                };
                match read {
                    Err(_elapsed) => {
                        let why: &[u8] = if command_started.is_some() {
                            b"* BYE The command took too long to arrive; closing\r\n"
                        } else {
                            b"* BYE Autologout: idle for too long\r\n"
                        };
                        let _ = timeout(REFUSAL_WRITE_TIMEOUT, stream.write_all(why)).await;
                        return Ok(Ended::Closed);
                    }
                    Ok(Ok(0)) => return Ok(Ended::Closed),
                    Ok(Ok(n)) => {
                        if command_started.is_none() {
                            command_started = Some((Instant::now(), session.commands_done()));
                        }
                        command_bytes += n;
                        // Before login a command is a line or two: a client may not
                        // make the framing hold a literal's worth of memory.
                        if !session.authenticated() && command_bytes > limits.max_line_length as usize {
                            let bye = b"* BYE Log in before sending anything large; closing\r\n";
                            let _ = timeout(REFUSAL_WRITE_TIMEOUT, stream.write_all(bye)).await;
                            return Ok(Ended::Closed);
                        }
                        session.feed(&buffer[..n]);
                    }
                    Ok(Err(err)) => return Err(err),
                }
            }
        }
    }
}
