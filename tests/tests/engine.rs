//! The entity engine and the run around it: attribution, canonical state,
//! atomicity, secret masking, repeatability and the sandbox's imports.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use automation_harness::backend::{Savepoint, Transaction};
use automation_harness::{
    Actor, ActorType, Backend, ChangeRecord, EventRecord, Harness, RunRequest, StoreSnapshot,
};
use integration_tests::*;
use serde_json::json;

fn ann() -> Actor {
    Actor::new(ActorType::User, "u-1", Some("Ann".into()))
}

fn the_trigger_actor_and_run_id_reach_the_change_and_the_event(store: TestStore) {
    let harness = store.harness();
    let outcome = harness
        .run(
            RunRequest::new(
                "set_system",
                json!({"systemId": "db-1", "durationMinutes": 5}),
            )
            .actor(ann())
            .run_id("run-42"),
        )
        .unwrap();
    assert_eq!(outcome.run_id, "run-42");
    let change = &outcome.changes[0];
    assert_eq!(change.actor, ann());
    assert_eq!(change.run_id.as_deref(), Some("run-42"));
    let event = &outcome.events[0];
    assert_eq!(event.actor, ann());
    assert_eq!(event.run_id.as_deref(), Some("run-42"));
    assert_eq!(snapshot(&harness).events[0].actor, ann());
}

fn writes_without_a_trigger_actor_are_the_system_actors(store: TestStore) {
    let harness = store.harness();
    let outcome = run_ok(&harness, "create", create_config(&["db-1"]));
    let system = Actor::new(ActorType::System, "system", Some("System".into()));
    assert_eq!(outcome.changes[0].actor, system);
    assert_eq!(outcome.events[0].actor, system);
    assert_eq!(
        serde_json::to_value(&outcome.events[0].actor).unwrap(),
        json!({"type": "system", "id": "system", "name": "System"})
    );
}

fn reordered_or_duplicated_system_ids_are_no_change(store: TestStore) {
    let harness = store.harness();
    let id = external_id(&run_ok(&harness, "create", create_config(&["b", "a", "c"])));
    for systems in [json!(["c", "b", "a"]), json!(["a", "a", "b", "c", "c"])] {
        let outcome = run_ok(
            &harness,
            "update",
            json!({"maintenanceId": id, "systemIds": systems}),
        );
        assert_eq!(artifact(&outcome)["systemIds"], json!(["a", "b", "c"]));
        assert!(outcome.changes.is_empty(), "{systems}");
        assert!(outcome.events.is_empty(), "{systems}");
    }
    // A real change still fires.
    let outcome = run_ok(
        &harness,
        "update",
        json!({"maintenanceId": id, "systemIds": ["a", "b"]}),
    );
    assert_eq!(outcome.events.len(), 1);
    assert_eq!(outcome.changes[0].changed_fields, ["systemIds"]);
}

fn each_change_starts_where_the_last_one_of_its_entity_ended(store: TestStore) {
    let harness = store.harness();
    let id = external_id(&run_ok(&harness, "create", create_config(&["a"])));
    run_ok(
        &harness,
        "add_update",
        json!({"maintenanceId": id, "message": "go", "statusChange": "in_progress"}),
    );
    run_ok(
        &harness,
        "update",
        json!({"maintenanceId": id, "endAt": "2026-03-01T14:00:00Z"}),
    );
    run_ok(&harness, "clear_system", json!({"systemId": "a"}));
    let changes = snapshot(&harness).changes;
    assert_eq!(changes.len(), 4);
    for pair in changes.windows(2) {
        assert_eq!(pair[1].prev, pair[0].next);
    }
    let statuses: Vec<_> = changes
        .iter()
        .map(|c| c.next.as_ref().unwrap()["status"].clone())
        .collect();
    assert_eq!(
        statuses,
        ["scheduled", "in_progress", "in_progress", "completed"]
    );
}

/// A backend that fails when the run persists its events: by then the
/// plugin has written its keys and the engine its changes, so this proves
/// the whole run is rolled back, not just the part after the failure.
struct FailingOnEvents {
    inner: Arc<dyn Backend>,
    fail: Arc<AtomicBool>,
}

struct FailingTransaction {
    inner: Box<dyn Transaction>,
    fail: Arc<AtomicBool>,
}

impl Backend for FailingOnEvents {
    fn begin(&self) -> anyhow::Result<Box<dyn Transaction>> {
        Ok(Box::new(FailingTransaction {
            inner: self.inner.begin()?,
            fail: Arc::clone(&self.fail),
        }))
    }
    fn changes(&self) -> anyhow::Result<Vec<ChangeRecord>> {
        self.inner.changes()
    }
    fn events(&self) -> anyhow::Result<Vec<EventRecord>> {
        self.inner.events()
    }
    fn snapshot(&self) -> anyhow::Result<StoreSnapshot> {
        self.inner.snapshot()
    }
}

