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
use crate::harness::Harness;
use crate::plugin_host::PluginHost;
use crate::run::{AutomationContext, RunOutcome, RunRequest, TriggerScope};
use crate::scheduler::{self, AlsoDue};

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
                automation::queued_runs(txn.as_mut())?
            };
            let now = self.clock.now();
            let made_before = attempts;
            let mut held: HashSet<(String, String)> = HashSet::new();
            for (sequence, run) in queue {
                let order_key = run
                    .context_key
                    .clone()
                    .map(|key| (run.automation.clone(), key));
                if order_key.as_ref().is_some_and(|key| held.contains(key)) {
                    continue;
                }
                match self.visit(sequence, run, now, stop, report, &mut attempts)? {
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

    /// Moves the shared fixed clock forward by `by`, running each job of
    /// every plugin at every instant it falls due on the way, in time
    /// order, then by qualified job id (see [`Harness::advance`]); with
    /// automations, also dispatching what is due first, and again at every
    /// instant a job ran or a retry falls due, with the clock standing
    /// there.
    ///
    /// [`Harness::advance`]: crate::Harness::advance
    pub fn advance(&self, by: chrono::Duration) -> anyhow::Result<Vec<RunOutcome>> {
        let harnesses: Vec<&Harness> = self.harnesses().iter().collect();
        let clock = self.fixed_clock.as_deref();
        if self.automations.is_none() {
            return scheduler::advance(&harnesses, clock, by, None);
        }
        let next_after = |after| automation::next_due_after(self.backend.as_ref(), after);
        let run_due = || self.dispatch_until(&|| false, &mut |_, _| {}).map(drop);
        let also = AlsoDue {
            next_after: &next_after,
            run_due: &run_due,
        };
        scheduler::advance(&harnesses, clock, by, Some(also))
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
    /// after step, until it finishes or has to wait; `run` is its record
    /// as the pass read it, and each attempt's claim checks it still is.
    fn visit(
        &self,
        sequence: u64,
        mut run: AutomationRun,
        now: chrono::DateTime<chrono::Utc>,
        stop: &dyn Fn() -> bool,
        report: &mut dyn FnMut(u64, &AutomationRun),
        attempts: &mut usize,
    ) -> anyhow::Result<Visit> {
        let Some(automations) = self.automations.as_deref() else {
            return Ok(Visit::Held);
        };
        // A run of an automation this host does not run (the file changed
        // since it was recorded) waits for a host that does.
        let Some(automation) = automations.get(&run.automation) else {
            return Ok(Visit::Held);
        };
        loop {
            if run.status.is_finished() {
                return Ok(Visit::Finished);
            }
            if stop() {
                return Ok(Visit::Stopped);
            }
            let attempt = Attempt::next_of(sequence, &run);
            if !attempt.is_awaited_by(&run, now.max(self.clock.now())) {
                return Ok(Visit::Held);
            }
            run = match self.attempt_step(automation, &run, attempt)? {
                Some(moved) => moved,
                // Another dispatcher made this attempt first.
                None => return Ok(Visit::Held),
            };
            *attempts += 1;
            report(sequence, &run);
        }
    }

    /// Makes one attempt at the next step of `run`, and records how it
    /// went; `None` when another dispatcher made the attempt first. An
    /// error before the attempt was claimed (the store failed, the plugin
    /// would not instantiate) made no attempt and is returned.
    fn attempt_step(
        &self,
        automation: &Automation,
        run: &AutomationRun,
        attempt: Attempt,
    ) -> anyhow::Result<Option<AutomationRun>> {
        let Some(step) = automation.step(attempt.step) else {
            let error = AutomationError {
                kind: HOST.into(),
                message: format!(
                    "automation {} has no step {} any more: its definition changed after \
                     the run was recorded",
                    automation.id(),
                    attempt.step + 1
                ),
                step: None,
            };
            return self.record_failure_apart(automation, attempt, "", error, false, None);
        };
        let step_error = |kind: &str, message: String| AutomationError {
            kind: kind.to_owned(),
            message,
            step: Some(step.id.clone()),
        };
        // What fails before the action could run fails the step for good.
        let prepared = crate::template::resolve_present(&step.config, &template_scope(run))
            .map_err(|problem| {
                let message = format!(
                    "automation {}, step {}: {problem}",
                    automation.id(),
                    step.id
                );
                step_error("invalid_config", message)
            })
            .and_then(|config| {
                let harness = self
                    .route_action(&step.action)
                    .map_err(|unknown| step_error(HOST, unknown.to_string()))?;
                Ok((config, harness))
            });
        let (config, harness) = match prepared {
            Ok(prepared) => prepared,
            Err(error) => {
                return self.record_failure_apart(
                    automation,
                    attempt,
                    &step.action,
                    error,
                    false,
                    None,
                );
            }
        };
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
            clock: self.clock.as_ref(),
            claimed: false,
            seen: None,
            recorded: None,
        };
        let result = harness.run_step(request, context, &mut progress, run.depth);
        if let Some(recorded) = progress.recorded {
            return Ok(Some(recorded));
        }
        // Not recorded with the run: refused before it ran (the host's
        // config check), or failed while committing; record it apart.
        match result {
            Ok(None) => Ok(None),
            Ok(Some(outcome)) => match &outcome.result {
                Ok(_) => anyhow::bail!(
                    "automation {}: step {} committed without its record",
                    automation.id(),
                    step.id
                ),
                Err(failure) => {
                    let (error, retryable) =
                        automation::action_error(failure, Some(step.id.clone()));
                    self.record_failure_apart(
                        automation,
                        attempt,
                        &step.action,
                        error,
                        retryable,
                        Some(&outcome),
                    )
                }
            },
            Err(error) if !progress.claimed => Err(error),
            Err(error) => {
                let error = automation::host_error(&error, Some(step.id.clone()));
                self.record_failure_apart(automation, attempt, &step.action, error, true, None)
            }
        }
    }

    /// Records a failed attempt in a transaction of its own, unless
    /// another dispatcher recorded that attempt first (`None`).
    fn record_failure_apart(
        &self,
        automation: &Automation,
        attempt: Attempt,
        action: &str,
        error: AutomationError,
        retryable: bool,
        outcome: Option<&RunOutcome>,
    ) -> anyhow::Result<Option<AutomationRun>> {
        let step =
            automation::step_record(automation, attempt, action, outcome, Some(error.clone()));
        let mut txn = self.backend.begin()?;
        let recorded = automation::record_failure(
            txn.as_mut(),
            automation,
            attempt,
            error,
            retryable,
            step,
            self.clock.now(),
        )?;
        txn.commit()?;
        Ok(recorded)
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
