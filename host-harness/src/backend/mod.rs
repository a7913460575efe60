//! Where host storage lives: the plugin's keys, the entity engine's
//! current states, the change log and the event log.
//!
//! A backend hands out one transaction per run. Every write of the run
//! goes through it and becomes visible to others only on commit; dropping
//! a transaction without committing rolls it back. Savepoints let an
//! entity mutation be abandoned without losing the rest of the run.

mod memory;
mod postgres;
mod sqlite;

pub use memory::MemoryBackend;
pub use postgres::{PostgresBackend, StoreUnavailable, redact_url};
pub use sqlite::SqliteBackend;

use std::collections::BTreeMap;

use crate::records::{ChangeRecord, EventRecord};

/// A position in a transaction that it can roll back to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Savepoint(pub(crate) usize);

/// A durable or in-memory home for host storage.
pub trait Backend: Send + Sync + 'static {
    /// Starts a transaction. Writers are serialised: a second `begin`
    /// waits until the first transaction ends.
    fn begin(&self) -> anyhow::Result<Box<dyn Transaction>>;

    /// Starts a transaction that only reads, for a query: every write
    /// through it is refused and it never commits, so nothing done
    /// through it can change the store. By default a [`begin`] transaction
    /// behind [`ReadOnly`].
    ///
    /// [`begin`]: Backend::begin
    fn begin_read(&self) -> anyhow::Result<Box<dyn Transaction>> {
        Ok(Box::new(ReadOnly(self.begin()?)))
    }

    /// The change log, oldest first.
    fn changes(&self) -> anyhow::Result<Vec<ChangeRecord>>;

    /// The trigger event log, oldest first.
    fn events(&self) -> anyhow::Result<Vec<EventRecord>>;

    /// Everything stored, for comparing a store before and after a run.
    fn snapshot(&self) -> anyhow::Result<StoreSnapshot>;
}

/// One run's view of a backend.
pub trait Transaction: Send {
    /// The value at `key` in the key space `space`, including this
    /// transaction's own uncommitted writes; absent when there is none.
    fn get(&mut self, space: &str, key: &str) -> anyhow::Result<Option<Vec<u8>>>;
    /// Stores `value` at `key` in the key space `space`, replacing any
    /// value there.
    fn set(&mut self, space: &str, key: &str, value: &[u8]) -> anyhow::Result<()>;
    /// True when a value was there.
    fn delete(&mut self, space: &str, key: &str) -> anyhow::Result<bool>;
    /// At most `limit` entries of `space` whose keys start with `prefix`
    /// and sort after `after`, in ascending key order.
    fn scan(
        &mut self,
        space: &str,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> anyhow::Result<Vec<(String, Vec<u8>)>>;
    /// Marks the current position, so an entity mutation can later be
    /// undone with [`Self::rollback_to`] without losing the rest of the
    /// run.
    fn savepoint(&mut self) -> anyhow::Result<Savepoint>;
    /// Undoes every write made since `savepoint`.
    fn rollback_to(&mut self, savepoint: Savepoint) -> anyhow::Result<()>;
    /// Appends a change to the change log; it becomes visible only on
    /// commit.
    fn append_change(&mut self, change: &ChangeRecord) -> anyhow::Result<()>;
    /// Appends an event to the event log. The change it derives from must
    /// already be appended: a durable store refuses an event whose change
    /// it lacks.
    fn append_event(&mut self, event: &EventRecord) -> anyhow::Result<()>;
    /// Makes every write of the transaction durable and visible to others,
    /// and ends it. Dropping a transaction instead rolls it all back.
    fn commit(self: Box<Self>) -> anyhow::Result<()>;
}

/// A transaction that refuses every write and every commit; dropping it
/// rolls back whatever the one it wraps held.
pub struct ReadOnly(pub Box<dyn Transaction>);

impl ReadOnly {
    fn refuse<T>(&self) -> anyhow::Result<T> {
        anyhow::bail!(
            "{}: the transaction is read-only",
            contract_rules::READ_ONLY
        )
    }
}

impl Transaction for ReadOnly {
    fn get(&mut self, space: &str, key: &str) -> anyhow::Result<Option<Vec<u8>>> {
        self.0.get(space, key)
    }

