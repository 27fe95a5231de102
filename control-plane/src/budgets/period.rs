//! Budget periods: a calendar month, week or day in a time zone, with an optional start day.

use std::fmt;

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan, Zoned};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// How long a budget period lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum PeriodKind {
    #[default]
    Month,
    Week,
    Day,
}

impl PeriodKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PeriodKind::Month => "month",
            PeriodKind::Week => "week",
            PeriodKind::Day => "day",
        }
    }

    pub fn parse(text: &str) -> Option<PeriodKind> {
        match text {
            "month" => Some(PeriodKind::Month),
            "week" => Some(PeriodKind::Week),
            "day" => Some(PeriodKind::Day),
            _ => None,
        }
    }

    /// The word in a sentence: "monthly", "weekly", "daily".
    pub fn adjective(self) -> &'static str {
        match self {
            PeriodKind::Month => "monthly",
            PeriodKind::Week => "weekly",
            PeriodKind::Day => "daily",
        }
    }
}

/// A rule that cannot make periods.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PeriodError {
    #[error(
        "time_zone \"{0}\" is not a time zone; use an IANA name such as \"Europe/Berlin\" \
         or \"UTC\""
    )]
    TimeZone(String),
    #[error("start_day {day} is not valid for a {kind} period; {allowed}")]
    StartDay {
        day: u8,
        kind: &'static str,
        allowed: &'static str,
    },
}

/// How a budget's periods are cut.
#[derive(Debug, Clone)]
pub struct PeriodRule {
    pub kind: PeriodKind,
    pub time_zone: String,
    tz: TimeZone,
    /// Month: day of the month (1 to 28). Week: day of the week, 1 is Monday. Day: 1.
    pub start_day: u8,
}

impl PartialEq for PeriodRule {
    fn eq(&self, other: &Self) -> bool {
        (self.kind, &self.time_zone, self.start_day)
            == (other.kind, &other.time_zone, other.start_day)
    }
}

impl Eq for PeriodRule {}

/// One period, `[start, end)`, in milliseconds since the epoch, with its zoned ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    pub start_ms: i64,
    pub end_ms: i64,
    pub start: Zoned,
    pub end: Zoned,
}

impl Window {
    pub fn holds(&self, ms: i64) -> bool {
        self.start_ms <= ms && ms < self.end_ms
    }

    pub fn length_ms(&self) -> i64 {
        self.end_ms - self.start_ms
    }

    /// The start as the API shows it: RFC 3339 with the zone's offset.
    pub fn start_text(&self) -> String {
        offset_text(&self.start)
    }

    pub fn end_text(&self) -> String {
        offset_text(&self.end)
    }
}

/// `2026-12-01T00:00:00+01:00`.
pub fn offset_text(zoned: &Zoned) -> String {
    zoned.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string()
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..{}", self.start_text(), self.end_text())
    }
}

impl PeriodRule {
    /// Checks the time zone and start day; `start_day` absent takes the first day.
    pub fn new(
        kind: PeriodKind,
        time_zone: &str,
        start_day: Option<u8>,
    ) -> Result<PeriodRule, PeriodError> {
        let tz = TimeZone::get(time_zone).map_err(|_| PeriodError::TimeZone(time_zone.into()))?;
        let day = start_day.unwrap_or(1);
        let (valid, allowed) = match kind {
            PeriodKind::Month => ((1..=28).contains(&day), "use 1 to 28"),
            PeriodKind::Week => ((1..=7).contains(&day), "use 1 (Monday) to 7 (Sunday)"),
            PeriodKind::Day => (day == 1, "a daily budget starts at midnight; leave it out"),
        };
        if !valid {
            return Err(PeriodError::StartDay {
                day,
                kind: kind.as_str(),
                allowed,
            });
        }
        Ok(PeriodRule {
            kind,
            time_zone: time_zone.to_owned(),
            tz,
            start_day: day,
        })
    }

    /// The period holding the instant `ms`.
    pub fn window_at(&self, ms: i64) -> Window {
        let instant = Timestamp::from_millisecond(ms).unwrap_or(Timestamp::UNIX_EPOCH);
        let today = instant.to_zoned(self.tz.clone()).date();
        let first = self.first_day(today);
        let next = match self.kind {
            PeriodKind::Month => first.checked_add(1.month()),
            PeriodKind::Week => first.checked_add(7.days()),
            PeriodKind::Day => first.checked_add(1.day()),
        }
        .unwrap_or(first);
        let start = self.midnight(first);
        let end = self.midnight(next);
        Window {
            start_ms: start.timestamp().as_millisecond(),
            end_ms: end.timestamp().as_millisecond(),
            start,
            end,
        }
    }

