//! A wasmtime host for Checkstack automation plugins.
//!
//! It loads a plugin component, gives it host storage, time, randomness
//! and the entity engine, and nothing else; runs its actions atomically;
//! and reports everything a run did. It is also the harness plugin authors
//! test with: fix the clock and the randomness, run actions, and look at
//! the changes, events and logs that come back.
//!
//! ```no_run
//! use automation_harness::{Harness, RunRequest};
//! use serde_json::json;
//!
//! let harness = Harness::builder().load("maintenance_plugin.wasm".as_ref())?;
//! let outcome = harness.run(RunRequest::new(
//!     "set_system",
//!     json!({"systemId": "db-1", "durationMinutes": 30}),
//! ))?;
//! assert_eq!(outcome.events[0].trigger, "maintenance.created");
//! # anyhow::Ok(())
//! ```

pub mod backend;
mod bindings;
pub mod cache;
pub mod clock;
mod entity;
mod instance;
pub mod limits;
mod log;
pub mod masking;
pub mod native;
mod plugin;
pub mod records;
mod run;
pub mod scenario;
mod scheduler;
pub mod schema;
mod state;
mod storage;

use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Utc};

pub use backend::{Backend, MemoryBackend, SqliteBackend, StoreSnapshot};
pub use clock::{Clock, FixedClock, Randomness, SystemClock};
pub use entity::changed_fields;
pub use instance::{InstanceMode, PluginInstance};
pub use plugin::{
    ActionInfo, ArtifactTypeInfo, Catalog, EntityKindInfo, JobInfo, Plugin, TriggerInfo,
};
pub use records::{Actor, ActorType, ChangeRecord, EventRecord, LogLevel, LogLine, Problem};
pub use run::{ActionFailure, ActionSuccess, RunOutcome, RunRequest, UnknownAction};

/// A loaded plugin bound to a store, a clock and a source of randomness.
pub struct Harness {
    plugin: Plugin,
    backend: Arc<dyn Backend>,
    clock: Arc<dyn Clock>,
    /// The same clock when it is one the harness may move.
    fixed_clock: Option<Arc<FixedClock>>,
    randomness: Arc<Randomness>,
    limits: Limits,
    instance_mode: InstanceMode,
    /// The instance kept between runs in [`InstanceMode::Reuse`].
    kept_instance: parking_lot::Mutex<Option<instance::WasmGuest>>,
}

/// Configures a [`Harness`]: by default an in-memory store, the real clock
/// and randomness from the operating system.
pub struct HarnessBuilder {
    backend: Arc<dyn Backend>,
    clock: Arc<dyn Clock>,
    fixed_clock: Option<Arc<FixedClock>>,
    randomness: Randomness,
    engine: Option<wasmtime::Engine>,
    limits: Limits,
    instance_mode: InstanceMode,
}

impl Default for HarnessBuilder {
    fn default() -> Self {
        Self {
            backend: Arc::new(MemoryBackend::new()),
            clock: Arc::new(SystemClock),
            fixed_clock: None,
            randomness: Randomness::from_os(),
            engine: None,
            limits: Limits::default(),
            instance_mode: InstanceMode::default(),
        }
    }
}

impl HarnessBuilder {
    pub fn backend(mut self, backend: Arc<dyn Backend>) -> Self {
        self.backend = backend;
        self
    }

    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self.fixed_clock = None;
        self
    }

    /// Stops the clock at `now`; [`Harness::advance`] moves it.
    pub fn fixed_clock(mut self, now: DateTime<Utc>) -> Self {
        let clock = Arc::new(FixedClock::new(now));
        self.clock = clock.clone();
        self.fixed_clock = Some(clock);
        self
    }

    /// Makes every random id repeatable.
    pub fn seed(mut self, seed: u64) -> Self {
        self.randomness = Randomness::seeded(seed);
        self
    }

    /// What one run may consume. Fuel needs an engine made by
    /// [`limits::engine`] with fuel on.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Whether runs get a fresh instance (the default) or share one; see
    /// [`InstanceMode`].
    pub fn instance_mode(mut self, mode: InstanceMode) -> Self {
        self.instance_mode = mode;
        self
    }

    /// Shares a wasmtime engine, and so its compiled code, between
    /// harnesses.
    pub fn engine(mut self, engine: wasmtime::Engine) -> Self {
        self.engine = Some(engine);
        self
    }

    /// Loads the component at `path`.
    pub fn load(self, path: &Path) -> anyhow::Result<Harness> {
        let engine = match self.engine.clone() {
            Some(engine) => engine,
            None => default_engine()?,
        };
        let plugin = Plugin::load(&engine, path)?;
        Ok(self.with_plugin(plugin))
    }

    /// Uses an already loaded plugin.
    pub fn with_plugin(self, plugin: Plugin) -> Harness {
        Harness {
            plugin,
            backend: self.backend,
            clock: self.clock,
            fixed_clock: self.fixed_clock,
            randomness: Arc::new(self.randomness),
            limits: self.limits,
            instance_mode: self.instance_mode,
            kept_instance: parking_lot::Mutex::new(None),
        }
    }
}

pub use limits::{EngineOptions, Limits, default_engine};
/// The wasmtime this host is built with, whose `Engine` the builder takes.
pub use wasmtime;

impl Harness {
    pub fn builder() -> HarnessBuilder {
        HarnessBuilder::default()
    }

    /// The plugin's checked catalog.
    pub fn catalog(&self) -> &Catalog {
        self.plugin.catalog()
    }

    pub fn backend(&self) -> &Arc<dyn Backend> {
        &self.backend
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }
}
