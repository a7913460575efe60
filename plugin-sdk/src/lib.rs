//! Write Checkstack automation plugins in plain Rust.
//!
//! A plugin is a WebAssembly component that exports the
//! `checkstack:automation/plugin@0.3.1` interface, and `queries` for the
//! read-only queries it answers (see `wit/` in this
//! workspace). With this SDK it is a Rust type implementing [`Plugin`]:
//! its catalog, its actions and its change deriver, written against the
//! host traits in [`host`] and exported with one macro,
//! [`export_plugin!`]. The generated WIT bindings stay inside the SDK: no
//! plugin names a generated type, and the same code runs natively, where
//! [`testing::TestHost`] stands in for the real host in unit tests.
//!
//! Besides the trait, the SDK has what every plugin needs:
//!
//! - [`config::parse`]: a config into any `serde::Deserialize` type, with
//!   every problem at its JSON Pointer, and [`config::Text`] for bounded
//!   strings;
//! - [`entity::mutate`]: an entity write with typed states that abandons,
//!   rolling its storage writes back, when the plugin's closure fails;
//! - [`storage::StorageExt`]: JSON values by key and a prefix scan that
//!   hides pages;
//! - [`host::Log`]'s `info`, `warn` and friends, and [`time::Instant`],
//!   the contract's spelling of a point in time;
//! - [`testing`]: a native host with a fixed clock, numbered ids,
//!   in-memory storage and an entity engine that behaves like the real
//!   one.
//!
//! # A complete plugin
//!
//! One action, `greet`, that counts greetings per name in a `greeting`
//! entity, and a trigger, `greeted`, that fires for every change of it:
//!
//! ```
//! use plugin_sdk::catalog::{ActionDefinition, ArtifactType, EntityKind, TriggerDefinition};
//! use plugin_sdk::config::{self, Text};
//! use plugin_sdk::prelude::*;
//! use serde::{Deserialize, Serialize};
//! use serde_json::{Value, json};
//!
//! #[derive(Default)]
//! pub struct Greeter;
//!
//! /// The `greet` action's config.
//! #[derive(Deserialize)]
//! #[serde(deny_unknown_fields)]
//! struct Greet {
//!     name: Text<1, 100>,
//! }
//!
//! /// The `greeting` entity's state.
//! #[derive(Serialize, Deserialize)]
//! struct Greeting {
//!     count: u32,
//! }
//!
//! const GREETING_SCHEMA: &str = r#"{"type": "object", "required": ["count"],
//!     "properties": {"count": {"type": "integer"}}, "additionalProperties": false}"#;
//! const GREETED_SCHEMA: &str = r#"{"type": "object", "required": ["name", "count"],
//!     "properties": {"name": {"type": "string"}, "count": {"type": "integer"}}}"#;
//! const GREET_SCHEMA: &str = r#"{"type": "object", "required": ["name"],
//!     "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 100}},
//!     "additionalProperties": false}"#;
//!
//! impl Plugin for Greeter {
//!     fn catalog(&self) -> PluginDefinition {
//!         let mut catalog = PluginDefinition::new("greeter", "0.1.0");
//!         catalog.entity_kinds.push(EntityKind {
//!             kind: "greeting",
//!             state_schema: GREETING_SCHEMA,
//!         });
//!         catalog.artifact_types.push(ArtifactType {
//!             id: "greeting",
//!             name: "Greeting",
//!             description: "How often a name was greeted",
//!             schema: GREETED_SCHEMA,
//!         });
//!         catalog.actions.push(ActionDefinition {
//!             id: "greet",
//!             display_name: "Greet",
//!             description: "Greets someone by name",
//!             category: "Demo",
//!             icon: "Hand",
//!             config_version: 1,
//!             config_schema: GREET_SCHEMA,
//!             produces: Some("greeting"),
//!         });
//!         catalog.triggers.push(TriggerDefinition {
//!             id: "greeted",
//!             display_name: "Greeted",
//!             description: "Fires when someone is greeted",
//!             category: "Demo",
//!             icon: "Hand",
//!             payload_schema: GREETED_SCHEMA,
//!             context_key: Some("name"),
//!             entity_kind: Some("greeting"),
//!         });
//!         catalog
//!     }
//!
//!     fn run_action<H: Host>(
//!         &self,
//!         host: &H,
//!         action: &str,
//!         config: &Value,
//!         context: &RunContext,
//!     ) -> Result<ActionSuccess, ActionError> {
//!         if action != "greet" {
//!             return Err(ActionError::NotFound(format!("Unknown action: {action}")));
//!         }
//!         let name = config::parse::<Greet>(config)?.name.into_string();
//!         let options = context.mutation_options();
//!         let written = mutate(host, "greeting", &name, &options, |prev: Option<Greeting>| {
//!             let next = Greeting { count: prev.map_or(0, |g| g.count) + 1 };
//!             // The real write: storage only accepts it inside the mutation.
//!             host.set_json(&format!("greeting/{name}"), &next)?;
//!             Ok::<_, ActionError>(Some(next))
//!         })?;
//!         let count = written.state.map_or(0, |g| g.count);
//!         host.info(&format!("Greeted {name} ({count})"));
//!         Ok(ActionSuccess::new(name.clone(), json!({"name": name, "count": count})))
//!     }
//!
//!     fn derive(&self, change: &EntityChange) -> Result<Vec<TriggerEvent>, String> {
//!         let Some(next) = change.next_as::<Greeting>()? else {
//!             return Ok(Vec::new());
//!         };
//!         let payload = json!({"name": change.id, "count": next.count});
//!         Ok(vec![TriggerEvent::new("greeted", payload, change.id.clone())])
//!     }
//! }
//!
//! // In the component: exports `checkstack:automation/plugin@0.3.1`
//! // (and `queries@0.3.1`, answering none unless `run_query` is written).
//! // Natively: checks that `Greeter` is a `Plugin + Default`.
//! plugin_sdk::export_plugin!(Greeter);
//!
//! # fn main() {
//! // Natively, against the test host:
//! let host = plugin_sdk::testing::TestHost::for_plugin(&Greeter);
//! let run = host.run(&Greeter, "greet", json!({"name": "Ann"}));
//! assert_eq!(run.result, Ok(ActionSuccess::new("Ann", json!({"name": "Ann", "count": 1}))));
//! assert_eq!(run.events[0].payload, json!({"name": "Ann", "count": 1}));
//! assert_eq!(run.log_messages(), ["Greeted Ann (1)"]);
//! let again = host.run(&Greeter, "greet", json!({"name": "Ann", "loud": true}));
//! assert_eq!(
//!     again.result,
//!     Err(ActionError::InvalidConfig(vec![Problem::new("/loud", "is not a known field")]))
//! );
//! assert!(Greeter.catalog().problems().is_empty());
//! # }
//! ```
//!
//! Build it as a `cdylib` for `wasm32-wasip2`, and the host loads it.

