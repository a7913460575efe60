//! The run pipeline: everything the host does around a plugin's code for
//! one action or job run, whatever runs that code (a wasm instance of any
//! contract version, or native code).
//!
//! The pipeline checks the request, opens the transaction, invokes the
//! guest, checks what it returned, derives and checks events, masks
//! ([`crate::masking`]), persists and commits, all or nothing; this module
//! holds what a run is asked and what it reports.

pub(crate) mod guest;
pub(crate) mod pipeline;

use std::time::Duration;

use serde::Serialize;
use serde_json::{Value, json};

use crate::records::{Actor, ChangeRecord, EventRecord, LogLine, Problem};

pub(crate) use guest::{Document, Guest, GuestEvent, GuestSuccess, Invocation};
pub(crate) use pipeline::{Bookkeeping, Both, NoBookkeeping, Pipeline, Prepared, RunFailure};

/// What to run.
#[derive(Clone, Debug)]
pub struct RunRequest {
    /// A local (`set_system`) or qualified (`maintenance.set_system`) id.
    pub action: String,
    /// The action's config, checked against the action's config schema
    /// before the plugin runs.
    pub config: Value,
    /// The run's id; the host makes one up when absent.
    pub run_id: Option<String>,
    /// The actor of the trigger that started the run.
    pub actor: Option<Actor>,
    /// Values masked in every change and event the host persists.
    pub secrets: Vec<String>,
}

impl RunRequest {
    /// A request to run `action`, a local or qualified id, with `config`;
    /// no run id, actor or secrets until set.
    pub fn new(action: impl Into<String>, config: Value) -> Self {
        Self {
            action: action.into(),
            config,
            run_id: None,
            actor: None,
            secrets: Vec::new(),
        }
    }

    /// Gives the run this id instead of a UUID drawn by the host.
    pub fn run_id(mut self, run_id: impl Into<String>) -> Self {
        self.run_id = Some(run_id.into());
        self
    }

    /// Attributes the run to `actor`, the actor of the trigger that started
    /// it.
    pub fn actor(mut self, actor: Actor) -> Self {
        self.actor = Some(actor);
        self
    }

    /// Adds a value to mask wherever it occurs in what the host persists
    /// about the run; see [`crate::masking`] for what is masked and what is
    /// not.
    pub fn secret(mut self, secret: impl Into<String>) -> Self {
        self.secrets.push(secret.into());
        self
    }
}

/// What an action run started by an automation is told about it: the
/// `automation-id`, `trigger` and `attempt` of the contract's run context.
#[derive(Clone, Debug, PartialEq)]
pub struct AutomationContext {
    /// The automation the run is a step of.
    pub automation_id: String,
    /// The event that started the automation run.
    pub trigger: TriggerScope,
    /// Which attempt at the step this is, from 1.
    pub attempt: u32,
}

/// The trigger event that started an automation run.
#[derive(Clone, Debug, PartialEq)]
pub struct TriggerScope {
    /// The qualified trigger id, such as `maintenance.created`.
    pub trigger_id: String,
    /// The event's id.
    pub event_id: String,
    /// The event's payload.
    pub payload: Value,
    /// The event's context key, when it has one.
    pub context_key: Option<String>,
}

/// A successful action's result.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ActionSuccess {
    /// The id of the thing the action touched, for linking, when the plugin
    /// reports one; always absent for a job.
    pub external_id: Option<String>,
    /// The artifact the action produced, checked against the schema of the
    /// artifact type it declares; absent exactly when it declares none, and
    /// for a job.
    pub artifact: Option<Value>,
}

/// Why an action failed: a domain failure, reported by the plugin or by
/// the host's config check, never a trap.
#[derive(Clone, Debug, PartialEq)]
pub enum ActionFailure {
    /// The config broke the action's schema (found by the host before the
    /// plugin ran) or the plugin's own rules; one problem each, sorted by
    /// path.
    InvalidConfig(Vec<Problem>),
    /// A thing the config names does not exist; carries the plugin's
    /// message.
    NotFound(String),
    /// Any other failure the plugin reports; carries its message.
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

    /// A one-line message for a human; an invalid config lists every
    /// problem as `path: message`, with `(config)` for the whole config.
    pub fn message(&self) -> String {
        match self {
            ActionFailure::InvalidConfig(problems) => {
                format!("invalid config: {}", list_problems(problems, "(config)"))
            }
            ActionFailure::NotFound(message) | ActionFailure::Internal(message) => message.clone(),
        }
    }

    /// The problems of an invalid config; empty for any other failure.
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
    /// The run's id: the one the request gave, else a UUID v4 the host
    /// drew.
    pub run_id: String,
    /// The qualified action or job id.
    pub action: String,
    /// The plugin's answer, or the host's refusal of the config. A trap or
    /// a broken contract is not here: it is the `Err` of the call that ran
    /// the plugin.
    pub result: Result<ActionSuccess, ActionFailure>,
    /// The changes committed, as persisted (secrets masked).
    pub changes: Vec<ChangeRecord>,
    /// The trigger events fired, as persisted (secrets masked).
    pub events: Vec<EventRecord>,
    /// The lines the plugin logged, in order, kept when the run failed too.
    pub logs: Vec<LogLine>,
    /// Fuel the run consumed, when the engine meters fuel.
    pub fuel_consumed: Option<u64>,
    /// How long the run took in the host, from the request to the commit.
    pub wall_time: Duration,
}

