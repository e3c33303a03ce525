//! The SMTP listener: accepts connections and runs one [`Session`] per connection.
//!
//! Shaped like tokio's mini-redis server: an accept loop ([`Listener`]), a task per
//! connection running a [`Handler`], a cap on open sessions ([`Slots`]: a semaphore,
//! with eviction and stress timeouts so that idle sockets cannot lock real clients
//! out), and an explicit shutdown. On shutdown the loop stops accepting; a session
//! waiting for a command gets 421 and is closed; a session in the middle of a
//! message finishes it (its delivery is acknowledged or refused) and then gets 421.
//! The engine bounds the whole by a grace period. Pausing intake ([`Intake`])
//! refuses and ends sessions the same way, with its own 421, and leaves the socket
//! open.
//!
//! All I/O, clocks and timeouts live here; the protocol lives in the session.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use time::OffsetDateTime;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, timeout};
use tokio_rustls::TlsAcceptor;

use super::session::{Action, BodyBudget, BodyCover, Delivery, Ending, Refusal, Session};
use super::slots::{self, Slot, Slots};
use super::{Chaos, DeliveryCounters, Intake};
use crate::config::SmtpLimits;
use crate::metrics::Rejection;
use crate::model::{MessageId, NewMessage};
use crate::simulation::Simulation;
use crate::simulation::effects::{Committed, EffectsHandle};
use crate::store::{Reservation, Store, SubmitError};
use crate::tls::{Connection, accept};

/// Bytes read from the socket at a time, once a client sends in bulk.
const READ_CHUNK: usize = 16 * 1024;
/// The read buffer of a session that has only sent commands so far: an idle session
/// costs little memory (thousands of idle sockets must not cost 16 KB each).
const SMALL_READ: usize = 512;
/// The minimum data rate: a session must complete a command (get a reply) or send
/// this many bytes within each `command_timeout`, or it is closed as idle. A reset
/// on every read would let a client that trickles a byte now and then (slowloris)
/// hold its socket until the session timeout.
const MIN_PROGRESS_BYTES: usize = 1024;
/// How long a refused client (connection cap, paused intake) gets to read its 421.
const REFUSAL_WRITE_TIMEOUT: Duration = Duration::from_secs(1);

/// Everything a connection handler needs, shared by all of them.
pub struct ListenerSetup {
    pub limits: SmtpLimits,
    /// For STARTTLS; `None` leaves it unadvertised.
    pub tls: Option<TlsAcceptor>,
    pub store: Store,
    pub counters: Arc<DeliveryCounters>,
    pub intake: Arc<Intake>,
    /// The chaos triggers, read before each step of every session.
    pub chaos: Arc<Chaos>,
    /// The delivery simulation every session judges its recipients by.
    pub simulation: Arc<Simulation>,
    /// Where a committed message's simulated effects (bounce, complaint,
    /// auto-reply, forward) go, to be carried out off the reply path.
    pub effects: EffectsHandle,
}

/// The accept loop. Built by the engine around an already bound socket, so that
/// "port in use" is reported before anything starts.
pub struct Listener {
    listener: TcpListener,
    setup: Arc<ListenerSetup>,
    slots: Arc<Slots>,
    shutdown: watch::Receiver<bool>,
    /// Cloned into every handler; when all clones are gone, every session ended.
    sessions_done: mpsc::Sender<()>,
}

impl Listener {
    pub fn new(
        listener: TcpListener,
        setup: ListenerSetup,
        shutdown: watch::Receiver<bool>,
        sessions_done: mpsc::Sender<()>,
    ) -> Listener {
        Listener {
            listener,
            slots: Slots::new(setup.limits.max_connections),
            setup: Arc::new(setup),
            shutdown,
            sessions_done,
        }
    }

