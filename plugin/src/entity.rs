//! The `maintenance` entity: its state, the write protocol the actions
//! follow, and the deriver that turns its changes into trigger events.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::actions::ActionError;
use crate::host::{EntityHandle, Mutation, MutationOptions};
use crate::model::{Instant, Status, Window, WindowView, canonical_system_ids};

/// The local entity kind the plugin owns.
pub const ENTITY_KIND: &str = "maintenance";

/// The fields of a window the entity engine tracks. Title, description and
/// suppressNotifications are deliberately not part of it, so changing them
/// fires nothing.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EntityState {
    pub status: Status,
    pub system_ids: Vec<String>,
    pub start_at: Instant,
    pub end_at: Instant,
}

impl From<&Window> for EntityState {
    fn from(window: &Window) -> Self {
        Self {
            status: window.status,
            system_ids: canonical_system_ids(window.system_ids.iter().cloned()),
            start_at: window.start_at,
            end_at: window.end_at,
        }
    }
}

impl EntityState {
    fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// Writes one window through the entity handle: opens the mutation, lets
/// `apply` do the real storage writes, and commits the resulting state.
/// When `apply` fails the mutation is abandoned, so its writes roll back.
pub fn write_entity<E: EntityHandle, T>(
    handle: &E,
    maintenance_id: &str,
    options: &MutationOptions,
    apply: impl FnOnce() -> Result<(T, Option<EntityState>), ActionError>,
) -> Result<T, ActionError> {
    let entity_failure =
        |error: crate::host::EntityError| ActionError::Internal(format!("entity engine: {error}"));
    let mutation = handle
        .open(ENTITY_KIND, maintenance_id, options)
        .map_err(entity_failure)?;
    match apply() {
        Ok((value, next)) => {
            mutation
                .commit(next.as_ref().map(EntityState::to_json))
                .map_err(entity_failure)?;
            Ok(value)
        }
        Err(error) => {
            // The action's own error is what the caller needs to see; a
            // failure to abandon is moot, the host rolls back the whole run.
            let _ = mutation.abandon();
            Err(error)
        }
    }
}

/// A change the entity engine recorded, as the deriver sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct EntityChange {
    pub kind: String,
    pub id: String,
    pub prev: Option<Value>,
    pub next: Option<Value>,
}

/// A trigger event, by local trigger id.
#[derive(Clone, Debug, PartialEq)]
pub struct DerivedEvent {
    pub trigger_id: &'static str,
    pub payload: Value,
    pub context_key: String,
}

/// The trigger events a change fires: none for a deletion, `created` for a
/// creation, `updated` otherwise. A pure function of the change.
pub fn derive(change: &EntityChange) -> Result<Vec<DerivedEvent>, String> {
    if change.kind != ENTITY_KIND {
        return Ok(Vec::new());
    }
    let Some(next) = &change.next else {
        return Ok(Vec::new());
    };
    let trigger_id = if change.prev.is_none() {
        crate::catalog::TRIGGER_CREATED
    } else {
        crate::catalog::TRIGGER_UPDATED
    };
    let state: EntityState = serde_json::from_value(next.clone())
        .map_err(|error| format!("entity {} has a malformed state: {error}", change.id))?;
    Ok(vec![DerivedEvent {
        trigger_id,
        payload: payload(&change.id, &state),
        context_key: change.id.clone(),
    }])
}

/// The payload both triggers carry, built from the state after the write.
pub fn payload(maintenance_id: &str, state: &EntityState) -> Value {
    let view = WindowView {
        maintenance_id: maintenance_id.to_owned(),
        status: state.status,
        system_ids: canonical_system_ids(state.system_ids.iter().cloned()),
        start_at: state.start_at,
        end_at: state.end_at,
    };
    serde_json::to_value(view).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn state(status: &str) -> Value {
        json!({
            "status": status,
            "systemIds": ["a"],
            "startAt": "2026-03-01T10:00:00.000Z",
            "endAt": "2026-03-01T11:00:00.000Z",
        })
    }

    fn change(prev: Option<Value>, next: Option<Value>) -> EntityChange {
        EntityChange {
            kind: ENTITY_KIND.into(),
            id: "w1".into(),
            prev,
            next,
        }
    }

    #[test]
    fn a_creation_fires_created_with_the_new_state() {
        let events = derive(&change(None, Some(state("scheduled")))).unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].trigger_id, "created");
        assert_eq!(events[0].context_key, "w1");
        assert_eq!(
            events[0].payload,
            json!({
                "maintenanceId": "w1",
                "status": "scheduled",
                "systemIds": ["a"],
                "startAt": "2026-03-01T10:00:00.000Z",
                "endAt": "2026-03-01T11:00:00.000Z",
            })
        );
    }

    #[test]
    fn a_change_fires_updated() {
        let events = derive(&change(Some(state("scheduled")), Some(state("completed")))).unwrap();
        assert_eq!(events[0].trigger_id, "updated");
        assert_eq!(events[0].payload["status"], "completed");
    }

    #[test]
    fn a_deletion_or_another_kind_fires_nothing() {
        assert!(
            derive(&change(Some(state("scheduled")), None))
                .unwrap()
                .is_empty()
        );
        let mut other = change(None, Some(state("scheduled")));
        other.kind = "incident".into();
        assert!(derive(&other).unwrap().is_empty());
    }

    #[test]
    fn a_malformed_state_is_an_error_not_a_silent_drop() {
        let error = derive(&change(None, Some(json!({"status": 3})))).unwrap_err();
        assert!(error.contains("w1"), "{error}");
    }
}
