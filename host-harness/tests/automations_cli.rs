//! The automation host as a user runs it: `run --automations`, `batch
//! --automations`, `dispatch`, `runs` and `serve`, the real binary and the
//! shipped plugins on a SQLite store, including `serve` killed at any
//! point of a long stream.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

#[path = "../../build-support/plugin_build.rs"]
#[allow(dead_code)]
mod plugin_build;
#[path = "../../tests/src/postgres_schema.rs"]
mod postgres_schema;
#[path = "support/cli.rs"]
mod support;

use support::{finish, harness, stdout_json};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn cli(args: &[&str]) -> Output {
    harness().args(args).output().expect("the binary runs")
}

/// `dispatch --json` on `store`, run to its end.
fn dispatch(store: &str, automations: &str) -> Output {
    cli(&[
        "dispatch",
        "--automations",
        automations,
        "--store",
        store,
        "--json",
    ])
}

/// What `dispatch --json` did on `store`.
fn dispatch_json(store: &str, automations: &str) -> Value {
    stdout_json(&dispatch(store, automations))
}

/// Writes `{"automations": automations}` to a file in `dir`.
fn automations_file(dir: &Path, automations: Value) -> String {
    let path = dir.join("automations.json");
    std::fs::write(&path, json!({ "automations": automations }).to_string()).unwrap();
    path.to_str().unwrap().to_owned()
}

/// Announce every new window, then mark the notification sent: two steps,
/// two plugins, and no dedupe key, so a step committed twice would show
/// as a second notification.
fn announce() -> Value {
    json!([{
        "id": "announce",
        "trigger": "maintenance.created",
        "steps": [
            {"id": "send", "action": "notifications.send", "config": {
                "channel": "#ops", "subject": "{{trigger.payload.maintenanceId}}"
            }},
            {"id": "deliver", "action": "notifications.mark_sent", "config": {
                "notificationId": "{{steps.send.externalId}}"
            }}
        ]
    }])
}

