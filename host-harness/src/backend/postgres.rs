//! Host storage in PostgreSQL: durable, shared by any number of host
//! processes on any number of machines.
//!
//! Keys are `bytea`, which PostgreSQL orders by their bytes, the order the
//! storage contract promises, so a prefix scan is a range over the primary
//! key's index. A run is one transaction that first takes a
//! transaction-level advisory lock: writers are serialised across every
//! process on the database, as SQLite's `BEGIN IMMEDIATE` serialises them
//! on one file, so every claim the host makes (a job's due instant, an
//! automation step's attempt) is decided under that lock and holds across
//! processes. Mutations are SQL savepoints. The backend creates and
//! versions its own tables (`automation_harness_schema` lists the applied
//! migrations), at open, under another advisory lock, so that processes
//! opening one database at once apply each migration once.
//!
//! Each connection lives on a thread of its own: the synchronous client
//! runs a Tokio runtime of its own inside every call, which may not be
//! started from the runtime that drives a plugin's calls (and so its host
//! calls); the thread keeps the two apart.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::mpsc;

use anyhow::{Context as _, anyhow};
use parking_lot::Mutex;
use postgres::{Client, NoTls, Statement};

use super::{Backend, ReadOnly, Savepoint, StoreSnapshot, Transaction, prefix_end};
use crate::records::{ChangeRecord, EventRecord};

/// The migrations, in order: each applied once, in a transaction, and
/// recorded in `automation_harness_schema`. Never edit one that shipped;
/// add the next.
const MIGRATIONS: &[(i32, &str)] = &[(
    1,
    "CREATE TABLE kv (
        space text NOT NULL,
        key bytea NOT NULL,
        value bytea NOT NULL,
        PRIMARY KEY (space, key)
    );
    CREATE TABLE changes (
        seq bigserial PRIMARY KEY,
        change_id text NOT NULL UNIQUE,
        record text NOT NULL
    );
    CREATE TABLE events (
        seq bigserial PRIMARY KEY,
        event_id text NOT NULL UNIQUE,
        change_id text NOT NULL REFERENCES changes (change_id),
        record text NOT NULL
    );",
)];

/// The advisory lock every run takes: one writer at a time per schema (the
/// tables a store uses), keyed by the schema's name so that stores in
/// other schemas of the database go on.
const WRITER_LOCK: &str = "SELECT pg_advisory_xact_lock(1096111181, hashtext(current_schema()))";
/// The advisory lock migrations are applied under, per schema too.
const MIGRATION_LOCK: &str = "SELECT pg_advisory_xact_lock(1096111182, hashtext(current_schema()))";
/// How long a run waits for the writer lock, as SQLite's busy timeout.
const SESSION_SETTINGS: &str = "SET lock_timeout = '30s';
    SET idle_in_transaction_session_timeout = '10min'";

/// A PostgreSQL database as host storage.
#[derive(Clone)]
pub struct PostgresBackend {
    config: postgres::Config,
    /// The connection string with its password masked: what errors show.
    shown: Arc<String>,
    idle: Arc<Mutex<Vec<Connection>>>,
}

impl std::fmt::Debug for PostgresBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresBackend")
            .field("url", &self.shown)
            .finish()
    }
}

/// `url` with the password of its user masked as `****`, for output and
/// errors; a password given as a `password=` parameter is masked too.
pub fn redact_url(url: &str) -> String {
    let mut shown = url.to_owned();
    // Everything between the user's `:` and the last `@`: a password may
    // hold `/`, `?` or `@`, and masking too much is safe.
    if let Some(scheme_end) = shown.find("://") {
        let rest_start = scheme_end + 3;
        if let Some(at) = shown[rest_start..].rfind('@') {
            let at = rest_start + at;
            if let Some(colon) = shown[rest_start..at].find(':') {
                shown.replace_range(rest_start + colon + 1..at, "****");
            }
        }
    }
    let mut from = 0;
    while let Some(found) = shown[from..].find("password=") {
        let start = from + found + "password=".len();
        let end = shown[start..]
            .find(['&', ' '])
            .map_or(shown.len(), |end| start + end);
        shown.replace_range(start..end, "****");
        from = start + 4;
    }
    shown
}