    /// Accept connections until shutdown is signalled.
    pub async fn run(mut self) {
        loop {
            let Some((socket, peer)) = accept(&self.listener, &mut self.shutdown, "smtp").await else {
                return;
            };
            if self.setup.intake.is_paused() {
                tracing::debug!(%peer, "smtp connection refused: intake paused");
                self.setup.counters.rejections.add(Rejection::Paused);
                tokio::spawn(refuse(socket, Session::intake_paused()));
                continue;
            }
            let slots = self.slots.clone();
            let setup = self.setup.clone();
            let shutdown = self.shutdown.clone();
            let done = self.sessions_done.clone();
            tokio::spawn(async move {
                let Some(slot) = slots.admit().await else {
                    tracing::warn!(%peer, "smtp connection refused: too many connections");
                    setup.counters.rejections.add(Rejection::Connections);
                    return refuse(socket, Session::too_many_connections()).await;
                };
                let counters = setup.counters.clone();
                counters.sessions.fetch_add(1, Ordering::Relaxed);
                counters.sessions_open.fetch_add(1, Ordering::Relaxed);
                let handler = Handler::new(setup, socket, peer, slot, shutdown);
                if let Err(err) = handler.run().await {
                    tracing::debug!(%peer, "smtp session ended: {err}");
                }
                counters.sessions_open.fetch_sub(1, Ordering::Relaxed);
                drop(done);
            });
        }
    }
}

async fn refuse(mut socket: TcpStream, reply: &'static [u8]) {
    let _ = timeout(REFUSAL_WRITE_TIMEOUT, socket.write_all(reply)).await;
}

/// What waiting for the client came to.
enum Wait {
    /// Bytes read into the handler's buffer.
    Read(usize),
    /// The client closed the connection.
    Closed,
    /// The listener ends the session.
    End(Ending),
    /// Something changed (shutdown, intake, an eviction ignored, a stress check):
    /// run the session again.
    Again,
}

/// One connection and its session, from accept to close.
struct Handler {
    setup: Arc<ListenerSetup>,
    connection: Connection,
    session: Session,
    peer: SocketAddr,
    /// Its place under the connection cap; released when the handler is dropped.
    slot: Slot,
    buf: Vec<u8>,
    shutdown: watch::Receiver<bool>,
    paused: watch::Receiver<bool>,
    session_deadline: Instant,
    /// The per-command deadline: moved on by a reply or by MIN_PROGRESS_BYTES of input.
    command_deadline: Instant,
    /// Input since the command deadline last moved.
    progress: usize,
    /// The last reply: the session's last progress, for the stress timeout and eviction.
    progress_at: Instant,
    /// When to look next whether the listener is under stress.
    stress_check: Instant,
    /// The message being received, counted against the store's byte budget as it
    /// arrives; handed to the store with the message.
    reservation: Reservation,
}

impl Handler {
    fn new(
        setup: Arc<ListenerSetup>,
        socket: TcpStream,
        peer: SocketAddr,
        slot: Slot,
        shutdown: watch::Receiver<bool>,
    ) -> Handler {
        let limits = &setup.limits;
        let nonce = uuid::Uuid::new_v4().simple().to_string();
        let mut session = Session::new(limits, peer.to_string(), setup.tls.is_some(), nonce)
            .with_simulation(setup.simulation.clone())
            .counting_into(setup.counters.clone());
        if setup.chaos.is_enabled() {
            session = session.with_chaos_draw(Box::new(|| fastrand::u8(0..100)));
        }
        let now = Instant::now();
        Handler {
            connection: Connection::Plain(socket),
            session,
            peer,
            slot,
            buf: vec![0u8; SMALL_READ],
            paused: setup.intake.watch(),
            shutdown,
            session_deadline: now + limits.session_timeout,
            command_deadline: now + limits.command_timeout,
            progress: 0,
            progress_at: now,
            stress_check: now + limits.stress_command_timeout,
            reservation: setup.store.reservation(),
            setup,
        }
    }

    /// Run the session to its end.
    async fn run(mut self) -> io::Result<()> {
        loop {
            if self.run_session().await? == Some(Action::Close) {
                return self.close().await;
            }
            self.flush_replies().await?;
            if let Some(ending) = self.stopping() {
                self.session.end(ending);
                return self.close().await;
            }
            self.account_body();
            match self.wait().await? {
                Wait::Read(n) => self.received(n),
                Wait::Closed => return Ok(()),
                Wait::End(ending) => {
                    self.session.end(ending);
                    return self.close().await;
                }
                Wait::Again => {}
            }
        }
    }

