//! Crash safety: a batch of runs against a SQLite store dies mid-way,
//! killed with SIGKILL at output counts or crashed on purpose right before
//! a commit or right before an outcome is printed; reopened, the store
//! holds every run the CLI reported, whole, no run half there, at most the
//! one run that committed as the process died beyond those, and the change
//! log, the event log and the data agree.

#[path = "support/cli.rs"]
#[allow(dead_code)]
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::ExitStatusExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use automation_harness::{Backend, SqliteBackend};
use serde_json::{Value, json};

const RUNS: usize = 3000;

/// The variable debug builds of the CLI read to crash on purpose.
const CRASH_AT: &str = "AUTOMATION_HARNESS_CRASH_AT";

/// SIGABRT: how an injected crash ends the process.
const SIGABRT: i32 = 6;

/// Line `i` of a batch: creations, windows set on systems, and clearances
/// that close them again.
fn batch_line(i: usize) -> String {
    let line = match i % 4 {
        0 | 1 => json!({"run": "set_system", "runId": format!("run-{i}"),
                        "config": {"systemId": format!("sys-{}", i % 50), "durationMinutes": 30}}),
        2 => json!({"run": "create", "runId": format!("run-{i}"),
                    "config": {"title": "t", "systemIds": [format!("sys-{}", i % 50), "shared"],
                               "startAt": "2030-01-01T00:00:00Z", "endAt": "2030-01-01T01:00:00Z"}}),
        _ => json!({"run": "clear_system", "runId": format!("run-{i}"),
                    "config": {"systemId": format!("sys-{}", (i + 7) % 50)}}),
    };
    format!("{line}\n")
}

fn write_batch(path: &Path, lines: std::ops::Range<usize>) {
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    for i in lines {
        file.write_all(batch_line(i).as_bytes()).unwrap();
    }
    file.flush().unwrap();
}

/// The CLI running `input` as a batch against `store`, its compiled-plugin
/// cache beside the store.
fn batch_command(store: &Path, input: &Path) -> Command {
    let mut command = support::binary();
    command
        .env("AUTOMATION_HARNESS_CACHE", store.with_file_name("cache"))
        .env_remove(CRASH_AT)
        .args(["batch", "--store"])
        .arg(store)
        .arg(input)
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    command
}

