//! Run-secret masking: every occurrence of a run's secret in what the host
//! persists becomes `****`. The state a plugin reads back is never masked,
//! and the diff is taken before masking, so masking never causes a change.

use serde_json::{Map, Value};

/// Secrets shorter than this are not masked: masking `a` would mangle
/// every record and hide nothing.
pub const MIN_SECRET_LEN: usize = 4;
pub const MASK: &str = "****";

/// The secrets of one run, longest first so that a secret containing
/// another is masked whole.
#[derive(Clone, Debug, Default)]
pub struct Secrets(Vec<String>);

impl Secrets {
    pub fn new(secrets: impl IntoIterator<Item = String>) -> Self {
        let mut secrets: Vec<String> = secrets
            .into_iter()
            .filter(|secret| secret.chars().count() >= MIN_SECRET_LEN)
            .collect();
        secrets.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        secrets.dedup();
        Self(secrets)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn mask_text(&self, text: &str) -> String {
        self.0.iter().fold(text.to_owned(), |text, secret| {
            text.replace(secret.as_str(), MASK)
        })
    }

    /// Masks every string and every object key in `value`.
    pub fn mask(&self, value: &Value) -> Value {
        if self.is_empty() {
            return value.clone();
        }
        match value {
            Value::String(text) => Value::String(self.mask_text(text)),
            Value::Array(items) => Value::Array(items.iter().map(|item| self.mask(item)).collect()),
            Value::Object(object) => Value::Object(
                object
                    .iter()
                    .map(|(key, value)| (self.mask_text(key), self.mask(value)))
                    .collect::<Map<String, Value>>(),
            ),
            other => other.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strings_and_keys_are_masked_everywhere() {
        let secrets = Secrets::new(["hunter2".to_owned()]);
        let masked = secrets.mask(&json!({
            "title": "password is hunter2!",
            "hunter2": ["x hunter2 y", 42],
        }));
        assert_eq!(
            masked,
            json!({"title": "password is ****!", "****": ["x **** y", 42]})
        );
    }

    #[test]
    fn short_secrets_are_ignored_and_longer_ones_win() {
        let secrets = Secrets::new(["abc".to_owned(), "abcd".to_owned(), "abcdef".to_owned()]);
        assert_eq!(secrets.mask_text("abc abcd abcdef"), "abc **** ****");
    }
}
