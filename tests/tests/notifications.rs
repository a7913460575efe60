//! The notifications plugin, written only with the SDK, through the real
//! host: its catalog as specified, each action's outcome on both stores,
//! dedupe and repeated delivery writing nothing, and the plugin side by
//! side with the maintenance plugin on one store.

use std::path::Path;

use automation_harness::scenario::{Scenario, run_scenario};
use automation_harness::{Harness, RunOutcome, RunRequest, StoreSnapshot};
use integration_tests::*;
use serde_json::{Value, json};

const NOTIFICATIONS_SPACE: &str = "plugin/notifications";
const NOTIFICATIONS_ENTITIES: &str = "entity/notifications";
const MAINTENANCE_SPACE: &str = "plugin/maintenance";
const MAINTENANCE_ENTITIES: &str = "entity/maintenance";

fn send(harness: &Harness, config: Value) -> RunOutcome {
    run_ok(harness, "send", config)
}

/// The outcome of a run the plugin or the host must refuse.
fn refused(harness: &Harness, action: &str, config: Value) -> RunOutcome {
    let outcome = harness
        .run(RunRequest::new(action, config.clone()))
        .unwrap_or_else(|error| panic!("{action} errored: {error:#}"));
    assert!(outcome.result.is_err(), "{action} {config} succeeded");
    outcome
}

/// The artifact of a successful outcome, if it returned one.
fn returned_artifact(outcome: &RunOutcome) -> Option<Value> {
    outcome
        .result
        .as_ref()
        .unwrap_or_else(|failure| panic!("the run failed: {}", failure.message()))
        .artifact
        .clone()
}

fn error_json(outcome: &RunOutcome) -> Value {
    outcome.to_json()["error"].clone()
}

fn problem_paths(outcome: &RunOutcome) -> Vec<String> {
    let error = error_json(outcome);
    assert_eq!(error["kind"], "invalid_config", "{error}");
    error["problems"]
        .as_array()
        .expect("problems")
        .iter()
        .map(|problem| problem["path"].as_str().expect("a path").to_owned())
        .collect()
}

/// The keys of one key space of the store.
fn keys(snapshot: &StoreSnapshot, space: &str) -> Vec<String> {
    snapshot
        .spaces
        .get(space)
        .map(|entries| entries.keys().cloned().collect())
        .unwrap_or_default()
}

fn stored(snapshot: &StoreSnapshot, space: &str, key: &str) -> Value {
    let bytes = &snapshot.spaces[space][key];
    serde_json::from_slice(bytes).expect("stored as JSON")
}

/// JSON Schema's annotation keywords: they describe a schema, they do not
/// constrain what it accepts. Everything else is compared exactly.
const ANNOTATIONS: [&str; 4] = ["description", "title", "$schema", "examples"];

/// `schema` without its annotations, at any depth. Only keyword positions
/// are stripped: a property *named* `description` is kept, its schema
/// stripped like any other.
fn without_annotations(schema: &Value) -> Value {
    /// Keywords whose value is a schema.
    const SCHEMA: &[&str] = &[
        "additionalProperties",
        "contains",
        "contentSchema",
        "else",
        "if",
        "items",
        "not",
        "propertyNames",
        "then",
        "unevaluatedItems",
        "unevaluatedProperties",
    ];
    /// Keywords whose value is a map of schemas.
    const SCHEMA_MAP: &[&str] = &[
        "$defs",
        "definitions",
        "dependentSchemas",
        "patternProperties",
        "properties",
    ];
    /// Keywords whose value is a list of schemas.
    const SCHEMA_LIST: &[&str] = &["allOf", "anyOf", "oneOf", "prefixItems"];
    let Value::Object(keywords) = schema else {
        return schema.clone();
    };
    keywords
        .iter()
        .filter(|(keyword, _)| !ANNOTATIONS.contains(&keyword.as_str()))
        .map(|(keyword, value)| {
            let value = match value {
                _ if SCHEMA.contains(&keyword.as_str()) => without_annotations(value),
                Value::Object(map) if SCHEMA_MAP.contains(&keyword.as_str()) => Value::Object(
                    map.iter()
                        .map(|(name, schema)| (name.clone(), without_annotations(schema)))
                        .collect(),
                ),
                Value::Array(list) if SCHEMA_LIST.contains(&keyword.as_str()) => {
                    list.iter().map(without_annotations).collect()
                }
                other => other.clone(),
            };
            (keyword.clone(), value)
        })
        .collect()
}

