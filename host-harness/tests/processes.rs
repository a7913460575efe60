//! Several host processes on one SQLite store: a plugin that sleeps holds
//! nobody for longer than its deadline, and a job runs once per due
//! instant whichever processes tick. Also the same claim between threads,
//! each with its own `SqliteBackend::open` of the file.

#[path = "support/cli.rs"]
#[allow(dead_code)]
mod support;

#[path = "../../build-support/plugin_build.rs"]
#[allow(dead_code)]
mod plugin_build;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Barrier, OnceLock};
use std::time::{Duration, Instant};

use automation_harness::{Backend, Harness, Plugin, RunRequest, SqliteBackend};
use serde_json::{Value, json};

const NOW: &str = "2026-03-01T10:00:30Z";

/// The hostile test plugin, built like every component (a no-op when the
/// integration tests' build already built it).
fn hostile_wasm() -> &'static Path {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        plugin_build::build_component("hostile-plugin", &[], "tests/hostile-plugin")
            .expect("the hostile plugin builds")
    })
}

fn maintenance_wasm() -> &'static Path {
    Path::new(env!("AUTOMATION_HARNESS_DEFAULT_PLUGIN"))
}

/// The CLI with a compiled-plugin cache of the tests' own, filled before
/// any timing so that no process compiles while timed.
fn harness() -> Command {
    static CACHE: OnceLock<tempfile::TempDir> = OnceLock::new();
    let cache = CACHE.get_or_init(|| {
        let cache = tempfile::tempdir().expect("a temporary directory");
        // Every plugin a process here loads, so none compiles during a
        // timed run: a process compiling beside another takes the CPU its
        // timer needs.
        let plugins = [
            hostile_wasm(),
            maintenance_wasm(),
            Path::new(env!("AUTOMATION_HARNESS_NOTIFICATIONS_PLUGIN")),
        ];
        for plugin in plugins {
            let output = support::binary()
                .env("AUTOMATION_HARNESS_CACHE", cache.path())
                .args(["describe", "--plugin"])
                .arg(plugin)
                .output()
                .expect("the binary runs");
            assert!(output.status.success(), "describe {}", plugin.display());
        }
        cache
    });
    let mut command = support::binary();
    command
        .env("AUTOMATION_HARNESS_CACHE", cache.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

fn json_of(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
        panic!(
            "stdout is not JSON ({error}): {} / stderr: {}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

/// The tests here take turns: the timed one must not share the CPU with
/// another test's processes, or with a component compiling in this one
/// (`due_windows` compiles the maintenance plugin in-process).
fn alone() -> std::sync::MutexGuard<'static, ()> {
    static TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());
    TURN.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// `automation-harness run <action> --config {} --json` of the hostile
/// plugin on `store`.
fn hostile_run(action: &str, store: &Path) -> Command {
    let mut command = harness();
    command
        .args(["run", action, "--config", "{}", "--json", "--plugin"])
        .arg(hostile_wasm())
        .arg("--store")
        .arg(store);
    command
}

/// How long a process takes to run a quick action of the hostile plugin
/// on `store`: what a process costs besides its run.
fn process_overhead(store: &Path) -> Duration {
    let started = Instant::now();
    let output = hostile_run("well_behaved", store).output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    started.elapsed()
}

#[test]
fn a_sleeping_plugin_is_stopped_at_its_deadline_and_holds_no_other_process() {
    let _alone = alone();
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store.sqlite3");
    harness(); // fills the cache, untimed
    let overhead = process_overhead(&dir.path().join("other.sqlite3"));
    let started = Instant::now();
    let sleeper = hostile_run("sleep_forever", &store).spawn().unwrap();
    // Give the sleeper time to take the store's write lock.
    std::thread::sleep(Duration::from_millis(200));
    let writer_started = Instant::now();
    let writer = harness()
        .args([
            "run",
            "set_system",
            "--plugin",
            "maintenance",
            "--config",
            r#"{"systemId":"db-1","durationMinutes":30}"#,
            "--json",
            "--now",
            NOW,
        ])
        .arg("--store")
        .arg(&store)
        .output()
        .unwrap();
    let writer_took = writer_started.elapsed();
    let sleeper = sleeper.wait_with_output().unwrap();
    let sleeper_took = started.elapsed();
    let report = json_of(&sleeper);
    let run_took = Duration::from_secs_f64(report["wallTimeMs"].as_f64().unwrap_or(f64::MAX) / 1e3);
    println!(
        "sleep_forever process ended after {sleeper_took:?} (its run: {run_took:?}; a quick \
         run's process: {overhead:?}); the other writer took {writer_took:?}"
    );

    // The run ends within 50 ms of its 1 s deadline, and the process
    // within that plus what any process of it costs (about 10 ms on an
    // idle machine).
    let deadline = Duration::from_millis(1050);
    assert!(run_took <= deadline, "the sleeping run took {run_took:?}");
    assert!(
        sleeper_took <= deadline + overhead,
        "the sleeping process took {sleeper_took:?}"
    );
    assert_eq!(report["ok"], json!(false), "{report}");
    assert_eq!(report["error"]["kind"], json!("host"), "{report}");
    assert_eq!(sleeper.status.code(), Some(1), "a failed run exits 1");
    let message = report["error"]["message"].as_str().unwrap_or_default();
    for part in [
        "hostile@0.1.0",
        "sleep_forever",
        "deadline of 1000 ms exceeded",
    ] {
        assert!(message.contains(part), "{part:?} missing from {message}");
    }
    assert!(
        writer.status.success(),
        "{}",
        String::from_utf8_lossy(&writer.stderr)
    );
    assert_eq!(json_of(&writer)["ok"], json!(true));
    // The writer started 200 ms in and waited for the lock: it is done,
    // counted from the sleeper's start, within the same bound.
    let writer_done = writer_started - started + writer_took;
    assert!(
        writer_done <= deadline + overhead,
        "the other writer was done {writer_done:?} after the sleeper started \
         (it waited {writer_took:?})"
    );

    // Nothing of the sleeper's run reached the store.
    let backend = SqliteBackend::open(&store).unwrap();
    let snapshot = backend.snapshot().unwrap();
    assert!(
        snapshot
            .spaces
            .keys()
            .all(|space| !space.contains("hostile")),
        "{:?}",
        snapshot.spaces.keys()
    );
    assert_eq!(snapshot.changes.len(), 1, "only set_system's change");
}

/// Runs `tick` on `store` from `count` processes started together.
fn tick_from_processes(store: &Path, count: usize) -> Vec<Value> {
    harness(); // fills the cache, untimed
    let children: Vec<_> = (0..count)
        .map(|_| {
            harness()
                .args(["tick", "--json", "--now", NOW])
                .arg("--store")
                .arg(store)
                .spawn()
                .unwrap()
        })
        .collect();
    children
        .into_iter()
        .map(|child| {
            let output = child.wait_with_output().unwrap();
            assert!(
                output.status.success(),
                "{}",
                String::from_utf8_lossy(&output.stderr)
            );
            json_of(&output)
        })
        .collect()
}

/// The maintenance plugin's windows in `store`, created to be due.
fn due_windows(backend: Arc<dyn Backend>, count: usize) -> Harness {
    let harness = Harness::builder()
        .backend(backend)
        .fixed_clock(NOW.parse().unwrap())
        .with_plugin(
            Plugin::load(
                &automation_harness::default_engine().unwrap(),
                maintenance_wasm(),
            )
            .unwrap(),
        );
    for n in 0..count {
        let outcome = harness
            .run(RunRequest::new(
                "create",
                json!({"title": "due", "systemIds": [format!("db-{n}")],
                       "startAt": "2026-03-01T09:00:00Z", "endAt": "2026-03-01T12:00:00Z"}),
            ))
            .unwrap();
        assert!(outcome.is_ok(), "{:?}", outcome.result);
    }
    harness
}

/// How many times the job ran on `backend`: its changes, each move of a
/// window to in_progress, by the plugin's service actor.
fn job_changes(backend: &dyn Backend) -> usize {
    backend
        .changes()
        .unwrap()
        .iter()
        .filter(|change| change.actor.id == "maintenance")
        .count()
}

#[test]
fn two_tick_processes_run_a_due_job_once() {
    let _alone = alone();
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store.sqlite3");
    let backend: Arc<dyn Backend> = Arc::new(SqliteBackend::open(&store).unwrap());
    due_windows(Arc::clone(&backend), 3);

    let reports = tick_from_processes(&store, 2);

    let runs: usize = reports
        .iter()
        .map(|report| report["runs"].as_array().map_or(0, Vec::len))
        .sum();
    assert_eq!(runs, 1, "exactly one process ran the job: {reports:?}");
    assert_eq!(job_changes(&*backend), 3, "one set of changes");
    assert_eq!(backend.events().unwrap().len(), 3 + 3);
}

#[test]
fn two_threads_with_their_own_connections_run_a_due_job_once() {
    let _alone = alone();
    for round in 0..5 {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("store.sqlite3");
        let setup: Arc<dyn Backend> = Arc::new(SqliteBackend::open(&store).unwrap());
        due_windows(Arc::clone(&setup), 2);
        let barrier = Arc::new(Barrier::new(2));
        let ran: usize = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..2)
                .map(|_| {
                    let barrier = Arc::clone(&barrier);
                    let store = store.clone();
                    scope.spawn(move || {
                        let backend: Arc<dyn Backend> =
                            Arc::new(SqliteBackend::open(&store).unwrap());
                        let harness = due_windows(backend, 0);
                        barrier.wait();
                        harness.tick().unwrap().len()
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|handle| handle.join().unwrap())
                .sum()
        });
        assert_eq!(ran, 1, "round {round}: one thread ran the job");
        assert_eq!(job_changes(&*setup), 2, "round {round}: one set of changes");
    }
}
