//! The wit-bindgen glue, in the component only: the WIT imports behind
//! the [`crate::host`] traits, and [`Adapter`], which implements the
//! generated `plugin` export over any [`Plugin`]. Conversions only; no
//! plugin logic lives here.

use std::marker::PhantomData;

use serde_json::Value;

use crate::catalog;
use crate::config::Problem;
use crate::host::{self, ChangeReceipt, EntityError, Level, Page, StorageError, SystemEnvironment};
use crate::plugin::{
    ActionError, ActionSuccess, EntityChange, JobContext, Plugin, QueryError, RunContext,
    TriggerEvent, TriggerScope,
};
use crate::time::Instant;

/// The generated bindings. Public only so that [`crate::export_plugin!`]
/// can reach them from the plugin's crate.
#[allow(missing_docs)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../wit",
        world: "queryable-plugin",
        // The plugin's crate invokes the export macro, through
        // `export_plugin!`.
        pub_export_macro: true,
        default_bindings_module: "plugin_sdk::__private::bindings",
    });
}

use bindings::checkstack::automation::{
    entity as wit_entity, log as wit_log, storage as wit_storage, types,
};
use bindings::exports::checkstack::automation::plugin as wit_plugin;
use bindings::exports::checkstack::automation::queries as wit_queries;

/// The component's view of its host: every call goes through a WIT import;
/// time and ids come from WASI, which the host serves.
struct WitHost;

fn storage_error(error: wit_storage::StorageError) -> StorageError {
    match error {
        wit_storage::StorageError::InvalidKey(reason) => StorageError::InvalidKey(reason),
        wit_storage::StorageError::ValueTooLarge(limit) => StorageError::ValueTooLarge(limit),
        wit_storage::StorageError::Unavailable(reason) => StorageError::Unavailable(reason),
        wit_storage::StorageError::NotPermitted(reason) => StorageError::NotPermitted(reason),
    }
}

impl host::Storage for WitHost {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
        wit_storage::get(key).map_err(storage_error)
    }

    fn set(&self, key: &str, value: &[u8]) -> Result<(), StorageError> {
        wit_storage::set(key, value).map_err(storage_error)
    }

    fn delete(&self, key: &str) -> Result<bool, StorageError> {
        wit_storage::delete(key).map_err(storage_error)
    }

    fn scan(&self, prefix: &str, limit: u32, cursor: Option<&str>) -> Result<Page, StorageError> {
        let page = wit_storage::scan(prefix, limit, cursor).map_err(storage_error)?;
        Ok(Page {
            entries: page
                .entries
                .into_iter()
                .map(|entry| (entry.key, entry.value))
                .collect(),
            next_cursor: page.next_cursor,
        })
    }
}

fn entity_error(error: wit_entity::EntityError) -> EntityError {
    match error {
        wit_entity::EntityError::UnknownKind(kind) => EntityError::UnknownKind(kind),
        wit_entity::EntityError::InvalidId(reason) => EntityError::InvalidId(reason),
        wit_entity::EntityError::InvalidOptions(reason) => EntityError::InvalidOptions(reason),
        wit_entity::EntityError::InvalidState(problems) => EntityError::InvalidState(
            problems
                .into_iter()
                .map(|p| format!("{}: {}", p.path, p.message))
                .collect(),
        ),
        wit_entity::EntityError::AlreadyOpen(what) => EntityError::AlreadyOpen(what),
        wit_entity::EntityError::Finished => EntityError::Finished,
        wit_entity::EntityError::Unavailable(reason) => EntityError::Unavailable(reason),
        wit_entity::EntityError::NotPermitted(reason) => EntityError::NotPermitted(reason),
    }
}

/// An open mutation resource.
struct WitMutation(wit_entity::Mutation);

impl host::Mutation for WitMutation {
    fn prev(&self) -> Option<Value> {
        // The host only ever sends JSON (it is the state it stored).
        self.0
            .prev()
            .and_then(|text| serde_json::from_str(&text).ok())
    }

