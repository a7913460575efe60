//! What a plugin publishes about itself: its triggers, actions, artifact
//! types, entity kinds and jobs, each schema a JSON Schema document.
//!
//! The catalog is fixed when the plugin is built, so every text is
//! `&'static str`; schemas are usually kept as files next to the code and
//! read with `include_str!`, which leaves nothing to build at run time.
//! Every id is local (`created`, not `maintenance.created`): the host
//! qualifies it with the plugin id.

use serde_json::Value;

/// A trigger: an entry point automations subscribe to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TriggerDefinition {
    /// The local id, such as `created`.
    pub id: &'static str,
    /// The name shown in an automation editor.
    pub display_name: &'static str,
    /// What makes the trigger fire, for a human.
    pub description: &'static str,
    /// The editor category the trigger is listed under.
    pub category: &'static str,
    /// The name of the icon the editor shows.
    pub icon: &'static str,
    /// The JSON Schema every payload satisfies.
    pub payload_schema: &'static str,
    /// The payload field whose value is the event's context key.
    pub context_key: Option<&'static str>,
    /// The local entity kind whose changes fire this trigger through the
    /// deriver.
    pub entity_kind: Option<&'static str>,
}

/// An action: a step an automation runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActionDefinition {
    /// The local id, such as `send`.
    pub id: &'static str,
    /// The name shown in an automation editor.
    pub display_name: &'static str,
    /// What the action does, for a human.
    pub description: &'static str,
    /// The editor category the action is listed under.
    pub category: &'static str,
    /// The name of the icon the editor shows.
    pub icon: &'static str,
    /// The version of the config schema, from 1, raised on every
    /// incompatible change of it.
    pub config_version: u32,
    /// The JSON Schema a config must satisfy.
    pub config_schema: &'static str,
    /// The local id of the artifact type a successful run produces.
    pub produces: Option<&'static str>,
}

/// A kind of artifact: the typed result an action hands to the next step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArtifactType {
    /// The local id, such as `message`.
    pub id: &'static str,
    /// The name shown to a human.
    pub name: &'static str,
    /// What the artifact stands for.
    pub description: &'static str,
    /// The JSON Schema every artifact of this type satisfies.
    pub schema: &'static str,
}

/// A kind of entity the plugin owns and writes through the entity engine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntityKind {
    /// The local kind, such as `notification`.
    pub kind: &'static str,
    /// The JSON Schema every state of this kind satisfies.
    pub state_schema: &'static str,
}

/// Background work the host runs every `every_seconds`, at whole multiples
/// of the interval since the Unix epoch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobDefinition {
    /// The local id, such as `advance_status`.
    pub id: &'static str,
    /// The name shown to an operator.
    pub display_name: &'static str,
    /// What the job does, for a human.
    pub description: &'static str,
    /// The interval, in seconds.
    pub every_seconds: u32,
}

/// A read-only query: what the plugin answers about what it holds
/// (contract 0.3.1's `queries` interface).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueryDefinition {
    /// The local id, such as `get`.
    pub id: &'static str,
    /// The name shown to a person choosing a query.
    pub display_name: &'static str,
    /// What the query answers, for a human.
    pub description: &'static str,
    /// The JSON Schema every input satisfies; the host checks it.
    pub input_schema: &'static str,
    /// The JSON Schema every result satisfies; the host checks it.
    pub result_schema: &'static str,
}

/// Everything a plugin publishes about itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PluginDefinition {
    /// The plugin id, the prefix of every qualified id.
    pub id: &'static str,
    /// The plugin's version (semver).
    pub version: &'static str,
    /// The triggers the plugin declares.
    pub triggers: Vec<TriggerDefinition>,
    /// The actions the plugin declares.
    pub actions: Vec<ActionDefinition>,
    /// The artifact types the plugin declares.
    pub artifact_types: Vec<ArtifactType>,
    /// The entity kinds the plugin owns.
    pub entity_kinds: Vec<EntityKind>,
    /// The scheduled jobs the plugin declares.
    pub jobs: Vec<JobDefinition>,
    /// The read-only queries the plugin answers.
    pub queries: Vec<QueryDefinition>,
}

