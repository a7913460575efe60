//! The maintenance service: windows, their update log and the index of
//! active windows by system, laid out over the host's ordered key-value
//! store.
//!
//! Keys:
//! - `window/<id>`: the window.
//! - `active/<system>/<id>`: present while the window is active and covers
//!   the system, so finding a system's active windows reads only those; a
//!   system id too long for the key is replaced by a digest (see
//!   `system_segment`).
//! - `update/<id>/<createdAt>/<n>/<entry-id>`: the window's log, in time
//!   order, then in the order written: `n` is the window's count of
//!   entries before this one, kept at `update-count/<id>`.
//! - `due/<instant>/<id>`: when the scheduler next has to look at the
//!   window (startAt while scheduled, endAt while in progress), so finding
//!   due windows reads only those.
//! - `start/<startAt>/<id>`: every window by its start, the order the
//!   `list` query pages through.
//! - `system/<system>/<startAt>/<id>`: every window of a system by its
//!   start, so listing one system's windows reads only those, however
//!   many other systems have.
//!
//! Instants in keys are `ordered_instant`'s 20 digits, which sort in time
//! order.

use std::collections::BTreeMap;

use plugin_sdk::host::{Environment, MAX_KEY_BYTES, Storage};
use plugin_sdk::storage::StorageExt;

use crate::entity::EntityState;
use crate::model::{Instant, Status, UpdateEntry, Window, canonical_system_ids};

/// Why a service operation failed: the store refused, or a stored record
/// no longer parses (naming the key and the reason).
pub use plugin_sdk::storage::StoreError as ServiceError;

/// The fields of a new window.
#[derive(Clone, Debug, PartialEq)]
pub struct NewWindow {
    pub title: String,
    pub description: Option<String>,
    pub system_ids: Vec<String>,
    pub start_at: Instant,
    pub end_at: Instant,
    pub suppress_notifications: bool,
}

/// A partial change of a window: only the fields present change.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WindowPatch {
    pub title: Option<String>,
    pub description: Option<String>,
    pub system_ids: Option<Vec<String>>,
    pub start_at: Option<Instant>,
    pub end_at: Option<Instant>,
    pub suppress_notifications: Option<bool>,
}

impl WindowPatch {
    /// The window as it would be after this patch, without storing it.
    pub fn apply_to(&self, window: &Window) -> Window {
        let mut patched = window.clone();
        if let Some(title) = &self.title {
            patched.title = title.clone();
        }
        if let Some(description) = &self.description {
            patched.description = Some(description.clone());
        }
        if let Some(system_ids) = &self.system_ids {
            patched.system_ids = canonical_system_ids(system_ids.iter().cloned());
        }
        if let Some(start_at) = self.start_at {
            patched.start_at = start_at;
        }
        if let Some(end_at) = self.end_at {
            patched.end_at = end_at;
        }
        if let Some(suppress) = self.suppress_notifications {
            patched.suppress_notifications = suppress;
        }
        patched
    }
}

/// Which windows `list` returns, and which page.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ListFilter {
    /// Only windows in one of these statuses; any status when absent.
    pub statuses: Option<Vec<Status>>,
    /// Only windows covering this system.
    pub system_id: Option<String>,
    /// Only windows starting at or after this instant.
    pub from: Option<Instant>,
    /// Only windows starting before this instant.
    pub to: Option<Instant>,
    /// At most this many windows.
    pub limit: usize,
    /// Resumes after the last window of an earlier page: its `next_cursor`.
    pub cursor: Option<String>,
}

/// One page of windows, ordered by startAt, then id.
#[derive(Clone, Debug, PartialEq)]
pub struct WindowPage {
    pub windows: Vec<Window>,
    /// Where the next page starts; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// Why `list` could not serve a page.
#[derive(Debug)]
pub enum ListError {
    /// The cursor is not one `list` returned.
    BadCursor,
    Store(ServiceError),
}

impl From<ServiceError> for ListError {
    fn from(error: ServiceError) -> Self {
        ListError::Store(error)
    }
}

impl From<plugin_sdk::host::StorageError> for ListError {
    fn from(error: plugin_sdk::host::StorageError) -> Self {
        ListError::Store(error.into())
    }
}

/// The domain API over a host's storage.
pub struct MaintenanceService<'a, H: ?Sized> {
    host: &'a H,
}

