//! What each store costs: runs a second with 1, 2 and 4 `batch`
//! processes on one PostgreSQL database against one process on a SQLite
//! file (the same mixed workload, the five maintenance actions in turn),
//! and the latency of one run on each store, in process.
//!
//! `AUTOMATION_HARNESS_TEST_POSTGRES=$(scripts/postgres.sh start | tail -1) \
//!  cargo bench -p automation-harness --bench stores`

#[path = "../../tests/src/postgres_schema.rs"]
mod postgres_schema;
#[path = "../tests/support/cli.rs"]
#[allow(dead_code)]
mod support;

use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use automation_harness::{
    Backend, Harness, MemoryBackend, Plugin, PostgresBackend, RunRequest, SqliteBackend,
};
use serde_json::{Value, json};

struct Sizes {
    runs_per_process: usize,
    latency_samples: usize,
}

const FULL: Sizes = Sizes {
    runs_per_process: 500,
    latency_samples: 300,
};

const SMOKE: Sizes = Sizes {
    runs_per_process: 5,
    latency_samples: 3,
};

/// The `n`th line of process `process`'s mixed workload on `window`.
fn line(process: usize, n: usize, window: &str) -> Value {
    let system = format!("sys-{process}-{}", n % 10);
    match n % 5 {
        0 => json!({"run": "set_system", "config": {"systemId": system, "durationMinutes": 30}}),
        1 => {
            json!({"run": "clear_system", "config": {"systemId": format!("sys-{process}-{}", (n - 1) % 10)}})
        }
        2 => {
            json!({"run": "add_update", "config": {"maintenanceId": window, "message": format!("p{process} n{n}")}})
        }
        3 => {
            json!({"run": "update", "config": {"maintenanceId": window, "title": format!("p{process} n{n}")}})
        }
        _ => json!({"run": "create", "config": {"title": "w", "systemIds": [system],
            "startAt": "2026-03-01T10:00:00Z", "endAt": "2026-03-01T12:00:00Z"}}),
    }
}

/// `batch` on `store`, its outcomes thrown away (read, they would make the
/// processes wait for the bench in turn).
fn spawn_batch(store: &str, lines: Vec<Value>) -> Child {
    support::batch(&["batch", "--store", store], lines, Stdio::null())
}

/// Wall time of `processes` batches of `runs` each on `store`, started at
/// once, less one process's start-up (a batch of nothing).
fn timed(store: &str, window: &str, processes: usize, runs: usize) -> Duration {
    let startup = {
        let started = Instant::now();
        assert!(spawn_batch(store, Vec::new()).wait().unwrap().success());
        started.elapsed()
    };
    let started = Instant::now();
    let children: Vec<Child> = (0..processes)
        .map(|process| spawn_batch(store, (0..runs).map(|n| line(process, n, window)).collect()))
        .collect();
    for mut child in children {
        assert!(child.wait().unwrap().success(), "a batch failed");
    }
    started.elapsed().saturating_sub(startup)
}

fn window_on(backend: Arc<dyn Backend>, plugin: &Plugin) -> (Harness, String) {
    let harness = Harness::builder()
        .backend(backend)
        .with_plugin(plugin.clone());
    let outcome = harness
        .run(RunRequest::new(
            "create",
            json!({"title": "shared", "systemIds": ["db-1"],
                   "startAt": "2026-03-01T10:00:00Z", "endAt": "2026-03-01T12:00:00Z"}),
        ))
        .expect("create runs");
    let window = outcome.result.unwrap().external_id.unwrap();
    (harness, window)
}

/// Median latency of an `add_update` run on `harness`'s store.
fn latency(harness: &Harness, window: &str, samples: usize) -> Duration {
    let mut times: Vec<Duration> = (0..samples)
        .map(|n| {
            let started = Instant::now();
            let outcome = harness
                .run(RunRequest::new(
                    "add_update",
                    json!({"maintenanceId": window, "message": format!("m{n}")}),
                ))
                .expect("add_update runs");
            assert!(outcome.is_ok());
            started.elapsed()
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}

fn main() {
    let sizes = if std::env::args().any(|arg| arg == "--bench") {
        FULL
    } else {
        SMOKE
    };
    if postgres_schema::url().is_none() {
        return;
    }
    // Fills the CLI's compiled-plugin cache now, before anything is timed.
    support::harness();
    let engine = automation_harness::default_engine().expect("an engine");
    let plugin = Plugin::load(
        &engine,
        Path::new(env!("AUTOMATION_HARNESS_DEFAULT_PLUGIN")),
    )
    .expect("the plugin loads");
    let runs = sizes.runs_per_process;

    let dir = tempfile::tempdir().expect("a temporary directory");
    let file = dir.path().join("store.sqlite3");
    let sqlite: Arc<dyn Backend> = Arc::new(SqliteBackend::open(&file).unwrap());
    let (sqlite_harness, sqlite_window) = window_on(sqlite, &plugin);
    let file = file.to_str().unwrap().to_owned();

    println!(
        "Runs a second, mixed workload ({runs} runs per `batch` process, fresh instances, start-up \
         subtracted)"
    );
    let took = timed(&file, &sqlite_window, 1, runs);
    let sqlite_rate = runs as f64 / took.as_secs_f64();
    println!("  SQLite, 1 process:        {sqlite_rate:>7.0} runs/s");
    let mut schemas = Vec::new();
    for processes in [1, 2, 4] {
        let schema = postgres_schema::Schema::create().expect("a schema");
        let (_, window) = window_on(
            Arc::new(PostgresBackend::open(&schema.url).unwrap()),
            &plugin,
        );
        let took = timed(&schema.url, &window, processes, runs);
        let rate = (processes * runs) as f64 / took.as_secs_f64();
        println!(
            "  PostgreSQL, {processes} process(es): {rate:>7.0} runs/s  ({:.2}x SQLite)",
            rate / sqlite_rate
        );
        schemas.push(schema);
    }

    println!(
        "\nOne run's latency, add_update, in process (median of {})",
        sizes.latency_samples
    );
    let (memory_harness, memory_window) = window_on(Arc::new(MemoryBackend::new()), &plugin);
    let schema = postgres_schema::Schema::create().expect("a schema");
    let (postgres_harness, postgres_window) = window_on(
        Arc::new(PostgresBackend::open(&schema.url).unwrap()),
        &plugin,
    );
    for (name, harness, window) in [
        ("memory", &memory_harness, &memory_window),
        ("SQLite", &sqlite_harness, &sqlite_window),
        ("PostgreSQL", &postgres_harness, &postgres_window),
    ] {
        let median = latency(harness, window, sizes.latency_samples);
        println!("  {name:<11} {:>8.0} µs", median.as_secs_f64() * 1e6);
    }
}
