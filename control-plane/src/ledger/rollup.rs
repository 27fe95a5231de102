//! Rollups: calls, tokens and cost summed by day, team, project, user and model.

use trimio_wire::Usage;

use crate::ledger::record::LedgerRow;
use crate::money::add_pico;

/// Sums over a set of calls.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    pub calls: u64,
    pub unpriced_calls: u64,
    /// Calls whose cost is more than zero: what a mean cost per call is taken over.
    pub charged_calls: u64,
    pub estimated_calls: u64,
    /// Token counts summed kind by kind.
    pub usage: Usage,
    /// Pico-dollars over the priced calls.
    pub cost_pico: i128,
}

impl Totals {
    /// The totals of one call.
    pub fn of(row: &LedgerRow) -> Totals {
        let cost_pico = row.cost_pico.map_or(0, i128::from);
        Totals {
            calls: 1,
            unpriced_calls: u64::from(row.unpriced),
            charged_calls: u64::from(cost_pico > 0),
            estimated_calls: u64::from(row.flags.estimated),
            usage: row.usage,
            cost_pico,
        }
    }

    /// Counts saturate; the cost is summed exactly (see [`add_pico`]).
    pub fn add(&mut self, other: &Totals) {
        self.calls = self.calls.saturating_add(other.calls);
        self.unpriced_calls = self.unpriced_calls.saturating_add(other.unpriced_calls);
        self.charged_calls = self.charged_calls.saturating_add(other.charged_calls);
        self.estimated_calls = self.estimated_calls.saturating_add(other.estimated_calls);
        let (a, b) = (&mut self.usage, &other.usage);
        a.input = a.input.saturating_add(b.input);
        a.output = a.output.saturating_add(b.output);
        a.cache_read = a.cache_read.saturating_add(b.cache_read);
        a.cache_write_5m = a.cache_write_5m.saturating_add(b.cache_write_5m);
        a.cache_write_1h = a.cache_write_1h.saturating_add(b.cache_write_1h);
        a.reasoning = a.reasoning.saturating_add(b.reasoning);
        a.web_search_requests = a.web_search_requests.saturating_add(b.web_search_requests);
        self.cost_pico = add_pico(self.cost_pico, other.cost_pico);
    }
}

/// Admission estimates against what calls cost, over the calls that held a reservation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EstimateTotals {
    pub calls: u64,
    /// Calls that cost more than they reserved.
    pub under_calls: u64,
    pub reserved_pico: i128,
    pub cost_pico: i128,
    /// Sum over the calls of `|cost - reserved|`.
    pub abs_error_pico: i128,
}

impl EstimateTotals {
    pub fn add(&mut self, reserved_pico: i128, cost_pico: i128) {
        self.calls = self.calls.saturating_add(1);
        self.under_calls = self
            .under_calls
            .saturating_add(u64::from(cost_pico > reserved_pico));
        self.reserved_pico = add_pico(self.reserved_pico, reserved_pico);
        self.cost_pico = add_pico(self.cost_pico, cost_pico);
        self.abs_error_pico = add_pico(self.abs_error_pico, (cost_pico - reserved_pico).abs());
    }

    /// `(reserved - cost) / cost` in hundredths of a percent: above zero, the estimates
    /// held more than the calls cost.
    pub fn bias_basis_points(&self) -> Option<i128> {
        (self.cost_pico > 0)
            .then(|| (self.reserved_pico - self.cost_pico) * 10_000 / self.cost_pico)
    }

    /// `sum |cost - reserved| / cost` in hundredths of a percent.
    pub fn abs_error_basis_points(&self) -> Option<i128> {
        (self.cost_pico > 0).then(|| self.abs_error_pico * 10_000 / self.cost_pico)
    }
}

/// One rollup: the totals of a day, team, project, user and model. `None` where the calls
/// had no such value (no team for an unknown key, no project, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RollupRow {
    pub day: String,
    pub team_id: Option<String>,
    pub project: Option<String>,
    pub user: Option<String>,
    pub model: Option<String>,
    pub totals: Totals,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds_kind_by_kind() {
        let one = Totals {
            calls: 1,
            unpriced_calls: 1,
            charged_calls: 0,
            estimated_calls: 0,
            usage: Usage {
                input: 2,
                reasoning: 5,
                ..Usage::default()
            },
            cost_pico: 0,
        };
        let two = Totals {
            calls: 2,
            unpriced_calls: 0,
            charged_calls: 1,
            estimated_calls: 1,
            usage: Usage {
                input: 3,
                output: 7,
                ..Usage::default()
            },
            cost_pico: 40,
        };
        let mut sum = one;
        sum.add(&two);
        assert_eq!(sum.calls, 3);
        assert_eq!(sum.charged_calls, 1);
        assert_eq!(
            sum.usage,
            Usage {
                input: 5,
                output: 7,
                reasoning: 5,
                ..Usage::default()
            }
        );
        assert_eq!(sum.cost_pico, 40);
    }
}
