//! SDK plugins compiled natively and run by the harness's engine through
//! [`Harness::run_native`]: the baseline the component is compared with,
//! in tests (same outcomes) and benchmarks (the physical limit of the
//! work). [`Native`] adapts any [`plugin_sdk::Plugin`]: the harness's
//! native host behind the SDK's host traits, what the SDK's component
//! glue does over the WIT imports, minus the wasm.
//!
//! [`Harness::run_native`]: automation_harness::Harness::run_native

use automation_harness::native::{self, NativeEvent, NativeHost, NativePlugin, NativeRunContext};
use automation_harness::{ActionFailure, ActionSuccess, ChangeRecord, LogLevel, Problem};
use maintenance_plugin::MaintenancePlugin;
use plugin_sdk::host::{self, ChangeReceipt, EntityError, Level, StorageError};
use plugin_sdk::{ActionError, EntityChange, Instant, Plugin, RunContext};
use serde_json::Value;

/// An SDK plugin as a [`NativePlugin`].
#[derive(Clone, Copy, Debug, Default)]
pub struct Native<P>(pub P);

/// The maintenance plugin as a [`NativePlugin`].
pub const NATIVE_MAINTENANCE: Native<MaintenancePlugin> = Native(MaintenancePlugin);

impl<P: Plugin> NativePlugin for Native<P> {
    fn run_action(
        &self,
        host: &NativeHost,
        action: &str,
        config: &Value,
        context: &NativeRunContext,
    ) -> Result<ActionSuccess, ActionFailure> {
        let mut run = RunContext::new(context.run_id.clone());
        run.actor = context.actor.clone().map(actor_to_plugin);
        if let Some(automation) = &context.automation {
            run.automation_id = Some(automation.automation_id.clone());
            run.trigger = Some(plugin_sdk::TriggerScope {
                trigger_id: automation.trigger.trigger_id.clone(),
                event_id: automation.trigger.event_id.clone(),
                payload: automation.trigger.payload.clone(),
                context_key: automation.trigger.context_key.clone(),
            });
            run.attempt = automation.attempt;
        }
        self.0
            .run_action(&Adapter(host), action, config, &run)
            .map(|success| ActionSuccess {
                external_id: success.external_id,
                artifact: success.artifact,
            })
            .map_err(|error| match error {
                ActionError::InvalidConfig(problems) => ActionFailure::InvalidConfig(
                    problems
                        .into_iter()
                        .map(|p| Problem {
                            path: p.path,
                            message: p.message,
                        })
                        .collect(),
                ),
                ActionError::NotFound(message) => ActionFailure::NotFound(message),
                ActionError::Internal(message) => ActionFailure::Internal(message),
            })
    }

    fn derive(&self, change: &ChangeRecord) -> Result<Vec<NativeEvent>, String> {
        let occurred_at = Instant::parse(&change.occurred_at).ok_or_else(|| {
            format!(
                "the host recorded a malformed instant: {}",
                change.occurred_at
            )
        })?;
        let change = EntityChange {
            kind: change.kind.clone(),
            id: change.entity_id.clone(),
            prev: change.prev.clone(),
            next: change.next.clone(),
            changed_fields: change.changed_fields.clone(),
            actor: actor_to_plugin(change.actor.clone()),
            run_id: change.run_id.clone(),
            occurred_at,
            change_id: change.change_id.clone(),
        };
        Ok(self
            .0
            .derive(&change)?
            .into_iter()
            .map(|event| NativeEvent {
                trigger_id: event.trigger_id,
                payload: event.payload,
                context_key: event.context_key,
            })
            .collect())
    }
}

/// The SDK's host traits over the harness's native host.
struct Adapter<'h>(&'h NativeHost);

fn storage_error(error: native::StorageError) -> StorageError {
    match error {
        native::StorageError::InvalidKey(reason) => StorageError::InvalidKey(reason),
        native::StorageError::ValueTooLarge(limit) => StorageError::ValueTooLarge(limit),
        native::StorageError::Unavailable(reason) => StorageError::Unavailable(reason),
        native::StorageError::NotPermitted(reason) => StorageError::NotPermitted(reason),
    }
}