/// The database cannot be reached: the server is down, starting, shutting
/// down, or the connection was lost. Nothing of the call that met it was
/// committed; trying again later may succeed.
#[derive(Debug, thiserror::Error)]
#[error("store unavailable: {0}")]
pub struct StoreUnavailable(pub String);

/// Whether `error` means the database cannot be reached: a lost or
/// refused connection, or a server shutting down, starting up or cutting
/// the connection (SQLSTATE class 08, 57P01-57P03).
fn is_unavailable(error: &postgres::Error) -> bool {
    if error.is_closed() {
        return true;
    }
    match error.code() {
        Some(code) => {
            let code = code.code();
            code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03")
        }
        // No SQLSTATE: the socket failed (refused, reset, timed out).
        None => std::error::Error::source(error)
            .is_some_and(|source| source.downcast_ref::<std::io::Error>().is_some()),
    }
}

impl PostgresBackend {
    /// Connects to the database at `url` (`postgres://user:password@host:port/db`;
    /// `?options=-csearch_path%3D<schema>` puts the tables in a schema of
    /// their own), and creates or migrates the tables.
    pub fn open(url: &str) -> anyhow::Result<Self> {
        let shown = redact_url(url);
        let mut config: postgres::Config = url
            .parse()
            .map_err(|error| anyhow!("{shown} is not a PostgreSQL connection string: {error}"))?;
        // A server or a machine that went away is noticed in seconds, not
        // at the operating system's TCP timeouts.
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(std::time::Duration::from_secs(10));
        }
        config
            .keepalives(true)
            .keepalives_idle(std::time::Duration::from_secs(30));
        let backend = Self {
            config,
            shown: Arc::new(shown),
            idle: Arc::new(Mutex::new(Vec::new())),
        };
        let connection = backend.connect()?;
        backend.migrate(&connection)?;
        backend.idle.lock().push(connection);
        Ok(backend)
    }

    /// The connection string, its password masked.
    pub fn url(&self) -> &str {
        &self.shown
    }

    /// The migrations applied to the database, in order.
    pub fn schema_versions(&self) -> anyhow::Result<Vec<i32>> {
        self.with_idle(|connection| {
            connection.call(|session| {
                Ok(session
                    .client
                    .query(
                        "SELECT version FROM automation_harness_schema ORDER BY version",
                        &[],
                    )?
                    .iter()
                    .map(|row| row.get(0))
                    .collect())
            })
        })
    }

    fn connect(&self) -> anyhow::Result<Connection> {
        Connection::open(self.config.clone()).map_err(|error| self.fail(error, "cannot connect"))
    }

    fn migrate(&self, connection: &Connection) -> anyhow::Result<()> {
        connection
            .call(|session| {
                let mut txn = session
                    .client
                    .build_transaction()
                    .isolation_level(postgres::IsolationLevel::ReadCommitted)
                    .start()?;
                txn.execute(MIGRATION_LOCK, &[])?;
                txn.batch_execute(
                    "CREATE TABLE IF NOT EXISTS automation_harness_schema (
                        version integer PRIMARY KEY,
                        applied_at timestamptz NOT NULL DEFAULT now()
                    )",
                )?;
                let applied: i32 = txn
                    .query_one(
                        "SELECT coalesce(max(version), 0) FROM automation_harness_schema",
                        &[],
                    )?
                    .get(0);
                let known = MIGRATIONS.last().map_or(0, |(version, _)| *version);
                if applied > known {
                    return Err(CallError::Other(anyhow!(
                        "the tables are at schema version {applied}, from a newer host; this \
                         host knows versions up to {known}"
                    )));
                }
                for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > applied) {
                    txn.batch_execute(sql)?;
                    txn.execute(
                        "INSERT INTO automation_harness_schema (version) VALUES ($1)",
                        &[version],
                    )?;
                }
                Ok(txn.commit()?)
            })
            .map_err(|error| self.fail(error, "cannot create or migrate the tables"))
    }

    /// An error of this store, naming it (password masked) and saying
    /// `store unavailable` when the database cannot be reached.
    fn fail(&self, error: CallError, what: &str) -> anyhow::Error {
        match error {
            CallError::Postgres(error) if is_unavailable(&error) => anyhow::Error::new(
                StoreUnavailable(format!("PostgreSQL at {}: {what}: {error}", self.shown)),
            ),
            CallError::Postgres(error) => {
                anyhow!("PostgreSQL at {}: {what}: {error}", self.shown)
            }
            CallError::Lost => anyhow::Error::new(StoreUnavailable(format!(
                "PostgreSQL at {}: {what}: the connection is gone",
                self.shown
            ))),
            CallError::Other(error) => {
                error.context(format!("PostgreSQL at {}: {what}", self.shown))
            }
        }
    }

    fn give_back(&self, connection: Connection) {
        self.idle.lock().push(connection);
    }

    /// Runs `call` on an idle connection, and returns the connection with
    /// its result. A pooled connection that fails may have died with a
    /// server restart: it is dropped and the call tried on the next, on a
    /// new connection last.
    fn on_a_connection<T>(
        &self,
        what: &str,
        call: impl Fn(&Connection) -> Result<T, CallError>,
    ) -> anyhow::Result<(Connection, T)> {
        loop {
            let pooled = self.idle.lock().pop();
            let fresh = pooled.is_none();
            let connection = match pooled {
                Some(connection) => connection,
                None => self.connect()?,
            };
            match call(&connection) {
                Ok(value) => return Ok((connection, value)),
                Err(error) if fresh => return Err(self.fail(error, what)),
                Err(_) => continue,
            }
        }
    }

    /// Runs `read` on an idle connection, which goes back to the pool.
    fn with_idle<T>(
        &self,
        read: impl Fn(&Connection) -> Result<T, CallError>,
    ) -> anyhow::Result<T> {
        let (connection, value) = self.on_a_connection("reading failed", read)?;
        self.give_back(connection);
        Ok(value)
    }

    fn records<T: serde::de::DeserializeOwned + Send + 'static>(
        &self,
        table: &'static str,
    ) -> anyhow::Result<Vec<T>> {
        self.with_idle(|connection| connection.call(move |session| read_records(session, table)))
    }
}

