//! Several host processes on one PostgreSQL database: every guarantee of
//! one SQLite file holds across them. Each test gets a schema of its own
//! in the test database (`AUTOMATION_HARNESS_TEST_POSTGRES`, which
//! `.ci/run` sets); the server-stop test starts a cluster of its own with
//! `scripts/postgres.sh`.

#[path = "../../tests/src/postgres_schema.rs"]
mod postgres_schema;
#[path = "support/cli.rs"]
mod support;

use support::{finish, harness, stdout_json};

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use automation_harness::{Backend, ChangeRecord, EventRecord, PostgresBackend};
use postgres_schema::Schema;
use serde_json::{Value, json};

/// Runs one action through the CLI on `url` and returns its outcome.
fn run(url: &str, action: &str, config: Value) -> Value {
    let output = harness()
        .args(["run", action, "--json", "--store", url, "--config"])
        .arg(config.to_string())
        .output()
        .unwrap();
    let outcome = stdout_json(&output);
    assert_eq!(outcome["ok"], true, "{outcome:#}");
    outcome
}

/// `batch` on `url`, fed `lines`, started now; its stdout is piped.
fn batch(url: &str, lines: Vec<Value>) -> Child {
    support::batch(&["batch", "--store", url], lines, Stdio::piped())
}

/// Changes and events as the maintenance plugin leaves them: one event per
/// change, naming it, in the same order; and for every entity, each
/// change's `prev` is the previous change's `next`.
fn check_logs(changes: &[ChangeRecord], events: &[EventRecord]) {
    assert_eq!(changes.len(), events.len(), "one event per change");
    for (change, event) in changes.iter().zip(events) {
        assert_eq!(event.change_id, change.change_id);
    }
    let mut last: BTreeMap<(String, String), Option<Value>> = BTreeMap::new();
    for change in changes {
        let entity = (change.kind.clone(), change.entity_id.clone());
        let previous = last.get(&entity).cloned().flatten();
        assert_eq!(
            change.prev, previous,
            "the chain of {entity:?} is unbroken at change {}",
            change.change_id
        );
        last.insert(entity, change.next.clone());
    }
}

/// Nothing half-done: every entity's stored state is the `next` of its
/// last recorded change, and every stored state has a change.
fn check_states(snapshot: &automation_harness::StoreSnapshot) {
    let mut last: BTreeMap<String, Option<Value>> = BTreeMap::new();
    for change in &snapshot.changes {
        last.insert(
            format!("{}/{}", change.kind, change.entity_id),
            change.next.clone(),
        );
    }
    let stored = snapshot
        .spaces
        .get("entity/maintenance")
        .cloned()
        .unwrap_or_default();
    for (key, next) in &last {
        let state = stored
            .get(key)
            .map(|bytes| serde_json::from_slice::<Value>(bytes).unwrap());
        assert_eq!(&state, next, "the state of {key} is its last change's");
    }
    assert_eq!(
        stored.len(),
        last.values().filter(|next| next.is_some()).count()
    );
}

fn mixed_line(process: usize, n: usize, window: &str) -> Value {
    let system = format!("sys-{process}-{}", n % 10);
    match n % 5 {
        0 => json!({"run": "set_system", "config": {"systemId": system, "durationMinutes": 30}}),
        1 => {
            json!({"run": "clear_system", "config": {"systemId": format!("sys-{process}-{}", (n - 1) % 10)}})
        }
        2 => json!({"run": "add_update", "config": {"maintenanceId": window,
            "message": format!("p{process} n{n}"),
            "statusChange": if n.is_multiple_of(2) { "in_progress" } else { "scheduled" }}}),
        3 => {
            json!({"run": "update", "config": {"maintenanceId": window, "title": format!("p{process} n{n}")}})
        }
        _ => json!({"run": "create", "config": {"title": "w", "systemIds": [system],
            "startAt": "2026-03-01T10:00:00Z", "endAt": "2026-03-01T12:00:00Z"}}),
    }
}

fn create_window(url: &str) -> String {
    let created = run(
        url,
        "create",
        json!({"title": "shared", "systemIds": ["db-1"],
               "startAt": "2026-03-01T10:00:00Z", "endAt": "2026-03-01T12:00:00Z"}),
    );
    created["externalId"].as_str().unwrap().to_owned()
}

