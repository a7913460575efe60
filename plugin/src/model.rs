//! The maintenance domain's records, in their canonical form.

use serde::{Deserialize, Serialize};

/// Instants live in the SDK: they are the contract's spelling of time.
pub use plugin_sdk::time::{Instant, InstantError};

/// Where a maintenance window is in its lifecycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Scheduled,
    InProgress,
    Completed,
    Cancelled,
}

impl Status {
    pub const ALL: [Status; 4] = [
        Status::Scheduled,
        Status::InProgress,
        Status::Completed,
        Status::Cancelled,
    ];

    /// The status as it is spelled in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Scheduled => "scheduled",
            Status::InProgress => "in_progress",
            Status::Completed => "completed",
            Status::Cancelled => "cancelled",
        }
    }

    /// Every status as spelled in JSON: `scheduled, in_progress, ...`.
    pub fn spellings() -> String {
        Self::ALL.map(Status::as_str).join(", ")
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == text)
    }

    /// Whether a window in this status still holds its systems. Time is
    /// deliberately not consulted: a scheduled window in the past is still
    /// active until something moves it on.
    pub fn is_active(self) -> bool {
        matches!(self, Status::Scheduled | Status::InProgress)
    }
}

/// Deduplicates and sorts system ids, the one order the plugin ever emits,
/// so that reordering the same set never looks like a change.
pub fn canonical_system_ids(ids: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut ids: Vec<String> = ids.into_iter().collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// A maintenance window as the plugin stores it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Window {
    pub id: String,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub suppress_notifications: bool,
    pub status: Status,
    pub start_at: Instant,
    pub end_at: Instant,
    pub system_ids: Vec<String>,
    pub created_at: Instant,
    pub updated_at: Instant,
}

/// One entry of a window's log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateEntry {
    pub id: String,
    pub maintenance_id: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_change: Option<Status>,
    pub created_at: Instant,
    /// Absent for writes made by automation rather than a person.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
}

/// The public view of a window: the `window` artifact and the payload of
/// both triggers share this shape.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WindowView {
    pub maintenance_id: String,
    pub status: Status,
    pub system_ids: Vec<String>,
    pub start_at: Instant,
    pub end_at: Instant,
}

impl From<&Window> for WindowView {
    fn from(window: &Window) -> Self {
        Self {
            maintenance_id: window.id.clone(),
            status: window.status,
            system_ids: canonical_system_ids(window.system_ids.iter().cloned()),
            start_at: window.start_at,
            end_at: window.end_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_ids_are_deduplicated_and_sorted() {
        let ids = canonical_system_ids(["b", "a", "b", "c"].map(String::from));
        assert_eq!(ids, ["a", "b", "c"]);
    }

    #[test]
    fn statuses_round_trip_their_spelling() {
        for status in Status::ALL {
            assert_eq!(Status::parse(status.as_str()), Some(status));
        }
        assert_eq!(Status::parse("done"), None);
    }
}
