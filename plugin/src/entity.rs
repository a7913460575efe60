//! The `maintenance` entity: its state, the write protocol the actions
//! follow, and the deriver that turns its changes into trigger events.

use plugin_sdk::entity::mutate_with;
use plugin_sdk::host::{EntityHandle, MutationOptions};
use plugin_sdk::{EntityChange, TriggerEvent};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::actions::ActionError;
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

/// Writes one window through the entity handle: opens the mutation, lets
/// `apply` do the real storage writes, and commits the resulting state.
/// When `apply` fails the mutation is abandoned, so its writes roll back.
pub fn write_entity<E: EntityHandle, T>(
    handle: &E,
    maintenance_id: &str,
    options: &MutationOptions,
    apply: impl FnOnce() -> Result<(T, Option<EntityState>), ActionError>,
) -> Result<T, ActionError> {
    // The window's own record, not the previous state, is what the
    // services change, so `prev` is not consulted.
    mutate_with(
        handle,
        ENTITY_KIND,
        maintenance_id,
        options,
        |_prev: Option<EntityState>| apply(),
    )
}

/// The trigger events a change fires: none for a deletion, `created` for a
/// creation, `updated` otherwise. A pure function of the change.
pub fn derive(change: &EntityChange) -> Result<Vec<TriggerEvent>, String> {
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
    Ok(vec![TriggerEvent::new(
        trigger_id,
        payload(&change.id, &state),
        change.id.clone(),
    )])
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
        EntityChange::new(ENTITY_KIND, "w1", prev, next)
    }

    #[test]
    fn a_creation_fires_created_with_the_new_state() {
        let events = derive(&change(None, Some(state("scheduled")))).unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].trigger_id, "created");
        assert_eq!(events[0].context_key.as_deref(), Some("w1"));
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
