//! Many runs at once: threads, each with its own harness and instances,
//! share one SQLite store. No update is lost, every committed entity write
//! has exactly one change, and events match changes.

use std::sync::Arc;
use std::thread;

use automation_harness::{Backend, Harness, RunOutcome, RunRequest, SqliteBackend};
use integration_tests::*;
use serde_json::json;

const THREADS: usize = 4;
const RUNS_PER_THREAD: usize = 500;

#[test]
fn concurrent_runs_on_one_sqlite_store_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let backend: Arc<dyn Backend> =
        Arc::new(SqliteBackend::open(&dir.path().join("store.sqlite3")).unwrap());
    let setup = Harness::builder()
        .backend(Arc::clone(&backend))
        .with_plugin(plugin());
    let shared = external_id(&run_ok(&setup, "create", create_config(&["shared"])));

    let workers: Vec<_> = (0..THREADS)
        .map(|worker| {
            let backend = Arc::clone(&backend);
            let shared = shared.clone();
            thread::spawn(move || {
                let harness = Harness::builder().backend(backend).with_plugin(plugin());
                let mut outcomes: Vec<(String, RunOutcome)> = Vec::new();
                for n in 0..RUNS_PER_THREAD {
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
    assert_eq!(outcomes.len(), THREADS * RUNS_PER_THREAD);

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
    for pair in chain.windows(2) {
        assert_eq!(pair[1].prev, pair[0].next);
    }
    println!(
        "{} concurrent runs on {THREADS} threads: {add_updates} add_updates all kept, {} changes, {} events",
        outcomes.len(),
        changes.len(),
        events.len()
    );
}
