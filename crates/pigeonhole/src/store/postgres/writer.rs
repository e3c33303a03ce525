//! The PostgreSQL writer thread: every change this node makes, in group commits,
//! on its own connection.
//!
//! The loop has the SQLite writer's shape and takes its [`Command`]s: block for
//! one command, take what else is queued (up to `max_batch`) and apply it
//! atomically, and only after COMMIT publish the events and answer the waiters
//! ("250 only after the PostgreSQL COMMIT"). The batch's new messages go in one
//! statement, which also adds the batch's changes to this node's `node_totals`
//! row and announces the commit to the other nodes with one `NOTIFY`
//! ([`super::events::Notice`]): a flood's batch is that one statement alone, a
//! single round trip, since round trips, not rows, were most of what a write
//! cost both sides. When a commit leaves the totals past `max_messages` or
//! `max_total_size`, a transaction of its own prunes them if it wins the
//! retention lock (a node that does not skips: the winner prunes for all).
//!
//! A new message's text goes to `text_pending` in the same statement; the writer
//! moves it into the trigram index when idle, or, once a flood has left
//! [`INDEX_DURING_FLOOD_ABOVE`] messages waiting, in chunks paced by the SQLite
//! writer's [`IndexPace`] between commits.
//!
//! When the database is unreachable the batch fails ([`SubmitError::Failed`]:
//! SMTP 451), the shared `up` flag drops, so admission refuses at once and
//! `/readyz` says not ready, and the thread tries to connect again every few
//! hundred milliseconds until it can.

use std::borrow::Cow;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use postgres::GenericClient;
use rusqlite::types::Value;
use tokio::sync::mpsc;

use super::connection::{Link, Session, Statements, without_nul};
use super::events::Notice;
use super::read::{signed, unsigned};
use super::schema::{EVENTS_CHANNEL, RETENTION_LOCK};
use crate::config::StoreConfig;
use crate::model::{
    Deleted, EffectsRecorded, Event, EventSender, MessageId, MessageSummary, ReadChanged, Stats, TagsChanged,
};
use crate::store::codec::unix_ms;
use crate::store::ingest::PreparedMessage;
use crate::store::search::Condition;
use crate::store::writer::{
    Command, DeleteTarget, Expiry, INDEX_WHEN_IDLE_FOR, InboxIds, IndexPace, MAX_EVENTS_PER_CHANGE, PublishedTotals,
    Retention, Totals, answer_committed, answer_failed, take_batch,
};
use crate::store::{Moved, StoreError, SubmitError, mailbox};

/// While connected and idle, the connection is checked this often (the client
/// learns of a lost connection only when it talks).
const PROBE_EVERY: Duration = Duration::from_secs(1);
/// While the database is unreachable, a connection is tried about this often.
const RECONNECT_EVERY: Duration = Duration::from_millis(200);
/// Between commits, text is moved into the trigram index only once this many
/// messages' text waits (otherwise it is moved when the writer is idle). Indexing
/// costs PostgreSQL about as much as storing the message, so a burst this large
/// is stored at full speed and indexed in the pause after it; searches read the
/// pending text by a scan meanwhile, which stays around a tenth of a second.
const INDEX_DURING_FLOOD_ABOVE: u64 = 10_000;

/// Changes to this node's row of `node_totals`.
#[derive(Debug, Default, Clone, Copy)]
struct Deltas {
    messages: i64,
    unread: i64,
    bytes: i64,
}

/// A committed batch.
struct Committed {
    totals: Totals,
    events: Vec<Event>,
    tags_found: Vec<bool>,
    moves: Vec<Vec<Moved>>,
    inboxes_seen: Vec<(String, i64)>,
    deleted: u64,
}

pub(super) struct Writer {
    link: Link,
    commands: mpsc::Receiver<Command>,
    events: EventSender,
    published: Arc<PublishedTotals>,
    /// Messages this node deleted since the store opened.
    deleted: u64,
    node: Arc<str>,
    retention: Retention,
    expiry: Option<Expiry>,
    max_batch: usize,
    inbox_ids: InboxIds,
    /// Whether the writer's connection works: admission and `ready()` read it.
    up: Arc<AtomicBool>,
    /// Messages this writer stored whose text waits in `text_pending` (1 at
    /// first: a killed node may have left some).
    unindexed: u64,
    index_pace: IndexPace,
}