fn read_records<T: serde::de::DeserializeOwned>(
    session: &mut Session,
    table: &str,
) -> Result<Vec<T>, CallError> {
    let rows = session
        .client
        .query(&format!("SELECT record FROM {table} ORDER BY seq"), &[])?;
    parse_records(&rows, table)
}

/// The JSON records of `rows` (one `record` column each) of `table`.
fn parse_records<T: serde::de::DeserializeOwned>(
    rows: &[postgres::Row],
    table: &str,
) -> Result<Vec<T>, CallError> {
    rows.iter()
        .map(|row| {
            serde_json::from_str(row.get::<_, &str>(0)).map_err(|error| {
                CallError::Other(anyhow!("a record of table {table} is corrupt: {error}"))
            })
        })
        .collect()
}

impl Backend for PostgresBackend {
    fn begin(&self) -> anyhow::Result<Box<dyn Transaction>> {
        // READ COMMITTED whatever the database's default: every statement
        // after the lock sees the previous holder's commit.
        let (connection, ()) =
            self.on_a_connection("cannot start a transaction", |connection| {
                connection.call(|session| {
                    session
                        .client
                        .batch_execute("BEGIN ISOLATION LEVEL READ COMMITTED")?;
                    session.client.execute(WRITER_LOCK, &[])?;
                    Ok(())
                })
            })?;
        Ok(Box::new(PostgresTransaction {
            backend: self.clone(),
            connection: Some(connection),
            savepoints: 0,
            failed: None,
        }))
    }