/// Runs the batch, kills it after `kill_after` reported runs, and returns
/// every outcome it reported.
fn run_and_kill(store: &Path, input: &Path, kill_after: usize) -> Vec<Value> {
    let mut child = batch_command(store, input).spawn().expect("the CLI starts");
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

/// What the reopened store holds, checked against what was reported.
struct Stored {
    /// Every run with a change in the store.
    runs: BTreeSet<String>,
}

/// Reopens `store` and checks it against every outcome ever `reported` on
/// it: each reported run is there exactly as reported; no run is half
/// there; each event is what its change derives; the data agrees with the
/// logs; every connection commits with `synchronous = FULL`.
fn check_store(store: &Path, reported: &[Value]) -> Stored {
    let backend = SqliteBackend::open(store).expect("the store reopens after the crash");
    // Durable against power loss, not only against a killed process: a
    // second connection, opened while the first holds a transaction, is
    // set up the same way.
    assert_eq!(backend.synchronous().unwrap(), 2, "synchronous is not FULL");
    let txn = backend.begin().unwrap();
    assert_eq!(backend.synchronous().unwrap(), 2, "synchronous is not FULL");
    drop(txn);

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
    let fired: BTreeMap<&str, Vec<&Value>> =
        events.iter().fold(BTreeMap::new(), |mut fired, event| {
            fired
                .entry(event["changeId"].as_str().unwrap())
                .or_default()
                .push(event);
            fired
        });
    for outcome in reported {
        assert_eq!(outcome["ok"], true, "{outcome}");
        for change in outcome["changes"].as_array().unwrap() {
            let stored = logged.get(change["changeId"].as_str().unwrap());
            assert_eq!(stored, Some(&change), "a reported change is missing");
        }
        for event in outcome["events"].as_array().unwrap() {
            let stored = fired
                .get(event["changeId"].as_str().unwrap())
                .map(Vec::as_slice)
                .unwrap_or_default();
            assert!(
                stored.iter().any(|stored| {
                    [
                        "trigger",
                        "payload",
                        "contextKey",
                        "actor",
                        "runId",
                        "changeId",
                    ]
                    .iter()
                    .all(|key| stored[key] == event[key])
                }),
                "a reported event is missing or differs: {event}"
            );
        }
    }

    // No run is half there: each change has exactly one event, the one
    // its `next` derives, and each event its change.
    for change in &changes {
        let id = change["changeId"].as_str().unwrap();
        let events = fired.get(id).map(Vec::as_slice).unwrap_or_default();
        assert_eq!(
            events.len(),
            1,
            "change without exactly one event: {change}"
        );
        let event = events[0];
        let mut payload = change["next"].clone();
        payload["maintenanceId"] = change["entityId"].clone();
        let trigger = if change["prev"].is_null() {
            "maintenance.created"
        } else {
            "maintenance.updated"
        };
        assert_eq!(
            (
                &event["trigger"],
                &event["payload"],
                &event["contextKey"],
                &event["actor"],
                &event["runId"],
                &event["occurredAt"],
            ),
            (
                &json!(trigger),
                &payload,
                &change["entityId"],
                &change["actor"],
                &change["runId"],
                &change["occurredAt"],
            ),
            "the event does not match its change {change}"
        );
    }
    for event in &events {
        assert!(
            logged.contains_key(event["changeId"].as_str().unwrap()),
            "event without its change: {event}"
        );
    }

    // The data agrees with the logs: one stored window per creation, and
    // the engine's current state of each entity is its last change's next.
    let no_keys = BTreeMap::new();
    let plugin_keys = snapshot
        .spaces
        .get("plugin/maintenance")
        .unwrap_or(&no_keys);
    let windows = plugin_keys
        .keys()
        .filter(|k| k.starts_with("window/"))
        .count();
    let creations = changes.iter().filter(|c| c["prev"].is_null()).count();
    assert_eq!(windows, creations, "windows stored vs. creations logged");
    let mut latest: BTreeMap<&str, &Value> = BTreeMap::new();
    for change in &changes {
        latest.insert(change["entityId"].as_str().unwrap(), &change["next"]);
    }
    let states = snapshot
        .spaces
        .get("entity/maintenance")
        .unwrap_or(&no_keys);
    assert_eq!(
        states.len(),
        latest.len(),
        "entity states vs. entities logged"
    );
    for (id, next) in latest {
        let stored: Value = serde_json::from_slice(&states[&format!("maintenance/{id}")]).unwrap();
        assert_eq!(
            &stored, next,
            "the state of {id} is not its last change's next"
        );
    }
    Stored {
        runs: changes
            .iter()
            .map(|c| c["runId"].as_str().unwrap().to_owned())
            .collect(),
    }
}

fn reported_runs(reported: &[Value]) -> BTreeSet<String> {
    reported
        .iter()
        .map(|o| o["runId"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn a_killed_batch_loses_no_committed_run_and_leaves_no_half_run() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("batch.jsonl");
    write_batch(&input, 0..RUNS);
    for (point, kill_after) in [5, 60, 240].into_iter().enumerate() {
        let store = dir.path().join(format!("store-{point}.sqlite3"));
        let reported = run_and_kill(&store, &input, kill_after);
        assert!(reported.len() >= kill_after.min(RUNS));
        assert!(reported.len() < RUNS, "the batch finished before the kill");
        let stored = check_store(&store, &reported);
        let reported_runs = reported_runs(&reported);
        let unreported: Vec<_> = stored.runs.difference(&reported_runs).collect();
        assert!(
            unreported.len() <= 1,
            "runs in the store nobody reported: {unreported:?}"
        );
        println!(
            "kill point {point}: killed after {} reported runs; {} runs with changes in the store, none lost, none half there",
            reported.len(),
            stored.runs.len()
        );
    }
}

/// How many crashes each injection point gets: together well over 100
/// crash points, each a short batch that resumes the store the last one
/// left.
const CRASHES_PER_POINT: usize = 55;

/// Crashes the CLI at `point` (`before-commit` or `before-print`) again
/// and again on one store, each time at the n-th run of a fresh process
/// (n from 1 to 5), then resumes with the lines after the crashed run,
/// checking the store after every crash.
fn crash_repeatedly(dir: &Path, point: &str) -> usize {
    let store: PathBuf = dir.join(format!("{point}.sqlite3"));
    let input = dir.join(format!("{point}.jsonl"));
    let mut next_line = 0;
    let mut reported: Vec<Value> = Vec::new();
    // Runs that committed as a process died, so nobody reported them.
    let mut unreported: BTreeSet<String> = BTreeSet::new();
    let mut crashes = 0;
    for crash in 0..CRASHES_PER_POINT {
        let n = 1 + crash % 5;
        write_batch(&input, next_line..next_line + n + 2);
        let output = batch_command(&store, &input)
            .env(CRASH_AT, format!("{point}:{n}"))
            .output()
            .expect("the CLI starts");
        assert_eq!(
            output.status.signal(),
            Some(SIGABRT),
            "{point}:{n} did not crash the batch: {:?}",
            output.status
        );
        crashes += 1;
        let printed: Vec<Value> = String::from_utf8(output.stdout)
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str(line).expect("a whole JSON line"))
            .collect();
        assert_eq!(printed.len(), n - 1, "{point}:{n}: lines printed");
        reported.extend(printed);
        let crashed_run = format!("run-{}", next_line + n - 1);

        let stored = check_store(&store, &reported);
        let reported_runs = reported_runs(&reported);
        let new: BTreeSet<String> = stored
            .runs
            .difference(&reported_runs)
            .filter(|run| !unreported.contains(*run))
            .cloned()
            .collect();
        match point {
            // The crashed run never committed.
            "before-commit" => assert!(
                new.is_empty(),
                "{point}:{n}: runs in the store nobody reported: {new:?}"
            ),
            // The crashed run committed and was not reported; every line
            // but a clearance changes something, so it shows in the log.
            _ => {
                assert!(
                    new.iter().all(|run| *run == crashed_run),
                    "{point}:{n}: runs in the store nobody reported: {new:?}, crashed {crashed_run}"
                );
                if (next_line + n - 1) % 4 != 3 {
                    assert!(
                        new.contains(&crashed_run),
                        "{point}:{n}: the crashed run {crashed_run} did not commit"
                    );
                }
            }
        }
        unreported.extend(new);
        // The driver resumes after the crashed run, whatever became of it.
        next_line += n;
    }
    println!(
        "{point}: {crashes} crashes over {next_line} runs; {} reported, {} committed unreported",
        reported.len(),
        unreported.len()
    );
    crashes
}

#[test]
#[cfg_attr(
    not(debug_assertions),
    ignore = "crash injection exists in debug builds only"
)]
fn a_batch_crashed_before_a_commit_or_before_a_print_keeps_the_store_whole() {
    let dir = tempfile::tempdir().unwrap();
    let points = crash_repeatedly(dir.path(), "before-commit")
        + crash_repeatedly(dir.path(), "before-print");
    assert!(points >= 100);
}
