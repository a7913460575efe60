//! A native host for a plugin's unit tests: [`TestHost`].
//!
//! It keeps to the contract the way the real host does, so a test that
//! passes here is not passing by accident: storage is ordered and bounded
//! like the host's (keys of 1 to 1024 bytes, values up to 1 MiB, scans of
//! 1 to 1000 entries that start at the prefix, or just past a cursor that
//! sorts after it); writes are only accepted inside an open mutation;
//! one mutation is open at a time; `prev` is the host's own record of the
//! entity; committing records a change only when a field differs, with the
//! sorted changed fields; abandoning, or dropping a mutation still open,
//! rolls back the writes made since it opened. The clock stands still
//! until moved and ids are numbered, so every run is reproducible.
//!
//! [`TestHost::run`] runs an action the way the host runs one
//! (`host-harness/src/run/pipeline.rs`): as a transaction (a failed run
//! leaves nothing behind); an `Err` from the plugin is its result, before
//! any protocol check; a success that dropped a mutation or left one open
//! is a host failure, and so is one whose artifact is present when the
//! action declares no artifact type, or missing when it declares one;
//! then the plugin's deriver is applied to the changes the run recorded,
//! each event must name a trigger declared for the change's entity kind,
//! by local id, and an event with no context key gets the payload field
//! its trigger's `context_key` names.
//!
//! # What only the real harness checks
//!
//! The test host has no JSON Schema validator (one is far too heavy for a
//! crate that is compiled into every plugin component), so it does **not**
//! check anything against the schemas the catalog declares:
//!
//! - configs against an action's `config_schema`: the host refuses a
//!   config that breaks it before the plugin runs, so a unit test sees
//!   only the plugin's own [`crate::config::parse`];
//! - entity states against a kind's `state_schema` (only that a state is
//!   a JSON object; [`TestHost::with_state_check`] stands in for the
//!   schema when a test supplies a check);
//! - artifacts against their artifact type's schema (only whether one is
//!   present, as above);
//! - event payloads against their trigger's `payload_schema`;
//! - a query's input and result against its `input_schema` and
//!   `result_schema` ([`TestHost::query`] only refuses writes).
//!
//! Nor does it refuse an action or a query the catalog does not declare. Check those
//! against the real harness: a scenario file run with `automation-harness
//! scenario <file> --plugin <component>`, or an integration test that
//! loads the built component into `automation_harness::Harness`. A
//! schema mistake passes here and fails there.
//!
//! ```
//! use plugin_sdk::prelude::*;
//! use plugin_sdk::testing::TestHost;
//!
//! let host = TestHost::new().with_kind("thing");
//! assert_eq!(
//!     host.set("a", b"1"),
//!     Err(plugin_sdk::host::StorageError::NotPermitted(
//!         "writes need an open entity mutation".into()
//!     ))
//! );
//! let mutation = host.open("thing", "t1", &MutationOptions::default()).expect("opens");
//! host.set("a", b"1").expect("inside the mutation");
//! mutation.commit(Some(serde_json::json!({"n": 1}))).expect("commits");
//! assert_eq!(host.keys(), ["a"]);
//! assert_eq!(host.changes()[0].changed_fields, ["n"]);
//! ```

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::ops::Bound;

use serde_json::Value;

use crate::catalog::{ActionDefinition, PluginDefinition};
use crate::entity::changed_fields;
use crate::host::{
    Actor, ChangeReceipt, EntityError, EntityHandle, Environment, Level, Log, MAX_VALUE_BYTES,
    Mutation, MutationOptions, Page, Storage, StorageError,
};
use crate::plugin::{
    ActionError, ActionSuccess, EntityChange, JobContext, Plugin, QueryError, RunContext,
    TriggerEvent,
};
use crate::time::Instant;

/// Where a new [`TestHost`]'s clock stands: `2026-03-01T10:00:00.000Z`.
pub const TEST_NOW: &str = "2026-03-01T10:00:00.000Z";

/// Most entries one scan returns, as the harness serves them.
pub use contract_rules::MAX_SCAN_LIMIT;

