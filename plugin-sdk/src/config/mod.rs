//! Reading an action's config: every problem at once, each at the JSON
//! Pointer (RFC 6901) of the value it concerns.
//!
//! [`parse`] reads a config into any `serde::Deserialize` type and, where
//! serde would stop at the first error, carries on and reports every
//! problem it can find: a value of the wrong type, a required field that
//! is missing, a field the type does not know (when it uses
//! `#[serde(deny_unknown_fields)]`), and a [`Text`] that is too short or
//! too long. The messages read like the host's own schema check (`is
//! required`, `is not a known field`, `must be a string, found a number`),
//! and the problems come sorted by path, as the host sorts them.
//!
//! ```
//! use plugin_sdk::config::{self, Problem, Text};
//! use serde::Deserialize;
//! use serde_json::json;
//!
//! #[derive(Deserialize)]
//! #[serde(deny_unknown_fields, rename_all = "camelCase")]
//! struct Greet {
//!     name: Text<1, 100>,
//!     times: Option<u8>,
//! }
//!
//! let problems = config::parse::<Greet>(&json!({"times": "3", "loud": true}))
//!     .err()
//!     .expect("three problems");
//! assert_eq!(
//!     problems,
//!     [
//!         Problem::new("/loud", "is not a known field"),
//!         Problem::new("/name", "is required"),
//!         Problem::new("/times", "must be a whole number from 0 to 255, found a string"),
//!     ]
//! );
//! let greet: Greet = config::parse(&json!({"name": "Ann"})).expect("valid");
//! assert_eq!(&*greet.name, "Ann");
//! ```

mod de;
mod text;

use std::fmt;

use serde::de::DeserializeOwned;
use serde_json::Value;

pub use text::Text;

/// One broken rule of a config.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Problem {
    /// The JSON Pointer (RFC 6901) of the offending value, `""` for the
    /// config itself, such as `/systemIds/0`.
    pub path: String,
    /// What is wrong with the value, for a human.
    pub message: String,
}

impl Problem {
    /// A problem at `path` (a JSON Pointer).
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "the config {}", self.message)
        } else {
            write!(f, "{} {}", self.path, self.message)
        }
    }
}

/// The most problems [`parse`] reports: a config can break more rules
/// than are worth reading, and each further one may cost another pass.
pub const MAX_PROBLEMS: usize = 100;

/// Reads `config` as a `T`, or returns every problem found, sorted by
/// path (at most [`MAX_PROBLEMS`]).
///
/// serde stops at the first error, so `parse` deserializes again after
/// each one, with what it learnt: an unknown field is skipped, a missing
/// one is supplied, a rejected value is replaced by a placeholder of the
/// type asked for, until `T` reads. Type mismatches and [`Text`] bounds
/// are found without another pass. One case stops it early: a value of a
/// type that validates itself (through `try_from`, or a hand-written
/// `Deserialize`) that rejects both the given value and every placeholder;
/// it is reported, and its siblings are read before it, but fields missing
/// from the object that holds it may go unreported.
pub fn parse<T: DeserializeOwned>(config: &Value) -> Result<T, Vec<Problem>> {
    de::parse(config)
}

/// Reads an optional field that may be absent but not `null`, as JSON
/// Schema reads `"dedupeKey": {"type": "string"}` outside `required`:
/// put `#[serde(default, deserialize_with = "plugin_sdk::config::not_null")]`
/// on an `Option<T>` field. serde alone reads `null` as `None`, so a
/// config the host's schema check refuses would pass the plugin's own
/// parse; with it, `null` is a problem at the field's path like any other
/// value of the wrong type.
///
/// ```
/// use plugin_sdk::config::{self, Problem, Text};
/// use serde::Deserialize;
/// use serde_json::json;
///
/// #[derive(Deserialize)]
/// struct Send {
///     #[serde(default, deserialize_with = "config::not_null")]
///     key: Option<Text<1, 20>>,
/// }
///
/// assert!(config::parse::<Send>(&json!({})).unwrap().key.is_none());
/// assert_eq!(&*config::parse::<Send>(&json!({"key": "k"})).unwrap().key.unwrap(), "k");
/// assert_eq!(
///     config::parse::<Send>(&json!({"key": null})).err(),
///     Some(vec![Problem::new("/key", "must be a string, found null")])
/// );
/// ```
pub fn not_null<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}

/// The JSON Pointer of the top-level field `field`.
pub fn pointer(field: &str) -> String {
    child("", field)
}

/// The JSON Pointer of `segment` (a field name or an index) inside the
/// value at pointer `parent`, escaped as RFC 6901 says (`~` as `~0`, `/`
/// as `~1`).
pub fn child(parent: &str, segment: &str) -> String {
    format!("{parent}/{}", segment.replace('~', "~0").replace('/', "~1"))
}

/// What kind of JSON value `value` is, for a message: `a string`, `null`.
pub fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests;