#[test]
fn stripping_annotations_keeps_every_constraint_and_property_names() {
    let schema = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "T",
        "type": "object",
        "properties": {
            "description": {"type": "string", "description": "a field named description", "maxLength": 3},
            "list": {"type": "array", "items": {"title": "item", "enum": [1]}, "examples": [[1]]},
        },
        "anyOf": [{"required": ["description"], "description": "d"}],
        "additionalProperties": {"const": {"description": "data, not an annotation"}},
    });
    assert_eq!(
        without_annotations(&schema),
        json!({
            "type": "object",
            "properties": {
                "description": {"type": "string", "maxLength": 3},
                "list": {"type": "array", "items": {"enum": [1]}},
            },
            "anyOf": [{"required": ["description"]}],
            "additionalProperties": {"const": {"description": "data, not an annotation"}},
        })
    );
}

/// The plugin exactly as `automation-harness describe --json` prints it
/// (one entry of its `plugins`: `Plugin::describe`, which the CLI prints),
/// with the schemas' annotations stripped. The component's imports are
/// left out: the toolchain decides the WASI ones (see the test below for
/// what they may be).
fn describe_json(plugin: &automation_harness::Plugin) -> Value {
    let mut described = plugin.describe();
    let imports = described
        .as_object_mut()
        .expect("an object")
        .remove("imports");
    assert!(imports.is_some_and(|imports| imports.is_array()));
    for (list, schema) in [
        ("triggers", "payloadSchema"),
        ("actions", "configSchema"),
        ("artifactTypes", "schema"),
        ("entityKinds", "stateSchema"),
        ("queries", "inputSchema"),
        ("queries", "resultSchema"),
    ] {
        for entry in described[list].as_array_mut().expect("a list") {
            let stripped = without_annotations(&entry[schema]);
            entry[schema] = stripped;
        }
    }
    described
}

/// Issue 12's catalog, every schema keyword but annotations written out.
fn specified_catalog() -> Value {
    let string = json!({"type": "string"});
    let status = json!({"type": "string", "enum": ["queued", "sent"]});
    let message = json!({
        "type": "object",
        "required": ["notificationId", "channel", "subject", "status"],
        "additionalProperties": false,
        "properties": {
            "notificationId": string,
            "channel": string,
            "subject": string,
            "status": status,
        },
    });
    let trigger = |local: &str, display_name: &str, description: &str, icon: &str| {
        json!({
            "id": format!("notifications.{local}"),
            "localId": local,
            "displayName": display_name,
            "description": description,
            "category": "Notifications",
            "icon": icon,
            "payloadSchema": message,
            "contextKey": "notificationId",
            "entityKind": "notification",
        })
    };
    json!({
        "plugin": {"id": "notifications", "version": "0.1.0"},
        "contract": format!("checkstack:automation@{}", plugin_sdk::CONTRACT_VERSION),
        "triggers": [
            trigger(
                "queued",
                "Notification Queued",
                "Fires when an automation queues a new notification",
                "BellPlus",
            ),
            trigger(
                "sent",
                "Notification Sent",
                "Fires when a queued notification is marked as sent",
                "BellRing",
            ),
        ],
        "actions": [
            {
                "id": "notifications.mark_sent",
                "localId": "mark_sent",
                "displayName": "Mark Notification Sent",
                "description": "Records that a queued notification was delivered",
                "category": "Notifications",
                "icon": "MailCheck",
                "configVersion": 1,
                // No artifact: only the notification's id, as external id.
                "produces": null,
                "configSchema": {
                    "type": "object",
                    "required": ["notificationId"],
                    "additionalProperties": false,
                    "properties": {"notificationId": string},
                },
            },
            {
                "id": "notifications.send",
                "localId": "send",
                "displayName": "Send Notification",
                "description": "Queues a notification to a channel; with a dedupe key, at most one per key",
                "category": "Notifications",
                "icon": "Send",
                "configVersion": 1,
                "produces": "notifications.message",
                "configSchema": {
                    "type": "object",
                    "required": ["channel", "subject"],
                    "additionalProperties": false,
                    "properties": {
                        "channel": {"type": "string", "minLength": 1, "maxLength": 200},
                        "subject": {"type": "string", "minLength": 1, "maxLength": 500},
                        "body": {"type": "string", "maxLength": 10000, "default": ""},
                        "dedupeKey": {"type": "string", "minLength": 1, "maxLength": 200},
                    },
                },
            },
        ],
        "artifactTypes": [{
            "id": "notifications.message",
            "localId": "message",
            "name": "Notification Message",
            "description": "A notification an automation queued",
            "schema": message,
        }],
        "entityKinds": [{
            "kind": "notification",
            "stateSchema": {
                "type": "object",
                "required": ["channel", "subject", "status"],
                "additionalProperties": false,
                "properties": {"channel": string, "subject": string, "status": status},
            },
        }],
        "jobs": [],
        // Issue 15: the whole notification, read back.
        "queries": [{
            "id": "notifications.get",
            "localId": "get",
            "displayName": "Get Notification",
            "description": "A notification with its body, dedupe key and when it was queued and sent",
            "inputSchema": {
                "type": "object",
                "required": ["notificationId"],
                "additionalProperties": false,
                "properties": {"notificationId": string},
            },
            "resultSchema": {
                "type": "object",
                "required": ["notificationId", "channel", "subject", "body", "status", "dedupeKey", "queuedAt", "sentAt"],
                "additionalProperties": false,
                "properties": {
                    "notificationId": string,
                    "channel": string,
                    "subject": string,
                    "body": string,
                    "status": status,
                    "dedupeKey": {"type": ["string", "null"]},
                    "queuedAt": {"type": "string", "format": "date-time"},
                    "sentAt": {"anyOf": [{"type": "string", "format": "date-time"}, {"type": "null"}]},
                },
            },
        }],
    })
}

