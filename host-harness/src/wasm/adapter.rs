//! The contract versions the host serves, each mapped onto the one engine
//! and run pipeline: the imports a component calls (`types`, `log`,
//! `storage`, `entity`) become [`crate::engine::Session`] calls, and the
//! exports the pipeline calls (`definitions`, `run-action`, `run-job`,
//! `derive`) take and return the pipeline's own types.
//!
//! Every served version has the same shape, so one macro writes each
//! version's adapter from its generated bindings; what a version answers
//! differently is an argument of the macro, and what it accepts
//! differently is handled in [`Exports`].

use std::time::Instant;

use wasmtime::Store;
use wasmtime::component::{Component, HasSelf, InstancePre, Linker};

use super::bindings;
use super::sandbox::bounded;
use super::store::HostState;
use super::version::ContractVersion;
use crate::catalog::PluginDefinition;
use crate::records::{Actor, ChangeRecord};
use crate::run::{
    ActionFailure, AutomationContext, Document, GuestEvent, GuestSuccess, QueryFailure,
};

/// Writes the adapter of one contract version. `not_permitted` names the
/// storage and entity error case that version reports a call the contract
/// does not allow with.
macro_rules! contract_adapter {
    ($version:ident, bindings: $bindings:ident, not_permitted: $not_permitted:ident) => {
        pub(crate) mod $version {
            use std::time::Instant;

            use serde_json::Value;
            use wasmtime::Store;
            use wasmtime::component::Resource;

            use crate::catalog;
            use crate::engine::{self, MutationState};
            use crate::records::{Actor, ActorType, ChangeRecord, LogLevel, Problem};
            use crate::run::{ActionFailure, Document, GuestEvent, GuestSuccess};
            use crate::wasm::bindings::$bindings::checkstack::automation::{
                entity, log, storage, types,
            };
            use crate::wasm::bindings::$bindings::exports::checkstack::automation::plugin as wit;
            use crate::wasm::sandbox::bounded;
            use crate::wasm::store::HostState;

            fn actor_to_wit(actor: Actor) -> types::Actor {
                types::Actor {
                    type_: match actor.kind {
                        ActorType::System => types::ActorType::System,
                        ActorType::User => types::ActorType::User,
                        ActorType::Application => types::ActorType::Application,
                        ActorType::Service => types::ActorType::Service,
                    },
                    id: actor.id,
                    name: actor.name,
                }
            }

            fn actor_from_wit(actor: types::Actor) -> Actor {
                Actor {
                    kind: match actor.type_ {
                        types::ActorType::System => ActorType::System,
                        types::ActorType::User => ActorType::User,
                        types::ActorType::Application => ActorType::Application,
                        types::ActorType::Service => ActorType::Service,
                    },
                    id: actor.id,
                    name: actor.name,
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

            fn storage_error(error: engine::StorageError) -> storage::StorageError {
                match error {
                    engine::StorageError::InvalidKey(reason) => {
                        storage::StorageError::InvalidKey(reason)
                    }
                    engine::StorageError::ValueTooLarge(limit) => {
                        storage::StorageError::ValueTooLarge(limit)
                    }
                    engine::StorageError::Unavailable(reason) => {
                        storage::StorageError::Unavailable(reason)
                    }
                    engine::StorageError::NotPermitted(reason) => {
                        storage::StorageError::$not_permitted(reason)
                    }
                }
            }

            fn entity_error(error: engine::EntityError) -> entity::EntityError {
                match error {
                    engine::EntityError::UnknownKind(kind) => {
                        entity::EntityError::UnknownKind(kind)
                    }
                    engine::EntityError::InvalidId(reason) => {
                        entity::EntityError::InvalidId(reason)
                    }
                    engine::EntityError::InvalidOptions(reason) => {
                        entity::EntityError::InvalidOptions(reason)
                    }
                    engine::EntityError::InvalidState(problems) => {
                        entity::EntityError::InvalidState(problems_to_wit(problems))
                    }
                    engine::EntityError::AlreadyOpen(open) => {
                        entity::EntityError::AlreadyOpen(open)
                    }
                    engine::EntityError::Finished => entity::EntityError::Finished,
                    engine::EntityError::Unavailable(reason) => {
                        entity::EntityError::Unavailable(reason)
                    }
                    engine::EntityError::NotPermitted(reason) => {
                        entity::EntityError::$not_permitted(reason)
                    }
                }
            }

            /// A broken rollback is the host's failure, not the plugin's:
            /// it ends the run.
            fn trap(error: anyhow::Error) -> wasmtime::Error {
                wasmtime::Error::msg(format!("{error:#}"))
            }

            impl types::Host for HostState {}

            impl log::Host for HostState {
                fn log(&mut self, level: log::Level, message: String) -> wasmtime::Result<()> {
                    let level = match level {
                        log::Level::Trace => LogLevel::Trace,
                        log::Level::Debug => LogLevel::Debug,
                        log::Level::Info => LogLevel::Info,
                        log::Level::Warn => LogLevel::Warn,
                        log::Level::Error => LogLevel::Error,
                    };
                    self.session.log(level, message);
                    Ok(())
                }
            }

            type StorageResult<T> = wasmtime::Result<Result<T, storage::StorageError>>;

            impl storage::Host for HostState {
                fn get(&mut self, key: String) -> StorageResult<Option<Vec<u8>>> {
                    Ok(self.session.storage_get(&key).map_err(storage_error))
                }

                fn set(&mut self, key: String, value: Vec<u8>) -> StorageResult<()> {
                    Ok(self
                        .session
                        .storage_set(&key, &value)
                        .map_err(storage_error))
                }

                fn delete(&mut self, key: String) -> StorageResult<bool> {
                    Ok(self.session.storage_delete(&key).map_err(storage_error))
                }

                fn scan(
                    &mut self,
                    prefix: String,
                    limit: u32,
                    cursor: Option<String>,
                ) -> StorageResult<storage::Page> {
                    Ok(self
                        .session
                        .storage_scan(&prefix, limit, cursor.as_deref())
                        .map(|page| storage::Page {
                            entries: page
                                .entries
                                .into_iter()
                                .map(|entry| storage::Entry {
                                    key: entry.key,
                                    value: entry.value,
                                })
                                .collect(),
                            next_cursor: page.next_cursor,
                        })
                        .map_err(storage_error))
                }
            }

            type EntityResult<T> = wasmtime::Result<Result<T, entity::EntityError>>;

            impl entity::Host for HostState {}

            impl entity::HostMutation for HostState {
                fn open(
                    &mut self,
                    kind: String,
                    id: String,
                    options: entity::MutationOptions,
                ) -> EntityResult<Resource<MutationState>> {
                    let actor = options.actor.map(actor_from_wit);
                    match self
                        .session
                        .open_mutation(&kind, &id, options.run_id.as_deref(), actor)
                    {
                        Ok(mutation) => Ok(Ok(self.table.push(mutation)?)),
                        Err(error) => Ok(Err(entity_error(error))),
                    }
                }

                fn prev(
                    &mut self,
                    handle: Resource<MutationState>,
                ) -> wasmtime::Result<Option<String>> {
                    let mutation = self.table.get(&handle)?;
                    Ok(mutation.prev().map(Value::to_string))
                }

                fn commit(
                    &mut self,
                    handle: Resource<MutationState>,
                    next: Option<String>,
                ) -> EntityResult<Option<entity::ChangeReceipt>> {
                    let mutation = self.table.get_mut(&handle)?;
                    Ok(self
                        .session
                        .commit_text(mutation, next)
                        .map(|receipt| {
                            receipt.map(|receipt| entity::ChangeReceipt {
                                change_id: receipt.change_id,
                                changed_fields: receipt.changed_fields,
                                occurred_at: receipt.occurred_at,
                            })
                        })
                        .map_err(entity_error))
                }

                fn abandon(&mut self, handle: Resource<MutationState>) -> EntityResult<()> {
                    let mutation = self.table.get_mut(&handle)?;
                    if self.session.end_mutation(mutation).map_err(trap)? {
                        Ok(Ok(()))
                    } else {
                        Ok(Err(entity::EntityError::Finished))
                    }
                }

                fn drop(&mut self, handle: Resource<MutationState>) -> wasmtime::Result<()> {
                    let mut mutation = self.table.delete(handle)?;
                    self.session.drop_mutation(&mut mutation).map_err(trap)
                }
            }

            fn failure(error: wit::ActionError) -> ActionFailure {
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

            pub(super) fn definitions(
                exports: &wit::Guest,
                store: &mut Store<HostState>,
                deadline: Instant,
            ) -> wasmtime::Result<catalog::PluginDefinition> {
                let definition = bounded(deadline, exports.call_definitions(store))?;
                Ok(catalog::PluginDefinition {
                    id: definition.id,
                    version: definition.version,
                    triggers: definition
                        .triggers
                        .into_iter()
                        .map(|t| catalog::TriggerDefinition {
                            id: t.id,
                            display_name: t.display_name,
                            description: t.description,
                            category: t.category,
                            icon: t.icon,
                            payload_schema: t.payload_schema,
                            context_key: t.context_key,
                            entity_kind: t.entity_kind,
                        })
                        .collect(),
                    actions: definition
                        .actions
                        .into_iter()
                        .map(|a| catalog::ActionDefinition {
                            id: a.id,
                            display_name: a.display_name,
                            description: a.description,
                            category: a.category,
                            icon: a.icon,
                            config_version: a.config_version,
                            config_schema: a.config_schema,
                            produces: a.produces,
                        })
                        .collect(),
                    artifact_types: definition
                        .artifact_types
                        .into_iter()
                        .map(|t| catalog::ArtifactTypeDefinition {
                            id: t.id,
                            name: t.name,
                            description: t.description,
                            schema: t.schema,
                        })
                        .collect(),
                    entity_kinds: definition
                        .entity_kinds
                        .into_iter()
                        .map(|k| catalog::EntityKindDefinition {
                            kind: k.kind,
                            state_schema: k.state_schema,
                        })
                        .collect(),
                    jobs: definition
                        .jobs
                        .into_iter()
                        .map(|job| {
                            let wit::Schedule::EverySeconds(every_seconds) = job.schedule;
                            catalog::JobDefinition {
                                id: job.id,
                                display_name: job.display_name,
                                description: job.description,
                                every_seconds,
                            }
                        })
                        .collect(),
                    queries: Vec::new(),
                })
            }

            pub(super) fn run_action(
                exports: &wit::Guest,
                store: &mut Store<HostState>,
                deadline: Instant,
                call: super::ActionCall<'_>,
            ) -> wasmtime::Result<Result<GuestSuccess, ActionFailure>> {
                let context = wit::RunContext {
                    run_id: call.run_id.to_owned(),
                    actor: call.actor.cloned().map(actor_to_wit),
                    automation_id: call.automation.map(|a| a.automation_id.clone()),
                    trigger: call.automation.map(|a| wit::TriggerScope {
                        trigger_id: a.trigger.trigger_id.clone(),
                        event_id: a.trigger.event_id.clone(),
                        payload: a.trigger.payload.to_string(),
                        context_key: a.trigger.context_key.clone(),
                    }),
                    attempt: call.automation.map_or(1, |a| a.attempt),
                };
                let result = bounded(
                    deadline,
                    exports.call_run_action(store, call.local_id, call.config, &context),
                )?;
                Ok(result
                    .map(|success| GuestSuccess {
                        external_id: success.external_id,
                        artifact: success.artifact.map(Document::Text),
                    })
                    .map_err(failure))
            }

            pub(super) fn run_job(
                exports: &wit::Guest,
                store: &mut Store<HostState>,
                deadline: Instant,
                call: super::JobCall<'_>,
            ) -> wasmtime::Result<Result<(), ActionFailure>> {
                let context = wit::JobContext {
                    run_id: call.run_id.to_owned(),
                    actor: actor_to_wit(call.actor),
                    scheduled_at: call.scheduled_at,
                };
                let result = bounded(
                    deadline,
                    exports.call_run_job(store, call.local_id, &context),
                )?;
                Ok(result.map_err(failure))
            }

            pub(super) fn derive(
                exports: &wit::Guest,
                store: &mut Store<HostState>,
                deadline: Instant,
                change: &ChangeRecord,
            ) -> wasmtime::Result<Vec<GuestEvent>> {
                let change = wit::EntityChange {
                    kind: change.kind.clone(),
                    id: change.entity_id.clone(),
                    prev: change.prev.as_ref().map(Value::to_string),
                    next: change.next.as_ref().map(Value::to_string),
                    changed_fields: change.changed_fields.clone(),
                    actor: actor_to_wit(change.actor.clone()),
                    run_id: change.run_id.clone(),
                    occurred_at: change.occurred_at.clone(),
                    change_id: change.change_id.clone(),
                };
                let events = bounded(deadline, exports.call_derive(store, &change))?;
                Ok(events
                    .into_iter()
                    .map(|event| GuestEvent {
                        trigger_id: event.trigger_id,
                        payload: Document::Text(event.payload),
                        context_key: event.context_key,
                    })
                    .collect())
            }
        }
    };
}

contract_adapter!(v0_3_plugin, bindings: v0_3, not_permitted: NotPermitted);
// 0.2 has no `not-permitted`: a call the contract does not allow was
// `unavailable` there, and stays so for a 0.2 component.
contract_adapter!(v0_2, bindings: v0_2, not_permitted: Unavailable);

/// One action call, as every version's adapter takes it.
pub(crate) struct ActionCall<'a> {
    pub local_id: &'a str,
    /// The config as JSON text, as the guest receives it.
    pub config: &'a String,
    pub run_id: &'a str,
    pub actor: Option<&'a Actor>,
    pub automation: Option<&'a AutomationContext>,
}

/// One job call, as every version's adapter takes it.
pub(crate) struct JobCall<'a> {
    pub local_id: &'a str,
    pub run_id: &'a str,
    pub actor: Actor,
    pub scheduled_at: String,
}

/// A component linked against the adapter of its contract version, ready
/// to instantiate, with its exports looked up once.
#[derive(Clone)]
pub(crate) enum Pre {
    V0_2 {
        instance_pre: InstancePre<HostState>,
        plugin: bindings::v0_2::exports::checkstack::automation::plugin::GuestIndices,
    },
    V0_3 {
        instance_pre: InstancePre<HostState>,
        plugin: bindings::v0_3::exports::checkstack::automation::plugin::GuestIndices,
        /// Absent for a component of the `automation-plugin` world, which
        /// answers no queries.
        queries: Option<bindings::v0_3::exports::checkstack::automation::queries::GuestIndices>,
    },
}

/// The exports of one instance, of its contract version.
pub(crate) enum Exports {
    V0_2(bindings::v0_2::exports::checkstack::automation::plugin::Guest),
    V0_3 {
        plugin: bindings::v0_3::exports::checkstack::automation::plugin::Guest,
        queries: Option<bindings::v0_3::exports::checkstack::automation::queries::Guest>,
    },
}

impl Pre {
    /// Links `component` against WASI and the adapter of `version`.
    /// `named_version` is the version the component names (`0.3.1`): its
    /// optional `queries` export is looked up under exactly that name.
    pub fn link(
        engine: &wasmtime::Engine,
        component: &Component,
        version: ContractVersion,
        named_version: &str,
    ) -> anyhow::Result<Self> {
        use anyhow::{Context as _, anyhow};
        let mut linker = Linker::<HostState>::new(engine);
        // Async, so that a guest waiting in WASI is a pending future the
        // run's deadline can cut short (see `sandbox::bounded`).
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)
            .map_err(|error| anyhow!("{error:#}"))?;
        match version {
            ContractVersion::V0_2 => bindings::v0_2::AutomationPlugin::add_to_linker::<
                HostState,
                HasSelf<HostState>,
            >(&mut linker, |state| state),
            ContractVersion::V0_3 => bindings::v0_3::QueryablePlugin::add_to_linker::<
                HostState,
                HasSelf<HostState>,
            >(&mut linker, |state| state),
        }
        .map_err(|error| anyhow!("{error:#}"))?;
        let instance_pre = linker
            .instantiate_pre(component)
            .map_err(|error| anyhow!("{error:#}"))
            .context("the component does not link against the automation host")?;
        let exports_missing = "the component does not export the automation plugin interface";
        Ok(match version {
            ContractVersion::V0_2 => Pre::V0_2 {
                plugin: bindings::v0_2::exports::checkstack::automation::plugin::GuestIndices::new(
                    &instance_pre,
                )
                .map_err(|error| anyhow!("{error:#}"))
                .context(exports_missing)?,
                instance_pre,
            },
            ContractVersion::V0_3 => Pre::V0_3 {
                plugin: bindings::v0_3::exports::checkstack::automation::plugin::GuestIndices::new(
                    &instance_pre,
                )
                .map_err(|error| anyhow!("{error:#}"))
                .context(exports_missing)?,
                // A missing `queries` export is a plugin without queries;
                // one that exports it with other shapes does not link.
                queries: match component.get_export_index(
                    None,
                    format!("{}/queries@{named_version}", super::version::PACKAGE),
                ) {
                    None => None,
                    Some(_) => Some(
                        bindings::v0_3::exports::checkstack::automation::queries::GuestIndices::new(
                            &instance_pre,
                        )
                        .map_err(|error| anyhow!("{error:#}"))
                        .context("the component's queries export is not the contract's")?,
                    ),
                },
                instance_pre,
            },
        })
    }

    /// Instantiates the component in `store` by `deadline`.
    pub fn instantiate(
        &self,
        store: &mut Store<HostState>,
        deadline: Instant,
    ) -> wasmtime::Result<Exports> {
        Ok(match self {
            Pre::V0_2 {
                instance_pre,
                plugin,
            } => {
                let instance = bounded(deadline, instance_pre.instantiate_async(&mut *store))?;
                Exports::V0_2(plugin.load(&mut *store, &instance)?)
            }
            Pre::V0_3 {
                instance_pre,
                plugin,
                queries,
            } => {
                let instance = bounded(deadline, instance_pre.instantiate_async(&mut *store))?;
                Exports::V0_3 {
                    plugin: plugin.load(&mut *store, &instance)?,
                    queries: queries
                        .as_ref()
                        .map(|queries| queries.load(&mut *store, &instance))
                        .transpose()?,
                }
            }
        })
    }
}

