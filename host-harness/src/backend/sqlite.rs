//! Host storage in an embedded SQLite database: durable, one file, WAL.
//!
//! Keys are BLOBs so that SQLite orders them by their bytes, the order the
//! storage contract promises, and a prefix scan is a bounded range over the
//! primary key. A run is one `BEGIN IMMEDIATE` transaction, which also
//! serialises writers across processes; mutations are SQL savepoints.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use parking_lot::Mutex;
use rusqlite::{Connection, OptionalExtension, params};

use super::{Backend, ReadOnly, Savepoint, StoreSnapshot, Transaction, prefix_end};
use crate::records::{ChangeRecord, EventRecord};

const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS kv (
        space TEXT NOT NULL,
        key BLOB NOT NULL,
        value BLOB NOT NULL,
        PRIMARY KEY (space, key)
    ) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS changes (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        change_id TEXT NOT NULL UNIQUE,
        record TEXT NOT NULL
    );
    CREATE TABLE IF NOT EXISTS events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        event_id TEXT NOT NULL UNIQUE,
        change_id TEXT NOT NULL REFERENCES changes (change_id),
        record TEXT NOT NULL
    );
";

/// How long a writer waits for another process's transaction to end.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// How often a waiting writer retries. SQLite's own busy handler backs off
/// to 100 ms between tries, so a writer could start up to 100 ms after the
/// lock came free: behind a plugin stopped at its deadline, that is 100 ms
/// past it. A try costs microseconds.
const BUSY_RETRY: Duration = Duration::from_millis(1);

/// Waits [`BUSY_RETRY`] and says whether to try again: for about
/// [`BUSY_TIMEOUT`] in all (`tries` counts the waits so far).
/// Whether `error` is SQLite's "busy" or "locked".
fn is_locked(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        matches!(
            cause.downcast_ref::<rusqlite::Error>(),
            Some(rusqlite::Error::SqliteFailure(failure, _))
                if matches!(
                    failure.code,
                    rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
                )
        )
    })
}

fn retry_while_busy(tries: i32) -> bool {
    let retries = BUSY_TIMEOUT.as_micros() / BUSY_RETRY.as_micros();
    if u128::try_from(tries).unwrap_or(u128::MAX) >= retries {
        return false;
    }
    std::thread::sleep(BUSY_RETRY);
    true
}

/// A backend in one SQLite file.
#[derive(Clone)]
pub struct SqliteBackend {
    path: Arc<PathBuf>,
    /// Idle connections, reused so a run does not pay for opening one.
    idle: Arc<Mutex<Vec<Connection>>>,
}

impl SqliteBackend {
    /// Opens the database at `path`, creating it and its parent directory
    /// when missing.
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        let backend = Self {
            path: Arc::new(path.to_owned()),
            idle: Arc::new(Mutex::new(Vec::new())),
        };
        // Two processes opening a new file at once race to switch it to
        // WAL and create the tables; SQLite answers the loser "locked"
        // without calling the busy handler, so the set-up is retried.
        let started = std::time::Instant::now();
        let connection = loop {
            match backend.connect().and_then(|connection| {
                connection
                    .execute_batch(SCHEMA)
                    .with_context(|| format!("cannot create the tables of {}", path.display()))?;
                Ok(connection)
            }) {
                Ok(connection) => break connection,
                Err(error) if is_locked(&error) && started.elapsed() < BUSY_TIMEOUT => {
                    std::thread::sleep(BUSY_RETRY);
                }
                Err(error) => return Err(error),
            }
        };
        backend.idle.lock().push(connection);
        Ok(backend)
    }

    /// The database file, as given to [`Self::open`].
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The `PRAGMA synchronous` level of an idle connection of this store
    /// (2 is FULL), opening one when none is idle. Every connection is set
    /// up by the same code, so this is the level every run commits with.
    pub fn synchronous(&self) -> anyhow::Result<i64> {
        self.read(
            |connection| Ok(connection.query_row("PRAGMA synchronous", [], |row| row.get(0))?),
        )
    }

    fn connect(&self) -> anyhow::Result<Connection> {
        let mut connection = Connection::open(&*self.path)
            .with_context(|| format!("cannot open SQLite store {}", self.path.display()))?;
        connection.busy_handler(Some(retry_while_busy))?;
        // WAL lets readers (history, snapshots) run beside a writer;
        // synchronous=FULL makes every committed run survive power loss.
        let mode: String =
            connection.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
        anyhow::ensure!(
            mode.eq_ignore_ascii_case("wal"),
            "{} cannot use write-ahead logging (journal mode {mode})",
            self.path.display()
        );
        connection.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")?;
        Ok(connection)
    }

    fn take(&self) -> anyhow::Result<Connection> {
        match self.idle.lock().pop() {
            Some(connection) => Ok(connection),
            None => self.connect(),
        }
    }

    fn give_back(&self, connection: Connection) {
        self.idle.lock().push(connection);
    }

    fn read<T>(&self, read: impl FnOnce(&Connection) -> anyhow::Result<T>) -> anyhow::Result<T> {
        let connection = self.take()?;
        let result = read(&connection);
        self.give_back(connection);
        result
    }
}