    fn commit(self, next: Option<Value>) -> Result<Option<ChangeReceipt>, EntityError> {
        let next = next.map(|state| state.to_string());
        self.0
            .commit(next.as_deref())
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

fn actor_to_wit(actor: &host::Actor) -> types::Actor {
    types::Actor {
        type_: match actor.kind {
            host::ActorType::System => types::ActorType::System,
            host::ActorType::User => types::ActorType::User,
            host::ActorType::Application => types::ActorType::Application,
            host::ActorType::Service => types::ActorType::Service,
        },
        id: actor.id.clone(),
        name: actor.name.clone(),
    }
}

fn actor_from_wit(actor: types::Actor) -> host::Actor {
    host::Actor {
        kind: match actor.type_ {
            types::ActorType::System => host::ActorType::System,
            types::ActorType::User => host::ActorType::User,
            types::ActorType::Application => host::ActorType::Application,
            types::ActorType::Service => host::ActorType::Service,
        },
        id: actor.id,
        name: actor.name,
    }
}

impl host::EntityHandle for WitHost {
    type Mutation<'a> = WitMutation;

    fn open(
        &self,
        kind: &str,
        id: &str,
        options: &host::MutationOptions,
    ) -> Result<WitMutation, EntityError> {
        let options = wit_entity::MutationOptions {
            run_id: options.run_id.clone(),
            actor: options.actor.as_ref().map(actor_to_wit),
        };
        wit_entity::Mutation::open(kind, id, &options)
            .map(WitMutation)
            .map_err(entity_error)
    }
}

impl host::Log for WitHost {
    fn log(&self, level: Level, message: &str) {
        let level = match level {
            Level::Trace => wit_log::Level::Trace,
            Level::Debug => wit_log::Level::Debug,
            Level::Info => wit_log::Level::Info,
            Level::Warn => wit_log::Level::Warn,
            Level::Error => wit_log::Level::Error,
        };
        wit_log::log(level, message);
    }
}

impl host::Environment for WitHost {
    fn now(&self) -> Instant {
        SystemEnvironment.now()
    }

    fn new_id(&self) -> String {
        SystemEnvironment.new_id()
    }
}

/// Implements the generated `plugin` export over the plugin `P`; see
/// [`crate::export_plugin!`].
pub struct Adapter<P>(PhantomData<P>);

fn trigger_to_wit(trigger: catalog::TriggerDefinition) -> wit_plugin::TriggerDefinition {
    wit_plugin::TriggerDefinition {
        id: trigger.id.into(),
        display_name: trigger.display_name.into(),
        description: trigger.description.into(),
        category: trigger.category.into(),
        icon: trigger.icon.into(),
        payload_schema: trigger.payload_schema.into(),
        context_key: trigger.context_key.map(Into::into),
        entity_kind: trigger.entity_kind.map(Into::into),
    }
}

fn action_to_wit(action: catalog::ActionDefinition) -> wit_plugin::ActionDefinition {
    wit_plugin::ActionDefinition {
        id: action.id.into(),
        display_name: action.display_name.into(),
        description: action.description.into(),
        category: action.category.into(),
        icon: action.icon.into(),
        config_version: action.config_version,
        config_schema: action.config_schema.into(),
        produces: action.produces.map(Into::into),
    }
}

fn problems_to_wit(problems: Vec<Problem>) -> Vec<types::Problem> {
    problems
        .into_iter()
        .map(|p| types::Problem {
            path: p.path,
            message: p.message,
        })
        .collect()
}

fn error_to_wit(error: ActionError) -> wit_plugin::ActionError {
    match error {
        ActionError::InvalidConfig(problems) => {
            wit_plugin::ActionError::InvalidConfig(problems_to_wit(problems))
        }
        ActionError::NotFound(message) => wit_plugin::ActionError::NotFound(message),
        ActionError::Internal(message) => wit_plugin::ActionError::Internal(message),
    }
}

/// Reads a `json` the host sent. The host checks every document it sends,
/// so one that does not parse means the host broke the contract: trap, so
/// it reports that and rolls the run back.
fn host_json(what: &str, text: &str) -> Value {
    serde_json::from_str(text)
        .unwrap_or_else(|error| panic!("the host sent a {what} that is not JSON: {error}"))
}

/// Reads an `instant` the host sent; see [`host_json`] for why it traps.
fn host_instant(what: &str, text: &str) -> Instant {
    Instant::parse(text).unwrap_or_else(|| panic!("the host sent a malformed {what}: {text}"))
}

impl<P: Plugin + Default> wit_plugin::Guest for Adapter<P> {
    fn definitions() -> wit_plugin::PluginDefinition {
        let catalog = P::default().catalog();
        wit_plugin::PluginDefinition {
            id: catalog.id.into(),
            version: catalog.version.into(),
            triggers: catalog.triggers.into_iter().map(trigger_to_wit).collect(),
            actions: catalog.actions.into_iter().map(action_to_wit).collect(),
            artifact_types: catalog
                .artifact_types
                .into_iter()
                .map(|t| wit_plugin::ArtifactType {
                    id: t.id.into(),
                    name: t.name.into(),
                    description: t.description.into(),
                    schema: t.schema.into(),
                })
                .collect(),
            entity_kinds: catalog
                .entity_kinds
                .into_iter()
                .map(|k| wit_plugin::EntityKind {
                    kind: k.kind.into(),
                    state_schema: k.state_schema.into(),
                })
                .collect(),
            jobs: catalog
                .jobs
                .into_iter()
                .map(|job| wit_plugin::JobDefinition {
                    id: job.id.into(),
                    display_name: job.display_name.into(),
                    description: job.description.into(),
                    schedule: wit_plugin::Schedule::EverySeconds(job.every_seconds),
                })
                .collect(),
        }
    }

    fn run_action(
        action_id: String,
        config: String,
        context: wit_plugin::RunContext,
    ) -> Result<wit_plugin::ActionSuccess, wit_plugin::ActionError> {
        let config: Value = serde_json::from_str(&config).map_err(|error| {
            wit_plugin::ActionError::InvalidConfig(vec![types::Problem {
                path: String::new(),
                message: format!("is not valid JSON: {error}"),
            }])
        })?;
        let context = RunContext {
            run_id: context.run_id,
            actor: context.actor.map(actor_from_wit),
            automation_id: context.automation_id,
            trigger: context.trigger.map(|trigger| TriggerScope {
                trigger_id: trigger.trigger_id,
                event_id: trigger.event_id,
                payload: host_json("trigger payload", &trigger.payload),
                context_key: trigger.context_key,
            }),
            attempt: context.attempt,
        };
        P::default()
            .run_action(&WitHost, &action_id, &config, &context)
            .map(|success: ActionSuccess| wit_plugin::ActionSuccess {
                external_id: success.external_id,
                artifact: success.artifact.map(|artifact| artifact.to_string()),
            })
            .map_err(error_to_wit)
    }

    fn run_job(
        job_id: String,
        context: wit_plugin::JobContext,
    ) -> Result<(), wit_plugin::ActionError> {
        let scheduled_at = Instant::parse(&context.scheduled_at).ok_or_else(|| {
            wit_plugin::ActionError::Internal(format!(
                "the host sent a malformed scheduled-at: {}",
                context.scheduled_at
            ))
        })?;
        let context = JobContext {
            run_id: context.run_id,
            actor: actor_from_wit(context.actor),
            scheduled_at,
        };
        P::default()
            .run_job(&WitHost, &job_id, &context)
            .map_err(error_to_wit)
    }

    fn derive(change: wit_plugin::EntityChange) -> Vec<wit_plugin::TriggerEvent> {
        let decode = |what: &str, state: Option<String>| -> Option<Value> {
            state.map(|text| host_json(what, &text))
        };
        let change = EntityChange {
            prev: decode("previous state", change.prev),
            next: decode("next state", change.next),
            occurred_at: host_instant("occurred-at", &change.occurred_at),
            kind: change.kind,
            id: change.id,
            changed_fields: change.changed_fields,
            actor: actor_from_wit(change.actor),
            run_id: change.run_id,
            change_id: change.change_id,
        };
        // A change the plugin cannot read breaks the host's side of the
        // contract: trap, so the host reports it and rolls the run back.
        let events: Vec<TriggerEvent> = P::default()
            .derive(&change)
            .unwrap_or_else(|error| panic!("{error}"));
        events
            .into_iter()
            .map(|event| wit_plugin::TriggerEvent {
                trigger_id: event.trigger_id,
                payload: event.payload.to_string(),
                context_key: event.context_key,
            })
            .collect()
    }
}

impl<P: Plugin + Default> wit_queries::Guest for Adapter<P> {
    fn definitions() -> Vec<wit_queries::QueryDefinition> {
        P::default()
            .catalog()
            .queries
            .into_iter()
            .map(|query| wit_queries::QueryDefinition {
                id: query.id.into(),
                display_name: query.display_name.into(),
                description: query.description.into(),
                input_schema: query.input_schema.into(),
                result_schema: query.result_schema.into(),
            })
            .collect()
    }

    fn run_query(query_id: String, input: String) -> Result<String, wit_queries::QueryError> {
        let input = host_json("query input", &input);
        P::default()
            .run_query(&WitHost, &query_id, &input)
            .map(|result| result.to_string())
            .map_err(|error| match error {
                QueryError::InvalidInput(problems) => {
                    wit_queries::QueryError::InvalidInput(problems_to_wit(problems))
                }
                QueryError::NotFound(message) => wit_queries::QueryError::NotFound(message),
                QueryError::Internal(message) => wit_queries::QueryError::Internal(message),
            })
    }
}
