//! The [`Plugin`] trait and the values that cross it.

use std::fmt;

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::catalog::PluginDefinition;
use crate::config::Problem;
use crate::entity::MutationError;
use crate::host::{Actor, Host, MutationOptions, QueryHost, StorageError};
use crate::storage::StoreError;
use crate::time::Instant;

/// A plugin: its catalog, its actions, its jobs and its deriver.
///
/// The methods that touch the host are generic over [`Host`], so the same
/// code runs in the component (over the WIT imports, through
/// [`crate::export_plugin!`]) and natively (over
/// [`crate::testing::TestHost`] or any other [`Host`]). The component
/// makes one value of the plugin with [`Default`] for each call into it,
/// so a plugin is usually a unit struct that keeps no state of its own:
/// everything that lasts goes through the host.
pub trait Plugin {
    /// The plugin's catalog. The host reads it once, at load.
    fn catalog(&self) -> PluginDefinition;

    /// Runs the action `action` (a local id) with `config`, which the host
    /// has already checked against the action's config schema (natively
    /// nobody may have: [`crate::config::parse`] checks it again).
    fn run_action<H: Host>(
        &self,
        host: &H,
        action: &str,
        config: &Value,
        context: &RunContext,
    ) -> Result<ActionSuccess, ActionError>;

    /// Runs the scheduled job `job` (a local id). By default the plugin
    /// has none, and every job is [`ActionError::NotFound`].
    fn run_job<H: Host>(
        &self,
        host: &H,
        job: &str,
        context: &JobContext,
    ) -> Result<(), ActionError> {
        let _ = (host, context);
        Err(ActionError::NotFound(format!(
            "Unknown job: {job}; this plugin has no jobs"
        )))
    }

    /// The trigger events one recorded change fires, in order, by local
    /// trigger id. It must be a pure function of the change: the host
    /// grants the deriver no storage and no entity writes. An error means
    /// the change cannot be read, which breaks the host's side of the
    /// contract: the component traps and the host fails the run. By
    /// default a change fires nothing.
    fn derive(&self, change: &EntityChange) -> Result<Vec<TriggerEvent>, String> {
        let _ = change;
        Ok(Vec::new())
    }

    /// Answers the read-only query `query` (a local id the catalog
    /// declares in `queries`) for `input`, which the host has already
    /// checked against the query's input schema. The host gives a query
    /// reads only: storage writes fail with
    /// [`StorageError::NotPermitted`], and [`QueryHost`] has no entity
    /// handle. The result must satisfy the query's result schema. By
    /// default the plugin answers no query, and every query is
    /// [`QueryError::NotFound`].
    fn run_query<H: QueryHost>(
        &self,
        host: &H,
        query: &str,
        input: &Value,
    ) -> Result<Value, QueryError> {
        let _ = (host, input);
        Err(QueryError::NotFound(format!(
            "Unknown query: {query}; this plugin answers no queries"
        )))
    }
}

/// Why a query has no answer: a value of the contract, never a trap.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QueryError {
    /// The input breaks the plugin's own rules; one problem each.
    InvalidInput(Vec<Problem>),
    /// A thing the input names does not exist.
    NotFound(String),
    /// Any other failure.
    Internal(String),
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QueryError::InvalidInput(problems) => {
                f.write_str("invalid input:")?;
                for problem in problems {
                    let path = match problem.path.as_str() {
                        "" => "(the input)",
                        path => path,
                    };
                    write!(f, " {path} {};", problem.message)?;
                }
                Ok(())
            }
            QueryError::NotFound(message) => write!(f, "not found: {message}"),
            QueryError::Internal(message) => write!(f, "internal error: {message}"),
        }
    }
}

impl std::error::Error for QueryError {}

impl From<Vec<Problem>> for QueryError {
    fn from(problems: Vec<Problem>) -> Self {
        QueryError::InvalidInput(problems)
    }
}

