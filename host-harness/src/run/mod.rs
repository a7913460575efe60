//! The run pipeline: everything the host does around a plugin's code for
//! one action or job run, whatever runs that code (a wasm instance of any
//! contract version, or native code).
//!
//! [`pipeline`] checks the request, opens the transaction, invokes the
//! [`Guest`], checks what it returned, derives and checks events, masks
//! ([`crate::masking`]), persists and commits, all or nothing; this module
//! holds what a run is asked and what it reports.

pub(crate) mod guest;
pub(crate) mod pipeline;

use std::time::Duration;

use serde::Serialize;
use serde_json::{Value, json};

use crate::records::{Actor, ChangeRecord, EventRecord, LogLine, Problem};

pub(crate) use guest::{Document, Guest, GuestEvent, GuestSuccess, Invocation};
pub(crate) use pipeline::{Bookkeeping, NoBookkeeping, Pipeline, Prepared};

/// What to run.
#[derive(Clone, Debug)]
pub struct RunRequest {
    /// A local (`set_system`) or qualified (`maintenance.set_system`) id.
    pub action: String,
    pub config: Value,
    /// The run's id; the host makes one up when absent.
    pub run_id: Option<String>,
    /// The actor of the trigger that started the run.
    pub actor: Option<Actor>,
    /// Values masked in every change and event the host persists.
    pub secrets: Vec<String>,
}

impl RunRequest {
    pub fn new(action: impl Into<String>, config: Value) -> Self {
        Self {
            action: action.into(),
            config,
            run_id: None,
            actor: None,
            secrets: Vec::new(),
        }
    }

    pub fn run_id(mut self, run_id: impl Into<String>) -> Self {
        self.run_id = Some(run_id.into());
        self
    }

    pub fn actor(mut self, actor: Actor) -> Self {
        self.actor = Some(actor);
        self
    }

    pub fn secret(mut self, secret: impl Into<String>) -> Self {
        self.secrets.push(secret.into());
        self
    }
}

/// A successful action's result.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ActionSuccess {
    pub external_id: Option<String>,
    pub artifact: Option<Value>,
}

/// Why an action failed: a domain failure, reported by the plugin or by
/// the host's config check, never a trap.
#[derive(Clone, Debug, PartialEq)]
pub enum ActionFailure {
    InvalidConfig(Vec<Problem>),
    NotFound(String),
    Internal(String),
}

impl ActionFailure {
    /// `invalid_config`, `not_found` or `internal`.
    pub fn kind(&self) -> &'static str {
        match self {
            ActionFailure::InvalidConfig(_) => "invalid_config",
            ActionFailure::NotFound(_) => "not_found",
            ActionFailure::Internal(_) => "internal",
        }
    }

    pub fn message(&self) -> String {
        match self {
            ActionFailure::InvalidConfig(problems) => {
                let problems: Vec<String> = problems
                    .iter()
                    .map(|p| {
                        format!(
                            "{}: {}",
                            if p.path.is_empty() {
                                "(config)"
                            } else {
                                &p.path
                            },
                            p.message
                        )
                    })
                    .collect();
                format!("invalid config: {}", problems.join("; "))
            }
            ActionFailure::NotFound(message) | ActionFailure::Internal(message) => message.clone(),
        }
    }

    pub fn problems(&self) -> &[Problem] {
        match self {
            ActionFailure::InvalidConfig(problems) => problems,
            _ => &[],
        }
    }
}

/// Everything one run did. On failure nothing was committed, so
/// `changes` and `events` are empty; `logs` still says what happened.
#[derive(Clone, Debug)]
pub struct RunOutcome {
    pub run_id: String,
    /// The qualified action or job id.
    pub action: String,
    pub result: Result<ActionSuccess, ActionFailure>,
    /// The changes committed, as persisted (secrets masked).
    pub changes: Vec<ChangeRecord>,
    /// The trigger events fired, as persisted (secrets masked).
    pub events: Vec<EventRecord>,
    pub logs: Vec<LogLine>,
    /// Fuel the run consumed, when the engine meters fuel.
    pub fuel_consumed: Option<u64>,
    /// How long the run took in the host, from the request to the commit.
    pub wall_time: Duration,
}

impl RunOutcome {
    pub fn is_ok(&self) -> bool {
        self.result.is_ok()
    }

    pub(crate) fn failed(
        run_id: String,
        action: String,
        failure: ActionFailure,
        logs: Vec<LogLine>,
    ) -> Self {
        Self {
            run_id,
            action,
            result: Err(failure),
            changes: Vec::new(),
            events: Vec::new(),
            logs,
            fuel_consumed: None,
            wall_time: Duration::ZERO,
        }
    }
}

/// The action a request names does not exist: a usage error, not a run.
#[derive(Debug, thiserror::Error)]
#[error("plugin {plugin} has no action {action:?}; it has: {known}")]
pub struct UnknownAction {
    pub plugin: String,
    pub action: String,
    pub known: String,
}

impl RunOutcome {
    /// The outcome as one JSON object: `ok`, `runId`, `action`,
    /// `externalId`, `artifact`, `error` (`kind`, `message`, `problems`),
    /// `changes`, `events` (`trigger`, `payload`, `contextKey`, `actor`,
    /// `runId`, `changeId`) and `logs`. The CLI prints it and scenario
    /// templates look values up in it.
    pub fn to_json(&self) -> Value {
        let (external_id, artifact, error) = match &self.result {
            Ok(success) => (
                json!(success.external_id),
                json!(success.artifact),
                Value::Null,
            ),
            Err(failure) => (
                Value::Null,
                Value::Null,
                json!({
                    "kind": failure.kind(),
                    "message": failure.message(),
                    "problems": failure.problems(),
                }),
            ),
        };
        let events: Vec<Value> = self
            .events
            .iter()
            .map(|event| {
                json!({
                    "trigger": event.trigger,
                    "payload": event.payload,
                    "contextKey": event.context_key,
                    "actor": event.actor,
                    "runId": event.run_id,
                    "changeId": event.change_id,
                })
            })
            .collect();
        json!({
            "ok": self.is_ok(),
            "runId": self.run_id,
            "action": self.action,
            "externalId": external_id,
            "artifact": artifact,
            "error": error,
            "changes": self.changes,
            "events": events,
            "logs": self.logs,
            "fuel": self.fuel_consumed,
            "wallTimeMs": self.wall_time.as_secs_f64() * 1000.0,
        })
    }
}
