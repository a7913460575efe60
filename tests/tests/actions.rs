//! Each action's success path through the real component: artifact,
//! changes, events and log line; and the runs that must fire nothing.

use automation_harness::RunRequest;
use integration_tests::*;
use serde_json::json;

fn create_schedules_a_window_and_fires_created(store: TestStore) {
    let harness = store.harness();
    let outcome = run_ok(&harness, "create", create_config(&["db-2", "db-1"]));
    let id = external_id(&outcome);
    let expected_view = json!({
        "maintenanceId": id,
        "status": "scheduled",
        "systemIds": ["db-1", "db-2"],
        "startAt": "2026-03-01T10:00:00.000Z",
        "endAt": "2026-03-01T12:00:00.000Z",
    });
    assert_eq!(artifact(&outcome), expected_view);

    assert_eq!(outcome.changes.len(), 1);
    let change = &outcome.changes[0];
    assert_eq!(change.kind, "maintenance");
    assert_eq!(change.entity_id, id);
    assert_eq!(change.prev, None);
    assert_eq!(
        change.next,
        Some(json!({
            "status": "scheduled",
            "systemIds": ["db-1", "db-2"],
            "startAt": "2026-03-01T10:00:00.000Z",
            "endAt": "2026-03-01T12:00:00.000Z",
        }))
    );
    assert_eq!(
        change.changed_fields,
        ["endAt", "startAt", "status", "systemIds"]
    );
    assert_eq!(change.occurred_at, NOW);

    assert_eq!(outcome.events.len(), 1);
    let event = &outcome.events[0];
    assert_eq!(event.trigger, "maintenance.created");
    assert_eq!(event.payload, expected_view);
    assert_eq!(event.context_key.as_deref(), Some(id.as_str()));
    assert_eq!(event.change_id, change.change_id);

    assert_eq!(
        log_messages(&outcome),
        [format!("Automation scheduled maintenance {id}")]
    );
    assert_eq!(snapshot(&harness).changes.len(), 1);
    assert_eq!(snapshot(&harness).events.len(), 1);
}

fn update_patches_and_fires_updated(store: TestStore) {
    let harness = store.harness();
    let id = external_id(&run_ok(&harness, "create", create_config(&["db-1"])));
    let outcome = run_ok(
        &harness,
        "update",
        json!({"maintenanceId": id, "endAt": "2026-03-01T13:00:00+00:00", "systemIds": ["db-9"]}),
    );
    assert_eq!(external_id(&outcome), id);
    let view = artifact(&outcome);
    assert_eq!(view["endAt"], "2026-03-01T13:00:00.000Z");
    assert_eq!(view["startAt"], "2026-03-01T10:00:00.000Z");
    assert_eq!(view["systemIds"], json!(["db-9"]));
    assert_eq!(outcome.changes.len(), 1);
    assert_eq!(outcome.changes[0].changed_fields, ["endAt", "systemIds"]);
    assert_eq!(outcome.events.len(), 1);
    assert_eq!(outcome.events[0].trigger, "maintenance.updated");
    assert_eq!(outcome.events[0].payload, view);
    assert_eq!(
        log_messages(&outcome),
        [format!("Automation updated maintenance {id}")]
    );
}

fn a_title_or_description_update_fires_nothing(store: TestStore) {
    let harness = store.harness();
    let id = external_id(&run_ok(&harness, "create", create_config(&["db-1"])));
    let outcome = run_ok(
        &harness,
        "update",
        json!({"maintenanceId": id, "title": "Renamed", "description": "Longer", "suppressNotifications": true}),
    );
    assert_eq!(artifact(&outcome)["maintenanceId"], json!(id));
    assert!(outcome.changes.is_empty());
    assert!(outcome.events.is_empty());
    assert_eq!(
        log_messages(&outcome),
        [format!("Automation updated maintenance {id}")]
    );
    assert_eq!(
        snapshot(&harness).events.len(),
        1,
        "only the creation fired"
    );
}

fn add_update_with_a_status_fires_updated(store: TestStore) {
    let harness = store.harness();
    let id = external_id(&run_ok(&harness, "create", create_config(&["db-1"])));
    let outcome = run_ok(
        &harness,
        "add_update",
        json!({"maintenanceId": id, "message": "Started", "statusChange": "in_progress"}),
    );
    assert_eq!(artifact(&outcome)["status"], "in_progress");
    assert_eq!(outcome.changes[0].changed_fields, ["status"]);
    assert_eq!(outcome.events.len(), 1);
    assert_eq!(outcome.events[0].trigger, "maintenance.updated");
    assert_eq!(outcome.events[0].payload["status"], "in_progress");
    assert_eq!(
        log_messages(&outcome),
        [format!("Automation added update to maintenance {id}")]
    );
}

fn a_message_only_update_is_stored_but_fires_nothing(store: TestStore) {
    let harness = store.harness();
    let id = external_id(&run_ok(&harness, "create", create_config(&["db-1"])));
    let before = snapshot(&harness);
    let outcome = run_ok(
        &harness,
        "add_update",
        json!({"maintenanceId": id, "message": "Still on track"}),
    );
    assert_eq!(artifact(&outcome)["status"], "scheduled");
    assert!(outcome.changes.is_empty());
    assert!(outcome.events.is_empty());
    let after = snapshot(&harness);
    let entries = |s: &automation_harness::StoreSnapshot| -> usize {
        s.spaces.get("plugin/maintenance").map_or(0, |keys| {
            keys.keys().filter(|key| key.starts_with("update/")).count()
        })
    };
    assert_eq!(
        entries(&after),
        entries(&before) + 1,
        "the update entry was stored"
    );
}

