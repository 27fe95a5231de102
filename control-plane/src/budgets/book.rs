//! Every budget with its spend in the current period, in memory.
//!
//! Loaded from the ledger at start and again when a period turns; every stored call adds to
//! the budgets that cover it in the same step as the store acknowledges it. Calls in flight
//! hold their estimated cost on every budget that covers them until their usage arrives.

use std::collections::HashMap;

use jiff::Timestamp;
use jiff::tz::TimeZone;

use crate::budgets::{Budget, Window};
use serde::Serialize;

use crate::money::{add_pico, format_usd};

const DAY_MS: i64 = 86_400_000;

/// A budget and where it stands in its current period.
#[derive(Debug, Clone)]
pub struct BudgetState {
    pub budget: Budget,
    pub window: Window,
    /// Pico-dollars of the calls stored that started in the window.
    pub spent_pico: i128,
    /// Pico-dollars held by calls in flight.
    pub held_pico: i128,
    /// The window turned in memory; the spend must be read again from the ledger, which may
    /// hold calls of the new window that arrived before memory turned.
    pub stale: bool,
}

/// A stored call as budgets see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallCost {
    pub team_id: String,
    pub project: Option<String>,
    pub key_id: Option<String>,
    pub started_at_ms: i64,
    pub cost_pico: i128,
}

/// A budget's spend moved from `before` to `after` in one stored batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Crossing {
    pub budget_id: String,
    pub before_pico: i128,
    pub after_pico: i128,
}

/// Where the spend of a period is heading at its current rate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forecast {
    /// Pico-dollars per day since the period started.
    pub burn_per_day_pico: i128,
    /// Spend at the end of the period at that rate.
    pub projected_pico: i128,
    /// When the budget runs out at that rate (already has, when spent); `None` when the
    /// projection stays inside it.
    pub exhausted_at_ms: Option<i64>,
    /// Whether enough of the period has passed for the rate to mean something: a tenth of
    /// it. Forecast alerts wait for this.
    pub settled: bool,
}

impl Forecast {
    /// The spend of `[window.start, now)` carried on at the same rate.
    pub fn of(
        window: &Window,
        spent_pico: i128,
        amount_pico: Option<i128>,
        now_ms: i64,
    ) -> Forecast {
        let elapsed = (now_ms.clamp(window.start_ms, window.end_ms) - window.start_ms).max(1);
        let length = window.length_ms().max(1);
        let spent = spent_pico.max(0);
        let projected_pico = spent * i128::from(length) / i128::from(elapsed);
        let burn_per_day_pico = spent * i128::from(DAY_MS) / i128::from(elapsed);
        let exhausted_at_ms = amount_pico.and_then(|amount| {
            if spent >= amount {
                Some(now_ms)
            } else if projected_pico > amount && spent > 0 {
                let at = i128::from(window.start_ms) + amount * i128::from(elapsed) / spent;
                i64::try_from(at).ok()
            } else {
                None
            }
        });
        Forecast {
            burn_per_day_pico,
            projected_pico,
            exhausted_at_ms,
            settled: elapsed * 10 >= length,
        }
    }
}

/// A forecast as the API shows it. The rate and the projection stay absent until a tenth of
/// the period has passed (a rate over minutes says little); the day the budget runs out
/// shows at once when it is spent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ForecastView {
    pub burn_usd_per_day: Option<String>,
    pub projected_usd: Option<String>,
    pub exhausted_on: Option<String>,
}

impl ForecastView {
    /// The forecast of `spent_pico` in `window`, against `amount_pico` when there is one.
    pub fn of(window: &Window, spent_pico: i128, amount_pico: Option<i128>, now_ms: i64) -> Self {
        let forecast = Forecast::of(window, spent_pico, amount_pico, now_ms);
        let spent = amount_pico.is_some_and(|amount| spent_pico >= amount);
        ForecastView {
            burn_usd_per_day: forecast
                .settled
                .then(|| format_usd(forecast.burn_per_day_pico)),
            projected_usd: forecast
                .settled
                .then(|| format_usd(forecast.projected_pico)),
            exhausted_on: forecast
                .exhausted_at_ms
                .filter(|_| forecast.settled || spent)
                .map(|ms| local_day(ms, window)),
        }
    }
}

/// The day (in the budget's zone) of an instant, `YYYY-MM-DD`.
pub fn local_day(ms: i64, window: &Window) -> String {
    let tz: TimeZone = window.start.time_zone().clone();
    Timestamp::from_millisecond(ms)
        .map(|t| t.to_zoned(tz).date().to_string())
        .unwrap_or_default()
}

/// Every budget by id, indexed by team.
#[derive(Debug, Default)]
pub struct BudgetBook {
    states: HashMap<String, BudgetState>,
    by_team: HashMap<String, Vec<String>>,
    /// The earliest end of any budget's window: nothing turns before it.
    next_end_ms: Option<i64>,
}