impl Exports {
    /// Calls `definitions`.
    pub fn definitions(
        &self,
        store: &mut Store<HostState>,
        deadline: Instant,
    ) -> wasmtime::Result<PluginDefinition> {
        match self {
            Exports::V0_2(exports) => v0_2::definitions(exports, store, deadline),
            Exports::V0_3 { plugin, queries } => {
                let mut definition = v0_3::definitions(plugin, store, deadline)?;
                if let Some(queries) = queries {
                    definition.queries = v0_3::query_definitions(queries, store, deadline)?;
                }
                Ok(definition)
            }
        }
    }

    /// Calls `run-action`.
    pub fn run_action(
        &self,
        store: &mut Store<HostState>,
        deadline: Instant,
        call: ActionCall<'_>,
    ) -> wasmtime::Result<Result<GuestSuccess, ActionFailure>> {
        match self {
            Exports::V0_2(exports) => v0_2::run_action(exports, store, deadline, call),
            Exports::V0_3 { plugin, .. } => v0_3::run_action(plugin, store, deadline, call),
        }
    }

    /// Calls `run-job`.
    pub fn run_job(
        &self,
        store: &mut Store<HostState>,
        deadline: Instant,
        call: JobCall<'_>,
    ) -> wasmtime::Result<Result<(), ActionFailure>> {
        match self {
            Exports::V0_2(exports) => v0_2::run_job(exports, store, deadline, call),
            Exports::V0_3 { plugin, .. } => v0_3::run_job(plugin, store, deadline, call),
        }
    }