    /// A `READ ONLY` transaction on one snapshot, without the writer
    /// lock: a query neither waits for a run nor holds one up, and the
    /// server itself refuses any write through it.
    fn begin_read(&self) -> anyhow::Result<Box<dyn Transaction>> {
        let (connection, ()) =
            self.on_a_connection("cannot start a read transaction", |connection| {
                connection.call(|session| {
                    session
                        .client
                        .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")?;
                    Ok(())
                })
            })?;
        Ok(Box::new(ReadOnly(Box::new(PostgresTransaction {
            backend: self.clone(),
            connection: Some(connection),
            savepoints: 0,
            failed: None,
        }))))
    }

    fn changes(&self) -> anyhow::Result<Vec<ChangeRecord>> {
        self.records("changes")
    }

    fn events(&self) -> anyhow::Result<Vec<EventRecord>> {
        self.records("events")
    }

    fn snapshot(&self) -> anyhow::Result<StoreSnapshot> {
        self.with_idle(|connection| {
            connection.call(|session| {
                let mut txn = session
                    .client
                    .build_transaction()
                    .isolation_level(postgres::IsolationLevel::RepeatableRead)
                    .read_only(true)
                    .start()?;
                let mut snapshot = StoreSnapshot::default();
                for row in txn.query("SELECT space, key, value FROM kv ORDER BY space, key", &[])? {
                    let key = String::from_utf8(row.get::<_, Vec<u8>>(1))
                        .map_err(|_| CallError::Other(anyhow!("a stored key is not UTF-8")))?;
                    snapshot
                        .spaces
                        .entry(row.get(0))
                        .or_default()
                        .insert(key, row.get(2));
                }
                snapshot.changes = parse_records(
                    &txn.query("SELECT record FROM changes ORDER BY seq", &[])?,
                    "changes",
                )?;
                snapshot.events = parse_records(
                    &txn.query("SELECT record FROM events ORDER BY seq", &[])?,
                    "events",
                )?;
                txn.commit()?;
                snapshot.prune();
                Ok(snapshot)
            })
        })
    }
}

struct PostgresTransaction {
    backend: PostgresBackend,
    /// Taken on commit; a transaction dropped with it still here rolls back.
    connection: Option<Connection>,
    savepoints: usize,
    /// What failed in the transaction since its last rollback to a
    /// savepoint: PostgreSQL aborts a transaction at its first error (and
    /// answers `COMMIT` with a silent `ROLLBACK`), so one that failed is
    /// refused at commit rather than reported committed.
    failed: Option<String>,
}

impl PostgresTransaction {
    fn call<T: Send + 'static>(
        &mut self,
        what: &str,
        job: impl FnOnce(&mut Session) -> Result<T, CallError> + Send + 'static,
    ) -> anyhow::Result<T> {
        let connection = self
            .connection
            .as_ref()
            .context("the transaction has already ended")?;
        connection.call(job).map_err(|error| {
            let error = self.backend.fail(error, what);
            self.failed = Some(format!("{error:#}"));
            error
        })
    }
}

const GET: &str = "SELECT value FROM kv WHERE space = $1 AND key = $2";
const SET: &str = "INSERT INTO kv (space, key, value) VALUES ($1, $2, $3)
    ON CONFLICT (space, key) DO UPDATE SET value = excluded.value";
const DELETE: &str = "DELETE FROM kv WHERE space = $1 AND key = $2";
// Two scans, so that each plan, cached or not, is a range of the index:
// from a lower bound, and to an upper bound when the prefix has one.
const SCAN_TO_END: &str = "SELECT key, value FROM kv
    WHERE space = $1 AND key >= $2 AND key < $3 ORDER BY key LIMIT $4";
const SCAN_FROM: &str = "SELECT key, value FROM kv
    WHERE space = $1 AND key >= $2 ORDER BY key LIMIT $3";
