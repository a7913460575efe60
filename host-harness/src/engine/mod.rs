//! The entity engine: the host side of a run, in plain Rust.
//!
//! A `Session` serves the plugin's storage ([`storage`]), the entity
//! write protocol ([`entity`]) and the run log ([`log`]) from the run's
//! transaction. Every way of running a plugin's code calls it: the wasm
//! adapter maps each contract version's imports onto it, and a native
//! plugin calls it directly. It reports failures as its own error types,
//! which each adapter maps to what its guest understands.

pub mod entity;
pub mod log;
pub mod storage;

use std::fmt;
use std::sync::Arc;

use crate::backend::Transaction;
use crate::catalog::Catalog;
use crate::clock::{Clock, Randomness};
use crate::records::{ChangeRecord, LogLine, Problem};

pub use entity::{ChangeReceipt, MutationState, changed_fields};
pub use storage::{Entry, Page};

/// What the guest is doing, which decides what the engine lets it do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Running an action or a job: storage and entity writes are allowed.
    Action,
    /// Deriving events from recorded changes: the deriver must be a pure
    /// function of the change, so storage and the entity engine refuse.
    Derive,
    /// Answering a read-only query: storage reads only, no writes of
    /// storage or entities.
    Query,
}

/// The state of the run a session is serving.
pub(crate) struct RunState {
    pub txn: Box<dyn Transaction>,
    pub run_id: String,
    pub phase: Phase,
    pub clock: Arc<dyn Clock>,
    pub randomness: Arc<Randomness>,
    /// `kind/id` of the mutation that is open, if one is.
    pub open_mutation: Option<String>,
    /// `kind/id` of a mutation the plugin dropped without ending it: a
    /// broken protocol, which fails the run.
    pub dropped_mutation: Option<String>,
    /// The changes recorded so far, unmasked.
    pub changes: Vec<ChangeRecord>,
    pub logs: Vec<LogLine>,
    pub log_bytes: usize,
}

impl RunState {
    /// A run in `phase` over `txn` that has done nothing yet.
    pub(crate) fn new(
        txn: Box<dyn Transaction>,
        run_id: String,
        phase: Phase,
        clock: Arc<dyn Clock>,
        randomness: Arc<Randomness>,
    ) -> Self {
        Self {
            txn,
            run_id,
            phase,
            clock,
            randomness,
            open_mutation: None,
            dropped_mutation: None,
            changes: Vec::new(),
            logs: Vec::new(),
            log_bytes: 0,
        }
    }
}

/// The host side of a plugin's runs: its catalog and the run it is
/// serving, if any.
pub(crate) struct Session {
    pub catalog: Arc<Catalog>,
    pub run: Option<RunState>,
}

impl Session {
    pub fn new(catalog: Arc<Catalog>) -> Self {
        Self { catalog, run: None }
    }

    /// The key space of the plugin's own keys.
    pub fn plugin_space(&self) -> String {
        format!("plugin/{}", self.catalog.id)
    }

    /// The key space of the entity engine's current states.
    pub fn entity_space(&self) -> String {
        format!("entity/{}", self.catalog.id)
    }
}

/// Why a storage call failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StorageError {
    /// The key is empty or too long; carries the reason.
    InvalidKey(String),
    /// The value is larger than [`crate::limits::MAX_VALUE_BYTES`];
    /// carries the limit.
    ValueTooLarge(u64),
    /// The backing store failed; carries its description.
    Unavailable(String),
    /// The call is not allowed where it was made; carries the reason.
    NotPermitted(String),
}

/// Why an entity call failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EntityError {
    /// The plugin did not declare this entity kind.
    UnknownKind(String),
    /// The entity id is empty or too long; carries the reason.
    InvalidId(String),
    /// The mutation options are not acceptable; carries the reason.
    InvalidOptions(String),
    /// The state breaks the kind's schema.
    InvalidState(Vec<Problem>),
    /// Another mutation is still open; carries its `kind/id`.
    AlreadyOpen(String),
    /// The mutation already ended.
    Finished,
    /// The backing store failed; carries its description.
    Unavailable(String),
    /// The call is not allowed where it was made; carries the reason.
    NotPermitted(String),
}

impl fmt::Display for StorageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StorageError::InvalidKey(reason) => write!(f, "invalid key: {reason}"),
            StorageError::ValueTooLarge(limit) => {
                write!(f, "value larger than the limit of {limit} bytes")
            }
            StorageError::Unavailable(reason) => write!(f, "storage unavailable: {reason}"),
            StorageError::NotPermitted(reason) => write!(f, "not permitted: {reason}"),
        }
    }
}

impl fmt::Display for EntityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EntityError::UnknownKind(kind) => write!(f, "unknown entity kind {kind}"),
            EntityError::InvalidId(reason) => write!(f, "invalid entity id: {reason}"),
            EntityError::InvalidOptions(reason) => write!(f, "invalid mutation options: {reason}"),
            EntityError::InvalidState(problems) => {
                let problems: Vec<String> = problems
                    .iter()
                    .map(|p| format!("{} {}", p.path, p.message))
                    .collect();
                write!(f, "invalid state: {}", problems.join("; "))
            }
            EntityError::AlreadyOpen(open) => write!(f, "the mutation of {open} is still open"),
            EntityError::Finished => f.write_str("the mutation already ended"),
            EntityError::Unavailable(reason) => write!(f, "entity engine unavailable: {reason}"),
            EntityError::NotPermitted(reason) => write!(f, "not permitted: {reason}"),
        }
    }
}

impl std::error::Error for StorageError {}
impl std::error::Error for EntityError {}