#[test]
fn four_processes_of_500_mixed_runs_keep_every_run_whole() {
    let Some(schema) = Schema::create() else {
        return;
    };
    let window = create_window(&schema.url);
    let processes: Vec<Child> = (0..4)
        .map(|process| {
            batch(
                &schema.url,
                (0..500).map(|n| mixed_line(process, n, &window)).collect(),
            )
        })
        .collect();
    let outcomes: Vec<Vec<Value>> = processes.into_iter().map(finish).collect();
    for lines in &outcomes {
        assert_eq!(lines.len(), 500);
        assert!(lines.iter().all(|line| line["ok"] == true));
    }
    let store = PostgresBackend::open(&schema.url).unwrap();
    let (changes, events) = (store.changes().unwrap(), store.events().unwrap());
    check_logs(&changes, &events);
    // Every run's reported changes are exactly what the store holds.
    let reported: usize = outcomes
        .iter()
        .flatten()
        .map(|line| line["changes"].as_array().unwrap().len())
        .sum();
    assert_eq!(
        changes.len(),
        reported + 1,
        "and the shared window's creation"
    );
}

#[test]
fn a_thousand_updates_of_one_window_from_four_processes_are_all_there() {
    let Some(schema) = Schema::create() else {
        return;
    };
    let window = create_window(&schema.url);
    let processes: Vec<Child> = (0..4)
        .map(|process| {
            batch(
                &schema.url,
                (0..250)
                    .map(|n| {
                        json!({"run": "add_update", "config": {"maintenanceId": window,
                            "message": format!("p{process} n{n}"),
                            "statusChange": if (n + process) % 2 == 0 { "in_progress" } else { "scheduled" }}})
                    })
                    .collect(),
            )
        })
        .collect();
    for lines in processes.into_iter().map(finish) {
        assert_eq!(lines.len(), 250);
    }
    let store = PostgresBackend::open(&schema.url).unwrap();
    let snapshot = store.snapshot().unwrap();
    let prefix = format!("update/{window}/");
    let messages: Vec<String> = snapshot.spaces["plugin/maintenance"]
        .iter()
        .filter(|(key, _)| key.starts_with(&prefix))
        .map(|(_, value)| {
            let entry: Value = serde_json::from_slice(value).unwrap();
            entry["message"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(messages.len(), 1000, "every update is there");
    for process in 0..4 {
        for n in 0..250 {
            assert!(messages.contains(&format!("p{process} n{n}")));
        }
    }
    check_logs(&snapshot.changes, &snapshot.events);
}

#[test]
fn three_processes_ticking_one_instant_run_the_job_once() {
    let Some(schema) = Schema::create() else {
        return;
    };
    // Something for the job to do: a window whose start has passed.
    run(
        &schema.url,
        "set_system",
        json!({"systemId": "db-1", "durationMinutes": 30}),
    );
    let ticks: Vec<Child> = (0..3)
        .map(|_| {
            harness()
                .args(["tick", "--json", "--now", "2030-01-01T00:00:30Z", "--store"])
                .arg(&schema.url)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let runs: usize = ticks
        .into_iter()
        .map(|tick| {
            let output = tick.wait_with_output().unwrap();
            stdout_json(&output)["runs"].as_array().unwrap().len()
        })
        .sum();
    assert_eq!(runs, 1, "the job ran once for the instant");
    let store = PostgresBackend::open(&schema.url).unwrap();
    // The window was started and completed by that one run, once each.
    assert_eq!(store.changes().unwrap().len(), 2);
}

#[test]
fn a_process_killed_mid_stream_leaves_every_reported_run_whole() {
    let Some(schema) = Schema::create() else {
        return;
    };
    let window = create_window(&schema.url);
    for round in 0..3 {
        let survivor = batch(
            &schema.url,
            (0..100)
                .map(|n| mixed_line(10 + round, n, &window))
                .collect(),
        );
        let mut victim = batch(
            &schema.url,
            (0..400).map(|n| mixed_line(round, n, &window)).collect(),
        );
        // Killed after a different number of reported runs each round.
        let mut out = BufReader::new(victim.stdout.take().unwrap());
        let mut reported = Vec::new();
        let mut line = String::new();
        while reported.len() < 20 + 35 * round {
            line.clear();
            if out.read_line(&mut line).unwrap() == 0 {
                break;
            }
            reported.push(serde_json::from_str::<Value>(&line).unwrap());
        }
        victim.kill().unwrap();
        victim.wait().unwrap();
        let survived = finish(survivor);
        assert_eq!(survived.len(), 100, "the other process carried on");
        let store = PostgresBackend::open(&schema.url).unwrap();
        let snapshot = store.snapshot().unwrap();
        let changes = snapshot.changes.clone();
        check_logs(&changes, &snapshot.events);
        check_states(&snapshot);
        for outcome in reported.iter().chain(&survived) {
            for change in outcome["changes"].as_array().unwrap() {
                assert!(
                    changes
                        .iter()
                        .any(|stored| stored.change_id == change["changeId"]),
                    "a reported change is stored"
                );
            }
        }
    }
}

/// A cluster of the test's own, which it can stop and start.
struct OwnCluster {
    url: String,
    state: PathBuf,
}

impl OwnCluster {
    fn start(dir: &Path) -> Self {
        let state = dir.join("cluster.state");
        let output = Command::new(workspace().join("scripts/postgres.sh"))
            .arg("start")
            .env("AUTOMATION_HARNESS_PG_STATE", &state)
            .output()
            .expect("scripts/postgres.sh runs");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let url = String::from_utf8(output.stdout).unwrap();
        Self {
            url: url.trim().lines().last().unwrap().to_owned(),
            state,
        }
    }

    /// `pg_ctl` on the cluster, as its owner.
    fn pg_ctl(&self, args: &[&str]) {
        let state = std::fs::read_to_string(&self.state).unwrap();
        let mut lines = state.lines();
        let (dir, bin, port) = (
            lines.next().unwrap(),
            lines.next().unwrap(),
            lines.next().unwrap(),
        );
        let pg_ctl = format!("{bin}/pg_ctl");
        let options = format!("-h 127.0.0.1 -p {port} -k {dir}");
        let data = format!("{dir}/data");
        let log = format!("{dir}/server.log");
        let mut command: Vec<&str> = vec![&pg_ctl, "-D", &data, "-l", &log, "-o", &options, "-w"];
        command.extend(args);
        // SAFETY: getuid has no preconditions.
        let root = unsafe { libc::getuid() } == 0;
        let status = if root {
            Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .args(&command)
                .status()
        } else {
            Command::new(command[0]).args(&command[1..]).status()
        }
        .unwrap();
        assert!(status.success(), "pg_ctl {args:?}");
    }
}

impl Drop for OwnCluster {
    fn drop(&mut self) {
        let _ = Command::new(workspace().join("scripts/postgres.sh"))
            .arg("stop")
            .env("AUTOMATION_HARNESS_PG_STATE", &self.state)
            .status();
    }
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[test]
fn a_stopped_server_fails_runs_as_store_unavailable_and_the_host_recovers() {
    if postgres_schema::url().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let cluster = OwnCluster::start(dir.path());
    let store = PostgresBackend::open(&cluster.url).unwrap();
    let mut txn = store.begin().unwrap();
    txn.set("plugin/p", "before", b"1").unwrap();
    // A second pooled connection, which the restart will kill too.
    store.snapshot().unwrap();
    txn.commit().unwrap();

    // The server stops (immediately: no goodbye to the clients) in the
    // middle of a transaction.
    let mut txn = store.begin().unwrap();
    txn.set("plugin/p", "during", b"2").unwrap();
    cluster.pg_ctl(&["-m", "immediate", "stop"]);
    let error = txn.commit().expect_err("the commit fails");
    assert!(
        format!("{error:#}").contains("store unavailable"),
        "{error:#}"
    );
    // While it is down, runs fail with the same clear error; through the
    // CLI too, with the exit status of a failed run.
    let error = store.begin().err().expect("no transaction starts");
    assert!(
        format!("{error:#}").contains("store unavailable"),
        "{error:#}"
    );
    let output = harness()
        .args([
            "run",
            "set_system",
            "--config",
            r#"{"systemId":"db-1","durationMinutes":30}"#,
            "--store",
            &cluster.url,
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("store unavailable"), "{stderr}");
    assert_eq!(output.status.code(), Some(1), "{stderr}");

    // Back up: the same backend, whose pooled connections all died,
    // recovers, for writes and reads.
    cluster.pg_ctl(&["start"]);
    let mut txn = store.begin().expect("a transaction starts again");
    assert_eq!(txn.get("plugin/p", "before").unwrap(), Some(b"1".to_vec()));
    assert_eq!(
        txn.get("plugin/p", "during").unwrap(),
        None,
        "nothing half-committed"
    );
    txn.set("plugin/p", "after", b"3").unwrap();
    store.snapshot().expect("a read works beside it");
    txn.commit().unwrap();

    // A clean shutdown (the server tells its clients it is going) is the
    // same error.
    cluster.pg_ctl(&["-m", "fast", "stop"]);
    let error = store.snapshot().expect_err("no read while it is down");
    assert!(
        format!("{error:#}").contains("store unavailable"),
        "{error:#}"
    );
    cluster.pg_ctl(&["start"]);
    assert_eq!(store.snapshot().unwrap().spaces["plugin/p"].len(), 2);
    run(
        &cluster.url,
        "set_system",
        json!({"systemId": "db-1", "durationMinutes": 30}),
    );
}

#[test]
fn a_transaction_with_a_failed_statement_never_reports_a_commit() {
    let Some(schema) = Schema::create() else {
        return;
    };
    let store = PostgresBackend::open(&schema.url).unwrap();
    let event = |change: &str| EventRecord {
        event_id: "e-1".into(),
        trigger: "p.t".into(),
        payload: json!({}),
        context_key: None,
        actor: automation_harness::Actor::system(),
        run_id: None,
        change_id: change.into(),
        occurred_at: "2026-03-01T10:00:00.000Z".into(),
    };
    // An event whose change is missing breaks a foreign key: PostgreSQL
    // aborts the transaction, and would answer COMMIT with a ROLLBACK.
    let mut txn = store.begin().unwrap();
    txn.set("plugin/p", "a", b"1").unwrap();
    assert!(txn.append_event(&event("no-such-change")).is_err());
    let _ = txn.set("plugin/p", "b", b"2");
    assert!(
        txn.commit().is_err(),
        "a failed transaction is not committed"
    );
    // Rolled back to a savepoint before the failure, it commits.
    let mut txn = store.begin().unwrap();
    txn.set("plugin/p", "c", b"3").unwrap();
    let savepoint = txn.savepoint().unwrap();
    assert!(txn.append_event(&event("no-such-change")).is_err());
    txn.rollback_to(savepoint).unwrap();
    txn.commit().unwrap();
    let keys: Vec<String> = store.snapshot().unwrap().spaces["plugin/p"]
        .keys()
        .cloned()
        .collect();
    assert_eq!(keys, ["c"]);
}

#[test]
fn the_store_can_come_from_the_environment() {
    let Some(schema) = Schema::create() else {
        return;
    };
    run(
        &schema.url,
        "set_system",
        json!({"systemId": "db-1", "durationMinutes": 30}),
    );
    let output = harness()
        .args(["history", "--json"])
        .env("AUTOMATION_HARNESS_STORE", &schema.url)
        .output()
        .unwrap();
    assert_eq!(stdout_json(&output)["events"].as_array().unwrap().len(), 1);
}

#[test]
fn migrations_are_applied_once_when_processes_open_a_new_database_at_once() {
    let Some(schema) = Schema::create() else {
        return;
    };
    std::thread::scope(|scope| {
        for _ in 0..6 {
            scope.spawn(|| PostgresBackend::open(&schema.url).expect("it opens"));
        }
    });
    let store = PostgresBackend::open(&schema.url).unwrap();
    assert_eq!(store.schema_versions().unwrap(), [1]);
}

#[test]
fn a_password_never_shows_in_output_or_errors() {
    // Nothing listens on port 1: no server is needed.
    let url = "postgres://alice:hunter2-secret@127.0.0.1:1/db";
    for args in [
        vec!["history", "--store", url],
        vec!["runs", "--store", url, "--json"],
        vec![
            "run",
            "set_system",
            "--config",
            r#"{"systemId":"db-1","durationMinutes":30}"#,
            "--store",
            url,
        ],
    ] {
        let output = harness().args(&args).output().unwrap();
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(!output.status.success());
        assert!(!all.contains("hunter2"), "{all}");
        assert!(all.contains("alice:****@127.0.0.1:1"), "{all}");
    }
    let help = harness()
        .args(["run", "--help"])
        .env("AUTOMATION_HARNESS_STORE", url)
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&help.stdout).contains("hunter2"));
    let redact = automation_harness::backend::redact_url;
    assert_eq!(
        redact("postgresql://u:p@h/db?password=x&sslmode=disable"),
        "postgresql://u:****@h/db?password=****&sslmode=disable"
    );
    // A password may hold the URL's own separators.
    assert_eq!(redact("postgres://u:pa/s?s@h/db"), "postgres://u:****@h/db");
    assert_eq!(
        redact("postgres://u:p@ss@h:5432/db"),
        "postgres://u:****@h:5432/db"
    );
    assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
}
