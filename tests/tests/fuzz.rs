//! Configs thrown at every action of one store that grows as the cases
//! run: valid configs with exactly one field broken (or none), and
//! arbitrary JSON. The host never errors; a config the action's schema
//! refuses is refused by the host with exactly the schema's problems;
//! a success leaves an artifact of its declared type, one event per change
//! and an unbroken change chain in the whole store; a failure leaves the
//! store exactly as it was. Enough cases get past the host's schema check
//! to reach the plugin, or the rest would prove little.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::time::Instant;

use automation_harness::{Harness, RunOutcome, RunRequest, StoreSnapshot};
use chrono::{Duration, FixedOffset, SecondsFormat};
use integration_tests::*;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Map, Value, json};

/// Cases per store; each is a run plus two snapshots of the store.
const CASES: u32 = 256;

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
const STATUSES: &[&str] = &["scheduled", "in_progress", "completed", "cancelled"];
/// Few systems, so windows pile up on them and `clear_system` closes
/// several at once.
const SYSTEMS: &[&str] = &["db-1", "db-2", "db-3", "db-4"];
/// Stands for the id of the `n`th window in the store (modulo their
/// number), resolved when the case runs.
const WINDOW_MARK: &str = "@window:";

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

/// Objects with the real field names and arbitrary values.
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

// Valid values.

fn text() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!("Database upgrade")),
        "[A-Za-z0-9][A-Za-z0-9 .,-]{0,24}".prop_map(Value::String),
        "[a-z]\\PC{0,10}".prop_map(Value::String),
    ]
}

fn system() -> impl Strategy<Value = Value> {
    prop::sample::select(SYSTEMS).prop_map(|s| json!(s))
}

fn systems() -> impl Strategy<Value = Value> {
    prop::collection::vec(prop::sample::select(SYSTEMS), 1..4).prop_map(|ids| json!(ids))
}

fn window() -> impl Strategy<Value = Value> {
    (0usize..64).prop_map(|n| json!(format!("{WINDOW_MARK}{n}")))
}

/// `minutes` after the tests' clock, written in one of the ways RFC 3339
/// allows.
fn instant_text(minutes: i64, style: u8) -> String {
    let at = now() + Duration::minutes(minutes);
    match style % 3 {
        0 => at.to_rfc3339_opts(SecondsFormat::Secs, true),
        1 => at.to_rfc3339_opts(SecondsFormat::Millis, true),
        _ => at
            .with_timezone(&FixedOffset::east_opt(5 * 3600 + 1800).expect("a valid offset"))
            .to_rfc3339_opts(SecondsFormat::Secs, false),
    }
}

/// A start and an end after it.
fn window_times() -> impl Strategy<Value = (Value, Value)> {
    (-3000i64..3000, 1i64..3000, any::<u8>(), any::<u8>()).prop_map(
        |(start, length, style_a, style_b)| {
            (
                json!(instant_text(start, style_a)),
                json!(instant_text(start + length, style_b)),
            )
        },
    )
}