/// A change the test host's entity engine recorded.
#[derive(Clone, Debug, PartialEq)]
pub struct RecordedChange {
    /// The change's id.
    pub change_id: String,
    /// The local entity kind.
    pub kind: String,
    /// The entity id.
    pub id: String,
    /// The state before the write.
    pub prev: Option<Value>,
    /// The state after the write.
    pub next: Option<Value>,
    /// The fields that differ, sorted.
    pub changed_fields: Vec<String>,
    /// The options the write was opened with, as given.
    pub options: MutationOptions,
    /// The host clock when the change was recorded.
    pub occurred_at: Instant,
}

impl RecordedChange {
    /// The change as the plugin's deriver is shown it: the actor is the
    /// system when the write named none, as the host does.
    pub fn to_entity_change(&self) -> EntityChange {
        EntityChange {
            kind: self.kind.clone(),
            id: self.id.clone(),
            prev: self.prev.clone(),
            next: self.next.clone(),
            changed_fields: self.changed_fields.clone(),
            actor: self.options.actor.clone().unwrap_or_else(Actor::system),
            run_id: self.options.run_id.clone(),
            occurred_at: self.occurred_at,
            change_id: self.change_id.clone(),
        }
    }
}

/// One line the plugin logged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogLine {
    /// Its level.
    pub level: Level,
    /// Its text.
    pub message: String,
}

/// What a [`TestHost`] holds: the plugin's storage and the entity
/// engine's states. Two equal snapshots mean nothing was written between
/// them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Snapshot {
    /// The plugin's storage, by key.
    pub storage: BTreeMap<String, Vec<u8>>,
    /// The committed entity states, by kind and id.
    pub states: BTreeMap<(String, String), Value>,
}

/// What one [`TestHost::run`] did.
#[derive(Clone, Debug, PartialEq)]
pub struct TestRun {
    /// The run id it ran under.
    pub run_id: String,
    /// The plugin's result.
    pub result: Result<ActionSuccess, ActionError>,
    /// The changes it recorded (none when it failed: the host rolls a
    /// failed run back).
    pub changes: Vec<RecordedChange>,
    /// The events the deriver fired for them, in order.
    pub events: Vec<TriggerEvent>,
    /// The lines it logged (kept when it failed, as the host keeps them).
    pub logs: Vec<LogLine>,
}

impl TestRun {
    /// The texts of the lines logged.
    pub fn log_messages(&self) -> Vec<String> {
        self.logs.iter().map(|line| line.message.clone()).collect()
    }
}

/// A check of entity states, standing in for the kind's state schema:
/// returns the problems of `state` (of kind `kind`), one line each.
pub type StateCheck = Box<dyn Fn(&str, &Value) -> Vec<String>>;

/// The native host for unit tests; see the [module docs](self).
pub struct TestHost {
    state: RefCell<State>,
    state_check: Option<StateCheck>,
}

struct State {
    data: BTreeMap<String, Vec<u8>>,
    states: BTreeMap<(String, String), Value>,
    kinds: BTreeSet<String>,
    changes: Vec<RecordedChange>,
    logs: Vec<LogLine>,
    now: Instant,
    id_seed: u32,
    next_id: u64,
    next_change: u64,
    next_run: u64,
    run_id: Option<String>,
    open: Option<String>,
    violations: Vec<String>,
    writes_outside_mutations: bool,
}

impl Default for TestHost {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for TestHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state.borrow();
        f.debug_struct("TestHost")
            .field("keys", &state.data.len())
            .field("entities", &state.states.len())
            .field("changes", &state.changes.len())
            .field("now", &state.now)
            .finish_non_exhaustive()
    }
}

impl TestHost {
    /// An empty host with the clock at [`TEST_NOW`], ids numbered from 1,
    /// and no entity kind declared.
    pub fn new() -> Self {
        let now =
            Instant::parse(TEST_NOW).unwrap_or_else(|| unreachable!("TEST_NOW is a valid instant"));
        Self {
            state: RefCell::new(State {
                data: BTreeMap::new(),
                states: BTreeMap::new(),
                kinds: BTreeSet::new(),
                changes: Vec::new(),
                logs: Vec::new(),
                now,
                id_seed: 0,
                next_id: 1,
                next_change: 1,
                next_run: 1,
                run_id: None,
                open: None,
                violations: Vec::new(),
                writes_outside_mutations: false,
            }),
            state_check: None,
        }
    }

