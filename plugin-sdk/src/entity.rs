//! Writing entities through the engine with typed states: open the
//! mutation, do the real storage writes, commit the next state, and
//! abandon (rolling the writes back) when anything fails.

use std::fmt;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::host::{ChangeReceipt, EntityError, EntityHandle, Mutation, MutationOptions};

/// Why [`mutate`] or [`mutate_with`] failed on the engine's side rather
/// than in the plugin's closure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MutationError {
    /// The engine refused a call.
    Entity(EntityError),
    /// The entity's state before the write does not read as the plugin's
    /// state type; carries serde's reason.
    MalformedPrev(String),
    /// The state the closure returned does not serialize; carries
    /// serde's reason.
    UnencodableNext(String),
}

impl fmt::Display for MutationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MutationError::Entity(error) => error.fmt(f),
            MutationError::MalformedPrev(reason) => {
                write!(f, "the entity's stored state is malformed: {reason}")
            }
            MutationError::UnencodableNext(reason) => {
                write!(f, "the entity's new state cannot be encoded: {reason}")
            }
        }
    }
}

impl std::error::Error for MutationError {}

impl From<EntityError> for MutationError {
    fn from(error: EntityError) -> Self {
        MutationError::Entity(error)
    }
}

/// How a [`mutate`] ended.
#[derive(Clone, Debug, PartialEq)]
pub struct Committed<T> {
    /// The state committed (absent for a deletion).
    pub state: Option<T>,
    /// The change the host recorded, absent when no field changed.
    pub receipt: Option<ChangeReceipt>,
}

impl<T> Committed<T> {
    /// Whether the host recorded a change (and so the deriver runs).
    pub fn changed(&self) -> bool {
        self.receipt.is_some()
    }
}

/// Writes the entity `kind/id` with a typed state: opens the mutation,
/// hands `apply` the state before the write, and commits the state it
/// returns (absent to delete the entity). `apply` does the real storage
/// writes, which belong to the mutation; when it fails the mutation is
/// abandoned, so they roll back, and its error is returned.
///
/// Committing a state equal to the previous one records nothing, so a
/// write that turns out to change nothing fires no trigger.
pub fn mutate<H, T, E>(
    host: &H,
    kind: &str,
    id: &str,
    options: &MutationOptions,
    apply: impl FnOnce(Option<T>) -> Result<Option<T>, E>,
) -> Result<Committed<T>, E>
where
    H: EntityHandle + ?Sized,
    T: Serialize + DeserializeOwned,
    E: From<MutationError>,
{
    let mut receipt = None;
    let state = mutate_inner(host, kind, id, options, &mut receipt, |prev| {
        apply(prev).map(|next| ((), next))
    })?
    .1;
    Ok(Committed { state, receipt })
}

/// [`mutate`] for a closure that also returns a value of its own (such
/// as the full record it stored, of which the entity state is a part),
/// returned once the commit succeeded.
pub fn mutate_with<H, T, R, E>(
    host: &H,
    kind: &str,
    id: &str,
    options: &MutationOptions,
    apply: impl FnOnce(Option<T>) -> Result<(R, Option<T>), E>,
) -> Result<R, E>
where
    H: EntityHandle + ?Sized,
    T: Serialize + DeserializeOwned,
    E: From<MutationError>,
{
    let mut receipt = None;
    mutate_inner(host, kind, id, options, &mut receipt, apply).map(|(value, _)| value)
}

fn mutate_inner<H, T, R, E>(
    host: &H,
    kind: &str,
    id: &str,
    options: &MutationOptions,
    receipt: &mut Option<ChangeReceipt>,
    apply: impl FnOnce(Option<T>) -> Result<(R, Option<T>), E>,
) -> Result<(R, Option<T>), E>
where
    H: EntityHandle + ?Sized,
    T: Serialize + DeserializeOwned,
    E: From<MutationError>,
{
    let mutation = host
        .open(kind, id, options)
        .map_err(|error| E::from(MutationError::Entity(error)))?;
    let prev = match mutation.prev().map(T::deserialize).transpose() {
        Ok(prev) => prev,
        Err(error) => {
            // Abandoning changes nothing yet; it only ends the mutation,
            // which the protocol requires before returning.
            let _ = mutation.abandon();
            return Err(E::from(MutationError::MalformedPrev(error.to_string())));
        }
    };
    let (value, next) = match apply(prev) {
        Ok(done) => done,
        Err(error) => {
            // The closure's error is what the caller needs to see; a
            // failure to abandon is moot, the host then fails and rolls
            // back the whole run.
            let _ = mutation.abandon();
            return Err(error);
        }
    };
    let encoded = match next.as_ref().map(serde_json::to_value).transpose() {
        Ok(encoded) => encoded,
        Err(error) => {
            let _ = mutation.abandon();
            return Err(E::from(MutationError::UnencodableNext(error.to_string())));
        }
    };
    *receipt = mutation
        .commit(encoded)
        .map_err(|error| E::from(MutationError::Entity(error)))?;
    Ok((value, next))
}