    /// Let the session run until it needs the client again, doing what it asks
    /// on the way; `Some(Action::Close)` when it is over.
    async fn run_session(&mut self) -> io::Result<Option<Action>> {
        self.session.set_chaos(self.setup.chaos.triggers());
        while let Some(action) = self.session.advance() {
            match action {
                Action::Deliver(delivery) => {
                    if let Some(Action::Close) = self.deliver(*delivery).await {
                        return Ok(Some(Action::Close));
                    }
                }
                Action::StartTls => self.start_tls().await?,
                Action::Close => return Ok(Some(Action::Close)),
            }
        }
        Ok(None)
    }

    /// Store a complete message and tell the session how that went.
    async fn deliver(&mut self, delivery: Delivery) -> Option<Action> {
        let store = &self.setup.store;
        let counters = &self.setup.counters;
        let Delivery { raw, envelope, effects } = delivery;
        let size = raw.len() as u64;
        let received_at = OffsetDateTime::now_utc();
        // Only a message with effects keeps a copy for after its commit.
        let original = (!effects.is_empty()).then(|| (Arc::<[u8]>::from(raw.as_slice()), envelope.clone()));
        let message = NewMessage { raw, envelope, received_at };
        let held = std::mem::replace(&mut self.reservation, store.reservation());
        let outcome = store.submit_reserved(message, held).await;
        if let (Ok(id), Some((raw, envelope))) = (&outcome, original) {
            // A full queue drops the effects (and logs it): ingest never waits for them.
            let _ = self.setup.effects.after_commit(Committed { id: id.clone(), raw, envelope, received_at }, effects);
        }
        let outcome = outcome.map(MessageId::into_string).map_err(refusal);
        if outcome.is_ok() {
            counters.accepted.fetch_add(1, Ordering::Relaxed);
            counters.accepted_bytes.fetch_add(size, Ordering::Relaxed);
        } else {
            counters.rejected.fetch_add(1, Ordering::Relaxed);
        }
        self.session.delivered(outcome)
    }

    /// Send the "220 Ready to start TLS", run the handshake, tell the session.
    async fn start_tls(&mut self) -> io::Result<()> {
        let output = self.session.take_output();
        self.send(&output).await?;
        let plain = std::mem::replace(&mut self.connection, Connection::Lost);
        let Some(acceptor) = &self.setup.tls else {
            return Err(io::Error::other("STARTTLS on a listener without TLS"));
        };
        self.connection = plain.upgrade(acceptor, self.setup.limits.command_timeout).await?;
        self.session.tls_started();
        Ok(())
    }

    /// Send what the session replied; a reply is progress.
    async fn flush_replies(&mut self) -> io::Result<()> {
        let output = self.session.take_output();
        if !output.is_empty() {
            self.send(&output).await?;
            let now = Instant::now();
            self.command_deadline = now + self.setup.limits.command_timeout;
            self.progress = 0;
            self.progress_at = now;
            self.stress_check = now + self.setup.limits.stress_command_timeout;
        }
        self.slot.update(self.progress_at, self.session.in_transaction());
        Ok(())
    }

    /// Between commands, a shutdown or a pause ends the session; inside a message
    /// it waits for the message to finish (bounded by the engine's grace period).
    fn stopping(&self) -> Option<Ending> {
        if self.session.in_body() {
            None
        } else if *self.shutdown.borrow() {
            Some(Ending::ServerShutdown)
        } else if *self.paused.borrow() {
            Some(Ending::IntakePaused)
        } else {
            None
        }
    }

