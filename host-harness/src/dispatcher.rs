//! The dispatcher: runs the steps of recorded automation runs when they
//! are due, one action run per step attempt.
//!
//! Order: runs are taken in the order they were recorded, and a run that
//! is not finished (waiting for a retry, or taken by another dispatcher)
//! holds back every later run of the same automation with the same
//! context key, so those start in event order and never overlap; runs of
//! other keys go on. Exactly once: every attempt is claimed inside its
//! own run's transaction (see [`crate::automation`]), so dispatchers on
//! several threads or processes sharing a store never commit one step
//! twice.

use std::collections::{BTreeMap, HashSet};

use serde_json::{Value, json};

use crate::automation::{
    self, Attempt, Automation, AutomationError, AutomationRun, HOST, StepProgress,
};
use crate::plugin_host::PluginHost;
use crate::run::{AutomationContext, RunOutcome, RunRequest, TriggerScope};

/// How far one run got in one visit.
enum Visit {
    /// Nothing more to do for it.
    Finished,
    /// It waits: for a retry, or for a step another dispatcher took, or for
    /// an automation this host does not run.
    Held,
    /// The dispatcher was asked to stop.
    Stopped,
}

impl PluginHost {
    /// Runs every automation step that is due at the clock's instant,
    /// including the runs the steps' own events start, until nothing more
    /// is due; returns every automation run it moved forward or that was
    /// recorded while it ran (such as one refused at the depth limit), in
    /// the order they were recorded, each as it stands at the end.
    pub fn dispatch(&self) -> anyhow::Result<Vec<AutomationRun>> {
        let watermark = self.automation_watermark()?;
        self.dispatch_since(watermark)
    }

    /// [`Self::dispatch`], checking `stop` before every step attempt and
    /// calling `report` with each run's sequence number and record every
    /// time a step attempt moves it forward. Returns how many attempts it
    /// made.
    pub fn dispatch_until(
        &self,
        stop: &dyn Fn() -> bool,
        report: &mut dyn FnMut(u64, &AutomationRun),
    ) -> anyhow::Result<usize> {
        let mut attempts = 0;
        if self.automations.is_none() {
            return Ok(0);
        }
        loop {
            let queue = {
                let mut txn = self.backend.begin()?;
                automation::queue(txn.as_mut())?
            };
            let now = self.clock.now();
            let made_before = attempts;
            let mut held: HashSet<(String, String)> = HashSet::new();
            for (sequence, entry) in queue {
                let order_key = entry
                    .context_key
                    .clone()
                    .map(|key| (entry.automation.clone(), key));
                if order_key.as_ref().is_some_and(|key| held.contains(key)) {
                    continue;
                }
                let visit = if entry.due_at > now {
                    Visit::Held
                } else {
                    self.visit(sequence, stop, report, &mut attempts)?
                };
                match visit {
                    Visit::Finished => {}
                    Visit::Held => held.extend(order_key),
                    Visit::Stopped => return Ok(attempts),
                }
            }
            // Steps fire events that start runs of their own: go round
            // until a pass makes no attempt.
            if attempts == made_before {
                return Ok(attempts);
            }
        }
    }

    /// The last sequence number an automation run got on this store: the
    /// runs recorded after it are the ones [`Self::automation_runs_since`]
    /// returns.
    pub fn automation_watermark(&self) -> anyhow::Result<u64> {
        let mut txn = self.backend.begin()?;
        automation::last_sequence(txn.as_mut())
    }

    /// Every automation run recorded after `watermark`, oldest first.
    pub fn automation_runs_since(&self, watermark: u64) -> anyhow::Result<Vec<AutomationRun>> {
        let mut txn = self.backend.begin()?;
        Ok(automation::runs_after(txn.as_mut(), Some(watermark))?
            .into_iter()
            .map(|(_, run)| run)
            .collect())
    }

    /// Dispatches like [`Self::dispatch`], and returns every automation run
    /// recorded after `watermark` or moved forward by this dispatch, in the
    /// order they were recorded, as they stand at the end: what a run and
    /// the dispatch after it started or progressed.
    pub fn dispatch_since(&self, watermark: u64) -> anyhow::Result<Vec<AutomationRun>> {
        let mut touched = BTreeMap::new();
        self.dispatch_until(&|| false, &mut |sequence, run| {
            touched.insert(sequence, run.clone());
        })?;
        let mut txn = self.backend.begin()?;
        for (sequence, run) in automation::runs_after(txn.as_mut(), Some(watermark))? {
            touched.insert(sequence, run);
        }
        Ok(touched.into_values().collect())
    }