    /// An empty host that knows the entity kinds `plugin` declares.
    pub fn for_plugin<P: Plugin + ?Sized>(plugin: &P) -> Self {
        let catalog = plugin.catalog();
        catalog
            .entity_kinds
            .iter()
            .fold(Self::new(), |host, kind| host.with_kind(kind.kind))
    }

    /// Declares the entity kind `kind`; mutations of any other kind fail
    /// with [`EntityError::UnknownKind`].
    pub fn with_kind(self, kind: &str) -> Self {
        self.state.borrow_mut().kinds.insert(kind.to_owned());
        self
    }

    /// Checks every committed state with `check`, as the host checks
    /// states against the kind's schema: a state with problems fails the
    /// commit with [`EntityError::InvalidState`]. (Every state must be a
    /// JSON object, checked or not.)
    pub fn with_state_check(
        mut self,
        check: impl Fn(&str, &Value) -> Vec<String> + 'static,
    ) -> Self {
        self.state_check = Some(Box::new(check));
        self
    }

    /// Makes [`Environment::new_id`] spell `seed` in its first group, so
    /// hosts with different seeds never hand out the same id. Ids are
    /// still numbered in the order they are handed out.
    pub fn with_id_seed(self, seed: u32) -> Self {
        self.state.borrow_mut().id_seed = seed;
        self
    }

    /// Accepts storage writes with no mutation open, which the real host
    /// refuses: for unit tests of a storage layer below the entity
    /// protocol.
    pub fn with_writes_outside_mutations(self) -> Self {
        self.state.borrow_mut().writes_outside_mutations = true;
        self
    }

    /// Sets the clock to `instant` (RFC 3339).
    ///
    /// # Panics
    ///
    /// When `instant` is not an instant of years 0000-9999: a bug in the
    /// test.
    pub fn set_now(&self, instant: &str) {
        let now = Instant::parse(instant)
            .unwrap_or_else(|| panic!("set_now: {instant:?} is not an RFC 3339 instant"));
        self.state.borrow_mut().now = now;
    }

    /// Moves the clock by `minutes` (back when negative).
    ///
    /// # Panics
    ///
    /// When that leaves years 0000-9999.
    pub fn advance_minutes(&self, minutes: i64) {
        let mut state = self.state.borrow_mut();
        state.now = state
            .now
            .plus_minutes(minutes)
            .unwrap_or_else(|| panic!("advance_minutes: the clock leaves years 0000-9999"));
    }

    /// Every key in storage, in order.
    pub fn keys(&self) -> Vec<String> {
        self.state.borrow().data.keys().cloned().collect()
    }

    /// The value stored at `key`, read without any check.
    pub fn get_raw(&self, key: &str) -> Option<Vec<u8>> {
        self.state.borrow().data.get(key).cloned()
    }

    /// Stores `value` at `key` bypassing the protocol, as test set-up: as
    /// if an earlier run had written it.
    pub fn put_raw(&self, key: &str, value: &[u8]) {
        self.state
            .borrow_mut()
            .data
            .insert(key.to_owned(), value.to_vec());
    }

    /// The committed state of entity `kind/id`.
    pub fn state(&self, kind: &str, id: &str) -> Option<Value> {
        self.state
            .borrow()
            .states
            .get(&(kind.to_owned(), id.to_owned()))
            .cloned()
    }

    /// Everything the host holds, to compare before and after.
    pub fn snapshot(&self) -> Snapshot {
        let state = self.state.borrow();
        Snapshot {
            storage: state.data.clone(),
            states: state.states.clone(),
        }
    }

    /// Every change recorded so far, in order.
    pub fn changes(&self) -> Vec<RecordedChange> {
        self.state.borrow().changes.clone()
    }

    /// Every line logged so far, in order.
    pub fn logs(&self) -> Vec<LogLine> {
        self.state.borrow().logs.clone()
    }

    /// The texts of every line logged so far.
    pub fn log_messages(&self) -> Vec<String> {
        self.logs().into_iter().map(|line| line.message).collect()
    }