impl<'a, H: Storage + Environment + ?Sized> MaintenanceService<'a, H> {
    pub fn new(host: &'a H) -> Self {
        Self { host }
    }

    /// Stores a new window with the given id, always `scheduled`.
    pub fn create(&self, input: NewWindow, id: String) -> Result<Window, ServiceError> {
        let now = self.host.now();
        let window = Window {
            id,
            title: input.title,
            description: input.description,
            suppress_notifications: input.suppress_notifications,
            status: Status::Scheduled,
            start_at: input.start_at,
            end_at: input.end_at,
            system_ids: canonical_system_ids(input.system_ids),
            created_at: now,
            updated_at: now,
        };
        self.save(None, &window)?;
        Ok(window)
    }

    /// Changes the fields present in `patch`; `None` when the window does
    /// not exist.
    pub fn update(&self, id: &str, patch: &WindowPatch) -> Result<Option<Window>, ServiceError> {
        let Some(existing) = self.get(id)? else {
            return Ok(None);
        };
        let mut patched = patch.apply_to(&existing);
        patched.updated_at = self.host.now();
        self.save(Some(&existing), &patched)?;
        Ok(Some(patched))
    }

    /// Appends an entry to the window's log, first moving the window to
    /// `status_change` when given (any status to any status). `None` when
    /// the window does not exist.
    pub fn add_update(
        &self,
        maintenance_id: &str,
        message: &str,
        status_change: Option<Status>,
        created_by: Option<String>,
    ) -> Result<Option<(Window, UpdateEntry)>, ServiceError> {
        let Some(existing) = self.get(maintenance_id)? else {
            return Ok(None);
        };
        let now = self.host.now();
        let mut window = existing.clone();
        if let Some(status) = status_change {
            window.status = status;
            window.updated_at = now;
            self.save(Some(&existing), &window)?;
        }
        let entry = UpdateEntry {
            id: self.host.new_id(),
            maintenance_id: maintenance_id.to_owned(),
            message: message.to_owned(),
            status_change,
            created_at: now,
            created_by,
        };
        // Entries of one millisecond keep the order they were written in
        // (the clock of a test, or a fast caller, gives them one instant):
        // the window's own counter orders them, one read and one write.
        let counter = format!("{UPDATE_COUNTER_PREFIX}{}", escape(maintenance_id));
        let written: u64 = self.host.get_json(&counter)?.unwrap_or(0);
        self.host.set_json(&counter, &(written + 1))?;
        let key = format!(
            "update/{}/{}/{written:010}/{}",
            escape(maintenance_id),
            entry.created_at,
            entry.id
        );
        self.host.set_json(&key, &entry)?;
        Ok(Some((window, entry)))
    }

    /// Completes the window with a log entry; `None` when it does not
    /// exist.
    pub fn close(&self, id: &str, message: Option<&str>) -> Result<Option<Window>, ServiceError> {
        let message = message.unwrap_or("Maintenance completed early");
        Ok(self
            .add_update(id, message, Some(Status::Completed), None)?
            .map(|(window, _)| window))
    }

    pub fn get(&self, id: &str) -> Result<Option<Window>, ServiceError> {
        let key = window_key(id);
        // Windows carry the UUIDs the plugin generates; an id too long to
        // be a key (256 four-byte characters are) names no window.
        if key.len() > MAX_KEY_BYTES {
            return Ok(None);
        }
        self.host.get_json(&key)
    }

    /// The windows active for `system_id`, ordered by startAt, then id
    /// (the order `clear_system` closes them in), reading only that
    /// system's index entries.
    pub fn active_for_system(&self, system_id: &str) -> Result<Vec<Window>, ServiceError> {
        let prefix = active_prefix(system_id);
        let mut windows = Vec::new();
        for entry in self.host.scan_prefix(&prefix) {
            let (key, _) = entry?;
            let id = unescape(&key[prefix.len()..]);
            // The index is kept in step with every save; a window that is
            // gone or inactive means a bug, and is skipped rather than
            // closed twice. A window of another system is there when two
            // long system ids share a digest (see `system_segment`).
            if let Some(window) = self.get(&id)?
                && window.status.is_active()
                && window.system_ids.iter().any(|s| s == system_id)
            {
                windows.push(window);
            }
        }
        windows.sort_by(|a, b| (a.start_at, &a.id).cmp(&(b.start_at, &b.id)));
        Ok(windows)
    }