#[test]
fn the_catalog_is_the_one_specified() {
    let plugin = notifications_plugin();
    assert_eq!(describe_json(&plugin), specified_catalog());
}

/// `describe --json --plugin notifications`, as the CLI builds it from the
/// loaded component. (The CLI binary itself is not reachable from this
/// crate: `CARGO_BIN_EXE_*` names only a package's own binaries.)
#[test]
fn describe_json_of_the_component_is_the_one_specified() {
    let plugin = notifications_plugin();
    let described = describe_json(&plugin);
    assert_eq!(described, specified_catalog());
    // Every schema the component declares is a 2020-12 schema: the one
    // annotation the comparison leaves out but the spec relies on.
    let catalog = plugin.catalog();
    let schemas = catalog
        .trigger_infos()
        .map(|t| &t.payload_schema)
        .chain(catalog.action_infos().map(|a| &a.config_schema))
        .chain(catalog.artifact_type_infos().map(|t| &t.schema))
        .chain(catalog.entity_kind_infos.iter().map(|k| &k.state_schema))
        .chain(
            catalog
                .query_infos()
                .flat_map(|q| [&q.input_schema, &q.result_schema]),
        );
    for schema in schemas {
        assert_eq!(
            schema["$schema"], "https://json-schema.org/draft/2020-12/schema",
            "{schema}"
        );
    }
}

#[test]
fn the_component_imports_only_the_contract_and_host_controlled_wasi() {
    let plugin = notifications_plugin();
    for import in &plugin.catalog().imports {
        let allowed = import.starts_with("checkstack:automation/")
            || import.starts_with("wasi:clocks/")
            || import.starts_with("wasi:random/")
            || import.starts_with("wasi:cli/")
            || import.starts_with("wasi:io/");
        assert!(allowed, "unexpected import {import}");
    }
    assert!(plugin.catalog().imports.contains(&format!(
        "checkstack:automation/entity@{}",
        plugin_sdk::CONTRACT_VERSION
    )));
}