const APPEND_CHANGE: &str = "INSERT INTO changes (change_id, record) VALUES ($1, $2)";
const APPEND_EVENT: &str = "INSERT INTO events (event_id, change_id, record) VALUES ($1, $2, $3)";

impl Transaction for PostgresTransaction {
    fn get(&mut self, space: &str, key: &str) -> anyhow::Result<Option<Vec<u8>>> {
        let (space, key) = (space.to_owned(), key.as_bytes().to_vec());
        self.call("reading a key failed", move |session| {
            let statement = session.statement(GET)?;
            Ok(session
                .client
                .query_opt(&statement, &[&space, &key])?
                .map(|row| row.get(0)))
        })
    }

    fn set(&mut self, space: &str, key: &str, value: &[u8]) -> anyhow::Result<()> {
        let (space, key, value) = (space.to_owned(), key.as_bytes().to_vec(), value.to_vec());
        self.call("writing a key failed", move |session| {
            let statement = session.statement(SET)?;
            session
                .client
                .execute(&statement, &[&space, &key, &value])?;
            Ok(())
        })
    }

    fn delete(&mut self, space: &str, key: &str) -> anyhow::Result<bool> {
        let (space, key) = (space.to_owned(), key.as_bytes().to_vec());
        self.call("deleting a key failed", move |session| {
            let statement = session.statement(DELETE)?;
            Ok(session.client.execute(&statement, &[&space, &key])? > 0)
        })
    }

    fn scan(
        &mut self,
        space: &str,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
        // Keys after `after` are those from `after` followed by a zero byte.
        let start = match after {
            Some(after) if after >= prefix => {
                let mut start = after.as_bytes().to_vec();
                start.push(0);
                start
            }
            _ => prefix.as_bytes().to_vec(),
        };
        let end = prefix_end(prefix.as_bytes());
        let space = space.to_owned();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.call("scanning keys failed", move |session| {
            let rows = match &end {
                Some(end) => {
                    let statement = session.statement(SCAN_TO_END)?;
                    session
                        .client
                        .query(&statement, &[&space, &start, end, &limit])?
                }
                None => {
                    let statement = session.statement(SCAN_FROM)?;
                    session
                        .client
                        .query(&statement, &[&space, &start, &limit])?
                }
            };
            rows.iter()
                .map(|row| {
                    let key = String::from_utf8(row.get::<_, Vec<u8>>(0))
                        .map_err(|_| CallError::Other(anyhow!("a stored key is not UTF-8")))?;
                    Ok((key, row.get(1)))
                })
                .collect()
        })
    }

    fn savepoint(&mut self) -> anyhow::Result<Savepoint> {
        self.savepoints += 1;
        let savepoint = Savepoint(self.savepoints);
        self.call("taking a savepoint failed", move |session| {
            Ok(session
                .client
                .batch_execute(&format!("SAVEPOINT sp{}", savepoint.0))?)
        })?;
        Ok(savepoint)
    }

    fn rollback_to(&mut self, savepoint: Savepoint) -> anyhow::Result<()> {
        self.call("rolling back to a savepoint failed", move |session| {
            Ok(session.client.batch_execute(&format!(
                "ROLLBACK TO SAVEPOINT sp{0}; RELEASE SAVEPOINT sp{0}",
                savepoint.0
            ))?)
        })?;
        // What failed after the savepoint is undone with it.
        self.failed = None;
        Ok(())
    }

    fn append_change(&mut self, change: &ChangeRecord) -> anyhow::Result<()> {
        let (id, record) = (change.change_id.clone(), serde_json::to_string(change)?);
        self.call("recording a change failed", move |session| {
            let statement = session.statement(APPEND_CHANGE)?;
            session.client.execute(&statement, &[&id, &record])?;
            Ok(())
        })
    }