#[test]
fn run_with_automations_dispatches_and_runs_lists_what_it_did() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store.sqlite3");
    let store = store.to_str().unwrap();
    let automations = workspace().join("automations/ops.json");
    let output = cli(&[
        "run",
        "set_system",
        "--config",
        r#"{"systemId":"db-1","durationMinutes":30}"#,
        "--actor",
        "user:u-1:Ann",
        "--automations",
        automations.to_str().unwrap(),
        "--store",
        store,
        "--json",
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let outcome = stdout_json(&output);
    let runs = outcome["automationRuns"].as_array().unwrap();
    assert_eq!(runs.len(), 1, "{runs:#?}");
    assert_eq!(runs[0]["automation"], "announce");
    assert_eq!(runs[0]["status"], "succeeded");
    let history = stdout_json(&cli(&["history", "--store", store, "--json"]));
    assert_eq!(runs[0]["eventId"], history["events"][0]["eventId"]);
    assert_eq!(
        runs[0]["steps"][0]["artifact"]["subject"],
        format!(
            "Maintenance on db-1 until {}",
            outcome["artifact"]["endAt"].as_str().unwrap()
        )
    );
    assert_eq!(runs[0]["steps"][1]["ok"], true);

    // `runs` reads them back from the store, newest first, filtered.
    let listed = stdout_json(&cli(&["runs", "--store", store, "--json"]));
    assert_eq!(listed["automationRuns"], json!(runs));
    let none = stdout_json(&cli(&[
        "runs", "--store", store, "--status", "failed", "--json",
    ]));
    assert_eq!(none["automationRuns"], json!([]));
    let by_id = stdout_json(&cli(&[
        "runs",
        "--store",
        store,
        "--automation",
        "announce",
        "--json",
    ]));
    assert_eq!(by_id["automationRuns"].as_array().unwrap().len(), 1);
    let text = cli(&["runs", "--store", store]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("automation announce"), "{text}");
    assert!(
        text.contains("step deliver  notifications.mark_sent"),
        "{text}"
    );
}

#[test]
fn bad_automation_files_exit_2_with_one_line_and_touch_no_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store.sqlite3");
    let store = store.to_str().unwrap();
    let unknown_step = automations_file(
        dir.path(),
        json!([{"id": "a", "trigger": "maintenance.created",
                "steps": [{"id": "s", "action": "notifications.send",
                           "config": {"channel": "{{steps.later.externalId}}"}}]}]),
    );
    let not_json = dir.path().join("broken.json");
    std::fs::write(&not_json, "{").unwrap();
    let not_json = not_json.to_str().unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["dispatch", "--automations", &unknown_step, "--store", store],
            r#"automation "a": steps[0].config: template {{steps.later.externalId}}: no step has the id "later""#,
        ),
        (
            vec!["serve", "--automations", &unknown_step, "--store", store],
            r#"automation "a": steps[0].config"#,
        ),
        (
            vec![
                "run",
                "set_system",
                "--config",
                r#"{"systemId":"db-1","durationMinutes":30}"#,
                "--automations",
                not_json,
                "--store",
                store,
            ],
            "broken.json: not JSON",
        ),
        (
            vec![
                "tick",
                "--automations",
                "/no/such/file.json",
                "--store",
                store,
            ],
            "/no/such/file.json: cannot read it",
        ),
    ];
    for (args, expected) in cases {
        let output = cli(&args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
    }
    assert!(!Path::new(store).exists(), "no store was created");

    let scenario = dir.path().join("scenario.json");
    std::fs::write(
        &scenario,
        json!({"name": "bad", "automations": [{"id": "a", "trigger": "nope.x",
               "steps": [{"id": "s", "action": "maintenance.create"}]}], "steps": []})
        .to_string(),
    )
    .unwrap();
    let output = cli(&["scenario", scenario.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(r#"automation "a": trigger: unknown trigger "nope.x""#),
        "{stderr}"
    );
}

/// Feeds `count` set_system runs through `batch --automations`, which
/// records their automation runs and runs none.
fn feed(store: &str, automations: &str, first: usize, count: usize) {
    let lines = (first..first + count)
        .map(|n| json!({"run": "set_system", "config": {"systemId": format!("sys-{n}"), "durationMinutes": 30}}))
        .collect();
    let args = ["batch", "--automations", automations, "--store", store];
    finish(support::batch(&args, lines, Stdio::piped()));
}

fn serve(store: &str, automations: &str) -> Child {
    harness()
        .args(["serve", "--automations", automations, "--store", store])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("serve starts")
}

/// Waits for serve's first line, which it prints once it is serving.
fn wait_until_serving(child: &mut Child) -> BufReader<std::process::ChildStdout> {
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut banner = String::new();
    out.read_line(&mut banner).unwrap();
    assert!(banner.starts_with("serving 1 automation(s)"), "{banner}");
    out
}

#[test]
fn dispatch_drains_what_batch_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store.sqlite3");
    let store = store.to_str().unwrap();
    let automations = automations_file(dir.path(), announce());
    feed(store, &automations, 0, 3);
    let pending = stdout_json(&cli(&["runs", "--store", store, "--json"]));
    let statuses: Vec<&Value> = pending["automationRuns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|run| &run["status"])
        .collect();
    assert_eq!(statuses, [&json!("pending"); 3]);
    let dispatched = dispatch(store, &automations);
    assert!(dispatched.status.success());
    let dispatched = stdout_json(&dispatched);
    assert_eq!(dispatched["ok"], true);
    let runs = dispatched["automationRuns"].as_array().unwrap();
    assert_eq!(runs.len(), 3);
    assert!(runs.iter().all(|run| run["status"] == "succeeded"));
    // Nothing is left.
    let again = dispatch_json(store, &automations);
    assert_eq!(again["automationRuns"], json!([]));
}

#[test]
fn serve_stops_on_sigterm_or_sigint_after_the_run_in_progress_and_exits_0() {
    for signal in [libc::SIGTERM, libc::SIGINT] {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("store.sqlite3");
        let store = store.to_str().unwrap();
        let automations = automations_file(dir.path(), announce());
        let windows = 150;
        feed(store, &automations, 0, windows);
        let mut child = serve(store, &automations);
        let mut out = wait_until_serving(&mut child);
        // Stop it while it works through the backlog.
        let mut line = String::new();
        while !line.starts_with("automation announce") {
            line.clear();
            assert!(out.read_line(&mut line).unwrap() > 0, "serve ended early");
        }
        let sent = Instant::now();
        // SAFETY: sends a signal to our own child process.
        unsafe {
            libc::kill(child.id() as i32, signal);
        }
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
        let status = child.wait().unwrap();
        let stopped_in = sent.elapsed();
        assert_eq!(status.code(), Some(0), "signal {signal}: {rest}");
        assert!(rest.trim_end().ends_with("stopped"), "{rest}");
        // Within one run (the default deadline is a second), not after the
        // backlog.
        assert!(stopped_in < Duration::from_secs(3), "{stopped_in:?}");
        let left = stdout_json(&cli(&[
            "runs", "--store", store, "--status", "pending", "--json",
        ]));
        assert!(
            !left["automationRuns"].as_array().unwrap().is_empty(),
            "serve stopped before the end of the backlog"
        );
        // What it did is committed and whole; a dispatch finishes the rest.
        let finished = dispatch_json(store, &automations);
        assert_eq!(finished["ok"], true);
        check_each_event_ran_once(store, windows);
    }
}

/// `run set_system --automations`, aborted right before the `n`th commit
/// to the store.
fn park_crashing_before_commit(n: u32, automations: &str, store: &str) -> Output {
    harness()
        .env("AUTOMATION_HARNESS_CRASH_AT", format!("before-commit:{n}"))
        .args([
            "run",
            "set_system",
            "--config",
            r#"{"systemId":"db-1","durationMinutes":30}"#,
            "--automations",
            automations,
            "--store",
            store,
        ])
        .output()
        .unwrap()
}

#[test]
fn the_automation_runs_an_event_starts_commit_with_the_run_that_fired_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store.sqlite3");
    let store = store.to_str().unwrap();
    let automations = automations_file(dir.path(), announce());
    // Abort right before the second commit: the run's own commit went
    // through, the first step's did not. The event's automation run must
    // be there, pending, from the run's commit alone.
    let output = park_crashing_before_commit(2, &automations, store);
    assert!(!output.status.success(), "the crash happened");
    let history = stdout_json(&cli(&["history", "--store", store, "--json"]));
    let events = history["events"].as_array().unwrap();
    assert_eq!(events.len(), 1, "the run committed; no step did");
    let runs = stdout_json(&cli(&["runs", "--store", store, "--json"]));
    let runs = runs["automationRuns"].as_array().unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["eventId"], events[0]["eventId"]);
    assert_eq!(runs[0]["status"], "pending");
    // And one before the run's own commit leaves neither.
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store.sqlite3");
    let store = store.to_str().unwrap();
    let output = park_crashing_before_commit(1, &automations, store);
    assert!(!output.status.success());
    let history = stdout_json(&cli(&["history", "--store", store, "--json"]));
    assert_eq!(history["events"], json!([]));
    let runs = stdout_json(&cli(&["runs", "--store", store, "--json"]));
    assert_eq!(runs["automationRuns"], json!([]));
}

