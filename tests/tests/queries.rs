//! Read-only queries (contract 0.3.1's `queries`) through the real host
//! on every store: the maintenance plugin's `get`, `list` and
//! `active_for_system`, the notifications plugin's `get`, and a hostile
//! plugin's queries that try to write, loop, or answer outside their
//! schema. A query is checked against its schemas, runs under the run's
//! limits, and leaves the store exactly as it was.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use automation_harness::{Harness, Limits, QueryOutcome, QueryRequest, UnknownQuery};
use integration_tests::*;
use serde_json::{Value, json};

const HOSTILE_WASM: &str = env!("HOSTILE_PLUGIN_WASM");

fn query(harness: &Harness, id: &str, input: Value) -> QueryOutcome {
    harness
        .query(QueryRequest::new(id, input))
        .unwrap_or_else(|error| panic!("query {id} failed: {error:#}"))
}

fn answered(harness: &Harness, id: &str, input: Value) -> Value {
    let outcome = query(harness, id, input);
    outcome
        .result
        .unwrap_or_else(|failure| panic!("query {id} answered nothing: {}", failure.message()))
}

/// The host's error for a query it stopped or refused, chain and all.
fn host_error(harness: &Harness, id: &str) -> String {
    let error = harness
        .query(QueryRequest::new(id, json!({})))
        .expect_err("the host stops or refuses it");
    format!("{error:#}")
}

fn hostile_on(store: &TestStore, deadline: Duration) -> Harness {
    let engine = automation_harness::default_engine().unwrap();
    Harness::builder()
        .backend(Arc::clone(&store.backend))
        .fixed_clock(now())
        .seed(0x4057)
        .limits(Limits {
            deadline,
            ..Limits::default()
        })
        .with_plugin(load(&engine, Path::new(HOSTILE_WASM)))
}

