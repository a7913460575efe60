//! Every limit the host sets, in one place: what one run may consume
//! ([`Limits`]: time, memory, fuel), how large the things a plugin hands
//! the host may be, and how the sandbox is sized. A plugin that passes a
//! limit is stopped or refused, and its run is rolled back like any failed
//! run. The sandbox enforces the run limits (`wasm::sandbox`); the entity
//! engine enforces the size limits.

use std::time::Duration;

/// How often the engine's epoch advances: how long a computing guest runs
/// between two looks at its deadline.
pub const EPOCH_TICK: Duration = Duration::from_millis(5);

/// Limits of one run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Wall time a run (the action or job, then the deriver) may take.
    pub deadline: Duration,
    /// Linear memory the instance may grow to, in bytes.
    pub memory_bytes: usize,
    /// Instructions, in wasmtime fuel units, a run may execute; `None`
    /// meters nothing. Needs an engine made by [`crate::wasm::engine`] with
    /// fuel on.
    pub fuel: Option<u64>,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            deadline: Duration::from_secs(1),
            memory_bytes: 64 << 20,
            fuel: None,
        }
    }
}

/// The limits of storage and entity writes, shared with the guest SDK's
/// test host (`contract-rules`): the longest key, the largest value, the
/// longest entity id and the scan page size.
pub use contract_rules::{MAX_ENTITY_ID_BYTES, MAX_KEY_BYTES, MAX_SCAN_LIMIT, MAX_VALUE_BYTES};
/// The largest JSON document a plugin may hand the host or be handed: a
/// config, an artifact, an event payload or an entity state.
pub const MAX_DOCUMENT_BYTES: usize = 1 << 20;
/// How much one run may log; past it, lines are dropped and one notice
/// says so.
pub const MAX_LOG_BYTES: usize = 1 << 20;
/// How much of a guest's stderr is kept for error reports; past it the
/// stream is closed, never blocked.
pub const STDERR_CAPACITY: usize = 64 * 1024;
/// Most elements a guest table may grow to. Tables hold function
/// references; no sane plugin needs more.
pub const MAX_TABLE_ELEMENTS: usize = 100_000;
/// How many plugin instances a pooled engine holds at once. A run holds
/// one instance for its duration, so this bounds concurrent runs per
/// engine; each slot reserves address space (4 GiB per linear memory),
/// not physical memory.
pub const POOL_INSTANCES: u32 = 128;
/// How much of a pooled memory or table stays resident between instances:
/// enough for a small plugin's stack, data and working heap.
pub const KEEP_RESIDENT_BYTES: usize = 1 << 20;

/// A size as limits are stated: in the largest of MiB, KiB or bytes that
/// shows it exactly (`64 MiB`, `1536 KiB`, `1000 bytes`).
pub fn format_bytes(bytes: usize) -> String {
    match bytes {
        0 => "0 bytes".into(),
        _ if bytes.is_multiple_of(1 << 20) => format!("{} MiB", bytes >> 20),
        _ if bytes.is_multiple_of(1 << 10) => format!("{} KiB", bytes >> 10),
        _ => format!("{bytes} bytes"),
    }
}

#[cfg(test)]
mod tests {
    use super::format_bytes;

    #[test]
    fn sizes_are_stated_exactly() {
        assert_eq!(format_bytes(64 << 20), "64 MiB");
        assert_eq!(format_bytes(64 << 10), "64 KiB");
        assert_eq!(format_bytes(1536 << 10), "1536 KiB");
        assert_eq!(format_bytes(1000), "1000 bytes");
        assert_eq!(format_bytes(0), "0 bytes");
    }
}