impl Writer {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        link: Link,
        commands: mpsc::Receiver<Command>,
        events: EventSender,
        config: &StoreConfig,
        published: Arc<PublishedTotals>,
        node: Arc<str>,
        up: Arc<AtomicBool>,
    ) -> Writer {
        Writer {
            link,
            commands,
            events,
            published,
            deleted: 0,
            node,
            retention: Retention::new(config),
            expiry: Expiry::new(config),
            max_batch: config.max_batch.max(1),
            inbox_ids: InboxIds::default(),
            up,
            unindexed: 1,
            index_pace: IndexPace::new(),
        }
    }

    /// The thread's body: runs until `Shutdown` (or every sender is gone) and the
    /// queue is drained.
    pub fn run(mut self) {
        // A timer is all this runtime is for; the postgres client never runs on it.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("a current-thread runtime with a timer always builds");
        let mut probed = Instant::now();
        loop {
            if self.expiry.is_some_and(|expiry| expiry.is_due()) && self.link.is_connected() {
                self.apply(Vec::new());
            }
            let up = self.up.load(Ordering::Relaxed);
            let tick = if up { PROBE_EVERY } else { RECONNECT_EVERY };
            let indexing = up && self.unindexed > 0;
            let until_expiry = self.expiry.map(|expiry| expiry.next.saturating_duration_since(Instant::now()));
            let wait = until_expiry.map_or(tick, |until| until.min(tick));
            let wait = if indexing { wait.min(INDEX_WHEN_IDLE_FOR) } else { wait };
            let commands = &mut self.commands;
            let first = match runtime.block_on(async { tokio::time::timeout(wait, commands.recv()).await }) {
                Ok(command) => command,
                Err(_idle) => {
                    if probed.elapsed() >= tick {
                        probed = Instant::now();
                        self.keep_connected();
                    } else if indexing {
                        self.index_pending();
                    }
                    continue;
                }
            };
            let Some(first) = first else { break };
            let batch = take_batch(first, &mut self.commands, self.max_batch);
            self.apply(batch);
            if self.unindexed >= INDEX_DURING_FLOOD_ABOVE && self.index_pace.may_index_between_commits() {
                self.index_pending();
            }
        }
    }

    /// Move a chunk of new messages' text (the oldest; sized by [`IndexPace`])
    /// from `text_pending` into `message_text` and so into the trigram index.
    /// Rows another node is moving at the same moment are skipped, not waited for.
    fn index_pending(&mut self) {
        let chunk = self.index_pace.chunk;
        let started = Instant::now();
        let Ok((session, _)) = self.link.session() else { return };
        let Session { client, statements: st } = session;
        let moved = (|| -> Result<u64, postgres::Error> {
            let mut tx = client.transaction()?;
            let taken: i64 = st.rows(
                &mut tx,
                "WITH moved AS (
                     DELETE FROM text_pending WHERE seq IN
                         (SELECT seq FROM text_pending ORDER BY seq LIMIT ? FOR UPDATE SKIP LOCKED)
                     RETURNING seq, subject, addresses, body, attachment_names),
                 indexed AS (
                     INSERT INTO message_text (seq, subject, addresses, body, attachment_names)
                     SELECT seq, subject, addresses, body, attachment_names FROM moved
                     WHERE EXISTS (SELECT 1 FROM messages m WHERE m.seq = moved.seq)
                     ON CONFLICT (seq) DO NOTHING)
                 SELECT count(*) FROM moved",
                &[&signed(chunk)],
            )?[0]
                .get(0);
            let moved = unsigned(taken);
            tx.commit()?;
            Ok(moved)
        })();
        self.link.check();
        match moved {
            Ok(moved) => {
                // Fewer than a full chunk: none are left (or other nodes hold them).
                self.unindexed = if moved < chunk { 0 } else { self.unindexed.saturating_sub(moved) };
                self.index_pace.indexed(moved == chunk, started.elapsed());
            }
            // Search still finds pending text; the next pause tries again.
            Err(error) => tracing::warn!(%error, "indexing new messages for search failed; will retry"),
        }
    }

    /// While idle: check the connection, or make it again.
    fn keep_connected(&mut self) {
        if self.link.is_connected() {
            self.link.probe();
        }
        let up = self.link.session().is_ok();
        self.set_up(up);
    }

    fn set_up(&self, up: bool) {
        if self.up.swap(up, Ordering::Relaxed) != up {
            if up {
                tracing::info!("PostgreSQL is reachable again; taking mail");
            } else {
                tracing::error!("PostgreSQL is unreachable; mail is refused (451) until it is back");
            }
        }
    }

    fn apply(&mut self, batch: Vec<Command>) {
        let retention = self.retention.for_next_commit(&mut self.expiry);
        let session = match self.link.session() {
            Ok((session, _)) => session,
            Err(reason) => {
                self.set_up(false);
                answer_failed(batch, || SubmitError::Failed(reason.clone()), || StoreError::Database(reason.clone()));
                return;
            }
        };
        let outcome = commit(session, &self.node, &self.inbox_ids, &batch);
        self.link.check();
        match outcome {
            Ok(mut committed) => {
                self.set_up(true);
                if retention_due(retention, committed.totals) {
                    self.retain(retention, &mut committed);
                }
                self.finish(batch, committed);
            }
            Err(error) if batch.len() > 1 && concerns_one_command(&error) && self.link.is_connected() => {
                // One bad command must not fail the others in its group.
                for command in batch {
                    self.apply(vec![command]);
                }
            }
            Err(error) => {
                let connected = self.link.is_connected();
                self.set_up(connected);
                tracing::error!(%error, commands = batch.len(), "store write failed; nothing in the batch was written");
                let reason = if connected {
                    // The server's own words ("deadlock detected", "value too long" …).
                    let said = error.as_db_error().map_or_else(|| error.to_string(), |db| db.message().to_owned());
                    format!("PostgreSQL refused the write: {said}")
                } else {
                    format!("PostgreSQL is unreachable: {error}")
                };
                answer_failed(batch, || SubmitError::Failed(reason.clone()), || StoreError::Database(reason.clone()));
            }
        }
    }

    /// Prune to `retention` after a commit took the totals past a limit (or a
    /// look for expired messages is due), in a transaction of its own and only
    /// if this node wins the retention lock (one that does not skips: the winner
    /// prunes for all). A failure leaves the commit as it is; the next one tries again.
    fn retain(&mut self, retention: Retention, committed: &mut Committed) {
        let Ok((session, _)) = self.link.session() else { return };
        let pruned = prune_alone(session, &self.node, retention);
        self.link.check();
        match pruned {
            Ok(Some((pruned, totals))) => {
                committed.totals = totals;
                if pruned > 0 {
                    committed.deleted += pruned;
                    committed.events.push(Event::Prune(()));
                }
            }
            Ok(None) => {}
            Err(error) => tracing::warn!(%error, "pruning to the retention limits failed; the next commit tries again"),
        }
    }

    fn finish(&mut self, batch: Vec<Command>, mut committed: Committed) {
        self.deleted += committed.deleted;
        self.inbox_ids.remember(committed.inboxes_seen);
        self.published.publish(Totals { deleted: self.deleted, ..committed.totals });
        if !committed.events.is_empty() {
            committed.events.push(Event::Stats(Stats::new(committed.totals.total, committed.totals.unread)));
        }
        // Events first: when a caller's change returns, its events are out.
        for event in committed.events {
            let _ = self.events.send(event);
        }
        self.unindexed += answer_committed(batch, committed.tags_found, committed.moves);
    }
}