/// Some of the optional fields, each present or not.
fn optional(
    fields: Vec<(&'static str, BoxedStrategy<Value>)>,
) -> BoxedStrategy<Map<String, Value>> {
    let present: Vec<_> = fields
        .into_iter()
        .map(|(name, value)| prop::option::of(value).prop_map(move |value| (name, value)))
        .collect();
    present
        .prop_map(|fields| {
            fields
                .into_iter()
                .filter_map(|(name, value)| Some((name.to_owned(), value?)))
                .collect()
        })
        .boxed()
}

fn object(required: Vec<(&'static str, Value)>, mut rest: Map<String, Value>) -> Value {
    for (name, value) in required {
        rest.insert(name.to_owned(), value);
    }
    Value::Object(rest)
}

/// A config the action accepts, but for what the store holds (an update
/// may reverse its window, or name a window that is gone).
fn valid_config(action: &'static str) -> BoxedStrategy<Value> {
    let description = || text().boxed();
    let suppress = || any::<bool>().prop_map(Value::Bool).boxed();
    match action {
        "create" => (
            text(),
            systems(),
            window_times(),
            optional(vec![
                ("description", description()),
                ("suppressNotifications", suppress()),
            ]),
        )
            .prop_map(|(title, systems, (start, end), rest)| {
                object(
                    vec![
                        ("title", title),
                        ("systemIds", systems),
                        ("startAt", start),
                        ("endAt", end),
                    ],
                    rest,
                )
            })
            .boxed(),
        "update" => (
            window(),
            prop::option::of(window_times()),
            optional(vec![
                ("title", text().boxed()),
                ("description", description()),
                ("systemIds", systems().boxed()),
                ("suppressNotifications", suppress()),
            ]),
        )
            .prop_map(|(id, times, mut rest)| {
                if let Some((start, end)) = times {
                    rest.insert("startAt".into(), start);
                    rest.insert("endAt".into(), end);
                }
                object(vec![("maintenanceId", id)], rest)
            })
            .boxed(),
        "add_update" => (
            window(),
            text(),
            optional(vec![(
                "statusChange",
                prop::sample::select(STATUSES)
                    .prop_map(|s| json!(s))
                    .boxed(),
            )]),
        )
            .prop_map(|(id, message, rest)| {
                object(vec![("maintenanceId", id), ("message", message)], rest)
            })
            .boxed(),
        "set_system" => (
            system(),
            prop_oneof![Just(1i64), Just(43_200), 1i64..=43_200].prop_map(|n| json!(n)),
            optional(vec![
                ("title", text().boxed()),
                ("description", description()),
                ("suppressNotifications", suppress()),
            ]),
        )
            .prop_map(|(system, minutes, rest)| {
                object(
                    vec![("systemId", system), ("durationMinutes", minutes)],
                    rest,
                )
            })
            .boxed(),
        "clear_system" => (system(), optional(vec![("message", text().boxed())]))
            .prop_map(|(system, rest)| object(vec![("systemId", system)], rest))
            .boxed(),
        other => unreachable!("no action {other}"),
    }
}

// Broken values.

fn wrong_type() -> impl Strategy<Value = Value> {
    prop::sample::select(vec![
        Value::Null,
        json!(true),
        json!(0),
        json!(-1),
        json!(1.5),
        json!("x"),
        json!([]),
        json!({}),
        json!(["db-1"]),
        json!({"a": 1}),
    ])
}

fn long(n: usize) -> Value {
    json!("x".repeat(n))
}

/// Values worth trying in field `name`: its edges first, wrong types too.
fn odd_value(name: &str) -> BoxedStrategy<Value> {
    let edges: Vec<Value> = match name {
        "title" | "message" => vec![
            json!(""),
            json!(" "),
            json!("\t\n"),
            json!("\u{0}"),
            json!("🔧 Wartung"),
            long(10_000),
            long(10_001),
            json!("é".repeat(10_000)),
        ],
        "description" => vec![json!(""), json!(" "), long(10_000), long(10_001)],
        "systemId" => vec![
            json!(""),
            json!(" "),
            json!("db/1"),
            json!("db%2F1"),
            json!("%H0123456789abcdef"),
            json!("é".repeat(256)),
            long(256),
            long(257),
            long(10_001),
            json!("db-1"),
            json!("db-9"),
        ],
        "systemIds" => vec![
            json!([]),
            json!([""]),
            json!([" "]),
            json!(["db-1", "db-1"]),
            json!(["db-3", "db-1", "db-2"]),
            json!(["x".repeat(256)]),
            json!(["x".repeat(257)]),
            json!(["db-1", 7]),
            json!("db-1"),
            Value::Array((0..1_000).map(|n| json!(format!("s{n}"))).collect()),
            Value::Array((0..1_001).map(|n| json!(format!("s{n}"))).collect()),
        ],
        "maintenanceId" => vec![
            json!(format!("{WINDOW_MARK}0")),
            json!(format!("{WINDOW_MARK}1")),
            json!(format!("{WINDOW_MARK}5")),
            json!("00000000-0000-4000-8000-000000000000"),
            json!("missing"),
            json!(""),
            json!(" "),
            json!("window/../x"),
            long(256),
            long(257),
        ],
        "startAt" | "endAt" => vec![
            json!("2026-03-01T23:59:60Z"),
            json!("2026-06-30T23:59:60Z"),
            json!("0000-01-01T00:00:00Z"),
            json!("0000-01-01T00:30:00+01:00"),
            json!("9999-12-31T23:59:59.999Z"),
            json!("9999-12-31T23:30:00-01:00"),
            json!("2026-03-01T10:00:00.123456789Z"),
            json!("2026-03-01t10:00:00z"),
            json!("2026-03-01 10:00:00Z"),
            json!("2026-03-01T10:00:00"),
            json!("2026-02-30T10:00:00Z"),
            json!("2026-03-01T10:00:00+14:00"),
            json!("2026-03-01T10:00:00-23:59"),
            json!("2026-03-01"),
            json!("10:00:00Z"),
            json!(NOW),
        ],
        "durationMinutes" => vec![
            json!(0),
            json!(1),
            json!(2),
            json!(43_199),
            json!(43_200),
            json!(43_201),
            json!(-1),
            json!(1.0),
            json!(30.0),
            json!(1.5),
            json!(1e300),
            json!(i64::MAX),
            json!(i64::MIN),
            json!(u64::MAX),
            json!("30"),
        ],
        "statusChange" => vec![
            json!("scheduled"),
            json!("in_progress"),
            json!("completed"),
            json!("cancelled"),
            json!("paused"),
            json!("COMPLETED"),
            json!(""),
        ],
        "suppressNotifications" => vec![json!("true"), json!(1), json!(false)],
        _ => vec![json!("x")],
    };
    prop_oneof![
        4 => prop::sample::select(edges),
        1 => wrong_type(),
    ]
    .boxed()
}

/// One change to a valid config.
#[derive(Clone, Debug)]
enum Mutation {
    None,
    Remove(String),
    Set(String, Value),
    Extra(String, Value),
}

fn mutation(config: &Value) -> BoxedStrategy<Mutation> {
    let keys: Vec<String> = config
        .as_object()
        .map(|object| object.keys().cloned().collect())
        .unwrap_or_default();
    let fields = prop::sample::select(keys);
    prop_oneof![
        3 => Just(Mutation::None),
        2 => fields.clone().prop_map(Mutation::Remove),
        10 => fields.prop_flat_map(|name| {
            odd_value(&name).prop_map(move |value| Mutation::Set(name.clone(), value))
        }),
        // Unknown fields, and fields of other actions.
        1 => (
            prop::sample::select([&["other", "Title", "system_id", "", "id"], FIELDS].concat())
                .prop_map(str::to_owned),
            prop_oneof![wrong_type(), text()],
        )
            .prop_map(|(name, value)| Mutation::Extra(name, value)),
    ]
    .boxed()
}

fn apply(config: &mut Value, mutation: &Mutation) {
    let Some(object) = config.as_object_mut() else {
        return;
    };
    match mutation {
        Mutation::None => {}
        Mutation::Remove(name) => {
            object.remove(name);
        }
        Mutation::Set(name, value) => {
            object.insert(name.clone(), value.clone());
        }
        Mutation::Extra(name, value) => {
            object.entry(name.clone()).or_insert_with(|| value.clone());
        }
    }
}

/// An action and the config to run it with.
fn case() -> impl Strategy<Value = (&'static str, Value)> {
    let mutated = prop::sample::select(ACTIONS)
        .prop_flat_map(|action| (Just(action), valid_config(action)))
        .prop_flat_map(|(action, config)| {
            let mutations = mutation(&config);
            (Just(action), Just(config), mutations)
        })
        .prop_map(|(action, mut config, mutation)| {
            apply(&mut config, &mutation);
            (action, config)
        });
    prop_oneof![
        8 => mutated,
        1 => (prop::sample::select(ACTIONS), arbitrary_json()),
        1 => (prop::sample::select(ACTIONS), config_like()),
    ]
}

/// Replaces every [`WINDOW_MARK`] string with the id of a window in the
/// store.
fn resolve(value: &mut Value, windows: &[String]) {
    match value {
        Value::String(text) => {
            if let Some(n) = text.strip_prefix(WINDOW_MARK)
                && let Ok(n) = n.parse::<usize>()
            {
                *text = windows[n % windows.len()].clone();
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|item| resolve(item, windows)),
        Value::Object(object) => object.values_mut().for_each(|item| resolve(item, windows)),
        _ => {}
    }
}

/// The windows of the store, in the order they were created.
fn windows(snapshot: &StoreSnapshot) -> Vec<String> {
    snapshot
        .changes
        .iter()
        .filter(|change| change.prev.is_none())
        .map(|change| change.entity_id.clone())
        .collect()
}

#[derive(Debug, Default)]
struct Tally {
    cases: usize,
    /// Past the host's schema check.
    reached: usize,
    /// Successes, then the plugin's own failures by kind.
    outcomes: BTreeMap<String, usize>,
    /// Successes that changed more than one window.
    multi_change: usize,
}

struct Fuzz {
    harness: Harness,
    tally: RefCell<Tally>,
}

impl Fuzz {
    fn check(&self, action: &str, mut config: Value) -> Result<(), TestCaseError> {
        let harness = &self.harness;
        let before = snapshot(harness);
        resolve(&mut config, &windows(&before));
        let catalog = harness.catalog();
        let (info, schema) = &catalog.actions[action];
        let refusal = schema.problems(&config);
        let reaches = refusal.is_empty();
        let outcome: RunOutcome = harness
            .run(RunRequest::new(action, config.clone()))
            .map_err(|error| TestCaseError::fail(format!("{action} {config}: {error:#}")))?;
        let after = snapshot(harness);
        let what = || {
            let mut text = format!("{action} {config}");
            if text.len() > 300 {
                let end = (300..text.len())
                    .find(|&i| text.is_char_boundary(i))
                    .unwrap_or(text.len());
                text.replace_range(end.., "...");
            }
            format!("{text}: {:?}", outcome.result)
        };
        {
            let mut tally = self.tally.borrow_mut();
            tally.cases += 1;
            if reaches {
                tally.reached += 1;
                let kind = outcome.result.as_ref().map_or_else(|f| f.kind(), |_| "ok");
                *tally.outcomes.entry(kind.to_owned()).or_default() += 1;
                tally.multi_change += usize::from(outcome.changes.len() > 1);
            }
        }
        match &outcome.result {
            Ok(success) => {
                prop_assert!(reaches, "the schema refuses {}", what());
                let produces = info.produces.as_deref().expect("every action has a type");
                let (_, artifact_schema) = &catalog.artifact_types
                    [catalog.local_id(produces).expect("a type of this plugin")];
                let artifact = success.artifact.as_ref();
                prop_assert!(artifact.is_some(), "no artifact: {}", what());
                let problems = artifact_schema.problems(artifact.expect("checked"));
                prop_assert!(problems.is_empty(), "{}: {:?}", what(), problems);
                prop_assert_eq!(outcome.events.len(), outcome.changes.len(), "{}", what());
                for (change, event) in outcome.changes.iter().zip(&outcome.events) {
                    prop_assert_eq!(&event.change_id, &change.change_id, "{}", what());
                }
                // The store gained exactly what the run reported.
                let mut changes = before.changes.clone();
                changes.extend(outcome.changes.iter().cloned());
                let mut events = before.events.clone();
                events.extend(outcome.events.iter().cloned());
                prop_assert!(after.changes == changes, "change log: {}", what());
                prop_assert!(after.events == events, "event log: {}", what());
                check_logs(&after.changes, &after.events)
                    .map_err(|error| TestCaseError::fail(format!("{error}, after {}", what())))?;
            }
            Err(failure) => {
                if !reaches {
                    // The host's own refusal: exactly the schema's problems.
                    prop_assert_eq!(failure.problems(), &refusal[..], "{}", what());
                    prop_assert!(outcome.logs.is_empty(), "{}", what());
                } else {
                    prop_assert!(
                        failure.kind() != "internal",
                        "a config problem is never internal: {}",
                        what()
                    );
                }
                prop_assert!(outcome.changes.is_empty() && outcome.events.is_empty());
                prop_assert!(
                    after == before,
                    "the failed run changed the store: {}",
                    what()
                );
            }
        }
        Ok(())
    }
}

fn fuzz(store: TestStore) {
    let started = Instant::now();
    let harness = store.harness();
    // A few windows, two of them on db-1, for ids and clears to find.
    let first = external_id(&run_ok(
        &harness,
        "create",
        create_config(&["db-1", "db-2"]),
    ));
    run_ok(
        &harness,
        "set_system",
        json!({"systemId": "db-1", "durationMinutes": 30}),
    );
    run_ok(
        &harness,
        "set_system",
        json!({"systemId": "db-3", "durationMinutes": 90}),
    );
    run_ok(
        &harness,
        "add_update",
        json!({"maintenanceId": first, "message": "Started", "statusChange": "in_progress"}),
    );
    let fuzz = Fuzz {
        harness,
        tally: RefCell::default(),
    };
    let mut runner = TestRunner::new(Config {
        cases: CASES,
        failure_persistence: None,
        ..Config::default()
    });
    if let Err(error) = runner.run(&case(), |(action, config)| fuzz.check(action, config)) {
        panic!("{error}");
    }
    let tally = fuzz.tally.into_inner();
    let changes = fuzz.harness.backend().changes().unwrap().len();
    println!(
        "{} cases, {} reached the plugin ({:?}, {} changing several windows), \
         {changes} changes in the store, {:.1} s",
        tally.cases,
        tally.reached,
        tally.outcomes,
        tally.multi_change,
        started.elapsed().as_secs_f64()
    );
    assert!(
        tally.reached * 3 >= tally.cases,
        "only {} of {} cases got past the host's schema check: {:?}",
        tally.reached,
        tally.cases,
        tally.outcomes
    );
    assert!(
        tally.outcomes.get("ok").copied().unwrap_or(0) * 6 >= tally.cases,
        "too few successes to check their invariants: {tally:?}"
    );
}

on_every_backend!(fuzz);
