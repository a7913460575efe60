//! The write protocol of the reactive entity engine.
//!
//! The engine keeps each entity's committed state in its own key space.
//! Opening a mutation reads `prev` from there and sets a savepoint;
//! committing diffs `prev` against `next` and records a change when a
//! field differs (see [`changed_fields`], the no-op rule); abandoning, or
//! dropping an open mutation, rolls the storage writes made since the
//! savepoint back.

use serde_json::Value;

use super::{EntityError, Phase, Session};
use crate::backend::Savepoint;
use crate::clock::format_instant;
use crate::limits::MAX_DOCUMENT_BYTES;
use crate::records::{Actor, ChangeRecord, Problem};

/// A change the engine recorded for a committed mutation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChangeReceipt {
    /// The recorded change's id.
    pub change_id: String,
    /// The fields that differ, sorted.
    pub changed_fields: Vec<String>,
    /// When the change was recorded.
    pub occurred_at: String,
}

/// One open write of one entity; the `mutation` resource.
pub struct MutationState {
    kind: String,
    id: String,
    actor: Actor,
    prev: Option<Value>,
    savepoint: Savepoint,
    finished: bool,
}

impl MutationState {
    /// The entity's committed state before this write.
    pub fn prev(&self) -> Option<&Value> {
        self.prev.as_ref()
    }

    pub(crate) fn label(&self) -> String {
        format!("{}/{}", self.kind, self.id)
    }
}

/// The no-op rule: a commit records a change only when a field differs;
/// see [`contract_rules::changed_fields`], shared with the guest SDK's test
/// host so both decide alike.
pub use contract_rules::changed_fields;

fn invalid_state(message: String) -> EntityError {
    EntityError::InvalidState(vec![Problem {
        path: String::new(),
        message,
    }])
}

fn unavailable(error: anyhow::Error) -> EntityError {
    EntityError::Unavailable(format!("{error:#}"))
}

fn state_key(kind: &str, id: &str) -> String {
    format!("{kind}/{id}")
}

impl Session {
    /// Parses a state the plugin sent as JSON text; [`Self::check_state`]
    /// checks it.
    fn parse_state(text: &str) -> Result<Value, EntityError> {
        if text.len() > MAX_DOCUMENT_BYTES {
            return Err(invalid_state(format!(
                "is {} bytes; the limit is {MAX_DOCUMENT_BYTES}",
                text.len(),
            )));
        }
        serde_json::from_str(text)
            .map_err(|error| invalid_state(format!("is not valid JSON: {error}")))
    }

    /// Checks a state against the kind's schema.
    fn check_state(&self, kind: &str, state: Value) -> Result<Value, EntityError> {
        if !state.is_object() {
            return Err(invalid_state("must be a JSON object".into()));
        }
        let schema = self
            .catalog
            .entity_kinds
            .get(kind)
            .ok_or_else(|| EntityError::UnknownKind(kind.to_owned()))?;
        let problems = schema.problems(&state);
        if !problems.is_empty() {
            return Err(EntityError::InvalidState(problems));
        }
        Ok(state)
    }

    /// Opens a write of `kind/id` on behalf of `actor` (the system when
    /// absent); `run_id`, when given, must be the current run's.
    pub(crate) fn open_mutation(
        &mut self,
        kind: &str,
        id: &str,
        run_id: Option<&str>,
        actor: Option<Actor>,
    ) -> Result<MutationState, EntityError> {
        // A query may not write, whatever it names: refused first.
        if self
            .run
            .as_ref()
            .is_some_and(|run| run.phase == Phase::Query)
        {
            return Err(EntityError::NotPermitted(format!(
                "{}: they cannot write entities",
                contract_rules::READ_ONLY
            )));
        }
        if !self.catalog.entity_kinds.contains_key(kind) {
            return Err(EntityError::UnknownKind(kind.to_owned()));
        }
        if let Some(problem) = contract_rules::entity_id_problem(id) {
            return Err(EntityError::InvalidId(problem));
        }
        let space = self.entity_space();
        let run = match self.run.as_mut() {
            Some(run) if run.phase == Phase::Action => run,
            Some(_) => {
                return Err(EntityError::NotPermitted(
                    "the deriver may not write entities".into(),
                ));
            }
            None => {
                return Err(EntityError::NotPermitted(
                    "entities can only be written during a run".into(),
                ));
            }
        };
        if let Some(open) = &run.open_mutation {
            return Err(EntityError::AlreadyOpen(open.clone()));
        }
        if let Some(run_id) = run_id
            && run_id != run.run_id
        {
            return Err(EntityError::InvalidOptions(format!(
                "run id {run_id} is not the current run {}",
                run.run_id
            )));
        }
        let prev = run
            .txn
            .get(&space, &state_key(kind, id))
            .map_err(unavailable)?
            .map(|bytes| serde_json::from_slice::<Value>(&bytes))
            .transpose()
            .map_err(|error| {
                EntityError::Unavailable(format!(
                    "the stored state of {kind}/{id} is corrupt: {error}"
                ))
            })?;
        let savepoint = run.txn.savepoint().map_err(unavailable)?;
        let mutation = MutationState {
            actor: actor.unwrap_or_else(Actor::system),
            kind: kind.to_owned(),
            id: id.to_owned(),
            prev,
            savepoint,
            finished: false,
        };
        run.open_mutation = Some(mutation.label());
        Ok(mutation)
    }