/// Whether a commit that left `totals` calls for pruning: past a limit, or a
/// look for expired messages is due.
fn retention_due(retention: Retention, totals: Totals) -> bool {
    retention.expire_before_ms.is_some() || totals.total > retention.max_messages || totals.bytes > retention.max_bytes
}

/// Errors one command can cause on its own: its data (class 22) or a constraint
/// (class 23), as opposed to the connection or the server, which fail all alike.
fn concerns_one_command(error: &postgres::Error) -> bool {
    error.code().is_some_and(|code| code.code().starts_with("22") || code.code().starts_with("23"))
}

/// Apply a batch atomically: nothing of it is written unless all of it is.
///
/// A flood's batch (new messages without tags, to inboxes this node knows) is
/// one statement, committed on its own: one round trip to the server for the
/// whole group, since round trips, not rows, are most of what a write costs
/// both sides. Any other batch runs in a transaction.
fn commit(
    session: &mut Session,
    node: &str,
    inbox_ids: &InboxIds,
    batch: &[Command],
) -> Result<Committed, postgres::Error> {
    let Session { client, statements: st } = session;
    let one_statement = batch.iter().all(|command| {
        matches!(command, Command::Insert { messages, .. }
            if messages.iter().all(|m| m.summary.tags.is_empty() && inbox_ids.get(&m.inbox).is_some()))
    });
    if one_statement {
        return apply_commands(client, st, node, inbox_ids, batch);
    }
    let mut tx = client.transaction()?;
    let committed = apply_commands(&mut tx, st, node, inbox_ids, batch)?;
    tx.commit()?;
    Ok(committed)
}

/// New messages not yet stored: each with its inbox's row ID and the index of
/// its `Event::New` (whose tags are those stored).
type Unstored<'a> = Vec<(&'a PreparedMessage, i64, usize)>;