impl PluginDefinition {
    /// A catalog with this id and version and nothing declared yet.
    pub fn new(id: &'static str, version: &'static str) -> Self {
        Self {
            id,
            version,
            triggers: Vec::new(),
            actions: Vec::new(),
            artifact_types: Vec::new(),
            entity_kinds: Vec::new(),
            jobs: Vec::new(),
            queries: Vec::new(),
        }
    }

    /// What the host would refuse at load, one line each: a plugin id not
    /// matching `[a-z][a-z0-9_-]*`, ids that are not local ids
    /// (`[a-z][a-z0-9_]*`), ids declared twice, schemas that
    /// are not JSON objects, an action producing an undeclared artifact
    /// type, a trigger naming an undeclared entity kind, a zero job
    /// interval. Meant for a plugin's own unit tests; it does not check
    /// that the schemas are valid JSON Schema, which the host does.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let ids = |what: &str, ids: Vec<&'static str>, problems: &mut Vec<String>| {
            for (index, id) in ids.iter().enumerate() {
                if !is_local_id(id) {
                    problems.push(format!(
                        "{what} id {id:?} is not a local id ([a-z][a-z0-9_]*)"
                    ));
                }
                if ids[..index].contains(id) {
                    problems.push(format!("{what} id {id:?} is declared twice"));
                }
            }
        };
        ids(
            "trigger",
            self.triggers.iter().map(|t| t.id).collect(),
            &mut problems,
        );
        ids(
            "action",
            self.actions.iter().map(|a| a.id).collect(),
            &mut problems,
        );
        ids(
            "artifact type",
            self.artifact_types.iter().map(|a| a.id).collect(),
            &mut problems,
        );
        ids(
            "entity kind",
            self.entity_kinds.iter().map(|k| k.kind).collect(),
            &mut problems,
        );
        ids(
            "job",
            self.jobs.iter().map(|j| j.id).collect(),
            &mut problems,
        );
        ids(
            "query",
            self.queries.iter().map(|q| q.id).collect(),
            &mut problems,
        );
        for job in &self.jobs {
            if job.every_seconds == 0 {
                problems.push(format!("job {} runs every 0 seconds", job.id));
            }
        }
        if !is_plugin_id(self.id) {
            problems.push(format!(
                "plugin id {:?} does not match [a-z][a-z0-9_-]*",
                self.id
            ));
        }
        let schemas = self
            .triggers
            .iter()
            .map(|t| (t.id, t.payload_schema))
            .chain(self.actions.iter().map(|a| (a.id, a.config_schema)))
            .chain(self.artifact_types.iter().map(|a| (a.id, a.schema)))
            .chain(self.entity_kinds.iter().map(|k| (k.kind, k.state_schema)))
            .chain(
                self.queries
                    .iter()
                    .flat_map(|q| [(q.id, q.input_schema), (q.id, q.result_schema)]),
            );
        for (owner, schema) in schemas {
            match serde_json::from_str::<Value>(schema) {
                Ok(Value::Object(_)) => {}
                Ok(_) => problems.push(format!("the schema of {owner} is not a JSON object")),
                Err(error) => problems.push(format!("the schema of {owner} is not JSON: {error}")),
            }
        }
        for action in &self.actions {
            if let Some(produces) = action.produces
                && !self.artifact_types.iter().any(|t| t.id == produces)
            {
                problems.push(format!(
                    "action {} produces undeclared artifact type {produces}",
                    action.id
                ));
            }
        }
        for trigger in &self.triggers {
            if let Some(kind) = trigger.entity_kind
                && !self.entity_kinds.iter().any(|k| k.kind == kind)
            {
                problems.push(format!(
                    "trigger {} names undeclared entity kind {kind}",
                    trigger.id
                ));
            }
        }
        problems
    }

    /// The trigger `id` declares, if any.
    pub fn trigger(&self, id: &str) -> Option<&TriggerDefinition> {
        self.triggers.iter().find(|trigger| trigger.id == id)
    }

    /// The query `id` declares, if any.
    pub fn query(&self, id: &str) -> Option<&QueryDefinition> {
        self.queries.iter().find(|query| query.id == id)
    }

    /// The action `id` declares, if any.
    pub fn action(&self, id: &str) -> Option<&ActionDefinition> {
        self.actions.iter().find(|action| action.id == id)
    }
}

