//! The SDK's test host set up for this plugin's unit tests. The real host
//! is exercised by the integration tests in `tests/`.

use std::cell::Cell;

use plugin_sdk::host::{Environment, Level, Log, Page, Storage, StorageError};
use plugin_sdk::testing::TestHost;
use serde_json::Value;

use crate::MaintenancePlugin;
use crate::model::Instant;

/// A host that knows the `maintenance` kind and, standing in for its state
/// schema, checks the part of a state a plugin bug could get wrong: the
/// instants, which must be stored exactly as printed.
pub fn fake_host() -> TestHost {
    TestHost::for_plugin(&MaintenancePlugin).with_state_check(|_, state| instants_problems(state))
}

/// [`fake_host`] that also takes storage writes outside a mutation, for
/// the service's tests, which sit below the entity protocol.
pub fn storage_host() -> TestHost {
    fake_host().with_writes_outside_mutations()
}

fn instants_problems(state: &Value) -> Vec<String> {
    ["startAt", "endAt"]
        .into_iter()
        .filter(|field| {
            let text = state[*field].as_str().unwrap_or_default();
            Instant::parse(text).map(|i| i.to_string()).as_deref() != Some(text)
        })
        .map(|field| format!("/{field}: {}", state[field]))
        .collect()
}

/// A [`TestHost`] seen through a host that counts the windows read, and
/// can hand out ids that sort backwards, as random UUIDs may: for tests of
/// what the service reads, and of the order it keeps entries in.
pub struct Instrumented<'a> {
    host: &'a TestHost,
    window_reads: Cell<usize>,
    backward_ids: Option<Cell<u32>>,
}

impl<'a> Instrumented<'a> {
    pub fn new(host: &'a TestHost) -> Self {
        Self {
            host,
            window_reads: Cell::new(0),
            backward_ids: None,
        }
    }

    /// Ids from `id-0999` down.
    pub fn with_backward_ids(host: &'a TestHost) -> Self {
        Self {
            backward_ids: Some(Cell::new(1000)),
            ..Self::new(host)
        }
    }

    /// How many `window/` records were read so far.
    pub fn window_reads(&self) -> usize {
        self.window_reads.get()
    }
}

impl Storage for Instrumented<'_> {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
        if key.starts_with("window/") {
            self.window_reads.set(self.window_reads.get() + 1);
        }
        self.host.get(key)
    }

    fn set(&self, key: &str, value: &[u8]) -> Result<(), StorageError> {
        self.host.set(key, value)
    }

    fn delete(&self, key: &str) -> Result<bool, StorageError> {
        self.host.delete(key)
    }

    fn scan(&self, prefix: &str, limit: u32, cursor: Option<&str>) -> Result<Page, StorageError> {
        self.host.scan(prefix, limit, cursor)
    }
}

impl Log for Instrumented<'_> {
    fn log(&self, level: Level, message: &str) {
        self.host.log(level, message);
    }
}

impl Environment for Instrumented<'_> {
    fn now(&self) -> Instant {
        self.host.now()
    }

    fn new_id(&self) -> String {
        match &self.backward_ids {
            Some(next) => {
                next.set(next.get() - 1);
                format!("id-{:04}", next.get())
            }
            None => self.host.new_id(),
        }
    }
}
