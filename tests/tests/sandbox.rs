//! A plugin we did not write cannot hurt the host or its data. The hostile
//! test plugin (`tests/hostile-plugin`) misbehaves in one way per action;
//! each run must fail with a clear error naming the plugin, the action and
//! the reason, leave the store exactly as it was, fire nothing, and leave
//! the harness able to run the real plugin right after.

use std::path::Path;
use std::sync::{Arc, OnceLock, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use automation_harness::{
    Backend, Harness, Limits, LogLevel, MemoryBackend, Plugin, RunOutcome, RunRequest,
    StoreSnapshot,
};
use integration_tests::*;
use serde_json::{Value, json};

const HOSTILE_WASM: &str = env!("HOSTILE_PLUGIN_WASM");
const FOREIGN_IDS_WASM: &str = env!("FOREIGN_IDS_PLUGIN_WASM");
const FILESYSTEM_WASM: &str = env!("FILESYSTEM_PLUGIN_WASM");
const SLEEPY_DEFINITIONS_WASM: &str = env!("SLEEPY_DEFINITIONS_PLUGIN_WASM");

struct Sandbox {
    backend: Arc<dyn Backend>,
    hostile: Harness,
    real: Harness,
    /// Keeps the timed tests from running beside this one.
    _shared: RwLockReadGuard<'static, ()>,
}

/// The hostile component on the default engine, compiled once.
fn hostile_plugin() -> Plugin {
    static PLUGIN: OnceLock<Plugin> = OnceLock::new();
    PLUGIN
        .get_or_init(|| {
            let engine = automation_harness::default_engine().unwrap();
            load(&engine, Path::new(HOSTILE_WASM))
        })
        .clone()
}

fn hostile_on(backend: &Arc<dyn Backend>, limits: Limits) -> Harness {
    Harness::builder()
        .backend(Arc::clone(backend))
        .fixed_clock(now())
        .limits(limits)
        .with_plugin(hostile_plugin())
}

/// Fills the store with something worth protecting: a window of the real
/// plugin, and the hostile plugin's thing `t1` as its well-behaved action
/// writes it, which no misbehaving action writes again.
fn seed(real: &Harness, hostile: &Harness) {
    run_ok(
        real,
        "set_system",
        json!({"systemId": "db-1", "durationMinutes": 30}),
    );
    run_ok(hostile, "well_behaved", json!({}));
    let stored = real.backend().snapshot().unwrap();
    assert_eq!(
        stored.spaces["plugin/hostile"]["thing/t1"],
        b"written by well_behaved"
    );
    assert_eq!(
        stored.spaces["entity/hostile"]["thing/t1"],
        br#"{"v":"well_behaved"}"#
    );
}

fn sandbox(limits: Limits) -> Sandbox {
    sandbox_on(Arc::new(MemoryBackend::new()), limits)
}

fn sandbox_on(backend: Arc<dyn Backend>, limits: Limits) -> Sandbox {
    let shared = TIMING.read().unwrap_or_else(PoisonError::into_inner);
    let hostile = hostile_on(&backend, limits);
    let real = harness_on(Arc::clone(&backend));
    seed(&real, &hostile);
    Sandbox {
        backend,
        hostile,
        real,
        _shared: shared,
    }
}

impl Sandbox {
    /// Runs `action` of the hostile plugin, checks that it failed and
    /// changed nothing, that the real plugin still works on the same store,
    /// and returns the failure's text.
    fn misbehave(&self, action: &str) -> String {
        self.misbehave_with(action, json!({}))
    }

    /// [`Self::misbehave`] with a config. A failure the plugin reported
    /// itself reads `<qualified action>: <kind>: <message>`.
    fn misbehave_with(&self, action: &str, config: Value) -> String {
        let request = RunRequest::new(action, config);
        let before = self.backend.snapshot().unwrap();
        let message = match self.hostile.run(request) {
            Err(error) => format!("{error:#}"),
            Ok(outcome) => {
                let failure = outcome
                    .result
                    .as_ref()
                    .expect_err(&format!("{action} succeeded"));
                assert!(
                    outcome.changes.is_empty() && outcome.events.is_empty(),
                    "{action} reported changes or events: {:?} {:?}",
                    outcome.changes,
                    outcome.events
                );
                format!(
                    "{}: {}: {}",
                    outcome.action,
                    failure.kind(),
                    failure.message()
                )
            }
        };
        assert_eq!(
            self.backend.snapshot().unwrap(),
            before,
            "{action} changed the store"
        );
        let after = run_ok(
            &self.real,
            "set_system",
            json!({"systemId": "db-2", "durationMinutes": 5}),
        );
        assert_eq!(
            after.events.len(),
            1,
            "the real plugin runs right after {action}"
        );
        run_ok(&self.hostile, "well_behaved", json!({}));
        message
    }
}

fn assert_contains(message: &str, parts: &[&str]) {
    for part in parts {
        assert!(message.contains(part), "{part:?} missing from: {message}");
    }
}

#[test]
fn a_busy_loop_is_stopped_at_the_deadline() {
    let sandbox = sandbox(Limits::default());
    let started = Instant::now();
    let message = sandbox.misbehave("loop_forever");
    let stopped_after = started.elapsed();
    assert_contains(
        &message,
        &[
            "hostile@0.1.0",
            "loop_forever",
            "deadline of 1000 ms exceeded",
        ],
    );
    println!("busy loop stopped after {stopped_after:?} (deadline 1000 ms), check included");
    assert!(stopped_after < Duration::from_secs(5), "{stopped_after:?}");
}

#[test]
fn the_deadline_is_configurable() {
    let sandbox = sandbox(Limits {
        deadline: Duration::from_millis(100),
        ..Limits::default()
    });
    let started = Instant::now();
    let message = sandbox.misbehave("loop_forever");
    assert_contains(&message, &["deadline of 100 ms exceeded"]);
    println!(
        "busy loop stopped {:?} after a 100 ms deadline",
        started.elapsed()
    );
}

#[test]
fn unbounded_allocation_hits_the_memory_limit() {
    let sandbox = sandbox(Limits {
        memory_bytes: 16 << 20,
        ..Limits::default()
    });
    let message = sandbox.misbehave("allocate_forever");
    assert_contains(
        &message,
        &[
            "hostile@0.1.0",
            "allocate_forever",
            "memory limit of 16 MiB reached",
        ],
    );
    let sandbox = self::sandbox(Limits::default());
    assert_contains(
        &sandbox.misbehave("allocate_forever"),
        &["memory limit of 64 MiB reached"],
    );
}

#[test]
fn a_panic_is_reported_with_its_message() {
    let sandbox = sandbox(Limits::default());
    let message = sandbox.misbehave("panic");
    assert_contains(
        &message,
        &[
            "hostile@0.1.0",
            "action panic",
            "hostile plugin panicked on purpose",
        ],
    );
}

#[test]
fn a_stack_overflow_is_reported() {
    let sandbox = sandbox(Limits::default());
    assert_contains(
        &sandbox.misbehave("overflow_stack"),
        &["overflow_stack", "stack overflow"],
    );
}

#[test]
fn the_entity_protocol_cannot_be_broken() {
    let sandbox = sandbox(Limits::default());
    assert_contains(
        &sandbox.misbehave("commit_twice"),
        &["internal", "Finished"],
    );
    assert_contains(
        &sandbox.misbehave("drop_mutation"),
        &[
            "drop_mutation",
            "dropped the mutation of thing/t1 without committing",
        ],
    );
    assert_contains(
        &sandbox.misbehave("write_without_mutation"),
        &[
            "internal",
            "NotPermitted(\"writes need an open entity mutation\")",
        ],
    );
    assert_contains(
        &sandbox.misbehave("invalid_json_state"),
        &["internal", "InvalidState", "not valid JSON"],
    );
}

#[test]
fn what_a_plugin_returns_is_checked() {
    let sandbox = sandbox(Limits::default());
    assert_contains(
        &sandbox.misbehave("bad_artifact"),
        &["bad_artifact", "breaks the schema of hostile.result", "/n"],
    );
    assert_contains(
        &sandbox.misbehave("huge_artifact"),
        &["huge_artifact", "bytes; the limit is 1048576"],
    );
    assert_contains(
        &sandbox.misbehave("invalid_json_artifact"),
        &["artifact that is not JSON"],
    );
    assert_contains(
        &sandbox.misbehave("fire_undeclared_trigger"),
        &[
            "fire_undeclared_trigger",
            "fired undeclared trigger \"nonexistent\"",
        ],
    );
    // Contract 0.3 takes local trigger ids only, even the plugin's own
    // qualified one; and storage tells the deriver it is not permitted.
    assert_contains(
        &sandbox.misbehave("fire_qualified_trigger"),
        &[
            "fire_qualified_trigger",
            "fired undeclared trigger \"hostile.changed\"",
        ],
    );
    assert_contains(
        &sandbox.misbehave("read_in_derive"),
        &[
            "the deriver trapped",
            "the deriver read storage: Err(StorageError::NotPermitted(\"storage is not available to the deriver, which must be pure\"))",
        ],
    );
    assert_contains(
        &sandbox.misbehave("open_in_derive"),
        &[
            "the deriver trapped",
            "the deriver opened a mutation: Err(EntityError::NotPermitted(\"the deriver may not write entities\"))",
        ],
    );
}

#[test]
fn a_plugin_cannot_declare_ids_of_another_plugin() {
    let engine = automation_harness::default_engine().unwrap();
    let error = Plugin::load(&engine, Path::new(FOREIGN_IDS_WASM))
        .err()
        .expect("loading fails");
    assert_contains(
        &format!("{error:#}"),
        &["trigger id \"maintenance.created\" must be a local id"],
    );
}

#[test]
fn a_plugin_importing_the_filesystem_is_refused_at_load() {
    let engine = automation_harness::default_engine().unwrap();
    let error = Plugin::load(&engine, Path::new(FILESYSTEM_WASM))
        .err()
        .expect("loading fails");
    let message = format!("{error:#}");
    assert_contains(
        &message,
        &[
            "imports capabilities the host never grants",
            "wasi:filesystem/",
        ],
    );
}

#[test]
fn fuel_metering_reports_what_a_run_consumed_and_stops_at_its_limit() {
    let engine = automation_harness::wasm::engine(automation_harness::EngineOptions {
        fuel: true,
        ..Default::default()
    })
    .unwrap();
    let plugin = load(&engine, Path::new(PLUGIN_WASM));
    let harness = Harness::builder()
        .fixed_clock(now())
        .seed(1)
        .limits(Limits {
            fuel: Some(50_000_000),
            ..Limits::default()
        })
        .with_plugin(plugin);
    let first = run_ok(
        &harness,
        "set_system",
        json!({"systemId": "a", "durationMinutes": 5}),
    );
    let fuel = first.fuel_consumed.expect("fuel is metered");
    assert!(fuel > 1_000, "{fuel}");
    assert_eq!(first.to_json()["fuel"], json!(fuel));
    println!("set_system consumed {fuel} fuel");

    let hostile = Harness::builder()
        .limits(Limits {
            fuel: Some(10_000_000),
            ..Limits::default()
        })
        .with_plugin(load(&engine, Path::new(HOSTILE_WASM)));
    let error = hostile
        .run(RunRequest::new("loop_forever", json!({})))
        .unwrap_err();
    assert_contains(&format!("{error:#}"), &["fuel limit of 10000000 reached"]);
}

#[test]
fn a_run_that_fails_after_writing_leaves_the_store_byte_identical() {
    // On both stores: SQLite rolls back a real transaction.
    for store in [TestStore::memory(), TestStore::sqlite()] {
        let sandbox = sandbox_on(Arc::clone(&store.backend), Limits::default());
        // It wrote storage and committed a state of its own, so a change
        // was recorded before it returned `not_found`; `misbehave`
        // compares the whole store, change and event logs included.
        assert_contains(
            &sandbox.misbehave("write_then_fail"),
            &[
                "hostile.write_then_fail",
                "not_found",
                "write_then_fail wrote, committed, then failed",
            ],
        );
    }
}

// --- The limits the README lists, each at its edge. ---

#[test]
fn a_storage_key_is_at_most_1024_bytes() {
    let sandbox = sandbox(Limits::default());
    assert_contains(
        &sandbox.misbehave_with("set_key", json!({"bytes": 1025})),
        &[
            "hostile.set_key",
            "internal",
            "InvalidKey",
            "keys are at most 1024 bytes, this one has 1025",
        ],
    );
    run_ok(&sandbox.hostile, "set_key", json!({"bytes": 1024}));
    let stored = sandbox.backend.snapshot().unwrap();
    assert_eq!(
        stored.spaces["plugin/hostile"]["k".repeat(1024).as_str()],
        b"written by set_key"
    );
}

#[test]
fn a_storage_value_is_at_most_1_mib() {
    let sandbox = sandbox(Limits::default());
    assert_contains(
        &sandbox.misbehave_with("set_value", json!({"bytes": (1 << 20) + 1})),
        &["hostile.set_value", "internal", "ValueTooLarge(1048576)"],
    );
    run_ok(&sandbox.hostile, "set_value", json!({"bytes": 1 << 20}));
    let stored = sandbox.backend.snapshot().unwrap();
    assert_eq!(stored.spaces["plugin/hostile"]["value"].len(), 1 << 20);
}

#[test]
fn a_scan_asking_for_more_than_1000_entries_gets_pages_of_1000() {
    let sandbox = sandbox(Limits::default());
    let before = sandbox.backend.snapshot().unwrap();
    // 1500 keys seeded in one mutation, read back asking for 5000 at a
    // time, and 1000 exactly: the host caps the page, it does not fail,
    // and the cursor leads to the rest.
    for limit in [5000, 1001, 1000] {
        let outcome = run_ok(
            &sandbox.hostile,
            "scan_past_the_limit",
            json!({"keys": 1500, "limit": limit}),
        );
        assert_eq!(
            artifact(&outcome),
            json!({"n": 1000, "pages": [1000, 500], "complete": true}),
            "limit {limit}"
        );
        assert!(outcome.changes.is_empty() && outcome.events.is_empty());
    }
    // Under the cap, the plugin's limit holds.
    let outcome = run_ok(
        &sandbox.hostile,
        "scan_past_the_limit",
        json!({"keys": 1500, "limit": 600}),
    );
    assert_eq!(
        artifact(&outcome),
        json!({"n": 600, "pages": [600, 600, 300], "complete": true})
    );
    // The seeding was abandoned.
    assert_eq!(sandbox.backend.snapshot().unwrap(), before);
}

const LOG_NOTICE: &str = "log truncated: the run logged more than 1 MiB";

#[test]
fn a_run_logs_at_most_1_mib_then_one_notice() {
    let sandbox = sandbox(Limits::default());
    // 2000 lines of 1000 bytes: the first 1048 fit in 1 MiB.
    let outcome = run_ok(
        &sandbox.hostile,
        "flood_log",
        json!({"lines": 2000, "bytes": 1000}),
    );
    let messages = log_messages(&outcome);
    let kept = (1 << 20) / 1000;
    assert_eq!(messages.len(), kept + 1, "{kept} lines and the notice");
    for (n, message) in messages[..kept].iter().enumerate() {
        assert!(
            message.starts_with(&format!("line {n:06} ")),
            "{message:.20}"
        );
        assert_eq!(message.len(), 1000);
    }
    let logged: usize = messages[..kept].iter().map(String::len).sum();
    assert_eq!(logged, kept * 1000);
    assert!(logged <= 1 << 20);
    assert_eq!(messages.iter().filter(|m| *m == LOG_NOTICE).count(), 1);
    let notice = outcome.logs.last().unwrap();
    assert_eq!(
        (notice.level, notice.message.as_str()),
        (LogLevel::Warn, LOG_NOTICE)
    );
    let json_logs = serde_json::to_string(&outcome.to_json()["logs"]).unwrap();
    println!(
        "2000 lines of 1000 bytes: {} kept, {} bytes of messages, {} bytes of JSON logs",
        messages.len(),
        logged + LOG_NOTICE.len(),
        json_logs.len()
    );

    // At the edge: 1024 lines of 1024 bytes are exactly 1 MiB and all
    // kept; one line more is dropped with the notice.
    let exact = run_ok(
        &sandbox.hostile,
        "flood_log",
        json!({"lines": 1024, "bytes": 1024}),
    );
    let messages = log_messages(&exact);
    assert_eq!(messages.len(), 1024);
    assert!(!messages.iter().any(|m| m == LOG_NOTICE));
    let over = run_ok(
        &sandbox.hostile,
        "flood_log",
        json!({"lines": 1025, "bytes": 1024}),
    );
    let messages = log_messages(&over);
    assert_eq!(messages.len(), 1025);
    assert_eq!(messages[1024], LOG_NOTICE);
}

#[test]
fn an_event_payload_is_at_most_1_mib() {
    let sandbox = sandbox(Limits::default());
    assert_contains(
        &sandbox.misbehave("huge_payload"),
        &[
            "hostile@0.1.0",
            "action huge_payload",
            "fired hostile.changed with a payload of",
            "bytes; the limit is 1048576",
        ],
    );
}

#[test]
fn an_event_payload_must_satisfy_its_trigger_schema() {
    let sandbox = sandbox(Limits::default());
    assert_contains(
        &sandbox.misbehave("bad_payload"),
        &[
            "hostile@0.1.0",
            "action bad_payload",
            "fired hostile.changed with a payload that breaks its schema",
            "/v",
        ],
    );
}

#[test]
fn an_entity_state_must_satisfy_its_kind_schema() {
    let sandbox = sandbox(Limits::default());
    assert_contains(
        &sandbox.misbehave("bad_state"),
        &["hostile.bad_state", "internal", "InvalidState", "/v"],
    );
}

#[test]
fn an_entity_state_is_at_most_1_mib() {
    let sandbox = sandbox(Limits::default());
    assert_contains(
        &sandbox.misbehave_with("huge_state", json!({"bytes": (1 << 20) + 1})),
        &[
            "hostile.huge_state",
            "internal",
            "is 1048577 bytes; the limit is 1048576",
        ],
    );
    // Exactly 1 MiB is a state like any other.
    let stored = run_ok(&sandbox.hostile, "huge_state", json!({"bytes": 1 << 20}));
    assert_eq!(stored.changes.len(), 1);
}

#[test]
fn a_plugin_that_sleeps_while_declaring_itself_is_not_loaded() {
    // Loading runs `definitions()`, under the default limits.
    let engine = automation_harness::default_engine().unwrap();
    let component = load_component(&engine, SLEEPY_DEFINITIONS_WASM);
    let _alone = alone();
    let started = Instant::now();
    let error = Plugin::from_component(&engine, &component)
        .err()
        .expect("a plugin whose definitions() never returns is refused");
    let took = started.elapsed();
    println!("definitions() stopped after {took:?}");
    assert_contains(
        &format!("{error:#}"),
        &["definitions() trapped", "deadline of 1000 ms exceeded"],
    );
    assert!(
        took <= Duration::from_millis(1000) + SLACK,
        "loading took {took:?}"
    );
}

/// The compiled component at `path`, without loading it as a plugin.
fn load_component(
    engine: &automation_harness::wasmtime::Engine,
    path: &str,
) -> automation_harness::wasmtime::component::Component {
    automation_harness::wasmtime::component::Component::from_file(engine, path)
        .unwrap_or_else(|error| panic!("{path}: {error:#}"))
}

// --- Guests that block inside a host call. ---

/// The deadlines blocking guests are measured against: a short one and
/// the default.
const DEADLINES: [Duration; 2] = [Duration::from_millis(200), Duration::from_secs(1)];
/// How long past its deadline a stopped run, or a writer waiting for it,
/// may take.
const SLACK: Duration = Duration::from_millis(50);
/// How long past the deadline a test waits before it fails instead of
/// hanging with the guest.
const WATCHDOG: Duration = Duration::from_secs(3);

/// Written by the tests that measure time, read by every sandbox, so a
/// timed test runs with no other misbehaviour (a 64 MiB allocation, a
/// log flood) competing for the two cores.
static TIMING: RwLock<()> = RwLock::new(());

fn alone() -> RwLockWriteGuard<'static, ()> {
    TIMING.write().unwrap_or_else(PoisonError::into_inner)
}

