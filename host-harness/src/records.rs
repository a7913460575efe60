//! What a run leaves behind: recorded entity changes, fired trigger
//! events, and log lines. These are the shapes the harness persists and
//! prints (`camelCase` JSON).

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What kind of principal an [`Actor`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActorType {
    System,
    User,
    Application,
    Service,
}

/// The principal a write or an event is attributed to.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Actor {
    #[serde(rename = "type")]
    pub kind: ActorType,
    pub id: String,
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
    pub message: String,
}

/// One recorded change of one entity.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChangeRecord {
    pub change_id: String,
    pub plugin_id: String,
    /// The plugin's local entity kind.
    pub kind: String,
    pub entity_id: String,
    pub prev: Option<Value>,
    pub next: Option<Value>,
    /// Fields whose values differ between prev and next, sorted.
    pub changed_fields: Vec<String>,
    pub actor: Actor,
    pub run_id: Option<String>,
    pub occurred_at: String,
}

/// One fired trigger event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventRecord {
    pub event_id: String,
    /// The qualified trigger id, such as `maintenance.created`.
    pub trigger: String,
    pub payload: Value,
    pub context_key: Option<String>,
    pub actor: Actor,
    pub run_id: Option<String>,
    /// The change the event was derived from.
    pub change_id: String,
    pub occurred_at: String,
}

/// How important a log line is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogLevel {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

/// One line a plugin logged during a run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLine {
    pub level: LogLevel,
    pub message: String,
}
