//! The notifications plugin, written only with the SDK, through the real
//! host: its catalog as specified, each action's outcome on both stores,
//! dedupe and repeated delivery writing nothing, and the plugin side by
//! side with the maintenance plugin on one store.

use std::collections::BTreeMap;
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

/// The catalog as `describe --json` shows it, each schema reduced to what
/// the spec fixes: its required fields, its properties' types and bounds,
/// and whether it is closed.
fn describe(harness: &Harness) -> Value {
    fn schema(schema: &Value) -> Value {
        let properties: BTreeMap<&String, Value> = schema["properties"]
            .as_object()
            .expect("properties")
            .iter()
            .map(|(name, property)| {
                let mut kept = serde_json::Map::new();
                for keyword in ["type", "enum", "minLength", "maxLength", "default"] {
                    if let Some(value) = property.get(keyword) {
                        kept.insert(keyword.to_owned(), value.clone());
                    }
                }
                (name, Value::Object(kept))
            })
            .collect();
        json!({
            "type": schema["type"],
            "required": schema["required"],
            "additionalProperties": schema["additionalProperties"],
            "properties": properties,
        })
    }
    let catalog = harness.catalog();
    json!({
        "id": catalog.id,
        "version": catalog.version,
        "triggers": catalog.trigger_infos().map(|t| json!({
            "id": t.id,
            "localId": t.local_id,
            "contextKey": t.context_key,
            "entityKind": t.entity_kind,
            "payloadSchema": schema(&t.payload_schema),
        })).collect::<Vec<_>>(),
        "actions": catalog.action_infos().map(|a| json!({
            "id": a.id,
            "configVersion": a.config_version,
            "produces": a.produces,
            "configSchema": schema(&a.config_schema),
        })).collect::<Vec<_>>(),
        "artifactTypes": catalog.artifact_type_infos().map(|t| json!({
            "id": t.id,
            "schema": schema(&t.schema),
        })).collect::<Vec<_>>(),
        "entityKinds": catalog.entity_kind_infos.iter().map(|k| json!({
            "kind": k.kind,
            "stateSchema": schema(&k.state_schema),
        })).collect::<Vec<_>>(),
        "jobs": catalog.jobs.keys().collect::<Vec<_>>(),
    })
}

#[test]
fn the_catalog_is_the_one_specified() {
    let harness = TestStore::memory().notifications_harness();
    let string = json!({"type": "string"});
    let message = json!({
        "type": "object",
        "required": ["notificationId", "channel", "subject", "status"],
        "additionalProperties": false,
        "properties": {
            "notificationId": string,
            "channel": string,
            "subject": string,
            "status": {"type": "string", "enum": ["queued", "sent"]},
        },
    });
    let trigger = |local: &str| {
        json!({
            "id": format!("notifications.{local}"),
            "localId": local,
            "contextKey": "notificationId",
            "entityKind": "notification",
            "payloadSchema": message,
        })
    };
    let expected = json!({
        "id": "notifications",
        "version": "0.1.0",
        "triggers": [trigger("queued"), trigger("sent")],
        "actions": [
            {
                "id": "notifications.mark_sent",
                "configVersion": 1,
                "produces": "notifications.message",
                "configSchema": {
                    "type": "object",
                    "required": ["notificationId"],
                    "additionalProperties": false,
                    "properties": {"notificationId": string},
                },
            },
            {
                "id": "notifications.send",
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
        "artifactTypes": [{"id": "notifications.message", "schema": message}],
        "entityKinds": [{
            "kind": "notification",
            "stateSchema": {
                "type": "object",
                "required": ["channel", "subject", "status"],
                "additionalProperties": false,
                "properties": {
                    "channel": string,
                    "subject": string,
                    "status": {"type": "string", "enum": ["queued", "sent"]},
                },
            },
        }],
        "jobs": [],
    });
    assert_eq!(describe(&harness), expected);
    // Every trigger and action is presented to a person.
    let catalog = harness.catalog();
    for trigger in catalog.trigger_infos() {
        assert_eq!(trigger.category, "Notifications");
        assert!(!trigger.display_name.is_empty() && !trigger.description.is_empty());
        assert!(!trigger.icon.is_empty());
    }
    for action in catalog.action_infos() {
        assert_eq!(action.category, "Notifications");
        assert!(!action.display_name.is_empty() && !action.description.is_empty());
        assert!(!action.icon.is_empty());
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
    assert_eq!(artifact(&outcome), message);
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
    assert_eq!(artifact(&again), artifact(&first));
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
    // Characters, not bytes: 200 four-byte characters are a valid channel.
    send(
        &harness,
        json!({"channel": "\u{1F600}".repeat(200), "subject": "s"}),
    );
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
        ["window/", "active/", "due/"]
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
