//! What a plugin needs from the host that runs it, as plain Rust traits.
//!
//! In the component these are the WIT imports (`storage`, `entity`, `log`)
//! plus WASI clocks and random; natively they can be anything: the SDK's
//! [`crate::testing::TestHost`], or an adapter over another host. Plugin
//! code written against [`Host`] runs unchanged in both.

use std::fmt;

use serde_json::Value;

use crate::time::Instant;

/// Why a storage call failed, as `interface storage` reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StorageError {
    /// The key is empty or longer than the host allows; carries the reason.
    InvalidKey(String),
    /// The value is larger than the host allows; carries the limit in bytes.
    ValueTooLarge(u64),
    /// The backing store failed; the same call may succeed in a later run.
    Unavailable(String),
    /// The contract does not allow the call where it was made, such as a
    /// write with no entity mutation open. Retrying cannot succeed.
    NotPermitted(String),
}

impl fmt::Display for StorageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StorageError::InvalidKey(reason) => write!(f, "invalid storage key: {reason}"),
            StorageError::ValueTooLarge(limit) => {
                write!(
                    f,
                    "storage value larger than the host's limit of {limit} bytes"
                )
            }
            StorageError::Unavailable(reason) => write!(f, "storage unavailable: {reason}"),
            StorageError::NotPermitted(reason) => write!(f, "storage call not permitted: {reason}"),
        }
    }
}

impl std::error::Error for StorageError {}

/// The harness's limits (the WIT contract leaves them to the host): the
/// longest storage key (longer fails with [`StorageError::InvalidKey`]),
/// the largest value ([`StorageError::ValueTooLarge`]) and the longest
/// entity id, in bytes; the same constants the harness enforces.
pub use contract_rules::{MAX_ENTITY_ID_BYTES, MAX_KEY_BYTES, MAX_VALUE_BYTES};

/// One page of an ordered prefix scan.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Page {
    /// The entries of this page, in ascending key order.
    pub entries: Vec<(String, Vec<u8>)>,
    /// Where the next page starts; absent at the end of the prefix.
    pub next_cursor: Option<String>,
}

/// The plugin's own ordered key-value store (`interface storage`). Keys
/// order by their UTF-8 bytes; writes are only accepted while an entity
/// mutation is open. [`crate::storage::StorageExt`] adds typed access and
/// a scan that hides pages.
pub trait Storage {
    /// The value at `key`, absent when there is none.
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError>;
    /// Stores `value` at `key`, replacing any value there.
    fn set(&self, key: &str, value: &[u8]) -> Result<(), StorageError>;
    /// Removes the value at `key`; true when there was one.
    fn delete(&self, key: &str) -> Result<bool, StorageError>;
    /// At most `limit` entries whose keys start with `prefix`, in key
    /// order, after the position `cursor` marks (from the start when
    /// absent).
    fn scan(&self, prefix: &str, limit: u32, cursor: Option<&str>) -> Result<Page, StorageError>;
}

/// The principal a write is attributed to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Actor {
    /// What kind of principal this is.
    pub kind: ActorType,
    /// The principal's stable id.
    pub id: String,
    /// A display name, when the principal has one.
    pub name: Option<String>,
}

impl Actor {
    /// The actor the host attributes a write to when it carries none.
    pub fn system() -> Self {
        Self {
            kind: ActorType::System,
            id: "system".into(),
            name: Some("System".into()),
        }
    }
}

/// What kind of principal an [`Actor`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ActorType {
    /// The automation platform itself.
    System,
    /// A human user.
    User,
    /// An external application holding an API key.
    Application,
    /// A plugin's own background work, such as a scheduled job.
    Service,
}

/// Options every entity write carries.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MutationOptions {
    /// The run the write belongs to; the host fills in the current one
    /// when absent and refuses any other.
    pub run_id: Option<String>,
    /// Who caused the write; the host uses the system actor when absent.
    pub actor: Option<Actor>,
}

/// Why an entity call failed, as `interface entity` reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EntityError {
    /// The plugin did not declare this entity kind.
    UnknownKind(String),
    /// The entity id is empty or too long; carries the reason.
    InvalidId(String),
    /// The mutation options are not acceptable; carries the reason.
    InvalidOptions(String),
    /// The state breaks the kind's state schema; one line per problem.
    InvalidState(Vec<String>),
    /// Another mutation is still open; names it.
    AlreadyOpen(String),
    /// The mutation already ended.
    Finished,
    /// The backing store failed; the run fails.
    Unavailable(String),
    /// The contract does not allow the call where it was made.
    NotPermitted(String),
}

