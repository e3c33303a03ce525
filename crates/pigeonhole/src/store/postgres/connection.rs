//! A connection as the PostgreSQL backend's threads hold one: made with short
//! timeouts, its prepared statements cached by SQL text, and made again (with
//! back-off) after it was lost.
//!
//! The sync `postgres` client drives its own runtime and panics inside tokio's,
//! so a [`Link`] lives on one thread the backend owns (the writer, a reader, the
//! listener) and never on a tokio worker.

use std::borrow::Cow;
use std::collections::HashMap;
use std::time::{Duration, Instant};

use postgres::types::ToSql;
use postgres::{Client, Config, GenericClient, NoTls, Statement};
use rusqlite::types::Value;

/// How long making a connection may take before the database counts as unreachable.
pub(super) const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// The longest a statement may run: past it, PostgreSQL cancels it and the write
/// fails (451) instead of holding SMTP sessions.
const STATEMENT_TIMEOUT: &str = "5s";

/// Prepared statements kept per connection; past it the cache starts over (the
/// backend's SQL is a few dozen texts, searches add one per query shape).
const MAX_CACHED_STATEMENTS: usize = 128;

/// After a failed attempt to connect, the next waits this long, doubling up to
/// [`MAX_RETRY_AFTER`]: a database back up is used again within about a second.
const FIRST_RETRY_AFTER: Duration = Duration::from_millis(100);
const MAX_RETRY_AFTER: Duration = Duration::from_millis(800);

/// `url` as connection settings, with the backend's timeouts and keepalives.
pub(super) fn settings(url: &str) -> Result<Config, postgres::Error> {
    let mut config: Config = url.parse()?;
    config
        .connect_timeout(CONNECT_TIMEOUT)
        .keepalives(true)
        .keepalives_idle(Duration::from_secs(10))
        .application_name("pigeonhole");
    Ok(config)
}

