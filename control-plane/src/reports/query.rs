//! What a report asks for: a date range, the groups and the format.

use serde::Deserialize;
use thiserror::Error;
use time::Date;

use crate::calendar::{CalendarError, Period, parse_date};

/// A dimension a report can group by. Only these are accepted, so nothing a client sends
/// reaches the store as anything but a bound value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Dimension {
    Team,
    Project,
    Model,
    User,
    Day,
}

impl Dimension {
    pub const ALL: [Dimension; 5] = [
        Dimension::Team,
        Dimension::Project,
        Dimension::Model,
        Dimension::User,
        Dimension::Day,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Dimension::Team => "team",
            Dimension::Project => "project",
            Dimension::Model => "model",
            Dimension::User => "user",
            Dimension::Day => "day",
        }
    }

    fn parse(text: &str) -> Option<Dimension> {
        Dimension::ALL
            .into_iter()
            .find(|dimension| dimension.as_str() == text)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Csv,
}

/// Query parameters as sent.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportParams {
    from: Option<String>,
    to: Option<String>,
    period: Option<String>,
    group_by: Option<String>,
    format: Option<String>,
}

/// A checked report request: days `from <= day < to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportQuery {
    pub from: Date,
    pub to: Date,
    pub group_by: Vec<Dimension>,
    pub format: Format,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum QueryError {
    #[error("from: {0}")]
    From(CalendarError),
    #[error("to: {0}")]
    To(CalendarError),
    #[error("period: {0}")]
    Period(CalendarError),
    #[error("give from and to together (to is exclusive), or period=YYYY-MM, not both")]
    Range,
    #[error("from must be before to (to is exclusive)")]
    Empty,
    #[error(
        "group_by \"{0}\" is unknown; use a comma-separated list of team, project, model, user, day"
    )]
    Dimension(String),
    #[error("group_by lists \"{0}\" twice")]
    Repeated(&'static str),
    #[error("format \"{0}\" is unknown; use json or csv")]
    Format(String),
}

impl ReportParams {
    /// Checks the parameters. The range defaults to `current`, the grouping to `team`.
    pub fn check(self, current: Period) -> Result<ReportQuery, QueryError> {
        let (from, to) = match (self.from, self.to, self.period) {
            (None, None, None) => (current.start, current.end),
            (None, None, Some(month)) => {
                let period = Period::parse_month(&month).map_err(QueryError::Period)?;
                (period.start, period.end)
            }
            (Some(from), Some(to), None) => (
                parse_date(&from).map_err(QueryError::From)?,
                parse_date(&to).map_err(QueryError::To)?,
            ),
            _ => return Err(QueryError::Range),
        };
        if from >= to {
            return Err(QueryError::Empty);
        }

        let mut group_by = Vec::new();
        for name in self.group_by.as_deref().unwrap_or("team").split(',') {
            let dimension = Dimension::parse(name.trim())
                .ok_or_else(|| QueryError::Dimension(name.to_owned()))?;
            if group_by.contains(&dimension) {
                return Err(QueryError::Repeated(dimension.as_str()));
            }
            group_by.push(dimension);
        }

        let format = match self.format.as_deref() {
            None | Some("json") => Format::Json,
            Some("csv") => Format::Csv,
            Some(other) => return Err(QueryError::Format(other.to_owned())),
        };
        Ok(ReportQuery {
            from,
            to,
            group_by,
            format,
        })
    }
}

#[cfg(test)]
mod tests {
    use time::macros::date;

    use super::*;

    fn december() -> Period {
        Period::containing(date!(2025 - 12 - 04))
    }

    fn params(from: Option<&str>, to: Option<&str>, period: Option<&str>) -> ReportParams {
        ReportParams {
            from: from.map(str::to_owned),
            to: to.map(str::to_owned),
            period: period.map(str::to_owned),
            ..ReportParams::default()
        }
    }

    #[test]
    fn defaults_to_the_current_month_by_team_as_json() {
        let query = ReportParams::default().check(december()).unwrap();
        assert_eq!(query.from, date!(2025 - 12 - 01));
        assert_eq!(query.to, date!(2026 - 01 - 01));
        assert_eq!(query.group_by, vec![Dimension::Team]);
        assert_eq!(query.format, Format::Json);
    }

    #[test]
    fn reads_ranges_and_months() {
        let query = params(Some("2025-11-03"), Some("2025-11-10"), None)
            .check(december())
            .unwrap();
        assert_eq!(
            (query.from, query.to),
            (date!(2025 - 11 - 03), date!(2025 - 11 - 10))
        );
        let query = params(None, None, Some("2025-02"))
            .check(december())
            .unwrap();
        assert_eq!(
            (query.from, query.to),
            (date!(2025 - 02 - 01), date!(2025 - 03 - 01))
        );

        let check = |p: ReportParams| p.check(december()).unwrap_err();
        assert_eq!(
            check(params(Some("2025-11-03"), None, None)),
            QueryError::Range
        );
        assert_eq!(
            check(params(Some("2025-11-03"), Some("2025-11-03"), None)),
            QueryError::Empty
        );
        assert!(matches!(
            check(params(Some("x"), Some("2025-11-03"), None)),
            QueryError::From(_)
        ));
        assert_eq!(
            check(params(
                Some("2025-11-01"),
                Some("2025-12-01"),
                Some("2025-11")
            )),
            QueryError::Range
        );
    }

    #[test]
    fn accepts_only_known_groupings_once_each() {
        let group = |text: &str| {
            ReportParams {
                group_by: Some(text.to_owned()),
                ..ReportParams::default()
            }
            .check(december())
        };
        assert_eq!(
            group("team,project,model,user,day").unwrap().group_by,
            Dimension::ALL.to_vec()
        );
        assert_eq!(
            group("team;drop table").unwrap_err(),
            QueryError::Dimension("team;drop table".into())
        );
        assert_eq!(
            group("team,team").unwrap_err(),
            QueryError::Repeated("team")
        );
        assert!(matches!(group(""), Err(QueryError::Dimension(_))));
    }
}