impl fmt::Display for EntityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EntityError::UnknownKind(kind) => write!(f, "unknown entity kind {kind}"),
            EntityError::InvalidId(reason) => write!(f, "invalid entity id: {reason}"),
            EntityError::InvalidOptions(reason) => write!(f, "invalid mutation options: {reason}"),
            EntityError::InvalidState(problems) => {
                write!(f, "invalid entity state: {}", problems.join("; "))
            }
            EntityError::AlreadyOpen(what) => write!(f, "a mutation is already open: {what}"),
            EntityError::Finished => f.write_str("the mutation already ended"),
            EntityError::Unavailable(reason) => write!(f, "entity engine unavailable: {reason}"),
            EntityError::NotPermitted(reason) => write!(f, "entity call not permitted: {reason}"),
        }
    }
}

impl std::error::Error for EntityError {}

/// The change the host recorded for a committed mutation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChangeReceipt {
    /// The unique id of the recorded change.
    pub change_id: String,
    /// The fields whose values differ between prev and next, sorted.
    pub changed_fields: Vec<String>,
    /// When the host recorded the change, as `YYYY-MM-DDTHH:MM:SS.sssZ`.
    pub occurred_at: String,
}

/// One open write of one entity (`resource mutation`). It must end in
/// [`Mutation::commit`] or [`Mutation::abandon`]: the host fails a run
/// that drops one still open. [`crate::entity::mutate`] keeps to that.
pub trait Mutation {
    /// The entity's committed state before this write.
    fn prev(&self) -> Option<Value>;
    /// Ends the write with the state after it (absent for a deletion);
    /// returns the recorded change, absent when no field changed.
    fn commit(self, next: Option<Value>) -> Result<Option<ChangeReceipt>, EntityError>;
    /// Ends the write without a change, rolling back its storage writes.
    fn abandon(self) -> Result<(), EntityError>;
}

/// The entity engine's write protocol (`interface entity`).
pub trait EntityHandle {
    /// An open write, borrowing the handle.
    type Mutation<'a>: Mutation
    where
        Self: 'a;
    /// Opens a write of the entity `id` of the plugin's kind `kind`.
    fn open(
        &self,
        kind: &str,
        id: &str,
        options: &MutationOptions,
    ) -> Result<Self::Mutation<'_>, EntityError>;
}

/// How important a log line is (`interface log`'s `level`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// Fine-grained detail for diagnosing a plugin.
    Trace,
    /// Detail useful while developing a plugin.
    Debug,
    /// What the plugin did, for its operator.
    Info,
    /// Something unexpected that the plugin recovered from.
    Warn,
    /// Something that failed.
    Error,
}

/// The run log (`interface log`). Log lines are part of a run's outcome.
pub trait Log {
    /// Appends one line at `level`.
    fn log(&self, level: Level, message: &str);

    /// Appends a [`Level::Trace`] line.
    fn trace(&self, message: &str) {
        self.log(Level::Trace, message);
    }

    /// Appends a [`Level::Debug`] line.
    fn debug(&self, message: &str) {
        self.log(Level::Debug, message);
    }

    /// Appends a [`Level::Info`] line.
    fn info(&self, message: &str) {
        self.log(Level::Info, message);
    }

    /// Appends a [`Level::Warn`] line.
    fn warn(&self, message: &str) {
        self.log(Level::Warn, message);
    }

    /// Appends a [`Level::Error`] line.
    fn error(&self, message: &str) {
        self.log(Level::Error, message);
    }
}

/// Time and identity, which the host controls (WASI clocks and random in
/// the component), so a test host can fix them.
pub trait Environment {
    /// The host's clock.
    fn now(&self) -> Instant;
    /// A fresh random UUID (v4), as text.
    fn new_id(&self) -> String;
}

/// The process's own clock and random UUIDs; in the component these read
/// WASI, which the host serves.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemEnvironment;

impl Environment for SystemEnvironment {
    fn now(&self) -> Instant {
        Instant::from_datetime(chrono::Utc::now())
    }

    fn new_id(&self) -> String {
        uuid::Uuid::new_v4().to_string()
    }
}

/// Everything an action needs from its host.
pub trait Host: Storage + EntityHandle + Log + Environment {}

impl<T: Storage + EntityHandle + Log + Environment> Host for T {}

/// Everything a query needs from its host: reading storage, the log, the
/// clock. No entity handle: a query writes nothing, and the host refuses
/// storage writes during one.
pub trait QueryHost: Storage + Log + Environment {}

impl<T: Storage + Log + Environment> QueryHost for T {}
