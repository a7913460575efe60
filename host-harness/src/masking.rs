//! The masking policy: what of a run's secrets the host persists, and what
//! it never touches.
//!
//! A run's secrets ([`Secrets`], from `RunRequest::secret`) are replaced by
//! [`MASK`] wherever they occur in what the host **persists** about the
//! run: each change's `prev` and `next` states and entity id
//! (`mask_change`), and each event's payload and context key
//! (`mask_event`); strings and object keys alike, at any depth.
//!
//! Never masked, on purpose:
//! - the entity state the engine keeps for the plugin to read back (the
//!   next run's `prev`): masking it would corrupt the plugin's own data;
//! - the diff: it is taken before masking, so masking never causes or
//!   hides a change;
//! - ids the host makes (run, change and event ids), actors, trigger and
//!   action ids: they carry no plugin data;
//! - the run's log lines and the artifact, which are returned to the
//!   caller of the run and not persisted by the host;
//! - secrets shorter than [`MIN_SECRET_LEN`], which would mangle every
//!   record and hide nothing.

use serde_json::{Map, Value};

use crate::records::{ChangeRecord, EventRecord};

/// Secrets shorter than this are not masked: masking `a` would mangle
/// every record and hide nothing.
pub const MIN_SECRET_LEN: usize = 4;
/// What a secret becomes.
pub const MASK: &str = "****";

/// The secrets of one run, longest first so that a secret containing
/// another is masked whole.
#[derive(Clone, Debug, Default)]
pub struct Secrets(Vec<String>);

impl Secrets {
    /// The secrets to mask from `secrets`, with duplicates and those
    /// shorter than [`MIN_SECRET_LEN`] characters left out.
    pub fn new(secrets: impl IntoIterator<Item = String>) -> Self {
        let mut secrets: Vec<String> = secrets
            .into_iter()
            .filter(|secret| secret.chars().count() >= MIN_SECRET_LEN)
            .collect();
        secrets.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        secrets.dedup();
        Self(secrets)
    }

    /// Whether nothing is left to mask, in which case masking copies values
    /// unchanged.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `text` with every occurrence of a secret replaced by [`MASK`].
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

/// A change as persisted: states and entity id masked.
pub(crate) fn mask_change(change: &ChangeRecord, secrets: &Secrets) -> ChangeRecord {
    ChangeRecord {
        prev: change.prev.as_ref().map(|state| secrets.mask(state)),
        next: change.next.as_ref().map(|state| secrets.mask(state)),
        entity_id: secrets.mask_text(&change.entity_id),
        ..change.clone()
    }
}

/// An event as persisted: payload and context key masked.
pub(crate) fn mask_event(event: &EventRecord, secrets: &Secrets) -> EventRecord {
    EventRecord {
        payload: secrets.mask(&event.payload),
        context_key: event
            .context_key
            .as_deref()
            .map(|key| secrets.mask_text(key)),
        ..event.clone()
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