    /// One page of the windows `filter` selects, ordered by startAt, then
    /// id, read from the `start/` index, or from the `system/` index when
    /// the filter names a system: the cost grows with the windows in the
    /// range read, not with the store.
    pub fn list(&self, filter: &ListFilter) -> Result<WindowPage, ListError> {
        let prefix = match &filter.system_id {
            Some(system_id) => system_prefix(system_id),
            None => START_PREFIX.to_owned(),
        };
        // Every key of a window starting at `from` or later sorts after
        // the bare instant; the scan starts after whichever of that and the
        // cursor comes later, so a cursor never reaches back before `from`.
        let cursor = match &filter.cursor {
            Some(cursor) => Some(format!("{prefix}{}", checked_cursor(cursor)?)),
            None => None,
        };
        let from = filter
            .from
            .map(|from| format!("{prefix}{}", ordered_instant(from)));
        let after = cursor.into_iter().chain(from).max();
        let mut scan = self
            .host
            .scan_prefix(&prefix)
            .page_size(u32::try_from(filter.limit + 1).unwrap_or(u32::MAX));
        if let Some(after) = after {
            scan = scan.after(after);
        }
        let mut page = WindowPage {
            windows: Vec::new(),
            next_cursor: None,
        };
        let mut last_position = None;
        for entry in scan {
            let (key, _) = entry?;
            let position = &key[prefix.len()..];
            let Some((start, id)) = parse_position(position) else {
                continue;
            };
            if filter.to.is_some_and(|to| start >= to) {
                break;
            }
            let Some(window) = self.get(&id)? else {
                continue;
            };
            let wanted = filter
                .statuses
                .as_ref()
                .is_none_or(|statuses| statuses.contains(&window.status))
                // Two long system ids can share a digest segment.
                && filter
                    .system_id
                    .as_ref()
                    .is_none_or(|system| window.system_ids.contains(system));
            if !wanted {
                continue;
            }
            if page.windows.len() == filter.limit {
                page.next_cursor = last_position;
                break;
            }
            last_position = Some(position.to_owned());
            page.windows.push(window);
        }
        Ok(page)
    }

