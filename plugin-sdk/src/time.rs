//! Instants as the contract spells them: UTC, millisecond precision,
//! `YYYY-MM-DDTHH:MM:SS.sssZ` (WIT `types.instant`), the form JavaScript's
//! `Date.prototype.toISOString` prints, so that two instants compare in
//! time order as text.

use std::fmt;

use chrono::{DateTime, SecondsFormat, TimeZone, Timelike, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A point in time at millisecond precision, printed exactly as
/// JavaScript's `Date.prototype.toISOString` does so that every instant a
/// plugin emits compares equal as a string when it is equal as a time.
///
/// Only years 0000-9999 print in that form (`YYYY-MM-DDTHH:MM:SS.sssZ`),
/// so [`Instant::parse`] and [`Instant::from_millis`] refuse anything
/// outside [`Instant::MIN_MILLIS`]..=[`Instant::MAX_MILLIS`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(DateTime<Utc>);

/// Why a text is not an instant the plugin accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InstantError {
    /// Not an RFC 3339 date-time with an offset or `Z`.
    Malformed,
    /// A leap second (`:60`), which JavaScript's `Date` cannot hold.
    LeapSecond,
    /// Converted to UTC, outside years 0000-9999; carries the conversion.
    OutOfRange(DateTime<Utc>),
}

impl Instant {
    /// `0000-01-01T00:00:00.000Z`, the earliest printable instant.
    pub const MIN_MILLIS: i64 = -62_167_219_200_000;
    /// `9999-12-31T23:59:59.999Z`, the latest printable instant.
    pub const MAX_MILLIS: i64 = 253_402_300_799_999;

    /// Truncates `time` to whole milliseconds. The host clock is taken as
    /// it comes, so the result may lie outside years 0000-9999; check
    /// [`Instant::is_printable`] before storing it.
    pub fn from_datetime(time: DateTime<Utc>) -> Self {
        Utc.timestamp_millis_opt(time.timestamp_millis())
            .single()
            .map_or(Self(time), Self)
    }

    /// The instant `millis` milliseconds after the Unix epoch, if it lies
    /// in years 0000-9999.
    pub fn from_millis(millis: i64) -> Option<Self> {
        if !(Self::MIN_MILLIS..=Self::MAX_MILLIS).contains(&millis) {
            return None;
        }
        Utc.timestamp_millis_opt(millis).single().map(Self)
    }

    /// Parses an RFC 3339 date-time with an explicit offset or `Z`; see
    /// [`Instant::parse_checked`] for why one is refused.
    pub fn parse(text: &str) -> Option<Self> {
        Self::parse_checked(text).ok()
    }

    /// Parses an RFC 3339 date-time with an explicit offset or `Z`,
    /// refusing leap seconds and instants that, converted to UTC, fall
    /// outside years 0000-9999.
    pub fn parse_checked(text: &str) -> Result<Self, InstantError> {
        let time = DateTime::parse_from_rfc3339(text).map_err(|_| InstantError::Malformed)?;
        // chrono keeps a leap second as a nanosecond count past one second.
        if time.nanosecond() >= 1_000_000_000 {
            return Err(InstantError::LeapSecond);
        }
        let utc = time.with_timezone(&Utc);
        Self::from_millis(utc.timestamp_millis()).ok_or(InstantError::OutOfRange(utc))
    }

    /// Milliseconds since the Unix epoch.
    pub fn millis(self) -> i64 {
        self.0.timestamp_millis()
    }

    /// Whether the instant lies in years 0000-9999, so that it prints as
    /// `YYYY-MM-DDTHH:MM:SS.sssZ`.
    pub fn is_printable(self) -> bool {
        (Self::MIN_MILLIS..=Self::MAX_MILLIS).contains(&self.millis())
    }

    /// The instant `minutes` minutes later, if it lies in years 0000-9999.
    pub fn plus_minutes(self, minutes: i64) -> Option<Self> {
        minutes
            .checked_mul(60_000)
            .and_then(|delta| self.plus_millis(delta))
    }