    /// Every way the plugin broke the protocol so far, such as dropping a
    /// mutation still open; the real host fails the run for each. A run
    /// whose action returned `Err` leaves none here: the host reports the
    /// plugin's own failure and rolls the run back, however it used its
    /// mutations.
    pub fn protocol_violations(&self) -> Vec<String> {
        self.state.borrow().violations.clone()
    }

    /// The events `plugin`'s deriver fires for every change recorded so
    /// far, in order; see [`TestHost::derive_change`].
    pub fn derive<P: Plugin + ?Sized>(&self, plugin: &P) -> Result<Vec<TriggerEvent>, String> {
        let catalog = plugin.catalog();
        let mut events = Vec::new();
        for change in self.changes() {
            events.extend(derive_checked(plugin, &catalog, &change)?);
        }
        Ok(events)
    }

    /// The events `plugin`'s deriver fires for `change`, checked as the
    /// host checks them: each names a trigger the catalog declares, by
    /// local id, for the change's entity kind. An event with no context
    /// key gets the payload field its trigger's `context_key` names, as
    /// the host fills it in. An error is what the host would fail the run
    /// with. (Payloads are not checked against the trigger's schema: see
    /// the [module docs](self).)
    pub fn derive_change<P: Plugin + ?Sized>(
        &self,
        plugin: &P,
        change: &RecordedChange,
    ) -> Result<Vec<TriggerEvent>, String> {
        derive_checked(plugin, &plugin.catalog(), change)
    }

    /// Runs action `action` of `plugin` with `config` as the host runs
    /// one, under a fresh run id with no actor.
    ///
    /// # Panics
    ///
    /// When the host would fail the run itself (see [`TestHost::try_run`]).
    pub fn run<P: Plugin + ?Sized>(&self, plugin: &P, action: &str, config: Value) -> TestRun {
        let context = RunContext::new(self.next_run_id());
        self.try_run(plugin, action, &config, &context)
            .unwrap_or_else(|error| panic!("the host failed the run of {action}: {error}"))
    }

    /// Runs action `action` of `plugin` with `config` in `context` as the
    /// host runs one: as one transaction, rolled back when the plugin
    /// fails, with the deriver applied to the changes it recorded.
    ///
    /// A plugin's own failure (`Err`) is its result, whatever else it did:
    /// the host reports it before it looks at how the run used the
    /// protocol, and rolls the run back whole, so a mutation the failed run
    /// dropped or left open is neither an error nor a
    /// [protocol violation](TestHost::protocol_violations). `Err` is a
    /// failure the host itself would report (and roll back) for a run the
    /// plugin reports as a success: a mutation dropped or left open, an
    /// artifact returned by an action that declares no artifact type or
    /// missing from one that declares one, a deriver error, an event of an
    /// undeclared trigger.
    pub fn try_run<P: Plugin + ?Sized>(
        &self,
        plugin: &P,
        action: &str,
        config: &Value,
        context: &RunContext,
    ) -> Result<TestRun, String> {
        let declared = plugin.catalog().action(action).cloned();
        self.transaction(plugin, &context.run_id, declared.as_ref(), |host| {
            plugin.run_action(host, action, config, context)
        })
    }

    /// Runs job `job` of `plugin` due at the host's clock, as the host
    /// runs one; see [`TestHost::try_run`]. `Err` is a failure the host
    /// itself would report.
    pub fn run_job<P: Plugin + ?Sized>(
        &self,
        plugin: &P,
        job: &str,
        actor: Actor,
    ) -> Result<TestRun, String> {
        let context = JobContext {
            run_id: self.next_run_id(),
            actor,
            scheduled_at: self.now(),
        };
        self.transaction(plugin, &context.run_id, None, |host| {
            plugin
                .run_job(host, job, &context)
                .map(|()| ActionSuccess::default())
        })
    }

    fn next_run_id(&self) -> String {
        let mut state = self.state.borrow_mut();
        let n = state.next_run;
        state.next_run += 1;
        format!("run-{n}")
    }

