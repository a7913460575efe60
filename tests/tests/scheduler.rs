//! The host runs the plugin's scheduled job as time passes.

use automation_harness::{Actor, ActorType, Harness};
use chrono::Duration;
use integration_tests::*;
use serde_json::json;

fn service_actor() -> Actor {
    Actor::new(
        ActorType::Service,
        "maintenance",
        Some("maintenance".into()),
    )
}

fn statuses(outcomes: &[automation_harness::RunOutcome]) -> Vec<String> {
    outcomes
        .iter()
        .flat_map(|outcome| &outcome.events)
        .map(|event| event.payload["status"].as_str().unwrap().to_owned())
        .collect()
}

fn advancing_runs_the_job_at_each_instant_it_falls_due(store: TestStore) {
    let harness = store.harness();
    let job = &harness.catalog().jobs["advance_status"];
    assert_eq!(job.id, "maintenance.advance_status");
    assert_eq!(job.every_seconds, 60);

    let runs = harness.advance(Duration::minutes(2)).unwrap();
    assert_eq!(runs.len(), 2);
    assert!(runs.iter().all(|run| run.is_ok() && run.events.is_empty()));
    assert_eq!(runs[0].action, "maintenance.advance_status");
    assert_eq!(harness.clock().now(), now() + Duration::minutes(2));
    assert_eq!(
        harness.last_job_run(job).unwrap(),
        Some(now() + Duration::minutes(2))
    );
    // Half a minute more passes no due instant.
    assert!(harness.advance(Duration::seconds(30)).unwrap().is_empty());
}

fn windows_move_one_step_per_run_as_the_service_actor(store: TestStore) {
    let harness = store.harness();
    let id = external_id(&run_ok(
        &harness,
        "set_system",
        json!({"systemId": "db-1", "durationMinutes": 3}),
    ));
    let runs = harness.advance(Duration::minutes(1)).unwrap();
    assert_eq!(statuses(&runs), ["in_progress"]);
    let event = &runs[0].events[0];
    assert_eq!(event.trigger, "maintenance.updated");
    assert_eq!(event.context_key.as_deref(), Some(id.as_str()));
    assert_eq!(event.actor, service_actor());
    assert_eq!(runs[0].changes[0].actor, service_actor());
    assert_eq!(event.run_id.as_deref(), Some(runs[0].run_id.as_str()));
    assert_eq!(runs[0].changes[0].occurred_at, "2026-03-01T10:01:00.000Z");

    let runs = harness.advance(Duration::minutes(5)).unwrap();
    assert_eq!(runs.len(), 5);
    assert_eq!(statuses(&runs), ["completed"]);
    assert_eq!(
        runs[1].events[0].payload["endAt"],
        "2026-03-01T10:03:00.000Z"
    );
    assert!(runs[1].logs[0].message.contains("moved 1 window(s)"));
}

fn a_window_far_in_the_past_takes_one_step_per_run(store: TestStore) {
    let harness = store.harness();
    run_ok(
        &harness,
        "create",
        json!({"title": "old", "systemIds": ["a"], "startAt": "2020-01-01T00:00:00Z", "endAt": "2020-01-01T01:00:00Z"}),
    );
    let first = harness.advance(Duration::minutes(1)).unwrap();
    let second = harness.advance(Duration::minutes(1)).unwrap();
    let third = harness.advance(Duration::minutes(1)).unwrap();
    assert_eq!(statuses(&first), ["in_progress"]);
    assert_eq!(statuses(&second), ["completed"]);
    assert!(statuses(&third).is_empty());
}

fn ticking_twice_at_one_instant_runs_the_job_once(store: TestStore) {
    let harness = store.harness();
    run_ok(
        &harness,
        "set_system",
        json!({"systemId": "db-1", "durationMinutes": 30}),
    );
    let first = harness.tick().unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(statuses(&first), ["in_progress"]);
    assert!(
        harness.tick().unwrap().is_empty(),
        "already ran for this minute"
    );

    // Another process on the same store knows the job already ran.
    let again = harness_on(store.backend.clone());
    assert!(again.tick().unwrap().is_empty());
}

on_every_backend!(
    advancing_runs_the_job_at_each_instant_it_falls_due,
    windows_move_one_step_per_run_as_the_service_actor,
    a_window_far_in_the_past_takes_one_step_per_run,
    ticking_twice_at_one_instant_runs_the_job_once,
);

#[test]
fn advancing_needs_a_fixed_clock() {
    let harness = Harness::builder().with_plugin(plugin());
    let error = harness.advance(Duration::minutes(1)).unwrap_err();
    assert!(error.to_string().contains("fixed clock"), "{error}");
    assert!(harness.advance(Duration::minutes(-1)).is_err());
}
