use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Value, json};

use super::*;
use crate::time::Instant;

#[derive(Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Send {
    channel: Text<1, 20>,
    subject: Text<1, 50>,
    #[serde(default)]
    body: Text<0, 100>,
    dedupe_key: Option<Text<1, 20>>,
    #[serde(default)]
    urgent: bool,
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct Recipient {
    name: String,
    age: u8,
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(rename_all = "snake_case")]
enum Priority {
    Low,
    High,
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct Nested {
    recipients: Vec<Recipient>,
    priority: Priority,
    when: Option<Instant>,
    labels: BTreeMap<String, u32>,
}

fn problems<T: DeserializeOwned + std::fmt::Debug>(config: Value) -> Vec<(String, String)> {
    match parse::<T>(&config) {
        Ok(value) => panic!("expected problems, read {value:?}"),
        Err(problems) => problems.into_iter().map(|p| (p.path, p.message)).collect(),
    }
}

fn paths<T: DeserializeOwned + std::fmt::Debug>(config: Value) -> Vec<String> {
    problems::<T>(config)
        .into_iter()
        .map(|(path, _)| path)
        .collect()
}

#[test]
fn a_valid_config_reads_with_its_defaults() {
    let send: Send = parse(&json!({"channel": "ops", "subject": "Hi"})).unwrap();
    assert_eq!(
        send,
        Send {
            channel: Text::new("ops").unwrap(),
            subject: Text::new("Hi").unwrap(),
            body: Text::default(),
            dedupe_key: None,
            urgent: false,
        }
    );
    let send: Send = parse(&json!({"channel": "ops", "subject": "Hi", "dedupeKey": null})).unwrap();
    assert_eq!(send.dedupe_key, None);
}

#[test]
fn every_problem_is_reported_at_its_pointer_sorted() {
    let found = problems::<Send>(json!({
        "subject": 7,
        "body": "b".repeat(101),
        "dedupeKey": "",
        "urgent": "yes",
        "extra": 1,
        "more/odd~key": true,
    }));
    assert_eq!(
        found,
        [
            (
                "/body".into(),
                "must be at most 100 characters, found 101".into()
            ),
            ("/channel".into(), "is required".into()),
            ("/dedupeKey".into(), "must not be empty".into()),
            ("/extra".into(), "is not a known field".into()),
            ("/more~1odd~0key".into(), "is not a known field".into()),
            ("/subject".into(), "must be a string, found 7".into()),
            ("/urgent".into(), "must be a boolean, found a string".into()),
        ]
    );
}

#[test]
fn a_config_that_is_not_an_object_is_one_problem_at_the_root() {
    assert_eq!(
        problems::<Send>(json!([1, 2])),
        [("".into(), "must be an object, found an array".into())]
    );
    assert_eq!(paths::<Send>(json!(null)), [""]);
}

#[test]
fn nested_values_are_reported_at_their_full_path() {
    let found = problems::<Nested>(json!({
        "recipients": [
            {"name": "Ann", "age": 30},
            {"age": 300, "nick": "b"},
            "carl",
        ],
        "priority": "urgent",
        "when": "tomorrow",
        "labels": {"a": 1, "b": -1, "c/d": "x"},
    }));
    assert_eq!(
        found,
        [
            (
                "/labels/b".into(),
                "must be a whole number from 0 to 4294967295, found -1".into()
            ),
            (
                "/labels/c~1d".into(),
                "must be a whole number from 0 to 4294967295, found a string".into()
            ),
            (
                "/priority".into(),
                "must be one of low, high, found \"urgent\"".into()
            ),
            (
                "/recipients/1/age".into(),
                "must be a whole number from 0 to 255, found 300".into()
            ),
            ("/recipients/1/name".into(), "is required".into()),
            ("/recipients/1/nick".into(), "is not a known field".into()),
            (
                "/recipients/2".into(),
                "must be an object, found a string".into()
            ),
            ("/when".into(), "not an RFC 3339 date-time: tomorrow".into()),
        ]
    );
}

#[test]
fn unknown_fields_are_kept_by_types_that_allow_them() {
    #[derive(Debug, Deserialize)]
    struct Open {
        #[allow(dead_code)]
        name: String,
    }
    assert!(parse::<Open>(&json!({"name": "a", "other": [1, {"x": 2}]})).is_ok());
    assert_eq!(
        problems::<Open>(json!({"other": 1})),
        [("/name".into(), "is required".into())]
    );
}

#[test]
fn a_value_that_rejects_every_placeholder_still_lets_its_siblings_be_read() {
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Window {
        a: String,
        start: Instant,
        z: String,
        end: Instant,
    }
    // Neither the given text nor the empty placeholder is an instant.
    let found = problems::<Window>(json!({"a": 1, "start": "soon", "z": 2, "end": 3, "x": 0}));
    assert_eq!(
        found,
        [
            ("/a".into(), "must be a string, found 1".into()),
            ("/end".into(), "must be a string, found 3".into()),
            ("/start".into(), "not an RFC 3339 date-time: soon".into()),
            ("/x".into(), "is not a known field".into()),
            ("/z".into(), "must be a string, found 2".into()),
        ]
    );
}

#[test]
fn whole_numbers_are_range_checked_and_fractions_rejected() {
    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Numbers {
        small: i8,
        count: u32,
        ratio: f64,
    }
    let found = problems::<Numbers>(json!({"small": -129, "count": 1.5, "ratio": "x"}));
    assert_eq!(
        found,
        [
            (
                "/count".into(),
                "must be a whole number from 0 to 4294967295, found 1.5".into()
            ),
            ("/ratio".into(), "must be a number, found a string".into()),
            (
                "/small".into(),
                "must be a whole number from -128 to 127, found -129".into()
            ),
        ]
    );
    let read: Numbers = parse(&json!({"small": -128, "count": 4294967295u64, "ratio": 2})).unwrap();
    assert_eq!((read.small, read.count, read.ratio), (-128, u32::MAX, 2.0));
}

#[test]
fn text_bounds_hold_outside_parse_too() {
    let error = serde_json::from_value::<Text<1, 3>>(json!("four")).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("must be at most 3 characters, found 4")
    );
    assert!(serde_json::from_value::<Text<1, 3>>(json!("")).is_err());
    assert_eq!(
        serde_json::from_value::<Text<1, 3>>(json!("\u{1F600}\u{1F600}\u{1F600}"))
            .unwrap()
            .as_str()
            .chars()
            .count(),
        3
    );
    assert_eq!(
        Text::<2, 3>::new("a"),
        Err("must be at least 2 characters, found 1".to_owned())
    );
}