    /// Calls `derive` on one recorded change.
    pub fn derive(
        &self,
        store: &mut Store<HostState>,
        deadline: Instant,
        change: &ChangeRecord,
    ) -> wasmtime::Result<Vec<GuestEvent>> {
        match self {
            Exports::V0_2(exports) => {
                let events = v0_2::derive(exports, store, deadline, change)?;
                // 0.2 let a deriver spell its own prefix; the pipeline
                // takes local ids, as 0.3 says.
                let own_prefix = format!("{}.", store.data().session.catalog.id);
                Ok(events
                    .into_iter()
                    .map(|mut event| {
                        if let Some(local) = event.trigger_id.strip_prefix(&own_prefix) {
                            event.trigger_id = local.to_owned();
                        }
                        event
                    })
                    .collect())
            }
            Exports::V0_3 { plugin, .. } => v0_3::derive(plugin, store, deadline, change),
        }
    }

    /// Calls `run-query`; a component that answers no queries (of the
    /// `automation-plugin` world, or of contract 0.2) has none to run.
    pub fn run_query(
        &self,
        store: &mut Store<HostState>,
        deadline: Instant,
        local_id: &str,
        input: &str,
    ) -> wasmtime::Result<Result<Document, QueryFailure>> {
        match self {
            Exports::V0_3 {
                queries: Some(queries),
                ..
            } => v0_3::run_query(queries, store, deadline, local_id, input),
            _ => Ok(Err(QueryFailure::NotFound(format!(
                "the plugin answers no queries, so none named {local_id}"
            )))),
        }
    }
}

