//! The time and randomness a plugin sees. Both come from the host, so a
//! test can fix them: a [`FixedClock`] and a seeded [`Randomness`].

use chrono::{DateTime, SecondsFormat, Utc};
use parking_lot::Mutex;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// A source of the current time.
pub trait Clock: Send + Sync + 'static {
    /// The current instant. A run whose clock reads outside
    /// [`MIN_INSTANT`]..=[`MAX_INSTANT`] fails before the plugin runs.
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
    /// A clock standing at `now`. The instant is not checked here: a run
    /// fails while the clock stands outside the range [`check_instant`]
    /// accepts.
    pub fn new(now: DateTime<Utc>) -> Self {
        Self {
            now: Mutex::new(now),
        }
    }

    /// Moves the clock to `now`, forwards or backwards.
    pub fn set(&self, now: DateTime<Utc>) {
        *self.now.lock() = now;
    }

    /// Moves the clock by `by`; a negative duration moves it back. Unlike
    /// [`Harness::advance`](crate::Harness::advance), it runs no due jobs.
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

/// The earliest instant a plugin's clock can show: WASI clocks count from
/// the Unix epoch and cannot go before it.
pub const MIN_INSTANT: DateTime<Utc> = DateTime::UNIX_EPOCH;

/// The latest instant a plugin's clock can show: the last one whose
/// nanoseconds since the Unix epoch fit an `i64`
/// (2262-04-11T23:47:16.854775807Z).
pub const MAX_INSTANT: DateTime<Utc> = DateTime::from_timestamp_nanos(i64::MAX);

/// An instant the host clock cannot be set to, because the plugin could
/// not be shown it: before [`MIN_INSTANT`] or after [`MAX_INSTANT`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "{} is outside the range a plugin's clock can show, {} to {}",
    format_instant_exact(*.0),
    format_instant_exact(MIN_INSTANT),
    format_instant_exact(MAX_INSTANT)
)]
pub struct InstantOutOfRange(pub DateTime<Utc>);

/// Checks that a plugin can be shown `instant` as the current time. Every
/// place that sets the host clock from outside (the CLI's `--now`, a
/// scenario's `now`) goes through this, so an instant out of range is
/// refused rather than shown to the plugin as something else.
pub fn check_instant(instant: DateTime<Utc>) -> Result<DateTime<Utc>, InstantOutOfRange> {
    if (MIN_INSTANT..=MAX_INSTANT).contains(&instant) {
        Ok(instant)
    } else {
        Err(InstantOutOfRange(instant))
    }
}

/// Nanoseconds since the Unix epoch, saturating at the ends of the range
/// [`check_instant`] accepts: a clock out of range shows its nearest end,
/// never an unrelated instant.
pub(crate) fn epoch_nanos(instant: DateTime<Utc>) -> u64 {
    match instant.timestamp_nanos_opt() {
        Some(nanos) => nanos.max(0) as u64,
        None if instant < MIN_INSTANT => 0,
        None => i64::MAX as u64,
    }
}

/// An instant with all its digits, for messages about the clock's range.
fn format_instant_exact(instant: DateTime<Utc>) -> String {
    instant.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// Prints an instant the way every record of the harness does.
pub fn format_instant(instant: DateTime<Utc>) -> String {
    instant.to_rfc3339_opts(SecondsFormat::Millis, true)
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

/// Parses an ISO 8601 duration such as `PT2M`, `PT1H30M`, `P1DT12H` or
/// `PT0.5S`. Years and months are refused: their length depends on the
/// calendar.
pub fn parse_duration(text: &str) -> anyhow::Result<chrono::Duration> {
    let invalid =
        || anyhow::anyhow!("{text:?} is not an ISO 8601 duration such as PT2M or P1DT12H");
    let body = text.strip_prefix('P').ok_or_else(invalid)?;
    let (date, time) = match body.split_once('T') {
        Some((date, time)) => {
            anyhow::ensure!(!time.is_empty(), invalid());
            (date, Some(time))
        }
        None => (body, None),
    };
    anyhow::ensure!(!date.is_empty() || time.is_some(), invalid());
    let mut total = chrono::Duration::zero();
    let mut read = |part: &str, units: &[(char, i64)]| -> anyhow::Result<()> {
        let mut number = String::new();
        let mut next_unit = 0;
        for c in part.chars() {
            if c.is_ascii_digit() || c == '.' {
                number.push(c);
                continue;
            }
            let position = units[next_unit..]
                .iter()
                .position(|(unit, _)| *unit == c)
                .ok_or_else(invalid)?;
            let millis_per_unit = units[next_unit + position].1;
            next_unit += position + 1;
            let value: f64 = number.parse().map_err(|_| invalid())?;
            anyhow::ensure!(value.is_finite() && value < 1e12, invalid());
            total +=
                chrono::Duration::milliseconds((value * millis_per_unit as f64).round() as i64);
            number.clear();
        }
        anyhow::ensure!(number.is_empty(), invalid());
        Ok(())
    };
    read(date, &[('W', 604_800_000), ('D', 86_400_000)])?;
    if let Some(time) = time {
        read(time, &[('H', 3_600_000), ('M', 60_000), ('S', 1_000)])?;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    #[test]
    fn iso_durations_parse() {
        assert_eq!(
            parse_duration("PT2M").unwrap(),
            chrono::Duration::minutes(2)
        );
        assert_eq!(
            parse_duration("P1DT12H").unwrap(),
            chrono::Duration::hours(36)
        );
        assert_eq!(
            parse_duration("PT1H30M5S").unwrap(),
            chrono::Duration::seconds(5405)
        );
        assert_eq!(
            parse_duration("PT0.5S").unwrap(),
            chrono::Duration::milliseconds(500)
        );
        assert_eq!(parse_duration("P2W").unwrap(), chrono::Duration::days(14));
        for bad in ["", "P", "PT", "2M", "P1M", "PT2", "PT1S2M", "PTXM", "P1Y"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    #[test]
    fn the_clock_range_is_what_wasi_and_i64_nanoseconds_can_show() {
        assert_eq!(format_instant_exact(MIN_INSTANT), "1970-01-01T00:00:00Z");
        assert_eq!(
            format_instant_exact(MAX_INSTANT),
            "2262-04-11T23:47:16.854775807Z"
        );
        for inside in [MIN_INSTANT, MAX_INSTANT, at("2026-03-01T10:00:00Z")] {
            assert_eq!(check_instant(inside), Ok(inside));
        }
        for outside in [
            at("1969-12-31T23:59:59.999Z"),
            at("2262-04-11T23:47:17Z"),
            at("9999-12-31T23:59:59Z"),
        ] {
            let error = check_instant(outside).unwrap_err();
            assert_eq!(error, InstantOutOfRange(outside));
            let message = error.to_string();
            assert!(
                message.contains("1970-01-01T00:00:00Z")
                    && message.contains("2262-04-11T23:47:16.854775807Z"),
                "{message}"
            );
        }
    }

    #[test]
    fn a_clock_out_of_range_shows_its_nearest_end_not_the_epoch() {
        assert_eq!(epoch_nanos(at("1970-01-01T00:00:01Z")), 1_000_000_000);
        assert_eq!(epoch_nanos(at("1900-01-01T00:00:00Z")), 0);
        assert_eq!(epoch_nanos(at("3000-01-01T00:00:00Z")), i64::MAX as u64);
        assert_eq!(epoch_nanos(MAX_INSTANT), i64::MAX as u64);
    }
}
