//! A plugin's catalog as the host publishes it: every id qualified, every
//! schema compiled, every cross-reference checked. It is read from the
//! plain [`PluginDefinition`] a guest hands over, whatever the guest is (a
//! component of any contract version, or native code).

use std::collections::BTreeMap;

use anyhow::{Context as _, anyhow, ensure};
use serde::Serialize;
use serde_json::Value;

use crate::records::{Actor, ActorType};
use crate::schema::Schema;

/// What a plugin declares about itself, as it declared it: local ids and
/// schemas as JSON text.
#[derive(Clone, Debug, Default)]
pub struct PluginDefinition {
    /// The plugin id, the prefix of every qualified id.
    pub id: String,
    /// The plugin's version.
    pub version: String,
    /// The triggers it declares.
    pub triggers: Vec<TriggerDefinition>,
    /// The actions it declares.
    pub actions: Vec<ActionDefinition>,
    /// The artifact types it declares.
    pub artifact_types: Vec<ArtifactTypeDefinition>,
    /// The entity kinds it owns.
    pub entity_kinds: Vec<EntityKindDefinition>,
    /// The scheduled jobs it declares.
    pub jobs: Vec<JobDefinition>,
    /// The read-only queries it answers (contract 0.3.1's `queries`).
    pub queries: Vec<QueryDefinition>,
}

/// A declared trigger.
#[derive(Clone, Debug)]
pub struct TriggerDefinition {
    /// The trigger's local id, such as `created`, unique in the plugin.
    pub id: String,
    /// The name an editor shows.
    pub display_name: String,
    /// What makes it fire.
    pub description: String,
    /// The editor category.
    pub category: String,
    /// The editor icon.
    pub icon: String,
    /// The payload's JSON Schema, as text.
    pub payload_schema: String,
    /// The payload field holding the context key.
    pub context_key: Option<String>,
    /// The local entity kind whose changes fire it.
    pub entity_kind: Option<String>,
}

/// A declared action.
#[derive(Clone, Debug)]
pub struct ActionDefinition {
    /// The action's local id, such as `set_system`, unique in the plugin.
    pub id: String,
    /// The name an editor shows.
    pub display_name: String,
    /// What it does.
    pub description: String,
    /// The editor category.
    pub category: String,
    /// The editor icon.
    pub icon: String,
    /// The version of its config schema.
    pub config_version: u32,
    /// The config's JSON Schema, as text.
    pub config_schema: String,
    /// The local artifact type it produces.
    pub produces: Option<String>,
}

/// A declared artifact type.
#[derive(Clone, Debug)]
pub struct ArtifactTypeDefinition {
    /// The artifact type's local id, such as `window`.
    pub id: String,
    /// The name shown to a human.
    pub name: String,
    /// What the artifact stands for.
    pub description: String,
    /// The artifact's JSON Schema, as text.
    pub schema: String,
}

/// A declared entity kind.
#[derive(Clone, Debug)]
pub struct EntityKindDefinition {
    /// The kind's local name, such as `maintenance`.
    pub kind: String,
    /// The state's JSON Schema, as text.
    pub state_schema: String,
}

/// A declared scheduled job.
#[derive(Clone, Debug)]
pub struct JobDefinition {
    /// The job's local id, such as `advance_status`.
    pub id: String,
    /// The name an operator sees.
    pub display_name: String,
    /// What the job does.
    pub description: String,
    /// It runs at every whole multiple of this many seconds since the
    /// Unix epoch.
    pub every_seconds: u32,
}

/// A query as a plugin declares it.
#[derive(Clone, Debug)]
pub struct QueryDefinition {
    /// The local id, such as `get`.
    pub id: String,
    /// The name shown to a person choosing a query.
    pub display_name: String,
    /// What the query answers, for a human.
    pub description: String,
    /// The JSON Schema of its input, as text.
    pub input_schema: String,
    /// The JSON Schema of its result, as text.
    pub result_schema: String,
}

/// A checked query, as `describe` publishes it.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QueryInfo {
    /// `<plugin>.<local>`.
    pub id: String,
    /// The id the plugin declared.
    pub local_id: String,
    /// The name shown to a person choosing a query.
    pub display_name: String,
    /// What the query answers, for a human.
    pub description: String,
    /// The JSON Schema every input satisfies.
    pub input_schema: Value,
    /// The JSON Schema every result satisfies.
    pub result_schema: Value,
}

