//! A native stand-in for the WIT host, for the domain's unit tests. The
//! real host is exercised by the integration tests in `tests/`.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;

use serde_json::Value;

use crate::host::{
    EntityError, EntityHandle, Environment, Log, MAX_KEY_BYTES, Mutation, MutationOptions, Page,
    Storage, StorageError,
};
use crate::model::Instant;

#[derive(Clone, Debug, PartialEq)]
pub struct RecordedChange {
    pub id: String,
    pub prev: Option<Value>,
    pub next: Option<Value>,
    pub options: MutationOptions,
}

/// Where the fake clock starts.
pub const FAKE_NOW: &str = "2026-03-01T10:00:00Z";

pub struct FakeHost {
    data: RefCell<BTreeMap<String, Vec<u8>>>,
    states: RefCell<BTreeMap<String, Value>>,
    pub changes: RefCell<Vec<RecordedChange>>,
    pub logs: RefCell<Vec<String>>,
    now_millis: Cell<i64>,
    next_id: Cell<u32>,
}

impl Default for FakeHost {
    fn default() -> Self {
        Self {
            data: RefCell::default(),
            states: RefCell::default(),
            changes: RefCell::default(),
            logs: RefCell::default(),
            now_millis: Cell::new(Instant::parse(FAKE_NOW).expect("valid").millis()),
            next_id: Cell::new(1),
        }
    }
}

impl FakeHost {
    pub fn keys(&self) -> Vec<String> {
        self.data.borrow().keys().cloned().collect()
    }

    /// Sets the clock to `instant` (RFC 3339).
    pub fn set_now(&self, instant: &str) {
        self.now_millis
            .set(Instant::parse(instant).expect("a valid instant").millis());
    }

    pub fn advance_minutes(&self, minutes: i64) {
        self.now_millis
            .set(self.now_millis.get() + minutes * 60_000);
    }
}

/// The key rule the real host applies.
fn check_key(key: &str) -> Result<(), StorageError> {
    if key.is_empty() || key.len() > MAX_KEY_BYTES {
        return Err(StorageError::InvalidKey(format!(
            "keys are 1 to {MAX_KEY_BYTES} bytes, this one has {}",
            key.len()
        )));
    }
    Ok(())
}

impl Storage for FakeHost {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
        check_key(key)?;
        Ok(self.data.borrow().get(key).cloned())
    }

    fn set(&self, key: &str, value: &[u8]) -> Result<(), StorageError> {
        check_key(key)?;
        self.data
            .borrow_mut()
            .insert(key.to_owned(), value.to_vec());
        Ok(())
    }

    fn delete(&self, key: &str) -> Result<bool, StorageError> {
        check_key(key)?;
        Ok(self.data.borrow_mut().remove(key).is_some())
    }

    fn scan(&self, prefix: &str, limit: u32, cursor: Option<&str>) -> Result<Page, StorageError> {
        if prefix.len() > MAX_KEY_BYTES {
            return Err(StorageError::InvalidKey("the prefix is too long".into()));
        }
        let data = self.data.borrow();
        let entries: Vec<(String, Vec<u8>)> = data
            .range(cursor.unwrap_or(prefix).to_owned()..)
            .filter(|(key, _)| Some(key.as_str()) != cursor)
            .take_while(|(key, _)| key.starts_with(prefix))
            .take(limit as usize + 1)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let mut entries = entries;
        let next_cursor = if entries.len() > limit as usize {
            entries.truncate(limit as usize);
            entries.last().map(|(key, _)| key.clone())
        } else {
            None
        };
        Ok(Page {
            entries,
            next_cursor,
        })
    }
}

pub struct FakeMutation<'a> {
    host: &'a FakeHost,
    id: String,
    options: MutationOptions,
    snapshot: BTreeMap<String, Vec<u8>>,
}

impl Mutation for FakeMutation<'_> {
    fn prev(&self) -> Option<Value> {
        self.host.states.borrow().get(&self.id).cloned()
    }

    fn commit(self, next: Option<Value>) -> Result<bool, EntityError> {
        // The host checks states against the entity's schema; the instants
        // are the part a plugin bug could get wrong.
        if let Some(state) = &next {
            let broken: Vec<String> = ["startAt", "endAt"]
                .into_iter()
                .filter(|field| {
                    let text = state[*field].as_str().unwrap_or_default();
                    Instant::parse(text).map(|i| i.to_string()).as_deref() != Some(text)
                })
                .map(|field| format!("/{field}: {}", state[field]))
                .collect();
            if !broken.is_empty() {
                return Err(EntityError::InvalidState(broken));
            }
        }
        let prev = self.prev();
        if prev == next {
            return Ok(false);
        }
        match &next {
            Some(state) => self
                .host
                .states
                .borrow_mut()
                .insert(self.id.clone(), state.clone()),
            None => self.host.states.borrow_mut().remove(&self.id),
        };
        self.host.changes.borrow_mut().push(RecordedChange {
            id: self.id,
            prev,
            next,
            options: self.options,
        });
        Ok(true)
    }

    fn abandon(self) -> Result<(), EntityError> {
        *self.host.data.borrow_mut() = self.snapshot;
        Ok(())
    }
}

impl EntityHandle for FakeHost {
    type Mutation<'a> = FakeMutation<'a>;

    fn open(
        &self,
        kind: &str,
        id: &str,
        options: &MutationOptions,
    ) -> Result<FakeMutation<'_>, EntityError> {
        if kind != crate::entity::ENTITY_KIND {
            return Err(EntityError::UnknownKind(kind.to_owned()));
        }
        Ok(FakeMutation {
            host: self,
            id: id.to_owned(),
            options: options.clone(),
            snapshot: self.data.borrow().clone(),
        })
    }
}

impl Log for FakeHost {
    fn info(&self, message: &str) {
        self.logs.borrow_mut().push(message.to_owned());
    }
}

impl Environment for FakeHost {
    fn now(&self) -> Instant {
        Instant::from_millis(self.now_millis.get()).expect("the fake clock stays in range")
    }

    fn new_id(&self) -> String {
        let n = self.next_id.get();
        self.next_id.set(n + 1);
        format!("00000000-0000-4000-8000-{n:012}")
    }
}
