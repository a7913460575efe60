use serde_json::{Value, json};

use super::*;
use crate::catalog::{ActionDefinition, ArtifactType, EntityKind, TriggerDefinition};
use crate::entity::mutate;
use crate::host::{Host, MAX_ENTITY_ID_BYTES, MAX_KEY_BYTES};
use crate::storage::StorageExt;

fn host() -> TestHost {
    TestHost::new().with_kind("thing")
}

fn options() -> MutationOptions {
    MutationOptions::default()
}

#[test]
fn writes_need_an_open_mutation_and_reads_do_not() {
    let host = host();
    let refused = Err(StorageError::NotPermitted(
        "writes need an open entity mutation".into(),
    ));
    assert_eq!(host.set("a", b"1"), refused);
    assert_eq!(host.delete("a").map(|_| ()), refused);
    assert_eq!(host.get("a"), Ok(None));
    let mutation = host.open("thing", "t", &options()).unwrap();
    host.set("a", b"1").unwrap();
    mutation.abandon().unwrap();
    assert_eq!(host.set("a", b"1"), refused);
}

#[test]
fn prev_is_the_hosts_record_and_an_unchanged_commit_records_nothing() {
    let host = host();
    let first = host.open("thing", "t", &options()).unwrap();
    assert_eq!(first.prev(), None);
    let receipt = first
        .commit(Some(json!({"a": 1, "b": 2})))
        .unwrap()
        .unwrap();
    assert_eq!(receipt.changed_fields, ["a", "b"]);
    assert_eq!(receipt.occurred_at, TEST_NOW);

    let second = host.open("thing", "t", &options()).unwrap();
    assert_eq!(second.prev(), Some(json!({"a": 1, "b": 2})));
    assert_eq!(second.commit(Some(json!({"b": 2, "a": 1}))).unwrap(), None);

    let third = host.open("thing", "t", &options()).unwrap();
    let receipt = third
        .commit(Some(json!({"a": 1, "c": 3})))
        .unwrap()
        .unwrap();
    assert_eq!(receipt.changed_fields, ["b", "c"]);

    let changes = host.changes();
    assert_eq!(changes.len(), 2);
    assert_eq!(changes[1].prev, Some(json!({"a": 1, "b": 2})));
    assert_eq!(changes[1].change_id, receipt.change_id);
    assert_ne!(changes[0].change_id, changes[1].change_id);
    assert_eq!(host.state("thing", "t"), Some(json!({"a": 1, "c": 3})));

    let deletion = host.open("thing", "t", &options()).unwrap();
    deletion.commit(None).unwrap().unwrap();
    assert_eq!(host.state("thing", "t"), None);
    assert_eq!(host.changes()[2].next, None);
}

#[test]
fn abandoning_rolls_back_only_the_writes_since_open() {
    let host = host();
    host.put_raw("kept", b"0");
    let mutation = host.open("thing", "t", &options()).unwrap();
    host.set("kept", b"changed").unwrap();
    host.set("new", b"1").unwrap();
    host.delete("kept").unwrap();
    mutation.abandon().unwrap();
    assert_eq!(host.keys(), ["kept"]);
    assert_eq!(host.get_raw("kept"), Some(b"0".to_vec()));
    assert!(host.changes().is_empty());
}

#[test]
fn dropping_an_open_mutation_rolls_back_and_is_a_violation() {
    let host = host();
    {
        let _mutation = host.open("thing", "t", &options()).unwrap();
        host.set("a", b"1").unwrap();
    }
    assert!(host.keys().is_empty());
    assert_eq!(
        host.protocol_violations(),
        ["the mutation of thing/t was dropped while open"]
    );
    // The host is usable again.
    host.open("thing", "u", &options())
        .unwrap()
        .abandon()
        .unwrap();
}

