//! The plugin's ordered key-value store, served from the current run's
//! transaction in the plugin's own key space.

use super::{Phase, RunState, Session, StorageError};
use crate::limits::{MAX_SCAN_LIMIT, MAX_VALUE_BYTES};

/// One stored entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The entry's key.
    pub key: String,
    /// The entry's value, as the plugin stored it.
    pub value: Vec<u8>,
}

/// One page of an ordered scan.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Page {
    /// The entries, in ascending key order.
    pub entries: Vec<Entry>,
    /// Where the next page starts; absent at the end of the prefix.
    pub next_cursor: Option<String>,
}

fn check_key(key: &str) -> Result<(), StorageError> {
    contract_rules::key_problem(key)
        .map_or(Ok(()), |problem| Err(StorageError::InvalidKey(problem)))
}

impl Session {
    /// Like [`Self::storage`], for a write: every write belongs to an open
    /// entity mutation, so each one is accounted for by a change (or by an
    /// abandoned mutation's rollback).
    fn storage_for_write(&mut self) -> Result<(&mut RunState, String), StorageError> {
        let (run, space) = self.storage()?;
        if run.open_mutation.is_none() {
            return Err(StorageError::NotPermitted(
                "writes need an open entity mutation".into(),
            ));
        }
        Ok((run, space))
    }

    /// The run's transaction and the plugin's key space, or the reason
    /// storage cannot be used right now.
    fn storage(&mut self) -> Result<(&mut RunState, String), StorageError> {
        let space = self.plugin_space();
        match self.run.as_mut() {
            Some(run) if matches!(run.phase, Phase::Action | Phase::Query) => Ok((run, space)),
            Some(_) => Err(StorageError::NotPermitted(
                "storage is not available to the deriver, which must be pure".into(),
            )),
            None => Err(StorageError::NotPermitted(
                "storage is only available during a run".into(),
            )),
        }
    }

    pub(crate) fn storage_get(&mut self, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
        check_key(key)?;
        let (run, space) = self.storage()?;
        run.txn.get(&space, key).map_err(unavailable)
    }

    /// A query may not write, whatever it writes: refused before anything
    /// else is checked.
    fn refuse_in_query(&self) -> Result<(), StorageError> {
        match &self.run {
            Some(run) if run.phase == Phase::Query => {
                Err(StorageError::NotPermitted(contract_rules::READ_ONLY.into()))
            }
            _ => Ok(()),
        }
    }

    pub(crate) fn storage_set(&mut self, key: &str, value: &[u8]) -> Result<(), StorageError> {
        self.refuse_in_query()?;
        check_key(key)?;
        if value.len() > MAX_VALUE_BYTES {
            return Err(StorageError::ValueTooLarge(MAX_VALUE_BYTES as u64));
        }
        let (run, space) = self.storage_for_write()?;
        run.txn.set(&space, key, value).map_err(unavailable)
    }

    pub(crate) fn storage_delete(&mut self, key: &str) -> Result<bool, StorageError> {
        self.refuse_in_query()?;
        check_key(key)?;
        let (run, space) = self.storage_for_write()?;
        run.txn.delete(&space, key).map_err(unavailable)
    }

    pub(crate) fn storage_scan(
        &mut self,
        prefix: &str,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<Page, StorageError> {
        let limit = limit.clamp(1, MAX_SCAN_LIMIT) as usize;
        let (run, space) = self.storage()?;
        // One entry more than asked says whether another page exists.
        let mut entries = run
            .txn
            .scan(&space, prefix, cursor, limit + 1)
            .map_err(unavailable)?;
        let more = entries.len() > limit;
        entries.truncate(limit);
        let next_cursor = if more {
            entries.last().map(|(key, _)| key.clone())
        } else {
            None
        };
        Ok(Page {
            entries: entries
                .into_iter()
                .map(|(key, value)| Entry { key, value })
                .collect(),
            next_cursor,
        })
    }
}

/// A backend failure is reported to the plugin, not trapped: the run then
/// fails as a whole and is rolled back.
fn unavailable(error: anyhow::Error) -> StorageError {
    StorageError::Unavailable(format!("{error:#}"))
}