#[test]
fn many_problems_stop_at_the_cap() {
    let mut config = serde_json::Map::new();
    for i in 0..(MAX_PROBLEMS * 3) {
        config.insert(format!("extra{i:04}"), json!(i));
    }
    let found = problems::<Send>(Value::Object(config));
    assert_eq!(found.len(), MAX_PROBLEMS);
    assert!(
        found
            .iter()
            .all(|(_, message)| message == "is not a known field" || message == "is required")
    );
}

#[test]
fn many_missing_fields_are_each_reported() {
    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Wide {
        a: String,
        b: u32,
        c: bool,
        d: Vec<String>,
        e: Recipient,
        f: (u8, u8),
    }
    assert_eq!(
        paths::<Wide>(json!({"f": [1]})),
        ["/a", "/b", "/c", "/d", "/e", "/f"]
    );
}

#[test]
fn pointers_escape_as_rfc_6901_says() {
    assert_eq!(pointer("a/b~c"), "/a~1b~0c");
    assert_eq!(child("/x/0", "y"), "/x/0/y");
    assert_eq!(pointer(""), "/");
}

#[test]
fn a_read_that_panics_leaves_no_scope_behind() {
    #[derive(Debug)]
    struct Explodes;
    impl<'de> Deserialize<'de> for Explodes {
        fn deserialize<D: serde::Deserializer<'de>>(_: D) -> Result<Self, D::Error> {
            panic!("boom")
        }
    }
    assert!(std::panic::catch_unwind(|| parse::<Explodes>(&json!(1))).is_err());
    // Outside parse, a text out of bounds is an error again.
    assert!(serde_json::from_value::<Text<1, 3>>(json!("")).is_err());
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Keyed {
    channel: Text<1, 20>,
    #[serde(default, deserialize_with = "not_null")]
    dedupe_key: Option<Text<1, 20>>,
}

#[test]
fn not_null_refuses_null_but_not_absence_with_every_other_problem() {
    let problems = parse::<Keyed>(&json!({"dedupeKey": null, "extra": 1})).unwrap_err();
    assert_eq!(
        problems,
        [
            Problem::new("/channel", "is required"),
            Problem::new("/dedupeKey", "must be a string, found null"),
            Problem::new("/extra", "is not a known field"),
        ]
    );
    assert_eq!(
        parse::<Keyed>(&json!({"channel": "c", "dedupeKey": ""})).unwrap_err(),
        [Problem::new("/dedupeKey", "must not be empty")]
    );
    let absent = parse::<Keyed>(&json!({"channel": "c"})).unwrap();
    assert_eq!((&*absent.channel, absent.dedupe_key), ("c", None));
    let given = parse::<Keyed>(&json!({"channel": "c", "dedupeKey": "k"})).unwrap();
    assert_eq!(given.dedupe_key.as_deref(), Some("k"));
    // Without it, serde reads null as absent.
    assert!(parse::<Send>(&json!({"channel": "c", "subject": "s", "dedupeKey": null})).is_ok());
}
