//! Alerts to team leads: thresholds of a budget crossed, or its period-end spend forecast to
//! pass it.
//!
//! An alert is written to the outbox in the same transaction as the usage that crossed the
//! threshold, once per budget, period and threshold (the store's unique key keeps it once
//! across restarts and retried batches). A worker sends it to each of the team's webhook
//! targets with retries and backoff.

mod api;
mod deliver;
mod payload;

pub use api::routes;
pub use deliver::{DeliveryWorker, run_deliveries};

use serde::{Deserialize, Serialize};

use crate::budgets::{BudgetBook, Crossing, Forecast, Window, local_day};
use crate::money::format_cents;

/// How a target wants its alerts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum TargetFormat {
    /// `{"text": ...}`, which Slack's incoming webhooks (and Mattermost, Discord's Slack
    /// endpoint) take.
    Slack,
    /// The alert as a JSON object.
    #[default]
    Json,
}

impl TargetFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            TargetFormat::Slack => "slack",
            TargetFormat::Json => "json",
        }
    }

    pub fn parse(text: &str) -> Option<TargetFormat> {
        match text {
            "slack" => Some(TargetFormat::Slack),
            "json" => Some(TargetFormat::Json),
            _ => None,
        }
    }
}

/// A webhook of a team. The URL often carries a secret (Slack's do); it is shown cut.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertTarget {
    pub id: String,
    pub team_id: String,
    pub name: String,
    pub format: TargetFormat,
    pub url: String,
    pub created_at: String,
}

/// What an alert says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertKind {
    /// The spend reached this percentage of the budget.
    Threshold(u16),
    /// The spend at the current rate passes the budget before the period ends.
    Forecast,
}

impl AlertKind {
    pub fn name(self) -> &'static str {
        match self {
            AlertKind::Threshold(_) => "threshold",
            AlertKind::Forecast => "forecast",
        }
    }

    /// The threshold in percent; 0 for a forecast.
    pub fn threshold(self) -> u16 {
        match self {
            AlertKind::Threshold(percent) => percent,
            AlertKind::Forecast => 0,
        }
    }
}

/// An alert to write to the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAlert {
    pub id: String,
    pub budget_id: String,
    pub team_id: String,
    pub scope: &'static str,
    pub project: Option<String>,
    pub key_id: Option<String>,
    pub kind: AlertKind,
    /// The period as alerts are kept once per: its kind and first local day.
    pub period_key: String,
    pub period_start: String,
    pub period_end: String,
    pub spend_pico: i128,
    pub amount_pico: i128,
    pub projected_pico: Option<i128>,
    pub exhausted_on: Option<String>,
    pub message: String,
    pub created_at: String,
    /// Milliseconds since the epoch; the first delivery is due then.
    pub created_at_ms: i64,
}

/// What an alert is written once per: budget, period, amount and threshold (0 for a
/// forecast).
pub type AlertKey = (String, String, i128, u16);

impl NewAlert {
    pub fn once_key(&self) -> AlertKey {
        (
            self.budget_id.clone(),
            self.period_key.clone(),
            self.amount_pico,
            self.kind.threshold(),
        )
    }
}

/// One alert as the history shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertRecord {
    pub alert: NewAlert,
    pub deliveries: Vec<DeliveryRecord>,
}

/// Where an alert's delivery to one target stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRecord {
    pub target_id: String,
    pub state: String,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub sent_at: Option<String>,
}

/// A delivery due now, with what it needs to be sent.
#[derive(Debug, Clone)]
pub struct DueDelivery {
    pub alert: NewAlert,
    pub target: AlertTarget,
    pub attempts: u32,
}

/// How one attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    Sent {
        at: String,
    },
    /// Try again at `next_ms`.
    Retry {
        error: String,
        next_ms: i64,
    },
    /// No more tries.
    Failed {
        error: String,
    },
}

/// Names a budget's team, and its key when it is a key budget, from their ids.
pub type Names<'a> = dyn Fn(&str, Option<&str>) -> (String, Option<String>) + 'a;