    /// Runs `body` as the host's run pipeline does (`run/pipeline.rs`):
    /// the plugin's failure first, then the protocol, then the artifact
    /// (of `action`, when the run is of a declared action), then the
    /// deriver.
    fn transaction<P: Plugin + ?Sized>(
        &self,
        plugin: &P,
        run_id: &str,
        action: Option<&ActionDefinition>,
        body: impl FnOnce(&Self) -> Result<ActionSuccess, ActionError>,
    ) -> Result<TestRun, String> {
        let (before, changes_before, logs_before, violations_before) = {
            let mut state = self.state.borrow_mut();
            state.run_id = Some(run_id.to_owned());
            (
                (state.data.clone(), state.states.clone()),
                state.changes.len(),
                state.logs.len(),
                state.violations.len(),
            )
        };
        let result = body(self);
        let mut state = self.state.borrow_mut();
        state.run_id = None;
        let left_open = state.open.take();
        let changes = state.changes[changes_before..].to_vec();
        let logs = state.logs[logs_before..].to_vec();
        let rollback = |state: &mut State| {
            (state.data, state.states) = before.clone();
            state.changes.truncate(changes_before);
        };
        let success = match result {
            Ok(success) => success,
            Err(failure) => {
                // The host returns the plugin's failure before it checks
                // for a mutation dropped or left open: the whole run is
                // rolled back anyway.
                rollback(&mut state);
                state.violations.truncate(violations_before);
                return Ok(TestRun {
                    run_id: run_id.to_owned(),
                    result: Err(failure),
                    changes: Vec::new(),
                    events: Vec::new(),
                    logs,
                });
            }
        };
        if let Some(open) = left_open {
            state
                .violations
                .push(format!("the run returned with the mutation of {open} open"));
        }
        let broken = state.violations[violations_before..]
            .first()
            .cloned()
            .or_else(|| action.and_then(|action| artifact_problem(action, &success)));
        if let Some(broken) = broken {
            rollback(&mut state);
            return Err(broken);
        }
        drop(state);
        let catalog = plugin.catalog();
        let mut events = Vec::new();
        for change in &changes {
            match derive_checked(plugin, &catalog, change) {
                Ok(fired) => events.extend(fired),
                Err(error) => {
                    rollback(&mut self.state.borrow_mut());
                    return Err(error);
                }
            }
        }
        Ok(TestRun {
            run_id: run_id.to_owned(),
            result: Ok(success),
            changes,
            events,
            logs,
        })
    }
}

/// What the host fails a successful run of `action` with, if anything:
/// an artifact must be present exactly when the action declares an
/// artifact type. (Whether it satisfies the type's schema only the real
/// harness checks.)
fn artifact_problem(action: &ActionDefinition, success: &ActionSuccess) -> Option<String> {
    match (action.produces, &success.artifact) {
        (None, Some(_)) => Some(format!(
            "action {} returned an artifact but declares no artifact type",
            action.id
        )),
        (Some(produces), None) => Some(format!(
            "action {} returned no artifact but declares {produces}",
            action.id
        )),
        _ => None,
    }
}

fn derive_checked<P: Plugin + ?Sized>(
    plugin: &P,
    catalog: &PluginDefinition,
    change: &RecordedChange,
) -> Result<Vec<TriggerEvent>, String> {
    let events = plugin.derive(&change.to_entity_change()).map_err(|error| {
        format!(
            "the deriver failed on {}/{}: {error}",
            change.kind, change.id
        )
    })?;
    events
        .into_iter()
        .map(|mut event| {
            let Some(trigger) = catalog
                .trigger(&event.trigger_id)
                .filter(|trigger| trigger.entity_kind == Some(change.kind.as_str()))
            else {
                return Err(format!(
                    "the deriver fired {:?} for a change of {}, which declares no such trigger \
                     (trigger ids are local, such as `created`)",
                    event.trigger_id, change.kind
                ));
            };
            // An event with no context key takes the payload field the
            // trigger names, when it is a string, as the host does.
            if event.context_key.is_none() {
                event.context_key = trigger
                    .context_key
                    .and_then(|key| event.payload.get(key))
                    .and_then(Value::as_str)
                    .map(str::to_owned);
            }
            Ok(event)
        })
        .collect()
}

/// The host's key rule.
fn check_key(key: &str) -> Result<(), StorageError> {
    contract_rules::key_problem(key)
        .map_or(Ok(()), |problem| Err(StorageError::InvalidKey(problem)))
}