    fn first_day(&self, today: Date) -> Date {
        match self.kind {
            PeriodKind::Day => today,
            PeriodKind::Week => {
                let weekday = today.weekday().to_monday_one_offset();
                let back = (weekday - self.start_day as i8).rem_euclid(7);
                today.checked_sub(i64::from(back).days()).unwrap_or(today)
            }
            PeriodKind::Month => {
                let this_month = today.with().day(self.start_day as i8).build();
                match this_month {
                    Ok(first) if first <= today => first,
                    _ => today
                        .checked_sub(1.month())
                        .and_then(|before| before.with().day(self.start_day as i8).build())
                        .unwrap_or(today),
                }
            }
        }
    }

    /// The first instant of a day in the zone (after a gap, the first that exists).
    fn midnight(&self, date: Date) -> Zoned {
        date.to_zoned(self.tz.clone())
            .unwrap_or_else(|_| Timestamp::UNIX_EPOCH.to_zoned(TimeZone::UTC))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(text: &str) -> i64 {
        text.parse::<Timestamp>().unwrap().as_millisecond()
    }

    #[test]
    fn months_weeks_and_days_in_a_zone() {
        let berlin = PeriodRule::new(PeriodKind::Month, "Europe/Berlin", None).unwrap();
        // 23:30 UTC on 30 November is already December in Berlin.
        let window = berlin.window_at(ms("2026-11-30T23:30:00Z"));
        assert_eq!(window.start_text(), "2026-12-01T00:00:00+01:00");
        assert_eq!(window.end_text(), "2027-01-01T00:00:00+01:00");
        assert!(window.holds(ms("2026-11-30T23:00:00Z")));
        assert!(!window.holds(ms("2026-11-30T22:59:59.999Z")));

        let payday = PeriodRule::new(PeriodKind::Month, "UTC", Some(15)).unwrap();
        let window = payday.window_at(ms("2026-12-04T12:00:00Z"));
        assert_eq!(
            window.to_string(),
            "2026-11-15T00:00:00+00:00..2026-12-15T00:00:00+00:00"
        );

        let weeks = PeriodRule::new(PeriodKind::Week, "UTC", None).unwrap();
        // 2026-12-04 is a Friday.
        let window = weeks.window_at(ms("2026-12-04T12:00:00Z"));
        assert_eq!(window.start_text(), "2026-11-30T00:00:00+00:00");
        let sundays = PeriodRule::new(PeriodKind::Week, "UTC", Some(7)).unwrap();
        assert_eq!(
            sundays.window_at(ms("2026-12-04T12:00:00Z")).start_text(),
            "2026-11-29T00:00:00+00:00"
        );
        assert_eq!(
            sundays.window_at(ms("2026-11-29T00:00:00Z")).start_text(),
            "2026-11-29T00:00:00+00:00"
        );

        let days = PeriodRule::new(PeriodKind::Day, "America/New_York", None).unwrap();
        let window = days.window_at(ms("2026-12-05T03:00:00Z"));
        assert_eq!(
            window.to_string(),
            "2026-12-04T00:00:00-05:00..2026-12-05T00:00:00-05:00"
        );
    }

    #[test]
    fn a_day_across_a_clock_change_is_23_or_25_hours() {
        let days = PeriodRule::new(PeriodKind::Day, "Europe/Berlin", None).unwrap();
        let spring = days.window_at(ms("2026-03-29T12:00:00Z"));
        assert_eq!(spring.length_ms(), 23 * 3_600_000);
        let autumn = days.window_at(ms("2026-10-25T12:00:00Z"));
        assert_eq!(autumn.length_ms(), 25 * 3_600_000);
    }

    #[test]
    fn refuses_unknown_zones_and_impossible_start_days() {
        assert!(matches!(
            PeriodRule::new(PeriodKind::Month, "Mars/Olympus", None),
            Err(PeriodError::TimeZone(_))
        ));
        for (kind, day) in [
            (PeriodKind::Month, 29),
            (PeriodKind::Month, 0),
            (PeriodKind::Week, 8),
            (PeriodKind::Day, 2),
        ] {
            assert!(
                PeriodRule::new(kind, "UTC", Some(day)).is_err(),
                "{kind:?} {day}"
            );
        }
    }
}
