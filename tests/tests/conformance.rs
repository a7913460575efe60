//! The storage conformance suite: every backend behaves the same. The
//! plugin's full action suite runs on every backend too (see
//! `actions.rs`, `engine.rs` and `validation.rs`).

use std::sync::Arc;

use automation_harness::backend::Transaction;
use automation_harness::{Actor, ChangeRecord, EventRecord, Harness, SqliteBackend};
use integration_tests::*;
use serde_json::json;

fn keys_of(
    txn: &mut Box<dyn Transaction>,
    prefix: &str,
    after: Option<&str>,
    limit: usize,
) -> Vec<String> {
    txn.scan("s", prefix, after, limit)
        .unwrap()
        .into_iter()
        .map(|(key, _)| key)
        .collect()
}

fn get_set_delete(store: TestStore) {
    let mut txn = store.backend.begin().unwrap();
    assert_eq!(txn.get("s", "k").unwrap(), None);
    txn.set("s", "k", b"one").unwrap();
    txn.set("s", "k", b"two").unwrap();
    assert_eq!(txn.get("s", "k").unwrap(), Some(b"two".to_vec()));
    assert_eq!(txn.get("other", "k").unwrap(), None, "spaces are separate");
    assert!(txn.delete("s", "k").unwrap());
    assert!(!txn.delete("s", "k").unwrap());
    txn.set("s", "kept", &[0, 255, 7]).unwrap();
    txn.commit().unwrap();
    let mut txn = store.backend.begin().unwrap();
    assert_eq!(txn.get("s", "kept").unwrap(), Some(vec![0, 255, 7]));
    assert_eq!(txn.get("s", "k").unwrap(), None);
}

fn scans_are_ordered_by_bytes_and_paged_by_cursor(store: TestStore) {
    let mut txn = store.backend.begin().unwrap();
    for key in [
        "b/1",
        "a/10",
        "a/2",
        "a/1",
        "a",
        "a0",
        "a/é",
        "a/z",
        "a/\u{1F600}",
    ] {
        txn.set("s", key, key.as_bytes()).unwrap();
    }
    txn.commit().unwrap();
    let mut txn = store.backend.begin().unwrap();
    assert_eq!(
        keys_of(&mut txn, "a/", None, 100),
        ["a/1", "a/10", "a/2", "a/z", "a/é", "a/\u{1F600}"]
    );
    assert_eq!(keys_of(&mut txn, "a/", None, 2), ["a/1", "a/10"]);
    assert_eq!(keys_of(&mut txn, "a/", Some("a/10"), 2), ["a/2", "a/z"]);
    assert_eq!(
        keys_of(&mut txn, "a/", Some("a/\u{1F600}"), 2),
        Vec::<String>::new()
    );
    // A cursor before the prefix starts at the prefix.
    assert_eq!(keys_of(&mut txn, "a/", Some("0"), 1), ["a/1"]);
    assert_eq!(keys_of(&mut txn, "", None, 3), ["a", "a/1", "a/10"]);
    assert!(keys_of(&mut txn, "c", None, 10).is_empty());
    let (_, value) = &txn.scan("s", "b/", None, 1).unwrap()[0];
    assert_eq!(value, b"b/1");
}

fn uncommitted_transactions_roll_back(store: TestStore) {
    let mut txn = store.backend.begin().unwrap();
    txn.set("s", "a", b"1").unwrap();
    txn.commit().unwrap();
    let before = store.backend.snapshot().unwrap();

    let mut txn = store.backend.begin().unwrap();
    txn.set("s", "a", b"2").unwrap();
    txn.set("s", "b", b"2").unwrap();
    txn.append_change(&change("c1")).unwrap();
    txn.append_event(&event("e1", "c1")).unwrap();
    drop(txn);
    assert_eq!(store.backend.snapshot().unwrap(), before);
    assert!(store.backend.changes().unwrap().is_empty());
}