/// Every `maintenance.created` event of the store has exactly one
/// automation run, succeeded, and exactly one notification queued and
/// sent for it.
fn check_each_event_ran_once(store: &str, windows: usize) {
    let history = stdout_json(&cli(&["history", "--store", store, "--json"]));
    let events = history["events"].as_array().unwrap();
    let created: Vec<&Value> = events
        .iter()
        .filter(|event| event["trigger"] == "maintenance.created")
        .collect();
    assert_eq!(created.len(), windows);
    let runs = stdout_json(&cli(&["runs", "--store", store, "--json"]));
    let runs = runs["automationRuns"].as_array().unwrap();
    assert_eq!(runs.len(), windows, "one automation run per event");
    for event in &created {
        let window = event["payload"]["maintenanceId"].as_str().unwrap();
        let of_event: Vec<&Value> = runs
            .iter()
            .filter(|run| run["eventId"] == event["eventId"])
            .collect();
        assert_eq!(of_event.len(), 1, "{window}");
        assert_eq!(of_event[0]["status"], "succeeded", "{:#}", of_event[0]);
        let queued = events
            .iter()
            .filter(|e| e["trigger"] == "notifications.queued" && e["payload"]["subject"] == window)
            .count();
        assert_eq!(queued, 1, "one notification for {window}");
        let notification = of_event[0]["steps"][0]["externalId"].clone();
        let sent = events
            .iter()
            .filter(|e| {
                e["trigger"] == "notifications.sent"
                    && e["payload"]["notificationId"] == notification
            })
            .count();
        assert_eq!(sent, 1, "the notification for {window} sent once");
    }
}

