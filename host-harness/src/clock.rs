//! The time and randomness a plugin sees. Both come from the host, so a
//! test can fix them: a [`FixedClock`] and a seeded [`Randomness`].

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use parking_lot::Mutex;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// A source of the current time.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
}

/// The machine's real clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that stands still until moved.
#[derive(Debug)]
pub struct FixedClock {
    now: Mutex<DateTime<Utc>>,
}

impl FixedClock {
    pub fn new(now: DateTime<Utc>) -> Self {
        Self {
            now: Mutex::new(now),
        }
    }

    pub fn set(&self, now: DateTime<Utc>) {
        *self.now.lock() = now;
    }

    pub fn advance(&self, by: chrono::Duration) {
        let mut now = self.now.lock();
        *now += by;
    }
}

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock()
    }
}

/// Prints an instant the way every record of the harness does.
pub fn format_instant(instant: DateTime<Utc>) -> String {
    instant.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Serves a [`Clock`] as WASI's wall clock.
pub(crate) struct WasiWallClock(pub Arc<dyn Clock>);

impl wasmtime_wasi::HostWallClock for WasiWallClock {
    fn resolution(&self) -> Duration {
        Duration::from_millis(1)
    }

    fn now(&self) -> Duration {
        let now = self.0.now();
        let nanos = now.timestamp_nanos_opt().unwrap_or(0).max(0);
        Duration::from_nanos(nanos as u64)
    }
}

/// Serves a [`Clock`] as WASI's monotonic clock, so a fixed clock stops
/// both; time never runs backwards within a run because the clock only
/// moves between runs.
pub(crate) struct WasiMonotonicClock(pub Arc<dyn Clock>);

impl wasmtime_wasi::HostMonotonicClock for WasiMonotonicClock {
    fn resolution(&self) -> u64 {
        1_000_000
    }

    fn now(&self) -> u64 {
        self.0.now().timestamp_nanos_opt().unwrap_or(0).max(0) as u64
    }
}

/// Where the randomness of runs comes from. Every run gets its own
/// generator, seeded from this one, so a seeded harness repeats the same
/// ids run after run while no two runs share a stream.
pub struct Randomness {
    source: Mutex<StdRng>,
}

impl Randomness {
    /// Seeded from the operating system.
    pub fn from_os() -> Self {
        Self {
            source: Mutex::new(StdRng::from_rng(&mut rand::rng())),
        }
    }

    /// The same sequence every time, for tests.
    pub fn seeded(seed: u64) -> Self {
        Self {
            source: Mutex::new(StdRng::seed_from_u64(seed)),
        }
    }

    /// A fresh generator for one run.
    pub(crate) fn fork(&self) -> StdRng {
        StdRng::from_rng(&mut *self.source.lock())
    }

    /// A UUID v4 for a record the host creates.
    pub(crate) fn uuid(&self) -> String {
        let mut bytes = [0u8; 16];
        self.source.lock().fill_bytes(&mut bytes);
        uuid::Builder::from_random_bytes(bytes)
            .into_uuid()
            .to_string()
    }
}
