//! Host storage in memory: for tests and for throwaway runs.

use std::sync::Arc;

use parking_lot::{Mutex, RawMutex, lock_api::ArcMutexGuard};

use super::{Backend, Savepoint, StoreSnapshot, Transaction};
use crate::records::{ChangeRecord, EventRecord};

/// A backend that keeps everything in memory and loses it on drop.
#[derive(Clone, Default)]
pub struct MemoryBackend {
    data: Arc<Mutex<StoreSnapshot>>,
}

impl MemoryBackend {
    /// An empty store. Clones share it, so a clone kept aside can read what
    /// a harness's runs committed.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Backend for MemoryBackend {
    fn begin(&self) -> anyhow::Result<Box<dyn Transaction>> {
        Ok(Box::new(MemoryTransaction {
            data: self.data.lock_arc(),
            undo: Vec::new(),
        }))
    }

    fn changes(&self) -> anyhow::Result<Vec<ChangeRecord>> {
        Ok(self.data.lock().changes.clone())
    }

    fn events(&self) -> anyhow::Result<Vec<EventRecord>> {
        Ok(self.data.lock().events.clone())
    }

    fn snapshot(&self) -> anyhow::Result<StoreSnapshot> {
        let mut snapshot = self.data.lock().clone();
        snapshot.prune();
        Ok(snapshot)
    }
}

/// How to take one write back.
enum Undo {
    Key {
        space: String,
        key: String,
        previous: Option<Vec<u8>>,
    },
    Change,
    Event,
}

/// Holds the store's lock for the whole run, writing in place and keeping
/// an undo log, so a run costs what it touches rather than a copy of the
/// store.
struct MemoryTransaction {
    data: ArcMutexGuard<RawMutex, StoreSnapshot>,
    undo: Vec<Undo>,
}

impl MemoryTransaction {
    fn undo_to(&mut self, len: usize) {
        while self.undo.len() > len {
            match self.undo.pop() {
                Some(Undo::Key {
                    space,
                    key,
                    previous,
                }) => {
                    let values = self.data.spaces.entry(space).or_default();
                    match previous {
                        Some(value) => values.insert(key, value),
                        None => values.remove(&key),
                    };
                }
                Some(Undo::Change) => {
                    self.data.changes.pop();
                }
                Some(Undo::Event) => {
                    self.data.events.pop();
                }
                None => break,
            }
        }
    }

    fn write(&mut self, space: &str, key: &str, value: Option<Vec<u8>>) -> Option<Vec<u8>> {
        let values = self.data.spaces.entry(space.to_owned()).or_default();
        let previous = match value {
            Some(value) => values.insert(key.to_owned(), value),
            None => values.remove(key),
        };
        self.undo.push(Undo::Key {
            space: space.to_owned(),
            key: key.to_owned(),
            previous: previous.clone(),
        });
        previous
    }
}

impl Drop for MemoryTransaction {
    fn drop(&mut self) {
        self.undo_to(0);
    }
}

impl Transaction for MemoryTransaction {
    fn get(&mut self, space: &str, key: &str) -> anyhow::Result<Option<Vec<u8>>> {
        Ok(self
            .data
            .spaces
            .get(space)
            .and_then(|values| values.get(key))
            .cloned())
    }

    fn set(&mut self, space: &str, key: &str, value: &[u8]) -> anyhow::Result<()> {
        self.write(space, key, Some(value.to_vec()));
        Ok(())
    }

    fn delete(&mut self, space: &str, key: &str) -> anyhow::Result<bool> {
        Ok(self.write(space, key, None).is_some())
    }

    fn scan(
        &mut self,
        space: &str,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
        let Some(values) = self.data.spaces.get(space) else {
            return Ok(Vec::new());
        };
        let start = match after {
            Some(after) if after >= prefix => after,
            _ => prefix,
        };
        Ok(values
            .range::<str, _>((std::ops::Bound::Included(start), std::ops::Bound::Unbounded))
            .filter(|(key, _)| Some(key.as_str()) != after)
            .take_while(|(key, _)| key.starts_with(prefix))
            .take(limit)
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect())
    }