/// Apply the batch's commands in order through `db`. New messages are stored
/// together: those of consecutive inserts in one statement, before the next
/// other command (which may concern them) and last with the totals and the
/// notice to the other nodes.
fn apply_commands(
    db: &mut impl GenericClient,
    st: &mut Statements,
    node: &str,
    inbox_ids: &InboxIds,
    batch: &[Command],
) -> Result<Committed, postgres::Error> {
    let mut deltas = Deltas::default();
    let mut events = Vec::new();
    let mut tags_found = Vec::new();
    let mut moves = Vec::new();
    let mut inboxes_seen: Vec<(String, i64)> = Vec::new();
    let mut tags_touched = false;
    let mut unstored: Unstored<'_> = Vec::new();
    let mut deleted = 0u64;
    for command in batch {
        if !matches!(command, Command::Insert { .. }) && !unstored.is_empty() {
            store_new(db, st, node, &std::mem::take(&mut unstored), Deltas::default(), None, &mut events)?;
        }
        match command {
            Command::Insert { messages, .. } => {
                for message in messages {
                    let inbox = inbox_row(db, st, inbox_ids, &mut inboxes_seen, &message.inbox, message.received_ms)?;
                    deltas.messages += 1;
                    deltas.unread += 1;
                    deltas.bytes += signed(message.summary.size);
                    unstored.push((message, inbox, events.len()));
                    events.push(Event::New(Box::new(MessageSummary { tags: Vec::new(), ..message.summary.clone() })));
                }
            }
            Command::SetTags { ids, tags, .. } => {
                let mut changed = Vec::new();
                for id in ids {
                    if let Some((seq, inbox)) = seq_and_inbox(db, st, id)? {
                        let tags = replace_tags(db, st, seq, tags)?;
                        changed.push(TagsChanged { id: id.clone(), tags, inbox });
                    }
                }
                tags_touched = true;
                if changed.len() > MAX_EVENTS_PER_CHANGE {
                    events.push(Event::Prune(()));
                } else {
                    events.extend(changed.into_iter().map(Event::Tagged));
                }
            }
            Command::Move { ids, inbox, .. } => {
                let now_ms = unix_ms(time::OffsetDateTime::now_utc());
                let target = inbox_row(db, st, inbox_ids, &mut inboxes_seen, inbox, now_ms)?;
                let moved = move_to(db, st, ids, target)?;
                if !moved.is_empty() {
                    events.push(Event::Prune(()));
                }
                moves.push(moved);
            }
            Command::RecordEffects { id, lines, .. } => {
                let mut recorded = 0;
                for line in lines {
                    recorded += st.execute(
                        db,
                        r#"UPDATE envelopes SET simulation = jsonb_set(
                             coalesce(simulation::jsonb, '{"Rule":"","Action":"","Reply":"","Effects":[]}'::jsonb),
                             '{Effects}',
                             coalesce(simulation::jsonb -> 'Effects', '[]'::jsonb) || to_jsonb(CAST(? AS text)))::text
                           WHERE seq = (SELECT seq FROM messages WHERE id = ?)"#,
                        &[line, &id.as_str()],
                    )?;
                }
                if let Some((_, inbox)) = seq_and_inbox(db, st, id)?.filter(|_| recorded > 0) {
                    events.push(Event::Effects(EffectsRecorded { id: id.clone(), inbox }));
                }
            }
            Command::RenameTag { from, to, .. } => {
                let found = rename_tag(db, st, from, to)?;
                tags_found.push(found);
                if found {
                    events.push(Event::Prune(()));
                }
            }
            Command::DeleteTag { name, .. } => {
                let found = st.execute(db, "DELETE FROM tags WHERE name = ?", &[name])? > 0;
                tags_found.push(found);
                if found {
                    events.push(Event::Prune(()));
                }
            }
            Command::SetRead { target, read, .. } => {
                let sql = format!(
                    "UPDATE messages AS m SET read = ? WHERE m.read = ? AND ({}) RETURNING id, {RETURNING_INBOX}",
                    target.sql
                );
                let mut values = vec![Value::Integer(i64::from(*read)), Value::Integer(i64::from(!*read))];
                values.extend(target.params.iter().cloned());
                let changed: Vec<(MessageId, String)> = st
                    .query(db, &sql, &values)?
                    .iter()
                    .map(|row| (MessageId::stored(row.get(0)), row.get(1)))
                    .collect();
                let n = changed.len() as i64;
                deltas.unread += if *read { -n } else { n };
                if changed.len() > MAX_EVENTS_PER_CHANGE {
                    events.push(Event::Prune(()));
                } else {
                    events.extend(
                        changed.into_iter().map(|(id, inbox)| Event::Update(ReadChanged { id, read: *read, inbox })),
                    );
                }
            }
            Command::Delete { target: DeleteTarget::All, .. } => {
                let gone = delete(db, st, &Condition::everything(), &mut deltas)?;
                deleted += gone.len() as u64;
                tags_touched = true;
                events.push(Event::Truncate(()));
            }
            Command::Delete { target: DeleteTarget::Matching(condition), .. } => {
                let ids = delete(db, st, condition, &mut deltas)?;
                deleted += ids.len() as u64;
                tags_touched |= !ids.is_empty();
                if ids.len() > MAX_EVENTS_PER_CHANGE {
                    events.push(Event::Prune(()));
                } else {
                    events.extend(ids.into_iter().map(|(id, inbox)| Event::Delete(Deleted { id, inbox })));
                }
            }
            Command::Shutdown => {}
        }
    }
    if tags_touched {
        drop_unused_tags(db, st)?;
    }
    let notice = (!events.is_empty()).then(|| Notice::of(node, &events));
    let totals = store_new(db, st, node, &unstored, deltas, notice.as_deref(), &mut events)?;
    Ok(Committed { totals, events, tags_found, moves, inboxes_seen, deleted })
}