#[test]
fn one_mutation_opens_at_a_time_of_a_declared_kind_and_valid_id() {
    let host = host();
    let open = host.open("thing", "t", &options()).unwrap();
    assert_eq!(
        host.open("thing", "u", &options()).err(),
        Some(EntityError::AlreadyOpen("thing/t".into()))
    );
    open.abandon().unwrap();
    assert_eq!(
        host.open("gadget", "t", &options()).err(),
        Some(EntityError::UnknownKind("gadget".into()))
    );
    assert!(matches!(
        host.open("thing", "", &options()).err(),
        Some(EntityError::InvalidId(_))
    ));
    let long = "x".repeat(MAX_ENTITY_ID_BYTES + 1);
    assert!(matches!(
        host.open("thing", &long, &options()).err(),
        Some(EntityError::InvalidId(_))
    ));
    assert!(
        host.open("thing", &long[1..], &options())
            .unwrap()
            .abandon()
            .is_ok()
    );
}

#[test]
fn states_are_objects_and_pass_the_state_check() {
    let host = host().with_state_check(|kind, state| {
        if state["n"].is_u64() {
            Vec::new()
        } else {
            vec![format!("{kind}: /n must be a whole number")]
        }
    });
    let mutation = host.open("thing", "t", &options()).unwrap();
    assert_eq!(
        mutation.commit(Some(json!([1]))),
        Err(EntityError::InvalidState(vec![
            ": must be a JSON object".into()
        ]))
    );
    // A failed commit leaves the mutation open, then dropped: a violation.
    assert_eq!(host.protocol_violations().len(), 1);
    let mutation = host.open("thing", "t", &options()).unwrap();
    assert_eq!(
        mutation.commit(Some(json!({"n": "x"}))),
        Err(EntityError::InvalidState(vec![
            "thing: /n must be a whole number".into()
        ]))
    );
    let mutation = host.open("thing", "t", &options()).unwrap();
    assert!(mutation.commit(Some(json!({"n": 1}))).unwrap().is_some());
}

#[test]
fn keys_and_values_are_bounded_like_the_hosts() {
    let host = host().with_writes_outside_mutations();
    assert!(matches!(host.get(""), Err(StorageError::InvalidKey(_))));
    let longest = "k".repeat(MAX_KEY_BYTES);
    host.set(&longest, b"").unwrap();
    assert!(matches!(
        host.set(&format!("{longest}k"), b""),
        Err(StorageError::InvalidKey(_))
    ));
    assert_eq!(
        host.set("big", &vec![0; MAX_VALUE_BYTES + 1]),
        Err(StorageError::ValueTooLarge(MAX_VALUE_BYTES as u64))
    );
    host.set("big", &vec![0; MAX_VALUE_BYTES]).unwrap();
}

#[test]
fn scans_page_in_key_order_within_the_prefix() {
    let host = host();
    for key in ["a/1", "a/2", "a/3", "a0", "b/1", "a/"] {
        host.put_raw(key, key.as_bytes());
    }
    let page = host.scan("a/", 2, None).unwrap();
    let keys: Vec<&str> = page.entries.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["a/", "a/1"]);
    let page = host.scan("a/", 2, page.next_cursor.as_deref()).unwrap();
    let keys: Vec<&str> = page.entries.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["a/2", "a/3"]);
    assert_eq!(page.next_cursor, None);
    // A limit of 0 reads one entry, as the host serves it.
    assert_eq!(host.scan("a/", 0, None).unwrap().entries.len(), 1);
    assert_eq!(host.scan("", 5000, None).unwrap().entries.len(), 6);
}

#[test]
fn the_clock_stands_still_and_ids_are_numbered_and_seeded() {
    let host = TestHost::new();
    assert_eq!(host.now().to_string(), TEST_NOW);
    assert_eq!(host.now(), host.now());
    host.advance_minutes(90);
    assert_eq!(host.now().to_string(), "2026-03-01T11:30:00.000Z");
    host.set_now("2030-01-01T00:00:00+01:00");
    assert_eq!(host.now().to_string(), "2029-12-31T23:00:00.000Z");
    assert_eq!(host.new_id(), "00000000-0000-4000-8000-000000000001");
    assert_eq!(host.new_id(), "00000000-0000-4000-8000-000000000002");
    let seeded = TestHost::new().with_id_seed(0xbeef);
    assert_eq!(seeded.new_id(), "0000beef-0000-4000-8000-000000000001");
}

