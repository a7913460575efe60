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
        // Ids are at most 256 characters wherever they appear (spec 7,
        // "Decisions (edges)"): longer ones once failed as internal
        // ("invalid storage key").
        (
            "set_system",
            json!({"systemId": "s".repeat(2_000), "durationMinutes": 5}),
            vec!["/systemId"],
        ),
        (
            "set_system",
            json!({"systemId": "s".repeat(257), "durationMinutes": 5}),
            vec!["/systemId"],
        ),
        (
            "clear_system",
            json!({"systemId": "s".repeat(257)}),
            vec!["/systemId"],
        ),
        (
            "update",
            json!({"maintenanceId": "m".repeat(1_018)}),
            vec!["/maintenanceId"],
        ),
        (
            "update",
            json!({"maintenanceId": "m".repeat(257), "title": "t"}),
            vec!["/maintenanceId"],
        ),
        (
            "add_update",
            json!({"maintenanceId": "m".repeat(1_018), "message": "m"}),
            vec!["/maintenanceId"],
        ),
        (
            "create",
            json!({"title": "t", "systemIds": ["a", "s".repeat(257)], "startAt": "2026-03-01T10:00:00Z", "endAt": "2026-03-01T11:00:00Z"}),
            vec!["/systemIds/1"],
        ),
        (
            "update",
            json!({"maintenanceId": window, "systemIds": ["s".repeat(257), "a"]}),
            vec!["/systemIds/0"],
        ),
        // Instants must lie in years 0000-9999 once in UTC: this one once
        // passed validation and failed at commit as "+10000-01-01T01:00...".
        (
            "create",
            json!({"title": "t", "systemIds": ["a"], "startAt": "2026-03-01T10:00:00Z", "endAt": "9999-12-31T23:00:00-02:00"}),
            vec!["/endAt"],
        ),
        (
            "create",
            json!({"title": "t", "systemIds": ["a"], "startAt": "0000-01-01T00:00:00+01:00", "endAt": "2026-03-01T11:00:00Z"}),
            vec!["/startAt"],
        ),
        (
            "update",
            json!({"maintenanceId": window, "endAt": "9999-12-31T23:59:59.999-00:01"}),
            vec!["/endAt"],
        ),
        (
            "update",
            json!({"maintenanceId": window, "startAt": "0000-01-01T00:59:59+01:00"}),
            vec!["/startAt"],
        ),
        // No leap seconds: this one was once stored as 2027-01-01T00:00:00.
        (
            "create",
            json!({"title": "t", "systemIds": ["a"], "startAt": "2026-12-31T23:59:60Z", "endAt": "2027-01-01T01:00:00Z"}),
            vec!["/startAt"],
        ),
        (
            "update",
            json!({"maintenanceId": window, "endAt": "2026-03-01T23:59:60Z"}),
            vec!["/endAt"],
        ),
        (
            "update",
            json!({"maintenanceId": window, "startAt": "2026-03-01T11:59:60+01:00"}),
            vec!["/startAt"],
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

/// Ids of 256 characters are valid however many bytes they take: 256
/// four-byte characters are a whole storage key's worth, so the plugin
/// must still fit them (or know no window has them).
fn the_longest_ids_are_valid_config(store: TestStore) {
    let harness = store.harness();
    let long = "\u{1F600}".repeat(256);
    for (action, config) in [
        ("update", json!({"maintenanceId": long, "title": "t"})),
        ("add_update", json!({"maintenanceId": long, "message": "m"})),
    ] {
        let outcome = harness.run(RunRequest::new(action, config)).unwrap();
        let failure = outcome.result.unwrap_err();
        assert_eq!(
            failure.kind(),
            "not_found",
            "{action}: {}",
            failure.message()
        );
    }
    let parked = external_id(&run_ok(
        &harness,
        "set_system",
        json!({"systemId": long, "durationMinutes": 5}),
    ));
    let created = external_id(&run_ok(&harness, "create", create_config(&[&long, "db-1"])));
    let cleared = run_ok(&harness, "clear_system", json!({"systemId": long}));
    let mut closed: Vec<String> =
        serde_json::from_value(artifact(&cleared)["closedMaintenanceIds"].clone()).unwrap();
    closed.sort();
    let mut expected = vec![parked, created];
    expected.sort();
    assert_eq!(closed, expected);
}

/// The instants at either end of years 0000-9999 are stored and emitted
/// as they print.
fn the_first_and_last_printable_instants_are_accepted(store: TestStore) {
    let harness = store.harness();
    let outcome = run_ok(
        &harness,
        "create",
        json!({"title": "t", "systemIds": ["a"], "startAt": "0000-01-01T00:00:00Z", "endAt": "9999-12-31T23:59:59.999Z"}),
    );
    let view = artifact(&outcome);
    assert_eq!(view["startAt"], "0000-01-01T00:00:00.000Z");
    assert_eq!(view["endAt"], "9999-12-31T23:59:59.999Z");
    assert_eq!(
        outcome.events[0].payload["endAt"],
        "9999-12-31T23:59:59.999Z"
    );
}

/// clear_system closes a system's windows ordered by startAt, then id, and
/// its artifact, changes and events follow that order. The windows get
/// their startAts after their (random) ids are known, so that id order
/// and startAt order differ by construction.
fn clear_system_closes_by_start_then_id(store: TestStore) {
    let harness = store.harness();
    let mut ids: Vec<String> = (0..4)
        .map(|_| {
            external_id(&run_ok(
                &harness,
                "create",
                json!({"title": "t", "systemIds": ["db-1"], "startAt": "2026-03-01T09:00:00Z", "endAt": "2026-03-01T23:00:00Z"}),
            ))
        })
        .collect();
    ids.sort();
    // The last id starts first; the first two share a start, so the id
    // decides between them.
    let starts = [
        (&ids[3], "10:00"),
        (&ids[2], "11:00"),
        (&ids[0], "12:00"),
        (&ids[1], "12:00"),
    ];
    for (id, start) in starts {
        run_ok(
            &harness,
            "update",
            json!({"maintenanceId": id, "startAt": format!("2026-03-01T{start}:00Z")}),
        );
    }
    let expected: Vec<String> = starts.iter().map(|(id, _)| id.to_string()).collect();
    assert_ne!(expected, ids, "id order differs from startAt order");

    let outcome = run_ok(&harness, "clear_system", json!({"systemId": "db-1"}));
    assert_eq!(
        artifact(&outcome)["closedMaintenanceIds"],
        json!(expected),
        "closedMaintenanceIds"
    );
    let changed: Vec<&String> = outcome.changes.iter().map(|c| &c.entity_id).collect();
    assert_eq!(changed, expected.iter().collect::<Vec<_>>(), "changes");
    let fired: Vec<Option<&str>> = outcome
        .events
        .iter()
        .map(|e| e.context_key.as_deref())
        .collect();
    let expected_keys: Vec<Option<&str>> = expected.iter().map(|id| Some(id.as_str())).collect();
    assert_eq!(fired, expected_keys, "events");
    assert!(
        outcome
            .events
            .iter()
            .all(|e| e.trigger == "maintenance.updated")
    );
    let stored = snapshot(&harness);
    let tail: Vec<&String> = stored.changes[stored.changes.len() - 4..]
        .iter()
        .map(|c| &c.entity_id)
        .collect();
    assert_eq!(tail, expected.iter().collect::<Vec<_>>(), "stored changes");
}

on_every_backend!(
    invalid_configs_name_every_offending_field,
    problems_say_what_is_wrong,
    the_plugin_rejects_reversed_windows_the_schema_lets_through,
    the_longest_ids_are_valid_config,
    the_first_and_last_printable_instants_are_accepted,
    clear_system_closes_by_start_then_id,
);

fn deeply_nested(depth: usize) -> Value {
    (0..depth).fold(json!("bottom"), |inner, _| json!({ "deeper": [inner] }))
}