fn send_queues_a_notification_and_fires_queued(store: TestStore) {
    let harness = store.notifications_harness();
    let outcome = send(
        &harness,
        json!({"channel": "#ops", "subject": "Disk full", "body": "92% used on db-1"}),
    );
    let id = external_id(&outcome);
    assert_eq!(id.len(), 36, "a UUID: {id}");
    let message = json!({
        "notificationId": id,
        "channel": "#ops",
        "subject": "Disk full",
        "status": "queued",
    });
    assert_eq!(artifact(&outcome), message);

    assert_eq!(outcome.changes.len(), 1);
    let change = &outcome.changes[0];
    assert_eq!(change.plugin_id, "notifications");
    assert_eq!(change.kind, "notification");
    assert_eq!(change.entity_id, id);
    assert_eq!(change.prev, None);
    assert_eq!(
        change.next,
        Some(json!({"channel": "#ops", "subject": "Disk full", "status": "queued"}))
    );
    assert_eq!(change.changed_fields, ["channel", "status", "subject"]);

    assert_eq!(outcome.events.len(), 1);
    let event = &outcome.events[0];
    assert_eq!(event.trigger, "notifications.queued");
    assert_eq!(event.payload, message);
    assert_eq!(event.context_key.as_deref(), Some(id.as_str()));
    assert_eq!(event.change_id, change.change_id);

    assert_eq!(
        log_messages(&outcome),
        [format!("Queued notification {id} to #ops")]
    );
    let snapshot = snapshot(&harness);
    assert_eq!(
        keys(&snapshot, NOTIFICATIONS_SPACE),
        [format!("notification/{id}")]
    );
    let record = stored(
        &snapshot,
        NOTIFICATIONS_SPACE,
        &format!("notification/{id}"),
    );
    assert_eq!(record["body"], "92% used on db-1");
    assert_eq!(record["queuedAt"], NOW);
    assert_eq!(snapshot.changes.len(), 1);
    assert_eq!(snapshot.events.len(), 1);
}

fn a_taken_dedupe_key_returns_the_first_notification_and_writes_nothing(store: TestStore) {
    let harness = store.notifications_harness();
    let config = json!({"channel": "#ops", "subject": "Disk full", "dedupeKey": "disk/db-1"});
    let first = send(&harness, config.clone());
    let id = external_id(&first);
    assert_eq!(
        keys(&snapshot(&harness), NOTIFICATIONS_SPACE),
        ["dedupe/disk/db-1".to_owned(), format!("notification/{id}")]
    );
    let before = snapshot(&harness);

    let mut retry = config.clone();
    retry["subject"] = json!("Disk still full");
    retry["body"] = json!("95%");
    let again = send(&harness, retry);
    assert_eq!(external_id(&again), id);
    assert_eq!(artifact(&again), artifact(&first));
    assert!(again.changes.is_empty());
    assert!(again.events.is_empty());
    assert_eq!(snapshot(&harness), before, "the store is unchanged");

    // Another key queues another notification.
    let mut other = config;
    other["dedupeKey"] = json!("disk/db-2");
    let second = send(&harness, other);
    assert_ne!(external_id(&second), id);
    assert_eq!(second.events.len(), 1);
}

fn mark_sent_fires_sent(store: TestStore) {
    let harness = store.notifications_harness();
    let id = external_id(&send(
        &harness,
        json!({"channel": "#ops", "subject": "Disk full"}),
    ));
    let outcome = run_ok(&harness, "mark_sent", json!({"notificationId": id}));
    let message = json!({
        "notificationId": id,
        "channel": "#ops",
        "subject": "Disk full",
        "status": "sent",
    });
    assert_eq!(external_id(&outcome), id);
    // `mark_sent` declares no artifact type, so it returns no artifact.
    assert_eq!(returned_artifact(&outcome), None);
    assert_eq!(outcome.to_json()["artifact"], Value::Null);
    assert_eq!(outcome.changes.len(), 1);
    assert_eq!(outcome.changes[0].changed_fields, ["status"]);
    assert_eq!(
        outcome.changes[0].prev.as_ref().map(|prev| &prev["status"]),
        Some(&json!("queued"))
    );
    assert_eq!(outcome.events.len(), 1);
    let event = &outcome.events[0];
    assert_eq!(event.trigger, "notifications.sent");
    assert_eq!(event.payload, message);
    assert_eq!(event.context_key.as_deref(), Some(id.as_str()));
    assert_eq!(
        log_messages(&outcome),
        [format!("Marked notification {id} as sent")]
    );
    let record = stored(
        &snapshot(&harness),
        NOTIFICATIONS_SPACE,
        &format!("notification/{id}"),
    );
    assert_eq!(record["status"], "sent");
    assert_eq!(record["sentAt"], NOW);
}