/// The `queries` interface of the current contract: only 0.3 has it.
mod v0_3 {
    pub(super) use super::v0_3_plugin::*;

    use std::time::Instant;

    use wasmtime::Store;

    use crate::catalog;
    use crate::records::Problem;
    use crate::run::{Document, QueryFailure};
    use crate::wasm::bindings::v0_3::exports::checkstack::automation::queries as wit;
    use crate::wasm::sandbox::bounded;
    use crate::wasm::store::HostState;

    pub(super) fn query_definitions(
        queries: &wit::Guest,
        store: &mut Store<HostState>,
        deadline: Instant,
    ) -> wasmtime::Result<Vec<catalog::QueryDefinition>> {
        let definitions = bounded(deadline, queries.call_definitions(store))?;
        Ok(definitions
            .into_iter()
            .map(|query| catalog::QueryDefinition {
                id: query.id,
                display_name: query.display_name,
                description: query.description,
                input_schema: query.input_schema,
                result_schema: query.result_schema,
            })
            .collect())
    }

    pub(super) fn run_query(
        queries: &wit::Guest,
        store: &mut Store<HostState>,
        deadline: Instant,
        local_id: &str,
        input: &str,
    ) -> wasmtime::Result<Result<Document, QueryFailure>> {
        let input = input.to_owned();
        let result = bounded(deadline, queries.call_run_query(store, local_id, &input))?;
        Ok(result.map(Document::Text).map_err(|error| match error {
            wit::QueryError::InvalidInput(problems) => QueryFailure::InvalidInput(
                problems
                    .into_iter()
                    .map(|p| Problem {
                        path: p.path,
                        message: p.message,
                    })
                    .collect(),
            ),
            wit::QueryError::NotFound(message) => QueryFailure::NotFound(message),
            wit::QueryError::Internal(message) => QueryFailure::Internal(message),
        }))
    }
}