/// A checked query with its compiled input and result schemas.
pub struct CheckedQuery {
    /// What `describe` publishes.
    pub info: QueryInfo,
    /// Checks each input before the plugin sees it.
    pub input: Schema,
    /// Checks each result before the caller sees it.
    pub result: Schema,
}

/// A trigger as the host publishes it.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TriggerInfo {
    /// The qualified id, `<plugin>.<local>` such as `maintenance.created`;
    /// events name their trigger by it.
    pub id: String,
    /// The id the plugin declared, without the prefix, such as `created`.
    pub local_id: String,
    /// The name shown in an automation editor.
    pub display_name: String,
    /// What makes the trigger fire, for a human.
    pub description: String,
    /// The editor category the trigger is listed under.
    pub category: String,
    /// The name of the icon the editor shows.
    pub icon: String,
    /// The JSON Schema every payload of the trigger satisfies, parsed.
    pub payload_schema: Value,
    /// The payload field whose value becomes an event's context key when
    /// the deriver gives none; absent when the trigger has no such field.
    pub context_key: Option<String>,
    /// The plugin's local entity kind whose changes fire the trigger
    /// through the deriver; absent for a trigger fired some other way.
    pub entity_kind: Option<String>,
}

/// An action as the host publishes it.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ActionInfo {
    /// The qualified id, `<plugin>.<local>` such as
    /// `maintenance.set_system`.
    pub id: String,
    /// The id the plugin declared, without the prefix, such as
    /// `set_system`.
    pub local_id: String,
    /// The name shown in an automation editor.
    pub display_name: String,
    /// What the action does, for a human.
    pub description: String,
    /// The editor category the action is listed under.
    pub category: String,
    /// The name of the icon the editor shows.
    pub icon: String,
    /// The version of the config schema, starting at 1 and raised on every
    /// incompatible change, so whoever stores a config can tell which
    /// schema it was written for.
    pub config_version: u32,
    /// The JSON Schema a config must satisfy, parsed; the host checks every
    /// request against it before the plugin runs.
    pub config_schema: Value,
    /// The qualified artifact type the action produces.
    pub produces: Option<String>,
}

/// An artifact type as the host publishes it.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ArtifactTypeInfo {
    /// The qualified id, `<plugin>.<local>` such as `maintenance.window`;
    /// actions name what they produce by it.
    pub id: String,
    /// The id the plugin declared, without the prefix, such as `window`.
    pub local_id: String,
    /// The name shown to a human.
    pub name: String,
    /// What the artifact stands for.
    pub description: String,
    /// The JSON Schema every artifact of this type satisfies, parsed; the
    /// host checks each produced artifact against it.
    pub schema: Value,
}

/// An entity kind as the host publishes it.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EntityKindInfo {
    /// The local kind, such as `maintenance`. Kinds are never qualified: a
    /// change carries its plugin id beside it.
    pub kind: String,
    /// The JSON Schema every state of this kind satisfies, parsed.
    pub state_schema: Value,
}

/// A scheduled job as the host publishes it.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JobInfo {
    /// The qualified id, `<plugin>.<local>` such as
    /// `maintenance.advance_status`; a job run's outcome carries it as its
    /// action.
    pub id: String,
    /// The id the plugin declared, without the prefix, such as
    /// `advance_status`.
    pub local_id: String,
    /// The name shown to an operator.
    pub display_name: String,
    /// What the job does, for a human.
    pub description: String,
    /// The job runs at every whole multiple of this many seconds since the
    /// Unix epoch.
    pub every_seconds: u32,
}

/// A plugin's checked catalog, with every schema compiled.
pub struct Catalog {
    /// The plugin id, such as `maintenance`: the prefix of every qualified
    /// id, matching `[a-z][a-z0-9_-]*`.
    pub id: String,
    /// The plugin's version as it declared it (semver), such as `1.3.1`.
    pub version: String,
    /// The triggers by local id, each with its compiled payload schema.
    pub triggers: BTreeMap<String, (TriggerInfo, Schema)>,
    /// The actions by local id, each with its compiled config schema.
    pub actions: BTreeMap<String, (ActionInfo, Schema)>,
    /// The artifact types by local id, each with its compiled schema.
    pub artifact_types: BTreeMap<String, (ArtifactTypeInfo, Schema)>,
    /// The compiled state schema of each entity kind, by local kind.
    pub entity_kinds: BTreeMap<String, Schema>,
    /// The entity kinds as published, in the order the plugin declared
    /// them.
    pub entity_kind_infos: Vec<EntityKindInfo>,
    /// The scheduled jobs by local id.
    pub jobs: BTreeMap<String, JobInfo>,
    /// The queries, by local id.
    pub queries: BTreeMap<String, CheckedQuery>,
    /// The component's imports, by name.
    pub imports: Vec<String>,
}