/// After set_system, two updates and clear_system, `get` shows the whole
/// window with its log, and `active_for_system` answers before and after
/// the clear; nothing the queries did is in the store.
fn get_and_active_for_system_read_back_what_the_actions_wrote(store: TestStore) {
    let harness = store.harness();
    let window = external_id(&run_ok(
        &harness,
        "set_system",
        json!({"systemId": "db-1", "durationMinutes": 30, "title": "DB upgrade"}),
    ));
    let active = answered(&harness, "active_for_system", json!({"systemId": "db-1"}));
    assert_eq!(active["windows"][0]["maintenanceId"], window);
    run_ok(
        &harness,
        "add_update",
        json!({"maintenanceId": window, "message": "Starting", "statusChange": "in_progress"}),
    );
    run_ok(
        &harness,
        "add_update",
        json!({"maintenanceId": window, "message": "DB is back"}),
    );
    let before_clear = answered(&harness, "active_for_system", json!({"systemId": "db-1"}));
    assert_eq!(before_clear["windows"][0]["status"], "in_progress");
    run_ok(&harness, "clear_system", json!({"systemId": "db-1"}));

    let snapshot = store.backend.snapshot().unwrap();
    let got = answered(
        &harness,
        "maintenance.get",
        json!({"maintenanceId": window}),
    );
    assert_eq!(got["title"], "DB upgrade");
    assert_eq!(got["status"], "completed");
    let updates: Vec<(&str, &Value)> = got["updates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| (u["message"].as_str().unwrap(), &u["statusChange"]))
        .collect();
    assert_eq!(
        updates,
        [
            ("Starting", &json!("in_progress")),
            ("DB is back", &Value::Null),
            ("Cleared by automation", &json!("completed")),
        ]
    );
    let after = answered(&harness, "active_for_system", json!({"systemId": "db-1"}));
    assert_eq!(after["windows"], json!([]));
    assert_eq!(store.backend.snapshot().unwrap(), snapshot);
}

/// `list` pages through windows by start, then id, and its cursor
/// resumes exactly where the page ended.
fn list_pages_through_every_window(store: TestStore) {
    let harness = store.harness();
    let mut created = Vec::new();
    for hour in [13, 10, 12, 10, 11] {
        let id = external_id(&run_ok(
            &harness,
            "create",
            json!({"title": format!("at {hour}"), "systemIds": ["a"],
                   "startAt": format!("2026-03-01T{hour}:00:00Z"), "endAt": "2026-03-02T00:00:00Z"}),
        ));
        created.push((hour, id));
    }
    created.sort();
    let expected: Vec<String> = created.into_iter().map(|(_, id)| id).collect();
    let mut seen = Vec::new();
    let mut cursor = Value::Null;
    loop {
        let mut input = json!({"limit": 2, "systemId": "a"});
        if !cursor.is_null() {
            input["cursor"] = cursor;
        }
        let page = answered(&harness, "list", input);
        seen.extend(
            page["windows"]
                .as_array()
                .unwrap()
                .iter()
                .map(|w| w["maintenanceId"].as_str().unwrap().to_owned()),
        );
        cursor = page["nextCursor"].clone();
        if cursor.is_null() {
            break;
        }
    }
    assert_eq!(seen, expected);
}

/// The host checks a query's input against its schema before the plugin
/// runs, and names what is wrong; unknown and ambiguous ids are usage
/// errors.
fn inputs_are_checked_and_ids_resolved(store: TestStore) {
    let harness = store.harness();
    let outcome = query(&harness, "list", json!({"limit": "many", "extra": 1}));
    let failure = outcome.result.expect_err("refused");
    assert_eq!(failure.kind(), "invalid_input");
    let paths: Vec<&str> = failure.problems().iter().map(|p| p.path.as_str()).collect();
    assert_eq!(paths, ["/extra", "/limit"]);
    let missing = query(&harness, "get", json!({"maintenanceId": "nope"}));
    assert_eq!(
        missing.result.expect_err("missing").message(),
        "Maintenance not found: nope"
    );
    let error = harness
        .query(QueryRequest::new("maintenance.nope", json!({})))
        .expect_err("unknown");
    let unknown = error.downcast_ref::<UnknownQuery>().expect("a usage error");
    assert!(unknown.known.contains("maintenance.list"), "{unknown}");

    let both = store
        .automation_host(json!([]))
        .query(QueryRequest::new("get", json!({})))
        .expect_err("ambiguous");
    assert!(
        format!("{both:#}").contains("maintenance.get and notifications.get both declare it"),
        "{both:#}"
    );
}

/// The notifications plugin's `get` shows a notification whole.
fn the_notifications_plugin_answers_get(store: TestStore) {
    let harness = store.notifications_harness();
    let id = external_id(&run_ok(
        &harness,
        "send",
        json!({"channel": "#ops", "subject": "Disk", "body": "92%", "dedupeKey": "disk"}),
    ));
    let got = answered(&harness, "get", json!({"notificationId": id}));
    assert_eq!(
        got,
        json!({"notificationId": id, "channel": "#ops", "subject": "Disk", "body": "92%",
               "status": "queued", "dedupeKey": "disk", "queuedAt": NOW, "sentAt": null})
    );
}

/// A query that tries every write is refused each one, and the store is
/// byte for byte what it was; a query sees what runs committed.
fn a_query_that_writes_is_refused_and_changes_nothing(store: TestStore) {
    let harness = hostile_on(&store, Duration::from_secs(1));
    run_ok(&harness, "well_behaved", json!({}));
    let before = store.backend.snapshot().unwrap();
    let answer = answered(&harness, "write", json!({}));
    for attempt in ["set", "delete", "open"] {
        let told = answer[attempt].as_str().unwrap();
        assert!(
            told.contains("NotPermitted") && told.contains("queries are read-only"),
            "{attempt}: {told}"
        );
    }
    assert_eq!(store.backend.snapshot().unwrap(), before);
    let read = query(&harness, "read", json!({}));
    assert_eq!(read.result.unwrap()["thing"], "written by well_behaved");
    assert_eq!(read.logs[0].message, "read the thing");
}

/// The host checks a query's input against the query's own schema before
/// the plugin runs: an input the plugin would take is refused, and the
/// plugin logs nothing because it never ran.
fn a_query_input_is_checked_against_its_schema_first(store: TestStore) {
    let harness = hostile_on(&store, Duration::from_secs(1));
    let refused = query(&harness, "read", json!({"n": "x", "m": 1}));
    let failure = refused.result.expect_err("refused");
    assert_eq!(failure.kind(), "invalid_input");
    assert_eq!(
        failure.message(),
        "invalid input: /m: is not a known field; /n: \"x\" is not of type \"integer\""
    );
    assert!(
        refused.logs.is_empty(),
        "the plugin ran: {:?}",
        refused.logs
    );
    let taken = query(&harness, "read", json!({"n": 1}));
    assert!(taken.is_ok());
    assert_eq!(taken.logs.len(), 1);
}

/// A query is held to the run's deadline and memory limit, and a result
/// outside its schema is the host's error, naming the plugin and the query; the store
/// is unchanged either way.
fn a_query_is_sandboxed_like_a_run(store: TestStore) {
    let harness = hostile_on(&store, Duration::from_millis(300));
    run_ok(&harness, "well_behaved", json!({}));
    let before = store.backend.snapshot().unwrap();
    let message = host_error(&harness, "loop");
    assert!(message.starts_with("plugin hostile@"), "{message}");
    assert!(message.contains("query loop trapped"), "{message}");
    assert!(message.contains("deadline of 300 ms exceeded"), "{message}");
    let message = host_error(&harness, "allocate");
    assert!(
        message.contains("query allocate trapped: memory limit of 64 MiB reached"),
        "{message}"
    );
    let message = host_error(&harness, "bad_result");
    assert!(
        message.contains("query bad_result: returned a result that breaks its schema: /n"),
        "{message}"
    );
    assert_eq!(store.backend.snapshot().unwrap(), before);
    // The host still serves runs and queries.
    assert_eq!(
        answered(&harness, "read", json!({}))["thing"],
        "written by well_behaved"
    );
}

on_every_backend!(
    get_and_active_for_system_read_back_what_the_actions_wrote,
    list_pages_through_every_window,
    inputs_are_checked_and_ids_resolved,
    the_notifications_plugin_answers_get,
    a_query_that_writes_is_refused_and_changes_nothing,
    a_query_is_sandboxed_like_a_run,
    a_query_input_is_checked_against_its_schema_first,
);

/// A query reads in a transaction of its own that takes no writer lock:
/// on SQLite and PostgreSQL it answers while a run holds the store.
fn a_query_answers_beside_a_writer(store: TestStore) {
    let harness = store.harness();
    run_ok(&harness, "create", create_config(&["db-1"]));
    let writer = store.backend.begin().unwrap();
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::scope(|scope| {
        scope.spawn(|| {
            let listed = answered(&harness, "list", json!({}));
            sender
                .send(listed["windows"].as_array().map_or(0, Vec::len))
                .unwrap();
        });
        let answered = receiver.recv_timeout(Duration::from_secs(10));
        // Let the query go either way before judging it.
        drop(writer);
        assert_eq!(answered, Ok(1), "the query waited for the writer");
    });
}

#[test]
fn sqlite_a_query_answers_beside_a_writer() {
    a_query_answers_beside_a_writer(TestStore::sqlite());
}

#[test]
fn postgres_a_query_answers_beside_a_writer() {
    if let Some(store) = TestStore::postgres() {
        a_query_answers_beside_a_writer(store);
    }
}

/// With fuel metered, a query reports what it consumed and is stopped at
/// the fuel limit like a run.
#[test]
fn a_query_is_metered_and_stopped_by_fuel() {
    let engine = automation_harness::wasm::engine(automation_harness::EngineOptions {
        fuel: true,
        ..Default::default()
    })
    .unwrap();
    let limits = Limits {
        fuel: Some(10_000_000),
        ..Limits::default()
    };
    let maintenance = Harness::builder()
        .fixed_clock(now())
        .seed(1)
        .limits(limits)
        .with_plugin(load(&engine, Path::new(PLUGIN_WASM)));
    run_ok(&maintenance, "create", create_config(&["db-1"]));
    let listed = query(&maintenance, "list", json!({}));
    assert!(listed.is_ok());
    let fuel = listed.fuel_consumed.expect("fuel is metered");
    assert!(fuel > 1_000, "{fuel}");
    assert_eq!(listed.to_json()["fuel"], json!(fuel));

    let hostile = Harness::builder()
        .fixed_clock(now())
        .limits(limits)
        .with_plugin(load(&engine, Path::new(HOSTILE_WASM)));
    let message = host_error(&hostile, "loop");
    assert!(
        message.contains("query loop trapped: fuel limit of 10000000 reached"),
        "{message}"
    );
}
