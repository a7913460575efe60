//! What the plugin publishes: its triggers, actions, artifact types and
//! entity kind, with their JSON Schemas.

use crate::entity::ENTITY_KIND;

pub use plugin_sdk::catalog::{
    ActionDefinition, ArtifactType, EntityKind, JobDefinition, PluginDefinition, QueryDefinition,
    TriggerDefinition,
};

pub const PLUGIN_ID: &str = "maintenance";
pub const PLUGIN_VERSION: &str = env!("CARGO_PKG_VERSION");

pub const TRIGGER_CREATED: &str = "created";
pub const TRIGGER_UPDATED: &str = "updated";

pub const ARTIFACT_WINDOW: &str = "window";
pub const ARTIFACT_SYSTEM_CLEARANCE: &str = "system_clearance";

const CATEGORY: &str = "Maintenance";
const CONTEXT_KEY: &str = "maintenanceId";

/// The JSON Schemas, kept as the documents the host receives: nothing to
/// build at run time, and readable on their own. The tests below check
/// that the limits they state are the ones the config reader enforces:
/// every id (`systemId`, each of `systemIds`, `maintenanceId`) at most
/// [`crate::config::MAX_ID_CHARS`] (256) characters, other texts at most
/// [`crate::config::MAX_TEXT_CHARS`].
const WINDOW_VIEW_SCHEMA: &str = include_str!("../schemas/window-view.json");
const SYSTEM_CLEARANCE_SCHEMA: &str = include_str!("../schemas/system-clearance.json");
const MAINTENANCE_STATE_SCHEMA: &str = include_str!("../schemas/maintenance-state.json");
const CREATE_CONFIG_SCHEMA: &str = include_str!("../schemas/create-config.json");
const UPDATE_CONFIG_SCHEMA: &str = include_str!("../schemas/update-config.json");
const ADD_UPDATE_CONFIG_SCHEMA: &str = include_str!("../schemas/add-update-config.json");
const SET_SYSTEM_CONFIG_SCHEMA: &str = include_str!("../schemas/set-system-config.json");
const CLEAR_SYSTEM_CONFIG_SCHEMA: &str = include_str!("../schemas/clear-system-config.json");
const GET_INPUT_SCHEMA: &str = include_str!("../schemas/get-input.json");
const GET_RESULT_SCHEMA: &str = include_str!("../schemas/get-result.json");
const LIST_INPUT_SCHEMA: &str = include_str!("../schemas/list-input.json");
const LIST_RESULT_SCHEMA: &str = include_str!("../schemas/list-result.json");
const ACTIVE_INPUT_SCHEMA: &str = include_str!("../schemas/active-for-system-input.json");
const ACTIVE_RESULT_SCHEMA: &str = include_str!("../schemas/active-for-system-result.json");

fn trigger(
    id: &'static str,
    display_name: &'static str,
    description: &'static str,
) -> TriggerDefinition {
    TriggerDefinition {
        id,
        display_name,
        description,
        category: CATEGORY,
        icon: "Wrench",
        payload_schema: WINDOW_VIEW_SCHEMA,
        context_key: Some(CONTEXT_KEY),
        entity_kind: Some(ENTITY_KIND),
    }
}

fn action(
    id: &'static str,
    display_name: &'static str,
    description: &'static str,
    icon: &'static str,
    config_schema: &'static str,
    produces: &'static str,
) -> ActionDefinition {
    ActionDefinition {
        id,
        display_name,
        description,
        category: CATEGORY,
        icon,
        config_version: 1,
        config_schema,
        produces: Some(produces),
    }
}