impl RunOutcome {
    /// Whether the run succeeded, and so committed its changes and events.
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

/// What to ask: a query, local (`get`) or qualified (`maintenance.get`),
/// and its input, checked against the query's input schema before the
/// plugin sees it.
#[derive(Clone, Debug)]
pub struct QueryRequest {
    /// A local or qualified query id.
    pub query: String,
    /// The query's input.
    pub input: Value,
}

impl QueryRequest {
    /// A request for `query` with `input`.
    pub fn new(query: impl Into<String>, input: Value) -> Self {
        Self {
            query: query.into(),
            input,
        }
    }
}

/// Why a query has no answer: a domain failure, reported by the plugin or
/// by the host's input check, never a trap.
#[derive(Clone, Debug, PartialEq)]
pub enum QueryFailure {
    /// The input broke the query's schema (found by the host) or the
    /// plugin's own rules; one problem each, sorted by path.
    InvalidInput(Vec<Problem>),
    /// A thing the input names does not exist.
    NotFound(String),
    /// Any other failure the plugin reports.
    Internal(String),
}

impl QueryFailure {
    /// `invalid_input`, `not_found` or `internal`.
    pub fn kind(&self) -> &'static str {
        match self {
            QueryFailure::InvalidInput(_) => "invalid_input",
            QueryFailure::NotFound(_) => "not_found",
            QueryFailure::Internal(_) => "internal",
        }
    }

    /// A one-line message for a human; an invalid input lists every
    /// problem as `path: message`, with `(input)` for the whole input.
    pub fn message(&self) -> String {
        match self {
            QueryFailure::InvalidInput(problems) => {
                format!("invalid input: {}", list_problems(problems, "(input)"))
            }
            QueryFailure::NotFound(message) | QueryFailure::Internal(message) => message.clone(),
        }
    }

    /// The problems of an invalid input; empty for any other failure.
    pub fn problems(&self) -> &[Problem] {
        match self {
            QueryFailure::InvalidInput(problems) => problems,
            _ => &[],
        }
    }
}

/// Problems as `path: message; ...`, `whole` standing for the empty path.
fn list_problems(problems: &[Problem], whole: &str) -> String {
    problems
        .iter()
        .map(|p| {
            format!(
                "{}: {}",
                if p.path.is_empty() { whole } else { &p.path },
                p.message
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// What one query answered. A query writes nothing, so there are no
/// changes or events; `logs` says what the plugin logged.
#[derive(Clone, Debug)]
pub struct QueryOutcome {
    /// The qualified query id.
    pub query: String,
    /// The result, checked against the query's result schema, or why
    /// there is none.
    pub result: Result<Value, QueryFailure>,
    /// The lines the plugin logged, in order.
    pub logs: Vec<LogLine>,
    /// Fuel the query consumed, when the engine meters fuel.
    pub fuel_consumed: Option<u64>,
    /// How long the query took in the host.
    pub wall_time: Duration,
}

impl QueryOutcome {
    /// Whether the query answered.
    pub fn is_ok(&self) -> bool {
        self.result.is_ok()
    }

    /// `ok`, `result` and `error` (`kind`, `message`, `problems`): what a
    /// scenario's query step matches and templates from.
    pub fn answer_json(&self) -> Value {
        match &self.result {
            Ok(result) => json!({"ok": true, "result": result, "error": null}),
            Err(failure) => json!({
                "ok": false,
                "result": null,
                "error": {
                    "kind": failure.kind(),
                    "message": failure.message(),
                    "problems": failure.problems(),
                },
            }),
        }
    }

    /// [`QueryOutcome::answer_json`] with `query`, `logs`, `fuel` and
    /// `wallTimeMs`: what `query --json` prints.
    pub fn to_json(&self) -> Value {
        let mut shown = self.answer_json();
        shown["query"] = json!(self.query);
        shown["logs"] = json!(self.logs);
        shown["fuel"] = json!(self.fuel_consumed);
        shown["wallTimeMs"] = json!(self.wall_time.as_secs_f64() * 1000.0);
        shown
    }
}

/// The action a request names does not exist: a usage error, not a run.
#[derive(Debug, thiserror::Error)]
#[error("plugin {plugin} has no action {action:?}; it has: {known}")]
pub struct UnknownAction {
    /// The plugin as `<id>@<version>`, such as `maintenance@1.3.1`.
    pub plugin: String,
    /// The id asked for, as the caller spelled it: an action's, or a job's
    /// for [`Harness::run_job`](crate::Harness::run_job).
    pub action: String,
    /// The plugin's local ids of that sort (actions or jobs),
    /// comma-separated.
    pub known: String,
}

/// The query a request names does not exist: a usage error, not a query.
#[derive(Debug, thiserror::Error)]
#[error("plugin {plugin} has no query {query:?}; it has: {known}")]
pub struct UnknownQuery {
    /// The plugins asked, as `<id>@<version>`, comma-separated.
    pub plugin: String,
    /// The id asked for, as the caller spelled it.
    pub query: String,
    /// The qualified ids of the queries there are, comma-separated
    /// (`(none)` when no plugin answers any).
    pub known: String,
}

impl UnknownQuery {
    /// `query` is not among `known`, the qualified ids of the queries the
    /// plugins answer, comma-separated and empty when they answer none.
    pub(crate) fn new(plugin: String, query: &str, known: String) -> Self {
        Self {
            plugin,
            query: query.to_owned(),
            known: if known.is_empty() {
                "(none)".into()
            } else {
                known
            },
        }
    }
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