    /// The entity state of each id that exists.
    pub fn entity_states<'i>(
        &self,
        ids: impl IntoIterator<Item = &'i str>,
    ) -> Result<BTreeMap<String, EntityState>, ServiceError> {
        let mut states = BTreeMap::new();
        for id in ids {
            if let Some(window) = self.get(id)? {
                states.insert(id.to_owned(), EntityState::from(&window));
            }
        }
        Ok(states)
    }

    /// The window's log, oldest first.
    pub fn updates(&self, maintenance_id: &str) -> Result<Vec<UpdateEntry>, ServiceError> {
        let prefix = format!("update/{}/", escape(maintenance_id));
        self.host
            .scan_json(&prefix)
            .map(|entry| entry.map(|(_, update)| update))
            .collect()
    }

    /// The windows whose next lifecycle step is due at `now`, earliest
    /// first, reading only the due index up to `now`.
    pub fn due_windows(&self, now: Instant) -> Result<Vec<Window>, ServiceError> {
        let mut windows = Vec::new();
        for entry in self.host.scan_prefix(DUE_PREFIX) {
            let (key, _) = entry?;
            let Some((instant, id)) = parse_due_key(&key) else {
                continue;
            };
            if instant > now {
                break;
            }
            if let Some(window) = self.get(&id)?
                && due_instant(&window).is_some_and(|due| due <= now)
            {
                windows.push(window);
            }
        }
        Ok(windows)
    }

    /// Moves a window one step along its lifecycle: scheduled to
    /// in_progress, in_progress to completed, with the matching log entry.
    /// `None` when the window is gone or has no step left.
    pub fn advance(&self, id: &str) -> Result<Option<Window>, ServiceError> {
        let Some(window) = self.get(id)? else {
            return Ok(None);
        };
        let (status, message) = match window.status {
            Status::Scheduled => (Status::InProgress, "Maintenance started automatically"),
            Status::InProgress => (Status::Completed, "Maintenance completed automatically"),
            Status::Completed | Status::Cancelled => return Ok(None),
        };
        Ok(self
            .add_update(id, message, Some(status), None)?
            .map(|(window, _)| window))
    }

    /// Writes `window`, keeping the indexes in step with `previous`.
    fn save(&self, previous: Option<&Window>, window: &Window) -> Result<(), ServiceError> {
        let indexed = |w: &Window| -> Vec<String> {
            let mut keys: Vec<String> = if w.status.is_active() {
                w.system_ids.iter().map(|s| active_key(s, &w.id)).collect()
            } else {
                Vec::new()
            };
            keys.extend(due_instant(w).map(|due| due_key(due, &w.id)));
            keys.push(format!("{START_PREFIX}{}", position(w)));
            keys.extend(
                w.system_ids
                    .iter()
                    .map(|system| format!("{}{}", system_prefix(system), position(w))),
            );
            keys
        };
        let before = previous.map(indexed).unwrap_or_default();
        let after = indexed(window);
        for key in before.iter().filter(|key| !after.contains(key)) {
            self.host.delete(key)?;
        }
        // Every key, not only the new ones: a window stored before an
        // index existed is indexed by its next write.
        for key in &after {
            self.host.set(key, b"")?;
        }
        self.host.set_json(&window_key(&window.id), window)
    }
}

const DUE_PREFIX: &str = "due/";
const UPDATE_COUNTER_PREFIX: &str = "update-count/";
const START_PREFIX: &str = "start/";
const SYSTEM_PREFIX: &str = "system/";

/// An instant's milliseconds with the sign bit flipped, as 20 digits, so
/// that keys sort in time order, before 1970 too.
fn ordered_instant(instant: Instant) -> String {
    format!("{:020}", (instant.millis() as u64) ^ (1 << 63))
}

fn parse_ordered_instant(digits: &str) -> Option<Instant> {
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Instant::from_millis((digits.parse::<u64>().ok()? ^ (1 << 63)) as i64)
}

/// `<startAt>/<id>`: where a window sits in the `start/` and `system/`
/// indexes, and the cursor `list` hands out.
fn position(window: &Window) -> String {
    format!(
        "{}/{}",
        ordered_instant(window.start_at),
        escape(&window.id)
    )
}

/// A cursor `list` handed out: a position that reads back to itself.
fn checked_cursor(cursor: &str) -> Result<&str, ListError> {
    let (start, id) = parse_position(cursor).ok_or(ListError::BadCursor)?;
    let rewritten = format!("{}/{}", ordered_instant(start), escape(&id));
    if rewritten == cursor {
        Ok(cursor)
    } else {
        Err(ListError::BadCursor)
    }
}

fn parse_position(position: &str) -> Option<(Instant, String)> {
    let (digits, id) = position.split_once('/')?;
    Some((parse_ordered_instant(digits)?, unescape(id)))
}

fn system_prefix(system_id: &str) -> String {
    format!(
        "{SYSTEM_PREFIX}{}/",
        segment(system_id, MAX_LISTED_SYSTEM_SEGMENT_BYTES)
    )
}

/// When the scheduler next has to move `window`, if ever.
fn due_instant(window: &Window) -> Option<Instant> {
    match window.status {
        Status::Scheduled => Some(window.start_at),
        Status::InProgress => Some(window.end_at),
        Status::Completed | Status::Cancelled => None,
    }
}

/// `due/<20 digits>/<id>`: the instant's milliseconds with the sign bit
/// flipped, zero-padded, so that keys sort in time order, before 1970 too.
fn due_key(instant: Instant, id: &str) -> String {
    format!("{DUE_PREFIX}{}/{}", ordered_instant(instant), escape(id))
}

fn parse_due_key(key: &str) -> Option<(Instant, String)> {
    parse_position(key.strip_prefix(DUE_PREFIX)?)
}

