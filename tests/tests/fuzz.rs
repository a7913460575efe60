//! Arbitrary JSON thrown at every action: the host never panics or traps,
//! and after each run either the run succeeded or the store is byte for
//! byte what it was.

use std::sync::Arc;

use automation_harness::{Backend, MemoryBackend, RunRequest};
use integration_tests::*;
use proptest::prelude::*;
use serde_json::{Map, Value, json};

const ACTIONS: &[&str] = &[
    "create",
    "update",
    "add_update",
    "set_system",
    "clear_system",
];
const FIELDS: &[&str] = &[
    "title",
    "description",
    "systemIds",
    "startAt",
    "endAt",
    "suppressNotifications",
    "maintenanceId",
    "message",
    "statusChange",
    "systemId",
    "durationMinutes",
    "other",
];

fn arbitrary_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        "\\PC{0,12}".prop_map(Value::String),
        prop_oneof![
            Just("2026-03-01T10:00:00Z"),
            Just("2026-03-01T09:00:00+02:00"),
            Just("scheduled"),
            Just("completed"),
            Just("db-1"),
            Just(""),
        ]
        .prop_map(|s| Value::String(s.into())),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("\\PC{0,8}", inner, 0..6)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

/// Configs shaped like the real ones, with arbitrary values, so runs get
/// past the first check more often than wholly random JSON would.
fn config_like() -> impl Strategy<Value = Value> {
    prop::collection::btree_map(prop::sample::select(FIELDS), arbitrary_json(), 0..7).prop_map(
        |fields| {
            Value::Object(
                fields
                    .into_iter()
                    .map(|(key, value)| (key.to_owned(), value))
                    .collect::<Map<String, Value>>(),
            )
        },
    )
}

fn check(action: &str, config: Value) -> Result<(), TestCaseError> {
    let backend: Arc<dyn Backend> = Arc::new(MemoryBackend::new());
    let harness = harness_on(Arc::clone(&backend));
    let id = external_id(&run_ok(
        &harness,
        "set_system",
        json!({"systemId": "db-1", "durationMinutes": 30}),
    ));
    // Point id-shaped fields at the real window half the time.
    let config = match config {
        Value::Object(mut object)
            if object.contains_key("maintenanceId") && object.len() % 2 == 0 =>
        {
            object.insert("maintenanceId".into(), json!(id));
            Value::Object(object)
        }
        other => other,
    };
    let before = backend.snapshot().unwrap();
    let outcome = harness
        .run(RunRequest::new(action, config.clone()))
        .map_err(|error| TestCaseError::fail(format!("{action} {config}: host error {error:#}")))?;
    if !outcome.is_ok() {
        prop_assert_eq!(
            backend.snapshot().unwrap(),
            before,
            "{} {} changed the store",
            action,
            config
        );
        prop_assert!(outcome.events.is_empty());
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn any_json_at_any_action_fails_cleanly_or_succeeds(
        action in prop::sample::select(ACTIONS),
        config in arbitrary_json(),
    ) {
        check(action, config)?;
    }

    #[test]
    fn config_shaped_json_fails_cleanly_or_succeeds(
        action in prop::sample::select(ACTIONS),
        config in config_like(),
    ) {
        check(action, config)?;
    }
}
