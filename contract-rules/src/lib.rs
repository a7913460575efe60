//! The rules the automation host holds a plugin's storage and entity
//! writes to, written once for both sides of the boundary: the host
//! (`automation-harness`) enforces them, and the guest SDK's `TestHost`
//! (`plugin-sdk`) behaves the same in a plugin's native tests. Neither
//! side depends on the other, so the rules live here.
//!
//! The WIT contract leaves these limits to the host; these are this
//! host's.

use serde_json::Value;

/// Longest storage key a plugin may use, in bytes.
pub const MAX_KEY_BYTES: usize = 1024;
/// Largest value a plugin may store, in bytes.
pub const MAX_VALUE_BYTES: usize = 1 << 20;
/// Longest entity id, in bytes.
pub const MAX_ENTITY_ID_BYTES: usize = 512;
/// Most entries one storage scan returns: the page size.
pub const MAX_SCAN_LIMIT: u32 = 1000;

/// Why a query may not write: the one wording of the refusal, for the host
/// and the SDK's test host alike.
pub const READ_ONLY: &str = "queries are read-only";

/// Why `key` is not a storage key a plugin may use, if it is not.
pub fn key_problem(key: &str) -> Option<String> {
    if key.is_empty() {
        return Some("keys must not be empty".into());
    }
    (key.len() > MAX_KEY_BYTES).then(|| {
        format!(
            "keys are at most {MAX_KEY_BYTES} bytes, this one has {}",
            key.len()
        )
    })
}

/// Why `id` is not an entity id, if it is not.
pub fn entity_id_problem(id: &str) -> Option<String> {
    (id.is_empty() || id.len() > MAX_ENTITY_ID_BYTES).then(|| {
        format!(
            "entity ids are 1 to {MAX_ENTITY_ID_BYTES} bytes, this one has {}",
            id.len()
        )
    })
}

/// The fields whose values differ between two states, sorted. A field
/// missing on one side differs from any value on the other.
///
/// **The no-op rule.** A commit whose `next` has no field that differs from
/// `prev` records nothing: no change, so no event, and the storage writes
/// of the mutation stay with the run without being attributed to a change.
/// Committing a mutation applies it, and this is the one place that
/// decides what differs.
pub fn changed_fields(prev: Option<&Value>, next: Option<&Value>) -> Vec<String> {
    let fields = |state: Option<&Value>| {
        state
            .and_then(Value::as_object)
            .map(|object| object.keys().cloned().collect::<Vec<_>>())
            .unwrap_or_default()
    };
    let mut names = fields(prev);
    names.extend(fields(next));
    names.sort();
    names.dedup();
    names.retain(|name| {
        prev.and_then(|state| state.get(name)) != next.and_then(|state| state.get(name))
    });
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_one_to_the_limit_bytes() {
        assert_eq!(key_problem(""), Some("keys must not be empty".into()));
        assert_eq!(key_problem(&"k".repeat(MAX_KEY_BYTES)), None);
        assert_eq!(
            key_problem(&"k".repeat(MAX_KEY_BYTES + 1)),
            Some("keys are at most 1024 bytes, this one has 1025".into())
        );
    }

    #[test]
    fn entity_ids_are_one_to_the_limit_bytes() {
        assert_eq!(
            entity_id_problem(""),
            Some("entity ids are 1 to 512 bytes, this one has 0".into())
        );
        assert_eq!(
            entity_id_problem(&"é".repeat(MAX_ENTITY_ID_BYTES / 2)),
            None
        );
        assert!(entity_id_problem(&"é".repeat(MAX_ENTITY_ID_BYTES / 2 + 1)).is_some());
    }
}
