//! What the domain needs from the host that runs it, as plain Rust traits.
//!
//! In the component these are the WIT imports (`storage`, `entity`, `log`)
//! plus WASI clocks and random; natively they can be anything, which is
//! what lets the domain be tested and benchmarked without wasm.

use std::fmt;

use serde_json::Value;

use crate::model::Instant;

/// Why a storage call failed, as `interface storage` reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StorageError {
    InvalidKey(String),
    ValueTooLarge(u64),
    Unavailable(String),
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

/// The longest storage key, in bytes, the host accepts (the WIT contract
/// leaves the limit to the host; the harness's is 1024 bytes). Longer keys
/// fail with [`StorageError::InvalidKey`].
pub const MAX_KEY_BYTES: usize = 1024;

/// One page of an ordered prefix scan.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Page {
    pub entries: Vec<(String, Vec<u8>)>,
    pub next_cursor: Option<String>,
}

/// The plugin's ordered key-value store (`interface storage`).
pub trait Storage {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError>;
    fn set(&self, key: &str, value: &[u8]) -> Result<(), StorageError>;
    fn delete(&self, key: &str) -> Result<bool, StorageError>;
    fn scan(&self, prefix: &str, limit: u32, cursor: Option<&str>) -> Result<Page, StorageError>;
}

/// The principal a write is attributed to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Actor {
    pub kind: ActorType,
    pub id: String,
    pub name: Option<String>,
}

/// What kind of principal an [`Actor`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ActorType {
    System,
    User,
    Application,
    Service,
}

/// Options every entity write carries.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MutationOptions {
    pub run_id: Option<String>,
    pub actor: Option<Actor>,
}

/// Why an entity call failed, as `interface entity` reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EntityError {
    UnknownKind(String),
    InvalidId(String),
    InvalidOptions(String),
    InvalidState(Vec<String>),
    AlreadyOpen(String),
    Finished,
    Unavailable(String),
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

/// One open write of one entity (`resource mutation`).
pub trait Mutation {
    /// The entity's state before the write.
    fn prev(&self) -> Option<Value>;
    /// Ends the write with the state after it; true when a change was
    /// recorded.
    fn commit(self, next: Option<Value>) -> Result<bool, EntityError>;
    /// Ends the write without a change, rolling back its storage writes.
    fn abandon(self) -> Result<(), EntityError>;
}

/// The entity engine's write protocol (`interface entity`).
pub trait EntityHandle {
    type Mutation<'a>: Mutation
    where
        Self: 'a;
    fn open(
        &self,
        kind: &str,
        id: &str,
        options: &MutationOptions,
    ) -> Result<Self::Mutation<'_>, EntityError>;
}

/// The run log (`interface log`).
pub trait Log {
    fn info(&self, message: &str);
}

/// Time and identity, which the host controls (WASI clocks and random in
/// the component).
pub trait Environment {
    fn now(&self) -> Instant;
    fn new_id(&self) -> String;
}

/// The real clock and UUID v4 source; in the component these read WASI.
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
