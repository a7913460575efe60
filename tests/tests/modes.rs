//! The ways of running a plugin agree: a fresh instance per run (the
//! default), one reused instance, and the plugin's domain code compiled
//! natively give the same outcomes through the same engine; reuse is
//! visible to the plugin and ends with the first host error.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use automation_harness::{
    Harness, InstanceMode, MemoryBackend, RunOutcome, RunRequest, StoreSnapshot,
};
use integration_tests::native::{NATIVE_MAINTENANCE, Native};
use integration_tests::*;
use notifications_plugin::NotificationsPlugin;
use serde_json::{Value, json};

const HOSTILE_WASM: &str = env!("HOSTILE_PLUGIN_WASM");

/// A mixed sequence over all five actions, with a domain failure, a
/// missing window and a host-side config refusal among them.
fn mixed_runs(mut run: impl FnMut(RunRequest) -> RunOutcome) -> Vec<RunOutcome> {
    let mut outcomes = Vec::new();
    let created = run(RunRequest::new("create", create_config(&["db-1", "db-2"])));
    let id = created
        .result
        .as_ref()
        .ok()
        .and_then(|success| success.external_id.clone())
        .expect("create succeeded");
    outcomes.push(created);
    let requests = [
        RunRequest::new(
            "update",
            json!({"maintenanceId": id, "title": "Bigger upgrade", "systemIds": ["db-3"]}),
        ),
        RunRequest::new(
            "add_update",
            json!({"maintenanceId": id, "message": "Started", "statusChange": "in_progress"}),
        ),
        RunRequest::new("update", json!({"maintenanceId": "missing", "title": "x"})),
        RunRequest::new(
            "create",
            json!({"title": "Backwards", "systemIds": ["db-1"],
                   "startAt": "2026-03-01T12:00:00Z", "endAt": "2026-03-01T10:00:00Z"}),
        ),
        RunRequest::new(
            "set_system",
            json!({"systemId": "db-3", "durationMinutes": 15}),
        ),
        RunRequest::new(
            "set_system",
            json!({"systemId": "db-4", "durationMinutes": 60}),
        ),
        RunRequest::new("clear_system", json!({"systemId": "db-3"})),
        RunRequest::new("clear_system", json!({"systemId": 7})),
    ];
    for request in requests {
        outcomes.push(run(request.actor(automation_harness::Actor::new(
            automation_harness::ActorType::User,
            "u-1",
            Some("Ann".into()),
        ))));
    }
    outcomes
}

/// An outcome's JSON with every UUID replaced by its order of first
/// appearance, and the measurements left out, so runs whose ids came from
/// different random sources compare equal when they did the same thing.
fn canonical(outcomes: &[RunOutcome]) -> Value {
    let mut names = HashMap::new();
    let mut documents: Vec<Value> = outcomes.iter().map(RunOutcome::to_json).collect();
    for document in &mut documents {
        let object = document.as_object_mut().expect("an object");
        object.remove("wallTimeMs");
        object.remove("fuel");
        rename_ids(document, &mut names);
    }
    Value::Array(documents)
}

fn rename_ids(value: &mut Value, names: &mut HashMap<String, String>) {
    replace_ids(value, &mut |id| {
        let next = format!("id-{}", names.len() + 1);
        names.entry(id.to_owned()).or_insert(next).clone()
    });
}