#[test]
fn logs_keep_their_level() {
    let host = TestHost::new();
    host.info("one");
    host.warn("two");
    host.log(Level::Trace, "three");
    assert_eq!(
        host.logs(),
        [
            LogLine {
                level: Level::Info,
                message: "one".into()
            },
            LogLine {
                level: Level::Warn,
                message: "two".into()
            },
            LogLine {
                level: Level::Trace,
                message: "three".into()
            },
        ]
    );
    assert_eq!(host.log_messages(), ["one", "two", "three"]);
}

/// A plugin whose actions misbehave on request.
#[derive(Default)]
struct Probe;

impl Plugin for Probe {
    fn catalog(&self) -> PluginDefinition {
        let mut catalog = PluginDefinition::new("probe", "0.0.0");
        catalog.entity_kinds.push(EntityKind {
            kind: "thing",
            state_schema: "{}",
        });
        catalog.actions.push(ActionDefinition {
            id: "write",
            display_name: "Write",
            description: "Writes",
            category: "Test",
            icon: "Box",
            config_version: 1,
            config_schema: "{}",
            produces: None,
        });
        catalog.triggers.push(TriggerDefinition {
            id: "written",
            display_name: "Written",
            description: "Written",
            category: "Test",
            icon: "Box",
            payload_schema: "{}",
            context_key: Some("id"),
            entity_kind: Some("thing"),
        });
        catalog.actions.push(ActionDefinition {
            id: "report",
            display_name: "Report",
            description: "Reports",
            category: "Test",
            icon: "Box",
            config_version: 1,
            config_schema: "{}",
            produces: Some("report"),
        });
        catalog.artifact_types.push(ArtifactType {
            id: "report",
            name: "Report",
            description: "A report",
            schema: "{}",
        });
        catalog
    }

    fn run_action<H: Host>(
        &self,
        host: &H,
        action: &str,
        config: &Value,
        context: &RunContext,
    ) -> Result<ActionSuccess, ActionError> {
        host.info(action);
        let id = config["id"].as_str().unwrap_or("t");
        match action {
            "write" | "fail" | "fire" => {
                mutate(
                    host,
                    "thing",
                    id,
                    &context.mutation_options(),
                    |_: Option<Value>| {
                        host.set_json(&format!("thing/{id}"), config)?;
                        Ok::<_, ActionError>(Some(json!({"id": id, "n": config["n"]})))
                    },
                )?;
                if action == "fail" {
                    return Err(ActionError::NotFound("after writing".into()));
                }
                Ok(with_artifact(config))
            }
            "report" => Ok(with_artifact(config)),
            "drop" | "drop_then_fail" | "leave_open_then_fail" => {
                let open = host
                    .open("thing", id, &context.mutation_options())
                    .map_err(|error| ActionError::Internal(error.to_string()))?;
                host.set_json(&format!("thing/{id}"), config)?;
                match action {
                    "drop" => {
                        drop(open);
                        Ok(ActionSuccess::default())
                    }
                    "drop_then_fail" => {
                        drop(open);
                        Err(ActionError::NotFound("after dropping".into()))
                    }
                    _ => {
                        std::mem::forget(open);
                        Err(ActionError::NotFound("with a mutation open".into()))
                    }
                }
            }
            "other_run" => {
                let options = MutationOptions {
                    run_id: Some("someone-else".into()),
                    actor: None,
                };
                host.open("thing", id, &options)
                    .map(|_| ActionSuccess::default())
                    .map_err(|error| ActionError::Internal(error.to_string()))
            }
            other => Err(ActionError::NotFound(other.into())),
        }
    }

    fn derive(&self, change: &EntityChange) -> Result<Vec<TriggerEvent>, String> {
        let next = change.next.clone().unwrap_or_default();
        if change.id.starts_with("keyless") {
            return Ok(vec![TriggerEvent {
                trigger_id: "written".into(),
                payload: next,
                context_key: None,
            }]);
        }
        match next["id"].as_str() {
            Some("qualified") => Ok(vec![TriggerEvent::new("probe.written", next, "q")]),
            Some("broken") => Err("cannot read it".into()),
            _ => Ok(vec![TriggerEvent::new("written", next, change.id.clone())]),
        }
    }
}