fn marking_a_sent_notification_again_changes_and_fires_nothing(store: TestStore) {
    let harness = store.notifications_harness();
    let id = external_id(&send(&harness, json!({"channel": "c", "subject": "s"})));
    let first = run_ok(&harness, "mark_sent", json!({"notificationId": id}));
    let before = snapshot(&harness);
    let again = run_ok(&harness, "mark_sent", json!({"notificationId": id}));
    assert_eq!(external_id(&again), id);
    assert_eq!(external_id(&first), id);
    assert_eq!(returned_artifact(&again), None);
    assert_eq!(returned_artifact(&first), None);
    assert!(again.changes.is_empty());
    assert!(again.events.is_empty());
    assert_eq!(snapshot(&harness), before);
}

fn marking_an_unknown_notification_is_not_found(store: TestStore) {
    let harness = store.notifications_harness();
    send(&harness, json!({"channel": "c", "subject": "s"}));
    let before = snapshot(&harness);
    for id in ["nope".to_owned(), "n".repeat(2000)] {
        let outcome = refused(&harness, "mark_sent", json!({"notificationId": id}));
        let error = error_json(&outcome);
        assert_eq!(error["kind"], "not_found");
        assert_eq!(error["message"], format!("Notification not found: {id}"));
        assert!(outcome.changes.is_empty() && outcome.events.is_empty());
    }
    assert_eq!(snapshot(&harness), before);
}

fn invalid_configs_are_refused_at_their_json_pointer(store: TestStore) {
    let harness = store.notifications_harness();
    let cases = [
        ("send", json!({"subject": "s"}), vec!["/channel"]),
        ("send", json!({"channel": "c"}), vec!["/subject"]),
        (
            "send",
            json!({"channel": "", "subject": "s"}),
            vec!["/channel"],
        ),
        (
            "send",
            json!({"channel": "c".repeat(201), "subject": "s"}),
            vec!["/channel"],
        ),
        (
            "send",
            json!({"channel": "c", "subject": "s".repeat(501)}),
            vec!["/subject"],
        ),
        (
            "send",
            json!({"channel": "c", "subject": "s", "body": "b".repeat(10_001)}),
            vec!["/body"],
        ),
        (
            "send",
            json!({"channel": "c", "subject": "s", "dedupeKey": ""}),
            vec!["/dedupeKey"],
        ),
        (
            "send",
            json!({"channel": "c", "subject": "s", "dedupeKey": "é".repeat(201)}),
            vec!["/dedupeKey"],
        ),
        (
            "send",
            json!({"channel": "c", "subject": "s", "dedupeKey": null}),
            vec!["/dedupeKey"],
        ),
        (
            "send",
            json!({"channel": "é".repeat(201), "subject": "é".repeat(501), "body": "é".repeat(10_001)}),
            vec!["/body", "/channel", "/subject"],
        ),
        (
            "send",
            json!({"channel": "c", "subject": "s", "priority": "high"}),
            vec!["/priority"],
        ),
        (
            "send",
            json!({"channel": 1, "subject": "", "body": [], "to": "me"}),
            vec!["/body", "/channel", "/subject", "/to"],
        ),
        ("mark_sent", json!({}), vec!["/notificationId"]),
        (
            "mark_sent",
            json!({"notificationId": 5}),
            vec!["/notificationId"],
        ),
        (
            "mark_sent",
            json!({"notificationId": "n", "force": true}),
            vec!["/force"],
        ),
    ];
    for (action, config, expected) in cases {
        let outcome = refused(&harness, action, config.clone());
        assert_eq!(problem_paths(&outcome), expected, "{action} {config}");
        assert!(outcome.changes.is_empty() && outcome.events.is_empty());
    }
    let snapshot = snapshot(&harness);
    assert!(snapshot.changes.is_empty() && snapshot.events.is_empty());
    assert!(keys(&snapshot, NOTIFICATIONS_SPACE).is_empty());
    // Exactly at each maximum is valid, counted in characters, not bytes:
    // 'é' is two bytes, the emoji four.
    for config in [
        json!({"channel": "\u{1F600}".repeat(200), "subject": "s"}),
        json!({"channel": "é".repeat(200), "subject": "s"}),
        json!({"channel": "c", "subject": "é".repeat(500)}),
        json!({"channel": "c", "subject": "s", "body": "é".repeat(10_000)}),
        json!({"channel": "c", "subject": "s", "dedupeKey": "é".repeat(200)}),
        json!({
            "channel": "c".repeat(200),
            "subject": "s".repeat(500),
            "body": "b".repeat(10_000),
            "dedupeKey": "k".repeat(200),
        }),
    ] {
        let outcome = send(&harness, config.clone());
        assert_eq!(outcome.events.len(), 1, "{config}");
        let record = stored(
            &integration_tests::snapshot(&harness),
            NOTIFICATIONS_SPACE,
            &format!("notification/{}", external_id(&outcome)),
        );
        for field in ["channel", "subject", "body", "dedupeKey"] {
            if let Some(given) = config.get(field) {
                assert_eq!(&record[field], given, "{field} of {config}");
            }
        }
    }
}