#![deny(missing_docs)]

pub mod catalog;
pub mod config;
pub mod entity;
pub mod host;
mod plugin;
pub mod storage;
pub mod testing;
pub mod time;

#[cfg(target_family = "wasm")]
mod component;

pub use catalog::PluginDefinition;
pub use config::Problem;
pub use plugin::{
    ActionError, ActionSuccess, EntityChange, JobContext, Plugin, QueryError, RunContext,
    TriggerEvent, TriggerScope,
};
pub use time::Instant;

/// The version of the `checkstack:automation` WIT package the SDK builds
/// components against.
pub const CONTRACT_VERSION: &str = "0.3.1";

/// What most plugins use, in one import.
pub mod prelude {
    pub use crate::catalog::PluginDefinition;
    pub use crate::config::Problem;
    pub use crate::entity::{mutate, mutate_with};
    pub use crate::host::{
        Actor, ActorType, EntityHandle, Environment, Host, Log, Mutation, MutationOptions,
        QueryHost, Storage,
    };
    pub use crate::storage::StorageExt;
    pub use crate::time::Instant;
    pub use crate::{
        ActionError, ActionSuccess, EntityChange, JobContext, Plugin, QueryError, RunContext,
        TriggerEvent,
    };
}

/// Exports a [`Plugin`] as the component's `checkstack:automation/plugin`
/// interface: `plugin_sdk::export_plugin!(MyPlugin);` once, at the crate
/// root of a `cdylib` built for a wasm target. The type must also be
/// [`Default`]: each call into the component makes its value afresh.
///
/// On other targets it exports nothing and only checks that the type is a
/// [`Plugin`] and [`Default`], so the crate builds and tests natively.
#[macro_export]
macro_rules! export_plugin {
    ($plugin:ty) => {
        #[cfg(target_family = "wasm")]
        const _: () = {
            // The bindings' export macro takes an identifier, not a type.
            type __PluginSdkExport = $crate::__private::Adapter<$plugin>;
            $crate::__private::bindings::export!(
                __PluginSdkExport with_types_in $crate::__private::bindings
            );
        };
        #[cfg(not(target_family = "wasm"))]
        const _: () = {
            fn exportable<P: $crate::Plugin + ::core::default::Default>() {}
            let _ = exportable::<$plugin>;
        };
    };
}

/// What [`export_plugin!`] expands to needs; not part of the API.
#[doc(hidden)]
pub mod __private {
    #[cfg(target_family = "wasm")]
    pub use crate::component::{Adapter, bindings};
}
