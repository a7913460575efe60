//! Crash safety: a batch of runs against a SQLite store is killed with
//! SIGKILL mid-way; reopened, the store holds every run the CLI reported
//! as committed, whole, no run half there, and the change log, the event
//! log and the data agree.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use automation_harness::{Backend, SqliteBackend};
use serde_json::{Value, json};

const RUNS: usize = 3000;

fn batch_input() -> String {
    let mut lines = String::new();
    for i in 0..RUNS {
        let line = match i % 4 {
            0 | 1 => json!({"run": "set_system", "runId": format!("run-{i}"),
                            "config": {"systemId": format!("sys-{}", i % 50), "durationMinutes": 30}}),
            2 => json!({"run": "create", "runId": format!("run-{i}"),
                        "config": {"title": "t", "systemIds": [format!("sys-{}", i % 50), "shared"],
                                   "startAt": "2030-01-01T00:00:00Z", "endAt": "2030-01-01T01:00:00Z"}}),
            _ => json!({"run": "clear_system", "runId": format!("run-{i}"),
                        "config": {"systemId": format!("sys-{}", (i + 7) % 50)}}),
        };
        lines.push_str(&line.to_string());
        lines.push('\n');
    }
    lines
}

/// Runs the batch, kills it after `kill_after` reported runs, and returns
/// every outcome it reported.
fn run_and_kill(store: &std::path::Path, input: &std::path::Path, kill_after: usize) -> Vec<Value> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_automation-harness"))
        .env("AUTOMATION_HARNESS_CACHE", store.with_extension("cache"))
        .args(["batch", "--store"])
        .arg(store)
        .arg(input)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the CLI starts");
    let stdout = child.stdout.take().unwrap();
    let mut reader = BufReader::new(stdout);
    let mut reported = Vec::new();
    let mut line = String::new();
    while reported.len() < kill_after {
        line.clear();
        if reader.read_line(&mut line).unwrap() == 0 {
            break;
        }
        reported.push(serde_json::from_str::<Value>(&line).unwrap());
    }
    child.kill().expect("SIGKILL");
    child.wait().unwrap();
    // Lines already in the pipe were written after their run committed.
    for line in reader.lines() {
        let Ok(line) = line else { break };
        if let Ok(outcome) = serde_json::from_str::<Value>(&line) {
            reported.push(outcome);
        }
    }
    reported
}

fn check_store(store: &std::path::Path, reported: &[Value]) -> (usize, usize) {
    let backend = SqliteBackend::open(store).expect("the store reopens after the crash");
    let changes: Vec<Value> = backend
        .changes()
        .unwrap()
        .iter()
        .map(|c| json!(c))
        .collect();
    let events: Vec<Value> = backend.events().unwrap().iter().map(|e| json!(e)).collect();
    let snapshot = backend.snapshot().unwrap();

    // Every reported run is fully there, exactly as reported.
    let logged: BTreeMap<&str, &Value> = changes
        .iter()
        .map(|c| (c["changeId"].as_str().unwrap(), c))
        .collect();
    for outcome in reported {
        assert_eq!(outcome["ok"], true, "{outcome}");
        for change in outcome["changes"].as_array().unwrap() {
            let stored = logged.get(change["changeId"].as_str().unwrap());
            assert_eq!(stored, Some(&change), "a reported change is missing");
        }
        for event in outcome["events"].as_array().unwrap() {
            assert!(
                events.iter().any(|e| e["changeId"] == event["changeId"] && e["trigger"] == event["trigger"]),
                "a reported event is missing"
            );
        }
    }

    // No run is half there: each change has its event and each event its
    // change, and at most one run beyond those reported (the one that
    // committed as the process died) is in the store.
    for change in &changes {
        let fired = events
            .iter()
            .filter(|e| e["changeId"] == change["changeId"])
            .count();
        assert_eq!(fired, 1, "change without exactly one event: {change}");
        assert_eq!(
            change["runId"],
            events
                .iter()
                .find(|e| e["changeId"] == change["changeId"])
                .unwrap()["runId"]
        );
    }
    for event in &events {
        assert!(logged.contains_key(event["changeId"].as_str().unwrap()));
    }
    let reported_runs: BTreeSet<&str> = reported
        .iter()
        .map(|o| o["runId"].as_str().unwrap())
        .collect();
    let logged_runs: BTreeSet<&str> = changes
        .iter()
        .map(|c| c["runId"].as_str().unwrap())
        .collect();
    let unreported: Vec<_> = logged_runs.difference(&reported_runs).collect();
    assert!(
        unreported.len() <= 1,
        "runs in the store nobody reported: {unreported:?}"
    );

    // The data agrees with the logs: one stored window per creation, and
    // the engine's current state of each entity is its last change's next.
    let plugin_keys = &snapshot.spaces["plugin/maintenance"];
    let windows = plugin_keys
        .keys()
        .filter(|k| k.starts_with("window/"))
        .count();
    let creations = changes.iter().filter(|c| c["prev"].is_null()).count();
    assert_eq!(windows, creations);
    let mut latest: BTreeMap<&str, &Value> = BTreeMap::new();
    for change in &changes {
        latest.insert(change["entityId"].as_str().unwrap(), &change["next"]);
    }
    let states = &snapshot.spaces["entity/maintenance"];
    assert_eq!(states.len(), latest.len());
    for (id, next) in latest {
        let stored: Value = serde_json::from_slice(&states[&format!("maintenance/{id}")]).unwrap();
        assert_eq!(&stored, next);
    }
    (reported.len(), logged_runs.len())
}

#[test]
fn a_killed_batch_loses_no_committed_run_and_leaves_no_half_run() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("batch.jsonl");
    std::fs::File::create(&input)
        .unwrap()
        .write_all(batch_input().as_bytes())
        .unwrap();
    for (point, kill_after) in [5, 60, 240].into_iter().enumerate() {
        let store = dir.path().join(format!("store-{point}.sqlite3"));
        let reported = run_and_kill(&store, &input, kill_after);
        assert!(reported.len() >= kill_after.min(RUNS));
        assert!(reported.len() < RUNS, "the batch finished before the kill");
        let (reported, stored) = check_store(&store, &reported);
        println!(
            "crash point {point}: killed after {reported} reported runs; {stored} runs with changes in the store, none lost, none half there"
        );
    }
}
