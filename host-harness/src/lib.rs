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

#![deny(missing_docs)]

// Layers, each using only the ones above it (checked by
// `tests/layers.rs`): core records, clock, schema, limits and masking;
// backends; the catalog; the entity engine; the run pipeline; the wasm
// adapter, native guests and automations; the harness, plugin host,
// dispatcher, scheduler and scenarios.
pub mod clock;
pub mod limits;
pub mod masking;
pub mod records;
pub mod schema;
pub mod template;

pub mod backend;

pub mod catalog;

pub mod engine;

pub mod run;

pub mod automation;

pub mod native;
pub mod wasm;

mod dispatcher;
mod harness;
mod plugin_host;
pub mod scenario;
mod scheduler;

pub use automation::{
    AutomationDefinition, AutomationError, AutomationRun, AutomationRunStatus, Automations,
    AutomationsError, StepRecord,
};
pub use backend::{Backend, MemoryBackend, PostgresBackend, SqliteBackend, StoreSnapshot};
pub use catalog::{
    ActionInfo, ArtifactTypeInfo, Catalog, EntityKindInfo, JobInfo, QueryInfo, TriggerInfo,
};
pub use clock::{Clock, FixedClock, Randomness, SystemClock};
pub use engine::changed_fields;
pub use harness::{Harness, HarnessBuilder};
pub use limits::Limits;
pub use plugin_host::PluginHost;
pub use records::{Actor, ActorType, ChangeRecord, EventRecord, LogLevel, LogLine, Problem};
pub use run::{
    ActionFailure, ActionSuccess, AutomationContext, QueryFailure, QueryOutcome, QueryRequest,
    RunOutcome, RunRequest, TriggerScope, UnknownAction, UnknownQuery,
};
pub use wasm::{EngineOptions, InstanceMode, Plugin, PluginInstance, cache, default_engine};
/// The wasmtime this host is built with, whose `Engine` the builder takes.
pub use wasmtime;
