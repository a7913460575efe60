//! What the plugin publishes: its triggers, actions, artifact types and
//! entity kind, with their JSON Schemas.

use serde_json::{Value, json};

use crate::config::{MAX_LIST_ITEMS, MAX_TEXT_CHARS};
use crate::entity::ENTITY_KIND;

pub const PLUGIN_ID: &str = "maintenance";
pub const PLUGIN_VERSION: &str = env!("CARGO_PKG_VERSION");

pub const TRIGGER_CREATED: &str = "created";
pub const TRIGGER_UPDATED: &str = "updated";

pub const ARTIFACT_WINDOW: &str = "window";
pub const ARTIFACT_SYSTEM_CLEARANCE: &str = "system_clearance";

const CATEGORY: &str = "Maintenance";
const CONTEXT_KEY: &str = "maintenanceId";

#[derive(Clone, Debug, PartialEq)]
pub struct TriggerDefinition {
    pub id: &'static str,
    pub display_name: &'static str,
    pub description: &'static str,
    pub category: &'static str,
    pub icon: &'static str,
    pub payload_schema: Value,
    pub context_key: Option<&'static str>,
    pub entity_kind: Option<&'static str>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ActionDefinition {
    pub id: &'static str,
    pub display_name: &'static str,
    pub description: &'static str,
    pub category: &'static str,
    pub icon: &'static str,
    pub config_version: u32,
    pub config_schema: Value,
    pub produces: Option<&'static str>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ArtifactType {
    pub id: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub schema: Value,
}

#[derive(Clone, Debug, PartialEq)]
pub struct EntityKind {
    pub kind: &'static str,
    pub state_schema: Value,
}

/// A scheduled job, run every `every_seconds`.
#[derive(Clone, Debug, PartialEq)]
pub struct JobDefinition {
    pub id: &'static str,
    pub display_name: &'static str,
    pub description: &'static str,
    pub every_seconds: u32,
}

#[derive(Clone, Debug, PartialEq)]
pub struct PluginDefinition {
    pub id: &'static str,
    pub version: &'static str,
    pub triggers: Vec<TriggerDefinition>,
    pub actions: Vec<ActionDefinition>,
    pub artifact_types: Vec<ArtifactType>,
    pub entity_kinds: Vec<EntityKind>,
    pub jobs: Vec<JobDefinition>,
}

const SCHEMA_DIALECT: &str = "https://json-schema.org/draft/2020-12/schema";

fn status_schema() -> Value {
    json!({ "type": "string", "enum": ["scheduled", "in_progress", "completed", "cancelled"] })
}

fn instant_schema() -> Value {
    json!({ "type": "string", "format": "date-time" })
}

fn non_empty_text() -> Value {
    json!({ "type": "string", "minLength": 1, "maxLength": MAX_TEXT_CHARS })
}

fn any_text() -> Value {
    json!({ "type": "string", "maxLength": MAX_TEXT_CHARS })
}

fn system_ids_schema() -> Value {
    json!({ "type": "array", "minItems": 1, "maxItems": MAX_LIST_ITEMS, "items": non_empty_text() })
}

/// `{ maintenanceId, status, systemIds, startAt, endAt }`: the window
/// artifact and both trigger payloads.
pub fn window_view_schema() -> Value {
    json!({
        "$schema": SCHEMA_DIALECT,
        "type": "object",
        "properties": {
            "maintenanceId": { "type": "string" },
            "status": status_schema(),
            "systemIds": { "type": "array", "items": { "type": "string" }, "uniqueItems": true },
            "startAt": instant_schema(),
            "endAt": instant_schema(),
        },
        "required": ["maintenanceId", "status", "systemIds", "startAt", "endAt"],
        "additionalProperties": false,
    })
}

fn entity_state_schema() -> Value {
    json!({
        "$schema": SCHEMA_DIALECT,
        "type": "object",
        "properties": {
            "status": status_schema(),
            "systemIds": { "type": "array", "items": { "type": "string" }, "uniqueItems": true },
            "startAt": instant_schema(),
            "endAt": instant_schema(),
        },
        "required": ["status", "systemIds", "startAt", "endAt"],
        "additionalProperties": false,
    })
}