/// Runs `action` under each of [`DEADLINES`] and checks it is stopped in
/// time; see [`stopped_in_time`].
fn blocking_guest_is_stopped(action: &str) {
    let _alone = alone();
    for deadline in DEADLINES {
        stopped_in_time(action, deadline);
    }
}

type Finished<T> = (Result<T, String>, Duration);

/// Runs `action` on a SQLite store under `deadline` and, while it blocks,
/// the real plugin's `set_system` on the same store from another thread.
/// The hostile run must fail within the deadline and [`SLACK`], naming
/// the plugin, the action and the deadline; the writer must be done by
/// then too; and the store must hold the writer's run and nothing of the
/// hostile one.
fn stopped_in_time(action: &str, deadline: Duration) {
    let store = TestStore::sqlite();
    let hostile = Arc::new(hostile_on(
        &store.backend,
        Limits {
            deadline,
            ..Limits::default()
        },
    ));
    let real = Arc::new(store.harness());
    seed(&real, &hostile);
    let before = store.backend.snapshot().unwrap();

    let started = Instant::now();
    let (hostile_done, hostile_finished) = mpsc::channel::<Finished<RunOutcome>>();
    {
        let hostile = Arc::clone(&hostile);
        let request = RunRequest::new(action, json!({}));
        thread::spawn(move || {
            let result = hostile.run(request).map_err(|error| format!("{error:#}"));
            let _ = hostile_done.send((result, started.elapsed()));
        });
    }
    // Long enough for the hostile run to hold the store and block in the
    // guest; the deriver's sleep starts right after the action.
    thread::sleep(Duration::from_millis(20));
    let (writer_done, writer_finished) = mpsc::channel::<Finished<RunOutcome>>();
    {
        let real = Arc::clone(&real);
        let request = RunRequest::new(
            "set_system",
            json!({"systemId": "db-2", "durationMinutes": 5}),
        );
        thread::spawn(move || {
            let result = real.run(request).map_err(|error| format!("{error:#}"));
            let _ = writer_done.send((result, started.elapsed()));
        });
    }

    let give_up = deadline + WATCHDOG;
    let Ok((result, stopped_after)) =
        hostile_finished.recv_timeout(give_up.saturating_sub(started.elapsed()))
    else {
        let writer = match writer_finished.try_recv() {
            Ok((_, after)) => format!("the other writer was done after {after:?}"),
            Err(_) => "the other writer was still waiting".to_owned(),
        };
        panic!(
            "{action} was still running {:?} after it started, with a deadline of \
             {deadline:?}; {writer}",
            started.elapsed()
        );
    };
    let Ok((written, written_after)) =
        writer_finished.recv_timeout(give_up.saturating_sub(started.elapsed()))
    else {
        panic!(
            "{action} stopped after {stopped_after:?} (deadline {deadline:?}), but the other \
             writer was still waiting {:?} after the hostile run started",
            started.elapsed()
        );
    };
    println!(
        "{action}: stopped after {stopped_after:?}, the other writer done after \
         {written_after:?} (deadline {deadline:?})"
    );

    let message = match result {
        Err(message) => message,
        Ok(outcome) => panic!("{action} did not fail: {:?}", outcome.result),
    };
    assert_contains(
        &message,
        &[
            "hostile@0.1.0",
            &format!("action {action}"),
            &format!("deadline of {} ms exceeded", deadline.as_millis()),
        ],
    );
    assert!(
        stopped_after <= deadline + SLACK,
        "{action} stopped after {stopped_after:?}, deadline {deadline:?}"
    );
    let written = written.unwrap_or_else(|error| panic!("set_system: {error}"));
    assert!(written.is_ok(), "set_system failed: {:?}", written.result);
    assert!(
        written_after <= deadline + SLACK,
        "the other writer was done {written_after:?} after {action} started, \
         deadline {deadline:?}"
    );

    // The store: what it held, plus the writer's run, nothing else.
    let after = store.backend.snapshot().unwrap();
    let mut expected: StoreSnapshot = before;
    expected.changes.extend(written.changes.iter().cloned());
    expected.events.extend(written.events.iter().cloned());
    for space in ["plugin/maintenance", "entity/maintenance"] {
        match after.spaces.get(space) {
            Some(entries) => expected.spaces.insert(space.to_owned(), entries.clone()),
            None => expected.spaces.remove(space),
        };
    }
    assert_eq!(after, expected, "{action} changed the store");
    // Nothing is left stuck: both plugins run again on this store.
    run_ok(&hostile, "well_behaved", json!({}));
    run_ok(
        &real,
        "set_system",
        json!({"systemId": "db-3", "durationMinutes": 5}),
    );
}

