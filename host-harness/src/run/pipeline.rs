//! One run, all or nothing: open the transaction, invoke the guest, check
//! the protocol and the artifact, derive and check events, mask, persist,
//! commit.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, anyhow, bail};
use serde_json::Value;

use super::guest::DocumentError;
use super::{
    ActionFailure, ActionSuccess, AutomationContext, Document, Guest, GuestEvent, Invocation,
    QueryFailure, QueryOutcome, RunOutcome, RunRequest, UnknownAction,
};
use crate::backend::{Backend, Transaction};
use crate::catalog::Catalog;
use crate::clock::{Clock, Randomness};
use crate::engine::{Phase, RunState};
use crate::limits::MAX_DOCUMENT_BYTES;
use crate::masking::{Secrets, mask_change, mask_event};
use crate::records::{ChangeRecord, EventRecord, Problem};
use crate::schema::Schema;

/// Host records a run keeps in its own transaction, so they commit with
/// the run or not at all.
pub(crate) trait Bookkeeping {
    /// Decides, first thing in the run's transaction and before the plugin
    /// runs, whether the run is still wanted; `false` ends it with nothing
    /// written.
    fn claim(&mut self, _txn: &mut dyn Transaction) -> anyhow::Result<bool> {
        Ok(true)
    }

    /// Writes the records of the successful run `outcome` (its changes
    /// and events as persisted), right before the commit.
    fn record(&mut self, _txn: &mut dyn Transaction, _outcome: &RunOutcome) -> anyhow::Result<()> {
        Ok(())
    }

    /// Whether [`Self::record_failure`] may record something: only then
    /// does a run keep a savepoint to roll back to.
    fn records_failures(&self) -> bool {
        false
    }

    /// Writes what a claimed run that did not succeed leaves behind, in
    /// the run's own transaction once everything the run wrote is rolled
    /// back, so no other run can claim the same work in between; `true`
    /// commits what it wrote, `false` (the default) rolls it all back.
    fn record_failure(
        &mut self,
        _txn: &mut dyn Transaction,
        _failure: &RunFailure<'_>,
    ) -> anyhow::Result<bool> {
        Ok(false)
    }
}

/// How a claimed run ended when it did not succeed.
pub(crate) enum RunFailure<'a> {
    /// The plugin, or the host's check of what it returned, failed it.
    Failed(&'a RunOutcome),
    /// The host stopped it: a trap, a limit, a broken protocol.
    Host {
        run_id: &'a str,
        error: &'a anyhow::Error,
    },
}

/// Two bookkeepings in one run: it is claimed when both claim it, and
/// both record.
pub(crate) struct Both<'a>(pub &'a mut dyn Bookkeeping, pub &'a mut dyn Bookkeeping);

impl Bookkeeping for Both<'_> {
    fn claim(&mut self, txn: &mut dyn Transaction) -> anyhow::Result<bool> {
        Ok(self.0.claim(txn)? && self.1.claim(txn)?)
    }

    fn record(&mut self, txn: &mut dyn Transaction, outcome: &RunOutcome) -> anyhow::Result<()> {
        self.0.record(txn, outcome)?;
        self.1.record(txn, outcome)
    }

    fn records_failures(&self) -> bool {
        self.0.records_failures() || self.1.records_failures()
    }

    fn record_failure(
        &mut self,
        txn: &mut dyn Transaction,
        failure: &RunFailure<'_>,
    ) -> anyhow::Result<bool> {
        let first = self.0.record_failure(txn, failure)?;
        let second = self.1.record_failure(txn, failure)?;
        Ok(first || second)
    }
}

/// An action run keeps no records besides its changes and events.
pub(crate) struct NoBookkeeping;

impl Bookkeeping for NoBookkeeping {}

/// An action is never declined: [`NoBookkeeping`] claims every run.
pub(crate) const UNCLAIMED_ACTION: &str = "the host declined an action run it had claimed";

/// An action request after its checks: run it, or report why not.
pub(crate) enum Prepared {
    Run(PreparedAction),
    Refused(RunOutcome),
}

pub(crate) struct PreparedAction {
    pub invocation: Invocation,
    pub qualified_id: String,
    pub run_id: String,
    pub secrets: Vec<String>,
}

/// What a run needs besides the guest: the plugin's catalog, the store,
/// the clock and the randomness.
pub(crate) struct Pipeline<'a> {
    pub catalog: &'a Arc<Catalog>,
    pub backend: &'a Arc<dyn Backend>,
    pub clock: &'a Arc<dyn Clock>,
    pub randomness: &'a Arc<Randomness>,
}