fn records<T: serde::de::DeserializeOwned>(
    connection: &Connection,
    table: &str,
) -> anyhow::Result<Vec<T>> {
    let mut statement = connection.prepare(&format!("SELECT record FROM {table} ORDER BY seq"))?;
    let rows = statement.query_map([], |row| row.get::<_, String>(0))?;
    let mut records = Vec::new();
    for row in rows {
        let text = row?;
        records.push(
            serde_json::from_str(&text)
                .with_context(|| format!("a record of table {table} is corrupt"))?,
        );
    }
    Ok(records)
}

impl Backend for SqliteBackend {
    fn begin(&self) -> anyhow::Result<Box<dyn Transaction>> {
        let connection = self.take()?;
        connection
            .execute_batch("BEGIN IMMEDIATE")
            .with_context(|| format!("cannot start a transaction on {}", self.path.display()))?;
        Ok(Box::new(SqliteTransaction {
            backend: self.clone(),
            connection: Some(connection),
            savepoints: 0,
        }))
    }

    /// A deferred transaction: in WAL mode it reads one snapshot and
    /// takes no write lock, so a query neither waits for a run nor holds
    /// one up.
    fn begin_read(&self) -> anyhow::Result<Box<dyn Transaction>> {
        let connection = self.take()?;
        connection
            .execute_batch("BEGIN DEFERRED")
            .with_context(|| {
                format!("cannot start a read transaction on {}", self.path.display())
            })?;
        Ok(Box::new(ReadOnly(Box::new(SqliteTransaction {
            backend: self.clone(),
            connection: Some(connection),
            savepoints: 0,
        }))))
    }

    fn changes(&self) -> anyhow::Result<Vec<ChangeRecord>> {
        self.read(|connection| records(connection, "changes"))
    }

    fn events(&self) -> anyhow::Result<Vec<EventRecord>> {
        self.read(|connection| records(connection, "events"))
    }

    fn snapshot(&self) -> anyhow::Result<StoreSnapshot> {
        self.read(|connection| {
            let mut snapshot = StoreSnapshot::default();
            let mut statement =
                connection.prepare("SELECT space, key, value FROM kv ORDER BY space, key")?;
            let rows = statement.query_map([], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, Vec<u8>>(1)?,
                    row.get::<_, Vec<u8>>(2)?,
                ))
            })?;
            for row in rows {
                let (space, key, value) = row?;
                let key = String::from_utf8(key).context("a stored key is not UTF-8")?;
                snapshot.spaces.entry(space).or_default().insert(key, value);
            }
            snapshot.changes = records(connection, "changes")?;
            snapshot.events = records(connection, "events")?;
            snapshot.prune();
            Ok(snapshot)
        })
    }
}

struct SqliteTransaction {
    backend: SqliteBackend,
    /// Taken on commit; a transaction dropped with it still here rolls back.
    connection: Option<Connection>,
    savepoints: usize,
}

impl SqliteTransaction {
    fn connection(&self) -> anyhow::Result<&Connection> {
        self.connection
            .as_ref()
            .context("the transaction has already ended")
    }
}

impl Transaction for SqliteTransaction {
    fn get(&mut self, space: &str, key: &str) -> anyhow::Result<Option<Vec<u8>>> {
        Ok(self
            .connection()?
            .prepare_cached("SELECT value FROM kv WHERE space = ?1 AND key = ?2")?
            .query_row(params![space, key.as_bytes()], |row| row.get(0))
            .optional()?)
    }