impl Catalog {
    /// Stands in while the real catalog is being read.
    pub(crate) fn loading() -> Self {
        Self {
            id: "(loading)".into(),
            version: String::new(),
            triggers: BTreeMap::new(),
            actions: BTreeMap::new(),
            artifact_types: BTreeMap::new(),
            entity_kinds: BTreeMap::new(),
            entity_kind_infos: Vec::new(),
            jobs: BTreeMap::new(),
            queries: BTreeMap::new(),
            imports: Vec::new(),
        }
    }

    /// The actor of the plugin's own background work.
    pub fn service_actor(&self) -> Actor {
        Actor::new(ActorType::Service, self.id.clone(), Some(self.id.clone()))
    }

    /// `maintenance@1.3.1`, how errors name the plugin.
    pub fn label(&self) -> String {
        format!("{}@{}", self.id, self.version)
    }

    /// The qualified form of a local id, `<plugin>.<local>`: `created`
    /// becomes `maintenance.created`. The id is not checked against the
    /// catalog.
    pub fn qualify(&self, local_id: &str) -> String {
        format!("{}.{local_id}", self.id)
    }

    /// The local id that `id` names, accepting a local id or one qualified
    /// with this plugin's prefix.
    pub fn local_id<'a>(&self, id: &'a str) -> Option<&'a str> {
        match id.split_once('.') {
            Some((prefix, local)) if prefix == self.id => Some(local),
            Some(_) => None,
            None => Some(id),
        }
    }

    /// The published triggers, ordered by local id.
    pub fn trigger_infos(&self) -> impl Iterator<Item = &TriggerInfo> {
        self.triggers.values().map(|(info, _)| info)
    }

    /// The published actions, ordered by local id.
    pub fn action_infos(&self) -> impl Iterator<Item = &ActionInfo> {
        self.actions.values().map(|(info, _)| info)
    }

    /// The queries, ordered by local id.
    pub fn query_infos(&self) -> impl Iterator<Item = &QueryInfo> {
        self.queries.values().map(|query| &query.info)
    }

    /// The published artifact types, ordered by local id.
    pub fn artifact_type_infos(&self) -> impl Iterator<Item = &ArtifactTypeInfo> {
        self.artifact_types.values().map(|(info, _)| info)
    }

    /// Checks `definition` and builds the catalog: ids well formed and
    /// unique, schemas valid, every reference declared. `imports` are the
    /// component's imports, published with it.
    pub fn from_definition(
        definition: PluginDefinition,
        imports: Vec<String>,
    ) -> anyhow::Result<Self> {
        ensure!(
            is_plugin_id(&definition.id),
            "plugin id {:?} must match [a-z][a-z0-9_-]*",
            definition.id
        );
        ensure!(
            !definition.version.is_empty(),
            "plugin version must not be empty"
        );
        let mut catalog = Self {
            id: definition.id,
            version: definition.version,
            imports,
            ..Self::loading()
        };
        for kind in definition.entity_kinds {
            check_local_id("entity kind", &kind.kind)?;
            let (schema, document) = declared_schema(&kind.state_schema)
                .with_context(|| format!("state schema of entity kind {}", kind.kind))?;
            let info = EntityKindInfo {
                kind: kind.kind.clone(),
                state_schema: document,
            };
            declare(&mut catalog.entity_kinds, "entity kind", &kind.kind, schema)?;
            catalog.entity_kind_infos.push(info);
        }
        for artifact in definition.artifact_types {
            check_local_id("artifact type", &artifact.id)?;
            let (schema, document) = declared_schema(&artifact.schema)
                .with_context(|| format!("schema of artifact type {}", artifact.id))?;
            let info = ArtifactTypeInfo {
                id: catalog.qualify(&artifact.id),
                local_id: artifact.id.clone(),
                name: artifact.name,
                description: artifact.description,
                schema: document,
            };
            declare(
                &mut catalog.artifact_types,
                "artifact type",
                &artifact.id,
                (info, schema),
            )?;
        }
        for trigger in definition.triggers {
            check_local_id("trigger", &trigger.id)?;
            if let Some(kind) = &trigger.entity_kind {
                ensure!(
                    catalog.entity_kinds.contains_key(kind),
                    "trigger {} is driven by undeclared entity kind {kind}",
                    trigger.id
                );
            }
            let (schema, document) = declared_schema(&trigger.payload_schema)
                .with_context(|| format!("payload schema of trigger {}", trigger.id))?;
            let info = TriggerInfo {
                id: catalog.qualify(&trigger.id),
                local_id: trigger.id.clone(),
                display_name: trigger.display_name,
                description: trigger.description,
                category: trigger.category,
                icon: trigger.icon,
                payload_schema: document,
                context_key: trigger.context_key,
                entity_kind: trigger.entity_kind,
            };
            declare(
                &mut catalog.triggers,
                "trigger",
                &trigger.id,
                (info, schema),
            )?;
        }
        for action in definition.actions {
            check_local_id("action", &action.id)?;
            if let Some(produces) = &action.produces {
                ensure!(
                    catalog.artifact_types.contains_key(produces),
                    "action {} produces undeclared artifact type {produces}",
                    action.id
                );
            }
            let (schema, document) = declared_schema(&action.config_schema)
                .with_context(|| format!("config schema of action {}", action.id))?;
            let info = ActionInfo {
                id: catalog.qualify(&action.id),
                local_id: action.id.clone(),
                display_name: action.display_name,
                description: action.description,
                category: action.category,
                icon: action.icon,
                config_version: action.config_version,
                config_schema: document,
                produces: action.produces.as_deref().map(|id| catalog.qualify(id)),
            };
            declare(&mut catalog.actions, "action", &action.id, (info, schema))?;
        }
        for job in definition.jobs {
            check_local_id("job", &job.id)?;
            let every_seconds = job.every_seconds;
            ensure!(every_seconds > 0, "job {} has an interval of 0 s", job.id);
            let info = JobInfo {
                id: catalog.qualify(&job.id),
                local_id: job.id.clone(),
                display_name: job.display_name,
                description: job.description,
                every_seconds,
            };
            declare(&mut catalog.jobs, "job", &job.id, info)?;
        }
        for query in definition.queries {
            check_local_id("query", &query.id)?;
            let (input, input_schema) = declared_schema(&query.input_schema)
                .with_context(|| format!("input schema of query {}", query.id))?;
            let (result, result_schema) = declared_schema(&query.result_schema)
                .with_context(|| format!("result schema of query {}", query.id))?;
            let info = QueryInfo {
                id: catalog.qualify(&query.id),
                local_id: query.id.clone(),
                display_name: query.display_name,
                description: query.description,
                input_schema,
                result_schema,
            };
            declare(
                &mut catalog.queries,
                "query",
                &query.id,
                CheckedQuery {
                    info,
                    input,
                    result,
                },
            )?;
        }
        Ok(catalog)
    }
}

/// Inserts a declaration, refusing a second one with the same id.
fn declare<T>(map: &mut BTreeMap<String, T>, what: &str, id: &str, value: T) -> anyhow::Result<()> {
    ensure!(
        map.insert(id.to_owned(), value).is_none(),
        "{what} {id} is declared twice"
    );
    Ok(())
}

/// Compiles a declared schema, returning it with the parsed document the
/// catalog publishes, so the text is parsed once.
fn declared_schema(text: &str) -> anyhow::Result<(Schema, Value)> {
    let document: Value =
        serde_json::from_str(text).map_err(|error| anyhow!("not valid JSON: {error}"))?;
    Ok((Schema::from_document(&document)?, document))
}

fn is_plugin_id(id: &str) -> bool {
    let mut chars = id.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

/// Local ids carry no prefix, so a plugin cannot declare anything under
/// another plugin's id.
fn check_local_id(what: &str, id: &str) -> anyhow::Result<()> {
    let mut chars = id.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    ensure!(
        valid,
        "{what} id {id:?} must be a local id matching [a-z][a-z0-9_]*"
    );
    Ok(())
}
