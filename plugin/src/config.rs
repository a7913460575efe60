//! Reading an action's config: every rule checked, every problem reported
//! with the JSON Pointer of the offending value, unknown fields rejected.

use std::collections::BTreeSet;
use std::ops::RangeInclusive;

use serde_json::{Map, Value};

use crate::model::{Instant, Status};

/// The longest text a config field may hold (**Decision**: the
/// TypeScript package set no bound, which let one config fill storage).
pub const MAX_TEXT_CHARS: usize = 10_000;
/// The most items a list field may hold.
pub const MAX_LIST_ITEMS: usize = 1_000;

/// One broken rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// JSON Pointer (RFC 6901) of the offending value.
    pub path: String,
    pub message: String,
}

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
        self.problems.push(Problem {
            path: path.to_owned(),
            message: message.into(),
        });
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

    fn text_value(&mut self, name: &'static str, value: &Value, non_empty: bool) -> Option<String> {
        match value {
            Value::String(text) if non_empty && text.trim().is_empty() => {
                self.problem(&pointer(name), "must not be empty");
                None
            }
            Value::String(text) if text.chars().count() > MAX_TEXT_CHARS => {
                self.problem(
                    &pointer(name),
                    format!("must be at most {MAX_TEXT_CHARS} characters"),
                );
                None
            }
            Value::String(text) => Some(text.clone()),
            other => {
                self.problem(
                    &pointer(name),
                    format!("must be a string, found {}", type_name(other)),
                );
                None
            }
        }
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
        let instant = Instant::parse(&text);
        if instant.is_none() {
            self.problem(
                &pointer(name),
                format!(
                    "must be an RFC 3339 date-time with an offset or Z, such as \
                     2026-03-01T10:00:00Z; found {text:?}"
                ),
            );
        }
        instant
    }

    pub fn required_instant(&mut self, name: &'static str) -> Option<Instant> {
        let value = self.required(name)?;
        self.instant_value(name, value)
    }

    pub fn optional_instant(&mut self, name: &'static str) -> Option<Instant> {
        let value = self.field(name)?;
        self.instant_value(name, value)
    }

    fn text_list_value(&mut self, name: &'static str, value: &Value) -> Option<Vec<String>> {
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
        let mut texts = Vec::with_capacity(items.len());
        let mut valid = true;
        for (index, item) in items.iter().enumerate() {
            let path = format!("{}/{index}", pointer(name));
            match item {
                Value::String(text) if text.trim().is_empty() => {
                    self.problem(&path, "must not be empty");
                    valid = false;
                }
                Value::String(text) if text.chars().count() > MAX_TEXT_CHARS => {
                    self.problem(
                        &path,
                        format!("must be at most {MAX_TEXT_CHARS} characters"),
                    );
                    valid = false;
                }
                Value::String(text) => texts.push(text.clone()),
                other => {
                    self.problem(
                        &path,
                        format!("must be a string, found {}", type_name(other)),
                    );
                    valid = false;
                }
            }
        }
        valid.then_some(texts)
    }

    /// A required list of at least one non-blank string.
    pub fn required_text_list(&mut self, name: &'static str) -> Option<Vec<String>> {
        let value = self.required(name)?;
        self.text_list_value(name, value)
    }

    /// An optional list that, when present, holds at least one non-blank
    /// string.
    pub fn optional_text_list(&mut self, name: &'static str) -> Option<Vec<String>> {
        let value = self.field(name)?;
        self.text_list_value(name, value)
    }

    /// A required whole number within `range`.
    pub fn required_integer(
        &mut self,
        name: &'static str,
        range: RangeInclusive<i64>,
    ) -> Option<i64> {
        let value = self.required(name)?;
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

    pub fn optional_status(&mut self, name: &'static str) -> Option<Status> {
        let value = self.field(name)?;
        let text = self.text_value(name, value, false)?;
        let status = Status::parse(&text);
        if status.is_none() {
            let allowed: Vec<_> = Status::ALL.iter().map(|s| s.as_str()).collect();
            self.problem(
                &pointer(name),
                format!("must be one of {}, found {text:?}", allowed.join(", ")),
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

/// The JSON Pointer of a top-level field, escaped as RFC 6901 says.
pub fn pointer(field: &str) -> String {
    format!("/{}", field.replace('~', "~0").replace('/', "~1"))
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
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
        reader.required_text_list("systemIds");
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
    fn unknown_statuses_name_the_allowed_ones() {
        let config = json!({"statusChange": "done"});
        let mut reader = ConfigReader::new(&config);
        reader.optional_status("statusChange");
        let problems = reader.finish(|| Some(())).unwrap_err();
        assert!(problems[0].message.contains("in_progress"));
    }
}