/// Store the `unstored` messages, add `deltas` to this node's row of the totals
/// and announce `notice` to the other nodes, all in one statement (tags
/// aside: a tagged message's take one more per tag); the totals after it.
fn store_new(
    db: &mut impl GenericClient,
    st: &mut Statements,
    node: &str,
    unstored: &Unstored<'_>,
    deltas: Deltas,
    notice: Option<&str>,
    events: &mut [Event],
) -> Result<Totals, postgres::Error> {
    // Each column as an array, an element per message. Text as PostgreSQL can
    // hold it (a NUL may be in any header).
    let text = |column: fn(&PreparedMessage) -> &str| -> Vec<Cow<'_, str>> {
        unstored.iter().map(|(m, _, _)| without_nul(column(m))).collect()
    };
    let optional = |column: fn(&PreparedMessage) -> Option<&str>| -> Vec<Option<Cow<'_, str>>> {
        unstored.iter().map(|(m, _, _)| column(m).map(without_nul)).collect()
    };
    let number = |column: fn(&PreparedMessage, i64) -> i64| -> Vec<i64> {
        unstored.iter().map(|(m, inbox, _)| column(m, *inbox)).collect()
    };
    let dates: Vec<Option<i64>> = unstored.iter().map(|(m, _, _)| m.date_ms).collect();
    let raw: Vec<&[u8]> = unstored.iter().map(|(m, _, _)| m.compressed.as_slice()).collect();
    let tls: Vec<bool> = unstored.iter().map(|(m, _, _)| m.envelope.tls).collect();
    let row = &st.rows(
        db,
        "WITH s AS (
             SELECT * FROM unnest(?::text[], ?::bigint[], ?::bigint[], ?::text[], ?::text[], ?::text[], ?::text[],
                 ?::text[], ?::text[], ?::text[], ?::bigint[], ?::bigint[], ?::text[], ?::bigint[], ?::bigint[],
                 ?::text[], ?::bytea[], ?::text[], ?::text[], ?::text[], ?::text[], ?::boolean[], ?::text[],
                 ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[])
             WITH ORDINALITY AS s(id, inbox_id, received_ms, message_id, from_addrs, to_addrs, cc_addrs,
                 bcc_addrs, reply_to_addrs, subject, date_ms, size, snippet, attachments, inlines, username, zstd,
                 mail_from, rcpt_to, helo, peer, tls, auth_user, transcript, api, simulation, addresses, body,
                 attachment_names, n)),
         m AS (INSERT INTO messages (id, inbox_id, received_ms, message_id, from_addrs, to_addrs, cc_addrs,
                 bcc_addrs, reply_to_addrs, subject, date_ms, size, snippet, attachments, inlines, username)
             SELECT id, inbox_id, received_ms, message_id, from_addrs, to_addrs, cc_addrs, bcc_addrs,
                 reply_to_addrs, subject, date_ms, size, snippet, attachments, inlines, username FROM s ORDER BY n
             RETURNING seq, id),
         r AS (INSERT INTO raw (seq, zstd) SELECT m.seq, s.zstd FROM m JOIN s USING (id)),
         e AS (INSERT INTO envelopes (seq, mail_from, rcpt_to, helo, peer, tls, auth_user, transcript, api,
                 simulation)
             SELECT m.seq, mail_from, rcpt_to, helo, peer, tls, auth_user, transcript, api, simulation
             FROM m JOIN s USING (id)),
         t AS (INSERT INTO text_pending (seq, subject, addresses, body, attachment_names)
             SELECT m.seq, subject, addresses, body, attachment_names FROM m JOIN s USING (id)),
         d AS (SELECT CAST(? AS text) AS node, CAST(? AS bigint) AS messages, CAST(? AS bigint) AS unread,
                 CAST(? AS bigint) AS bytes),
         c AS (INSERT INTO node_totals (node_id, messages, unread, bytes)
             SELECT * FROM d WHERE messages <> 0 OR unread <> 0 OR bytes <> 0
             ON CONFLICT (node_id) DO UPDATE SET messages = node_totals.messages + EXCLUDED.messages,
                 unread = node_totals.unread + EXCLUDED.unread, bytes = node_totals.bytes + EXCLUDED.bytes),
         now AS (SELECT coalesce(sum(messages), 0)::bigint AS messages, coalesce(sum(unread), 0)::bigint AS unread,
                 coalesce(sum(bytes), 0)::bigint AS bytes FROM node_totals)
         SELECT ARRAY(SELECT seq FROM m ORDER BY seq), now.messages + d.messages, now.unread + d.unread,
             now.bytes + d.bytes,
             (SELECT pg_notify(CAST(? AS text), notice) FROM (SELECT CAST(? AS text)) AS x(notice)
              WHERE notice IS NOT NULL) IS NULL
         FROM d, now",
        &[
            &text(|m| m.summary.id.as_str()),
            &number(|_, inbox| inbox),
            &number(|m, _| m.received_ms),
            &text(|m| &m.summary.message_id),
            &text(|m| &m.addresses.from),
            &text(|m| &m.addresses.to),
            &text(|m| &m.addresses.cc),
            &text(|m| &m.addresses.bcc),
            &text(|m| &m.addresses.reply_to),
            &text(|m| &m.summary.subject),
            &dates,
            &number(|m, _| signed(m.summary.size)),
            &text(|m| &m.summary.snippet),
            &number(|m, _| i64::from(m.summary.attachments)),
            &number(|m, _| i64::from(m.inlines)),
            &text(|m| &m.summary.username),
            &raw,
            &text(|m| &m.envelope.mail_from),
            &text(|m| &m.rcpt_json),
            &text(|m| &m.envelope.helo),
            &text(|m| &m.envelope.peer),
            &tls,
            &optional(|m| m.envelope.auth_user.as_deref()),
            &text(|m| &m.envelope.transcript),
            &optional(|m| m.api_json.as_deref()),
            &optional(|m| m.simulation_json.as_deref()),
            &text(|m| &m.search.addresses),
            &text(|m| &m.search.body),
            &text(|m| &m.search.attachment_names),
            &node,
            &deltas.messages,
            &deltas.unread,
            &deltas.bytes,
            &EVENTS_CHANNEL,
            &notice,
        ],
    )?[0];
    let seqs: Vec<i64> = row.get(0);
    for ((message, _, event), seq) in unstored.iter().zip(seqs) {
        if let (false, Event::New(summary)) = (message.summary.tags.is_empty(), &mut events[*event]) {
            summary.tags = replace_tags(db, st, seq, &message.summary.tags)?;
        }
    }
    Ok(Totals { total: unsigned(row.get(1)), unread: unsigned(row.get(2)), bytes: unsigned(row.get(3)), deleted: 0 })
}