    /// Makes every due attempt of the run recorded as `sequence`, step
    /// after step, until it finishes or has to wait.
    fn visit(
        &self,
        sequence: u64,
        stop: &dyn Fn() -> bool,
        report: &mut dyn FnMut(u64, &AutomationRun),
        attempts: &mut usize,
    ) -> anyhow::Result<Visit> {
        let Some(automations) = self.automations.as_deref() else {
            return Ok(Visit::Held);
        };
        loop {
            if stop() {
                return Ok(Visit::Stopped);
            }
            let run = {
                let mut txn = self.backend.begin()?;
                automation::read_run(txn.as_mut(), sequence)?
            };
            let Some(run) = run.filter(|run| !run.status.is_finished()) else {
                return Ok(Visit::Finished);
            };
            // A run of an automation this host does not run (the file
            // changed since it was recorded) waits for a host that does.
            let Some(automation) = automations.get(&run.automation) else {
                return Ok(Visit::Held);
            };
            let now = self.clock.now();
            let attempt = Attempt::next_of(sequence, &run);
            if !attempt.is_awaited_by(&run, now) {
                return Ok(Visit::Held);
            }
            *attempts += 1;
            let moved = match self.attempt_step(automation, &run, attempt)? {
                Some(moved) => moved,
                // Another dispatcher made this attempt first.
                None => return Ok(Visit::Held),
            };
            report(sequence, &moved);
            if moved.status.is_finished() {
                return Ok(Visit::Finished);
            }
        }
    }

    /// Makes one attempt at the next step of `run`, and records how it
    /// went; `None` when another dispatcher made the attempt first.
    fn attempt_step(
        &self,
        automation: &Automation,
        run: &AutomationRun,
        attempt: Attempt,
    ) -> anyhow::Result<Option<AutomationRun>> {
        let now = self.clock.now();
        let fail = |error: AutomationError, retryable: bool, outcome: Option<&RunOutcome>| {
            let action = automation
                .step(attempt.step)
                .map_or("", |step| step.action.as_str());
            let step =
                automation::step_record(automation, attempt, action, outcome, Some(error.clone()));
            let mut txn = self.backend.begin()?;
            let moved = automation::record_failure(
                txn.as_mut(),
                automation,
                attempt,
                error,
                retryable,
                step,
                now,
            )?;
            txn.commit()?;
            anyhow::Ok(moved)
        };
        let Some(step) = automation.step(attempt.step) else {
            anyhow::bail!(
                "automation {}: its run {} waits for step {}, which it does not have",
                automation.id(),
                run.automation_run_id,
                attempt.step + 1
            );
        };
        let step_error = |kind: &str, message: String| AutomationError {
            kind: kind.to_owned(),
            message,
            step: Some(step.id.clone()),
        };
        let config = match crate::template::resolve(&step.config, &template_scope(run)) {
            Ok(config) => config,
            Err(problem) => {
                let error = step_error(
                    "invalid_config",
                    format!(
                        "automation {}, step {}: {problem}",
                        automation.id(),
                        step.id
                    ),
                );
                return fail(error, false, None);
            }
        };
        let harness = self.route_action(&step.action)?;
        let context = AutomationContext {
            automation_id: automation.id().to_owned(),
            trigger: TriggerScope {
                trigger_id: run.trigger.clone(),
                event_id: run.event_id.clone(),
                payload: run.payload.clone(),
                context_key: run.context_key.clone(),
            },
            attempt: attempt.number,
        };
        let request = RunRequest::new(step.action.clone(), config).actor(run.actor.clone());
        let mut progress = StepProgress {
            automation,
            attempt,
            now,
            committed: None,
        };
        match harness.run_step(request, context, &mut progress, run.depth) {
            Ok(None) => Ok(None),
            Ok(Some(outcome)) => match &outcome.result {
                Ok(_) => Ok(progress.committed),
                Err(failure) => {
                    let error = step_error(failure.kind(), failure.message());
                    // Only what may pass later is retried.
                    let retryable = failure.kind() == "internal";
                    fail(error, retryable, Some(&outcome))
                }
            },
            Err(host_error) => {
                let message = format!("{host_error:#}")
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ");
                let error = step_error(HOST, message);
                fail(error, true, None)
            }
        }
    }
}

/// What a step's templates see: `trigger` (`payload`, `contextKey`,
/// `actor`, `eventId`) and `steps.<id>` (`artifact`, `externalId`) of the
/// steps that committed.
fn template_scope(run: &AutomationRun) -> BTreeMap<String, Value> {
    let steps: serde_json::Map<String, Value> = run
        .steps
        .iter()
        .filter(|step| step.ok)
        .map(|step| {
            (
                step.id.clone(),
                json!({ "artifact": step.artifact, "externalId": step.external_id }),
            )
        })
        .collect();
    BTreeMap::from([
        (
            "trigger".to_owned(),
            json!({
                "payload": run.payload,
                "contextKey": run.context_key,
                "actor": run.actor,
                "eventId": run.event_id,
            }),
        ),
        ("steps".to_owned(), Value::Object(steps)),
    ])
}
