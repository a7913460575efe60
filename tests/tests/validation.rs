//! Invalid configs for every action: rejected before anything is written,
//! with one problem per broken rule at the field's JSON Pointer.

use automation_harness::{Harness, RunRequest};
use integration_tests::*;
use serde_json::{Value, json};

fn problem_paths(harness: &Harness, action: &str, config: Value) -> Vec<String> {
    let before = snapshot(harness);
    let outcome = harness
        .run(RunRequest::new(action, config.clone()))
        .unwrap_or_else(|error| panic!("{action} {config} errored: {error:#}"));
    let failure = match &outcome.result {
        Err(failure) => failure,
        Ok(_) => panic!("{action} accepted {config}"),
    };
    assert_eq!(failure.kind(), "invalid_config", "{action} {config}");
    assert!(outcome.changes.is_empty() && outcome.events.is_empty());
    assert_eq!(
        snapshot(harness),
        before,
        "{action} {config} wrote something"
    );
    let mut paths: Vec<String> = failure.problems().iter().map(|p| p.path.clone()).collect();
    paths.sort();
    paths
}

fn invalid_configs_name_every_offending_field(store: TestStore) {
    let harness = store.harness();
    let window = external_id(&run_ok(&harness, "create", create_config(&["db-1"])));
    let cases: Vec<(&str, Value, Vec<&str>)> = vec![
        // create
        (
            "create",
            json!({}),
            vec!["/endAt", "/startAt", "/systemIds", "/title"],
        ),
        (
            "create",
            json!({"title": "", "systemIds": ["a"], "startAt": "2026-03-01T10:00:00Z", "endAt": "2026-03-01T11:00:00Z"}),
            vec!["/title"],
        ),
        (
            "create",
            json!({"title": "t", "systemIds": [], "startAt": "2026-03-01T10:00:00Z", "endAt": "2026-03-01T11:00:00Z"}),
            vec!["/systemIds"],
        ),
        (
            "create",
            json!({"title": "t", "systemIds": ["ok", ""], "startAt": "2026-03-01T10:00:00Z", "endAt": "2026-03-01T11:00:00Z"}),
            vec!["/systemIds/1"],
        ),
        (
            "create",
            json!({"title": "t", "systemIds": ["a"], "startAt": "2026-03-01", "endAt": "not a date"}),
            vec!["/endAt", "/startAt"],
        ),
        (
            "create",
            json!({"title": "t", "systemIds": ["a"], "startAt": "2026-03-01T10:00:00", "endAt": "2026-03-01T11:00:00Z"}),
            vec!["/startAt"],
        ),
        (
            "create",
            json!({"title": "t", "systemIds": ["a"], "startAt": "2026-03-01T11:00:00Z", "endAt": "2026-03-01T10:00:00Z"}),
            vec!["/endAt"],
        ),
        (
            "create",
            json!({"title": "t", "systemIds": ["a"], "startAt": "2026-03-01T10:00:00Z", "endAt": "2026-03-01T10:00:00Z"}),
            vec!["/endAt"],
        ),
        (
            "create",
            json!({"title": 5, "systemIds": "a", "startAt": "2026-03-01T10:00:00Z", "endAt": "2026-03-01T11:00:00Z", "suppressNotifications": "yes"}),
            vec!["/suppressNotifications", "/systemIds", "/title"],
        ),
        (
            "create",
            json!({"title": "t", "systemIds": ["a"], "startAt": "2026-03-01T10:00:00Z", "endAt": "2026-03-01T11:00:00Z", "owner": "me"}),
            vec!["/owner"],
        ),
        ("create", json!([]), vec![""]),
        // update
        ("update", json!({}), vec!["/maintenanceId"]),
        (
            "update",
            json!({"maintenanceId": ""}),
            vec!["/maintenanceId"],
        ),
        (
            "update",
            json!({"maintenanceId": window, "title": ""}),
            vec!["/title"],
        ),
        (
            "update",
            json!({"maintenanceId": window, "systemIds": []}),
            vec!["/systemIds"],
        ),
        (
            "update",
            json!({"maintenanceId": window, "startAt": "soon"}),
            vec!["/startAt"],
        ),
        (
            "update",
            json!({"maintenanceId": window, "startAt": "2026-03-01T12:00:00Z", "endAt": "2026-03-01T11:00:00Z"}),
            vec!["/endAt"],
        ),
        // The stored window runs 10:00-12:00: moving one end past the other.
        (
            "update",
            json!({"maintenanceId": window, "endAt": "2026-03-01T09:00:00Z"}),
            vec!["/endAt"],
        ),
        (
            "update",
            json!({"maintenanceId": window, "startAt": "2026-03-01T12:30:00Z"}),
            vec!["/startAt"],
        ),
        (
            "update",
            json!({"maintenanceId": window, "status": "completed"}),
            vec!["/status"],
        ),
        // add_update
        ("add_update", json!({}), vec!["/maintenanceId", "/message"]),
        (
            "add_update",
            json!({"maintenanceId": window, "message": ""}),
            vec!["/message"],
        ),
        (
            "add_update",
            json!({"maintenanceId": window, "message": "m", "statusChange": "done"}),
            vec!["/statusChange"],
        ),
        (
            "add_update",
            json!({"maintenanceId": window, "message": ["m"]}),
            vec!["/message"],
        ),
        // set_system
        (
            "set_system",
            json!({}),
            vec!["/durationMinutes", "/systemId"],
        ),
        (
            "set_system",
            json!({"systemId": "db-1", "durationMinutes": 0}),
            vec!["/durationMinutes"],
        ),
        (
            "set_system",
            json!({"systemId": "db-1", "durationMinutes": 43201}),
            vec!["/durationMinutes"],
        ),
        (
            "set_system",
            json!({"systemId": "db-1", "durationMinutes": 2.5}),
            vec!["/durationMinutes"],
        ),
        (
            "set_system",
            json!({"systemId": "db-1", "durationMinutes": "30"}),
            vec!["/durationMinutes"],
        ),
        (
            "set_system",
            json!({"systemId": "", "durationMinutes": 30, "title": ""}),
            vec!["/systemId", "/title"],
        ),
        // clear_system
        ("clear_system", json!({}), vec!["/systemId"]),
        (
            "clear_system",
            json!({"systemId": "db-1", "message": ""}),
            vec!["/message"],
        ),
        (
            "clear_system",
            json!({"systemId": "db-1", "force": true}),
            vec!["/force"],
        ),
        ("clear_system", json!("db-1"), vec![""]),
        // Wrong types, huge values and deep nesting.
        (
            "create",
            json!({"title": "t", "systemIds": [["a"]], "startAt": "2026-03-01T10:00:00Z", "endAt": "2026-03-01T11:00:00Z"}),
            vec!["/systemIds/0"],
        ),
        (
            "create",
            json!({"title": "x".repeat(10_001), "systemIds": ["a"], "startAt": "2026-03-01T10:00:00Z", "endAt": "2026-03-01T11:00:00Z"}),
            vec!["/title"],
        ),
        (
            "create",
            json!({"title": "t", "description": "d".repeat(20_000), "systemIds": ["a"], "startAt": "2026-03-01T10:00:00Z", "endAt": "2026-03-01T11:00:00Z"}),
            vec!["/description"],
        ),
        (
            "create",
            json!({"title": "t", "systemIds": vec!["s"; 1001], "startAt": "2026-03-01T10:00:00Z", "endAt": "2026-03-01T11:00:00Z"}),
            vec!["/systemIds"],
        ),
        (
            "create",
            json!({"title": "t", "systemIds": ["a"], "startAt": "2026-02-30T10:00:00Z", "endAt": "2026-03-01T11:00:00Z"}),
            vec!["/startAt"],
        ),
        (
            "create",
            json!({"title": "t", "systemIds": ["a"], "startAt": 1772359200000_i64, "endAt": "2026-03-01T11:00:00Z"}),
            vec!["/startAt"],
        ),
        (
            "create",
            json!({"title": null, "systemIds": ["a"], "startAt": "2026-03-01T10:00:00Z", "endAt": "2026-03-01T11:00:00Z"}),
            vec!["/title"],
        ),
        (
            "update",
            json!({"maintenanceId": 42}),
            vec!["/maintenanceId"],
        ),
        (
            "update",
            json!({"maintenanceId": window, "suppressNotifications": "true"}),
            vec!["/suppressNotifications"],
        ),
        (
            "add_update",
            json!({"maintenanceId": window, "message": "m".repeat(10_001)}),
            vec!["/message"],
        ),
        (
            "add_update",
            json!({"maintenanceId": window, "message": "m", "statusChange": "IN_PROGRESS"}),
            vec!["/statusChange"],
        ),
        (
            "set_system",
            json!({"systemId": "s".repeat(10_001), "durationMinutes": 5}),
            vec!["/systemId"],
        ),
        (
            "set_system",
            json!({"systemId": "db-1", "durationMinutes": null}),
            vec!["/durationMinutes"],
        ),
        (
            "set_system",
            json!({"systemId": "db-1", "durationMinutes": 1e300}),
            vec!["/durationMinutes"],
        ),
        (
            "set_system",
            json!({"systemId": "db-1", "durationMinutes": 5, "nested": deeply_nested(200)}),
            vec!["/nested"],
        ),
        (
            "clear_system",
            json!({"systemId": deeply_nested(200)}),
            vec!["/systemId"],
        ),
        (
            "clear_system",
            json!({"systemId": ["db-1"]}),
            vec!["/systemId"],
        ),
        (
            "clear_system",
            json!({"systemId": "db-1", "padding": "p".repeat(1 << 20)}),
            vec![""],
        ),
    ];
    let tried = cases.len();
    assert!(tried >= 40, "{tried} cases");
    println!("{tried} invalid configs rejected");
    for (action, config, expected) in cases {
        assert_eq!(
            problem_paths(&harness, action, config.clone()),
            expected,
            "{action} {config}"
        );
    }
}

