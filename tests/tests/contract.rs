//! Contract versions: the host reads which `checkstack:automation` a
//! component was built for before linking it, serves the current 0.3 and
//! the frozen 0.2 through their own adapters, and refuses anything else
//! with one line.

use std::path::Path;
use std::sync::Arc;

use automation_harness::wasm::version::ContractVersion;
use automation_harness::{Harness, Plugin, RunRequest};
use integration_tests::*;
use serde_json::json;

const CONTRACT_0_2_WASM: &str = env!("CONTRACT_0_2_PLUGIN_WASM");
const CONTRACT_0_1_WASM: &str = env!("CONTRACT_0_1_PLUGIN_WASM");
const CONTRACT_0_3_0_WASM: &str = env!("CONTRACT_0_3_0_PLUGIN_WASM");
const CONTRACT_0_3_2_WASM: &str = env!("CONTRACT_0_3_2_PLUGIN_WASM");

fn legacy_on(store: &TestStore) -> Harness {
    let engine = automation_harness::default_engine().unwrap();
    Harness::builder()
        .backend(Arc::clone(&store.backend))
        .fixed_clock(now())
        // Not the seed of `TestStore::harness`: two harnesses drawing the
        // same ids on one store would collide.
        .seed(0x1e6ac7)
        .with_plugin(load(&engine, Path::new(CONTRACT_0_2_WASM)))
}

#[test]
fn a_component_of_a_retired_version_is_refused_with_one_line() {
    let engine = automation_harness::default_engine().unwrap();
    let error = Plugin::load(&engine, Path::new(CONTRACT_0_1_WASM))
        .err()
        .expect("a 0.1.0 component is refused");
    let message = format!("{error:#}");
    assert!(
        message.contains(
            "plugin built for checkstack:automation@0.1.0; this host serves 0.2.x, 0.3.x ("
        ),
        "{message}"
    );
    assert!(!message.contains('\n'), "one line: {message}");
    // Refused by version, not by a link error after the fact.
    assert!(!message.contains("does not link"), "{message}");
}

#[test]
fn each_component_is_served_by_the_adapter_of_its_version() {
    let engine = automation_harness::default_engine().unwrap();
    assert_eq!(plugin().contract_version(), ContractVersion::V0_3);
    let legacy = load(&engine, Path::new(CONTRACT_0_2_WASM));
    assert_eq!(legacy.contract_version(), ContractVersion::V0_2);
    assert_eq!(legacy.contract(), "checkstack:automation@0.2.0");
    assert_eq!(plugin().contract(), "checkstack:automation@0.3.1");
    assert!(
        legacy
            .catalog()
            .imports
            .contains(&"checkstack:automation/storage@0.2.0".to_owned()),
        "{:?}",
        legacy.catalog().imports
    );
}

fn a_0_2_plugin_runs_as_it_always_did(store: TestStore) {
    let harness = legacy_on(&store);
    let outcome = run_ok(&harness, "put", json!({"key": "a", "v": "one"}));
    assert_eq!(external_id(&outcome), "a");
    assert_eq!(log_messages(&outcome), ["stored a"]);
    assert_eq!(outcome.changes.len(), 1);
    assert_eq!(outcome.changes[0].next, Some(json!({"v": "one"})));
    // Its deriver spells its own prefix, which 0.2 allowed.
    assert_eq!(outcome.events.len(), 1);
    assert_eq!(outcome.events[0].trigger, "legacy.stored");
    assert_eq!(outcome.events[0].payload, json!({"v": "one"}));

    let second = run_ok(&harness, "put", json!({"key": "a", "v": "two"}));
    assert_eq!(second.changes[0].prev, Some(json!({"v": "one"})));
    assert_eq!(second.changes[0].changed_fields, ["v"]);

    // Where 0.3 says `not-permitted`, a 0.2 plugin hears the only case it
    // knows, and nothing is written.
    let before = store.backend.snapshot().unwrap();
    let outcome = harness
        .run(RunRequest::new("write_without_mutation", json!({})))
        .unwrap();
    let failure = outcome.result.expect_err("the write is refused");
    assert_eq!(failure.kind(), "internal");
    assert_eq!(
        failure.message(),
        "StorageError::Unavailable(\"writes need an open entity mutation\")"
    );
    assert_eq!(store.backend.snapshot().unwrap(), before);
}

fn a_0_2_and_a_0_3_plugin_share_a_store(store: TestStore) {
    let legacy = legacy_on(&store);
    let maintenance = store.harness();
    run_ok(&legacy, "put", json!({"key": "a", "v": "one"}));
    let window = run_ok(&maintenance, "create", create_config(&["db-1"]));
    assert_eq!(window.events[0].trigger, "maintenance.created");
    let snapshot = store.backend.snapshot().unwrap();
    assert_eq!(snapshot.spaces["plugin/legacy"]["raw/a"], b"one");
    assert_eq!(
        snapshot.spaces["entity/legacy"]["item/a"],
        br#"{"v":"one"}"#
    );
    assert!(snapshot.spaces.contains_key("entity/maintenance"));
    assert_eq!(snapshot.changes.len(), 2);
}