fn set_system_parks_a_system_from_now(store: TestStore) {
    let harness = store.harness();
    let outcome = run_ok(
        &harness,
        "maintenance.set_system",
        json!({"systemId": "db-1", "durationMinutes": 90}),
    );
    let id = external_id(&outcome);
    assert_eq!(
        artifact(&outcome),
        json!({
            "maintenanceId": id,
            "status": "scheduled",
            "systemIds": ["db-1"],
            "startAt": NOW,
            "endAt": "2026-03-01T11:30:00.000Z",
        })
    );
    assert_eq!(outcome.action, "maintenance.set_system");
    assert_eq!(outcome.events.len(), 1);
    assert_eq!(outcome.events[0].trigger, "maintenance.created");
    assert_eq!(
        log_messages(&outcome),
        [format!(
            "Automation parked system db-1 via maintenance {id}"
        )]
    );
}

fn clear_system_closes_every_active_window_of_the_system(store: TestStore) {
    let harness = store.harness();
    let parked = external_id(&run_ok(
        &harness,
        "set_system",
        json!({"systemId": "db-1", "durationMinutes": 30}),
    ));
    let shared = external_id(&run_ok(&harness, "create", create_config(&["db-1", "web"])));
    let other = external_id(&run_ok(&harness, "create", create_config(&["web"])));
    let done = external_id(&run_ok(&harness, "create", create_config(&["db-1"])));
    run_ok(
        &harness,
        "add_update",
        json!({"maintenanceId": done, "message": "over", "statusChange": "cancelled"}),
    );

    let outcome = run_ok(&harness, "clear_system", json!({"systemId": "db-1"}));
    assert_eq!(external_id(&outcome), "db-1");
    let view = artifact(&outcome);
    let mut closed: Vec<String> =
        serde_json::from_value(view["closedMaintenanceIds"].clone()).unwrap();
    closed.sort();
    let mut expected = vec![parked.clone(), shared.clone()];
    expected.sort();
    assert_eq!(closed, expected);
    assert_eq!(view["systemId"], "db-1");

    assert_eq!(outcome.events.len(), 2);
    for event in &outcome.events {
        assert_eq!(event.trigger, "maintenance.updated");
        assert_eq!(event.payload["status"], "completed");
        assert_ne!(event.context_key.as_deref(), Some(other.as_str()));
    }
    assert_eq!(
        log_messages(&outcome),
        ["Automation cleared maintenance for system db-1 (2 window(s))"]
    );

    // The shared window is closed for `web` too; only `other` remains.
    let again = run_ok(&harness, "clear_system", json!({"systemId": "web"}));
    assert_eq!(artifact(&again)["closedMaintenanceIds"], json!([other]));
}

fn clear_system_with_no_windows_succeeds_and_fires_nothing(store: TestStore) {
    let harness = store.harness();
    let outcome = run_ok(
        &harness,
        "clear_system",
        json!({"systemId": "db-1", "message": "All clear"}),
    );
    assert_eq!(
        artifact(&outcome),
        json!({"systemId": "db-1", "closedMaintenanceIds": []})
    );
    assert!(outcome.changes.is_empty());
    assert!(outcome.events.is_empty());
    assert_eq!(
        log_messages(&outcome),
        ["Automation cleared maintenance for system db-1 (0 window(s))"]
    );
}

fn missing_windows_are_not_found_and_nothing_is_written(store: TestStore) {
    let harness = store.harness();
    run_ok(&harness, "create", create_config(&["db-1"]));
    let before = snapshot(&harness);
    for (action, config) in [
        (
            "update",
            json!({"maintenanceId": "no-such-window", "title": "x"}),
        ),
        (
            "add_update",
            json!({"maintenanceId": "no-such-window", "message": "x", "statusChange": "completed"}),
        ),
    ] {
        let outcome = harness.run(RunRequest::new(action, config)).unwrap();
        let failure = outcome.result.as_ref().unwrap_err();
        assert_eq!(failure.kind(), "not_found", "{action}");
        assert_eq!(failure.message(), "Maintenance not found: no-such-window");
        assert!(outcome.changes.is_empty() && outcome.events.is_empty());
        assert_eq!(snapshot(&harness), before, "{action} wrote something");
    }
}

fn actions_accept_local_and_qualified_ids_only_of_this_plugin(store: TestStore) {
    let harness = store.harness();
    let error = harness
        .run(RunRequest::new("incident.set_system", json!({})))
        .unwrap_err();
    let unknown = error
        .downcast_ref::<automation_harness::UnknownAction>()
        .unwrap();
    assert_eq!(unknown.action, "incident.set_system");
    assert!(harness.run(RunRequest::new("explode", json!({}))).is_err());
    assert_eq!(snapshot(&harness), Default::default());
}

on_every_backend!(
    create_schedules_a_window_and_fires_created,
    update_patches_and_fires_updated,
    a_title_or_description_update_fires_nothing,
    add_update_with_a_status_fires_updated,
    a_message_only_update_is_stored_but_fires_nothing,
    set_system_parks_a_system_from_now,
    clear_system_closes_every_active_window_of_the_system,
    clear_system_with_no_windows_succeeds_and_fires_nothing,
    missing_windows_are_not_found_and_nothing_is_written,
    actions_accept_local_and_qualified_ids_only_of_this_plugin,
);
