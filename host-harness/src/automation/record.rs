//! What the host records about each automation run: the shape `runs
//! --json` prints and scenario files match.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::records::{Actor, EventRecord};

/// Where an automation run stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AutomationRunStatus {
    /// Recorded, no step run yet.
    Pending,
    /// At least one step committed, more to run.
    Running,
    /// A step failed in a way that may pass later; it runs again at
    /// `nextAttemptAt`.
    Retrying,
    /// Every step committed.
    Succeeded,
    /// A step failed for good, or the run could not start; `error` says
    /// why.
    Failed,
}

impl AutomationRunStatus {
    /// Whether the run will do nothing more.
    pub fn is_finished(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed)
    }

    /// `pending`, `running`, `retrying`, `succeeded` or `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Running => "running",
            Self::Retrying => "retrying",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }
}

impl std::str::FromStr for AutomationRunStatus {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        [
            Self::Pending,
            Self::Running,
            Self::Retrying,
            Self::Succeeded,
            Self::Failed,
        ]
        .into_iter()
        .find(|status| status.as_str() == text)
        .ok_or_else(|| {
            format!(
                "unknown status {text:?}; expected pending, running, retrying, succeeded or failed"
            )
        })
    }
}

/// Why an automation run or one of its steps failed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AutomationError {
    /// `invalid_config`, `not_found` or `internal` (the plugin's or the
    /// host's config check), `host` (a trap, a limit, a broken protocol or
    /// a store failure), `depth_limit` (the chain went too deep; no step
    /// ran), or `condition` (`when` did not give a boolean; no step ran).
    pub kind: String,
    /// What went wrong, for a human.
    pub message: String,
    /// The id of the step that failed; absent when no step ran.
    pub step: Option<String>,
}

/// What one step of an automation run did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StepRecord {
    /// The step's id in the automation.
    pub id: String,
    /// The qualified action it ran.
    pub action: String,
    /// The action run's id, the one its changes and events carry; absent
    /// when the step never got to run (its templates named nothing, or the
    /// host stopped it).
    pub run_id: Option<String>,
    /// Whether the step committed.
    pub ok: bool,
    /// The action's external id, when it succeeded with one.
    pub external_id: Option<String>,
    /// The action's artifact, when it succeeded with one.
    pub artifact: Option<Value>,
    /// Why its last attempt failed, when it did.
    pub error: Option<AutomationError>,
    /// The events the step fired, each `eventId`, `trigger` and
    /// `contextKey`.
    pub events: Vec<StepEvent>,
}

/// An event a step fired, as its step record lists it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StepEvent {
    /// The event's id.
    pub event_id: String,
    /// The qualified trigger id.
    pub trigger: String,
    /// The event's context key.
    pub context_key: Option<String>,
}

impl From<&EventRecord> for StepEvent {
    fn from(event: &EventRecord) -> Self {
        Self {
            event_id: event.event_id.clone(),
            trigger: event.trigger.clone(),
            context_key: event.context_key.clone(),
        }
    }
}

/// One automation run: one automation started by one event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AutomationRun {
    /// The run's id, a UUID the host drew.
    pub automation_run_id: String,
    /// The automation's id.
    pub automation: String,
    /// The qualified trigger id of the event that started it.
    pub trigger: String,
    /// The id of that event.
    pub event_id: String,
    /// That event's context key: runs of one automation with one key start
    /// in event order and never overlap.
    pub context_key: Option<String>,
    /// 1 for a run started by an event no automation caused; one more
    /// than its starter's for a run started by an event an automation
    /// run's step fired.
    pub depth: u32,
    /// Where it stands.
    pub status: AutomationRunStatus,
    /// How many times the current step (the last one, once finished) has
    /// been attempted.
    pub attempts: u32,
    /// Why it failed, when it did; the last failed attempt's error while
    /// retrying.
    pub error: Option<AutomationError>,
    /// The steps that ran to the end, in order: every committed one, and
    /// the one that failed for good.
    pub steps: Vec<StepRecord>,
    /// The event's payload, which templates and the plugin see.
    pub payload: Value,
    /// The event's actor, the actor of every step's run.
    pub actor: Actor,
    /// When the run was recorded, by the host clock.
    pub created_at: String,
    /// When its next step is due, while it is unfinished.
    pub next_attempt_at: Option<String>,
}

impl AutomationRun {
    /// The index of the step to run next.
    pub fn next_step(&self) -> usize {
        self.steps.len()
    }
}
