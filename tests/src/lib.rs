//! Shared set-up for the integration tests: the real components, built
//! from `plugin/` and `plugins/notifications/` by this crate's build
//! script, each loaded once per test binary.

pub mod native;
pub mod node_host;
pub mod postgres_schema;

use std::path::Path;
use std::sync::{Arc, OnceLock};

use automation_harness::{Backend, Harness, MemoryBackend, Plugin, SqliteBackend, StoreSnapshot};
use chrono::{DateTime, Utc};

/// The component this workspace builds.
pub const PLUGIN_WASM: &str = env!("MAINTENANCE_PLUGIN_WASM");

/// Where the tests' clock stands.
pub const NOW: &str = "2026-03-01T10:00:00.000Z";

pub fn now() -> DateTime<Utc> {
    NOW.parse().expect("NOW is a valid instant")
}

/// The notifications component this workspace builds.
pub const NOTIFICATIONS_PLUGIN_WASM: &str = env!("NOTIFICATIONS_PLUGIN_WASM");

/// The probe test plugin this workspace builds (`tests/probe-plugin`).
pub const PROBE_PLUGIN_WASM: &str = env!("PROBE_PLUGIN_WASM");

/// The probe test plugin, loaded once per test binary.
pub fn probe_plugin() -> Plugin {
    static PLUGIN: OnceLock<Plugin> = OnceLock::new();
    PLUGIN
        .get_or_init(|| load(&engine(), Path::new(PROBE_PLUGIN_WASM)))
        .clone()
}

/// The engine both plugins are loaded for, made once per test binary.
fn engine() -> automation_harness::wasmtime::Engine {
    static ENGINE: OnceLock<automation_harness::wasmtime::Engine> = OnceLock::new();
    ENGINE
        .get_or_init(|| automation_harness::default_engine().expect("an engine"))
        .clone()
}

/// The plugin, loaded once per test binary.
pub fn plugin() -> Plugin {
    static PLUGIN: OnceLock<Plugin> = OnceLock::new();
    PLUGIN
        .get_or_init(|| load(&engine(), Path::new(PLUGIN_WASM)))
        .clone()
}

/// The notifications plugin, loaded once per test binary.
pub fn notifications_plugin() -> Plugin {
    static PLUGIN: OnceLock<Plugin> = OnceLock::new();
    PLUGIN
        .get_or_init(|| load(&engine(), Path::new(NOTIFICATIONS_PLUGIN_WASM)))
        .clone()
}

/// Loads the component at `path` for `engine`, compiled at most once per
/// test run: the test binaries share compiled components through the
/// harness's on-disk cache, next to the built components in the target
/// directory (entries are keyed by the component and the engine's
/// settings, so engines with fuel get their own).
pub fn load(engine: &automation_harness::wasmtime::Engine, path: &Path) -> Plugin {
    let dir = Path::new(PLUGIN_WASM)
        .parent()
        .expect("the components directory")
        .join("compiled");
    let cache = automation_harness::cache::ComponentCache::new(dir);
    Plugin::load_cached(engine, path, &cache)
        .unwrap_or_else(|error| panic!("{} loads: {error:#}", path.display()))
        .0
}

/// A harness over `backend` with the clock fixed at [`NOW`] and seeded
/// randomness.
pub fn harness_on(backend: Arc<dyn Backend>) -> Harness {
    Harness::builder()
        .backend(backend)
        .fixed_clock(now())
        .seed(7)
        .with_plugin(plugin())
}

/// A harness over a fresh in-memory store.
pub fn harness() -> Harness {
    harness_on(Arc::new(MemoryBackend::new()))
}

/// Everything the harness's store holds.
pub fn snapshot(harness: &Harness) -> StoreSnapshot {
    harness.backend().snapshot().expect("the store can be read")
}

use automation_harness::{RunOutcome, RunRequest};
use serde_json::Value;

/// Runs `action` with `config` and returns the outcome, which must have
/// succeeded.
pub fn run_ok(harness: &Harness, action: &str, config: Value) -> RunOutcome {
    let outcome = harness
        .run(RunRequest::new(action, config))
        .unwrap_or_else(|error| panic!("{action} errored: {error:#}"));
    if let Err(failure) = &outcome.result {
        panic!("{action} failed: {}", failure.message());
    }
    outcome
}

/// The external id a successful outcome reported.
pub fn external_id(outcome: &RunOutcome) -> String {
    outcome
        .result
        .as_ref()
        .ok()
        .and_then(|success| success.external_id.clone())
        .expect("the outcome has an external id")
}

/// The artifact a successful outcome returned.
pub fn artifact(outcome: &RunOutcome) -> Value {
    outcome
        .result
        .as_ref()
        .ok()
        .and_then(|success| success.artifact.clone())
        .expect("the outcome has an artifact")
}

/// The messages of an outcome's log lines.
pub fn log_messages(outcome: &RunOutcome) -> Vec<String> {
    outcome
        .logs
        .iter()
        .map(|line| line.message.clone())
        .collect()
}

/// A window from 10:00 to 12:00 on the tests' day for `systems`.
pub fn create_config(systems: &[&str]) -> Value {
    serde_json::json!({
        "title": "Database upgrade",
        "description": "Minor version bump",
        "systemIds": systems,
        "startAt": "2026-03-01T10:00:00Z",
        "endAt": "2026-03-01T12:00:00Z",
    })
}