impl State {
    fn check_write(&self) -> Result<(), StorageError> {
        if self.open.is_none() && !self.writes_outside_mutations {
            return Err(StorageError::NotPermitted(
                "writes need an open entity mutation".into(),
            ));
        }
        Ok(())
    }
}

impl Storage for TestHost {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
        check_key(key)?;
        Ok(self.get_raw(key))
    }

    fn set(&self, key: &str, value: &[u8]) -> Result<(), StorageError> {
        check_key(key)?;
        if value.len() > MAX_VALUE_BYTES {
            return Err(StorageError::ValueTooLarge(MAX_VALUE_BYTES as u64));
        }
        let mut state = self.state.borrow_mut();
        state.check_write()?;
        state.data.insert(key.to_owned(), value.to_vec());
        Ok(())
    }

    fn delete(&self, key: &str) -> Result<bool, StorageError> {
        check_key(key)?;
        let mut state = self.state.borrow_mut();
        state.check_write()?;
        Ok(state.data.remove(key).is_some())
    }

    fn scan(&self, prefix: &str, limit: u32, cursor: Option<&str>) -> Result<Page, StorageError> {
        let limit = limit.clamp(1, MAX_SCAN_LIMIT) as usize;
        let state = self.state.borrow();
        // As the host's backends: from the prefix, or from just past the
        // cursor when it sorts after the prefix; a cursor before the prefix
        // starts the scan at the prefix, it does not skip it.
        let start = match cursor {
            Some(after) if after >= prefix => after,
            _ => prefix,
        };
        let mut entries: Vec<(String, Vec<u8>)> = state
            .data
            .range::<str, _>((Bound::Included(start), Bound::Unbounded))
            .filter(|(key, _)| Some(key.as_str()) != cursor)
            .take_while(|(key, _)| key.starts_with(prefix))
            .take(limit + 1)
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect();
        let next_cursor = if entries.len() > limit {
            entries.truncate(limit);
            entries.last().map(|(key, _)| key.clone())
        } else {
            None
        };
        Ok(Page {
            entries,
            next_cursor,
        })
    }
}

/// An open mutation of a [`TestHost`].
pub struct TestMutation<'a> {
    host: &'a TestHost,
    kind: String,
    id: String,
    options: MutationOptions,
    prev: Option<Value>,
    /// The storage as it was when the mutation opened: its rollback point.
    savepoint: BTreeMap<String, Vec<u8>>,
    finished: bool,
}

impl TestMutation<'_> {
    fn label(&self) -> String {
        format!("{}/{}", self.kind, self.id)
    }

    /// Ends the mutation, rolling its writes back.
    fn roll_back(&mut self) {
        let mut state = self.host.state.borrow_mut();
        state.data = std::mem::take(&mut self.savepoint);
        state.open = None;
        self.finished = true;
    }
}

impl Mutation for TestMutation<'_> {
    fn prev(&self) -> Option<Value> {
        self.prev.clone()
    }

    fn commit(mut self, next: Option<Value>) -> Result<Option<ChangeReceipt>, EntityError> {
        if let Some(state) = &next {
            if !state.is_object() {
                return Err(EntityError::InvalidState(vec![
                    ": must be a JSON object".into(),
                ]));
            }
            if let Some(check) = &self.host.state_check {
                let problems = check(&self.kind, state);
                if !problems.is_empty() {
                    return Err(EntityError::InvalidState(problems));
                }
            }
        }
        self.finished = true;
        let mut state = self.host.state.borrow_mut();
        state.open = None;
        let changed = changed_fields(self.prev.as_ref(), next.as_ref());
        if changed.is_empty() {
            return Ok(None);
        }
        let key = (self.kind.clone(), self.id.clone());
        match &next {
            Some(value) => state.states.insert(key, value.clone()),
            None => state.states.remove(&key),
        };
        let n = state.next_change;
        state.next_change += 1;
        let change = RecordedChange {
            change_id: format!("{:08x}-0000-4000-9000-{n:012}", state.id_seed),
            kind: self.kind.clone(),
            id: self.id.clone(),
            prev: self.prev.take(),
            next,
            changed_fields: changed,
            options: std::mem::take(&mut self.options),
            occurred_at: state.now,
        };
        let receipt = ChangeReceipt {
            change_id: change.change_id.clone(),
            changed_fields: change.changed_fields.clone(),
            occurred_at: change.occurred_at.to_string(),
        };
        state.changes.push(change);
        Ok(Some(receipt))
    }

    fn abandon(mut self) -> Result<(), EntityError> {
        self.roll_back();
        Ok(())
    }
}

