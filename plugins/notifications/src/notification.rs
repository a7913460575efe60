//! The `notification` entity: the stored record, the state the entity
//! engine tracks, the `message` view, and the deriver.

use plugin_sdk::host::{MAX_KEY_BYTES, Storage};
use plugin_sdk::storage::{StorageExt, StoreError};
use plugin_sdk::{EntityChange, Instant, QueryError, TriggerEvent};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::catalog::{TRIGGER_QUEUED, TRIGGER_SENT};

/// The local entity kind the plugin owns.
pub const ENTITY_KIND: &str = "notification";

/// Where a notification is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Waiting to be delivered.
    Queued,
    /// Delivered.
    Sent,
}

impl Status {
    /// The status as it is spelled in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Queued => "queued",
            Status::Sent => "sent",
        }
    }
}

/// A notification as the plugin stores it, at `notification/<id>`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Notification {
    /// The id the host handed out when it was queued.
    pub id: String,
    /// Where it goes.
    pub channel: String,
    /// Its subject line.
    pub subject: String,
    /// Its text.
    pub body: String,
    /// Where it is.
    pub status: Status,
    /// The dedupe key it was queued under, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dedupe_key: Option<String>,
    /// When it was queued.
    pub queued_at: Instant,
    /// When it was marked as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_at: Option<Instant>,
}

impl Notification {
    /// The fields the entity engine tracks.
    pub fn state(&self) -> NotificationState {
        NotificationState {
            channel: self.channel.clone(),
            subject: self.subject.clone(),
            status: self.status,
        }
    }

    /// The `message` artifact `send` returns.
    pub fn message(&self) -> Value {
        message(&self.id, &self.state())
    }
}

/// The state of a `notification` entity. The body is deliberately not
/// part of it: it can be long, and no trigger depends on it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotificationState {
    /// Where it goes.
    pub channel: String,
    /// Its subject line.
    pub subject: String,
    /// Where it is.
    pub status: Status,
}

/// The `message` view of a notification: `send`'s artifact and the
/// payload of both triggers.
pub fn message(id: &str, state: &NotificationState) -> Value {
    json!({
        "notificationId": id,
        "channel": state.channel,
        "subject": state.subject,
        "status": state.status.as_str(),
    })
}

const NOTIFICATION_PREFIX: &str = "notification/";
const DEDUPE_PREFIX: &str = "dedupe/";

/// The key of notification `id`, absent when the id is too long to be
/// part of a key (no notification has such an id: they are UUIDs).
pub fn notification_key(id: &str) -> Option<String> {
    let key = format!("{NOTIFICATION_PREFIX}{id}");
    (key.len() <= MAX_KEY_BYTES).then_some(key)
}

/// The key of the dedupe index entry for `dedupe_key`. Dedupe keys are at
/// most 200 characters, so 800 bytes, and always fit.
pub fn dedupe_index_key(dedupe_key: &str) -> String {
    format!("{DEDUPE_PREFIX}{dedupe_key}")
}

/// Notification `id`, if it exists.
pub fn load<S: Storage + ?Sized>(
    storage: &S,
    id: &str,
) -> Result<Option<Notification>, StoreError> {
    match notification_key(id) {
        Some(key) => storage.get_json(&key),
        None => Ok(None),
    }
}

/// `get`'s input.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct GetInput {
    notification_id: String,
}

/// The `get` query: the whole notification, `null` for what it lacks.
pub fn get<S: Storage + ?Sized>(storage: &S, input: &Value) -> Result<Value, QueryError> {
    let GetInput { notification_id } = plugin_sdk::config::parse(input)?;
    let notification = load(storage, &notification_id)?.ok_or_else(|| {
        QueryError::NotFound(format!("Notification not found: {notification_id}"))
    })?;
    Ok(json!({
        "notificationId": notification.id,
        "channel": notification.channel,
        "subject": notification.subject,
        "body": notification.body,
        "status": notification.status.as_str(),
        "dedupeKey": notification.dedupe_key,
        "queuedAt": notification.queued_at,
        "sentAt": notification.sent_at,
    }))
}