/// Prune to `retention` in a transaction of its own, if this node wins the
/// retention lock: how many messages went and the totals after, or `None` when
/// another node holds the lock (and prunes for all).
fn prune_alone(
    session: &mut Session,
    node: &str,
    retention: Retention,
) -> Result<Option<(u64, Totals)>, postgres::Error> {
    let Session { client, statements: st } = session;
    let mut tx = client.transaction()?;
    if !tx.query_one("SELECT pg_try_advisory_xact_lock($1)", &[&RETENTION_LOCK])?.get::<_, bool>(0) {
        return Ok(None);
    }
    let mut deltas = Deltas::default();
    let pruned = prune(&mut tx, st, node, retention, &mut deltas)?;
    add_to_totals(&mut tx, st, node, deltas)?;
    if pruned > 0 {
        drop_unused_tags(&mut tx, st)?;
        let notice = Notice::of(node, &[Event::Prune(())]);
        st.execute(&mut tx, "SELECT pg_notify(CAST(? AS text), CAST(? AS text))", &[&EVENTS_CHANNEL, &notice])?;
    }
    let totals = totals(&mut tx, st)?;
    tx.commit()?;
    Ok(Some((pruned, totals)))
}

/// Delete the tags no message has any more.
fn drop_unused_tags(db: &mut impl GenericClient, st: &mut Statements) -> Result<(), postgres::Error> {
    st.execute(db, "DELETE FROM tags WHERE id NOT IN (SELECT tag_id FROM message_tags)", &[])?;
    Ok(())
}