/// Whether `id` can be a plugin id: `[a-z][a-z0-9_-]*`, as the host
/// checks it.
pub fn is_plugin_id(id: &str) -> bool {
    let mut chars = id.chars();
    chars.next().is_some_and(|first| first.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

/// Whether `id` is a local id: `[a-z][a-z0-9_]*`.
pub fn is_local_id(id: &str) -> bool {
    let mut chars = id.chars();
    chars.next().is_some_and(|first| first.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> PluginDefinition {
        let mut catalog = PluginDefinition::new("demo", "1.0.0");
        catalog.entity_kinds.push(EntityKind {
            kind: "thing",
            state_schema: r#"{"type":"object"}"#,
        });
        catalog.artifact_types.push(ArtifactType {
            id: "thing",
            name: "Thing",
            description: "A thing",
            schema: r#"{"type":"object"}"#,
        });
        catalog.actions.push(ActionDefinition {
            id: "make",
            display_name: "Make",
            description: "Makes a thing",
            category: "Demo",
            icon: "Box",
            config_version: 1,
            config_schema: r#"{"type":"object"}"#,
            produces: Some("thing"),
        });
        catalog.triggers.push(TriggerDefinition {
            id: "made",
            display_name: "Made",
            description: "A thing was made",
            category: "Demo",
            icon: "Box",
            payload_schema: r#"{"type":"object"}"#,
            context_key: None,
            entity_kind: Some("thing"),
        });
        catalog
    }

    #[test]
    fn a_consistent_catalog_has_no_problems() {
        assert_eq!(catalog().problems(), Vec::<String>::new());
        assert!(catalog().action("make").is_some());
        assert!(catalog().trigger("made").is_some());
        assert!(catalog().trigger("make").is_none());
    }

    #[test]
    fn each_inconsistency_is_named() {
        let mut broken = catalog();
        broken.triggers[0].id = "demo.made";
        broken.triggers[0].entity_kind = Some("other");
        broken.actions[0].produces = Some("nothing");
        broken.actions[0].config_schema = "[]";
        broken.actions.push(broken.actions[0].clone());
        broken.jobs.push(JobDefinition {
            id: "tick",
            display_name: "Tick",
            description: "Ticks",
            every_seconds: 0,
        });
        let problems = broken.problems();
        for expected in [
            "trigger id \"demo.made\" is not a local id",
            "action id \"make\" is declared twice",
            "job tick runs every 0 seconds",
            "the schema of make is not a JSON object",
            "action make produces undeclared artifact type nothing",
            "trigger demo.made names undeclared entity kind other",
        ] {
            assert!(
                problems.iter().any(|p| p.contains(expected)),
                "{expected} in {problems:?}"
            );
        }
    }

    #[test]
    fn local_ids_are_lowercase_words() {
        for id in ["a", "set_system", "v2"] {
            assert!(is_local_id(id), "{id}");
        }
        for id in ["", "A", "2a", "a-b", "a.b", "_a"] {
            assert!(!is_local_id(id), "{id}");
        }
        assert!(is_plugin_id("my-plugin_2"));
        assert!(!is_plugin_id("My-plugin") && !is_plugin_id("-a") && !is_plugin_id("a.b"));
    }
}