/// Runs `test` on a SQLite file and on a schema of the PostgreSQL test
/// database (when there is one: see `postgres_schema`), with a folder for
/// its files.
fn on_both_stores(test: fn(&str, &Path)) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("store.sqlite3");
    test(file.to_str().unwrap(), dir.path());
    if let Some(schema) = postgres_schema::Schema::create() {
        let dir = tempfile::tempdir().unwrap();
        test(&schema.url, dir.path());
    }
}

#[test]
fn serve_killed_at_any_point_of_a_stream_loses_nothing_and_repeats_nothing() {
    on_both_stores(serve_killed_at_any_point);
}

fn serve_killed_at_any_point(store: &str, dir: &Path) {
    let automations = automations_file(dir, announce());
    let rounds = 6;
    let per_round = 15;
    let mut left_unfinished = 0;
    for round in 0..rounds {
        // Events keep arriving while serve works, and serve is killed
        // after a different number of committed steps each round.
        let mut child = serve(store, &automations);
        let mut out = wait_until_serving(&mut child);
        let feeding = {
            let (store, automations) = (store.to_owned(), automations.clone());
            std::thread::spawn(move || feed(&store, &automations, round * per_round, per_round))
        };
        let mut steps_seen = 0;
        let mut line = String::new();
        while steps_seen <= round {
            line.clear();
            if out.read_line(&mut line).unwrap() == 0 {
                break;
            }
            if line.starts_with("automation ") {
                steps_seen += 1;
            }
        }
        child.kill().unwrap();
        child.wait().unwrap();
        feeding.join().unwrap();
        let runs = stdout_json(&cli(&["runs", "--store", store, "--json"]));
        left_unfinished += runs["automationRuns"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|run| run["status"] != "succeeded")
            .count();
    }
    assert!(left_unfinished > 0, "the kills interrupted the stream");
    // And killed right before a step commits: the step is rolled back and
    // runs again, once.
    for n in [1, 2, 5] {
        feed(store, &automations, 1000 + n, 1);
        let output = harness()
            .env("AUTOMATION_HARNESS_CRASH_AT", format!("before-commit:{n}"))
            .args(["dispatch", "--automations", &automations, "--store", store])
            .output()
            .unwrap();
        assert!(!output.status.success(), "the crash happened");
    }
    let finished = dispatch(store, &automations);
    assert_eq!(stdout_json(&finished)["ok"], true);
    check_each_event_ran_once(store, rounds * per_round + 3);
}

