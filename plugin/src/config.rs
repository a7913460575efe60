//! Reading an action's config: every rule checked, every problem reported
//! with the JSON Pointer of the offending value, unknown fields rejected.

use std::collections::BTreeSet;
use std::ops::RangeInclusive;

use chrono::SecondsFormat;
use plugin_sdk::config::type_name;
use serde_json::{Map, Value};

use crate::model::{Instant, InstantError, Status};

pub use plugin_sdk::config::{Problem, pointer};

/// The longest text a config field may hold (**Decision**: the
/// TypeScript package set no bound, which let one config fill storage).
pub const MAX_TEXT_CHARS: usize = 10_000;
/// The most items a list field may hold.
pub const MAX_LIST_ITEMS: usize = 1_000;
/// The longest id a config may hold: `systemId`, each of `systemIds`,
/// `maintenanceId` (**Decision**, spec section 7 "Decisions (edges)"). Ids
/// become parts of storage keys, which the host bounds; see
/// `service::system_segment` for how the longest of them still fit.
pub const MAX_ID_CHARS: usize = 256;

/// Reads fields from a config object, collecting problems instead of
/// stopping at the first one.
pub struct ConfigReader<'a> {
    object: Option<&'a Map<String, Value>>,
    known: BTreeSet<&'static str>,
    problems: Vec<Problem>,
}

impl<'a> ConfigReader<'a> {
    pub fn new(config: &'a Value) -> Self {
        let mut reader = Self {
            object: config.as_object(),
            known: BTreeSet::new(),
            problems: Vec::new(),
        };
        if reader.object.is_none() {
            reader.problem("", "must be an object");
        }
        reader
    }

    /// Records a problem at `path`.
    pub fn problem(&mut self, path: &str, message: impl Into<String>) {
        self.problems.push(Problem::new(path, message));
    }