/// The database as logs and `/api/v1/info` name it: the URL without its password.
pub(super) fn display_name(config: &Config) -> String {
    let host = match config.get_hosts().first() {
        Some(postgres::config::Host::Tcp(host)) => host.clone(),
        #[cfg(unix)]
        Some(postgres::config::Host::Unix(path)) => path.display().to_string(),
        None => "localhost".to_owned(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let user = config.get_user().unwrap_or_default();
    let database = config.get_dbname().unwrap_or(user);
    format!("postgres://{user}@{host}:{port}/{database}")
}

/// One open connection and its prepared statements.
pub(super) struct Session {
    pub client: Client,
    pub statements: Statements,
}

impl Session {
    pub fn open(config: &Config) -> Result<Session, postgres::Error> {
        let mut client = config.connect(NoTls)?;
        client.batch_execute(&format!("SET statement_timeout = '{STATEMENT_TIMEOUT}'"))?;
        Ok(Session { client, statements: Statements::default() })
    }

    /// Rows of `sql` (with `?` placeholders) bound to `values`, on the session's
    /// connection outside any transaction.
    pub fn query(&mut self, sql: &str, values: &[Value]) -> Result<Vec<postgres::Row>, postgres::Error> {
        let Session { client, statements } = self;
        statements.query(client, sql, values)
    }
}

/// A connection's prepared statements by SQL text (`?` placeholders, numbered
/// when prepared).
#[derive(Default)]
pub(super) struct Statements(HashMap<String, Statement>);

impl Statements {
    pub fn prepare(&mut self, client: &mut impl GenericClient, sql: &str) -> Result<Statement, postgres::Error> {
        if let Some(statement) = self.0.get(sql) {
            return Ok(statement.clone());
        }
        if self.0.len() >= MAX_CACHED_STATEMENTS {
            self.0.clear();
        }
        let statement = client.prepare(&super::super::search::numbered(sql))?;
        self.0.insert(sql.to_owned(), statement.clone());
        Ok(statement)
    }

    /// Rows of `sql` bound to `values` (values of a search condition).
    pub fn query(
        &mut self,
        client: &mut impl GenericClient,
        sql: &str,
        values: &[Value],
    ) -> Result<Vec<postgres::Row>, postgres::Error> {
        let statement = self.prepare(client, sql)?;
        let bound = bind(values);
        let refs: Vec<&(dyn ToSql + Sync)> = bound.iter().map(|value| value.as_ref()).collect();
        client.query(&statement, &refs)
    }

    /// Rows of `sql` bound to typed `params`.
    pub fn rows(
        &mut self,
        client: &mut impl GenericClient,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<postgres::Row>, postgres::Error> {
        let statement = self.prepare(client, sql)?;
        client.query(&statement, params)
    }

    /// Rows changed by `sql` bound to typed `params`.
    pub fn execute(
        &mut self,
        client: &mut impl GenericClient,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<u64, postgres::Error> {
        let statement = self.prepare(client, sql)?;
        client.execute(&statement, params)
    }
}

/// A search condition's values as PostgreSQL parameters: integers are `bigint`
/// (every integer column is), text is text.
fn bind(values: &[Value]) -> Vec<Box<dyn ToSql + Sync>> {
    values
        .iter()
        .map(|value| -> Box<dyn ToSql + Sync> {
            match value {
                Value::Null => Box::new(None::<i64>),
                Value::Integer(n) => Box::new(*n),
                Value::Real(x) => Box::new(*x),
                Value::Text(text) => Box::new(without_nul(text).into_owned()),
                Value::Blob(bytes) => Box::new(bytes.clone()),
            }
        })
        .collect()
}

/// `text` as PostgreSQL's text can hold it: a NUL (which hostile mail may carry
/// in any header or body) becomes U+FFFD, where SQLite would keep it.
pub(super) fn without_nul(text: &str) -> Cow<'_, str> {
    if text.contains('\0') { Cow::Owned(text.replace('\0', "\u{FFFD}")) } else { Cow::Borrowed(text) }
}

/// A connection that is made again when lost: at most once per back-off period,
/// so a database that is down costs callers a quick error, not a wait.
pub(super) struct Link {
    config: Config,
    session: Option<Session>,
    next_attempt: Instant,
    retry_after: Duration,
}

impl Link {
    pub fn new(config: Config) -> Link {
        Link { config, session: None, next_attempt: Instant::now(), retry_after: FIRST_RETRY_AFTER }
    }

    /// A link already connected (the one that ran the migrations).
    pub fn with_session(config: Config, session: Session) -> Link {
        Link { session: Some(session), ..Link::new(config) }
    }

    pub fn is_connected(&self) -> bool {
        self.session.as_ref().is_some_and(|session| !session.client.is_closed())
    }

    /// The open session, connecting if there is none and the back-off allows;
    /// the reason otherwise. `Ok(true)` with the session when it was just made.
    pub fn session(&mut self) -> Result<(&mut Session, bool), String> {
        if self.session.as_ref().is_some_and(|session| session.client.is_closed()) {
            self.session = None;
        }
        let fresh = self.session.is_none();
        if fresh {
            if Instant::now() < self.next_attempt {
                return Err("PostgreSQL is unreachable (retrying)".to_owned());
            }
            match Session::open(&self.config) {
                Ok(session) => {
                    self.session = Some(session);
                    self.retry_after = FIRST_RETRY_AFTER;
                }
                Err(error) => {
                    self.next_attempt = Instant::now() + self.retry_after;
                    self.retry_after = (self.retry_after * 2).min(MAX_RETRY_AFTER);
                    return Err(format!("PostgreSQL is unreachable: {error}"));
                }
            }
        }
        Ok((self.session.as_mut().expect("connected above"), fresh))
    }

    /// After an error: forget the session if the error was its connection's.
    pub fn check(&mut self) {
        if self.session.as_ref().is_some_and(|session| session.client.is_closed()) {
            self.session = None;
        }
    }

    /// Forget the session whatever its state: the next use connects again.
    pub fn reset(&mut self) {
        self.session = None;
    }

    /// Ask the server whether the connection still works (the client learns of
    /// a dropped connection only when it next talks); forget it if not.
    pub fn probe(&mut self) {
        if let Some(session) = &mut self.session
            && session.client.is_valid(CONNECT_TIMEOUT).is_err()
        {
            self.session = None;
        }
    }
}