    fn savepoint(&mut self) -> anyhow::Result<Savepoint> {
        Ok(Savepoint(self.undo.len()))
    }

    fn rollback_to(&mut self, savepoint: Savepoint) -> anyhow::Result<()> {
        self.undo_to(savepoint.0);
        Ok(())
    }

    fn append_change(&mut self, change: &ChangeRecord) -> anyhow::Result<()> {
        self.data.changes.push(change.clone());
        self.undo.push(Undo::Change);
        Ok(())
    }

    fn append_event(&mut self, event: &EventRecord) -> anyhow::Result<()> {
        self.data.events.push(event.clone());
        self.undo.push(Undo::Event);
        Ok(())
    }

    fn commit(mut self: Box<Self>) -> anyhow::Result<()> {
        self.undo.clear();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(backend: &MemoryBackend) -> Vec<String> {
        backend
            .snapshot()
            .unwrap()
            .spaces
            .values()
            .flat_map(|values| values.keys().cloned())
            .collect()
    }

    #[test]
    fn a_dropped_transaction_rolls_everything_back() {
        let backend = MemoryBackend::new();
        let mut txn = backend.begin().unwrap();
        txn.set("s", "a", b"1").unwrap();
        txn.commit().unwrap();
        let before = backend.snapshot().unwrap();

        let mut txn = backend.begin().unwrap();
        txn.set("s", "a", b"2").unwrap();
        txn.set("s", "b", b"3").unwrap();
        txn.delete("s", "a").unwrap();
        txn.set("other", "x", b"4").unwrap();
        drop(txn);
        assert_eq!(backend.snapshot().unwrap(), before);
    }

    #[test]
    fn rolling_back_to_a_savepoint_keeps_earlier_writes() {
        let backend = MemoryBackend::new();
        let mut txn = backend.begin().unwrap();
        txn.set("s", "kept", b"1").unwrap();
        let savepoint = txn.savepoint().unwrap();
        txn.set("s", "kept", b"changed").unwrap();
        txn.set("s", "dropped", b"2").unwrap();
        txn.rollback_to(savepoint).unwrap();
        assert_eq!(txn.get("s", "kept").unwrap(), Some(b"1".to_vec()));
        assert_eq!(txn.get("s", "dropped").unwrap(), None);
        txn.commit().unwrap();
        assert_eq!(keys(&backend), ["kept"]);
    }

    #[test]
    fn scans_are_ordered_bounded_by_prefix_and_resume_after_the_cursor() {
        let backend = MemoryBackend::new();
        let mut txn = backend.begin().unwrap();
        for key in ["a/2", "a/1", "a/3", "b/1", "a"] {
            txn.set("s", key, key.as_bytes()).unwrap();
        }
        let scan = |txn: &mut Box<dyn Transaction>, after: Option<&str>, limit| -> Vec<String> {
            txn.scan("s", "a/", after, limit)
                .unwrap()
                .into_iter()
                .map(|(key, _)| key)
                .collect()
        };
        assert_eq!(scan(&mut txn, None, 10), ["a/1", "a/2", "a/3"]);
        assert_eq!(scan(&mut txn, None, 2), ["a/1", "a/2"]);
        assert_eq!(scan(&mut txn, Some("a/2"), 10), ["a/3"]);
        assert!(scan(&mut txn, Some("a/3"), 10).is_empty());
        assert!(txn.scan("none", "", None, 10).unwrap().is_empty());
    }

    #[test]
    fn transactions_are_serialised() {
        let backend = MemoryBackend::new();
        let txn = backend.begin().unwrap();
        let other = backend.clone();
        let waiter = std::thread::spawn(move || {
            let mut txn = other.begin().unwrap();
            txn.get("s", "k").unwrap()
        });
        let mut txn = txn;
        txn.set("s", "k", b"v").unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        txn.commit().unwrap();
        assert_eq!(waiter.join().unwrap(), Some(b"v".to_vec()));
    }
}
