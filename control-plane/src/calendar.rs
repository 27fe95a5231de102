//! Dates and budget periods, all in UTC.
//!
//! A budget period is a calendar month. Days are `YYYY-MM-DD` strings, which sort as they
//! compare, so the store can range over them as text.

use std::fmt;

use thiserror::Error;
use time::{Date, Month, OffsetDateTime, macros::format_description};

/// A date or month given by a client could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CalendarError {
    #[error("\"{0}\" is not a date; use YYYY-MM-DD")]
    BadDate(String),
    #[error("\"{0}\" is not a month; use YYYY-MM")]
    BadMonth(String),
    #[error("{0} milliseconds since the epoch is outside the calendar")]
    OutOfRange(u64),
}

/// One budget period: a calendar month in UTC, `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub start: Date,
    pub end: Date,
}

impl Period {
    /// The month that holds `date`.
    pub fn containing(date: Date) -> Period {
        let start = date.replace_day(1).unwrap_or(date);
        Period {
            start,
            end: next_month(start),
        }
    }

    /// The month that holds this instant.
    pub fn current() -> Period {
        Period::containing(OffsetDateTime::now_utc().date())
    }

    /// The month that holds an instant given in milliseconds since the epoch.
    pub fn at_ms(ms: i64) -> Period {
        let instant = OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH);
        Period::containing(instant.date())
    }

    /// Reads `YYYY-MM`.
    pub fn parse_month(text: &str) -> Result<Period, CalendarError> {
        let bad = || CalendarError::BadMonth(text.to_owned());
        let date = parse_date(&format!("{text}-01")).map_err(|_| bad())?;
        if text.len() != 7 {
            return Err(bad());
        }
        Ok(Period::containing(date))
    }

    /// First day, as the store keys days.
    pub fn start_day(&self) -> String {
        day_string(self.start)
    }

    /// First day after the period.
    pub fn end_day(&self) -> String {
        day_string(self.end)
    }

    /// Whether a `YYYY-MM-DD` day falls inside the period.
    pub fn holds_day(&self, day: &str) -> bool {
        self.start_day().as_str() <= day && day < self.end_day().as_str()
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..{}", day_string(self.start), day_string(self.end))
    }
}

fn next_month(first: Date) -> Date {
    let (year, month) = match first.month() {
        Month::December => (first.year() + 1, Month::January),
        month => (first.year(), month.next()),
    };
    Date::from_calendar_date(year, month, 1).unwrap_or(first)
}

/// Reads `YYYY-MM-DD`.
pub fn parse_date(text: &str) -> Result<Date, CalendarError> {
    let format = format_description!("[year]-[month]-[day]");
    Date::parse(text, &format).map_err(|_| CalendarError::BadDate(text.to_owned()))
}

/// `YYYY-MM-DD`.
pub fn day_string(date: Date) -> String {
    format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}

/// Today in UTC, `YYYY-MM-DD`.
pub fn today() -> String {
    day_string(OffsetDateTime::now_utc().date())
}

/// The UTC day of an instant given in milliseconds since the Unix epoch.
pub fn day_of_ms(ms: u64) -> Result<String, CalendarError> {
    let nanos = i128::from(ms) * 1_000_000;
    let instant = OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .map_err(|_| CalendarError::OutOfRange(ms))?;
    Ok(day_string(instant.date()))
}

/// Now, as an RFC 3339 UTC timestamp with second precision: `2025-12-04T15:58:00Z`.
pub fn now_timestamp() -> String {
    timestamp(OffsetDateTime::now_utc())
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    let nanos = OffsetDateTime::now_utc().unix_timestamp_nanos();
    i64::try_from(nanos / 1_000_000).unwrap_or(i64::MAX)
}

/// An instant in milliseconds since the epoch as an RFC 3339 UTC timestamp.
pub fn timestamp_of_ms(ms: i64) -> String {
    let instant = OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    timestamp(instant)
}

fn timestamp(at: OffsetDateTime) -> String {
    format!(
        "{}T{:02}:{:02}:{:02}Z",
        day_string(at.date()),
        at.hour(),
        at.minute(),
        at.second()
    )
}

#[cfg(test)]
mod tests {
    use time::macros::{date, datetime};

    use super::*;

    #[test]
    fn periods_are_calendar_months() {
        let period = Period::containing(date!(2026 - 12 - 17));
        assert_eq!(period.start_day(), "2026-12-01");
        assert_eq!(period.end_day(), "2027-01-01");
        assert!(period.holds_day("2026-12-31"));
        assert!(!period.holds_day("2027-01-01"));
        assert!(!period.holds_day("2026-11-30"));

        let february = Period::parse_month("2028-02").unwrap();
        assert_eq!(february.to_string(), "2028-02-01..2028-03-01");
    }

    #[test]
    fn refuses_what_is_not_a_month_or_a_date() {
        for bad in ["2025-13", "2025-1", "2025", "2025-01-01", "abcd-ef"] {
            assert!(Period::parse_month(bad).is_err(), "{bad}");
        }
        assert!(parse_date("2025-02-30").is_err());
        assert_eq!(
            parse_date("2025-02-28").map(day_string),
            Ok("2025-02-28".to_owned())
        );
    }

    #[test]
    fn days_come_from_milliseconds_in_utc() {
        assert_eq!(day_of_ms(0).unwrap(), "1970-01-01");
        assert_eq!(day_of_ms(1_764_863_999_999).unwrap(), "2025-12-04");
        assert!(day_of_ms(u64::MAX).is_err());
    }

    #[test]
    fn timestamps_are_rfc3339_utc() {
        assert_eq!(
            timestamp(datetime!(2025-12-04 15:58:07 UTC)),
            "2025-12-04T15:58:07Z"
        );
    }
}