/// The fields whose values differ between two states, sorted, as the host
/// computes them (the no-op rule: a commit records a change only when a
/// field differs); the harness's own function.
pub use contract_rules::changed_fields;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::{Storage, StorageError};
    use crate::testing::TestHost;
    use crate::{ActionError, storage::StorageExt};
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    struct Counter {
        count: u32,
    }

    fn host() -> TestHost {
        TestHost::new().with_kind("counter")
    }

    fn bump(host: &TestHost, id: &str) -> Result<Committed<Counter>, ActionError> {
        mutate(host, "counter", id, &MutationOptions::default(), |prev| {
            let next = Counter {
                count: prev.map_or(1, |c: Counter| c.count + 1),
            };
            host.set_json(&format!("counter/{id}"), &next)?;
            Ok(Some(next))
        })
    }

    #[test]
    fn the_closure_sees_prev_and_its_state_is_committed() {
        let host = host();
        let first = bump(&host, "a").unwrap();
        assert!(first.changed());
        assert_eq!(first.state, Some(Counter { count: 1 }));
        let second = bump(&host, "a").unwrap();
        assert_eq!(second.state, Some(Counter { count: 2 }));
        let changes = host.changes();
        assert_eq!(changes.len(), 2);
        assert_eq!(changes[1].prev, Some(json!({"count": 1})));
        assert_eq!(changes[1].next, Some(json!({"count": 2})));
        assert_eq!(changes[1].changed_fields, ["count"]);
        assert_eq!(
            second.receipt.map(|r| r.change_id),
            Some(changes[1].change_id.clone())
        );
    }

    #[test]
    fn a_failing_closure_abandons_and_rolls_its_writes_back() {
        let host = host();
        bump(&host, "a").unwrap();
        let result: Result<Committed<Counter>, ActionError> =
            mutate(&host, "counter", "a", &MutationOptions::default(), |_| {
                host.set("counter/a", b"garbage")?;
                host.set("other", b"x")?;
                Err(ActionError::NotFound("nope".into()))
            });
        assert_eq!(result, Err(ActionError::NotFound("nope".into())));
        assert_eq!(host.keys(), ["counter/a"]);
        assert_eq!(
            host.get_json::<Counter>("counter/a").unwrap(),
            Some(Counter { count: 1 })
        );
        assert_eq!(host.changes().len(), 1);
        assert!(host.protocol_violations().is_empty());
    }

    #[test]
    fn an_unchanged_state_records_nothing() {
        let host = host();
        bump(&host, "a").unwrap();
        let same: Committed<Counter> =
            mutate::<_, _, ActionError>(&host, "counter", "a", &MutationOptions::default(), Ok)
                .unwrap();
        assert!(!same.changed());
        assert_eq!(same.state, Some(Counter { count: 1 }));
        assert_eq!(host.changes().len(), 1);
    }

    #[test]
    fn a_malformed_prev_is_an_error_and_ends_the_mutation() {
        #[derive(Debug, Serialize, Deserialize)]
        struct Other {
            #[allow(dead_code)]
            name: String,
        }
        let host = host();
        bump(&host, "a").unwrap();
        let result = mutate::<_, Other, ActionError>(
            &host,
            "counter",
            "a",
            &MutationOptions::default(),
            |_| unreachable!("the closure never runs"),
        );
        match result {
            Err(ActionError::Internal(message)) => {
                assert!(
                    message.starts_with("entity engine: the entity's stored state"),
                    "{message}"
                );
            }
            other => panic!("expected an internal error, got {other:?}"),
        }
        // The mutation ended: another one can open.
        bump(&host, "a").unwrap();
        assert!(host.protocol_violations().is_empty());
    }

    #[test]
    fn engine_refusals_come_back_as_errors() {
        let host = host();
        let result = mutate::<_, Counter, MutationError>(
            &host,
            "gadget",
            "a",
            &MutationOptions::default(),
            Ok,
        );
        assert_eq!(
            result,
            Err(MutationError::Entity(EntityError::UnknownKind(
                "gadget".into()
            )))
        );
        let error = ActionError::from(MutationError::Entity(EntityError::Finished));
        assert_eq!(
            error,
            ActionError::Internal("entity engine: the mutation already ended".into())
        );
    }

    #[test]
    fn mutate_with_returns_the_closures_value() {
        let host = host();
        let stored = mutate_with::<_, Counter, _, ActionError>(
            &host,
            "counter",
            "a",
            &MutationOptions::default(),
            |_| {
                host.set("counter/a", b"{\"count\":5}")?;
                Ok(("the record", Some(Counter { count: 5 })))
            },
        )
        .unwrap();
        assert_eq!(stored, "the record");
        assert_eq!(host.state("counter", "a"), Some(json!({"count": 5})));
    }

    #[test]
    fn storage_errors_inside_the_closure_convert() {
        let host = host();
        let result = mutate::<_, Counter, ActionError>(
            &host,
            "counter",
            "a",
            &MutationOptions::default(),
            |_| {
                host.set("", b"")?;
                Ok(None)
            },
        );
        assert_eq!(
            result,
            Err(ActionError::from(StorageError::InvalidKey(
                "keys must not be empty".into()
            )))
        );
    }

    #[test]
    fn changed_fields_are_the_sorted_differing_fields() {
        let prev = json!({"a": 1, "b": 2, "c": 3});
        let next = json!({"a": 1, "b": 5, "d": 4});
        assert_eq!(changed_fields(Some(&prev), Some(&next)), ["b", "c", "d"]);
        assert_eq!(changed_fields(None, Some(&prev)), ["a", "b", "c"]);
        assert!(changed_fields(Some(&prev), Some(&prev)).is_empty());
    }
}