/// The plugin's whole catalog.
pub fn definitions() -> PluginDefinition {
    PluginDefinition {
        id: PLUGIN_ID,
        version: PLUGIN_VERSION,
        triggers: vec![
            trigger(
                TRIGGER_CREATED,
                "Maintenance Created",
                "Fires when a new maintenance window is scheduled",
            ),
            trigger(
                TRIGGER_UPDATED,
                "Maintenance Updated",
                "Fires when a maintenance window's status, schedule, or affected systems change",
            ),
        ],
        actions: vec![
            action(
                "create",
                "Schedule Maintenance",
                "Schedules a maintenance window for one or more systems",
                "Wrench",
                CREATE_CONFIG_SCHEMA,
                ARTIFACT_WINDOW,
            ),
            action(
                "update",
                "Update Maintenance",
                "Changes the title, description, systems or schedule of a maintenance window",
                "Wrench",
                UPDATE_CONFIG_SCHEMA,
                ARTIFACT_WINDOW,
            ),
            action(
                "add_update",
                "Add Maintenance Update",
                "Posts a message to a maintenance window's log, optionally changing its status",
                "MessageSquarePlus",
                ADD_UPDATE_CONFIG_SCHEMA,
                ARTIFACT_WINDOW,
            ),
            action(
                "set_system",
                "Set System Maintenance",
                "Puts one system into maintenance from now for a number of minutes",
                "Wrench",
                SET_SYSTEM_CONFIG_SCHEMA,
                ARTIFACT_WINDOW,
            ),
            action(
                "clear_system",
                "Clear System Maintenance",
                "Completes every active maintenance window that covers a system, in order of startAt, then maintenance id",
                "Wrench",
                CLEAR_SYSTEM_CONFIG_SCHEMA,
                ARTIFACT_SYSTEM_CLEARANCE,
            ),
        ],
        artifact_types: vec![
            ArtifactType {
                id: ARTIFACT_WINDOW,
                name: "Maintenance Window",
                description: "Maintenance row touched (created, updated or closed) by an automation",
                schema: WINDOW_VIEW_SCHEMA,
            },
            ArtifactType {
                id: ARTIFACT_SYSTEM_CLEARANCE,
                name: "System Clearance",
                description: "The maintenance windows an automation closed to release a system",
                schema: SYSTEM_CLEARANCE_SCHEMA,
            },
        ],
        entity_kinds: vec![EntityKind {
            kind: ENTITY_KIND,
            state_schema: MAINTENANCE_STATE_SCHEMA,
        }],
        jobs: vec![JobDefinition {
            id: crate::jobs::JOB_ADVANCE_STATUS,
            display_name: "Advance Maintenance Status",
            description: "Starts scheduled windows whose start has passed and completes windows in progress whose end has passed",
            every_seconds: 60,
        }],
        queries: vec![
            QueryDefinition {
                id: "get",
                display_name: "Get Maintenance",
                description: "A maintenance window with its update log, oldest update first",
                input_schema: GET_INPUT_SCHEMA,
                result_schema: GET_RESULT_SCHEMA,
            },
            QueryDefinition {
                id: "list",
                display_name: "List Maintenances",
                description: "Maintenance windows ordered by startAt, then id, a page at a time; filtered by status, system and start",
                input_schema: LIST_INPUT_SCHEMA,
                result_schema: LIST_RESULT_SCHEMA,
            },
            QueryDefinition {
                id: "active_for_system",
                display_name: "Active Maintenance for System",
                description: "The windows, scheduled or in progress, whose time [startAt, endAt) holds an instant (the host clock by default) for one system",
                input_schema: ACTIVE_INPUT_SCHEMA,
                result_schema: ACTIVE_RESULT_SCHEMA,
            },
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{MAX_ID_CHARS, MAX_LIST_ITEMS, MAX_TEXT_CHARS};
    use serde_json::Value;

    fn schemas() -> Vec<(&'static str, Value)> {
        let catalog = definitions();
        let mut texts: Vec<(&str, &str)> = Vec::new();
        texts.extend(catalog.triggers.iter().map(|t| (t.id, t.payload_schema)));
        texts.extend(catalog.actions.iter().map(|a| (a.id, a.config_schema)));
        texts.extend(catalog.artifact_types.iter().map(|t| (t.id, t.schema)));
        texts.extend(
            catalog
                .entity_kinds
                .iter()
                .map(|k| (k.kind, k.state_schema)),
        );
        texts
            .into_iter()
            .map(|(id, text)| (id, serde_json::from_str(text).expect("schemas are JSON")))
            .collect()
    }

    /// Every value of `keyword` anywhere in `schema`.
    fn keyword_values<'a>(schema: &'a Value, keyword: &str, found: &mut Vec<&'a Value>) {
        match schema {
            Value::Object(object) => {
                found.extend(object.get(keyword));
                for value in object.values() {
                    keyword_values(value, keyword, found);
                }
            }
            Value::Array(items) => items
                .iter()
                .for_each(|item| keyword_values(item, keyword, found)),
            _ => {}
        }
    }

    #[test]
    fn every_schema_is_a_closed_2020_12_object_schema() {
        for (id, schema) in schemas() {
            assert_eq!(
                schema["$schema"], "https://json-schema.org/draft/2020-12/schema",
                "{id}"
            );
            assert_eq!(schema["type"], "object", "{id}");
            assert_eq!(schema["additionalProperties"], false, "{id}");
        }
    }

    /// The schemas of the id fields an action config has, by path.
    fn id_fields(schema: &Value) -> Vec<(&'static str, &Value)> {
        let properties = &schema["properties"];
        [
            ("maintenanceId", &properties["maintenanceId"]),
            ("systemId", &properties["systemId"]),
            ("systemIds/items", &properties["systemIds"]["items"]),
        ]
        .into_iter()
        .filter(|(_, field)| !field.is_null())
        .collect()
    }

    #[test]
    fn every_id_a_config_holds_is_bounded_and_says_so() {
        let mut checked = 0;
        for action in definitions().actions {
            let schema: Value = serde_json::from_str(action.config_schema).unwrap();
            for (path, field) in id_fields(&schema) {
                assert_eq!(field["maxLength"], MAX_ID_CHARS, "{} {path}", action.id);
                let description = field["description"].as_str().unwrap_or_default();
                assert!(
                    description.contains(&format!("at most {MAX_ID_CHARS} characters")),
                    "{} {path}: {description}",
                    action.id
                );
                checked += 1;
            }
        }
        // create and update: systemIds; update and add_update:
        // maintenanceId; set_system and clear_system: systemId.
        assert_eq!(checked, 6);
    }

    #[test]
    fn the_schemas_state_the_limits_the_config_reader_enforces() {
        let mut checked = 0;
        for (id, mut schema) in schemas() {
            // Ids have their own bound, checked above.
            let ids: Vec<String> = id_fields(&schema)
                .iter()
                .map(|(p, _)| p.to_string())
                .collect();
            for path in ids {
                let field = schema["properties"]
                    .pointer_mut(&format!("/{path}"))
                    .and_then(Value::as_object_mut)
                    .expect("an id field");
                field.remove("maxLength");
            }
            let mut lengths = Vec::new();
            keyword_values(&schema, "maxLength", &mut lengths);
            assert!(lengths.iter().all(|n| **n == MAX_TEXT_CHARS), "{id}");
            let mut items = Vec::new();
            keyword_values(&schema, "maxItems", &mut items);
            assert!(items.iter().all(|n| **n == MAX_LIST_ITEMS), "{id}");
            checked += lengths.len() + items.len();
        }
        assert!(checked >= 10, "the limits are stated");
        let set_system = schemas()
            .into_iter()
            .find(|(id, _)| *id == "set_system")
            .expect("set_system")
            .1;
        assert_eq!(
            set_system["properties"]["durationMinutes"]["maximum"],
            crate::actions::MAX_DURATION_MINUTES
        );
    }

    #[test]
    fn every_action_produces_a_declared_artifact_type() {
        let catalog = definitions();
        for action in &catalog.actions {
            let produces = action.produces.unwrap();
            assert!(
                catalog.artifact_types.iter().any(|t| t.id == produces),
                "{} produces undeclared {produces}",
                action.id
            );
        }
    }

    #[test]
    fn local_ids_never_spell_the_plugin_prefix() {
        let catalog = definitions();
        let ids = catalog
            .triggers
            .iter()
            .map(|t| t.id)
            .chain(catalog.actions.iter().map(|a| a.id))
            .chain(catalog.artifact_types.iter().map(|a| a.id));
        for id in ids {
            assert!(!id.contains('.'), "{id}");
        }
    }
}