#[test]
fn dispatchers_in_several_processes_run_each_step_once() {
    on_both_stores(dispatchers_in_several_processes);
}

fn dispatchers_in_several_processes(store: &str, dir: &Path) {
    let automations = automations_file(dir, announce());
    let windows = 60;
    feed(store, &automations, 0, windows);
    let dispatchers: Vec<Child> = (0..3)
        .map(|_| {
            harness()
                .args([
                    "dispatch",
                    "--automations",
                    &automations,
                    "--store",
                    store,
                    "--json",
                ])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("dispatch starts")
        })
        .collect();
    let mut moved = 0;
    for dispatcher in dispatchers {
        let output = dispatcher.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        moved += stdout_json(&output)["automationRuns"]
            .as_array()
            .unwrap()
            .len();
    }
    // Each run was moved by one dispatcher or, when they took turns at
    // its two steps, by two.
    assert!(moved >= windows, "{moved}");
    let left = dispatch(store, &automations);
    assert_eq!(
        stdout_json(&left)["automationRuns"],
        json!([]),
        "nothing left"
    );
    check_each_event_ran_once(store, windows);
}

/// The probe test plugin, built like every component (a no-op when the
/// integration tests' build already built it).
fn probe_wasm() -> &'static Path {
    static PATH: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    PATH.get_or_init(|| {
        plugin_build::build_component("probe-plugin", &[], "tests/probe-plugin")
            .expect("the probe plugin builds")
    })
}

#[test]
fn runs_of_one_key_keep_event_order_across_dispatch_processes() {
    on_both_stores(key_order_across_processes);
}

fn key_order_across_processes(store: &str, dir: &Path) {
    // Two steps per run: runs of one key that overlapped would interleave
    // their "a" and "b" entries.
    let automations = automations_file(
        dir,
        json!([{
            "id": "collect",
            "trigger": "probe.recorded",
            "when": "payload.key.startsWith('k')",
            "steps": [
                {"id": "a", "action": "probe.append",
                 "config": {"key": "list-{{trigger.contextKey}}", "value": "{{trigger.payload.value}}a"}},
                {"id": "b", "action": "probe.append",
                 "config": {"key": "list-{{trigger.contextKey}}", "value": "{{trigger.payload.value}}b"}}
            ]
        }]),
    );
    let probe = probe_wasm().to_str().unwrap();
    let (keys, per_key) = (["k0", "k1", "k2"], 8);
    let lines = (0..per_key)
        .flat_map(|round| {
            keys.map(|key| {
                json!({"run": "probe.record", "config": {"key": key, "value": format!("{round:02}")}})
            })
        })
        .collect();
    let args = [
        "--plugin",
        probe,
        "batch",
        "--automations",
        &automations,
        "--store",
        store,
    ];
    finish(support::batch(&args, lines, Stdio::piped()));
    let dispatchers: Vec<Child> = (0..3)
        .map(|_| {
            harness()
                .args(["--plugin", probe, "dispatch", "--automations", &automations])
                .args(["--store", store])
                .stdout(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut dispatcher in dispatchers {
        assert!(dispatcher.wait().unwrap().success());
    }
    let runs = stdout_json(&cli(&["runs", "--store", store, "--json"]));
    let runs = runs["automationRuns"].as_array().unwrap();
    assert_eq!(runs.len(), keys.len() * per_key);
    assert!(
        runs.iter().all(|run| run["status"] == "succeeded"),
        "{runs:#?}"
    );
    let expected: Vec<String> = (0..per_key)
        .flat_map(|round| [format!("{round:02}a"), format!("{round:02}b")])
        .collect();
    for key in keys {
        // Newest first: the first run of the key is its last.
        let last = runs.iter().find(|run| run["contextKey"] == key).unwrap();
        assert_eq!(
            last["steps"][1]["artifact"]["list"],
            json!(expected),
            "the list of {key}: every step once, runs in event order, never overlapping"
        );
    }
}