/// The success of a Probe action: with an artifact when the config asks
/// for one.
fn with_artifact(config: &Value) -> ActionSuccess {
    if config["artifact"] == true {
        ActionSuccess::new("a", json!({"made": true}))
    } else {
        ActionSuccess::default()
    }
}

#[test]
fn a_run_records_its_changes_and_derives_their_events() {
    let host = TestHost::for_plugin(&Probe);
    let run = host.run(&Probe, "write", json!({"n": 1}));
    assert_eq!(run.result, Ok(ActionSuccess::default()));
    assert_eq!(run.run_id, "run-1");
    assert_eq!(run.changes.len(), 1);
    assert_eq!(run.changes[0].options.run_id.as_deref(), Some("run-1"));
    assert_eq!(
        run.events,
        [TriggerEvent::new(
            "written",
            json!({"id": "t", "n": 1}),
            "t"
        )]
    );
    assert_eq!(run.log_messages(), ["write"]);
    assert_eq!(host.derive(&Probe).unwrap(), run.events);
    let same = host.run(&Probe, "write", json!({"n": 1}));
    assert_eq!(same.run_id, "run-2");
    assert!(same.changes.is_empty() && same.events.is_empty());
}

#[test]
fn a_failed_run_leaves_nothing_but_its_logs() {
    let host = TestHost::for_plugin(&Probe);
    host.run(&Probe, "write", json!({"n": 1}));
    let before = host.snapshot();
    let run = host.run(&Probe, "fail", json!({"n": 2}));
    assert_eq!(
        run.result,
        Err(ActionError::NotFound("after writing".into()))
    );
    assert!(run.changes.is_empty() && run.events.is_empty());
    assert_eq!(run.log_messages(), ["fail"]);
    assert_eq!(host.snapshot(), before);
    assert_eq!(host.changes().len(), 1);
}

#[test]
fn the_host_fails_runs_that_break_the_protocol_or_fire_undeclared_triggers() {
    let host = TestHost::for_plugin(&Probe);
    host.run(&Probe, "write", json!({"n": 1}));
    let before = host.snapshot();
    let context = RunContext::new("r");
    for (action, config, expected) in [
        ("drop", json!({}), "dropped while open"),
        ("fire", json!({"id": "qualified"}), "\"probe.written\""),
        ("fire", json!({"id": "broken"}), "cannot read it"),
    ] {
        let error = host.try_run(&Probe, action, &config, &context).unwrap_err();
        assert!(error.contains(expected), "{action}: {error}");
        assert_eq!(host.snapshot(), before, "{action}");
        assert_eq!(host.changes().len(), 1, "{action}");
    }
    let run = host.run(&Probe, "other_run", json!({}));
    assert!(
        matches!(&run.result, Err(ActionError::Internal(m)) if m.contains("is not the current run")),
        "{:?}",
        run.result
    );
}

#[test]
#[should_panic(expected = "the host failed the run of drop")]
fn run_panics_on_a_host_failure() {
    TestHost::for_plugin(&Probe).run(&Probe, "drop", json!({}));
}

#[test]
fn jobs_default_to_none() {
    let host = TestHost::for_plugin(&Probe);
    let run = host.run_job(&Probe, "tick", Actor::system()).unwrap();
    assert_eq!(
        run.result,
        Err(ActionError::NotFound(
            "Unknown job: tick; this plugin has no jobs".into()
        ))
    );
}

#[test]
fn a_scan_whose_cursor_sorts_before_the_prefix_starts_at_the_prefix() {
    let host = host();
    for key in ["a/1", "a/2", "b/1", "b/2", "b/3", "c/1"] {
        host.put_raw(key, key.as_bytes());
    }
    let keys = |page: Page| -> Vec<String> { page.entries.into_iter().map(|(k, _)| k).collect() };
    // As the host's backends (backend/memory.rs, backend/sqlite.rs): the
    // scan starts at max(prefix, just past the cursor).
    for cursor in ["a/1", "a", "", "0"] {
        assert_eq!(
            keys(host.scan("b/", 10, Some(cursor)).unwrap()),
            ["b/1", "b/2", "b/3"],
            "cursor {cursor:?}"
        );
    }
    let page = host.scan("b/", 2, Some("a/2")).unwrap();
    assert_eq!(page.next_cursor.as_deref(), Some("b/2"));
    assert_eq!(keys(page), ["b/1", "b/2"]);
    // A cursor inside the prefix is excluded, one past it ends the scan.
    assert_eq!(
        keys(host.scan("b/", 10, Some("b/1")).unwrap()),
        ["b/2", "b/3"]
    );
    assert_eq!(
        keys(host.scan("b/", 10, Some("b/~")).unwrap()),
        Vec::<String>::new()
    );
    assert_eq!(
        keys(host.scan("b/", 10, Some("c")).unwrap()),
        Vec::<String>::new()
    );
}