/// The key spaces of one plugin in a snapshot.
fn spaces_of(snapshot: &StoreSnapshot, plugin: &str) -> Value {
    json!({
        "storage": snapshot.spaces.get(&format!("plugin/{plugin}")),
        "entities": snapshot.spaces.get(&format!("entity/{plugin}")),
        "changes": snapshot.changes.iter().filter(|c| c.plugin_id == plugin).count(),
    })
}

fn two_plugins_on_one_store_each_see_only_their_own(store: TestStore) {
    let maintenance = store.harness();
    let notifications = store.notifications_harness();

    let window = external_id(&run_ok(&maintenance, "create", create_config(&["db-1"])));
    let notification = external_id(&send(
        &notifications,
        json!({"channel": "#ops", "subject": "Maintenance on db-1", "dedupeKey": window}),
    ));

    let snapshot = snapshot(&maintenance);
    assert!(
        keys(&snapshot, NOTIFICATIONS_SPACE)
            .iter()
            .all(|key| key.starts_with("notification/") || key.starts_with("dedupe/")),
    );
    assert!(keys(&snapshot, MAINTENANCE_SPACE).iter().all(|key| {
        ["window/", "active/", "due/", "start/", "system/"]
            .iter()
            .any(|prefix| key.starts_with(prefix))
    }),);
    assert_eq!(keys(&snapshot, NOTIFICATIONS_ENTITIES).len(), 1);
    assert_eq!(keys(&snapshot, MAINTENANCE_ENTITIES).len(), 1);
    let triggers: Vec<&str> = snapshot.events.iter().map(|e| e.trigger.as_str()).collect();
    assert_eq!(triggers, ["maintenance.created", "notifications.queued"]);

    // Neither plugin can reach the other's entities through its actions.
    let crossed = refused(
        &notifications,
        "mark_sent",
        json!({"notificationId": window}),
    );
    assert_eq!(error_json(&crossed)["kind"], "not_found");
    let crossed = refused(
        &maintenance,
        "update",
        json!({"maintenanceId": notification, "title": "x"}),
    );
    assert_eq!(error_json(&crossed)["kind"], "not_found");

    // Runs of one, successful or not, leave the other's data as it was.
    let before = snapshot;
    run_ok(
        &maintenance,
        "add_update",
        json!({"maintenanceId": window, "message": "Started", "statusChange": "in_progress"}),
    );
    refused(&maintenance, "create", json!({"title": ""}));
    let after = integration_tests::snapshot(&maintenance);
    assert_eq!(
        spaces_of(&after, "notifications"),
        spaces_of(&before, "notifications")
    );
    assert_ne!(
        spaces_of(&after, "maintenance"),
        spaces_of(&before, "maintenance")
    );

    let before = after;
    run_ok(
        &notifications,
        "mark_sent",
        json!({"notificationId": notification}),
    );
    send(
        &notifications,
        json!({"channel": "#dev", "subject": "Done"}),
    );
    refused(
        &notifications,
        "mark_sent",
        json!({"notificationId": "nope"}),
    );
    let after = integration_tests::snapshot(&notifications);
    assert_eq!(
        spaces_of(&after, "maintenance"),
        spaces_of(&before, "maintenance")
    );
    assert_ne!(
        spaces_of(&after, "notifications"),
        spaces_of(&before, "notifications")
    );
    // Each plugin's events carry its own prefix, in the order they fired.
    let triggers: Vec<&str> = after.events.iter().map(|e| e.trigger.as_str()).collect();
    assert_eq!(
        triggers,
        [
            "maintenance.created",
            "notifications.queued",
            "maintenance.updated",
            "notifications.sent",
            "notifications.queued",
        ]
    );
    check_logs(&after.changes, &after.events).expect("one event per change, in order");
}