/// Add `deltas` to this node's row (made on its first change).
fn add_to_totals(
    tx: &mut impl GenericClient,
    st: &mut Statements,
    node: &str,
    deltas: Deltas,
) -> Result<(), postgres::Error> {
    if deltas.messages == 0 && deltas.unread == 0 && deltas.bytes == 0 {
        return Ok(());
    }
    st.execute(
        tx,
        "INSERT INTO node_totals (node_id, messages, unread, bytes) VALUES (?, ?, ?, ?)
         ON CONFLICT (node_id) DO UPDATE SET messages = node_totals.messages + EXCLUDED.messages,
             unread = node_totals.unread + EXCLUDED.unread, bytes = node_totals.bytes + EXCLUDED.bytes",
        &[&node, &deltas.messages, &deltas.unread, &deltas.bytes],
    )?;
    Ok(())
}

/// The totals of every node's rows, as this connection sees them.
pub(super) fn totals(client: &mut impl GenericClient, st: &mut Statements) -> Result<Totals, postgres::Error> {
    let rows = st.query(
        client,
        "SELECT coalesce(sum(messages), 0)::bigint, coalesce(sum(unread), 0)::bigint, coalesce(sum(bytes), 0)::bigint
         FROM node_totals",
        &[],
    )?;
    let row = &rows[0];
    Ok(Totals { total: unsigned(row.get(0)), unread: unsigned(row.get(1)), bytes: unsigned(row.get(2)), deleted: 0 })
}

/// Inbox `name`'s row ID: one this node committed already or this batch made,
/// else from the database, creating the inbox (recorded in `seen`, which the
/// node remembers after the commit).
fn inbox_row(
    db: &mut impl GenericClient,
    st: &mut Statements,
    committed: &InboxIds,
    seen: &mut Vec<(String, i64)>,
    name: &str,
    now_ms: i64,
) -> Result<i64, postgres::Error> {
    let known = committed.get(name).or_else(|| seen.iter().find(|(seen, _)| seen == name).map(|(_, id)| *id));
    if let Some(id) = known {
        return Ok(id);
    }
    let id = inbox_id(db, st, name, now_ms)?;
    seen.push((name.to_owned(), id));
    Ok(id)
}

/// The inbox's row ID, creating the inbox on first use (another node may be
/// creating it at the same moment: then its row is the one).
fn inbox_id(tx: &mut impl GenericClient, st: &mut Statements, name: &str, now_ms: i64) -> Result<i64, postgres::Error> {
    let name = without_nul(name);
    let select = "SELECT id FROM inboxes WHERE name = ?";
    if let Some(row) = st.rows(tx, select, &[&name])?.first() {
        return Ok(row.get(0));
    }
    let created = st.rows(
        tx,
        "INSERT INTO inboxes (name, created_ms) VALUES (?, ?) ON CONFLICT (name) DO NOTHING RETURNING id",
        &[&name, &now_ms],
    )?;
    match created.first() {
        Some(row) => Ok(row.get(0)),
        None => Ok(st.rows(tx, select, &[&name])?[0].get(0)),
    }
}

fn seq_and_inbox(
    tx: &mut impl GenericClient,
    st: &mut Statements,
    id: &MessageId,
) -> Result<Option<(i64, String)>, postgres::Error> {
    let sql = "SELECT m.seq, i.name FROM messages m JOIN inboxes i ON i.id = m.inbox_id WHERE m.id = ?";
    Ok(st.rows(tx, sql, &[&id.as_str()])?.first().map(|row| (row.get(0), row.get(1))))
}

/// The inbox name of the row a RETURNING clause returns.
const RETURNING_INBOX: &str = "(SELECT name FROM inboxes WHERE id = inbox_id)";

/// Give message `seq` exactly `tags` (normalised), creating tags as needed;
/// its tags as stored (an existing tag keeps its spelling), in listing order.
fn replace_tags(
    tx: &mut impl GenericClient,
    st: &mut Statements,
    seq: i64,
    tags: &[String],
) -> Result<Vec<String>, postgres::Error> {
    st.execute(tx, "DELETE FROM message_tags WHERE seq = ?", &[&seq])?;
    for tag in tags {
        st.execute(tx, "INSERT INTO tags (name) VALUES (?) ON CONFLICT (name) DO NOTHING", &[tag])?;
        st.execute(
            tx,
            "INSERT INTO message_tags (seq, tag_id) SELECT ?, id FROM tags WHERE name = ?
             ON CONFLICT DO NOTHING",
            &[&seq, tag],
        )?;
    }
    let rows = st.rows(
        tx,
        "SELECT t.name::text FROM message_tags mt JOIN tags t ON t.id = mt.tag_id WHERE mt.seq = ? ORDER BY t.name",
        &[&seq],
    )?;
    Ok(rows.iter().map(|row| row.get(0)).collect())
}