impl From<StorageError> for QueryError {
    fn from(error: StorageError) -> Self {
        QueryError::Internal(error.to_string())
    }
}

impl From<StoreError> for QueryError {
    fn from(error: StoreError) -> Self {
        QueryError::Internal(error.to_string())
    }
}

/// A successful action run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ActionSuccess {
    /// The id of the thing the action touched, for linking.
    pub external_id: Option<String>,
    /// The artifact, of the action's declared artifact type.
    pub artifact: Option<Value>,
}

impl ActionSuccess {
    /// A success naming what it touched and carrying its artifact.
    pub fn new(external_id: impl Into<String>, artifact: Value) -> Self {
        Self {
            external_id: Some(external_id.into()),
            artifact: Some(artifact),
        }
    }
}

/// Why an action run failed. The host rolls back every write of a failed
/// run. Domain failures are values: the host and the tests match on the
/// variant, never on the text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ActionError {
    /// The config broke the action's rules; one entry per problem.
    InvalidConfig(Vec<Problem>),
    /// A thing the config names does not exist; carries the message.
    NotFound(String),
    /// Anything else; carries the message.
    Internal(String),
}

impl fmt::Display for ActionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ActionError::InvalidConfig(problems) => {
                f.write_str("invalid config:")?;
                for problem in problems {
                    write!(f, " {} {};", display_path(&problem.path), problem.message)?;
                }
                Ok(())
            }
            ActionError::NotFound(message) => write!(f, "not found: {message}"),
            ActionError::Internal(message) => write!(f, "internal error: {message}"),
        }
    }
}

fn display_path(path: &str) -> &str {
    if path.is_empty() {
        "(the config)"
    } else {
        path
    }
}

impl std::error::Error for ActionError {}

impl From<Vec<Problem>> for ActionError {
    fn from(problems: Vec<Problem>) -> Self {
        ActionError::InvalidConfig(problems)
    }
}

impl From<StorageError> for ActionError {
    fn from(error: StorageError) -> Self {
        ActionError::Internal(error.to_string())
    }
}

impl From<StoreError> for ActionError {
    fn from(error: StoreError) -> Self {
        ActionError::Internal(error.to_string())
    }
}

impl From<MutationError> for ActionError {
    fn from(error: MutationError) -> Self {
        ActionError::Internal(format!("entity engine: {error}"))
    }
}

/// The trigger event that started a run.
#[derive(Clone, Debug, PartialEq)]
pub struct TriggerScope {
    /// The qualified trigger id, such as `maintenance.created`.
    pub trigger_id: String,
    /// The id of the event.
    pub event_id: String,
    /// The event's payload.
    pub payload: Value,
    /// The event's context key, when it has one.
    pub context_key: Option<String>,
}

/// What the host tells an action about the run it belongs to.
#[derive(Clone, Debug, PartialEq)]
pub struct RunContext {
    /// The unique id of the run; entity writes of the run carry it.
    pub run_id: String,
    /// The actor of the trigger event that started the run, when known;
    /// entity writes of the run should carry it.
    pub actor: Option<Actor>,
    /// The automation the run belongs to, when started by one.
    pub automation_id: Option<String>,
    /// The trigger event that started the run, when one did.
    pub trigger: Option<TriggerScope>,
    /// Which attempt at this run this is, from 1.
    pub attempt: u32,
}

impl RunContext {
    /// The first attempt of run `run_id`, with nothing else known.
    pub fn new(run_id: impl Into<String>) -> Self {
        Self {
            run_id: run_id.into(),
            actor: None,
            automation_id: None,
            trigger: None,
            attempt: 1,
        }
    }

    /// The same context with the trigger's actor set.
    pub fn with_actor(mut self, actor: Actor) -> Self {
        self.actor = Some(actor);
        self
    }

    /// The options the run's entity writes carry: the run and the
    /// trigger's actor (the host puts in the system actor when there is
    /// none).
    pub fn mutation_options(&self) -> MutationOptions {
        MutationOptions {
            run_id: Some(self.run_id.clone()),
            actor: self.actor.clone(),
        }
    }
}