fn system_clearance_schema() -> Value {
    json!({
        "$schema": SCHEMA_DIALECT,
        "type": "object",
        "properties": {
            "systemId": { "type": "string" },
            "closedMaintenanceIds": { "type": "array", "items": { "type": "string" } },
        },
        "required": ["systemId", "closedMaintenanceIds"],
        "additionalProperties": false,
    })
}

fn config_schema(properties: Value, required: &[&str]) -> Value {
    json!({
        "$schema": SCHEMA_DIALECT,
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": false,
    })
}

fn create_config_schema() -> Value {
    config_schema(
        json!({
            "title": non_empty_text(),
            "description": any_text(),
            "systemIds": system_ids_schema(),
            "startAt": instant_schema(),
            "endAt": instant_schema(),
            "suppressNotifications": { "type": "boolean", "default": false },
        }),
        &["title", "systemIds", "startAt", "endAt"],
    )
}

fn update_config_schema() -> Value {
    config_schema(
        json!({
            "maintenanceId": non_empty_text(),
            "title": non_empty_text(),
            "description": any_text(),
            "systemIds": system_ids_schema(),
            "startAt": instant_schema(),
            "endAt": instant_schema(),
            "suppressNotifications": { "type": "boolean" },
        }),
        &["maintenanceId"],
    )
}

fn add_update_config_schema() -> Value {
    config_schema(
        json!({
            "maintenanceId": non_empty_text(),
            "message": non_empty_text(),
            "statusChange": status_schema(),
        }),
        &["maintenanceId", "message"],
    )
}

fn set_system_config_schema() -> Value {
    config_schema(
        json!({
            "systemId": non_empty_text(),
            "title": non_empty_text(),
            "description": any_text(),
            "durationMinutes": { "type": "integer", "minimum": 1, "maximum": crate::actions::MAX_DURATION_MINUTES },
            "suppressNotifications": { "type": "boolean", "default": false },
        }),
        &["systemId", "durationMinutes"],
    )
}

fn clear_system_config_schema() -> Value {
    config_schema(
        json!({
            "systemId": non_empty_text(),
            "message": non_empty_text(),
        }),
        &["systemId"],
    )
}

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
        payload_schema: window_view_schema(),
        context_key: Some(CONTEXT_KEY),
        entity_kind: Some(ENTITY_KIND),
    }
}

fn action(
    id: &'static str,
    display_name: &'static str,
    description: &'static str,
    icon: &'static str,
    config_schema: Value,
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
                create_config_schema(),
                ARTIFACT_WINDOW,
            ),
            action(
                "update",
                "Update Maintenance",
                "Changes the title, description, systems or schedule of a maintenance window",
                "Wrench",
                update_config_schema(),
                ARTIFACT_WINDOW,
            ),
            action(
                "add_update",
                "Add Maintenance Update",
                "Posts a message to a maintenance window's log, optionally changing its status",
                "MessageSquarePlus",
                add_update_config_schema(),
                ARTIFACT_WINDOW,
            ),
            action(
                "set_system",
                "Set System Maintenance",
                "Puts one system into maintenance from now for a number of minutes",
                "Wrench",
                set_system_config_schema(),
                ARTIFACT_WINDOW,
            ),
            action(
                "clear_system",
                "Clear System Maintenance",
                "Completes every active maintenance window that covers a system",
                "Wrench",
                clear_system_config_schema(),
                ARTIFACT_SYSTEM_CLEARANCE,
            ),
        ],
        artifact_types: vec![
            ArtifactType {
                id: ARTIFACT_WINDOW,
                name: "Maintenance Window",
                description: "Maintenance row touched (created, updated or closed) by an automation",
                schema: window_view_schema(),
            },
            ArtifactType {
                id: ARTIFACT_SYSTEM_CLEARANCE,
                name: "System Clearance",
                description: "The maintenance windows an automation closed to release a system",
                schema: system_clearance_schema(),
            },
        ],
        entity_kinds: vec![EntityKind {
            kind: ENTITY_KIND,
            state_schema: entity_state_schema(),
        }],
        jobs: vec![JobDefinition {
            id: crate::jobs::JOB_ADVANCE_STATUS,
            display_name: "Advance Maintenance Status",
            description: "Starts scheduled windows whose start has passed and completes windows in progress whose end has passed",
            every_seconds: 60,
        }],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