    /// The instant `millis` milliseconds later (earlier when negative), if
    /// it lies in years 0000-9999.
    pub fn plus_millis(self, millis: i64) -> Option<Self> {
        self.millis()
            .checked_add(millis)
            .and_then(Self::from_millis)
    }
}

impl fmt::Display for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.to_rfc3339_opts(SecondsFormat::Millis, true))
    }
}

impl Serialize for Instant {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Instant {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text)
            .ok_or_else(|| serde::de::Error::custom(format!("not an RFC 3339 date-time: {text}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_print_like_javascript_to_iso_string() {
        let instant = Instant::parse("2026-03-01T12:00:00+02:00").unwrap();
        assert_eq!(instant.to_string(), "2026-03-01T10:00:00.000Z");
        let instant = Instant::parse("2026-03-01T10:00:00.123456Z").unwrap();
        assert_eq!(instant.to_string(), "2026-03-01T10:00:00.123Z");
    }

    #[test]
    fn instants_without_an_offset_are_rejected() {
        assert!(Instant::parse("2026-03-01T10:00:00").is_none());
        assert!(Instant::parse("2026-03-01").is_none());
        assert!(Instant::parse("tomorrow").is_none());
    }

    #[test]
    fn leap_seconds_are_refused_wherever_they_fall() {
        for text in [
            "2026-12-31T23:59:60Z",
            "2026-12-31T23:59:60.500Z",
            "2027-01-01T00:59:60+01:00",
            "2026-03-01T10:00:60Z",
        ] {
            assert_eq!(
                Instant::parse_checked(text),
                Err(InstantError::LeapSecond),
                "{text}"
            );
        }
        assert!(Instant::parse("2026-12-31T23:59:59.999Z").is_some());
    }

    #[test]
    fn only_years_0000_to_9999_in_utc_are_instants() {
        let max = Instant::parse("9999-12-31T23:59:59.999Z").unwrap();
        assert_eq!(max.millis(), Instant::MAX_MILLIS);
        assert_eq!(max.to_string(), "9999-12-31T23:59:59.999Z");
        let min = Instant::parse("0000-01-01T00:00:00Z").unwrap();
        assert_eq!(min.millis(), Instant::MIN_MILLIS);
        assert_eq!(min.to_string(), "0000-01-01T00:00:00.000Z");
        assert_eq!(
            Instant::parse("9999-12-31T23:00:00+02:00")
                .unwrap()
                .to_string(),
            "9999-12-31T21:00:00.000Z"
        );

        let Err(InstantError::OutOfRange(utc)) =
            Instant::parse_checked("9999-12-31T23:00:00-02:00")
        else {
            panic!("year 10000 in UTC is refused");
        };
        assert_eq!(
            utc.to_rfc3339_opts(SecondsFormat::Millis, true),
            "+10000-01-01T01:00:00.000Z"
        );
        assert!(matches!(
            Instant::parse_checked("0000-01-01T00:30:00+01:00"),
            Err(InstantError::OutOfRange(_))
        ));
        assert_eq!(Instant::from_millis(Instant::MAX_MILLIS + 1), None);
        assert_eq!(Instant::from_millis(Instant::MIN_MILLIS - 1), None);
        assert_eq!(max.plus_minutes(1), None);
        assert_eq!(
            Instant::parse("9999-12-31T23:58:59.999Z")
                .unwrap()
                .plus_minutes(1),
            Some(max)
        );
        assert_eq!(max.plus_minutes(i64::MAX), None);
    }

    #[test]
    fn the_host_clock_is_taken_as_it_comes_but_marked_unprintable() {
        let late = DateTime::parse_from_rfc3339("9999-12-31T23:59:59.9999Z")
            .unwrap()
            .with_timezone(&Utc);
        let instant = Instant::from_datetime(late);
        assert!(instant.is_printable());
        assert_eq!(instant.millis(), Instant::MAX_MILLIS);
        let beyond = Utc.timestamp_millis_opt(Instant::MAX_MILLIS + 1).unwrap();
        assert!(!Instant::from_datetime(beyond).is_printable());
    }
}