    fn field(&mut self, name: &'static str) -> Option<&'a Value> {
        self.known.insert(name);
        self.object.and_then(|object| object.get(name))
    }

    fn required(&mut self, name: &'static str) -> Option<&'a Value> {
        let value = self.field(name);
        if value.is_none() && self.object.is_some() {
            self.problem(&pointer(name), "is required");
        }
        value
    }

    /// A string at `path` of at most `max_chars` characters; `non_empty`
    /// forbids blank text.
    fn string_at(
        &mut self,
        path: &str,
        value: &Value,
        non_empty: bool,
        max_chars: usize,
    ) -> Option<String> {
        match value {
            Value::String(text) if non_empty && text.trim().is_empty() => {
                self.problem(path, "must not be empty");
                None
            }
            Value::String(text) if text.chars().count() > max_chars => {
                self.problem(
                    path,
                    format!(
                        "must be at most {max_chars} characters, found {}",
                        text.chars().count()
                    ),
                );
                None
            }
            Value::String(text) => Some(text.clone()),
            other => {
                self.problem(
                    path,
                    format!("must be a string, found {}", type_name(other)),
                );
                None
            }
        }
    }

    fn text_value(&mut self, name: &'static str, value: &Value, non_empty: bool) -> Option<String> {
        self.string_at(&pointer(name), value, non_empty, MAX_TEXT_CHARS)
    }

    /// A required string with at least one non-blank character.
    pub fn required_text(&mut self, name: &'static str) -> Option<String> {
        let value = self.required(name)?;
        self.text_value(name, value, true)
    }

    /// An optional string; `non_empty` forbids blank text when present.
    pub fn optional_text(&mut self, name: &'static str, non_empty: bool) -> Option<String> {
        let value = self.field(name)?;
        self.text_value(name, value, non_empty)
    }

    /// A required id: non-blank, at most [`MAX_ID_CHARS`] characters.
    pub fn required_id(&mut self, name: &'static str) -> Option<String> {
        let value = self.required(name)?;
        self.string_at(&pointer(name), value, true, MAX_ID_CHARS)
    }

    pub fn optional_bool(&mut self, name: &'static str) -> Option<bool> {
        match self.field(name)? {
            Value::Bool(flag) => Some(*flag),
            other => {
                self.problem(
                    &pointer(name),
                    format!("must be a boolean, found {}", type_name(other)),
                );
                None
            }
        }
    }

    fn instant_value(&mut self, name: &'static str, value: &Value) -> Option<Instant> {
        let text = self.text_value(name, value, false)?;
        match Instant::parse_checked(&text) {
            Ok(instant) => Some(instant),
            Err(error) => {
                let message = match error {
                    InstantError::Malformed => format!(
                        "must be an RFC 3339 date-time with an offset or Z, such as \
                         2026-03-01T10:00:00Z; found {text:?}"
                    ),
                    InstantError::LeapSecond => {
                        format!("must not be a leap second (:60); found {text:?}")
                    }
                    InstantError::OutOfRange(utc) => format!(
                        "must lie in years 0000-9999 once converted to UTC; \
                         found {text:?}, which is {}",
                        utc.to_rfc3339_opts(SecondsFormat::Millis, true)
                    ),
                };
                self.problem(&pointer(name), message);
                None
            }
        }
    }

    pub fn required_instant(&mut self, name: &'static str) -> Option<Instant> {
        let value = self.required(name)?;
        self.instant_value(name, value)
    }

    pub fn optional_instant(&mut self, name: &'static str) -> Option<Instant> {
        let value = self.field(name)?;
        self.instant_value(name, value)
    }

    fn id_list_value(&mut self, name: &'static str, value: &Value) -> Option<Vec<String>> {
        let Value::Array(items) = value else {
            self.problem(
                &pointer(name),
                format!("must be an array of strings, found {}", type_name(value)),
            );
            return None;
        };
        if items.is_empty() {
            self.problem(&pointer(name), "must contain at least one item");
            return None;
        }
        if items.len() > MAX_LIST_ITEMS {
            self.problem(
                &pointer(name),
                format!("must contain at most {MAX_LIST_ITEMS} items"),
            );
            return None;
        }
        let mut ids = Vec::with_capacity(items.len());
        let mut valid = true;
        for (index, item) in items.iter().enumerate() {
            let path = format!("{}/{index}", pointer(name));
            match self.string_at(&path, item, true, MAX_ID_CHARS) {
                Some(id) => ids.push(id),
                None => valid = false,
            }
        }
        valid.then_some(ids)
    }

    /// A required list of at least one id, each as [`Self::required_id`]
    /// reads one.
    pub fn required_id_list(&mut self, name: &'static str) -> Option<Vec<String>> {
        let value = self.required(name)?;
        self.id_list_value(name, value)
    }

    /// An optional list that, when present, holds at least one id.
    pub fn optional_id_list(&mut self, name: &'static str) -> Option<Vec<String>> {
        let value = self.field(name)?;
        self.id_list_value(name, value)
    }

    /// A required whole number within `range`.
    pub fn required_integer(
        &mut self,
        name: &'static str,
        range: RangeInclusive<i64>,
    ) -> Option<i64> {
        let value = self.required(name)?;
        self.integer_value(name, value, range)
    }

    /// An optional whole number within `range`.
    pub fn optional_integer(
        &mut self,
        name: &'static str,
        range: RangeInclusive<i64>,
    ) -> Option<i64> {
        let value = self.field(name)?;
        self.integer_value(name, value, range)
    }

    fn integer_value(
        &mut self,
        name: &'static str,
        value: &Value,
        range: RangeInclusive<i64>,
    ) -> Option<i64> {
        let Some(number) = value.as_i64().or_else(|| {
            value
                .as_f64()
                .filter(|n| n.fract() == 0.0 && n.abs() < 9.0e15)
                .map(|n| n as i64)
        }) else {
            self.problem(
                &pointer(name),
                format!("must be a whole number, found {}", describe(value)),
            );
            return None;
        };
        if !range.contains(&number) {
            self.problem(
                &pointer(name),
                format!(
                    "must be between {} and {}, found {number}",
                    range.start(),
                    range.end()
                ),
            );
            return None;
        }
        Some(number)
    }

    /// An optional list that, when present, holds at least one status.
    pub fn optional_status_list(&mut self, name: &'static str) -> Option<Vec<Status>> {
        let value = self.field(name)?;
        let Value::Array(items) = value else {
            self.problem(
                &pointer(name),
                format!("must be an array of statuses, found {}", type_name(value)),
            );
            return None;
        };
        if items.is_empty() {
            self.problem(&pointer(name), "must contain at least one item");
            return None;
        }
        let mut statuses = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            let path = format!("{}/{index}", pointer(name));
            let status = item.as_str().and_then(Status::parse);
            match status {
                Some(status) => statuses.push(status),
                None => self.problem(
                    &path,
                    format!("must be one of {}, found {item}", Status::spellings()),
                ),
            }
        }
        (statuses.len() == items.len()).then_some(statuses)
    }

    pub fn optional_status(&mut self, name: &'static str) -> Option<Status> {
        let value = self.field(name)?;
        let text = self.text_value(name, value, false)?;
        let status = Status::parse(&text);
        if status.is_none() {
            self.problem(
                &pointer(name),
                format!("must be one of {}, found {text:?}", Status::spellings()),
            );
        }
        status
    }

    /// Rejects unknown fields, then returns every problem found, or the
    /// value `build` makes from the fields read when there were none.
    pub fn finish<T>(mut self, build: impl FnOnce() -> Option<T>) -> Result<T, Vec<Problem>> {
        if let Some(object) = self.object {
            let unknown: Vec<String> = object
                .keys()
                .filter(|key| !self.known.contains(key.as_str()))
                .cloned()
                .collect();
            for key in unknown {
                self.problem(&pointer(&key), "is not a known field");
            }
        }
        if !self.problems.is_empty() {
            return Err(self.problems);
        }
        build().ok_or_else(|| {
            vec![Problem {
                path: String::new(),
                message: "is incomplete".into(),
            }]
        })
    }
}

fn describe(value: &Value) -> String {
    match value {
        Value::Number(number) => number.to_string(),
        other => type_name(other).to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn paths(problems: &[Problem]) -> Vec<&str> {
        problems.iter().map(|p| p.path.as_str()).collect()
    }

    #[test]
    fn every_problem_is_reported_with_its_path() {
        let config = json!({"title": "", "systemIds": ["a", 3, " "], "extra/field": 1});
        let mut reader = ConfigReader::new(&config);
        reader.required_text("title");
        reader.required_id_list("systemIds");
        reader.required_instant("startAt");
        let problems = reader.finish(|| Some(())).unwrap_err();
        assert_eq!(
            paths(&problems),
            [
                "/title",
                "/systemIds/1",
                "/systemIds/2",
                "/startAt",
                "/extra~1field"
            ]
        );
    }

    #[test]
    fn a_config_that_is_not_an_object_is_one_problem_at_the_root() {
        let config = json!([1, 2]);
        let mut reader = ConfigReader::new(&config);
        reader.required_text("title");
        let problems = reader.finish(|| Some(())).unwrap_err();
        assert_eq!(paths(&problems), [""]);
    }

    #[test]
    fn integers_are_range_checked_and_fractions_rejected() {
        for (value, ok) in [
            (json!(1), true),
            (json!(43200), true),
            (json!(0), false),
            (json!(43201), false),
            (json!(1.5), false),
            (json!(2.0), true),
            (json!("5"), false),
        ] {
            let config = json!({ "n": value });
            let mut reader = ConfigReader::new(&config);
            let n = reader.required_integer("n", 1..=43200);
            assert_eq!(reader.finish(|| n).is_ok(), ok, "{value}");
        }
    }

    #[test]
    fn ids_are_bounded_in_characters_wherever_they_appear() {
        let at_limit = "\u{1F600}".repeat(MAX_ID_CHARS);
        let too_long = "s".repeat(MAX_ID_CHARS + 1);
        let config = json!({
            "systemId": too_long,
            "maintenanceId": at_limit,
            "systemIds": ["ok", too_long, at_limit],
        });
        let mut reader = ConfigReader::new(&config);
        reader.required_id("systemId");
        let kept = reader.required_id("maintenanceId");
        reader.required_id_list("systemIds");
        assert_eq!(kept.as_deref(), Some(at_limit.as_str()));
        let problems = reader.finish(|| Some(())).unwrap_err();
        assert_eq!(paths(&problems), ["/systemId", "/systemIds/1"]);
        for problem in &problems {
            assert!(
                problem.message.contains("at most 256 characters"),
                "{problem:?}"
            );
            assert!(problem.message.contains("found 257"), "{problem:?}");
        }
    }

    #[test]
    fn texts_keep_their_own_longer_bound() {
        let config = json!({"title": "t".repeat(MAX_ID_CHARS + 1)});
        let mut reader = ConfigReader::new(&config);
        let title = reader.required_text("title");
        assert!(reader.finish(|| title).is_ok());
    }

    #[test]
    fn instants_outside_years_0000_to_9999_or_on_a_leap_second_are_named() {
        let config = json!({
            "late": "9999-12-31T23:00:00-02:00",
            "early": "0000-01-01T00:00:00+00:01",
            "leap": "2026-12-31T23:59:60Z",
            "edge": "9999-12-31T23:59:59.999Z",
        });
        let mut reader = ConfigReader::new(&config);
        reader.required_instant("late");
        reader.required_instant("early");
        reader.required_instant("leap");
        let edge = reader.required_instant("edge");
        assert_eq!(edge.unwrap().to_string(), "9999-12-31T23:59:59.999Z");
        let problems = reader.finish(|| Some(())).unwrap_err();
        assert_eq!(paths(&problems), ["/late", "/early", "/leap"]);
        assert!(
            problems[0]
                .message
                .contains("years 0000-9999 once converted to UTC")
        );
        assert!(problems[0].message.contains("+10000-01-01T01:00:00.000Z"));
        assert!(problems[1].message.contains("-0001-12-31T23:59:00.000Z"));
        assert!(problems[2].message.contains("leap second"));
    }

    #[test]
    fn unknown_statuses_name_the_allowed_ones() {
        let config = json!({"statusChange": "done"});
        let mut reader = ConfigReader::new(&config);
        reader.optional_status("statusChange");
        let problems = reader.finish(|| Some(())).unwrap_err();
        assert!(problems[0].message.contains("in_progress"));
    }
}