impl Transaction for FailingTransaction {
    fn get(&mut self, space: &str, key: &str) -> anyhow::Result<Option<Vec<u8>>> {
        self.inner.get(space, key)
    }
    fn set(&mut self, space: &str, key: &str, value: &[u8]) -> anyhow::Result<()> {
        self.inner.set(space, key, value)
    }
    fn delete(&mut self, space: &str, key: &str) -> anyhow::Result<bool> {
        self.inner.delete(space, key)
    }
    fn scan(
        &mut self,
        space: &str,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
        self.inner.scan(space, prefix, after, limit)
    }
    fn savepoint(&mut self) -> anyhow::Result<Savepoint> {
        self.inner.savepoint()
    }
    fn rollback_to(&mut self, savepoint: Savepoint) -> anyhow::Result<()> {
        self.inner.rollback_to(savepoint)
    }
    fn append_change(&mut self, change: &ChangeRecord) -> anyhow::Result<()> {
        self.inner.append_change(change)
    }
    fn append_event(&mut self, event: &EventRecord) -> anyhow::Result<()> {
        if self.fail.load(Ordering::SeqCst) {
            anyhow::bail!("disk full");
        }
        self.inner.append_event(event)
    }
    fn commit(self: Box<Self>) -> anyhow::Result<()> {
        self.inner.commit()
    }
}

fn a_run_that_fails_late_leaves_the_store_exactly_as_it_was(store: TestStore) {
    let fail = Arc::new(AtomicBool::new(false));
    let backend = Arc::new(FailingOnEvents {
        inner: Arc::clone(&store.backend),
        fail: Arc::clone(&fail),
    });
    let harness = harness_on(backend);
    run_ok(
        &harness,
        "set_system",
        json!({"systemId": "db-1", "durationMinutes": 5}),
    );
    run_ok(&harness, "create", create_config(&["db-1", "web"]));
    let before = snapshot(&harness);

    fail.store(true, Ordering::SeqCst);
    let error = harness
        .run(RunRequest::new("clear_system", json!({"systemId": "db-1"})))
        .unwrap_err();
    let message = format!("{error:#}");
    assert!(message.contains("maintenance@1.3.1"), "{message}");
    assert!(message.contains("clear_system"), "{message}");
    assert!(message.contains("disk full"), "{message}");
    assert_eq!(snapshot(&harness), before);

    // The store is intact and usable: the same run now succeeds.
    fail.store(false, Ordering::SeqCst);
    let outcome = run_ok(&harness, "clear_system", json!({"systemId": "db-1"}));
    assert_eq!(outcome.events.len(), 2);
}

fn failed_runs_change_nothing(store: TestStore) {
    let harness = store.harness();
    let id = external_id(&run_ok(&harness, "create", create_config(&["db-1"])));
    let before = snapshot(&harness);
    let failing = [
        RunRequest::new("update", json!({"maintenanceId": "missing", "title": "x"})),
        RunRequest::new(
            "update",
            json!({"maintenanceId": id, "endAt": "2020-01-01T00:00:00Z"}),
        ),
        RunRequest::new("add_update", json!({"maintenanceId": id, "message": ""})),
        RunRequest::new(
            "set_system",
            json!({"systemId": "db-1", "durationMinutes": -1}),
        ),
    ];
    for request in failing {
        let outcome = harness.run(request).unwrap();
        assert!(!outcome.is_ok());
        assert_eq!(snapshot(&harness), before);
    }
}

fn secrets_are_masked_in_persisted_changes_and_events_only(store: TestStore) {
    let harness = store.harness();
    let outcome = harness
        .run(
            RunRequest::new(
                "set_system",
                json!({"systemId": "db-hunter2", "durationMinutes": 5}),
            )
            .secret("hunter2")
            .secret("db"),
        )
        .unwrap();
    assert_eq!(artifact(&outcome)["systemIds"], json!(["db-hunter2"]));
    assert_eq!(
        outcome.changes[0].next.as_ref().unwrap()["systemIds"],
        json!(["db-****"])
    );
    assert_eq!(outcome.events[0].payload["systemIds"], json!(["db-****"]));
    let stored = snapshot(&harness);
    assert_eq!(stored.events[0].payload["systemIds"], json!(["db-****"]));
    for persisted in [
        serde_json::to_string(&stored.changes).unwrap(),
        serde_json::to_string(&stored.events).unwrap(),
    ] {
        assert!(!persisted.contains("hunter2"), "{persisted}");
    }

    // The plugin's own state is not masked: the system is still found, and
    // the close is diffed against the real state.
    let cleared = harness
        .run(RunRequest::new("clear_system", json!({"systemId": "db-hunter2"})).secret("hunter2"))
        .unwrap();
    assert_eq!(
        artifact(&cleared)["closedMaintenanceIds"],
        json!([external_id(&outcome)])
    );
    assert_eq!(cleared.changes[0].changed_fields, ["status"]);
}

