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

use super::{Backend, Savepoint, StoreSnapshot, Transaction, prefix_end};
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

/// The advisory lock every run takes: one writer at a time per database.
const WRITER_LOCK: i64 = 0x4155_544f_4d41_5445; // "AUTOMATE"
/// The advisory lock migrations are applied under.
const MIGRATION_LOCK: i64 = 0x4155_544f_4d49_4752; // "AUTOMIGR"

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
    if let Some(scheme_end) = shown.find("://") {
        let authority_start = scheme_end + 3;
        let authority_end = shown[authority_start..]
            .find(['/', '?'])
            .map_or(shown.len(), |end| authority_start + end);
        if let Some(at) = shown[authority_start..authority_end].rfind('@') {
            let userinfo = &shown[authority_start..authority_start + at];
            if let Some(colon) = userinfo.find(':') {
                let start = authority_start + colon + 1;
                shown.replace_range(start..authority_start + at, "****");
            }
        }
    }
    if let Some(at) = shown.find("password=") {
        let start = at + "password=".len();
        let end = shown[start..]
            .find(['&', ' '])
            .map_or(shown.len(), |end| start + end);
        shown.replace_range(start..end, "****");
    }
    shown
}

/// Whether `error` means the database cannot be reached: the server is
/// down, the connection was lost.
fn is_unavailable(error: &postgres::Error) -> bool {
    error.is_closed() || (error.as_db_error().is_none() && error.code().is_none())
}

impl PostgresBackend {
    /// Connects to the database at `url` (`postgres://user:password@host:port/db`;
    /// `?options=-csearch_path%3D<schema>` puts the tables in a schema of
    /// their own), and creates or migrates the tables.
    pub fn open(url: &str) -> anyhow::Result<Self> {
        let shown = redact_url(url);
        let config: postgres::Config = url
            .parse()
            .map_err(|error| anyhow!("{shown} is not a PostgreSQL connection string: {error}"))?;
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
                let mut txn = session.client.transaction()?;
                txn.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
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
            CallError::Postgres(error) if is_unavailable(&error) => {
                anyhow!(
                    "store unavailable: PostgreSQL at {}: {what}: {error}",
                    self.shown
                )
            }
            CallError::Postgres(error) => {
                anyhow!("PostgreSQL at {}: {what}: {error}", self.shown)
            }
            CallError::Lost => anyhow!(
                "store unavailable: PostgreSQL at {}: {what}: the connection is gone",
                self.shown
            ),
            CallError::Other(error) => {
                error.context(format!("PostgreSQL at {}: {what}", self.shown))
            }
        }
    }

    /// An idle connection, or a new one.
    fn take(&self) -> anyhow::Result<Connection> {
        match self.idle.lock().pop() {
            Some(connection) => Ok(connection),
            None => self.connect(),
        }
    }

    fn give_back(&self, connection: Connection) {
        self.idle.lock().push(connection);
    }

    fn with_idle<T>(
        &self,
        read: impl FnOnce(&Connection) -> Result<T, CallError>,
    ) -> anyhow::Result<T> {
        let connection = self.take()?;
        match read(&connection) {
            Ok(value) => {
                self.give_back(connection);
                Ok(value)
            }
            // A connection that failed is dropped, not reused.
            Err(error) => Err(self.fail(error, "reading failed")),
        }
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
        // Idle connections may have died with a server restart: each that
        // fails to begin is dropped, and a new one tried last.
        loop {
            let pooled = self.idle.lock().pop();
            let fresh = pooled.is_none();
            let connection = match pooled {
                Some(connection) => connection,
                None => self.connect()?,
            };
            let began = connection.call(|session| {
                session.client.batch_execute("BEGIN")?;
                session
                    .client
                    .execute("SELECT pg_advisory_xact_lock($1)", &[&WRITER_LOCK])?;
                Ok(())
            });
            match began {
                Ok(()) => {
                    return Ok(Box::new(PostgresTransaction {
                        backend: self.clone(),
                        connection: Some(connection),
                        savepoints: 0,
                    }));
                }
                Err(error) if fresh => return Err(self.fail(error, "cannot start a transaction")),
                Err(_) => continue,
            }
        }
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
}

impl PostgresTransaction {
    fn call<T: Send + 'static>(
        &self,
        what: &str,
        job: impl FnOnce(&mut Session) -> Result<T, CallError> + Send + 'static,
    ) -> anyhow::Result<T> {
        let connection = self
            .connection
            .as_ref()
            .context("the transaction has already ended")?;
        connection
            .call(job)
            .map_err(|error| self.backend.fail(error, what))
    }
}

const GET: &str = "SELECT value FROM kv WHERE space = $1 AND key = $2";
const SET: &str = "INSERT INTO kv (space, key, value) VALUES ($1, $2, $3)
    ON CONFLICT (space, key) DO UPDATE SET value = excluded.value";
const DELETE: &str = "DELETE FROM kv WHERE space = $1 AND key = $2";
const SCAN: &str = "SELECT key, value FROM kv
    WHERE space = $1 AND key >= $2 AND ($3::bytea IS NULL OR key > $3)
      AND ($4::bytea IS NULL OR key < $4)
    ORDER BY key LIMIT $5";
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
        let start = match after {
            Some(after) if after >= prefix => after,
            _ => prefix,
        }
        .as_bytes()
        .to_vec();
        let end = prefix_end(prefix.as_bytes());
        let after = after.map(|after| after.as_bytes().to_vec());
        let space = space.to_owned();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.call("scanning keys failed", move |session| {
            let statement = session.statement(SCAN)?;
            session
                .client
                .query(&statement, &[&space, &start, &after, &end, &limit])?
                .iter()
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
        })
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
                let mut session = match config.connect(NoTls) {
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