fn entity_error(error: native::EntityError) -> EntityError {
    match error {
        native::EntityError::UnknownKind(kind) => EntityError::UnknownKind(kind),
        native::EntityError::InvalidId(reason) => EntityError::InvalidId(reason),
        native::EntityError::InvalidOptions(reason) => EntityError::InvalidOptions(reason),
        native::EntityError::InvalidState(problems) => EntityError::InvalidState(
            problems
                .into_iter()
                .map(|p| format!("{}: {}", p.path, p.message))
                .collect(),
        ),
        native::EntityError::AlreadyOpen(what) => EntityError::AlreadyOpen(what),
        native::EntityError::Finished => EntityError::Finished,
        native::EntityError::Unavailable(reason) => EntityError::Unavailable(reason),
        native::EntityError::NotPermitted(reason) => EntityError::NotPermitted(reason),
    }
}

fn actor_to_plugin(actor: automation_harness::Actor) -> host::Actor {
    use automation_harness::ActorType;
    host::Actor {
        kind: match actor.kind {
            ActorType::System => host::ActorType::System,
            ActorType::User => host::ActorType::User,
            ActorType::Application => host::ActorType::Application,
            ActorType::Service => host::ActorType::Service,
        },
        id: actor.id,
        name: actor.name,
    }
}

fn actor_from_plugin(actor: host::Actor) -> automation_harness::Actor {
    use automation_harness::ActorType;
    automation_harness::Actor {
        kind: match actor.kind {
            host::ActorType::System => ActorType::System,
            host::ActorType::User => ActorType::User,
            host::ActorType::Application => ActorType::Application,
            host::ActorType::Service => ActorType::Service,
        },
        id: actor.id,
        name: actor.name,
    }
}

impl host::Storage for Adapter<'_> {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
        self.0.get(key).map_err(storage_error)
    }

    fn set(&self, key: &str, value: &[u8]) -> Result<(), StorageError> {
        self.0.set(key, value).map_err(storage_error)
    }

    fn delete(&self, key: &str) -> Result<bool, StorageError> {
        self.0.delete(key).map_err(storage_error)
    }

    fn scan(
        &self,
        prefix: &str,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<host::Page, StorageError> {
        let page = self.0.scan(prefix, limit, cursor).map_err(storage_error)?;
        Ok(host::Page {
            entries: page
                .entries
                .into_iter()
                .map(|entry| (entry.key, entry.value))
                .collect(),
            next_cursor: page.next_cursor,
        })
    }
}

/// One open write, as the SDK's [`host::Mutation`].
struct AdapterMutation<'h>(native::NativeMutation<'h>);

impl host::Mutation for AdapterMutation<'_> {
    fn prev(&self) -> Option<Value> {
        self.0.prev().cloned()
    }

    fn commit(self, next: Option<Value>) -> Result<Option<ChangeReceipt>, EntityError> {
        self.0
            .commit(next)
            .map(|receipt| {
                receipt.map(|receipt| ChangeReceipt {
                    change_id: receipt.change_id,
                    changed_fields: receipt.changed_fields,
                    occurred_at: receipt.occurred_at,
                })
            })
            .map_err(entity_error)
    }

    fn abandon(self) -> Result<(), EntityError> {
        self.0.abandon().map_err(entity_error)
    }
}

impl host::EntityHandle for Adapter<'_> {
    type Mutation<'a>
        = AdapterMutation<'a>
    where
        Self: 'a;

    fn open(
        &self,
        kind: &str,
        id: &str,
        options: &host::MutationOptions,
    ) -> Result<AdapterMutation<'_>, EntityError> {
        self.0
            .open(
                kind,
                id,
                options.run_id.as_deref(),
                options.actor.clone().map(actor_from_plugin),
            )
            .map(AdapterMutation)
            .map_err(entity_error)
    }
}

impl host::Log for Adapter<'_> {
    fn log(&self, level: Level, message: &str) {
        let level = match level {
            Level::Trace => LogLevel::Trace,
            Level::Debug => LogLevel::Debug,
            Level::Info => LogLevel::Info,
            Level::Warn => LogLevel::Warn,
            Level::Error => LogLevel::Error,
        };
        self.0.log(level, message);
    }
}

impl host::Environment for Adapter<'_> {
    fn now(&self) -> Instant {
        Instant::from_datetime(self.0.now())
    }

    fn new_id(&self) -> String {
        self.0.uuid()
    }
}