    fn set(&mut self, space: &str, key: &str, value: &[u8]) -> anyhow::Result<()> {
        self.connection()?
            .prepare_cached(
                "INSERT INTO kv (space, key, value) VALUES (?1, ?2, ?3)
                 ON CONFLICT (space, key) DO UPDATE SET value = excluded.value",
            )?
            .execute(params![space, key.as_bytes(), value])?;
        Ok(())
    }

    fn delete(&mut self, space: &str, key: &str) -> anyhow::Result<bool> {
        let deleted = self
            .connection()?
            .prepare_cached("DELETE FROM kv WHERE space = ?1 AND key = ?2")?
            .execute(params![space, key.as_bytes()])?;
        Ok(deleted > 0)
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
        };
        let end = prefix_end(prefix.as_bytes());
        let mut statement = self.connection()?.prepare_cached(
            "SELECT key, value FROM kv
             WHERE space = ?1 AND key >= ?2 AND (?3 IS NULL OR key > ?3) AND (?4 IS NULL OR key < ?4)
             ORDER BY key LIMIT ?5",
        )?;
        let rows = statement.query_map(
            params![
                space,
                start.as_bytes(),
                after.map(str::as_bytes),
                end,
                i64::try_from(limit).unwrap_or(i64::MAX)
            ],
            |row| Ok((row.get::<_, Vec<u8>>(0)?, row.get::<_, Vec<u8>>(1)?)),
        )?;
        let mut entries = Vec::new();
        for row in rows {
            let (key, value) = row?;
            entries.push((
                String::from_utf8(key).context("a stored key is not UTF-8")?,
                value,
            ));
        }
        Ok(entries)
    }

    fn savepoint(&mut self) -> anyhow::Result<Savepoint> {
        self.savepoints += 1;
        let savepoint = Savepoint(self.savepoints);
        self.connection()?
            .execute_batch(&format!("SAVEPOINT sp{}", savepoint.0))?;
        Ok(savepoint)
    }

    fn rollback_to(&mut self, savepoint: Savepoint) -> anyhow::Result<()> {
        self.connection()?
            .execute_batch(&format!("ROLLBACK TO sp{0}; RELEASE sp{0}", savepoint.0))?;
        Ok(())
    }

    fn append_change(&mut self, change: &ChangeRecord) -> anyhow::Result<()> {
        self.connection()?
            .prepare_cached("INSERT INTO changes (change_id, record) VALUES (?1, ?2)")?
            .execute(params![change.change_id, serde_json::to_string(change)?])?;
        Ok(())
    }

    fn append_event(&mut self, event: &EventRecord) -> anyhow::Result<()> {
        self.connection()?
            .prepare_cached("INSERT INTO events (event_id, change_id, record) VALUES (?1, ?2, ?3)")?
            .execute(params![
                event.event_id,
                event.change_id,
                serde_json::to_string(event)?
            ])?;
        Ok(())
    }

    fn commit(mut self: Box<Self>) -> anyhow::Result<()> {
        let connection = self
            .connection
            .take()
            .context("the transaction has already ended")?;
        match connection.execute_batch("COMMIT") {
            Ok(()) => {
                self.backend.give_back(connection);
                Ok(())
            }
            Err(error) => {
                let _ = connection.execute_batch("ROLLBACK");
                Err(error).context("committing the run failed")
            }
        }
    }
}

impl Drop for SqliteTransaction {
    fn drop(&mut self) {
        if let Some(connection) = self.connection.take() {
            // A connection whose rollback fails is in an unknown state and
            // is closed rather than reused.
            if connection.execute_batch("ROLLBACK").is_ok() {
                self.backend.give_back(connection);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threads_opening_one_new_file_at_once_all_open_it() {
        // The race is lost now and then, not every time: many rounds.
        for _ in 0..60 {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("store.sqlite3");
            let barrier = std::sync::Barrier::new(6);
            std::thread::scope(|scope| {
                for _ in 0..6 {
                    scope.spawn(|| {
                        barrier.wait();
                        let backend = SqliteBackend::open(&path).expect("SQLite opens");
                        backend.begin().unwrap().commit().unwrap();
                    });
                }
            });
        }
    }
}