    fn set(&mut self, _space: &str, _key: &str, _value: &[u8]) -> anyhow::Result<()> {
        self.refuse()
    }

    fn delete(&mut self, _space: &str, _key: &str) -> anyhow::Result<bool> {
        self.refuse()
    }

    fn scan(
        &mut self,
        space: &str,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
        self.0.scan(space, prefix, after, limit)
    }

    fn savepoint(&mut self) -> anyhow::Result<Savepoint> {
        self.0.savepoint()
    }

    fn rollback_to(&mut self, savepoint: Savepoint) -> anyhow::Result<()> {
        self.0.rollback_to(savepoint)
    }

    fn append_change(&mut self, _change: &ChangeRecord) -> anyhow::Result<()> {
        self.refuse()
    }

    fn append_event(&mut self, _event: &EventRecord) -> anyhow::Result<()> {
        self.refuse()
    }

    fn commit(self: Box<Self>) -> anyhow::Result<()> {
        self.refuse()
    }
}

/// The smallest byte string greater than every string starting with
/// `prefix`, or `None` when there is none (the prefix is empty or all
/// 0xFF bytes): the end of a prefix scan's key range.
pub(crate) fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

/// The whole content of a store.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StoreSnapshot {
    /// Every non-empty key space with its keys and values:
    /// `plugin/<plugin-id>` holds the plugin's own keys,
    /// `entity/<plugin-id>` the engine's current states (keyed
    /// `<kind>/<entity-id>`), `scheduler/<plugin-id>` when each job last
    /// ran.
    pub spaces: BTreeMap<String, BTreeMap<String, Vec<u8>>>,
    /// The change log, oldest first.
    pub changes: Vec<ChangeRecord>,
    /// The trigger event log, oldest first.
    pub events: Vec<EventRecord>,
}

impl StoreSnapshot {
    /// Drops empty key spaces, so that snapshots of equal content compare
    /// equal whatever a rolled-back run touched.
    pub(crate) fn prune(&mut self) {
        self.spaces.retain(|_, values| !values.is_empty());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_only_transaction_reads_and_refuses_every_write() {
        let backend = MemoryBackend::new();
        let mut txn = backend.begin().unwrap();
        txn.set("s", "k", b"v").unwrap();
        txn.commit().unwrap();
        let mut read = backend.begin_read().unwrap();
        assert_eq!(read.get("s", "k").unwrap(), Some(b"v".to_vec()));
        assert_eq!(read.scan("s", "", None, 10).unwrap().len(), 1);
        let refused = |result: anyhow::Result<()>| {
            let message = format!("{:#}", result.expect_err("refused"));
            assert!(message.contains("queries are read-only"), "{message}");
        };
        refused(read.set("s", "k", b"w"));
        refused(read.delete("s", "k").map(drop));
        let change = crate::records::ChangeRecord {
            change_id: "c".into(),
            plugin_id: "p".into(),
            kind: "k".into(),
            entity_id: "e".into(),
            prev: None,
            next: None,
            changed_fields: Vec::new(),
            actor: crate::records::Actor::system(),
            run_id: None,
            occurred_at: "2026-03-01T10:00:00.000Z".into(),
        };
        refused(read.append_change(&change));
        refused(read.commit());
        assert_eq!(backend.snapshot().unwrap().spaces["s"]["k"], b"v".to_vec());
        assert!(backend.changes().unwrap().is_empty());
    }

    #[test]
    fn prefix_ends_bound_every_extension() {
        assert_eq!(prefix_end(b"a/"), Some(b"a0".to_vec()));
        assert_eq!(prefix_end(b"a\xff"), Some(b"b".to_vec()));
        assert_eq!(prefix_end(b"\xff\xff"), None);
        assert_eq!(prefix_end(b""), None);
    }
}