/// Rename tag `from` to `to`, merging it into a tag already named `to` (any case).
fn rename_tag<C: GenericClient>(
    tx: &mut C,
    st: &mut Statements,
    from: &str,
    to: &str,
) -> Result<bool, postgres::Error> {
    let tag_id = |tx: &mut C, st: &mut Statements, name: &str| -> Result<Option<i64>, postgres::Error> {
        Ok(st.rows(tx, "SELECT id FROM tags WHERE name = ?", &[&name])?.first().map(|row| row.get(0)))
    };
    let Some(id) = tag_id(tx, st, from)? else { return Ok(false) };
    match tag_id(tx, st, to)? {
        Some(other) if other != id => {
            st.execute(
                tx,
                "INSERT INTO message_tags (seq, tag_id) SELECT seq, ? FROM message_tags WHERE tag_id = ?
                 ON CONFLICT DO NOTHING",
                &[&other, &id],
            )?;
            st.execute(tx, "DELETE FROM tags WHERE id = ?", &[&id])?;
        }
        _ => {
            st.execute(tx, "UPDATE tags SET name = ? WHERE id = ?", &[&to, &id])?;
        }
    }
    Ok(true)
}

/// Move the messages `ids` stored in another inbox to `target`, each with the
/// sequence's next value as its UID there.
fn move_to(
    tx: &mut impl GenericClient,
    st: &mut Statements,
    ids: &[MessageId],
    target: i64,
) -> Result<Vec<Moved>, postgres::Error> {
    let mut moved = Vec::new();
    for id in ids {
        let rows = st.rows(
            tx,
            "UPDATE messages SET inbox_id = ?, moved_uid = nextval('messages_seq')
             WHERE id = ? AND inbox_id <> ? RETURNING moved_uid",
            &[&target, &id.as_str(), &target],
        )?;
        if let Some(row) = rows.first() {
            moved.push(Moved { id: id.clone(), uid: mailbox::clamp_uid(row.get(0)) });
        }
    }
    Ok(moved)
}

/// Delete the messages matching `condition`, taking them off `deltas`; their IDs.
fn delete(
    tx: &mut impl GenericClient,
    st: &mut Statements,
    condition: &Condition,
    deltas: &mut Deltas,
) -> Result<Vec<(MessageId, String)>, postgres::Error> {
    let sql = format!("DELETE FROM messages AS m WHERE {} RETURNING id, read, size, {RETURNING_INBOX}", condition.sql);
    let rows = st.query(tx, &sql, &condition.params)?;
    Ok(rows
        .iter()
        .map(|row| {
            deltas.messages -= 1;
            deltas.unread -= i64::from(row.get::<_, i64>(1) == 0);
            deltas.bytes -= row.get::<_, i64>(2);
            (MessageId::stored(row.get(0)), row.get(3))
        })
        .collect())
}

/// Delete the messages received before `expire_before_ms`, if set, then the
/// oldest until both limits hold (over every node's messages, changes in this
/// transaction included); how many went.
fn prune(
    tx: &mut impl GenericClient,
    st: &mut Statements,
    node: &str,
    retention: Retention,
    deltas: &mut Deltas,
) -> Result<u64, postgres::Error> {
    let mut pruned = 0;
    if let Some(cutoff) = retention.expire_before_ms {
        let older = Condition { sql: "m.received_ms < ?".into(), params: vec![Value::Integer(cutoff)] };
        pruned += delete(tx, st, &older, deltas)?.len() as u64;
    }
    // Totals as committed plus this transaction's own changes, not yet in its row.
    add_to_totals(tx, st, node, std::mem::take(deltas))?;
    let now = totals(tx, st)?;
    let excess_messages = signed(now.total.saturating_sub(retention.max_messages));
    let excess_bytes = signed(now.bytes.saturating_sub(retention.max_bytes));
    if excess_messages == 0 && excess_bytes == 0 {
        return Ok(pruned);
    }
    // The newest message to go: the first, oldest first, where both running sums
    // reach their excess.
    let cutoff = st.rows(
        tx,
        "SELECT seq FROM (SELECT seq, count(*) OVER w AS n, (sum(size) OVER w)::bigint AS bytes FROM messages
             WINDOW w AS (ORDER BY seq ROWS UNBOUNDED PRECEDING)) oldest
         WHERE n >= ? AND bytes >= ? ORDER BY seq LIMIT 1",
        &[&excess_messages, &excess_bytes],
    )?;
    let condition = match cutoff.first() {
        Some(row) => Condition { sql: "m.seq <= ?".into(), params: vec![Value::Integer(row.get(0))] },
        None => Condition::everything(),
    };
    pruned += delete(tx, st, &condition, deltas)?.len() as u64;
    Ok(pruned)
}
