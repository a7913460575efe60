//! [`Text`]: a string with bounds on its length in characters.

use std::fmt;
use std::ops::Deref;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::de;

/// A string of `MIN` to `MAX` characters (Unicode scalar values, which is
/// what JSON Schema's `minLength` and `maxLength` count).
///
/// Read through [`super::parse`], a text out of bounds is one more
/// problem at its path and reading goes on; read by plain serde it is an
/// error like any other.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Text<const MIN: usize, const MAX: usize>(String);

impl<const MIN: usize, const MAX: usize> Text<MIN, MAX> {
    /// `text`, when it has `MIN` to `MAX` characters; otherwise what is
    /// wrong with it.
    pub fn new(text: impl Into<String>) -> Result<Self, String> {
        let text = text.into();
        match Self::check(&text) {
            Some(problem) => Err(problem),
            None => Ok(Self(text)),
        }
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The text, owned.
    pub fn into_string(self) -> String {
        self.0
    }

    fn check(text: &str) -> Option<String> {
        let count = text.chars().count();
        if count < MIN {
            Some(if MIN == 1 {
                "must not be empty".to_owned()
            } else {
                format!("must be at least {MIN} characters, found {count}")
            })
        } else if count > MAX {
            Some(format!("must be at most {MAX} characters, found {count}"))
        } else {
            None
        }
    }
}

/// The empty text, for `#[serde(default)]` fields that may be empty.
impl<const MAX: usize> Default for Text<0, MAX> {
    fn default() -> Self {
        Self(String::new())
    }
}

impl<const MIN: usize, const MAX: usize> Deref for Text<MIN, MAX> {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl<const MIN: usize, const MAX: usize> AsRef<str> for Text<MIN, MAX> {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl<const MIN: usize, const MAX: usize> From<Text<MIN, MAX>> for String {
    fn from(text: Text<MIN, MAX>) -> Self {
        text.0
    }
}

impl<const MIN: usize, const MAX: usize> fmt::Display for Text<MIN, MAX> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<const MIN: usize, const MAX: usize> Serialize for Text<MIN, MAX> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de, const MIN: usize, const MAX: usize> Deserialize<'de> for Text<MIN, MAX> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        if let Some(problem) = Self::check(&text) {
            // Under `parse` the problem is noted at this value's path and
            // the text kept, so reading goes on to the next field.
            de::report_soft(problem).map_err(serde::de::Error::custom)?;
        }
        Ok(Self(text))
    }
}
