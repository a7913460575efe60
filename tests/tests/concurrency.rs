//! Many runs at once: threads, each with its own harness and instances,
//! share one SQLite store. No update is lost, every committed entity write
//! has exactly one change, and events match changes; with a deadline
//! shorter than the wait for the write lock, no run is stopped, since a
//! run's time starts once it holds the lock; and reused instances do the
//! same.

use std::sync::{Arc, Barrier, PoisonError, RwLock};
use std::thread;
use std::time::{Duration, Instant};

use automation_harness::{
    Backend, Harness, InstanceMode, Limits, RunOutcome, RunRequest, SqliteBackend,
};
use integration_tests::*;
use serde_json::json;

/// The tests of this file share two cores: most run side by side, the
/// one whose deadline is short runs alone, so that only the write lock
/// keeps its runs waiting.
static MACHINE: RwLock<()> = RwLock::new(());

/// How the threads run their harnesses.
struct Load {
    threads: usize,
    runs_per_thread: usize,
    limits: Limits,
    mode: InstanceMode,
}

impl Default for Load {
    fn default() -> Self {
        Self {
            threads: 4,
            runs_per_thread: 500,
            limits: Limits::default(),
            mode: InstanceMode::Fresh,
        }
    }
}

/// Runs `load` on one SQLite store and checks what it left: every run
/// succeeded, every `add_update` entry is there, one change per committed
/// entity write, one event per change, and an unbroken change chain for
/// every window.
/// Returns how many runs took longer than the deadline from request to
/// commit, waiting for the lock included.
fn hammer(load: Load) -> usize {
    let short_deadline = load.limits.deadline < Limits::default().deadline;
    let _machine = if short_deadline {
        (
            None,
            Some(MACHINE.write().unwrap_or_else(PoisonError::into_inner)),
        )
    } else {
        (
            Some(MACHINE.read().unwrap_or_else(PoisonError::into_inner)),
            None,
        )
    };
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let backend: Arc<dyn Backend> =
        Arc::new(SqliteBackend::open(&dir.path().join("store.sqlite3")).unwrap());
    let setup = Harness::builder()
        .backend(Arc::clone(&backend))
        .with_plugin(plugin());
    let shared = external_id(&run_ok(&setup, "create", create_config(&["shared"])));

    // The threads start together, so they queue for the lock from the start.
    let start = Arc::new(Barrier::new(load.threads));
    let workers: Vec<_> = (0..load.threads)
        .map(|worker| {
            let backend = Arc::clone(&backend);
            let shared = shared.clone();
            let start = Arc::clone(&start);
            let (runs, limits, mode) = (load.runs_per_thread, load.limits, load.mode);
            thread::spawn(move || {
                let harness = Harness::builder()
                    .backend(backend)
                    .limits(limits)
                    .instance_mode(mode)
                    .with_plugin(plugin());
                let mut outcomes: Vec<(String, RunOutcome)> = Vec::new();
                start.wait();
                for n in 0..runs {
                    let system = format!("w{worker}-s{}", n % 7);
                    let (action, config) = match n % 4 {
                        0 | 1 => (
                            "add_update",
                            json!({"maintenanceId": shared, "message": format!("w{worker} n{n}"),
                                   "statusChange": if n % 8 == 0 { "in_progress" } else { "scheduled" }}),
                        ),
                        2 => ("set_system", json!({"systemId": system, "durationMinutes": 10})),
                        _ => ("clear_system", json!({"systemId": system})),
                    };
                    let outcome = harness
                        .run(RunRequest::new(action, config))
                        .unwrap_or_else(|error| panic!("{action}: {error:#}"));
                    assert!(outcome.is_ok(), "{action}: {:?}", outcome.result);
                    outcomes.push((action.to_owned(), outcome));
                }
                outcomes
            })
        })
        .collect();
    let outcomes: Vec<(String, RunOutcome)> = workers
        .into_iter()
        .flat_map(|worker| worker.join().expect("no worker panicked"))
        .collect();
    assert_eq!(outcomes.len(), load.threads * load.runs_per_thread);

    // Every add_update's entry is there: none was lost to a race.
    let add_updates = outcomes
        .iter()
        .filter(|(action, _)| action == "add_update")
        .count();
    let snapshot = backend.snapshot().unwrap();
    let entries = snapshot.spaces["plugin/maintenance"]
        .keys()
        .filter(|key| key.starts_with(&format!("update/{shared}/")))
        .count();
    assert_eq!(entries, add_updates);

    // One change per committed entity write, events match changes.
    let changes = backend.changes().unwrap();
    let events = backend.events().unwrap();
    let reported: usize = outcomes
        .iter()
        .map(|(_, outcome)| outcome.changes.len())
        .sum();
    assert_eq!(changes.len(), reported + 1, "plus the setup's creation");
    assert_eq!(events.len(), changes.len());
    for (change, event) in changes.iter().zip(&events) {
        assert_eq!(event.change_id, change.change_id);
    }
    // The shared window's changes form one unbroken chain: each write saw
    // the state the previous one left.
    let chain: Vec<_> = changes.iter().filter(|c| c.entity_id == shared).collect();
    assert!(chain.len() > load.threads, "the shared window was written");
    for pair in chain.windows(2) {
        assert_eq!(pair[1].prev, pair[0].next);
    }
    // And so do every other window's.
    check_logs(&changes, &events).unwrap();
    let late = outcomes
        .iter()
        .filter(|(_, outcome)| outcome.wall_time > load.limits.deadline)
        .count();
    let longest = outcomes
        .iter()
        .map(|(_, outcome)| outcome.wall_time)
        .max()
        .unwrap_or_default();
    println!(
        "{} concurrent runs on {} threads ({:?}, deadline {} ms): {add_updates} add_updates all kept, \
         {} changes, {} events; {late} runs longer than the deadline, the longest {} ms; {:.1} s",
        outcomes.len(),
        load.threads,
        load.mode,
        load.limits.deadline.as_millis(),
        changes.len(),
        events.len(),
        longest.as_millis(),
        started.elapsed().as_secs_f64()
    );
    late
}

#[test]
fn concurrent_runs_on_one_sqlite_store_lose_nothing() {
    hammer(Load::default());
}

/// Eight writers queue for the lock, many runs longer than 50 ms from
/// request to commit; the deadline counts only a run's own time, so every
/// run succeeds.
#[test]
fn waiting_for_the_write_lock_does_not_count_against_the_deadline() {
    let late = hammer(Load {
        threads: 8,
        runs_per_thread: 150,
        limits: Limits {
            deadline: Duration::from_millis(50),
            ..Limits::default()
        },
        ..Load::default()
    });
    // Otherwise the test proved nothing.
    assert!(late > 0, "no run waited longer than the deadline");
}

#[test]
fn concurrent_runs_with_reused_instances_lose_nothing() {
    hammer(Load {
        runs_per_thread: 250,
        mode: InstanceMode::Reuse,
        ..Load::default()
    });
}