#[test]
fn a_seeded_harness_repeats_its_ids() {
    let ids = || {
        let harness = harness();
        let outcome = run_ok(
            &harness,
            "set_system",
            json!({"systemId": "a", "durationMinutes": 5}),
        );
        (
            external_id(&outcome),
            outcome.run_id,
            outcome.changes[0].change_id.clone(),
        )
    };
    assert_eq!(ids(), ids());
    let harness = harness();
    let first = external_id(&run_ok(
        &harness,
        "set_system",
        json!({"systemId": "a", "durationMinutes": 5}),
    ));
    let second = external_id(&run_ok(
        &harness,
        "set_system",
        json!({"systemId": "a", "durationMinutes": 5}),
    ));
    assert_ne!(first, second, "each run draws fresh randomness");
}

#[test]
fn the_component_imports_only_the_contract_and_host_controlled_wasi() {
    let plugin = plugin();
    let imports = &plugin.catalog().imports;
    for ours in ["types", "log", "storage", "entity"] {
        let name = format!("checkstack:automation/{ours}@0.3.1");
        assert!(imports.contains(&name), "{name} missing from {imports:?}");
    }
    for import in imports {
        let allowed = import.starts_with("checkstack:automation/")
            || import.starts_with("wasi:clocks/")
            || import.starts_with("wasi:random/")
            || import.starts_with("wasi:cli/")
            || import.starts_with("wasi:io/");
        assert!(allowed, "unexpected import {import}");
    }
}

#[test]
fn the_catalog_is_qualified_and_complete() {
    let plugin = plugin();
    let catalog = plugin.catalog();
    assert_eq!(catalog.id, "maintenance");
    assert_eq!(catalog.version, "1.3.1");
    let triggers: Vec<_> = catalog.trigger_infos().map(|t| t.id.as_str()).collect();
    assert_eq!(triggers, ["maintenance.created", "maintenance.updated"]);
    for trigger in catalog.trigger_infos() {
        assert_eq!(trigger.context_key.as_deref(), Some("maintenanceId"));
        assert_eq!(trigger.entity_kind.as_deref(), Some("maintenance"));
        assert_eq!(trigger.category, "Maintenance");
        assert_eq!(trigger.icon, "Wrench");
    }
    let actions: Vec<_> = catalog
        .action_infos()
        .map(|a| (a.id.as_str(), a.produces.as_deref(), a.config_version))
        .collect();
    assert_eq!(
        actions,
        [
            ("maintenance.add_update", Some("maintenance.window"), 1),
            (
                "maintenance.clear_system",
                Some("maintenance.system_clearance"),
                1
            ),
            ("maintenance.create", Some("maintenance.window"), 1),
            ("maintenance.set_system", Some("maintenance.window"), 1),
            ("maintenance.update", Some("maintenance.window"), 1),
        ]
    );
    let add_update = catalog
        .action_infos()
        .find(|a| a.local_id == "add_update")
        .unwrap();
    assert_eq!(add_update.icon, "MessageSquarePlus");
    assert_eq!(add_update.display_name, "Add Maintenance Update");
    let artifacts: Vec<_> = catalog
        .artifact_type_infos()
        .map(|a| a.name.as_str())
        .collect();
    assert_eq!(artifacts, ["System Clearance", "Maintenance Window"]);
    assert_eq!(catalog.entity_kind_infos[0].kind, "maintenance");
}

on_every_backend!(
    a_run_that_fails_late_leaves_the_store_exactly_as_it_was,
    the_trigger_actor_and_run_id_reach_the_change_and_the_event,
    writes_without_a_trigger_actor_are_the_system_actors,
    reordered_or_duplicated_system_ids_are_no_change,
    each_change_starts_where_the_last_one_of_its_entity_ended,
    failed_runs_change_nothing,
    secrets_are_masked_in_persisted_changes_and_events_only,
);

#[test]
fn a_host_clock_the_plugin_cannot_be_shown_fails_the_run_and_writes_nothing() {
    for instant in ["1969-12-31T23:59:59Z", "2262-04-12T00:00:00Z"] {
        let harness = Harness::builder()
            .fixed_clock(instant.parse().unwrap())
            .with_plugin(plugin());
        let error = harness
            .run(RunRequest::new(
                "set_system",
                json!({"systemId": "db-1", "durationMinutes": 30}),
            ))
            .expect_err(instant);
        let message = format!("{error:#}");
        assert!(message.contains("set_system"), "{message}");
        assert!(message.contains("outside the range"), "{message}");
        assert_eq!(snapshot(&harness), Default::default(), "{instant}");
    }
}