/// The notification queued under `dedupe_key`, if any.
pub fn find_by_dedupe_key<S: Storage + ?Sized>(
    storage: &S,
    dedupe_key: &str,
) -> Result<Option<Notification>, StoreError> {
    let index_key = dedupe_index_key(dedupe_key);
    let Some(bytes) = storage.get(&index_key)? else {
        return Ok(None);
    };
    let corrupt = |reason: String| StoreError::Corrupt {
        key: index_key.clone(),
        reason,
    };
    let id = String::from_utf8(bytes).map_err(|error| corrupt(error.to_string()))?;
    // Both are written by the same mutation, so an index entry without its
    // notification means the store was damaged.
    load(storage, &id)?
        .map(Some)
        .ok_or_else(|| corrupt(format!("names notification {id}, which does not exist")))
}

/// The trigger events a change of a notification fires: `queued` when it
/// is created, `sent` when its status becomes `sent` (both, in that order,
/// for one created already sent), nothing otherwise. A pure function of
/// the change.
pub fn derive(change: &EntityChange) -> Result<Vec<TriggerEvent>, String> {
    if change.kind != ENTITY_KIND {
        return Ok(Vec::new());
    }
    let Some(next) = change.next_as::<NotificationState>()? else {
        return Ok(Vec::new());
    };
    let prev = change.prev_as::<NotificationState>()?;
    let mut events = Vec::new();
    let event = |trigger| TriggerEvent::new(trigger, message(&change.id, &next), change.id.clone());
    if prev.is_none() {
        events.push(event(TRIGGER_QUEUED));
    }
    let was_sent = prev.is_some_and(|prev| prev.status == Status::Sent);
    if next.status == Status::Sent && !was_sent {
        events.push(event(TRIGGER_SENT));
    }
    Ok(events)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(status: &str) -> Value {
        json!({"channel": "ops", "subject": "Disk full", "status": status})
    }

    fn change(prev: Option<Value>, next: Option<Value>) -> EntityChange {
        EntityChange::new(ENTITY_KIND, "n1", prev, next)
    }

    fn triggers(events: &[TriggerEvent]) -> Vec<&str> {
        events.iter().map(|e| e.trigger_id.as_str()).collect()
    }

    #[test]
    fn a_creation_fires_queued_with_the_message() {
        let events = derive(&change(None, Some(state("queued")))).unwrap();
        assert_eq!(
            events,
            [TriggerEvent::new(
                "queued",
                json!({"notificationId": "n1", "channel": "ops", "subject": "Disk full", "status": "queued"}),
                "n1"
            )]
        );
    }

    #[test]
    fn becoming_sent_fires_sent_once() {
        let events = derive(&change(Some(state("queued")), Some(state("sent")))).unwrap();
        assert_eq!(triggers(&events), ["sent"]);
        assert_eq!(events[0].payload["status"], "sent");
        assert_eq!(events[0].context_key.as_deref(), Some("n1"));
        let mut renamed = state("sent");
        renamed["subject"] = json!("Disk still full");
        assert!(
            derive(&change(Some(state("sent")), Some(renamed)))
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn a_creation_already_sent_fires_both_in_order() {
        let events = derive(&change(None, Some(state("sent")))).unwrap();
        assert_eq!(triggers(&events), ["queued", "sent"]);
    }

    #[test]
    fn other_changes_fire_nothing() {
        let mut renamed = state("queued");
        renamed["channel"] = json!("dev");
        assert!(
            derive(&change(Some(state("queued")), Some(renamed)))
                .unwrap()
                .is_empty()
        );
        assert!(
            derive(&change(Some(state("queued")), None))
                .unwrap()
                .is_empty()
        );
        let other = EntityChange::new("maintenance", "n1", None, Some(state("queued")));
        assert!(derive(&other).unwrap().is_empty());
    }

    #[test]
    fn a_malformed_state_is_an_error_naming_the_entity() {
        let error = derive(&change(None, Some(json!({"status": "lost"})))).unwrap_err();
        assert!(error.contains("notification/n1"), "{error}");
    }

    #[test]
    fn ids_too_long_for_a_key_name_no_notification() {
        let long = "n".repeat(MAX_KEY_BYTES);
        assert_eq!(notification_key(&long), None);
        assert_eq!(
            notification_key(&long[NOTIFICATION_PREFIX.len()..]).map(|k| k.len()),
            Some(MAX_KEY_BYTES)
        );
    }
}