fn window_key(id: &str) -> String {
    format!("window/{}", escape(id))
}

fn active_prefix(system_id: &str) -> String {
    format!("{ACTIVE_PREFIX}{}/", system_segment(system_id))
}

fn active_key(system_id: &str, window_id: &str) -> String {
    format!("{}{}", active_prefix(system_id), escape(window_id))
}

const ACTIVE_PREFIX: &str = "active/";
/// The length of the window ids the plugin generates (UUIDs).
const WINDOW_ID_BYTES: usize = 36;
/// The longest system segment that leaves room in an `active/` key for a
/// window id.
const MAX_SYSTEM_SEGMENT_BYTES: usize = MAX_KEY_BYTES - ACTIVE_PREFIX.len() - 1 - WINDOW_ID_BYTES;
/// The longest system segment that leaves room in a `system/` key for an
/// instant and a window id.
const MAX_LISTED_SYSTEM_SEGMENT_BYTES: usize =
    MAX_KEY_BYTES - SYSTEM_PREFIX.len() - 1 - 20 - 1 - WINDOW_ID_BYTES;

/// A system id as a key segment: escaped, or, when that is too long for
/// the key (a system id of up to 256 characters can take 1024 bytes), a
/// digest `%H<16 hex digits>` that no escaped id can spell, since escaping
/// only ever writes `%25` and `%2F`. Two long ids sharing a digest only
/// share an index range; [`MaintenanceService::active_for_system`] keeps
/// the windows that really cover the system. Every id that fitted before
/// keeps its segment, so stored indexes stay valid.
fn system_segment(system_id: &str) -> String {
    segment(system_id, MAX_SYSTEM_SEGMENT_BYTES)
}

/// A system id as a key segment of at most `max_bytes`; see
/// [`system_segment`].
fn segment(system_id: &str, max_bytes: usize) -> String {
    let escaped = escape(system_id);
    if escaped.len() <= max_bytes {
        return escaped;
    }
    format!("%H{:016x}", fnv1a64(system_id.as_bytes()))
}

/// 64-bit FNV-1a: small, stable across builds and platforms.
fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Ids are free text; escaping `/` keeps one id from reaching into
/// another's key range (system `a` must not see the keys of system `a/b`).
fn escape(segment: &str) -> String {
    segment.replace('%', "%25").replace('/', "%2F")
}