impl Default for RunContext {
    fn default() -> Self {
        Self::new(String::new())
    }
}

/// What the host tells a job about the run it belongs to.
#[derive(Clone, Debug, PartialEq)]
pub struct JobContext {
    /// The unique id of the run; entity writes of the run carry it.
    pub run_id: String,
    /// The actor of the job's writes: the plugin's service actor.
    pub actor: Actor,
    /// The instant the job was due at.
    pub scheduled_at: Instant,
}

impl JobContext {
    /// The options the job's entity writes carry: its run and its actor.
    pub fn mutation_options(&self) -> MutationOptions {
        MutationOptions {
            run_id: Some(self.run_id.clone()),
            actor: Some(self.actor.clone()),
        }
    }
}

/// A change the entity engine recorded, as the deriver sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct EntityChange {
    /// The local entity kind.
    pub kind: String,
    /// The entity id.
    pub id: String,
    /// The state before the write, absent for a creation.
    pub prev: Option<Value>,
    /// The state after the write, absent for a deletion.
    pub next: Option<Value>,
    /// The fields whose values differ, sorted.
    pub changed_fields: Vec<String>,
    /// Who caused the write.
    pub actor: Actor,
    /// The run the write belongs to, when it came from one.
    pub run_id: Option<String>,
    /// When the change was recorded.
    pub occurred_at: Instant,
    /// The unique id of the change.
    pub change_id: String,
}

impl EntityChange {
    /// A change of `kind/id` from `prev` to `next`, its changed fields
    /// computed as the host does, attributed to the system actor at the
    /// Unix epoch: what a deriver's unit test needs.
    pub fn new(
        kind: impl Into<String>,
        id: impl Into<String>,
        prev: Option<Value>,
        next: Option<Value>,
    ) -> Self {
        let changed_fields = crate::entity::changed_fields(prev.as_ref(), next.as_ref());
        Self {
            kind: kind.into(),
            id: id.into(),
            prev,
            next,
            changed_fields,
            actor: Actor::system(),
            run_id: None,
            occurred_at: Instant::from_datetime(chrono::DateTime::UNIX_EPOCH),
            change_id: String::new(),
        }
    }

    /// The state before the write as the plugin's state type.
    pub fn prev_as<T: DeserializeOwned>(&self) -> Result<Option<T>, String> {
        self.state_as("prev", self.prev.as_ref())
    }

    /// The state after the write as the plugin's state type.
    pub fn next_as<T: DeserializeOwned>(&self) -> Result<Option<T>, String> {
        self.state_as("next", self.next.as_ref())
    }

    fn state_as<T: DeserializeOwned>(
        &self,
        which: &str,
        state: Option<&Value>,
    ) -> Result<Option<T>, String> {
        state
            .map(|value| T::deserialize(value))
            .transpose()
            .map_err(|error| {
                format!(
                    "the {which} state of {}/{} is malformed: {error}",
                    self.kind, self.id
                )
            })
    }
}

/// A trigger event a change fires.
#[derive(Clone, Debug, PartialEq)]
pub struct TriggerEvent {
    /// The trigger's local id, such as `created`; the host refuses a
    /// qualified one like any undeclared trigger.
    pub trigger_id: String,
    /// The payload, satisfying the trigger's payload schema.
    pub payload: Value,
    /// The event's context key, when it has one.
    pub context_key: Option<String>,
}

impl TriggerEvent {
    /// An event of trigger `trigger_id` with `payload`, grouped under
    /// `context_key`.
    pub fn new(
        trigger_id: impl Into<String>,
        payload: Value,
        context_key: impl Into<String>,
    ) -> Self {
        Self {
            trigger_id: trigger_id.into(),
            payload,
            context_key: Some(context_key.into()),
        }
    }
}