fn problems_say_what_is_wrong(store: TestStore) {
    let harness = store.harness();
    let outcome = harness
        .run(RunRequest::new(
            "set_system",
            json!({"systemId": "db-1", "durationMinutes": 0}),
        ))
        .unwrap();
    let failure = outcome.result.unwrap_err();
    let problem = &failure.problems()[0];
    assert_eq!(problem.path, "/durationMinutes");
    assert!(problem.message.contains('1'), "{}", problem.message);
    assert!(failure.message().contains("/durationMinutes"));
}

/// The plugin checks its configs itself too, so a host that skips schema
/// validation still gets every problem: reversed windows are the rule a
/// JSON Schema cannot express.
fn the_plugin_rejects_reversed_windows_the_schema_lets_through(store: TestStore) {
    let harness = store.harness();
    let outcome = harness
        .run(RunRequest::new(
            "create",
            json!({"title": "t", "systemIds": ["a"], "startAt": "2026-03-01T11:00:00+01:00", "endAt": "2026-03-01T09:59:59Z"}),
        ))
        .unwrap();
    let failure = outcome.result.unwrap_err();
    assert_eq!(failure.problems().len(), 1);
    assert!(failure.problems()[0].message.contains("after startAt"));
}

on_every_backend!(
    invalid_configs_name_every_offending_field,
    problems_say_what_is_wrong,
    the_plugin_rejects_reversed_windows_the_schema_lets_through,
);

fn deeply_nested(depth: usize) -> Value {
    (0..depth).fold(json!("bottom"), |inner, _| json!({ "deeper": [inner] }))
}
