//! What the pipeline asks of whatever runs a plugin's code.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{ActionFailure, AutomationContext, QueryFailure};
use crate::engine::Session;
use crate::limits::MAX_DOCUMENT_BYTES;
use crate::records::{Actor, ChangeRecord};

/// A JSON document a plugin hands the host: text from a wasm guest, which
/// the host parses and bounds, or a value from a native one.
pub(crate) enum Document {
    Text(String),
    Value(Value),
}

pub(crate) enum DocumentError {
    TooLarge(usize),
    NotJson(serde_json::Error),
}

impl Document {
    pub(crate) fn parse(self) -> Result<Value, DocumentError> {
        match self {
            Document::Value(value) => Ok(value),
            Document::Text(text) if text.len() > MAX_DOCUMENT_BYTES => {
                Err(DocumentError::TooLarge(text.len()))
            }
            Document::Text(text) => serde_json::from_str(&text).map_err(DocumentError::NotJson),
        }
    }
}

/// What an action returned, before the host checks it.
pub(crate) struct GuestSuccess {
    pub external_id: Option<String>,
    pub artifact: Option<Document>,
}

/// An event the deriver returned, before the host qualifies and checks it.
pub(crate) struct GuestEvent {
    pub trigger_id: String,
    pub payload: Document,
    pub context_key: Option<String>,
}

/// What runs a plugin's code for the engine: a wasm instance or, as the
/// baseline the sandbox is measured against, the same code compiled into
/// the host.
pub(crate) trait Guest {
    /// The host side of the run, which the plugin's imports act on.
    fn session(&mut self) -> &mut Session;

    /// Calls the action or job. `Err` is a trap or a broken contract; a
    /// job's success carries no [`GuestSuccess`].
    fn invoke(
        &mut self,
        invocation: &Invocation,
        run_id: &str,
    ) -> anyhow::Result<Result<Option<GuestSuccess>, ActionFailure>>;

    /// Calls the deriver on one recorded change.
    fn derive(&mut self, change: &ChangeRecord) -> anyhow::Result<Vec<GuestEvent>>;

    /// Answers the query `local_id` for `input` (JSON text), under the
    /// run's deadline. A guest that answers no queries has none to run.
    fn query(
        &mut self,
        local_id: &str,
        input: &str,
    ) -> anyhow::Result<Result<Document, QueryFailure>> {
        let _ = input;
        Ok(Err(QueryFailure::NotFound(format!(
            "this guest answers no queries, so none named {local_id}"
        ))))
    }

    /// Starts the run's deadline; called once the run holds the store's
    /// write lock, so waiting for another writer does not count.
    fn start_deadline(&mut self) {}

    /// Fuel the run consumed, when it is metered.
    fn fuel_consumed(&mut self) -> Option<u64> {
        None
    }
}

/// What one run invokes in the plugin.
pub(crate) enum Invocation {
    Action {
        local_id: String,
        config: Value,
        /// `config` as JSON text, as a wasm guest receives it.
        config_text: String,
        actor: Option<Actor>,
        /// Set when an automation runs the action as one of its steps
        /// (boxed: most runs have none).
        automation: Option<Box<AutomationContext>>,
        produces: Option<String>,
    },
    Job {
        local_id: String,
        scheduled_at: DateTime<Utc>,
    },
}

impl Invocation {
    pub(crate) fn local_id(&self) -> &str {
        match self {
            Invocation::Action { local_id, .. } | Invocation::Job { local_id, .. } => local_id,
        }
    }

    pub(crate) fn what(&self) -> &'static str {
        match self {
            Invocation::Action { .. } => "action",
            Invocation::Job { .. } => "job",
        }
    }
}