on_every_backend!(
    send_queues_a_notification_and_fires_queued,
    a_taken_dedupe_key_returns_the_first_notification_and_writes_nothing,
    mark_sent_fires_sent,
    marking_a_sent_notification_again_changes_and_fires_nothing,
    marking_an_unknown_notification_is_not_found,
    invalid_configs_are_refused_at_their_json_pointer,
    two_plugins_on_one_store_each_see_only_their_own,
);

fn scenario() -> Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/notifications.json");
    Scenario::load(&path).expect("the scenario file loads")
}

#[test]
fn the_shipped_scenario_passes_against_the_notifications_component() {
    let scenario = scenario();
    let report = run_scenario(&notifications_plugin(), &scenario);
    for step in &report.steps {
        assert!(
            step.passed,
            "step {} ({}) failed: {:?} {:#?}",
            step.index, step.action, step.error, step.mismatches
        );
    }
    assert!(report.passed);
    assert_eq!(report.steps.len(), scenario.steps.len());
    assert!(report.steps.len() >= 8, "the scenario covers every path");
}

#[test]
fn the_scenario_is_the_notifications_plugins_own() {
    // Against the maintenance plugin its actions do not exist, so a
    // passing report above is the notifications component's doing.
    let report = run_scenario(&plugin(), &scenario());
    assert!(!report.passed);
    assert!(report.steps[0].error.is_some(), "{:?}", report.steps[0]);
}

#[test]
fn the_sdk_copies_the_hosts_limits() {
    use automation_harness::limits;
    assert_eq!(plugin_sdk::host::MAX_KEY_BYTES, limits::MAX_KEY_BYTES);
    assert_eq!(plugin_sdk::host::MAX_VALUE_BYTES, limits::MAX_VALUE_BYTES);
    assert_eq!(
        plugin_sdk::host::MAX_ENTITY_ID_BYTES,
        limits::MAX_ENTITY_ID_BYTES
    );
    assert_eq!(plugin_sdk::testing::MAX_SCAN_LIMIT, limits::MAX_SCAN_LIMIT);
}

/// The names of the dependencies a `Cargo.toml` declares, in any
/// dependency section (`[dependencies]`, `[dev-dependencies]`,
/// `[build-dependencies]`, `[target.'...'.dependencies]`, and their
/// `[dependencies.<name>]` table forms).
fn declared_dependencies(manifest: &str) -> std::collections::BTreeSet<String> {
    let mut names = std::collections::BTreeSet::new();
    let mut in_dependencies = false;
    for line in manifest.lines() {
        let line = line.split('#').next().unwrap_or_default().trim();
        if let Some(header) = line.strip_prefix('[') {
            let header = header.trim_start_matches('[').trim_end_matches(']').trim();
            // The last dotted part naming a dependency section, outside
            // quoted target cfgs.
            let unquoted: String = header
                .split('\'')
                .enumerate()
                .filter(|(i, _)| i % 2 == 0)
                .map(|(_, part)| part)
                .collect::<Vec<_>>()
                .join("");
            let parts: Vec<&str> = unquoted.split('.').map(str::trim).collect();
            let section = parts.iter().position(|part| part.ends_with("dependencies"));
            in_dependencies = false;
            match section {
                Some(at) if at + 1 < parts.len() => {
                    names.insert(parts[at + 1].trim_matches('"').to_owned());
                }
                Some(_) => in_dependencies = true,
                None => {}
            }
            continue;
        }
        if in_dependencies && let Some((key, _)) = line.split_once('=') {
            let name = key.split('.').next().unwrap_or_default();
            names.insert(name.trim().trim_matches('"').to_owned());
        }
    }
    names
}

#[test]
fn the_plugin_is_written_with_the_sdk_only() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins/notifications");
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).expect("the manifest");
    assert_eq!(
        declared_dependencies(&manifest),
        ["plugin-sdk", "serde", "serde_json"]
            .map(str::to_owned)
            .into_iter()
            .collect(),
        "{manifest}"
    );
    // The parser sees every section form.
    assert_eq!(
        declared_dependencies(
            "[package]\nname = \"x\"\n[dependencies]\na = \"1\"\nb.workspace = true\n\
             [dev-dependencies.c]\nversion = \"1\"\n\
             [target.'cfg(target_family = \"wasm\")'.dependencies]\nwit-bindgen = \"0.63\"\n\
             [build-dependencies]\nd = { path = \"d\" }\n[lib]\ncrate-type = [\"cdylib\"]\n"
        ),
        ["a", "b", "c", "d", "wit-bindgen"]
            .map(str::to_owned)
            .into_iter()
            .collect()
    );

    let mut pending = vec![root.join("src")];
    let mut files = 0;
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).expect("the source directory") {
            let path = entry.expect("an entry").path();
            if path.is_dir() {
                pending.push(path);
                continue;
            }
            files += 1;
            let text = std::fs::read_to_string(&path).expect("a source file");
            for banned in ["wit_bindgen", "bindings::"] {
                assert!(
                    !text.contains(banned),
                    "{} mentions {banned}",
                    path.display()
                );
            }
        }
    }
    assert!(files >= 5, "read {files} source files");
}