/// A store for one test: in memory, a SQLite file in a temporary
/// directory, or a schema of its own in the PostgreSQL database the tests
/// are given; the directory or the schema lives as long as the store.
pub struct TestStore {
    pub backend: Arc<dyn Backend>,
    _dir: Option<tempfile::TempDir>,
    _schema: Option<postgres_schema::Schema>,
}

impl TestStore {
    pub fn memory() -> Self {
        Self {
            backend: Arc::new(MemoryBackend::new()),
            _dir: None,
            _schema: None,
        }
    }

    /// A fresh schema in the test database (see [`postgres_schema::url`]),
    /// or `None` when the tests were given none outside CI.
    pub fn postgres() -> Option<Self> {
        let schema = postgres_schema::Schema::create()?;
        let backend = automation_harness::PostgresBackend::open(&schema.url)
            .unwrap_or_else(|error| panic!("PostgreSQL opens: {error:#}"));
        Some(Self {
            backend: Arc::new(backend),
            _dir: None,
            _schema: Some(schema),
        })
    }

    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let backend = SqliteBackend::open(&dir.path().join("store.sqlite3")).expect("SQLite opens");
        Self {
            backend: Arc::new(backend),
            _dir: Some(dir),
            _schema: None,
        }
    }

    /// A harness over this store, clock fixed at [`NOW`], seeded.
    pub fn harness(&self) -> Harness {
        harness_on(Arc::clone(&self.backend))
    }

    /// A harness of the notifications plugin over this store, clock fixed
    /// at [`NOW`], seeded. Its seed is not [`Self::harness`]'s: two
    /// harnesses with one seed draw the same run, change and entity ids,
    /// which collide when they share a store.
    pub fn notifications_harness(&self) -> Harness {
        Harness::builder()
            .backend(Arc::clone(&self.backend))
            .fixed_clock(now())
            .seed(11)
            .with_plugin(notifications_plugin())
    }
}

impl TestStore {
    /// The maintenance, notifications and probe plugins side by side over
    /// this store, clock fixed at [`NOW`], seeded, running `automations`
    /// (the `automations` array of an automations file).
    pub fn automation_host(&self, automations: Value) -> automation_harness::PluginHost {
        automation_host_on(Arc::clone(&self.backend), automations, 7)
    }
}

/// [`TestStore::automation_host`] over any store, with its own seed: two
/// hosts sharing a store need different seeds, or they draw the same ids.
pub fn automation_host_on(
    backend: Arc<dyn Backend>,
    automations: Value,
    seed: u64,
) -> automation_harness::PluginHost {
    let host = Harness::builder()
        .backend(backend)
        .fixed_clock(now())
        .seed(seed)
        .with_plugins(vec![plugin(), notifications_plugin(), probe_plugin()])
        .expect("the plugins load side by side");
    let document = serde_json::json!({ "automations": automations });
    let checked =
        automation_harness::Automations::from_document("test", &document, &host.catalogs())
            .unwrap_or_else(|error| panic!("the automations load: {error}"));
    host.with_automations(checked)
}

/// Turns test functions taking a [`TestStore`] into one test per backend,
/// so the in-memory, the SQLite and the PostgreSQL store pass the same
/// suite.
#[macro_export]
macro_rules! on_every_backend {
    ($($test:ident),* $(,)?) => {
        mod memory {
            $( #[test] fn $test() { super::$test($crate::TestStore::memory()) } )*
        }
        mod sqlite {
            $( #[test] fn $test() { super::$test($crate::TestStore::sqlite()) } )*
        }
        mod postgres {
            $( #[test] fn $test() {
                if let Some(store) = $crate::TestStore::postgres() {
                    super::$test(store)
                }
            } )*
        }
    };
}

/// Checks a store's change and event logs as the maintenance plugin leaves
/// them: change ids are unique; exactly one event per change, in the same
/// order, each naming its change; and, for every entity, each change's
/// `prev` is the `next` of the entity's previous change (absent for the
/// first), so no write saw a stale state and none went unrecorded.
pub fn check_logs(
    changes: &[automation_harness::ChangeRecord],
    events: &[automation_harness::EventRecord],
) -> Result<(), String> {
    use std::collections::{HashMap, HashSet};

    let mut ids = HashSet::new();
    for change in changes {
        if !ids.insert(change.change_id.as_str()) {
            return Err(format!("change id {} recorded twice", change.change_id));
        }
    }
    if events.len() != changes.len() {
        return Err(format!(
            "{} events for {} changes",
            events.len(),
            changes.len()
        ));
    }
    for (index, (change, event)) in changes.iter().zip(events).enumerate() {
        if event.change_id != change.change_id {
            return Err(format!(
                "event {index} names change {}, but change {index} is {}",
                event.change_id, change.change_id
            ));
        }
    }
    let mut last: HashMap<(&str, &str, &str), Option<&Value>> = HashMap::new();
    for (index, change) in changes.iter().enumerate() {
        let entity = (
            change.plugin_id.as_str(),
            change.kind.as_str(),
            change.entity_id.as_str(),
        );
        let expected = last.get(&entity).copied().flatten();
        if change.prev.as_ref() != expected {
            return Err(format!(
                "change {index} ({}) of {}/{}: prev {} but the previous change left {}",
                change.change_id,
                change.kind,
                change.entity_id,
                serde_json::to_string(&change.prev).unwrap_or_default(),
                serde_json::to_string(&expected).unwrap_or_default(),
            ));
        }
        last.insert(entity, change.next.as_ref());
    }
    Ok(())
}