impl Drop for TestMutation<'_> {
    fn drop(&mut self) {
        if !self.finished {
            let label = self.label();
            self.roll_back();
            self.host
                .state
                .borrow_mut()
                .violations
                .push(format!("the mutation of {label} was dropped while open"));
        }
    }
}

impl EntityHandle for TestHost {
    type Mutation<'a> = TestMutation<'a>;

    fn open(
        &self,
        kind: &str,
        id: &str,
        options: &MutationOptions,
    ) -> Result<TestMutation<'_>, EntityError> {
        let mut state = self.state.borrow_mut();
        if !state.kinds.contains(kind) {
            return Err(EntityError::UnknownKind(kind.to_owned()));
        }
        if let Some(problem) = contract_rules::entity_id_problem(id) {
            return Err(EntityError::InvalidId(problem));
        }
        if let Some(open) = &state.open {
            return Err(EntityError::AlreadyOpen(open.clone()));
        }
        if let (Some(asked), Some(current)) = (&options.run_id, &state.run_id)
            && asked != current
        {
            return Err(EntityError::InvalidOptions(format!(
                "run id {asked} is not the current run {current}"
            )));
        }
        state.open = Some(format!("{kind}/{id}"));
        Ok(TestMutation {
            host: self,
            kind: kind.to_owned(),
            id: id.to_owned(),
            options: options.clone(),
            prev: state.states.get(&(kind.to_owned(), id.to_owned())).cloned(),
            savepoint: state.data.clone(),
            finished: false,
        })
    }
}

impl Log for TestHost {
    fn log(&self, level: Level, message: &str) {
        self.state.borrow_mut().logs.push(LogLine {
            level,
            message: message.to_owned(),
        });
    }
}

impl Environment for TestHost {
    fn now(&self) -> Instant {
        self.state.borrow().now
    }

    fn new_id(&self) -> String {
        let mut state = self.state.borrow_mut();
        let n = state.next_id;
        state.next_id += 1;
        format!("{:08x}-0000-4000-8000-{n:012}", state.id_seed)
    }
}

/// The host a query sees: the test host's reads, log and clock, with
/// every storage write refused as the host refuses it.
struct ReadOnly<'a>(&'a TestHost);

impl Storage for ReadOnly<'_> {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
        self.0.get(key)
    }

    fn set(&self, key: &str, _value: &[u8]) -> Result<(), StorageError> {
        check_key(key)?;
        Err(StorageError::NotPermitted(contract_rules::READ_ONLY.into()))
    }

    fn delete(&self, key: &str) -> Result<bool, StorageError> {
        check_key(key)?;
        Err(StorageError::NotPermitted(contract_rules::READ_ONLY.into()))
    }

    fn scan(&self, prefix: &str, limit: u32, cursor: Option<&str>) -> Result<Page, StorageError> {
        self.0.scan(prefix, limit, cursor)
    }
}

impl Log for ReadOnly<'_> {
    fn log(&self, level: Level, message: &str) {
        self.0.log(level, message);
    }
}

impl Environment for ReadOnly<'_> {
    fn now(&self) -> Instant {
        self.0.now()
    }

    fn new_id(&self) -> String {
        self.0.new_id()
    }
}

impl TestHost {
    /// Answers query `query` of `plugin` for `input`, as the host runs
    /// one: reads see everything stored, writes are refused with
    /// [`StorageError::NotPermitted`], and nothing is recorded.
    pub fn query<P: Plugin + ?Sized>(
        &self,
        plugin: &P,
        query: &str,
        input: &Value,
    ) -> Result<Value, QueryError> {
        plugin.run_query(&ReadOnly(self), query, input)
    }
}

#[cfg(test)]
mod tests;
