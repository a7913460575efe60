//! A plugin we did not write cannot hurt the host or its data. The hostile
//! test plugin (`tests/hostile-plugin`) misbehaves in one way per action;
//! each run must fail with a clear error naming the plugin, the action and
//! the reason, leave the store exactly as it was, fire nothing, and leave
//! the harness able to run the real plugin right after.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use automation_harness::{Backend, Harness, Limits, MemoryBackend, Plugin, RunRequest};
use integration_tests::*;
use serde_json::json;

const HOSTILE_WASM: &str = env!("HOSTILE_PLUGIN_WASM");
const FOREIGN_IDS_WASM: &str = env!("FOREIGN_IDS_PLUGIN_WASM");
const FILESYSTEM_WASM: &str = env!("FILESYSTEM_PLUGIN_WASM");

struct Sandbox {
    backend: Arc<dyn Backend>,
    hostile: Harness,
    real: Harness,
}

fn sandbox(limits: Limits) -> Sandbox {
    let backend: Arc<dyn Backend> = Arc::new(MemoryBackend::new());
    let engine = automation_harness::default_engine().unwrap();
    let hostile = Harness::builder()
        .backend(Arc::clone(&backend))
        .fixed_clock(now())
        .limits(limits)
        .with_plugin(Plugin::load(&engine, Path::new(HOSTILE_WASM)).unwrap());
    let real = harness_on(Arc::clone(&backend));
    // Something worth protecting.
    run_ok(
        &real,
        "set_system",
        json!({"systemId": "db-1", "durationMinutes": 30}),
    );
    run_ok(&hostile, "well_behaved", json!({}));
    Sandbox {
        backend,
        hostile,
        real,
    }
}

impl Sandbox {
    /// Runs `action` of the hostile plugin, checks that it failed and
    /// changed nothing, that the real plugin still works on the same store,
    /// and returns the failure's text.
    fn misbehave(&self, action: &str) -> String {
        let request = RunRequest::new(action, json!({}));
        let before = self.backend.snapshot().unwrap();
        let message = match self.hostile.run(request) {
            Err(error) => format!("{error:#}"),
            Ok(outcome) => {
                let failure = outcome
                    .result
                    .as_ref()
                    .expect_err(&format!("{action} succeeded"));
                assert!(outcome.changes.is_empty() && outcome.events.is_empty());
                format!("{}: {}", failure.kind(), failure.message())
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
        &["internal", "writes need an open entity mutation"],
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
    let engine = automation_harness::limits::engine(automation_harness::EngineOptions {
        fuel: true,
        ..Default::default()
    })
    .unwrap();
    let plugin = Plugin::load(&engine, Path::new(PLUGIN_WASM)).unwrap();
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
        .with_plugin(Plugin::load(&engine, Path::new(HOSTILE_WASM)).unwrap());
    let error = hostile
        .run(RunRequest::new("loop_forever", json!({})))
        .unwrap_err();
    assert_contains(&format!("{error:#}"), &["fuel limit of 10000000 reached"]);
}