fn savepoints_roll_back_only_what_followed_them(store: TestStore) {
    let mut txn = store.backend.begin().unwrap();
    txn.set("s", "before", b"1").unwrap();
    let outer = txn.savepoint().unwrap();
    txn.set("s", "outer", b"1").unwrap();
    let inner = txn.savepoint().unwrap();
    txn.set("s", "inner", b"1").unwrap();
    txn.delete("s", "before").unwrap();
    txn.rollback_to(inner).unwrap();
    assert_eq!(keys_of(&mut txn, "", None, 10), ["before", "outer"]);
    txn.rollback_to(outer).unwrap();
    assert_eq!(keys_of(&mut txn, "", None, 10), ["before"]);
    let again = txn.savepoint().unwrap();
    txn.set("s", "later", b"1").unwrap();
    let _ = again;
    txn.commit().unwrap();
    let mut txn = store.backend.begin().unwrap();
    assert_eq!(keys_of(&mut txn, "", None, 10), ["before", "later"]);
}

fn change(id: &str) -> ChangeRecord {
    ChangeRecord {
        change_id: id.into(),
        plugin_id: "p".into(),
        kind: "k".into(),
        entity_id: "e".into(),
        prev: None,
        next: Some(json!({"a": 1})),
        changed_fields: vec!["a".into()],
        actor: Actor::system(),
        run_id: Some("r".into()),
        occurred_at: NOW.into(),
    }
}

fn event(id: &str, change_id: &str) -> EventRecord {
    EventRecord {
        event_id: id.into(),
        trigger: "p.t".into(),
        payload: json!({"a": 1}),
        context_key: Some("e".into()),
        actor: Actor::system(),
        run_id: Some("r".into()),
        change_id: change_id.into(),
        occurred_at: NOW.into(),
    }
}

fn logs_keep_their_order(store: TestStore) {
    for n in 0..5 {
        let mut txn = store.backend.begin().unwrap();
        txn.append_change(&change(&format!("c{n}"))).unwrap();
        txn.append_event(&event(&format!("e{n}"), &format!("c{n}")))
            .unwrap();
        txn.commit().unwrap();
    }
    let changes: Vec<_> = store
        .backend
        .changes()
        .unwrap()
        .into_iter()
        .map(|c| c.change_id)
        .collect();
    assert_eq!(changes, ["c0", "c1", "c2", "c3", "c4"]);
    let events = store.backend.events().unwrap();
    assert_eq!(events[4], event("e4", "c4"));
}

fn writers_are_serialised(store: TestStore) {
    let backend = Arc::clone(&store.backend);
    let mut txn = backend.begin().unwrap();
    txn.set("s", "counter", b"1").unwrap();
    let other = Arc::clone(&backend);
    let waiter = std::thread::spawn(move || {
        let mut txn = other.begin().unwrap();
        let seen = txn.get("s", "counter").unwrap();
        txn.set("s", "counter", b"2").unwrap();
        txn.commit().unwrap();
        seen
    });
    std::thread::sleep(std::time::Duration::from_millis(50));
    txn.commit().unwrap();
    assert_eq!(waiter.join().unwrap(), Some(b"1".to_vec()));
}

on_every_backend!(
    get_set_delete,
    scans_are_ordered_by_bytes_and_paged_by_cursor,
    uncommitted_transactions_roll_back,
    savepoints_roll_back_only_what_followed_them,
    logs_keep_their_order,
    writers_are_serialised,
);

#[test]
fn a_sqlite_store_keeps_runs_across_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested").join("store.sqlite3");
    let id = {
        let harness = harness_on(Arc::new(SqliteBackend::open(&path).unwrap()));
        external_id(&run_ok(
            &harness,
            "set_system",
            json!({"systemId": "db-1", "durationMinutes": 30}),
        ))
    };
    // A second process draws other ids: a seed repeats its ids, so a
    // seeded harness is for fresh stores only.
    let harness = Harness::builder()
        .backend(Arc::new(SqliteBackend::open(&path).unwrap()))
        .fixed_clock(now())
        .seed(8)
        .with_plugin(plugin());
    let outcome = run_ok(&harness, "clear_system", json!({"systemId": "db-1"}));
    assert_eq!(artifact(&outcome)["closedMaintenanceIds"], json!([id]));
    let changes = harness.backend().changes().unwrap();
    assert_eq!(changes.len(), 2);
    assert_eq!(harness.backend().events().unwrap().len(), 2);
}