/// Two processes' worth of runs at once: each thread opens the same
/// SQLite file itself and runs its own harness, and both send the same
/// dedupe key at the same moment. The write lock orders them: exactly one
/// queues the notification, the other finds it, and both report its id.
#[test]
fn concurrent_sends_with_one_dedupe_key_queue_one_notification() {
    use std::sync::{Arc, Barrier};

    const ROUNDS: usize = 8;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("store.sqlite3");
    let barrier = Arc::new(Barrier::new(2));
    let workers: Vec<_> = [11, 12]
        .into_iter()
        .map(|seed| {
            let (path, barrier) = (path.clone(), Arc::clone(&barrier));
            std::thread::spawn(move || {
                let backend = automation_harness::SqliteBackend::open(&path).expect("SQLite opens");
                let harness = Harness::builder()
                    .backend(Arc::new(backend))
                    .fixed_clock(now())
                    // Its own seed: were the two to draw the same ids, a
                    // second notification would hide behind the first's id.
                    .seed(seed)
                    .with_plugin(notifications_plugin());
                (0..ROUNDS)
                    .map(|round| {
                        barrier.wait();
                        send(
                            &harness,
                            json!({
                                "channel": "#ops",
                                "subject": format!("Round {round} from {seed}"),
                                "dedupeKey": format!("round/{round}"),
                            }),
                        )
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let outcomes: Vec<Vec<RunOutcome>> = workers
        .into_iter()
        .map(|worker| worker.join().expect("the worker finishes"))
        .collect();

    assert!(outcomes.iter().all(|runs| runs.len() == ROUNDS));
    let mut queued = Vec::new();
    for (round, (first, second)) in outcomes[0].iter().zip(&outcomes[1]).enumerate() {
        let id = external_id(first);
        assert_eq!(external_id(second), id, "round {round}");
        assert_eq!(artifact(first), artifact(second), "round {round}");
        let creators: Vec<&RunOutcome> = [first, second]
            .into_iter()
            .filter(|outcome| !outcome.changes.is_empty())
            .collect();
        assert_eq!(creators.len(), 1, "round {round}: one run queues it");
        let creator = creators[0];
        assert_eq!(creator.changes.len(), 1, "round {round}");
        assert_eq!(creator.changes[0].entity_id, id, "round {round}");
        let triggers: Vec<&str> = creator.events.iter().map(|e| e.trigger.as_str()).collect();
        assert_eq!(triggers, ["notifications.queued"], "round {round}");
        let other = if std::ptr::eq(creator, first) {
            second
        } else {
            first
        };
        assert!(other.changes.is_empty() && other.events.is_empty());
        queued.push(id);
    }

    let store = automation_harness::SqliteBackend::open(&path).expect("SQLite opens");
    let snapshot = automation_harness::Backend::snapshot(&store).expect("the store reads");
    assert_eq!(snapshot.changes.len(), ROUNDS);
    let ids: Vec<&str> = snapshot
        .changes
        .iter()
        .map(|c| c.entity_id.as_str())
        .collect();
    assert_eq!(ids, queued);
    assert_eq!(snapshot.events.len(), ROUNDS);
    assert!(
        snapshot
            .events
            .iter()
            .all(|event| event.trigger == "notifications.queued")
    );
    check_logs(&snapshot.changes, &snapshot.events).expect("one event per change, in order");
    let stored_keys = keys(&snapshot, NOTIFICATIONS_SPACE);
    let dedupe: Vec<&String> = stored_keys
        .iter()
        .filter(|key| key.starts_with("dedupe/"))
        .collect();
    let notifications = stored_keys
        .iter()
        .filter(|key| key.starts_with("notification/"))
        .count();
    assert_eq!((dedupe.len(), notifications), (ROUNDS, ROUNDS));
}