/// A patch release is served by its minor's track: a component built
/// against 0.3.0 links against the host's 0.3.1 bindings and runs; it
/// answers no queries (0.3.1 added them), and asking is a usage error.
fn a_0_3_patch_release_is_served_as_0_3(store: TestStore) {
    let engine = automation_harness::default_engine().unwrap();
    let patched = load(&engine, Path::new(CONTRACT_0_3_0_WASM));
    assert_eq!(patched.contract_version(), ContractVersion::V0_3);
    assert_eq!(patched.contract(), "checkstack:automation@0.3.0");
    assert!(patched.catalog().queries.is_empty());
    let harness = Harness::builder()
        .backend(Arc::clone(&store.backend))
        .fixed_clock(now())
        .with_plugin(patched);
    let outcome = run_ok(&harness, "put", json!({"key": "a", "v": "one"}));
    assert_eq!(outcome.changes[0].next, Some(json!({"v": "one"})));
    assert_eq!(outcome.events[0].trigger, "patched.stored");
    // And it hears 0.3's answers.
    let outcome = harness
        .run(RunRequest::new("write_without_mutation", json!({})))
        .unwrap();
    assert_eq!(
        outcome.result.expect_err("refused").message(),
        "StorageError::NotPermitted(\"writes need an open entity mutation\")"
    );
    let error = harness
        .query(automation_harness::QueryRequest::new("get", json!({})))
        .expect_err("no queries");
    let unknown = error
        .downcast_ref::<automation_harness::UnknownQuery>()
        .expect("a usage error");
    assert_eq!(unknown.known, "(none)");
}

/// A later patch than the host's is served too, queries included: its
/// `queries@0.3.2` export is found under the version it names.
fn a_later_0_3_patch_answers_its_queries(store: TestStore) {
    let engine = automation_harness::default_engine().unwrap();
    let later = load(&engine, Path::new(CONTRACT_0_3_2_WASM));
    assert_eq!(later.contract_version(), ContractVersion::V0_3);
    assert_eq!(later.contract(), "checkstack:automation@0.3.2");
    assert_eq!(
        later.catalog().query_infos().next().unwrap().id,
        "later.raw"
    );
    let harness = Harness::builder()
        .backend(Arc::clone(&store.backend))
        .fixed_clock(now())
        .seed(0x1a7e)
        .with_plugin(later);
    run_ok(&harness, "put", json!({"key": "a", "v": "one"}));
    let answer = harness
        .query(automation_harness::QueryRequest::new(
            "raw",
            json!({"key": "a"}),
        ))
        .unwrap();
    assert_eq!(answer.result.unwrap(), json!({"v": "one"}));
}

/// Two plugins declaring one local id: the local id is ambiguous and
/// refused, each qualified id reaches its own plugin; and a 0.2 and a 0.3
/// component run side by side in one host.
fn a_local_id_two_plugins_declare_must_be_qualified(store: TestStore) {
    let engine = automation_harness::default_engine().unwrap();
    let host = Harness::builder()
        .backend(Arc::clone(&store.backend))
        .fixed_clock(now())
        .with_plugins(vec![
            load(&engine, Path::new(CONTRACT_0_2_WASM)),
            load(&engine, Path::new(CONTRACT_0_3_0_WASM)),
        ])
        .unwrap();
    let before = store.backend.snapshot().unwrap();
    let error = host
        .run(RunRequest::new("put", json!({"key": "a", "v": "one"})))
        .expect_err("ambiguous");
    let unknown = error
        .downcast_ref::<automation_harness::UnknownAction>()
        .expect("a usage error");
    assert_eq!(
        unknown.known,
        "legacy.put and patched.put both declare it: qualify it"
    );
    assert_eq!(store.backend.snapshot().unwrap(), before);

    let legacy = host
        .run(RunRequest::new(
            "legacy.put",
            json!({"key": "a", "v": "one"}),
        ))
        .unwrap();
    let patched = host
        .run(RunRequest::new(
            "patched.put",
            json!({"key": "a", "v": "two"}),
        ))
        .unwrap();
    assert_eq!(legacy.events[0].trigger, "legacy.stored");
    assert_eq!(patched.events[0].trigger, "patched.stored");
    // One key, two plugins: two entities, each created.
    assert_eq!(legacy.changes[0].prev, None);
    assert_eq!(patched.changes[0].prev, None);
}

on_every_backend!(
    a_later_0_3_patch_answers_its_queries,
    a_local_id_two_plugins_declare_must_be_qualified,
    a_0_3_patch_release_is_served_as_0_3,
    a_0_2_plugin_runs_as_it_always_did,
    a_0_2_and_a_0_3_plugin_share_a_store,
);
