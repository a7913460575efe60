//! `probe`: a plugin the automation host's tests drive. Each action shows
//! one thing the host promises an automation's step: the run context it
//! sees (`context`), retries of a domain failure (`flaky`) and of a trap
//! (`trap`), that a failed attempt leaves nothing behind, and the order of
//! runs per context key (`append`, which can also fail once). `record` writes an item, whose change
//! fires `probe.recorded`.

use plugin_sdk::catalog::{ActionDefinition, ArtifactType, EntityKind, TriggerDefinition};
use plugin_sdk::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

#[derive(Default)]
pub struct Probe;

/// An item's state: its key and the last value written to it.
#[derive(Serialize, Deserialize, Clone, PartialEq)]
struct Item {
    key: String,
    value: String,
}

/// The config of every action (each uses what it needs).
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Config {
    #[serde(default)]
    key: Option<String>,
    #[serde(default)]
    value: Option<String>,
    /// The attempt that succeeds: earlier ones fail.
    #[serde(default)]
    succeed_on: Option<u32>,
}

const ITEM_SCHEMA: &str = r#"{"type": "object", "required": ["key", "value"],
    "properties": {"key": {"type": "string"}, "value": {"type": "string"}},
    "additionalProperties": false}"#;
const CONFIG_SCHEMA: &str = r#"{"type": "object", "additionalProperties": false,
    "properties": {"key": {"type": "string", "minLength": 1}, "value": {"type": "string"},
    "succeedOn": {"type": "integer", "minimum": 1}}}"#;
const ECHO_SCHEMA: &str = r#"{"type": "object"}"#;

const ACTIONS: &[(&str, &str)] = &[
    ("record", "Writes item `key` with `value`"),
    ("context", "Returns the run context it was given"),
    (
        "flaky",
        "Writes item `key`, then fails internal until attempt `succeedOn`",
    ),
    (
        "trap",
        "Writes item `key`, then traps until attempt `succeedOn`",
    ),
    (
        "append",
        "Appends `value` to the list kept under `key`, and returns the list; a value \
         starting with `!` fails its first attempt (internal)",
    ),
];

fn context_json(context: &RunContext) -> Value {
    json!({
        "runId": context.run_id,
        "actor": context.actor.as_ref().map(|actor| json!({"id": actor.id, "name": actor.name})),
        "automationId": context.automation_id,
        "trigger": context.trigger.as_ref().map(|trigger| json!({
            "triggerId": trigger.trigger_id,
            "eventId": trigger.event_id,
            "payload": trigger.payload,
            "contextKey": trigger.context_key,
        })),
        "attempt": context.attempt,
    })
}

fn key_of(config: &Config) -> Result<&str, ActionError> {
    config.key.as_deref().ok_or_else(|| {
        ActionError::InvalidConfig(vec![Problem::new("/key", "is required by this action")])
    })
}

/// Writes item `key` with `value`, and the same under storage key
/// `item/<key>`, in one mutation.
fn write_item<H: Host>(
    host: &H,
    context: &RunContext,
    key: &str,
    value: &str,
) -> Result<(), ActionError> {
    mutate(
        host,
        "item",
        key,
        &context.mutation_options(),
        |_prev: Option<Item>| {
            host.set_json(&format!("item/{key}"), &value)?;
            Ok::<_, ActionError>(Some(Item {
                key: key.to_owned(),
                value: value.to_owned(),
            }))
        },
    )?;
    Ok(())
}

impl Plugin for Probe {
    fn catalog(&self) -> PluginDefinition {
        let mut catalog = PluginDefinition::new("probe", "0.1.0");
        catalog.entity_kinds.push(EntityKind {
            kind: "item",
            state_schema: ITEM_SCHEMA,
        });
        catalog.artifact_types.push(ArtifactType {
            id: "echo",
            name: "Echo",
            description: "What the action saw or did",
            schema: ECHO_SCHEMA,
        });
        for (id, description) in ACTIONS {
            catalog.actions.push(ActionDefinition {
                id,
                display_name: id,
                description,
                category: "Test",
                icon: "Bug",
                config_version: 1,
                config_schema: CONFIG_SCHEMA,
                produces: Some("echo"),
            });
        }
        catalog.triggers.push(TriggerDefinition {
            id: "recorded",
            display_name: "Recorded",
            description: "Fires when an item is written",
            category: "Test",
            icon: "Bug",
            payload_schema: ITEM_SCHEMA,
            context_key: Some("key"),
            entity_kind: Some("item"),
        });
        catalog
    }

    fn run_action<H: Host>(
        &self,
        host: &H,
        action: &str,
        config: &Value,
        context: &RunContext,
    ) -> Result<ActionSuccess, ActionError> {
        let config: Config = plugin_sdk::config::parse(config)?;
        let echo = |extra: Value| {
            let mut artifact = context_json(context);
            if let (Value::Object(artifact), Value::Object(extra)) = (&mut artifact, extra) {
                artifact.extend(extra);
            }
            artifact
        };
        match action {
            "record" => {
                let key = key_of(&config)?;
                let value = config.value.clone().unwrap_or_default();
                write_item(host, context, key, &value)?;
                Ok(ActionSuccess::new(key, echo(json!({"value": value}))))
            }
            "context" => Ok(ActionSuccess::new(context.run_id.clone(), echo(json!({})))),
            "flaky" | "trap" => {
                let key = key_of(&config)?;
                // Written before failing: a failed attempt must leave none
                // of it behind.
                write_item(host, context, key, &format!("attempt {}", context.attempt))?;
                if context.attempt < config.succeed_on.unwrap_or(1) {
                    if action == "trap" {
                        panic!("probe trapped on attempt {}", context.attempt);
                    }
                    return Err(ActionError::Internal(format!(
                        "attempt {} of {key} fails",
                        context.attempt
                    )));
                }
                Ok(ActionSuccess::new(key, echo(json!({}))))
            }
            "append" => {
                let key = key_of(&config)?;
                let value = config.value.clone().unwrap_or_default();
                if value.starts_with('!') && context.attempt == 1 {
                    return Err(ActionError::Internal(format!(
                        "appending {value} fails on the first attempt"
                    )));
                }
                let list_key = format!("list/{key}");
                let list = mutate_with(
                    host,
                    "item",
                    key,
                    &context.mutation_options(),
                    |_prev: Option<Item>| {
                        let mut list: Vec<String> = host.get_json(&list_key)?.unwrap_or_default();
                        list.push(value.clone());
                        host.set_json(&list_key, &list)?;
                        Ok::<_, ActionError>((
                            list,
                            Some(Item {
                                key: key.to_owned(),
                                value: value.clone(),
                            }),
                        ))
                    },
                )?;
                Ok(ActionSuccess::new(key, echo(json!({"list": list}))))
            }
            other => Err(ActionError::NotFound(format!("Unknown action: {other}"))),
        }
    }

    fn derive(&self, change: &EntityChange) -> Result<Vec<TriggerEvent>, String> {
        let Some(next) = change.next_as::<Item>()? else {
            return Ok(Vec::new());
        };
        Ok(vec![TriggerEvent::new(
            "recorded",
            json!({"key": next.key, "value": next.value}),
            next.key.clone(),
        )])
    }
}

plugin_sdk::export_plugin!(Probe);
