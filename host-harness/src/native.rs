//! Plugins compiled into the host process, run by the same engine as
//! components but without a sandbox.
//!
//! A native plugin is trusted code: it can do anything the host process
//! can. It exists as the baseline the sandbox is measured against (the
//! same domain code, the same entity engine and store, no wasm in
//! between) and so a plugin author can check that the native build of
//! their logic and their component agree. See [`crate::Harness::run_native`].

use std::cell::RefCell;
use std::sync::Arc;

use anyhow::{anyhow, bail};
use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::catalog::Catalog;
use crate::engine::{MutationState, Session};
use crate::records::{Actor, ChangeRecord, LogLevel};
use crate::run::{
    ActionFailure, ActionSuccess, AutomationContext, Document, Guest, GuestEvent, GuestSuccess,
    Invocation,
};

pub use crate::engine::{ChangeReceipt, EntityError, Entry, Page, StorageError};
pub use crate::records::Problem as StateProblem;

/// What a run tells a native action.
#[derive(Clone, Debug)]
pub struct NativeRunContext {
    /// The run's id; entity writes may carry it, or leave it out and the
    /// host fills it in.
    pub run_id: String,
    /// The actor of the trigger that started the run.
    pub actor: Option<Actor>,
    /// The automation, trigger event and attempt, when the run is an
    /// automation's step.
    pub automation: Option<AutomationContext>,
}

/// An event a native deriver fires.
#[derive(Clone, Debug)]
pub struct NativeEvent {
    /// The trigger's local id, such as `created`; a qualified id is refused
    /// like any undeclared trigger.
    pub trigger_id: String,
    /// The event's payload, which must satisfy the trigger's payload
    /// schema.
    pub payload: Value,
    /// The event's context key; when absent, the host reads it from the
    /// payload field the trigger names as its context key.
    pub context_key: Option<String>,
}

/// A plugin's logic as native code: the counterpart of the component's
/// `run-action` and `derive` exports. The catalog still comes from the
/// loaded component, so both are checked against the same schemas.
pub trait NativePlugin {
    /// Runs action `action` (a local id) with a config the host has
    /// already checked against the action's schema.
    fn run_action(
        &self,
        host: &NativeHost,
        action: &str,
        config: &Value,
        context: &NativeRunContext,
    ) -> Result<ActionSuccess, ActionFailure>;

    /// Derives trigger events from one recorded change. An error is the
    /// native counterpart of a trap: it fails the run.
    fn derive(&self, change: &ChangeRecord) -> Result<Vec<NativeEvent>, String>;
}

/// The host as a native plugin sees it: the same storage, entity engine,
/// log, clock and randomness a component reaches through its imports.
pub struct NativeHost {
    session: RefCell<Session>,
}

impl NativeHost {
    /// The value at `key` in the plugin's own key space, absent when there
    /// is none; sees the run's own uncommitted writes.
    pub fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
        self.session.borrow_mut().storage_get(key)
    }

    /// Writes need an open mutation, as for a component.
    pub fn set(&self, key: &str, value: &[u8]) -> Result<(), StorageError> {
        self.session.borrow_mut().storage_set(key, value)
    }

    /// Removes the value at `key`; true when there was one. Needs an open
    /// mutation, like [`Self::set`].
    pub fn delete(&self, key: &str) -> Result<bool, StorageError> {
        self.session.borrow_mut().storage_delete(key)
    }

    /// At most `limit` entries whose keys start with `prefix`, in ascending
    /// key order, after `cursor` (a previous page's [`Page::next_cursor`]).
    /// `limit` is held between 1 and
    /// [`MAX_SCAN_LIMIT`](crate::limits::MAX_SCAN_LIMIT).
    pub fn scan(
        &self,
        prefix: &str,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<Page, StorageError> {
        self.session
            .borrow_mut()
            .storage_scan(prefix, limit, cursor)
    }

    /// Opens a write of entity `kind/id`; see `interface entity`.
    pub fn open(
        &self,
        kind: &str,
        id: &str,
        run_id: Option<&str>,
        actor: Option<Actor>,
    ) -> Result<NativeMutation<'_>, EntityError> {
        let state = self
            .session
            .borrow_mut()
            .open_mutation(kind, id, run_id, actor)?;
        Ok(NativeMutation { host: self, state })
    }

    /// Appends a line to the run's log, which the run's outcome returns;
    /// past [`MAX_LOG_BYTES`](crate::limits::MAX_LOG_BYTES) lines are
    /// dropped.
    pub fn log(&self, level: LogLevel, message: &str) {
        self.session.borrow_mut().log(level, message.to_owned());
    }

    /// The run's clock, as a component reads it through WASI.
    pub fn now(&self) -> DateTime<Utc> {
        match &self.session.borrow().run {
            Some(run) => run.clock.now(),
            None => Utc::now(),
        }
    }

    /// A random UUID from the run's randomness, as a component draws it
    /// through WASI random.
    pub fn uuid(&self) -> String {
        match &self.session.borrow().run {
            Some(run) => run.randomness.uuid(),
            None => uuid::Uuid::new_v4().to_string(),
        }
    }
}