    /// Hold the byte budget for the message being received, or refuse it.
    fn account_body(&mut self) {
        // The read buffer grows to READ_CHUNK at most: the most one read takes
        // and brings in.
        if self.session.cover_body(&mut self.reservation, READ_CHUNK) == BodyCover::Refused {
            tracing::debug!(peer = %self.peer, "smtp message refused: the byte budget of mail on its way in is spent");
            self.setup.counters.rejected.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Wait for the client's next bytes, or for a reason to end the session.
    async fn wait(&mut self) -> io::Result<Wait> {
        let in_body = self.session.in_body();
        let in_transaction = self.session.in_transaction();
        // Outside a transaction, wake at the stress deadline too, to see whether
        // the listener is under stress then.
        let wake = if in_transaction { self.command_deadline } else { self.command_deadline.min(self.stress_check) };
        let read = tokio::select! {
            read = tokio::time::timeout_at(wake, self.connection.read(&mut self.buf)) => read,
            _ = tokio::time::sleep_until(self.session_deadline) => return Ok(Wait::End(Ending::SessionTooLong)),
            _ = self.shutdown.changed(), if !in_body => return Ok(Wait::Again),
            _ = self.paused.changed(), if !in_body => return Ok(Wait::Again),
            _ = self.slot.eviction() => {
                // A session that started a transaction since it was chosen stays.
                if in_transaction {
                    return Ok(Wait::Again);
                }
                tracing::debug!(peer = %self.peer, "smtp session evicted: a new connection took its slot");
                return Ok(Wait::End(Ending::Evicted));
            }
        };
        match read {
            Ok(Ok(0)) => Ok(Wait::Closed),
            Ok(Ok(n)) => Ok(Wait::Read(n)),
            Ok(Err(err)) => Err(err),
            Err(_elapsed) => {
                let now = Instant::now();
                let deadline = slots::idle_deadline(
                    self.command_deadline,
                    self.progress_at,
                    self.slot.stressed(),
                    in_transaction,
                    self.setup.limits.stress_command_timeout,
                );
                if now >= deadline {
                    return Ok(Wait::End(Ending::IdleTimeout));
                }
                self.stress_check = now + slots::STRESS_RECHECK;
                Ok(Wait::Again)
            }
        }
    }

    /// Hand the session the `n` bytes read.
    fn received(&mut self, n: usize) {
        self.session.receive(&self.buf[..n]);
        self.progress += n;
        if self.progress >= MIN_PROGRESS_BYTES {
            self.command_deadline = Instant::now() + self.setup.limits.command_timeout;
            self.progress = 0;
        }
        if n == self.buf.len() && self.buf.len() < READ_CHUNK {
            self.buf.resize(READ_CHUNK, 0);
        }
    }

    /// Send the session's last words and close the connection.
    async fn close(&mut self) -> io::Result<()> {
        let output = self.session.take_output();
        if !output.is_empty() {
            self.send(&output).await?;
        }
        self.connection.shutdown().await
    }

    /// Write replies to the client, held first as long as a tarpit rule wants
    /// (the session has no clock, so the delay is the listener's).
    async fn send(&mut self, output: &[u8]) -> io::Result<()> {
        if let Some(delay) = self.session.reply_delay() {
            tokio::time::sleep(delay).await;
        }
        self.connection.write_all(output).await
    }
}

fn refusal(err: SubmitError) -> Refusal {
    match err {
        SubmitError::Busy => Refusal::Busy,
        SubmitError::DiskFull => Refusal::DiskFull,
        SubmitError::Closed => Refusal::ShuttingDown,
        SubmitError::Failed(reason) => {
            tracing::error!("storing a message failed: {reason}");
            Refusal::Failed
        }
    }
}

/// A session's message is held against the store's byte budget, so that the
/// bodies being received count with those queued for the writer.
impl BodyBudget for Reservation {
    fn cover(&mut self, bytes: usize) -> bool {
        Reservation::cover(self, bytes)
    }

    fn release(&mut self) {
        Reservation::release(self);
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;
    use std::time::Duration;

    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
    use tokio::net::TcpStream;
    use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
    use tokio::time::timeout;

    use crate::config::{Config, StoreConfig};
    use crate::engine::Engine;
    use crate::model::MessageId;

    struct Client {
        lines: Lines<BufReader<OwnedReadHalf>>,
        write: OwnedWriteHalf,
    }

    impl Client {
        /// Connected, with a transaction open and DATA accepted.
        async fn in_data(addr: SocketAddr) -> Client {
            let (read, write) = TcpStream::connect(addr).await.unwrap().into_split();
            let mut client = Client { lines: BufReader::new(read).lines(), write };
            assert_eq!(client.reply().await.0, 220);
            client.send(b"EHLO t\r\nMAIL FROM:<a@t.test>\r\nRCPT TO:<b@t.test>\r\nDATA\r\n").await;
            for expected in [250, 250, 250, 354] {
                assert_eq!(client.reply().await.0, expected);
            }
            client
        }

        async fn reply(&mut self) -> (u16, String) {
            loop {
                let line = self.lines.next_line().await.unwrap().expect("a reply");
                if line.as_bytes().get(3) == Some(&b' ') {
                    return (line[..3].parse().unwrap(), line);
                }
            }
        }

        async fn send(&mut self, bytes: &[u8]) {
            for chunk in bytes.chunks(8 * 1024) {
                self.write.write_all(chunk).await.unwrap();
            }
        }
    }

    fn lines(bytes: usize) -> Vec<u8> {
        let line = b"0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz\r\n";
        line.iter().copied().cycle().take(bytes / line.len() * line.len()).collect()
    }

    /// A body still arriving holds its share of the byte budget: with the writer
    /// stalled (another connection holds the write lock) and 150 KB of one message
    /// received, a 300 KB message no longer fits in 512 KiB and is answered 451 at
    /// once, though the store itself (the queue, the writer) holds nothing yet.
    /// The first message, finished, is answered 250 once written, and is stored;
    /// the second, sent again, fits then.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_body_being_received_holds_its_share_of_the_byte_budget() {
        let dir = tempfile::TempDir::new().unwrap();
        let config = Config {
            smtp_addr: "127.0.0.1:0".parse().unwrap(),
            http_addr: "127.0.0.1:0".parse().unwrap(),
            store: StoreConfig { max_queued_bytes: 512 * 1024, ..StoreConfig::default() },
            ..Config::new(dir.path().to_owned())
        };
        let engine = Engine::start(config).await.unwrap();
        let lock = rusqlite::Connection::open(engine.store().database_path()).unwrap();
        lock.execute_batch("BEGIN IMMEDIATE").unwrap();
        let addr = engine.smtp_addr();

        let mut first = Client::in_data(addr).await;
        first.send(b"Subject: first\r\n\r\n").await;
        first.send(&lines(150_000)).await;
        tokio::time::sleep(Duration::from_millis(300)).await; // received and counted

        let mut second = Client::in_data(addr).await;
        second.send(b"Subject: second\r\n\r\n").await;
        second.send(&lines(300_000)).await;
        second.send(b".\r\n").await;
        let (code, text) = timeout(Duration::from_secs(3), second.reply()).await.expect("answered while stalled");
        assert_eq!((code, &text[..10]), (451, "451 4.3.0 "), "{text}");

        first.send(b"more\r\n.\r\n").await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        lock.execute_batch("COMMIT").unwrap();
        drop(lock);
        let (code, text) = first.reply().await;
        assert_eq!(code, 250, "{text}");
        let id = MessageId::parse(text.rsplit(' ').next().unwrap()).unwrap();
        assert_eq!(engine.store().summary(&id).unwrap().unwrap().subject, "first");

        // The session goes on: the refused message, sent again, fits now.
        second.send(b"MAIL FROM:<a@t.test>\r\nRCPT TO:<b@t.test>\r\nDATA\r\n").await;
        for expected in [250, 250, 354] {
            assert_eq!(second.reply().await.0, expected);
        }
        second.send(b"Subject: second\r\n\r\n").await;
        second.send(&lines(300_000)).await;
        second.send(b".\r\n").await;
        let (code, text) = second.reply().await;
        assert_eq!(code, 250, "{text}");
        let id = MessageId::parse(text.rsplit(' ').next().unwrap()).unwrap();
        assert_eq!(engine.store().summary(&id).unwrap().unwrap().subject, "second");
        engine.shutdown().await;
    }
}
