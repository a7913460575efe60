//! The bookkeeping that ties automation runs to action runs: the outbox,
//! which records the automation runs a run's events start in that run's
//! own transaction, and a step's progress, recorded in the step's run.

use chrono::{DateTime, Utc};

use super::definition::{Automation, Automations, Condition};
use super::ledger::{self, Attempt};
use super::record::{AutomationError, AutomationRun, AutomationRunStatus, StepEvent, StepRecord};
use crate::backend::Transaction;
use crate::clock::{Randomness, format_instant};
use crate::records::EventRecord;
use crate::run::{Bookkeeping, RunOutcome};

/// Error kind of a run refused because its chain went too deep.
pub const DEPTH_LIMIT: &str = "depth_limit";
/// Error kind of a run whose `when` could not be decided.
pub const CONDITION: &str = "condition";
/// Error kind of a step stopped by the host: a trap, a limit, a broken
/// protocol, a store failure.
pub const HOST: &str = "host";

/// Records, in a run's transaction, the automation runs its events start.
pub(crate) struct Outbox<'a> {
    pub automations: &'a Automations,
    /// The depth of the events the run fires: 0 for a run no automation
    /// started, the automation run's depth for one of its steps.
    pub depth: u32,
    pub now: DateTime<Utc>,
    pub randomness: &'a Randomness,
}

impl Outbox<'_> {
    /// Records the runs `events` start, in event order, then automation
    /// order.
    pub fn enqueue(&self, txn: &mut dyn Transaction, events: &[EventRecord]) -> anyhow::Result<()> {
        for event in events {
            for automation in self.automations.started_by(&event.trigger) {
                let refused = match automation.condition(event) {
                    Condition::Fails => continue,
                    Condition::Holds if self.depth + 1 > self.automations.depth_limit() => {
                        Some(AutomationError {
                            kind: DEPTH_LIMIT.into(),
                            message: format!(
                                "automation {}: the event {} has depth {}, and a run started by it \
                                 would pass the depth limit of {}",
                                automation.id(),
                                event.event_id,
                                self.depth,
                                self.automations.depth_limit()
                            ),
                            step: None,
                        })
                    }
                    Condition::Holds => None,
                    Condition::Broken(message) => Some(AutomationError {
                        kind: CONDITION.into(),
                        message,
                        step: None,
                    }),
                };
                let run = self.new_run(automation, event, refused);
                let sequence = ledger::next_sequence(txn)?;
                ledger::write_run(txn, sequence, &run)?;
            }
        }
        Ok(())
    }

    fn new_run(
        &self,
        automation: &Automation,
        event: &EventRecord,
        refused: Option<AutomationError>,
    ) -> AutomationRun {
        let now = format_instant(self.now);
        AutomationRun {
            automation_run_id: self.randomness.uuid(),
            automation: automation.id().to_owned(),
            trigger: event.trigger.clone(),
            event_id: event.event_id.clone(),
            context_key: event.context_key.clone(),
            depth: self.depth + 1,
            status: if refused.is_some() {
                AutomationRunStatus::Failed
            } else {
                AutomationRunStatus::Pending
            },
            attempts: 0,
            next_attempt_at: refused.is_none().then(|| now.clone()),
            error: refused,
            steps: Vec::new(),
            payload: event.payload.clone(),
            actor: event.actor.clone(),
            created_at: now,
        }
    }
}

impl Bookkeeping for Outbox<'_> {
    fn record(&mut self, txn: &mut dyn Transaction, outcome: &RunOutcome) -> anyhow::Result<()> {
        self.enqueue(txn, &outcome.events)
    }
}

/// A step's claim on its attempt, and its record once it commits: of two
/// dispatchers making the same attempt, whichever takes the store's write
/// lock first runs it; the other then finds it made and runs nothing.
pub(crate) struct StepProgress<'a> {
    pub automation: &'a Automation,
    pub attempt: Attempt,
    pub now: DateTime<Utc>,
    /// The run as recorded with the step, once it committed.
    pub committed: Option<AutomationRun>,
}

impl Bookkeeping for StepProgress<'_> {
    fn claim(&mut self, txn: &mut dyn Transaction) -> anyhow::Result<bool> {
        Ok(ledger::read_run(txn, self.attempt.sequence)?
            .is_some_and(|run| self.attempt.is_awaited_by(&run, self.now)))
    }

    fn record(&mut self, txn: &mut dyn Transaction, outcome: &RunOutcome) -> anyhow::Result<()> {
        let Some(mut run) = ledger::read_run(txn, self.attempt.sequence)? else {
            anyhow::bail!("automation run {} vanished", self.attempt.sequence);
        };
        let step = step_record(
            self.automation,
            self.attempt,
            &outcome.action,
            Some(outcome),
            None,
        );
        run.step_committed(self.automation, self.attempt, step, self.now);
        ledger::write_run(txn, self.attempt.sequence, &run)?;
        self.committed = Some(run);
        Ok(())
    }
}

/// The record of the step of `attempt`, which ran `action`: from its
/// outcome, when it got that far.
pub(crate) fn step_record(
    automation: &Automation,
    attempt: Attempt,
    action: &str,
    outcome: Option<&RunOutcome>,
    error: Option<AutomationError>,
) -> StepRecord {
    let (external_id, artifact) = match outcome.map(|outcome| &outcome.result) {
        Some(Ok(success)) => (success.external_id.clone(), success.artifact.clone()),
        _ => (None, None),
    };
    StepRecord {
        id: automation
            .step(attempt.step)
            .map(|step| step.id.clone())
            .unwrap_or_default(),
        action: action.to_owned(),
        run_id: outcome.map(|outcome| outcome.run_id.clone()),
        ok: outcome.is_some_and(RunOutcome::is_ok) && error.is_none(),
        external_id,
        artifact,
        error,
        events: outcome
            .map(|outcome| outcome.events.iter().map(StepEvent::from).collect())
            .unwrap_or_default(),
    }
}

/// Records, in its own transaction `txn`, that the step of `attempt`
/// failed; `None` when someone else recorded that attempt first.
pub(crate) fn record_failure(
    txn: &mut dyn Transaction,
    automation: &Automation,
    attempt: Attempt,
    error: AutomationError,
    retryable: bool,
    step: StepRecord,
    now: DateTime<Utc>,
) -> anyhow::Result<Option<AutomationRun>> {
    let Some(mut run) = ledger::read_run(txn, attempt.sequence)? else {
        return Ok(None);
    };
    if !attempt.is_awaited_by(&run, now) {
        return Ok(None);
    }
    run.step_failed(automation, attempt, error, retryable, step, now);
    ledger::write_run(txn, attempt.sequence, &run)?;
    Ok(Some(run))
}
