use plugin_sdk::catalog::{ActionDefinition, ArtifactType, EntityKind, TriggerDefinition};
use plugin_sdk::config::{self, Text};
use plugin_sdk::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

#[derive(Default)]
pub struct Greeter;

/// The `greet` action's config; unknown fields are problems.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Greet {
    name: Text<1, 100>,
}

/// The `greeting` entity's state.
#[derive(Serialize, Deserialize)]
struct Greeting {
    count: u32,
}

const GREETING_SCHEMA: &str = r#"{"type": "object", "required": ["count"],
    "properties": {"count": {"type": "integer"}}, "additionalProperties": false}"#;
const GREETED_SCHEMA: &str = r#"{"type": "object", "required": ["name", "count"],
    "properties": {"name": {"type": "string"}, "count": {"type": "integer"}}}"#;
const GREET_SCHEMA: &str = r#"{"type": "object", "required": ["name"],
    "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 100}},
    "additionalProperties": false}"#;

impl Plugin for Greeter {
    fn catalog(&self) -> PluginDefinition {
        let mut catalog = PluginDefinition::new("greeter", "0.1.0");
        catalog.entity_kinds.push(EntityKind {
            kind: "greeting",
            state_schema: GREETING_SCHEMA,
        });
        catalog.artifact_types.push(ArtifactType {
            id: "greeting",
            name: "Greeting",
            description: "How often a name was greeted",
            schema: GREETED_SCHEMA,
        });
        catalog.actions.push(ActionDefinition {
            id: "greet",
            display_name: "Greet",
            description: "Greets someone by name",
            category: "Demo",
            icon: "Hand",
            config_version: 1,
            config_schema: GREET_SCHEMA,
            produces: Some("greeting"),
        });
        catalog.triggers.push(TriggerDefinition {
            id: "greeted",
            display_name: "Greeted",
            description: "Fires when someone is greeted",
            category: "Demo",
            icon: "Hand",
            payload_schema: GREETED_SCHEMA,
            context_key: Some("name"),
            entity_kind: Some("greeting"),
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
        if action != "greet" {
            return Err(ActionError::NotFound(format!("Unknown action: {action}")));
        }
        let name = config::parse::<Greet>(config)?.name.into_string();
        let options = context.mutation_options();
        let written = mutate(
            host,
            "greeting",
            &name,
            &options,
            |prev: Option<Greeting>| {
                let next = Greeting {
                    count: prev.map_or(0, |g| g.count) + 1,
                };
                // The real write: storage accepts it only inside the mutation.
                host.set_json(&format!("greeting/{name}"), &next)?;
                Ok::<_, ActionError>(Some(next))
            },
        )?;
        let count = written.state.map_or(0, |g| g.count);
        host.info(&format!("Greeted {name} ({count})"));
        Ok(ActionSuccess::new(
            name.clone(),
            json!({"name": name, "count": count}),
        ))
    }

    fn derive(&self, change: &EntityChange) -> Result<Vec<TriggerEvent>, String> {
        let Some(next) = change.next_as::<Greeting>()? else {
            return Ok(Vec::new());
        };
        let payload = json!({"name": change.id, "count": next.count});
        Ok(vec![TriggerEvent::new(
            "greeted",
            payload,
            change.id.clone(),
        )])
    }
}

plugin_sdk::export_plugin!(Greeter);

#[cfg(test)]
mod tests {
    use super::*;
    use plugin_sdk::testing::TestHost;

    #[test]
    fn greeting_twice_counts_and_fires_twice() {
        let host = TestHost::for_plugin(&Greeter);
        host.run(&Greeter, "greet", json!({"name": "Ann"}));
        let run = host.run(&Greeter, "greet", json!({"name": "Ann"}));
        assert_eq!(run.events[0].payload, json!({"name": "Ann", "count": 2}));
        assert_eq!(run.log_messages(), ["Greeted Ann (2)"]);
    }

    #[test]
    fn an_unknown_field_is_a_problem_at_its_pointer() {
        let host = TestHost::for_plugin(&Greeter);
        let run = host.run(&Greeter, "greet", json!({"name": "Ann", "loud": true}));
        assert_eq!(
            run.result,
            Err(ActionError::InvalidConfig(vec![Problem::new(
                "/loud",
                "is not a known field"
            )]))
        );
    }
}