/// Replaces every UUID in `value`, whole strings and words inside them,
/// with what `name` makes of it.
fn replace_ids(value: &mut Value, name: &mut impl FnMut(&str) -> String) {
    match value {
        Value::String(text) if is_uuid(text) => *text = name(text),
        Value::String(text) => {
            // Log lines mention ids inside sentences, keys and stored
            // documents inside their text.
            for word in text
                .clone()
                .split(|c: char| !c.is_ascii_hexdigit() && c != '-')
            {
                if is_uuid(word) {
                    *text = text.replace(word, &name(word));
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|item| replace_ids(item, name)),
        Value::Object(object) => object.values_mut().for_each(|item| replace_ids(item, name)),
        _ => {}
    }
}

/// A store's whole content, keys and values, change log and event log,
/// with every UUID replaced by its order of first appearance: in the
/// change log, then the event log, then the stored entries. Keys sort by
/// the ids in them, which differ from store to store, so entries are
/// visited in the order of their content with the ids not yet named
/// blanked out (an update entry's own id appears nowhere else), and listed
/// in the order of their canonical form. Values are compared as stored,
/// byte for byte: as text when they are UTF-8.
fn canonical_store(snapshot: &StoreSnapshot) -> Value {
    let mut names = HashMap::new();
    let mut changes: Vec<Value> = snapshot
        .changes
        .iter()
        .map(|change| serde_json::to_value(change).expect("a change is JSON"))
        .collect();
    changes
        .iter_mut()
        .for_each(|change| rename_ids(change, &mut names));
    let mut events: Vec<Value> = snapshot
        .events
        .iter()
        .map(|event| serde_json::to_value(event).expect("an event is JSON"))
        .collect();
    events
        .iter_mut()
        .for_each(|event| rename_ids(event, &mut names));
    let mut entries: Vec<Value> = snapshot
        .spaces
        .iter()
        .flat_map(|(space, entries)| {
            entries.iter().map(move |(key, value)| {
                let value = match std::str::from_utf8(value) {
                    Ok(text) => json!(text),
                    Err(_) => json!(value),
                };
                json!([space, key, value])
            })
        })
        .collect();
    entries.sort_by_cached_key(|entry| {
        let mut blanked = entry.clone();
        replace_ids(&mut blanked, &mut |id| {
            names.get(id).cloned().unwrap_or_else(|| "id-?".into())
        });
        blanked.to_string()
    });
    entries
        .iter_mut()
        .for_each(|entry| rename_ids(entry, &mut names));
    entries.sort_by_cached_key(Value::to_string);
    json!({ "changes": changes, "events": events, "entries": entries })
}

fn is_uuid(text: &str) -> bool {
    text.len() == 36 && text.chars().filter(|c| *c == '-').count() == 4
}

fn harness(mode: InstanceMode) -> Harness {
    Harness::builder()
        .backend(Arc::new(MemoryBackend::new()))
        .fixed_clock(now())
        .seed(7)
        .instance_mode(mode)
        .with_plugin(plugin())
}

#[test]
fn the_native_build_and_the_component_do_the_same_runs() {
    let wasm = harness(InstanceMode::Fresh);
    let native = harness(InstanceMode::Fresh);
    let from_wasm = mixed_runs(|request| wasm.run(request).expect("no host error"));
    let from_native = mixed_runs(|request| {
        native
            .run_native(&NATIVE_MAINTENANCE, request)
            .expect("no host error")
    });
    // The sequence exercises every kind of result.
    let kinds: Vec<&str> = from_wasm
        .iter()
        .map(|outcome| outcome.result.as_ref().map_or_else(|f| f.kind(), |_| "ok"))
        .collect();
    assert_eq!(
        kinds,
        [
            "ok",
            "ok",
            "ok",
            "not_found",
            "invalid_config",
            "ok",
            "ok",
            "ok",
            "invalid_config"
        ]
    );
    assert_eq!(canonical(&from_native), canonical(&from_wasm));
    assert_same_stores(&snapshot(&native), &snapshot(&wasm));
}

/// The notifications plugin's paths: a send, its dedupe, another send,
/// delivery twice, an unknown id, and configs the host refuses.
fn notification_runs(mut run: impl FnMut(RunRequest) -> RunOutcome) -> Vec<RunOutcome> {
    let config =
        json!({"channel": "#ops", "subject": "Disk full", "body": "db-1", "dedupeKey": "disk"});
    let first = run(RunRequest::new("send", config.clone()));
    let id = first
        .result
        .as_ref()
        .ok()
        .and_then(|success| success.external_id.clone())
        .expect("send succeeded");
    let mut outcomes = vec![first];
    let requests = [
        RunRequest::new("send", config),
        RunRequest::new("send", json!({"channel": "#dev", "subject": "Deployed"})),
        RunRequest::new("mark_sent", json!({"notificationId": id})),
        RunRequest::new("mark_sent", json!({"notificationId": id})),
        RunRequest::new("mark_sent", json!({"notificationId": "missing"})),
        RunRequest::new("send", json!({"channel": "", "subject": "s", "cc": 1})),
    ];
    for request in requests {
        outcomes.push(run(request.actor(automation_harness::Actor::new(
            automation_harness::ActorType::User,
            "u-1",
            Some("Ann".into()),
        ))));
    }
    outcomes
}

#[test]
fn the_notifications_plugin_natively_and_as_a_component_do_the_same_runs() {
    let harness = || {
        Harness::builder()
            .backend(Arc::new(MemoryBackend::new()))
            .fixed_clock(now())
            .seed(7)
            .with_plugin(notifications_plugin())
    };
    let (wasm, native) = (harness(), harness());
    let from_wasm = notification_runs(|request| wasm.run(request).expect("no host error"));
    let from_native = notification_runs(|request| {
        native
            .run_native(&Native(NotificationsPlugin), request)
            .expect("no host error")
    });
    let kinds: Vec<&str> = from_wasm
        .iter()
        .map(|outcome| outcome.result.as_ref().map_or_else(|f| f.kind(), |_| "ok"))
        .collect();
    assert_eq!(
        kinds,
        ["ok", "ok", "ok", "ok", "ok", "not_found", "invalid_config"]
    );
    let events: usize = from_wasm.iter().map(|outcome| outcome.events.len()).sum();
    assert_eq!(events, 3, "queued twice, sent once");
    assert_eq!(canonical(&from_native), canonical(&from_wasm));
    assert_same_stores(&snapshot(&native), &snapshot(&wasm));
}

/// The two stores hold the same content but for their ids.
fn assert_same_stores(left: &StoreSnapshot, right: &StoreSnapshot) {
    let (left, right) = (canonical_store(left), canonical_store(right));
    // Something to compare: every part of the store was written.
    for part in ["changes", "events", "entries"] {
        assert!(
            !right[part].as_array().expect("an array").is_empty(),
            "no {part}"
        );
    }
    assert_eq!(left["changes"], right["changes"], "the change logs differ");
    assert_eq!(left["events"], right["events"], "the event logs differ");
    assert_eq!(
        left["entries"], right["entries"],
        "the stored entries differ"
    );
}

#[test]
fn a_reused_instance_does_the_same_runs_as_fresh_ones() {
    let fresh = harness(InstanceMode::Fresh);
    let reused = harness(InstanceMode::Reuse);
    let from_fresh = mixed_runs(|request| fresh.run(request).expect("no host error"));
    let from_reused = mixed_runs(|request| reused.run(request).expect("no host error"));
    assert_eq!(canonical(&from_reused), canonical(&from_fresh));
    assert_same_stores(&snapshot(&reused), &snapshot(&fresh));
}

fn hostile(mode: InstanceMode) -> Harness {
    let engine = automation_harness::default_engine().unwrap();
    Harness::builder()
        .fixed_clock(now())
        .instance_mode(mode)
        .with_plugin(load(&engine, Path::new(HOSTILE_WASM)))
}

/// What `count_runs` reports: how many times it ran in its instance.
fn count_runs(harness: &Harness) -> Value {
    let outcome = harness
        .run(RunRequest::new("count_runs", json!({})))
        .expect("count_runs runs");
    artifact(&outcome)["n"].clone()
}

#[test]
fn a_fresh_instance_sees_nothing_of_earlier_runs() {
    let harness = hostile(InstanceMode::Fresh);
    let counts: Vec<Value> = (0..3).map(|_| count_runs(&harness)).collect();
    assert_eq!(counts, [json!(1), json!(1), json!(1)]);
}

#[test]
fn a_reused_instance_keeps_its_memory_until_a_host_error() {
    let harness = hostile(InstanceMode::Reuse);
    let counts: Vec<Value> = (0..3).map(|_| count_runs(&harness)).collect();
    assert_eq!(counts, [json!(1), json!(2), json!(3)]);

    let before = snapshot(&harness);
    let error = harness
        .run(RunRequest::new("panic", json!({})))
        .expect_err("a panic is a host error");
    let message = format!("{error:#}");
    assert!(
        message.contains("hostile@0.1.0") && message.contains("panicked on purpose"),
        "{message}"
    );
    assert_eq!(snapshot(&harness), before);
    // The trapped instance was discarded: the next run starts afresh.
    assert_eq!(count_runs(&harness), json!(1));
    assert_eq!(count_runs(&harness), json!(2));
}

#[test]
fn a_reused_instance_gets_a_new_deadline_every_run() {
    let limits = automation_harness::Limits {
        deadline: std::time::Duration::from_millis(100),
        ..Default::default()
    };
    let engine = automation_harness::default_engine().unwrap();
    let harness = Harness::builder()
        .fixed_clock(now())
        .instance_mode(InstanceMode::Reuse)
        .limits(limits)
        .with_plugin(load(&engine, Path::new(HOSTILE_WASM)));
    count_runs(&harness);
    // Longer than the deadline: a deadline counted from the first run
    // would stop the next one.
    std::thread::sleep(std::time::Duration::from_millis(250));
    assert_eq!(count_runs(&harness), json!(2));
    let error = harness
        .run(RunRequest::new("loop_forever", json!({})))
        .expect_err("the loop is stopped");
    assert!(format!("{error:#}").contains("deadline of 100 ms exceeded"));
    assert_eq!(count_runs(&harness), json!(1));
}