/// One open write of one entity. Dropping it without [`Self::commit`] or
/// [`Self::abandon`] rolls its writes back and fails the run, as for a
/// component.
pub struct NativeMutation<'h> {
    host: &'h NativeHost,
    state: MutationState,
}

impl NativeMutation<'_> {
    /// The entity's committed state before this write.
    pub fn prev(&self) -> Option<&Value> {
        self.state.prev()
    }

    /// Ends the write with the entity's new state, `None` to delete it,
    /// checked against the kind's state schema. Returns the recorded
    /// change, or `None` when no field differs. Unlike a component's
    /// commit, a failed one cannot be retried: the mutation is consumed
    /// either way.
    pub fn commit(mut self, next: Option<Value>) -> Result<Option<ChangeReceipt>, EntityError> {
        self.host
            .session
            .borrow_mut()
            .commit_mutation(&mut self.state, next)
    }

    /// Ends the write without a change, rolling back the storage writes
    /// made while it was open.
    pub fn abandon(mut self) -> Result<(), EntityError> {
        match self.host.session.borrow_mut().end_mutation(&mut self.state) {
            Ok(true) => Ok(()),
            Ok(false) => Err(EntityError::Finished),
            Err(error) => Err(EntityError::Unavailable(format!("{error:#}"))),
        }
    }
}

impl Drop for NativeMutation<'_> {
    fn drop(&mut self) {
        if let Err(error) = self
            .host
            .session
            .borrow_mut()
            .drop_mutation(&mut self.state)
        {
            tracing::error!("rolling back a dropped mutation failed: {error:#}");
        }
    }
}

/// Runs a [`NativePlugin`] for the engine.
pub(crate) struct NativeGuest<'p> {
    plugin: &'p dyn NativePlugin,
    host: NativeHost,
}

impl<'p> NativeGuest<'p> {
    pub fn new(plugin: &'p dyn NativePlugin, catalog: &Arc<Catalog>) -> Self {
        Self {
            plugin,
            host: NativeHost {
                session: RefCell::new(Session::new(Arc::clone(catalog))),
            },
        }
    }
}

impl Guest for NativeGuest<'_> {
    fn session(&mut self) -> &mut Session {
        self.host.session.get_mut()
    }

    fn invoke(
        &mut self,
        invocation: &Invocation,
        run_id: &str,
    ) -> anyhow::Result<Result<Option<GuestSuccess>, ActionFailure>> {
        let Invocation::Action {
            local_id,
            config,
            actor,
            automation,
            ..
        } = invocation
        else {
            bail!("native plugins run actions only");
        };
        let context = NativeRunContext {
            run_id: run_id.to_owned(),
            actor: actor.clone(),
            automation: automation.as_deref().cloned(),
        };
        Ok(self
            .plugin
            .run_action(&self.host, local_id, config, &context)
            .map(|success| {
                Some(GuestSuccess {
                    external_id: success.external_id,
                    artifact: success.artifact.map(Document::Value),
                })
            }))
    }

    fn derive(&mut self, change: &ChangeRecord) -> anyhow::Result<Vec<GuestEvent>> {
        let events = self.plugin.derive(change).map_err(|error| anyhow!(error))?;
        Ok(events
            .into_iter()
            .map(|event| GuestEvent {
                trigger_id: event.trigger_id,
                payload: Document::Value(event.payload),
                context_key: event.context_key,
            })
            .collect())
    }
}
