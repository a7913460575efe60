//! Plugins built against older versions of the contract. With feature
//! `v0_2` it is `legacy`, a small working plugin of the frozen 0.2.0
//! contract that uses what 0.3.0 changed: a storage write with no
//! mutation open (0.2 says `unavailable`) and a deriver returning its own
//! qualified trigger id (0.2 allowed it). With feature `v0_3_0` it is the
//! same plugin (`patched`) built against 0.3.0 (`wit-0.3.0/`, the release
//! before the current 0.3.1, frozen), which the host serves as 0.3.x: an
//! older patch, without the `queries` export 0.3.1 added. With feature
//! `v0_3_2` it is `later`, built against a later patch than the host's
//! (`wit-0.3.2/`, the current contract with its version raised), with a
//! query. With feature `v0_1` it
//! is a plugin of the retired 0.1.0 contract. Only the host's tests use
//! them.

#![cfg(target_family = "wasm")]

/// A small working plugin of the contract version in folder `$wit`: an
/// `item` entity written by `put` (with a storage write inside the
/// mutation), `write_without_mutation` (which reports the error storage
/// gave), and a deriver firing `$derived_trigger`.
macro_rules! small_plugin {
    ($wit:literal, world: $world:literal, plugin_id: $plugin_id:literal, derived_trigger: $derived_trigger:literal) => {

    wit_bindgen::generate!({
        path: $wit,
        world: $world,
    });

    use checkstack::automation::entity::{Mutation, MutationOptions};
    use checkstack::automation::{log, storage};
    use exports::checkstack::automation::plugin::{
        ActionDefinition, ActionError, ActionSuccess, EntityChange, EntityKind, Guest, JobContext,
        PluginDefinition, RunContext, TriggerDefinition, TriggerEvent,
    };

    const ITEM_SCHEMA: &str = r#"{"type":"object","properties":{"v":{"type":"string"}},"required":["v"],"additionalProperties":false}"#;
    const PUT_SCHEMA: &str = r#"{"type":"object","properties":{"key":{"type":"string","minLength":1},"v":{"type":"string"}},"required":["key","v"],"additionalProperties":false}"#;

    struct Legacy;

    fn config_field(config: &str, field: &str) -> Result<String, ActionError> {
        // The host checked the config against PUT_SCHEMA; a fixture needs
        // no JSON parser for two string fields.
        let marker = format!("\"{field}\":\"");
        let start = config
            .find(&marker)
            .ok_or_else(|| ActionError::Internal(format!("no {field}")))?
            + marker.len();
        let end = config[start..]
            .find('"')
            .ok_or_else(|| ActionError::Internal(format!("unterminated {field}")))?;
        Ok(config[start..start + end].to_owned())
    }

    impl Guest for Legacy {
        fn definitions() -> PluginDefinition {
            let action = |id: &str| ActionDefinition {
                id: id.into(),
                display_name: id.into(),
                description: "a 0.2.0 action".into(),
                category: "Test".into(),
                icon: "Archive".into(),
                config_version: 1,
                config_schema: if id == "put" {
                    PUT_SCHEMA.into()
                } else {
                    r#"{"type":"object"}"#.into()
                },
                produces: None,
            };
            PluginDefinition {
                id: $plugin_id.into(),
                version: "0.2.0".into(),
                triggers: vec![TriggerDefinition {
                    id: "stored".into(),
                    display_name: "Stored".into(),
                    description: "An item was stored".into(),
                    category: "Test".into(),
                    icon: "Archive".into(),
                    payload_schema: ITEM_SCHEMA.into(),
                    context_key: None,
                    entity_kind: Some("item".into()),
                }],
                actions: vec![action("put"), action("write_without_mutation")],
                artifact_types: Vec::new(),
                entity_kinds: vec![EntityKind {
                    kind: "item".into(),
                    state_schema: ITEM_SCHEMA.into(),
                }],
                jobs: Vec::new(),
            }
        }

        fn run_action(
            action_id: String,
            config: String,
            context: RunContext,
        ) -> Result<ActionSuccess, ActionError> {
            let internal =
                |error: &dyn std::fmt::Debug| ActionError::Internal(format!("{error:?}"));
            match action_id.as_str() {
                "put" => {
                    let key = config_field(&config, "key")?;
                    let v = config_field(&config, "v")?;
                    let options = MutationOptions {
                        run_id: Some(context.run_id),
                        actor: context.actor,
                    };
                    let mutation =
                        Mutation::open("item", &key, &options).map_err(|e| internal(&e))?;
                    storage::set(&format!("raw/{key}"), v.as_bytes()).map_err(|e| internal(&e))?;
                    mutation
                        .commit(Some(&format!(r#"{{"v":"{v}"}}"#)))
                        .map_err(|e| internal(&e))?;
                    log::log(log::Level::Info, &format!("stored {key}"));
                    Ok(ActionSuccess {
                        external_id: Some(key),
                        artifact: None,
                    })
                }
                "write_without_mutation" => {
                    let error = storage::set("k", b"v").expect_err("a write with no mutation");
                    Err(internal(&error))
                }
                other => Err(ActionError::NotFound(format!("no action {other}"))),
            }
        }

        fn run_job(job_id: String, _context: JobContext) -> Result<(), ActionError> {
            Err(ActionError::NotFound(format!("no job {job_id}")))
        }

        fn derive(change: EntityChange) -> Vec<TriggerEvent> {
            change
                .next
                .map(|payload| TriggerEvent {
                    trigger_id: $derived_trigger.into(),
                    payload,
                    context_key: Some(change.id),
                })
                .into_iter()
                .collect()
        }
    }

    export!(Legacy);

    };
}

// 0.2.0 let a deriver spell its own prefix: this one does.
#[cfg(feature = "v0_2")]
mod v0_2 {
    small_plugin!(
        "../../wit/since_v0.2.0",
        world: "automation-plugin",
        plugin_id: "legacy",
        derived_trigger: "legacy.stored"
    );
}

// The release before the current patch: same shapes, version 0.3.0.
#[cfg(feature = "v0_3_0")]
mod v0_3_0 {
    small_plugin!(
        "wit-0.3.0",
        world: "automation-plugin",
        plugin_id: "patched",
        derived_trigger: "stored"
    );
}

// A later patch than the host's, with queries: the host finds its
// `queries@0.3.2` export and answers through it.
#[cfg(feature = "v0_3_2")]
mod v0_3_2 {
    small_plugin!(
        "wit-0.3.2",
        world: "queryable-plugin",
        plugin_id: "later",
        derived_trigger: "stored"
    );

    use exports::checkstack::automation::queries::{Guest as Queries, QueryDefinition, QueryError};

    const RAW_INPUT_SCHEMA: &str = r#"{"type":"object","properties":{"key":{"type":"string","minLength":1}},"required":["key"],"additionalProperties":false}"#;

    impl Queries for Legacy {
        fn definitions() -> Vec<QueryDefinition> {
            vec![QueryDefinition {
                id: "raw".into(),
                display_name: "Raw".into(),
                description: "what `put` stored for a key".into(),
                input_schema: RAW_INPUT_SCHEMA.into(),
                result_schema: ITEM_SCHEMA.into(),
            }]
        }

        fn run_query(query_id: String, input: String) -> Result<String, QueryError> {
            if query_id != "raw" {
                return Err(QueryError::NotFound(format!("no query {query_id}")));
            }
            let key =
                config_field(&input, "key").map_err(|_| QueryError::Internal("no key".into()))?;
            let stored = storage::get(&format!("raw/{key}"))
                .map_err(|error| QueryError::Internal(format!("{error:?}")))?
                .ok_or_else(|| QueryError::NotFound(format!("nothing stored at {key}")))?;
            Ok(format!(r#"{{"v":"{}"}}"#, String::from_utf8_lossy(&stored)))
        }
    }
}

#[cfg(feature = "v0_1")]
mod v0_1 {
    wit_bindgen::generate!({
        path: "wit-0.1.0",
        world: "automation-plugin",
    });

    use exports::checkstack::automation::plugin::{
        ActionError, ActionSuccess, EntityChange, Guest, PluginDefinition, RunContext, TriggerEvent,
    };

    struct Retired;

    impl Guest for Retired {
        fn definitions() -> PluginDefinition {
            PluginDefinition {
                id: "retired".into(),
                version: "0.1.0".into(),
                triggers: Vec::new(),
                actions: Vec::new(),
                artifact_types: Vec::new(),
                entity_kinds: Vec::new(),
            }
        }

        fn run_action(
            action_id: String,
            _config: String,
            _context: RunContext,
        ) -> Result<ActionSuccess, ActionError> {
            Err(ActionError::NotFound(format!("no action {action_id}")))
        }

        fn derive(_change: EntityChange) -> Vec<TriggerEvent> {
            Vec::new()
        }
    }

    export!(Retired);
}