    /// Ends `mutation` with `next`, sent as JSON text.
    pub(crate) fn commit_text(
        &mut self,
        mutation: &mut MutationState,
        next: Option<String>,
    ) -> Result<Option<ChangeReceipt>, EntityError> {
        if mutation.finished {
            return Err(EntityError::Finished);
        }
        let next = next.as_deref().map(Self::parse_state).transpose()?;
        self.commit_mutation(mutation, next)
    }

    /// Ends `mutation` with `next`: records a change when a field differs.
    pub(crate) fn commit_mutation(
        &mut self,
        mutation: &mut MutationState,
        next: Option<Value>,
    ) -> Result<Option<ChangeReceipt>, EntityError> {
        if mutation.finished {
            return Err(EntityError::Finished);
        }
        let next = next
            .map(|state| self.check_state(&mutation.kind, state))
            .transpose()?;
        let space = self.entity_space();
        let plugin_id = self.catalog.id.clone();
        let Some(run) = self.run.as_mut() else {
            return Err(EntityError::NotPermitted("the run has ended".into()));
        };
        mutation.finished = true;
        run.open_mutation = None;
        let changed = changed_fields(mutation.prev.as_ref(), next.as_ref());
        if changed.is_empty() {
            return Ok(None);
        }
        let key = state_key(&mutation.kind, &mutation.id);
        match &next {
            Some(state) => run.txn.set(&space, &key, state.to_string().as_bytes()),
            None => run.txn.delete(&space, &key).map(|_| ()),
        }
        .map_err(unavailable)?;
        let change = ChangeRecord {
            change_id: run.randomness.uuid(),
            plugin_id,
            kind: mutation.kind.clone(),
            entity_id: mutation.id.clone(),
            prev: mutation.prev.clone(),
            next,
            changed_fields: changed,
            actor: mutation.actor.clone(),
            run_id: Some(run.run_id.clone()),
            occurred_at: format_instant(run.clock.now()),
        };
        let receipt = ChangeReceipt {
            change_id: change.change_id.clone(),
            changed_fields: change.changed_fields.clone(),
            occurred_at: change.occurred_at.clone(),
        };
        run.changes.push(change);
        Ok(Some(receipt))
    }

    /// Rolls an unfinished mutation's writes back and closes it; false
    /// when it had already ended.
    pub(crate) fn end_mutation(&mut self, mutation: &mut MutationState) -> anyhow::Result<bool> {
        if mutation.finished {
            return Ok(false);
        }
        mutation.finished = true;
        if let Some(run) = self.run.as_mut() {
            run.open_mutation = None;
            run.txn.rollback_to(mutation.savepoint)?;
        }
        Ok(true)
    }

    /// Records that the plugin dropped `mutation` without ending it, which
    /// fails the run, and rolls its writes back.
    pub(crate) fn drop_mutation(&mut self, mutation: &mut MutationState) -> anyhow::Result<()> {
        if self.end_mutation(mutation)?
            && let Some(run) = self.run.as_mut()
        {
            run.dropped_mutation = Some(mutation.label());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_differing_fields_are_reported_sorted() {
        let prev = json!({"status": "scheduled", "systemIds": ["a"], "endAt": "x"});
        let next = json!({"status": "completed", "systemIds": ["a"], "endAt": "y"});
        assert_eq!(
            changed_fields(Some(&prev), Some(&next)),
            ["endAt", "status"]
        );
    }

    #[test]
    fn equal_states_have_no_changed_fields() {
        let state = json!({"a": {"nested": [1, 2]}, "b": null});
        assert!(changed_fields(Some(&state), Some(&state.clone())).is_empty());
        assert!(changed_fields(None, None).is_empty());
    }

    #[test]
    fn creation_and_deletion_change_every_field() {
        let state = json!({"b": 1, "a": 2});
        assert_eq!(changed_fields(None, Some(&state)), ["a", "b"]);
        assert_eq!(changed_fields(Some(&state), None), ["a", "b"]);
    }

    #[test]
    fn a_field_that_appears_or_disappears_is_a_change() {
        let prev = json!({"a": 1});
        let next = json!({"a": 1, "b": null});
        assert_eq!(changed_fields(Some(&prev), Some(&next)), ["b"]);
    }
}
