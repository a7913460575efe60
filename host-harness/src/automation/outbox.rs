//! The bookkeeping that ties automation runs to action runs: the outbox,
//! which records the automation runs a run's events start in that run's
//! own transaction, and a step's progress, recorded in the step's run.

use chrono::{DateTime, Utc};

use super::definition::{Automation, Automations, Condition};
use super::ledger::{self, Attempt};
use super::record::{AutomationError, AutomationRun, AutomationRunStatus, StepEvent, StepRecord};
use crate::backend::Transaction;
use crate::clock::{Clock, Randomness, format_instant};
use crate::records::EventRecord;
use crate::run::{ActionFailure, Bookkeeping, RunFailure, RunOutcome};

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

/// A step's claim on its attempt, and its record once it commits or
/// fails, in the step's own transaction: of two dispatchers making the
/// same attempt, whichever takes the store's write lock first runs it; the
/// other then finds it made and runs nothing.
pub(crate) struct StepProgress<'a> {
    pub automation: &'a Automation,
    pub attempt: Attempt,
    /// The clock the run reads: a retry's backoff counts from when the
    /// attempt failed.
    pub clock: &'a dyn Clock,
    /// Whether the attempt was claimed (and so counts).
    pub claimed: bool,
    /// The run as the claim read it, for the record to update.
    pub seen: Option<AutomationRun>,
    /// The run as recorded with the step's commit or failure.
    pub recorded: Option<AutomationRun>,
}

impl Bookkeeping for StepProgress<'_> {
    fn claim(&mut self, txn: &mut dyn Transaction) -> anyhow::Result<bool> {
        let now = self.clock.now();
        self.seen = ledger::read_run(txn, self.attempt.sequence)?
            .filter(|run| self.attempt.is_awaited_by(run, now));
        self.claimed = self.seen.is_some();
        Ok(self.claimed)
    }

    fn record(&mut self, txn: &mut dyn Transaction, outcome: &RunOutcome) -> anyhow::Result<()> {
        // The claim read it in this same transaction.
        let Some(mut run) = self.seen.take() else {
            anyhow::bail!("automation run {} was not claimed", self.attempt.sequence);
        };
        let step = step_record(
            self.automation,
            self.attempt,
            &outcome.action,
            Some(outcome),
            None,
        );
        run.step_committed(self.automation, self.attempt, step, self.clock.now());
        ledger::write_run(txn, self.attempt.sequence, &run)?;
        self.recorded = Some(run);
        Ok(())
    }

    fn records_failures(&self) -> bool {
        true
    }

    fn record_failure(
        &mut self,
        txn: &mut dyn Transaction,
        failure: &RunFailure<'_>,
    ) -> anyhow::Result<bool> {
        let definition = self.automation.step(self.attempt.step);
        let step_id = definition.map(|step| step.id.clone());
        let action = definition.map_or("", |step| step.action.as_str());
        let (error, retryable, outcome) = match failure {
            RunFailure::Failed(outcome) => match &outcome.result {
                Ok(_) => anyhow::bail!("a successful run is not a failure"),
                Err(failure) => {
                    let (error, retryable) = action_error(failure, step_id);
                    (error, retryable, Some(*outcome))
                }
            },
            RunFailure::Host { error, .. } => (host_error(error, step_id), true, None),
        };
        let mut step = step_record(
            self.automation,
            self.attempt,
            action,
            outcome,
            Some(error.clone()),
        );
        if let RunFailure::Host { run_id, .. } = failure {
            step.run_id = Some((*run_id).to_owned());
        }
        self.recorded = record_failure(
            txn,
            self.automation,
            self.attempt,
            error,
            retryable,
            step,
            self.clock.now(),
        )?;
        Ok(self.recorded.is_some())
    }
}

/// The error a step's failed result records, and whether the step is
/// retried: only `internal`, which may pass later; `invalid_config` and
/// `not_found` would fail the same way again.
pub(crate) fn action_error(
    failure: &ActionFailure,
    step: Option<String>,
) -> (AutomationError, bool) {
    (
        AutomationError {
            kind: failure.kind().to_owned(),
            message: failure.message(),
            step,
        },
        matches!(failure, ActionFailure::Internal(_)),
    )
}

