//! Running one action or job: config check, the plugin's code (a wasm
//! instance, or native code for the baseline), the entity engine, deriving
//! events, artifact check, and an all-or-nothing commit.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, anyhow, bail};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Value, json};

use crate::Harness;
use crate::backend::Transaction;
use crate::bindings::{plugin as wit, types as wit_types};
use crate::instance::{InstanceMode, WasmGuest};
use crate::masking::Secrets;
use crate::records::{Actor, ActorType, ChangeRecord, EventRecord, LogLine, Problem};
use crate::state::{Phase, RunState, Session};

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

    fn failed(run_id: String, action: String, failure: ActionFailure, logs: Vec<LogLine>) -> Self {
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

impl From<Actor> for wit_types::Actor {
    fn from(actor: Actor) -> Self {
        Self {
            type_: match actor.kind {
                ActorType::System => wit_types::ActorType::System,
                ActorType::User => wit_types::ActorType::User,
                ActorType::Application => wit_types::ActorType::Application,
                ActorType::Service => wit_types::ActorType::Service,
            },
            id: actor.id,
            name: actor.name,
        }
    }
}

impl From<wit_types::Actor> for Actor {
    fn from(actor: wit_types::Actor) -> Self {
        Self {
            kind: match actor.type_ {
                wit_types::ActorType::System => ActorType::System,
                wit_types::ActorType::User => ActorType::User,
                wit_types::ActorType::Application => ActorType::Application,
                wit_types::ActorType::Service => ActorType::Service,
            },
            id: actor.id,
            name: actor.name,
        }
    }
}

pub(crate) fn failure_from_wit(error: wit::ActionError) -> ActionFailure {
    match error {
        wit::ActionError::InvalidConfig(problems) => ActionFailure::InvalidConfig(
            problems
                .into_iter()
                .map(|p| Problem {
                    path: p.path,
                    message: p.message,
                })
                .collect(),
        ),
        wit::ActionError::NotFound(message) => ActionFailure::NotFound(message),
        wit::ActionError::Internal(message) => ActionFailure::Internal(message),
    }
}

/// The largest JSON document a plugin may hand the host: an artifact, an
/// event payload or an entity state.
pub const MAX_DOCUMENT_BYTES: usize = 1 << 20;

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
    fn parse(self) -> Result<Value, DocumentError> {
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

    /// Starts the run's deadline; called once the run holds the store's
    /// write lock, so waiting for another writer does not count.
    fn start_deadline(&mut self) {}

    /// Fuel the run consumed, when it is metered.
    fn fuel_consumed(&mut self) -> Option<u64> {
        None
    }
}

/// Host records a run keeps in its own transaction, so they commit with
/// the run or not at all.
pub(crate) trait Bookkeeping {
    /// Decides, first thing in the run's transaction and before the plugin
    /// runs, whether the run is still wanted; `false` ends it with nothing
    /// written.
    fn claim(&mut self, _txn: &mut dyn Transaction) -> anyhow::Result<bool> {
        Ok(true)
    }

    /// Writes the records, right before the commit.
    fn record(&mut self, _txn: &mut dyn Transaction) -> anyhow::Result<()> {
        Ok(())
    }
}

/// An action run keeps no records besides its changes and events.
pub(crate) struct NoBookkeeping;

impl Bookkeeping for NoBookkeeping {}

/// An action is never declined: [`NoBookkeeping`] claims every run.
const UNCLAIMED_ACTION: &str = "the host declined an action run it had claimed";

/// What one run invokes in the plugin.
pub(crate) enum Invocation {
    Action {
        local_id: String,
        config: Value,
        /// `config` as JSON text, as a wasm guest receives it.
        config_text: String,
        actor: Option<Actor>,
        produces: Option<String>,
    },
    Job {
        local_id: String,
        scheduled_at: DateTime<Utc>,
    },
}

/// An action request after its checks: run it, or report why not.
enum Prepared {
    Run(PreparedAction),
    Refused(RunOutcome),
}

struct PreparedAction {
    invocation: Invocation,
    qualified_id: String,
    run_id: String,
    secrets: Vec<String>,
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

impl Harness {
    /// Runs one action and returns its whole outcome. A domain failure is
    /// an `Ok` outcome with a failed result; a trap, or a plugin breaking
    /// the contract, is an `Err` naming the plugin and the action. Either
    /// way a run that does not succeed leaves the store as it was.
    pub fn run(&self, request: RunRequest) -> anyhow::Result<RunOutcome> {
        let started = std::time::Instant::now();
        let mut outcome = match self.prepare_action(request)? {
            Prepared::Run(action) => self
                .execute(
                    action.invocation,
                    action.qualified_id,
                    action.run_id,
                    &action.secrets,
                    &mut NoBookkeeping,
                )?
                .context(UNCLAIMED_ACTION)?,
            Prepared::Refused(outcome) => outcome,
        };
        outcome.wall_time = started.elapsed();
        Ok(outcome)
    }

    /// Runs one action like [`Harness::run`], but with `plugin`'s native
    /// code in place of the wasm component: same catalog, config check,
    /// entity engine, store and commit, no sandbox. It is the baseline the
    /// sandbox's cost is measured against, and lets plugin authors compare
    /// their native build with their component.
    pub fn run_native(
        &self,
        plugin: &dyn crate::native::NativePlugin,
        request: RunRequest,
    ) -> anyhow::Result<RunOutcome> {
        let started = std::time::Instant::now();
        let mut outcome = match self.prepare_action(request)? {
            Prepared::Run(action) => {
                let mut guest = crate::native::NativeGuest::new(plugin, &self.plugin.catalog);
                self.execute_in(
                    &mut guest,
                    action.invocation,
                    action.qualified_id,
                    action.run_id,
                    &action.secrets,
                    &mut NoBookkeeping,
                )?
                .context(UNCLAIMED_ACTION)?
            }
            Prepared::Refused(outcome) => outcome,
        };
        outcome.wall_time = started.elapsed();
        Ok(outcome)
    }

    /// Resolves the action and checks the config against its schema.
    fn prepare_action(&self, request: RunRequest) -> anyhow::Result<Prepared> {
        let catalog = &self.plugin.catalog;
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
        let problems = if config_text.len() > MAX_DOCUMENT_BYTES {
            vec![Problem {
                path: String::new(),
                message: format!(
                    "is {} bytes; the limit is {MAX_DOCUMENT_BYTES}",
                    config_text.len()
                ),
            }]
        } else {
            config_schema.problems(&request.config)
        };
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
                produces: info.produces.clone(),
            },
            qualified_id: info.id.clone(),
            run_id,
            secrets: request.secrets,
        }))
    }

    /// Runs the scheduled job `info` as due at
    /// `scheduled_at`, with the plugin's service actor, through the same
    /// engine and atomicity as an action, unless `bookkeeping` declines
    /// the run inside its transaction (`None`).
    pub(crate) fn run_job_at(
        &self,
        info: &crate::JobInfo,
        scheduled_at: DateTime<Utc>,
        bookkeeping: &mut dyn Bookkeeping,
    ) -> anyhow::Result<Option<RunOutcome>> {
        let invocation = Invocation::Job {
            local_id: info.local_id.clone(),
            scheduled_at,
        };
        let started = std::time::Instant::now();
        let mut outcome = self.execute(
            invocation,
            info.id.clone(),
            self.randomness.uuid(),
            &[],
            bookkeeping,
        )?;
        if let Some(outcome) = outcome.as_mut() {
            outcome.wall_time = started.elapsed();
        }
        Ok(outcome)
    }

    /// Runs `invocation` in a wasm instance: a fresh one, or in
    /// [`InstanceMode::Reuse`] the kept one, which is kept again only
    /// when the run ends without a host error.
    fn execute(
        &self,
        invocation: Invocation,
        qualified_id: String,
        run_id: String,
        secrets: &[String],
        bookkeeping: &mut dyn Bookkeeping,
    ) -> anyhow::Result<Option<RunOutcome>> {
        let kept = match self.instance_mode {
            InstanceMode::Fresh => None,
            InstanceMode::Reuse => self.kept_instance.lock().take(),
        };
        let mut guest = match kept {
            Some(mut guest) => {
                guest.rearm(self.limits)?;
                guest
            }
            None => WasmGuest::new(&self.plugin, self.limits, &self.clock, &self.randomness)
                .with_context(|| {
                    format!(
                        "plugin {}, {} {}: instantiation failed",
                        self.plugin.catalog.label(),
                        invocation.what(),
                        invocation.local_id()
                    )
                })?,
        };
        let outcome = self.execute_in(
            &mut guest,
            invocation,
            qualified_id,
            run_id,
            secrets,
            bookkeeping,
        )?;
        if self.instance_mode == InstanceMode::Reuse {
            *self.kept_instance.lock() = Some(guest);
        }
        Ok(outcome)
    }

    /// The engine's side of a run, whatever runs the plugin's code: open
    /// the transaction, invoke, check the protocol and the artifact,
    /// derive and check events, mask, persist, commit.
    pub(crate) fn execute_in(
        &self,
        guest: &mut dyn Guest,
        invocation: Invocation,
        qualified_id: String,
        run_id: String,
        secrets: &[String],
        bookkeeping: &mut dyn Bookkeeping,
    ) -> anyhow::Result<Option<RunOutcome>> {
        let catalog = Arc::clone(&self.plugin.catalog);
        let context = || {
            format!(
                "plugin {}, {} {}",
                catalog.label(),
                invocation.what(),
                invocation.local_id()
            )
        };
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
        guest.start_deadline();
        guest.session().run = Some(RunState {
            txn,
            run_id: run_id.clone(),
            phase: Phase::Action,
            clock: Arc::clone(&self.clock),
            randomness: Arc::clone(&self.randomness),
            open_mutation: None,
            dropped_mutation: None,
            changes: Vec::new(),
            logs: Vec::new(),
            log_bytes: 0,
        });
        let result = guest
            .invoke(&invocation, &run_id)
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
                    .take()
                    .map(|run| run.logs)
                    .unwrap_or_default();
                return Ok(Some(RunOutcome::failed(
                    run_id,
                    qualified_id,
                    failure,
                    logs,
                )));
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
        let (external_id, artifact) = match (&invocation, success) {
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
        bookkeeping.record(run.txn.as_mut()).with_context(context)?;
        run.txn
            .commit()
            .with_context(|| format!("{}: committing the run failed", context()))?;
        Ok(Some(RunOutcome {
            run_id,
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
        }))
    }

    /// An artifact must be present exactly when the action declares a
    /// type, and satisfy that type's schema.
    fn check_artifact(
        &self,
        produces: Option<&str>,
        artifact: Option<Document>,
    ) -> anyhow::Result<Option<Value>> {
        let catalog = &self.plugin.catalog;
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
        let catalog = &self.plugin.catalog;
        let (info, schema) = catalog
            .local_id(&event.trigger_id)
            .and_then(|local| catalog.triggers.get(local))
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

pub(crate) fn change_to_wit(change: &ChangeRecord) -> wit::EntityChange {
    wit::EntityChange {
        kind: change.kind.clone(),
        id: change.entity_id.clone(),
        prev: change.prev.as_ref().map(Value::to_string),
        next: change.next.as_ref().map(Value::to_string),
        changed_fields: change.changed_fields.clone(),
        actor: change.actor.clone().into(),
        run_id: change.run_id.clone(),
        occurred_at: change.occurred_at.clone(),
        change_id: change.change_id.clone(),
    }
}

fn mask_change(change: &ChangeRecord, secrets: &Secrets) -> ChangeRecord {
    ChangeRecord {
        prev: change.prev.as_ref().map(|state| secrets.mask(state)),
        next: change.next.as_ref().map(|state| secrets.mask(state)),
        entity_id: secrets.mask_text(&change.entity_id),
        ..change.clone()
    }
}

fn mask_event(event: &EventRecord, secrets: &Secrets) -> EventRecord {
    EventRecord {
        payload: secrets.mask(&event.payload),
        context_key: event
            .context_key
            .as_deref()
            .map(|key| secrets.mask_text(key)),
        ..event.clone()
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