#[test]
fn a_failed_run_is_the_plugins_failure_whatever_it_did_with_its_mutations() {
    // The host returns the plugin's `Err` before it checks for a mutation
    // dropped or left open (run/pipeline.rs), and rolls the run back.
    let host = TestHost::for_plugin(&Probe);
    host.run(&Probe, "write", json!({"n": 1}));
    let before = host.snapshot();
    let context = RunContext::new("r");
    for (action, expected) in [
        ("drop_then_fail", "after dropping"),
        ("leave_open_then_fail", "with a mutation open"),
    ] {
        let run = host
            .try_run(&Probe, action, &json!({"id": "u"}), &context)
            .unwrap_or_else(|error| panic!("{action}: the host failed the run: {error}"));
        assert_eq!(
            run.result,
            Err(ActionError::NotFound(expected.into())),
            "{action}"
        );
        assert!(run.changes.is_empty() && run.events.is_empty(), "{action}");
        assert_eq!(run.log_messages(), [action]);
        assert_eq!(host.snapshot(), before, "{action}");
        assert_eq!(host.protocol_violations(), Vec::<String>::new(), "{action}");
        // Nothing is left open.
        host.open("thing", "v", &options())
            .unwrap()
            .abandon()
            .unwrap();
    }
    // The same drop in a run that succeeds is the host's failure.
    let error = host
        .try_run(&Probe, "drop", &json!({"id": "u"}), &context)
        .unwrap_err();
    assert!(error.contains("dropped while open"), "{error}");
    assert_eq!(host.snapshot(), before);
}

#[test]
fn an_artifact_is_returned_exactly_when_the_action_declares_one() {
    let host = TestHost::for_plugin(&Probe);
    let context = RunContext::new("r");
    let before = host.snapshot();
    let error = host
        .try_run(&Probe, "write", &json!({"artifact": true}), &context)
        .unwrap_err();
    assert_eq!(
        error,
        "action write returned an artifact but declares no artifact type"
    );
    assert_eq!(host.snapshot(), before, "the run is rolled back");
    assert!(host.changes().is_empty());
    let error = host
        .try_run(&Probe, "report", &json!({}), &context)
        .unwrap_err();
    assert_eq!(
        error,
        "action report returned no artifact but declares report"
    );
    let run = host.run(&Probe, "report", json!({"artifact": true}));
    assert_eq!(
        run.result,
        Ok(ActionSuccess::new("a", json!({"made": true})))
    );
    assert!(host.run(&Probe, "write", json!({})).result.is_ok());
}

#[test]
fn events_without_a_context_key_get_the_field_their_trigger_names() {
    let host = TestHost::for_plugin(&Probe);
    // Probe's deriver gives no context key for an entity `keyless*`.
    let run = host.run(&Probe, "write", json!({"id": "keyless-1"}));
    assert_eq!(run.events.len(), 1);
    assert_eq!(run.events[0].context_key.as_deref(), Some("keyless-1"));
    assert_eq!(
        host.derive(&Probe).unwrap()[0].context_key.as_deref(),
        Some("keyless-1")
    );
    // A field that is not a string gives no key, as on the host.
    let change = RecordedChange {
        next: Some(json!({"id": 7})),
        ..host.changes()[0].clone()
    };
    let events = host.derive_change(&Probe, &change).unwrap();
    assert_eq!(events[0].context_key, None);
    // A key the deriver gives is kept.
    let run = host.run(&Probe, "write", json!({"id": "k2"}));
    assert_eq!(run.events[0].context_key.as_deref(), Some("k2"));
}
