//! What a run leaves behind: recorded entity changes, fired trigger
//! events, and log lines. These are the shapes the harness persists and
//! prints (`camelCase` JSON).

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What kind of principal an [`Actor`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActorType {
    /// The automation platform itself, with no principal behind it.
    System,
    /// A human user.
    User,
    /// An external application holding an API key.
    Application,
    /// A plugin's own background work, such as a scheduled job.
    Service,
}

/// The principal a write or an event is attributed to.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Actor {
    /// What kind of principal this is; `type` in JSON.
    #[serde(rename = "type")]
    pub kind: ActorType,
    /// The principal's stable id, such as a user id; `system` for
    /// [`Actor::system`], the plugin id for a plugin's service actor.
    pub id: String,
    /// A display name, when the principal has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl Actor {
    /// The actor of writes nobody in particular caused.
    pub fn system() -> Self {
        Self {
            kind: ActorType::System,
            id: "system".into(),
            name: Some("System".into()),
        }
    }

    /// An actor of `kind` with the stable `id` and, when it has one, a
    /// display `name`.
    pub fn new(kind: ActorType, id: impl Into<String>, name: Option<String>) -> Self {
        Self {
            kind,
            id: id.into(),
            name,
        }
    }
}

/// Where a value broke its rules. Problems order by path, then message.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Problem {
    /// JSON Pointer of the offending value, `""` for the whole document.
    pub path: String,
    /// What is wrong with the value, for a human.
    pub message: String,
}

/// One recorded change of one entity.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChangeRecord {
    /// The change's unique id, a UUID v4 the host drew; the events derived
    /// from the change carry it.
    pub change_id: String,
    /// The id of the plugin that owns the entity, such as `maintenance`.
    pub plugin_id: String,
    /// The plugin's local entity kind.
    pub kind: String,
    /// The id the plugin gave the entity within its kind (at most
    /// [`MAX_ENTITY_ID_BYTES`](crate::limits::MAX_ENTITY_ID_BYTES)), with
    /// secrets masked.
    pub entity_id: String,
    /// The entity's state before the write, absent for a creation.
    pub prev: Option<Value>,
    /// The entity's state after the write, absent for a deletion.
    pub next: Option<Value>,
    /// Fields whose values differ between prev and next, sorted.
    pub changed_fields: Vec<String>,
    /// Who caused the write: the actor the mutation named, else the system
    /// actor.
    pub actor: Actor,
    /// The run the write belongs to, when it came from one.
    pub run_id: Option<String>,
    /// When the host recorded the change, by the run's clock, as
    /// `YYYY-MM-DDTHH:MM:SS.sssZ` (UTC).
    pub occurred_at: String,
}

/// One fired trigger event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventRecord {
    /// The event's unique id, a UUID v4 the host drew.
    pub event_id: String,
    /// The qualified trigger id, such as `maintenance.created`.
    pub trigger: String,
    /// The event's payload, satisfying the trigger's payload schema.
    pub payload: Value,
    /// The key that groups events about the same thing: the one the deriver
    /// gave, else the payload field the trigger names when it holds a
    /// string; absent otherwise.
    pub context_key: Option<String>,
    /// Who caused the change the event was derived from.
    pub actor: Actor,
    /// The run of the change the event was derived from, when it came from
    /// one.
    pub run_id: Option<String>,
    /// The change the event was derived from.
    pub change_id: String,
    /// When the change the event was derived from was recorded, as
    /// `YYYY-MM-DDTHH:MM:SS.sssZ` (UTC).
    pub occurred_at: String,
}

/// How important a log line is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogLevel {
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

/// One line a plugin logged during a run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLine {
    /// How important the line is; the host's own truncation notice is a
    /// warning.
    pub level: LogLevel,
    /// The text as the plugin logged it, or the host's notice that the run
    /// logged too much and later lines were dropped.
    pub message: String,
}