#[test]
fn a_computing_guest_is_stopped_within_a_tick_of_the_deadline() {
    blocking_guest_is_stopped("loop_forever");
}

#[test]
fn a_sleeping_guest_is_stopped_at_the_deadline() {
    blocking_guest_is_stopped("sleep_forever");
}

#[test]
fn a_guest_polling_a_timer_is_stopped_at_the_deadline() {
    blocking_guest_is_stopped("poll_forever");
}

#[test]
fn a_guest_blocking_on_a_far_instant_is_stopped_at_the_deadline() {
    blocking_guest_is_stopped("block_forever");
}

#[test]
fn a_deriver_that_sleeps_is_stopped_at_the_deadline() {
    blocking_guest_is_stopped("sleep_in_derive");
}

#[test]
fn a_guest_reading_stdin_forever_is_stopped_at_the_deadline() {
    blocking_guest_is_stopped("read_stdin");
}

#[test]
fn a_guest_flooding_stderr_is_stopped_at_the_deadline() {
    blocking_guest_is_stopped("flood_stderr");
}

#[test]
fn a_guest_flooding_stdout_is_stopped_at_the_deadline() {
    blocking_guest_is_stopped("flood_stdout");
}

/// What one attempt at blocking on stdio does: nothing waits. Stdin is
/// closed, stderr takes 64 KiB (what the host keeps for error reports) and
/// then is closed, stdout takes everything and keeps none of it.
#[test]
fn stdio_never_blocks_a_guest() {
    let sandbox = sandbox(Limits::default());
    let once = json!({"once": 1});
    let read = run_ok(&sandbox.hostile, "read_stdin", once.clone());
    assert_eq!(
        artifact(&read),
        json!({"n": 0, "error": "StreamError::Closed"})
    );
    let stderr = run_ok(&sandbox.hostile, "flood_stderr", once.clone());
    assert_eq!(
        artifact(&stderr),
        json!({"n": 64 << 10, "error": "StreamError::Closed"})
    );
    let stdout = run_ok(&sandbox.hostile, "flood_stdout", once);
    assert_eq!(artifact(&stdout), json!({"n": 256 << 10}));
    for outcome in [&read, &stderr, &stdout] {
        assert!(
            outcome.wall_time < Duration::from_millis(500),
            "{:?}",
            outcome.wall_time
        );
    }
}
