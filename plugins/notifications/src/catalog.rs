//! What the plugin publishes: two triggers, two actions (`send`, which
//! produces the `message` artifact, and `mark_sent`, which produces
//! none), the `message` artifact type and the `notification` entity kind,
//! with their JSON Schemas (kept as files in `schemas/`).

use plugin_sdk::catalog::{
    ActionDefinition, ArtifactType, EntityKind, PluginDefinition, QueryDefinition,
    TriggerDefinition,
};

use crate::notification::ENTITY_KIND;

/// The plugin id, the prefix of every qualified id.
pub const PLUGIN_ID: &str = "notifications";
/// The plugin's version.
pub const PLUGIN_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Fires when a notification is queued.
pub const TRIGGER_QUEUED: &str = "queued";
/// Fires when a notification's status becomes `sent`.
pub const TRIGGER_SENT: &str = "sent";

/// Queues a notification.
pub const ACTION_SEND: &str = "send";
/// Records a notification's delivery.
pub const ACTION_MARK_SENT: &str = "mark_sent";

/// The artifact `send` produces: the notification, as a message.
/// (`mark_sent` produces none: its external id names the notification.)
pub const ARTIFACT_MESSAGE: &str = "message";

const CATEGORY: &str = "Notifications";
const CONTEXT_KEY: &str = "notificationId";

const SEND_CONFIG_SCHEMA: &str = include_str!("../schemas/send-config.json");
const MARK_SENT_CONFIG_SCHEMA: &str = include_str!("../schemas/mark-sent-config.json");
/// `send`'s `message` artifact and both triggers' payload share this
/// shape.
const MESSAGE_SCHEMA: &str = include_str!("../schemas/message.json");
const NOTIFICATION_STATE_SCHEMA: &str = include_str!("../schemas/notification-state.json");
const GET_INPUT_SCHEMA: &str = include_str!("../schemas/get-input.json");
const GET_RESULT_SCHEMA: &str = include_str!("../schemas/get-result.json");

pub const QUERY_GET: &str = "get";

fn trigger(
    id: &'static str,
    display_name: &'static str,
    description: &'static str,
    icon: &'static str,
) -> TriggerDefinition {
    TriggerDefinition {
        id,
        display_name,
        description,
        category: CATEGORY,
        icon,
        payload_schema: MESSAGE_SCHEMA,
        context_key: Some(CONTEXT_KEY),
        entity_kind: Some(ENTITY_KIND),
    }
}

/// The plugin's whole catalog.
pub fn definitions() -> PluginDefinition {
    PluginDefinition {
        id: PLUGIN_ID,
        version: PLUGIN_VERSION,
        triggers: vec![
            trigger(
                TRIGGER_QUEUED,
                "Notification Queued",
                "Fires when an automation queues a new notification",
                "BellPlus",
            ),
            trigger(
                TRIGGER_SENT,
                "Notification Sent",
                "Fires when a queued notification is marked as sent",
                "BellRing",
            ),
        ],
        actions: vec![
            ActionDefinition {
                id: ACTION_SEND,
                display_name: "Send Notification",
                description: "Queues a notification to a channel; with a dedupe key, at most one per key",
                category: CATEGORY,
                icon: "Send",
                config_version: 1,
                config_schema: SEND_CONFIG_SCHEMA,
                produces: Some(ARTIFACT_MESSAGE),
            },
            ActionDefinition {
                id: ACTION_MARK_SENT,
                display_name: "Mark Notification Sent",
                description: "Records that a queued notification was delivered",
                category: CATEGORY,
                icon: "MailCheck",
                config_version: 1,
                config_schema: MARK_SENT_CONFIG_SCHEMA,
                produces: None,
            },
        ],
        artifact_types: vec![ArtifactType {
            id: ARTIFACT_MESSAGE,
            name: "Notification Message",
            description: "A notification an automation queued",
            schema: MESSAGE_SCHEMA,
        }],
        entity_kinds: vec![EntityKind {
            kind: ENTITY_KIND,
            state_schema: NOTIFICATION_STATE_SCHEMA,
        }],
        jobs: Vec::new(),
        queries: vec![QueryDefinition {
            id: QUERY_GET,
            display_name: "Get Notification",
            description: "A notification with its body, dedupe key and when it was queued and sent",
            input_schema: GET_INPUT_SCHEMA,
            result_schema: GET_RESULT_SCHEMA,
        }],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::{
        MAX_BODY_CHARS, MAX_CHANNEL_CHARS, MAX_DEDUPE_KEY_CHARS, MAX_SUBJECT_CHARS,
    };
    use serde_json::Value;

    fn schema(text: &str) -> Value {
        serde_json::from_str(text).expect("schemas are JSON")
    }

    #[test]
    fn the_catalog_is_consistent() {
        assert_eq!(definitions().problems(), Vec::<String>::new());
    }

    #[test]
    fn every_schema_is_a_closed_2020_12_object_schema() {
        let catalog = definitions();
        let texts = catalog
            .triggers
            .iter()
            .map(|t| t.payload_schema)
            .chain(catalog.actions.iter().map(|a| a.config_schema))
            .chain(catalog.artifact_types.iter().map(|t| t.schema))
            .chain(catalog.entity_kinds.iter().map(|k| k.state_schema));
        for text in texts {
            let schema = schema(text);
            assert_eq!(
                schema["$schema"],
                "https://json-schema.org/draft/2020-12/schema"
            );
            assert_eq!(schema["type"], "object");
            assert_eq!(schema["additionalProperties"], false);
        }
    }

    #[test]
    fn the_send_schema_states_the_bounds_the_plugin_enforces() {
        let send = schema(SEND_CONFIG_SCHEMA);
        let properties = &send["properties"];
        for (field, min, max) in [
            ("channel", Some(1), MAX_CHANNEL_CHARS),
            ("subject", Some(1), MAX_SUBJECT_CHARS),
            ("body", None, MAX_BODY_CHARS),
            ("dedupeKey", Some(1), MAX_DEDUPE_KEY_CHARS),
        ] {
            assert_eq!(properties[field]["type"], "string", "{field}");
            assert_eq!(properties[field]["maxLength"], max, "{field}");
            assert_eq!(properties[field]["minLength"].as_u64(), min, "{field}");
        }
        assert_eq!(send["required"], serde_json::json!(["channel", "subject"]));
    }

    #[test]
    fn only_send_produces_an_artifact() {
        let catalog = definitions();
        let produces = |id| catalog.action(id).map(|action| action.produces);
        assert_eq!(produces(ACTION_SEND), Some(Some(ARTIFACT_MESSAGE)));
        assert_eq!(produces(ACTION_MARK_SENT), Some(None));
    }

    #[test]
    fn triggers_group_by_notification_and_follow_the_entity() {
        for trigger in definitions().triggers {
            assert_eq!(trigger.context_key, Some("notificationId"));
            assert_eq!(trigger.entity_kind, Some(ENTITY_KIND));
            let payload = schema(trigger.payload_schema);
            assert_eq!(
                payload["required"],
                serde_json::json!(["notificationId", "channel", "subject", "status"])
            );
        }
    }
}