    fn append_event(&mut self, event: &EventRecord) -> anyhow::Result<()> {
        let (id, change, record) = (
            event.event_id.clone(),
            event.change_id.clone(),
            serde_json::to_string(event)?,
        );
        self.call("recording an event failed", move |session| {
            let statement = session.statement(APPEND_EVENT)?;
            session
                .client
                .execute(&statement, &[&id, &change, &record])?;
            Ok(())
        })
    }

    fn commit(mut self: Box<Self>) -> anyhow::Result<()> {
        if let Some(failure) = &self.failed {
            anyhow::bail!("the transaction cannot commit: an earlier statement failed ({failure})");
        }
        let connection = self
            .connection
            .take()
            .context("the transaction has already ended")?;
        match connection.call(|session| Ok(session.client.batch_execute("COMMIT")?)) {
            Ok(()) => {
                self.backend.give_back(connection);
                Ok(())
            }
            Err(error) => Err(self.backend.fail(error, "committing the run failed")),
        }
    }
}

impl Drop for PostgresTransaction {
    fn drop(&mut self) {
        if let Some(connection) = self.connection.take() {
            // A connection whose rollback fails is in an unknown state (or
            // gone) and is closed rather than reused.
            if connection
                .call(|session| Ok(session.client.batch_execute("ROLLBACK")?))
                .is_ok()
            {
                self.backend.give_back(connection);
            }
        }
    }
}

/// Why a call on a connection's thread failed.
enum CallError {
    Postgres(postgres::Error),
    /// The connection's thread is gone.
    Lost,
    Other(anyhow::Error),
}

impl From<postgres::Error> for CallError {
    fn from(error: postgres::Error) -> Self {
        CallError::Postgres(error)
    }
}

/// What a connection's thread owns: the client and its prepared
/// statements.
struct Session {
    client: Client,
    statements: HashMap<&'static str, Statement>,
}

impl Session {
    fn statement(&mut self, sql: &'static str) -> Result<Statement, postgres::Error> {
        if let Some(statement) = self.statements.get(sql) {
            return Ok(statement.clone());
        }
        let statement = self.client.prepare(sql)?;
        self.statements.insert(sql, statement.clone());
        Ok(statement)
    }
}

type Job = Box<dyn FnOnce(&mut Session) + Send>;

/// One connection, on a thread of its own that runs the calls sent to it
/// in order; the thread ends when the connection is dropped.
struct Connection {
    jobs: mpsc::Sender<Job>,
}

impl Connection {
    fn open(config: postgres::Config) -> Result<Self, CallError> {
        let (jobs, incoming) = mpsc::channel::<Job>();
        let (opened, opening) = mpsc::channel();
        std::thread::Builder::new()
            .name("postgres-connection".into())
            .spawn(move || {
                let connected = config.connect(NoTls).and_then(|mut client| {
                    client.batch_execute(SESSION_SETTINGS)?;
                    Ok(client)
                });
                let mut session = match connected {
                    Ok(client) => {
                        let _ = opened.send(Ok(()));
                        Session {
                            client,
                            statements: HashMap::new(),
                        }
                    }
                    Err(error) => {
                        let _ = opened.send(Err(error));
                        return;
                    }
                };
                while let Ok(job) = incoming.recv() {
                    job(&mut session);
                }
            })
            .map_err(|error| {
                CallError::Other(anyhow!("cannot start a connection thread: {error}"))
            })?;
        match opening.recv() {
            Ok(Ok(())) => Ok(Self { jobs }),
            Ok(Err(error)) => Err(CallError::Postgres(error)),
            Err(_) => Err(CallError::Lost),
        }
    }

    /// Runs `job` on the connection's thread and waits for its result.
    fn call<T: Send + 'static>(
        &self,
        job: impl FnOnce(&mut Session) -> Result<T, CallError> + Send + 'static,
    ) -> Result<T, CallError> {
        let (reply, result) = mpsc::channel();
        self.jobs
            .send(Box::new(move |session| {
                let _ = reply.send(job(session));
            }))
            .map_err(|_| CallError::Lost)?;
        result.recv().map_err(|_| CallError::Lost)?
    }
}
