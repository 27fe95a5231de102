//! Spend per team in the current budget period, in memory.
//!
//! Loaded from the rollups at start and when the month turns; every newly stored call adds
//! to it in the same step as the store acknowledges it.

use std::collections::HashMap;

use crate::calendar::Period;
use crate::ledger::{LedgerRow, RollupRow};
use crate::money::add_pico;

/// What a team has spent in the period.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TeamSpend {
    /// Pico-dollars over the priced calls.
    pub cost_pico: i128,
    /// Calls that cost more than zero. Calls that cost nothing (token counts, model lists,
    /// errors) are left out, so they do not pull the mean down.
    pub charged_calls: u64,
}

impl TeamSpend {
    /// Mean cost of a call that cost something, in pico-dollars; 0 before any.
    pub fn mean_cost(&self) -> i128 {
        match self.charged_calls {
            0 => 0,
            calls => self.cost_pico / i128::from(calls),
        }
    }
}

/// Spend of every team in one period.
#[derive(Debug, Clone)]
pub struct Spend {
    period: Period,
    by_team: HashMap<String, TeamSpend>,
}

impl Spend {
    pub fn new(period: Period) -> Spend {
        Spend {
            period,
            by_team: HashMap::new(),
        }
    }

    pub fn period(&self) -> Period {
        self.period
    }

    /// Adds a rollup read from the store, if it is of this period and of a team.
    pub fn add_rollup(&mut self, rollup: &RollupRow) {
        let Some(team_id) = &rollup.team_id else {
            return;
        };
        if !self.period.holds_day(&rollup.day) {
            return;
        }
        let spend = self.by_team.entry(team_id.clone()).or_default();
        spend.cost_pico = add_pico(spend.cost_pico, rollup.totals.cost_pico);
        spend.charged_calls = spend
            .charged_calls
            .saturating_add(rollup.totals.charged_calls);
    }

    /// Adds a call just stored, if it started in this period and has a team.
    pub fn add_call(&mut self, row: &LedgerRow) {
        let Some(team_id) = &row.team_id else { return };
        if !self.period.holds_day(&row.day) {
            return;
        }
        let spend = self.by_team.entry(team_id.clone()).or_default();
        if let Some(cost) = row.cost_pico.filter(|cost| *cost > 0) {
            spend.cost_pico = add_pico(spend.cost_pico, i128::from(cost));
            spend.charged_calls = spend.charged_calls.saturating_add(1);
        }
    }

    /// A team's spend in `period`: nothing yet when the month has turned and the new period
    /// is not loaded.
    pub fn of(&self, team_id: &str, period: Period) -> TeamSpend {
        if period != self.period {
            return TeamSpend::default();
        }
        self.by_team.get(team_id).copied().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use time::macros::date;

    use super::*;
    use crate::ledger::Totals;

    #[test]
    fn counts_only_the_period_and_only_teams() {
        let december = Period::containing(date!(2025 - 12 - 04));
        let mut spend = Spend::new(december);
        let rollup = |day: &str, team: Option<&str>, cost, calls, unpriced| RollupRow {
            day: day.into(),
            team_id: team.map(str::to_owned),
            project: None,
            user: None,
            model: None,
            totals: Totals {
                calls,
                unpriced_calls: unpriced,
                charged_calls: calls - unpriced,
                cost_pico: cost,
                ..Totals::default()
            },
        };
        spend.add_rollup(&rollup("2025-12-01", Some("t1"), 300, 4, 1));
        spend.add_rollup(&rollup("2025-11-30", Some("t1"), 1000, 1, 0));
        spend.add_rollup(&rollup("2025-12-02", None, 1000, 1, 0));

        let t1 = spend.of("t1", december);
        assert_eq!(
            t1,
            TeamSpend {
                cost_pico: 300,
                charged_calls: 3
            }
        );
        assert_eq!(t1.mean_cost(), 100);
        assert_eq!(spend.of("t2", december).mean_cost(), 0);

        let january = Period::containing(date!(2026 - 01 - 01));
        assert_eq!(spend.of("t1", january), TeamSpend::default());
    }

    #[test]
    fn the_mean_counts_only_calls_that_cost_something() {
        let december = Period::containing(date!(2025 - 12 - 04));
        let mut spend = Spend::new(december);
        let costs = [Some(0), Some(0), None, Some(0), Some(300), Some(500)];
        for (n, cost) in costs.into_iter().enumerate() {
            let record = crate::ledger::record_for_tests(&format!("r{n}"), "h");
            let mut row = LedgerRow::build(record, None, &Default::default(), 0).unwrap();
            row.team_id = Some("t1".into());
            row.cost_pico = cost;
            spend.add_call(&row);
        }
        assert_eq!(spend.of("t1", december).cost_pico, 800);
        assert_eq!(spend.of("t1", december).mean_cost(), 400);
    }
}