/// The error of a step the host stopped (a trap, a limit, a broken
/// protocol, a store failure: each may pass later, so it is retried), the
/// whole chain on one line.
pub(crate) fn host_error(error: &anyhow::Error, step: Option<String>) -> AutomationError {
    AutomationError {
        kind: HOST.into(),
        message: format!("{error:#}")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" "),
        step,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::automation::definition::{AutomationDefinition, RetryDefinition, StepDefinition};
    use crate::backend::{Backend, MemoryBackend};
    use crate::clock::FixedClock;
    use crate::records::Actor;
    use crate::run::{ActionSuccess, RunOutcome};
    use serde_json::json;

    fn automation(max_attempts: u32) -> Automation {
        Automation::unchecked(AutomationDefinition {
            id: "a".into(),
            name: None,
            enabled: true,
            trigger: "p.fired".into(),
            when: None,
            steps: vec![StepDefinition {
                id: "s".into(),
                action: "p.act".into(),
                config: json!({}),
            }],
            retry: RetryDefinition {
                max_attempts,
                backoff: "PT30S".into(),
            },
        })
    }

    fn event() -> EventRecord {
        EventRecord {
            event_id: "e-1".into(),
            trigger: "p.fired".into(),
            payload: json!({}),
            context_key: Some("k".into()),
            actor: Actor::system(),
            run_id: None,
            change_id: "c-1".into(),
            occurred_at: "2026-03-01T10:00:00.000Z".into(),
        }
    }

    /// A store holding the one run `event` starts, and its first attempt.
    fn recorded(automations: &Automations, clock: &FixedClock) -> (MemoryBackend, Attempt) {
        let backend = MemoryBackend::new();
        let randomness = Randomness::seeded(1);
        let mut txn = backend.begin().unwrap();
        Outbox {
            automations,
            depth: 0,
            now: clock.now(),
            randomness: &randomness,
        }
        .enqueue(txn.as_mut(), &[event()])
        .unwrap();
        txn.commit().unwrap();
        let mut txn = backend.begin().unwrap();
        let (sequence, _) = ledger::queue(txn.as_mut()).unwrap()[0];
        let run = ledger::read_run(txn.as_mut(), sequence).unwrap().unwrap();
        (backend, Attempt::next_of(sequence, &run))
    }

    fn success() -> RunOutcome {
        RunOutcome {
            result: Ok(ActionSuccess {
                external_id: Some("x".into()),
                artifact: None,
            }),
            ..RunOutcome::failed(
                "r-1".into(),
                "p.act".into(),
                ActionFailure::Internal(String::new()),
                Vec::new(),
            )
        }
    }

    /// Records that `attempt` failed with an internal error.
    fn fail(
        txn: &mut dyn Transaction,
        automation: &Automation,
        attempt: Attempt,
        clock: &FixedClock,
    ) -> Option<AutomationRun> {
        let error = AutomationError {
            kind: "internal".into(),
            message: "no".into(),
            step: Some("s".into()),
        };
        let step = step_record(automation, attempt, "p.act", None, Some(error.clone()));
        record_failure(txn, automation, attempt, error, true, step, clock.now()).unwrap()
    }

    #[test]
    fn an_attempt_made_is_never_claimed_again() {
        let automations = Automations::unchecked(vec![automation(3)]);
        let automation = automations.get("a").unwrap();
        let clock = FixedClock::new("2026-03-01T10:00:00Z".parse().unwrap());
        let (backend, attempt) = recorded(&automations, &clock);
        let progress = || StepProgress {
            automation,
            attempt,
            clock: &clock,
            claimed: false,
            seen: None,
            recorded: None,
        };
        let mut first = progress();
        let mut txn = backend.begin().unwrap();
        assert!(first.claim(txn.as_mut()).unwrap());
        first.record(txn.as_mut(), &success()).unwrap();
        txn.commit().unwrap();
        assert_eq!(
            first.recorded.unwrap().status,
            AutomationRunStatus::Succeeded
        );
        // A second dispatcher that read the run before the commit.
        let mut second = progress();
        let mut txn = backend.begin().unwrap();
        assert!(!second.claim(txn.as_mut()).unwrap());
        assert!(!second.claimed);
    }

    #[test]
    fn a_failed_attempt_is_recorded_once() {
        let automations = Automations::unchecked(vec![automation(1)]);
        let automation = automations.get("a").unwrap();
        let clock = FixedClock::new("2026-03-01T10:00:00Z".parse().unwrap());
        let (backend, attempt) = recorded(&automations, &clock);
        let mut txn = backend.begin().unwrap();
        let run =
            fail(txn.as_mut(), automation, attempt, &clock).expect("the first report is recorded");
        assert_eq!(
            run.status,
            AutomationRunStatus::Failed,
            "one attempt allowed"
        );
        assert_eq!(run.steps.len(), 1);
        assert!(
            fail(txn.as_mut(), automation, attempt, &clock).is_none(),
            "the same attempt reported again changes nothing"
        );
        let sequence = attempt.sequence;
        let stored = ledger::read_run(txn.as_mut(), sequence).unwrap().unwrap();
        assert_eq!(stored.steps.len(), 1);
        assert!(ledger::queue(txn.as_mut()).unwrap().is_empty());
    }

    #[test]
    fn a_retry_is_not_claimed_before_it_is_due() {
        let automations = Automations::unchecked(vec![automation(3)]);
        let automation = automations.get("a").unwrap();
        let clock = FixedClock::new("2026-03-01T10:00:00Z".parse().unwrap());
        let (backend, attempt) = recorded(&automations, &clock);
        let mut txn = backend.begin().unwrap();
        let run = fail(txn.as_mut(), automation, attempt, &clock).unwrap();
        assert_eq!(run.status, AutomationRunStatus::Retrying);
        let retry = Attempt::next_of(attempt.sequence, &run);
        assert_eq!(retry.number, 2);
        assert!(!retry.is_awaited_by(&run, clock.now()));
        assert!(!attempt.is_awaited_by(&run, clock.now() + chrono::Duration::minutes(5)));
        assert!(retry.is_awaited_by(&run, clock.now() + chrono::Duration::seconds(30)));
    }
}