impl BudgetBook {
    /// Adds or replaces a budget with its spend in `window`.
    pub fn put(&mut self, budget: Budget, window: Window, spent_pico: i128) {
        let id = budget.id.clone();
        let held_pico = self.states.get(&id).map_or(0, |state| state.held_pico);
        let ids = self.by_team.entry(budget.team_id.clone()).or_default();
        if !ids.contains(&id) {
            ids.push(id.clone());
        }
        self.next_end_ms = Some(
            self.next_end_ms
                .map_or(window.end_ms, |end| end.min(window.end_ms)),
        );
        let state = BudgetState {
            budget,
            window,
            spent_pico,
            held_pico,
            stale: false,
        };
        self.states.insert(id, state);
    }

    pub fn remove(&mut self, id: &str) -> Option<Budget> {
        let state = self.states.remove(id)?;
        if let Some(ids) = self.by_team.get_mut(&state.budget.team_id) {
            ids.retain(|other| other != id);
        }
        Some(state.budget)
    }

    pub fn get(&self, id: &str) -> Option<&BudgetState> {
        self.states.get(id)
    }

    /// Budgets of a team, in no order.
    pub fn of_team(&self, team_id: &str) -> impl Iterator<Item = &BudgetState> {
        self.by_team
            .get(team_id)
            .into_iter()
            .flatten()
            .filter_map(|id| self.states.get(id))
    }

    /// Every budget, in no order.
    pub fn all(&self) -> impl Iterator<Item = &BudgetState> {
        self.states.values()
    }

    /// The ids of the budgets that cover a call of `team_id` charged to `project` and made
    /// with `key_id`.
    pub fn covering(
        &self,
        team_id: &str,
        project: Option<&str>,
        key_id: Option<&str>,
    ) -> Vec<String> {
        self.of_team(team_id)
            .filter(|state| state.budget.scope.covers(project, key_id))
            .map(|state| state.budget.id.clone())
            .collect()
    }

    /// The team's own budget.
    pub fn team_budget(&self, team_id: &str) -> Option<&BudgetState> {
        self.of_team(team_id)
            .find(|state| state.budget.scope == crate::budgets::Scope::Team)
    }

    /// Moves every budget whose period ended to the period holding `now_ms`, its spend reset
    /// and marked stale. Returns the ids moved.
    pub fn turn(&mut self, now_ms: i64) -> Vec<String> {
        if self.next_end_ms.is_none_or(|end| now_ms < end) {
            return Vec::new();
        }
        let mut turned = Vec::new();
        for state in self.states.values_mut() {
            if state.window.holds(now_ms) {
                continue;
            }
            let window = state.budget.rule.window_at(now_ms);
            if window == state.window {
                continue;
            }
            state.window = window;
            state.spent_pico = 0;
            state.stale = true;
            turned.push(state.budget.id.clone());
        }
        self.next_end_ms = self.states.values().map(|state| state.window.end_ms).min();
        turned
    }

    /// Sets a budget's spend read from the ledger for `window`, if it is still the budget's
    /// window.
    pub fn reload(&mut self, id: &str, window: &Window, spent_pico: i128) {
        if let Some(state) = self.states.get_mut(id)
            && state.window == *window
        {
            state.spent_pico = spent_pico;
            state.stale = false;
        }
    }