/// The alerts a stored batch raises: thresholds reached, and a forecast past the budget.
/// `team_names` and `key_names` name the subjects in the messages; `id` makes alert ids.
pub fn plan(
    book: &BudgetBook,
    crossings: &[Crossing],
    now_ms: i64,
    now_text: &str,
    names: &Names<'_>,
    id: &mut dyn FnMut() -> Option<String>,
) -> Vec<NewAlert> {
    let mut alerts = Vec::new();
    for crossing in crossings {
        let Some(state) = book.get(&crossing.budget_id) else {
            continue;
        };
        let budget = &state.budget;
        let amount = budget.amount_pico;
        let (team, key_name) = names(&budget.team_id, budget.scope.key_id());
        let subject = budget.subject(&team, key_name.as_deref());
        let period = budget.rule.kind.adjective();
        let ends = ends_text(&state.window, &budget.rule.time_zone);
        let mut raise = |kind: AlertKind, message: String, forecast: Option<&Forecast>| {
            let Some(alert_id) = id() else { return };
            alerts.push(NewAlert {
                id: alert_id,
                budget_id: budget.id.clone(),
                team_id: budget.team_id.clone(),
                scope: budget.scope.kind(),
                project: budget.scope.project().map(str::to_owned),
                key_id: budget.scope.key_id().map(str::to_owned),
                kind,
                period_key: period_key(budget.rule.kind, &state.window),
                period_start: state.window.start_text(),
                period_end: state.window.end_text(),
                spend_pico: crossing.after_pico,
                amount_pico: amount,
                projected_pico: forecast.map(|f| f.projected_pico),
                exhausted_on: forecast
                    .and_then(|f| f.exhausted_at_ms)
                    .map(|ms| local_day(ms, &state.window)),
                message,
                created_at: now_text.to_owned(),
                created_at_ms: now_ms,
            });
        };

        // A threshold is raised whenever the spend is at or past it; the caller drops those
        // already written this period, so one passed while the budget was lower is raised
        // by the next call instead of never.
        for &percent in &budget.thresholds {
            let line = amount * i128::from(percent) / 100;
            if amount > 0 && line <= crossing.after_pico {
                let message = format!(
                    "{subject} has used {percent}% of its ${} {period} budget: ${} spent; the \
                     period ends {ends}",
                    format_cents(amount),
                    format_cents(crossing.after_pico),
                );
                raise(AlertKind::Threshold(percent), message, None);
            }
        }

        let forecast = Forecast::of(&state.window, crossing.after_pico, Some(amount), now_ms);
        if forecast.settled && crossing.after_pico < amount && forecast.projected_pico > amount {
            let runs_out = forecast
                .exhausted_at_ms
                .map(|ms| local_day(ms, &state.window))
                .unwrap_or_default();
            let message = format!(
                "{subject} is on course to spend ${} against its ${} {period} budget by {ends}; \
                 at the current rate of ${} a day it runs out on {runs_out}",
                format_cents(forecast.projected_pico),
                format_cents(amount),
                format_cents(forecast.burn_per_day_pico),
            );
            raise(AlertKind::Forecast, message, Some(&forecast));
        }
    }
    alerts
}

/// `month:2026-12-01`: the same month in another time zone is the same period.
pub fn period_key(kind: crate::budgets::PeriodKind, window: &Window) -> String {
    format!("{}:{}", kind.as_str(), window.start.date())
}

/// `2027-01-01 00:00 Europe/Berlin`.
pub fn ends_text(window: &Window, time_zone: &str) -> String {
    format!("{} {time_zone}", window.end.strftime("%Y-%m-%d %H:%M"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::budgets::{Scope, budget_for_tests};

    const USD: i128 = 1_000_000_000_000;

    fn raised(book: &BudgetBook, before: i128, after: i128, now: &str) -> Vec<(String, u16)> {
        let now_ms = now.parse::<jiff::Timestamp>().unwrap().as_millisecond();
        let crossing = Crossing {
            budget_id: "b1".into(),
            before_pico: before,
            after_pico: after,
        };
        let names = |_: &str, _: Option<&str>| ("payments".to_owned(), None);
        let mut n = 0;
        let mut id = || {
            n += 1;
            Some(format!("alt_{n}"))
        };
        plan(book, &[crossing], now_ms, now, &names, &mut id)
            .into_iter()
            .map(|alert| (alert.kind.name().to_owned(), alert.kind.threshold()))
            .collect()
    }

    #[test]
    fn thresholds_reached_and_a_forecast_past_the_budget() {
        let mut book = BudgetBook::default();
        let budget = budget_for_tests("b1", "t1", Scope::Team, USD);
        let now = "2026-12-11T00:00:00Z";
        let window = budget
            .rule
            .window_at(now.parse::<jiff::Timestamp>().unwrap().as_millisecond());
        book.put(budget, window, 0);

        assert_eq!(raised(&book, 0, USD * 4 / 10, "2026-12-01T12:00:00Z"), []);
        assert_eq!(
            raised(&book, 0, USD * 6 / 10, "2026-12-01T12:00:00Z"),
            [("threshold".to_owned(), 50)],
            "no forecast in the first tenth of the month"
        );
        // 0.60 in ten days of 31 is heading for 1.86.
        assert_eq!(
            raised(&book, USD * 4 / 10, USD * 6 / 10, now),
            [("threshold".to_owned(), 50), ("forecast".to_owned(), 0)]
        );
        assert_eq!(
            raised(&book, USD * 6 / 10, USD * 12 / 10, now),
            [
                ("threshold".to_owned(), 50),
                ("threshold".to_owned(), 80),
                ("threshold".to_owned(), 100)
            ],
            "past the budget, no forecast: the 100 percent alert says it"
        );
    }
}
