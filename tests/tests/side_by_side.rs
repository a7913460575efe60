//! Plugins side by side (`PluginHost`): one store, one clock, one source
//! of randomness; each plugin keeps its own key space and entity kinds;
//! runs are routed by qualified id or by a local id one plugin declares.

use std::sync::Arc;

use automation_harness::{Harness, PluginHost, RunRequest, UnknownAction};
use integration_tests::*;
use serde_json::json;

fn both_on(store: &TestStore) -> PluginHost {
    Harness::builder()
        .backend(Arc::clone(&store.backend))
        .fixed_clock(now())
        .seed(7)
        .with_plugins(vec![plugin(), notifications_plugin()])
        .unwrap()
}

fn runs_are_routed_to_the_plugin_that_declares_them(store: TestStore) {
    let host = both_on(&store);
    let sent = host
        .run(RunRequest::new(
            "send",
            json!({"channel": "#ops", "subject": "db-1 parked"}),
        ))
        .unwrap();
    assert_eq!(sent.action, "notifications.send");
    let parked = host
        .run(RunRequest::new(
            "maintenance.set_system",
            json!({"systemId": "db-1", "durationMinutes": 30}),
        ))
        .unwrap();
    assert_eq!(parked.action, "maintenance.set_system");
    assert_eq!(parked.events[0].trigger, "maintenance.created");

    // One randomness for both: the ids one plugin draws are never the
    // other's, even seeded.
    assert_ne!(sent.changes[0].change_id, parked.changes[0].change_id);
    assert_ne!(sent.run_id, parked.run_id);

    let snapshot = store.backend.snapshot().unwrap();
    assert_eq!(snapshot.changes.len(), 2);
    for (space, entries) in &snapshot.spaces {
        let owner = space.rsplit('/').next().unwrap();
        assert!(
            owner == "maintenance" || owner == "notifications",
            "{space}"
        );
        if owner == "notifications" {
            assert!(
                entries.keys().all(|key| !key.contains("maintenance")),
                "{entries:?}"
            );
        }
    }
    assert!(snapshot.spaces.contains_key("entity/notifications"));
    assert!(snapshot.spaces.contains_key("entity/maintenance"));
}

fn an_unknown_or_foreign_qualified_id_names_every_known_one(store: TestStore) {
    let host = both_on(&store);
    let before = store.backend.snapshot().unwrap();
    for id in ["nothing", "maintenance.send", "other.send"] {
        let error = host
            .run(RunRequest::new(id, json!({})))
            .err()
            .unwrap_or_else(|| panic!("{id} ran"));
        let unknown = error
            .downcast_ref::<UnknownAction>()
            .expect("a usage error");
        assert_eq!(unknown.action, id);
        assert!(
            unknown.known.contains("notifications.send"),
            "{}",
            unknown.known
        );
        assert!(
            unknown.known.contains("maintenance.set_system"),
            "{}",
            unknown.known
        );
    }
    assert_eq!(store.backend.snapshot().unwrap(), before);
}

fn advancing_time_runs_every_plugins_due_jobs(store: TestStore) {
    let host = both_on(&store);
    // A window that starts in a minute: maintenance's job starts it.
    host.run(RunRequest::new(
        "create",
        json!({
            "title": "Upgrade",
            "systemIds": ["db-1"],
            "startAt": "2026-03-01T10:01:00.000Z",
            "endAt": "2026-03-01T11:00:00.000Z",
        }),
    ))
    .unwrap();
    let runs = host.advance(chrono::Duration::minutes(2)).unwrap();
    assert_eq!(runs.len(), 2, "one run per due minute");
    let events: Vec<&str> = runs
        .iter()
        .flat_map(|run| run.events.iter().map(|event| event.trigger.as_str()))
        .collect();
    assert_eq!(events, ["maintenance.updated"]);
    assert_eq!(
        host.clock().now(),
        now() + chrono::Duration::minutes(2),
        "the one clock moved once"
    );
}

on_every_backend!(
    runs_are_routed_to_the_plugin_that_declares_them,
    an_unknown_or_foreign_qualified_id_names_every_known_one,
    advancing_time_runs_every_plugins_due_jobs,
);

#[test]
fn two_plugins_with_one_id_are_refused() {
    let error = Harness::builder()
        .with_plugins(vec![plugin(), plugin()])
        .err()
        .expect("refused");
    assert!(
        format!("{error}").starts_with("two plugins with the id maintenance: "),
        "{error}"
    );
}