fn unescape(segment: &str) -> String {
    segment.replace("%2F", "/").replace("%25", "%")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::storage_host;
    use plugin_sdk::storage::SCAN_PAGE;

    /// The ids of the windows active for `system`, in the order returned.
    fn active_ids<H: Storage + Environment + ?Sized>(
        service: &MaintenanceService<'_, H>,
        system: &str,
    ) -> Vec<String> {
        service
            .active_for_system(system)
            .unwrap()
            .into_iter()
            .map(|w| w.id)
            .collect()
    }

    fn new_window(systems: &[&str]) -> NewWindow {
        NewWindow {
            title: "Patch".into(),
            description: None,
            system_ids: systems.iter().map(|s| s.to_string()).collect(),
            start_at: Instant::parse("2026-03-01T10:00:00Z").unwrap(),
            end_at: Instant::parse("2026-03-01T11:00:00Z").unwrap(),
            suppress_notifications: false,
        }
    }

    #[test]
    fn created_windows_are_scheduled_with_canonical_systems() {
        let host = storage_host();
        let service = MaintenanceService::new(&host);
        let window = service
            .create(new_window(&["b", "a", "b"]), "w1".into())
            .unwrap();
        assert_eq!(window.status, Status::Scheduled);
        assert_eq!(window.system_ids, ["a", "b"]);
        assert_eq!(service.get("w1").unwrap(), Some(window));
    }

    #[test]
    fn active_windows_are_found_through_the_index_only() {
        let host = storage_host();
        let service = MaintenanceService::new(&host);
        service.create(new_window(&["a"]), "w1".into()).unwrap();
        service
            .create(new_window(&["a", "b"]), "w2".into())
            .unwrap();
        service.create(new_window(&["a/b"]), "w3".into()).unwrap();
        service.close("w1", None).unwrap();

        let ids = |system: &str| active_ids(&service, system);
        assert_eq!(ids("a"), ["w2"]);
        assert_eq!(ids("b"), ["w2"]);
        assert_eq!(ids("a/b"), ["w3"]);
        assert!(!host.keys().iter().any(|k| k.starts_with("active/a/w1")));
    }

    #[test]
    fn reopening_a_window_puts_it_back_in_the_index() {
        let host = storage_host();
        let service = MaintenanceService::new(&host);
        service.create(new_window(&["a"]), "w1".into()).unwrap();
        service.close("w1", Some("done")).unwrap();
        assert!(service.active_for_system("a").unwrap().is_empty());
        service
            .add_update("w1", "again", Some(Status::InProgress), None)
            .unwrap();
        assert_eq!(service.active_for_system("a").unwrap().len(), 1);
    }

    #[test]
    fn replacing_systems_moves_the_index() {
        let host = storage_host();
        let service = MaintenanceService::new(&host);
        service.create(new_window(&["a"]), "w1".into()).unwrap();
        let patch = WindowPatch {
            system_ids: Some(vec!["c".into()]),
            ..WindowPatch::default()
        };
        service.update("w1", &patch).unwrap().unwrap();
        assert!(service.active_for_system("a").unwrap().is_empty());
        assert_eq!(service.active_for_system("c").unwrap().len(), 1);
    }

    /// The keys under `prefix`, in order.
    fn keys_under(host: &plugin_sdk::testing::TestHost, prefix: &str) -> Vec<String> {
        host.keys()
            .into_iter()
            .filter(|key| key.starts_with(prefix))
            .collect()
    }

    #[test]
    fn moving_a_window_moves_every_index_entry_and_leaves_none_behind() {
        let host = storage_host();
        let service = MaintenanceService::new(&host);
        service
            .create(new_window(&["a", "b"]), "w1".into())
            .unwrap();
        let eleven = Instant::parse("2026-03-01T11:00:00Z").unwrap();
        let patch = WindowPatch {
            system_ids: Some(vec!["b".into(), "c".into()]),
            start_at: Some(eleven),
            end_at: Instant::parse("2026-03-01T12:00:00Z"),
            ..WindowPatch::default()
        };
        service.update("w1", &patch).unwrap().unwrap();
        let at = ordered_instant(eleven);
        assert_eq!(keys_under(&host, "start/"), [format!("start/{at}/w1")]);
        assert_eq!(
            keys_under(&host, "system/"),
            [format!("system/b/{at}/w1"), format!("system/c/{at}/w1")]
        );
        assert_eq!(keys_under(&host, "active/"), ["active/b/w1", "active/c/w1"]);
        assert_eq!(keys_under(&host, "due/"), [format!("due/{at}/w1")]);
        // Closed: out of the active and due indexes, still listed.
        service.close("w1", None).unwrap();
        assert!(keys_under(&host, "active/").is_empty());
        assert!(keys_under(&host, "due/").is_empty());
        assert_eq!(keys_under(&host, "start/").len(), 1);
        assert_eq!(keys_under(&host, "system/").len(), 2);
    }

    #[test]
    fn a_window_stored_before_the_listing_indexes_is_indexed_by_its_next_write() {
        let host = storage_host();
        let service = MaintenanceService::new(&host);
        service.create(new_window(&["a"]), "w1".into()).unwrap();
        // As a store written by a build without the `start/` and
        // `system/` indexes holds it.
        for key in keys_under(&host, "start/")
            .into_iter()
            .chain(keys_under(&host, "system/"))
        {
            host.delete(&key).unwrap();
        }
        let listed = |system: Option<&str>| {
            let filter = ListFilter {
                system_id: system.map(str::to_owned),
                limit: 10,
                ..ListFilter::default()
            };
            service.list(&filter).unwrap().windows.len()
        };
        assert_eq!((listed(None), listed(Some("a"))), (0, 0));
        service.add_update("w1", "still on", None, None).unwrap();
        assert_eq!((listed(None), listed(Some("a"))), (0, 0), "no save yet");
        let patch = WindowPatch {
            title: Some("renamed".into()),
            ..WindowPatch::default()
        };
        service.update("w1", &patch).unwrap().unwrap();
        assert_eq!((listed(None), listed(Some("a"))), (1, 1));
    }

    #[test]
    fn a_cursor_never_reaches_back_before_from_and_must_be_one_handed_out() {
        let host = storage_host();
        let service = MaintenanceService::new(&host);
        let at = |hour: u32| Instant::parse(&format!("2026-03-01T{hour:02}:00:00Z")).unwrap();
        for (id, hour) in [("w08", 8), ("w10", 10), ("w12", 12)] {
            let mut window = new_window(&["a"]);
            window.start_at = at(hour);
            window.end_at = at(hour + 1);
            service.create(window, id.into()).unwrap();
        }
        let page = |from: Option<Instant>, cursor: Option<String>| {
            let filter = ListFilter {
                from,
                cursor,
                limit: 1,
                ..ListFilter::default()
            };
            service.list(&filter)
        };
        let first = page(None, None).unwrap();
        assert_eq!(first.windows[0].id, "w08");
        // The first page's cursor, with a `from` after it: from wins.
        let later = page(Some(at(11)), first.next_cursor.clone()).unwrap();
        assert_eq!(later.windows[0].id, "w12");
        assert_eq!(later.next_cursor, None);
        let second = page(None, first.next_cursor).unwrap();
        assert_eq!(second.windows[0].id, "w10");
        for bad in [
            "w08",
            "00000000000000000000/w08",
            "09223373613654775808/w%2",
        ] {
            assert!(
                matches!(page(None, Some(bad.into())), Err(ListError::BadCursor)),
                "{bad}"
            );
        }
    }

    #[test]
    fn missing_windows_are_reported_as_none() {
        let host = storage_host();
        let service = MaintenanceService::new(&host);
        assert_eq!(
            service.update("nope", &WindowPatch::default()).unwrap(),
            None
        );
        assert_eq!(service.add_update("nope", "hi", None, None).unwrap(), None);
        assert_eq!(service.close("nope", None).unwrap(), None);
        assert!(host.keys().is_empty());
    }

    #[test]
    fn updates_are_logged_in_order() {
        let host = storage_host();
        let service = MaintenanceService::new(&host);
        service.create(new_window(&["a"]), "w1".into()).unwrap();
        service.add_update("w1", "first", None, None).unwrap();
        host.advance_minutes(1);
        service.close("w1", None).unwrap();
        let log = service.updates("w1").unwrap();
        let messages: Vec<_> = log.iter().map(|e| e.message.as_str()).collect();
        assert_eq!(messages, ["first", "Maintenance completed early"]);
        assert_eq!(log[1].status_change, Some(Status::Completed));
    }

    #[test]
    fn updates_of_one_instant_keep_the_order_they_were_written_in() {
        let store = storage_host();
        let host = crate::testing::Instrumented::with_backward_ids(&store);
        let service = MaintenanceService::new(&host);
        service.create(new_window(&["a"]), "w1".into()).unwrap();
        let written: Vec<String> = (0..12).map(|n| format!("update {n}")).collect();
        for message in &written {
            service.add_update("w1", message, None, None).unwrap();
        }
        let log = service.updates("w1").unwrap();
        let messages: Vec<String> = log.into_iter().map(|e| e.message).collect();
        assert_eq!(messages, written);
    }

    #[test]
    fn due_keys_sort_in_time_order_and_round_trip() {
        let early = Instant::parse("1969-12-31T23:59:59Z").unwrap();
        let late = Instant::parse("2026-03-01T10:00:00Z").unwrap();
        assert!(due_key(early, "x") < due_key(late, "a"));
        assert_eq!(
            parse_due_key(&due_key(late, "a/b")),
            Some((late, "a/b".into()))
        );
    }

    #[test]
    fn due_windows_are_found_through_the_index_and_step_once() {
        let host = storage_host();
        let service = MaintenanceService::new(&host);
        service.create(new_window(&["a"]), "w1".into()).unwrap();
        let mut later = new_window(&["a"]);
        later.start_at = Instant::parse("2026-03-02T10:00:00Z").unwrap();
        later.end_at = Instant::parse("2026-03-02T11:00:00Z").unwrap();
        service.create(later, "w2".into()).unwrap();
        let at = |text| Instant::parse(text).unwrap();

        let due = service.due_windows(at("2026-03-01T10:00:00Z")).unwrap();
        assert_eq!(
            due.iter().map(|w| w.id.as_str()).collect::<Vec<_>>(),
            ["w1"]
        );
        assert_eq!(
            service.advance("w1").unwrap().unwrap().status,
            Status::InProgress
        );
        assert!(
            service
                .due_windows(at("2026-03-01T10:59:59Z"))
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            service
                .due_windows(at("2026-03-01T11:00:00Z"))
                .unwrap()
                .len(),
            1
        );
        assert_eq!(
            service.advance("w1").unwrap().unwrap().status,
            Status::Completed
        );
        assert_eq!(service.advance("w1").unwrap(), None);
        assert!(
            service
                .due_windows(at("2026-03-01T23:00:00Z"))
                .unwrap()
                .is_empty()
        );
        let log = service.updates("w1").unwrap();
        assert_eq!(log[0].message, "Maintenance started automatically");
        assert_eq!(log[1].message, "Maintenance completed automatically");
    }

    #[test]
    fn ids_too_long_for_a_key_name_no_window() {
        let host = storage_host();
        let service = MaintenanceService::new(&host);
        let long = "\u{1F600}".repeat(256);
        assert_eq!(service.get(&long).unwrap(), None);
        assert_eq!(service.add_update(&long, "hi", None, None).unwrap(), None);
    }

    #[test]
    fn long_system_ids_are_indexed_under_a_digest_and_checked() {
        let host = storage_host();
        let service = MaintenanceService::new(&host);
        let a = "\u{1F600}".repeat(256);
        let b = "\u{1F601}".repeat(256);
        let fits = "/".repeat(326);
        service.create(new_window(&[&a]), "w1".into()).unwrap();
        service
            .create(new_window(&[&b, &fits]), "w2".into())
            .unwrap();
        assert!(host.keys().iter().all(|key| key.len() <= MAX_KEY_BYTES));
        assert_ne!(system_segment(&a), system_segment(&b));
        assert!(system_segment(&a).starts_with("%H"));
        // An id whose escaped form fits keeps it: 326 slashes are 978 bytes.
        assert_eq!(system_segment(&fits), escape(&fits));

        // A stray entry, as a digest shared by two ids would leave, is
        // read but not taken for the system's own.
        host.set(&active_key(&a, "w2"), b"").unwrap();
        let ids = |system: &str| active_ids(&service, system);
        assert_eq!(ids(&a), ["w1"]);
        assert_eq!(ids(&b), ["w2"]);
        assert_eq!(ids(&fits), ["w2"]);
        service.close("w1", None).unwrap();
        assert!(ids(&a).is_empty());
    }

    #[test]
    fn active_windows_come_ordered_by_start_then_id() {
        let host = storage_host();
        let service = MaintenanceService::new(&host);
        for (id, hour) in [("w1", 12), ("w2", 10), ("w3", 11), ("w0", 12)] {
            let mut window = new_window(&["a"]);
            window.start_at = Instant::parse(&format!("2026-03-01T{hour}:00:00Z")).unwrap();
            window.end_at = Instant::parse("2026-03-01T13:00:00Z").unwrap();
            service.create(window, id.into()).unwrap();
        }
        let ids: Vec<String> = service
            .active_for_system("a")
            .unwrap()
            .into_iter()
            .map(|w| w.id)
            .collect();
        assert_eq!(ids, ["w2", "w3", "w0", "w1"]);
    }

    #[test]
    fn many_active_windows_are_read_across_pages() {
        let host = storage_host();
        let service = MaintenanceService::new(&host);
        for i in 0..(SCAN_PAGE as usize * 2 + 3) {
            service
                .create(new_window(&["a"]), format!("w{i:04}"))
                .unwrap();
        }
        assert_eq!(
            service.active_for_system("a").unwrap().len(),
            SCAN_PAGE as usize * 2 + 3
        );
    }
}