impl Pipeline<'_> {
    /// Resolves the action and checks the config against its schema;
    /// `automation` is set when the run is an automation's step.
    pub fn prepare_action(
        &self,
        request: RunRequest,
        automation: Option<AutomationContext>,
    ) -> anyhow::Result<Prepared> {
        let catalog = self.catalog;
        let (info, config_schema) = catalog
            .local_id(&request.action)
            .and_then(|local| catalog.actions.get(local))
            .ok_or_else(|| UnknownAction {
                plugin: catalog.label(),
                action: request.action.clone(),
                known: catalog
                    .actions
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", "),
            })?;
        let run_id = request
            .run_id
            .clone()
            .unwrap_or_else(|| self.randomness.uuid());
        let config_text = request.config.to_string();
        let problems = document_problems(config_schema, &request.config, &config_text);
        if !problems.is_empty() {
            return Ok(Prepared::Refused(RunOutcome::failed(
                run_id,
                info.id.clone(),
                ActionFailure::InvalidConfig(problems),
                Vec::new(),
            )));
        }
        Ok(Prepared::Run(PreparedAction {
            invocation: Invocation::Action {
                local_id: info.local_id.clone(),
                config: request.config,
                config_text,
                actor: request.actor,
                automation: automation.map(Box::new),
                produces: info.produces.clone(),
            },
            qualified_id: info.id.clone(),
            run_id,
            secrets: request.secrets,
        }))
    }

    /// The engine's side of a run, whatever runs the plugin's code: open
    /// the transaction, invoke, check the protocol and the artifact,
    /// derive and check events, mask, persist, commit.
    pub fn execute(
        &self,
        guest: &mut dyn Guest,
        invocation: Invocation,
        qualified_id: String,
        run_id: String,
        secrets: &[String],
        bookkeeping: &mut dyn Bookkeeping,
    ) -> anyhow::Result<Option<RunOutcome>> {
        let context = || self.describe(&invocation);
        // A clock the plugin cannot be shown (WASI counts nanoseconds from
        // 1970 in 64 bits) fails the run rather than showing it another
        // instant.
        crate::clock::check_instant(self.clock.now())
            .map_err(anyhow::Error::from)
            .with_context(context)?;
        let mut txn = self.backend.begin().with_context(context)?;
        // Holding the write lock, so no other run, in this process or
        // another, can claim the same work between this check and the
        // commit.
        if !bookkeeping.claim(txn.as_mut()).with_context(context)? {
            return Ok(None);
        }
        // Everything the run writes comes after this point, so a failed
        // run can be undone and its failure recorded under the same lock.
        let claimed = if bookkeeping.records_failures() {
            Some(txn.savepoint().with_context(context)?)
        } else {
            None
        };
        guest.start_deadline();
        guest.session().run = Some(RunState::new(
            txn,
            run_id.clone(),
            Phase::Action,
            Arc::clone(self.clock),
            Arc::clone(self.randomness),
        ));
        let outcome = match self.run_claimed(
            guest,
            &invocation,
            qualified_id,
            &run_id,
            secrets,
            bookkeeping,
        ) {
            Ok(outcome) if outcome.is_ok() => return Ok(Some(outcome)),
            not_ok => not_ok,
        };
        let failure = match &outcome {
            Ok(failed) => RunFailure::Failed(failed),
            Err(error) => RunFailure::Host {
                run_id: &run_id,
                error,
            },
        };
        // A run that did not succeed leaves its transaction in the session
        // (unless it failed while committing): roll back what it wrote and
        // let the bookkeeping record the failure.
        if let (Some(claimed), Some(run)) = (claimed, guest.session().run.take()) {
            let mut txn = run.txn;
            txn.rollback_to(claimed).with_context(context)?;
            if bookkeeping
                .record_failure(txn.as_mut(), &failure)
                .with_context(context)?
            {
                txn.commit()
                    .with_context(|| format!("{}: recording the failure failed", context()))?;
            }
        }
        outcome.map(Some)
    }

    /// The run after its claim: invoke, check, derive, mask, persist and
    /// commit. A run that does not succeed returns its failed outcome, or
    /// the host error, with its transaction still in the session.
    fn run_claimed(
        &self,
        guest: &mut dyn Guest,
        invocation: &Invocation,
        qualified_id: String,
        run_id: &str,
        secrets: &[String],
        bookkeeping: &mut dyn Bookkeeping,
    ) -> anyhow::Result<RunOutcome> {
        let context = || self.describe(invocation);
        let result = guest
            .invoke(invocation, run_id)
            .with_context(|| format!("{} trapped", context()))?;

        let success = match result {
            Ok(success) => success,
            Err(mut failure) => {
                // The same order whichever side found them, the host's
                // schema check or the plugin's own, and whatever the guest.
                if let ActionFailure::InvalidConfig(problems) = &mut failure {
                    problems.sort();
                }
                let logs = guest
                    .session()
                    .run
                    .as_mut()
                    .map(|run| std::mem::take(&mut run.logs))
                    .unwrap_or_default();
                return Ok(RunOutcome::failed(
                    run_id.to_owned(),
                    qualified_id,
                    failure,
                    logs,
                ));
            }
        };
        if let Some(run) = guest.session().run.as_ref() {
            if let Some(open) = &run.open_mutation {
                bail!(
                    "{}: returned with the mutation of {open} still open",
                    context()
                );
            }
            if let Some(dropped) = &run.dropped_mutation {
                bail!(
                    "{}: dropped the mutation of {dropped} without committing or abandoning it",
                    context()
                );
            }
        }
        let (external_id, artifact) = match (invocation, success) {
            (Invocation::Action { produces, .. }, Some(success)) => (
                success.external_id,
                self.check_artifact(produces.as_deref(), success.artifact)
                    .with_context(context)?,
            ),
            _ => (None, None),
        };

        // The deriver runs after the plugin returns, because the component
        // model does not let the host call into the guest during an import.
        let changes = match guest.session().run.as_mut() {
            Some(run) => {
                run.phase = Phase::Derive;
                run.changes.clone()
            }
            None => bail!("{}: the run state vanished", context()),
        };
        let mut events = Vec::new();
        for change in &changes {
            let derived = guest
                .derive(change)
                .with_context(|| format!("{}: the deriver trapped", context()))?;
            for event in derived {
                events.push(
                    self.qualify_event(change, event)
                        .with_context(|| format!("{}: the deriver", context()))?,
                );
            }
        }

        let fuel_consumed = guest.fuel_consumed();
        let Some(mut run) = guest.session().run.take() else {
            bail!("{}: the run state vanished", context());
        };
        let secrets = Secrets::new(secrets.iter().cloned());
        let changes: Vec<ChangeRecord> = changes.iter().map(|c| mask_change(c, &secrets)).collect();
        let events: Vec<EventRecord> = events.iter().map(|e| mask_event(e, &secrets)).collect();
        for change in &changes {
            run.txn.append_change(change).with_context(context)?;
        }
        for event in &events {
            run.txn.append_event(event).with_context(context)?;
        }
        let outcome = RunOutcome {
            run_id: run_id.to_owned(),
            action: qualified_id,
            result: Ok(ActionSuccess {
                external_id,
                artifact,
            }),
            changes,
            events,
            logs: run.logs,
            fuel_consumed,
            wall_time: Duration::ZERO,
        };
        bookkeeping
            .record(run.txn.as_mut(), &outcome)
            .with_context(context)?;
        run.txn
            .commit()
            .with_context(|| format!("{}: committing the run failed", context()))?;
        Ok(outcome)
    }

    /// Answers a query in a read-only transaction: the input checked
    /// against the query's input schema, the plugin asked under the run's
    /// limits, its result checked against the result schema. Nothing is
    /// committed: the transaction refuses writes and is dropped.
    pub fn query(
        &self,
        guest: &mut dyn Guest,
        local_id: &str,
        input: &Value,
    ) -> anyhow::Result<QueryOutcome> {
        let context = || format!("plugin {}, query {local_id}", self.catalog.label());
        let checked = self
            .catalog
            .queries
            .get(local_id)
            .ok_or_else(|| anyhow!("{}: not declared", context()))?;
        let qualified_id = checked.info.id.clone();
        let input_text = input.to_string();
        let problems = document_problems(&checked.input, input, &input_text);
        if !problems.is_empty() {
            return Ok(QueryOutcome {
                query: qualified_id,
                result: Err(QueryFailure::InvalidInput(problems)),
                logs: Vec::new(),
                fuel_consumed: None,
                wall_time: Duration::ZERO,
            });
        }
        crate::clock::check_instant(self.clock.now())
            .map_err(anyhow::Error::from)
            .with_context(context)?;
        let txn = self.backend.begin_read().with_context(context)?;
        guest.start_deadline();
        guest.session().run = Some(RunState::new(
            txn,
            String::new(),
            Phase::Query,
            Arc::clone(self.clock),
            Arc::clone(self.randomness),
        ));
        let answered = guest.query(local_id, &input_text);
        // Dropping the transaction rolls it back, whatever the guest did.
        let logs = guest
            .session()
            .run
            .take()
            .map(|run| run.logs)
            .unwrap_or_default();
        let answered = answered.with_context(|| format!("{} trapped", context()))?;
        let result = match answered {
            Ok(document) => {
                let result = document.parse().map_err(|error| match error {
                    DocumentError::TooLarge(bytes) => anyhow!(
                        "{}: returned a result of {bytes} bytes; the limit is {MAX_DOCUMENT_BYTES}",
                        context()
                    ),
                    DocumentError::NotJson(error) => {
                        anyhow!("{}: returned a result that is not JSON: {error}", context())
                    }
                })?;
                let problems = checked.result.problems(&result);
                if !problems.is_empty() {
                    bail!(
                        "{}: returned a result that breaks its schema: {}",
                        context(),
                        describe_problems(&problems)
                    );
                }
                Ok(result)
            }
            Err(mut failure) => {
                if let QueryFailure::InvalidInput(problems) = &mut failure {
                    problems.sort();
                }
                Err(failure)
            }
        };
        Ok(QueryOutcome {
            query: qualified_id,
            result,
            logs,
            fuel_consumed: guest.fuel_consumed(),
            wall_time: Duration::ZERO,
        })
    }

    /// What a run's errors start with: `plugin <id>@<version>, action
    /// <local-id>` (or `job`).
    pub fn describe(&self, invocation: &Invocation) -> String {
        format!(
            "plugin {}, {} {}",
            self.catalog.label(),
            invocation.what(),
            invocation.local_id()
        )
    }

    /// An artifact must be present exactly when the action declares a
    /// type, and satisfy that type's schema.
    fn check_artifact(
        &self,
        produces: Option<&str>,
        artifact: Option<Document>,
    ) -> anyhow::Result<Option<Value>> {
        let catalog = self.catalog;
        let (produces, artifact) = match (produces, artifact) {
            (None, None) => return Ok(None),
            (None, Some(_)) => bail!("returned an artifact but declares no artifact type"),
            (Some(produces), None) => bail!("returned no artifact but declares {produces}"),
            (Some(produces), Some(artifact)) => (produces, artifact),
        };
        let artifact = artifact.parse().map_err(|error| match error {
            DocumentError::TooLarge(bytes) => {
                anyhow!("returned an artifact of {bytes} bytes; the limit is {MAX_DOCUMENT_BYTES}")
            }
            DocumentError::NotJson(error) => {
                anyhow!("returned an artifact that is not JSON: {error}")
            }
        })?;
        let (_, schema) = catalog
            .local_id(produces)
            .and_then(|local| catalog.artifact_types.get(local))
            .ok_or_else(|| anyhow!("declares unknown artifact type {produces}"))?;
        let problems = schema.problems(&artifact);
        if !problems.is_empty() {
            bail!(
                "returned an artifact that breaks the schema of {produces}: {}",
                describe_problems(&problems)
            );
        }
        Ok(Some(artifact))
    }

    /// Qualifies and checks one derived event.
    fn qualify_event(
        &self,
        change: &ChangeRecord,
        event: GuestEvent,
    ) -> anyhow::Result<EventRecord> {
        let catalog = self.catalog;
        // The deriver names triggers by their local id (contract 0.3);
        // an adapter of an older version has already accepted what that
        // version allowed.
        let (info, schema) = catalog
            .triggers
            .get(&event.trigger_id)
            .ok_or_else(|| anyhow!("fired undeclared trigger {:?}", event.trigger_id))?;
        if info.entity_kind.as_deref() != Some(change.kind.as_str()) {
            bail!(
                "fired {} from a change of entity kind {}, but the trigger is not driven by it",
                info.id,
                change.kind
            );
        }
        let payload = event.payload.parse().map_err(|error| match error {
            DocumentError::TooLarge(bytes) => anyhow!(
                "fired {} with a payload of {bytes} bytes; the limit is {MAX_DOCUMENT_BYTES}",
                info.id
            ),
            DocumentError::NotJson(error) => {
                anyhow!("fired {} with a payload that is not JSON: {error}", info.id)
            }
        })?;
        let problems = schema.problems(&payload);
        if !problems.is_empty() {
            bail!(
                "fired {} with a payload that breaks its schema: {}",
                info.id,
                describe_problems(&problems)
            );
        }
        let context_key = event.context_key.or_else(|| {
            info.context_key
                .as_deref()
                .and_then(|key| payload.get(key))
                .and_then(Value::as_str)
                .map(str::to_owned)
        });
        Ok(EventRecord {
            event_id: self.randomness.uuid(),
            trigger: info.id.clone(),
            payload,
            context_key,
            actor: change.actor.clone(),
            run_id: change.run_id.clone(),
            change_id: change.change_id.clone(),
            occurred_at: change.occurred_at.clone(),
        })
    }
}

/// What is wrong with a document the host hands a plugin (a config, a
/// query's input), `text` being its JSON: too large, or breaking `schema`.
fn document_problems(schema: &Schema, value: &Value, text: &str) -> Vec<Problem> {
    if text.len() > MAX_DOCUMENT_BYTES {
        return vec![Problem {
            path: String::new(),
            message: format!("is {} bytes; the limit is {MAX_DOCUMENT_BYTES}", text.len()),
        }];
    }
    schema.problems(value)
}

fn describe_problems(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|p| {
            format!(
                "{} {}",
                if p.path.is_empty() { "(root)" } else { &p.path },
                p.message
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}