    /// The budgets a call counts on: covering it, with a window holding its start.
    fn counting<'a>(&'a self, call: &'a CallCost) -> impl Iterator<Item = &'a BudgetState> + 'a {
        self.of_team(&call.team_id).filter(move |state| {
            state
                .budget
                .scope
                .covers(call.project.as_deref(), call.key_id.as_deref())
                && state.window.holds(call.started_at_ms)
        })
    }

    /// How the budgets would move if these calls were added, without adding them.
    pub fn preview(&self, calls: &[CallCost]) -> Vec<Crossing> {
        let mut crossings: Vec<Crossing> = Vec::new();
        for call in calls.iter().filter(|call| call.cost_pico != 0) {
            for state in self.counting(call) {
                match crossings
                    .iter_mut()
                    .find(|c| c.budget_id == state.budget.id)
                {
                    Some(crossing) => {
                        crossing.after_pico = add_pico(crossing.after_pico, call.cost_pico);
                    }
                    None => crossings.push(Crossing {
                        budget_id: state.budget.id.clone(),
                        before_pico: state.spent_pico,
                        after_pico: add_pico(state.spent_pico, call.cost_pico),
                    }),
                }
            }
        }
        crossings
    }

    /// Adds a stored call to every budget it counts on.
    pub fn add_call(&mut self, call: &CallCost) {
        if call.cost_pico == 0 {
            return;
        }
        let ids: Vec<String> = self.counting(call).map(|s| s.budget.id.clone()).collect();
        for id in ids {
            if let Some(state) = self.states.get_mut(&id) {
                state.spent_pico = add_pico(state.spent_pico, call.cost_pico);
            }
        }
    }

    /// Adds `amount` (negative to release) to what calls in flight hold on these budgets.
    pub fn hold(&mut self, ids: &[String], amount_pico: i128) {
        for id in ids {
            if let Some(state) = self.states.get_mut(id) {
                state.held_pico = add_pico(state.held_pico, amount_pico).max(0);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::budgets::{Mode, PeriodKind, PeriodRule, Scope};

    fn ms(text: &str) -> i64 {
        text.parse::<Timestamp>().unwrap().as_millisecond()
    }

    fn budget(id: &str, scope: Scope, amount: i128) -> Budget {
        Budget {
            id: id.into(),
            team_id: "t1".into(),
            scope,
            amount_pico: amount,
            rule: PeriodRule::new(PeriodKind::Day, "America/New_York", None).unwrap(),
            mode: Mode::Hard,
            strict: false,
            default_max_tokens: 1000,
            thresholds: vec![50, 80, 100],
            created_at: String::new(),
            updated_at: String::new(),
        }
    }

    #[test]
    fn calls_count_on_the_budgets_that_cover_them_in_their_window() {
        let now = ms("2026-12-04T15:00:00Z");
        let mut book = BudgetBook::default();
        for (id, scope) in [
            ("team", Scope::Team),
            ("project", Scope::Project("checkout".into())),
            ("key", Scope::Key("k1".into())),
        ] {
            let b = budget(id, scope, 100);
            let window = b.rule.window_at(now);
            book.put(b, window, 0);
        }
        let call = |team: &str, project: Option<&str>, key: Option<&str>, at: i64, cost| CallCost {
            team_id: team.into(),
            project: project.map(str::to_owned),
            key_id: key.map(str::to_owned),
            started_at_ms: at,
            cost_pico: cost,
        };
        let calls = [
            call("t1", Some("checkout"), Some("k2"), now, 30),
            call("t1", None, Some("k1"), now, 20),
            // Started the day before in New York: counts nowhere.
            call("t1", None, None, ms("2026-12-04T04:59:00Z"), 1000),
            call("t2", None, None, now, 1000),
        ];
        let crossings = book.preview(&calls);
        for call in &calls {
            book.add_call(call);
        }

        let spent = |id: &str| book.get(id).unwrap().spent_pico;
        assert_eq!(
            (spent("team"), spent("project"), spent("key")),
            (50, 30, 20)
        );
        assert_eq!(
            crossings[0],
            Crossing {
                budget_id: "team".into(),
                before_pico: 0,
                after_pico: 50
            }
        );
        assert_eq!(book.covering("t1", Some("checkout"), Some("k1")).len(), 3);
        assert_eq!(book.covering("t1", None, None), vec!["team".to_owned()]);
    }

    #[test]
    fn a_new_period_starts_from_nothing_and_is_marked_for_a_reload() {
        let mut book = BudgetBook::default();
        let b = budget("team", Scope::Team, 100);
        let window = b.rule.window_at(ms("2026-12-04T15:00:00Z"));
        book.put(b, window, 70);
        assert!(book.turn(ms("2026-12-05T04:59:59Z")).is_empty());
        assert_eq!(
            book.turn(ms("2026-12-05T05:00:00Z")),
            vec!["team".to_owned()]
        );
        let state = book.get("team").unwrap();
        assert_eq!((state.spent_pico, state.stale), (0, true));
        assert_eq!(state.window.start_text(), "2026-12-05T00:00:00-05:00");
    }

    #[test]
    fn forecasts_carry_the_rate_to_the_period_end() {
        let rule = PeriodRule::new(PeriodKind::Month, "UTC", None).unwrap();
        let window = rule.window_at(ms("2026-12-01T00:00:00Z"));
        // 10 USD in the first 10 of 31 days, on a 20 USD budget.
        let usd = 1_000_000_000_000;
        let now = ms("2026-12-11T00:00:00Z");
        let forecast = Forecast::of(&window, 10 * usd, Some(20 * usd), now);
        assert_eq!(forecast.burn_per_day_pico, usd);
        assert_eq!(forecast.projected_pico, 31 * usd);
        assert_eq!(forecast.exhausted_at_ms, Some(ms("2026-12-21T00:00:00Z")));
        assert!(forecast.settled);
        assert_eq!(
            local_day(forecast.exhausted_at_ms.unwrap(), &window),
            "2026-12-21"
        );

        let early = Forecast::of(&window, usd, Some(20 * usd), ms("2026-12-02T00:00:00Z"));
        assert!(!early.settled);
        let within = Forecast::of(&window, usd, Some(100 * usd), now);
        assert_eq!(within.exhausted_at_ms, None);
    }
}
