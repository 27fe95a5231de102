//! Summing rollups into report rows, in `i128`, in memory.

use std::collections::BTreeMap;

use crate::ledger::{RollupRow, Totals};
use crate::reports::query::Dimension;

/// The values of the grouped dimensions, in the order asked; `None` where the calls had no
/// such value.
pub type GroupKey = Vec<Option<String>>;

/// Report rows by group, and the total over all of them.
#[derive(Debug, Default)]
pub struct Summary {
    pub rows: BTreeMap<GroupKey, Totals>,
    pub total: Totals,
}

impl Summary {
    pub fn add(&mut self, rollup: &RollupRow, group_by: &[Dimension]) {
        let key = group_by
            .iter()
            .map(|dimension| value(rollup, *dimension))
            .collect();
        self.rows.entry(key).or_default().add(&rollup.totals);
        self.total.add(&rollup.totals);
    }
}

fn value(rollup: &RollupRow, dimension: Dimension) -> Option<String> {
    match dimension {
        Dimension::Team => rollup.team_id.clone(),
        Dimension::Project => rollup.project.clone(),
        Dimension::Model => rollup.model.clone(),
        Dimension::User => rollup.user.clone(),
        Dimension::Day => Some(rollup.day.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rollup(day: &str, team: &str, model: &str, cost: i128) -> RollupRow {
        RollupRow {
            day: day.into(),
            team_id: Some(team.into()),
            project: None,
            user: None,
            model: Some(model.into()),
            totals: Totals {
                calls: 1,
                cost_pico: cost,
                ..Totals::default()
            },
        }
    }

    #[test]
    fn groups_by_the_dimensions_asked() {
        let rollups = [
            rollup("2025-12-01", "t1", "m1", 10),
            rollup("2025-12-02", "t1", "m1", 20),
            rollup("2025-12-02", "t1", "m2", 5),
            rollup("2025-12-02", "t2", "m1", i128::from(i64::MAX)),
            rollup("2025-12-03", "t2", "m1", i128::from(i64::MAX)),
        ];
        let mut summary = Summary::default();
        for rollup in &rollups {
            summary.add(rollup, &[Dimension::Team, Dimension::Project]);
        }
        let t1 = &summary.rows[&vec![Some("t1".to_owned()), None]];
        assert_eq!((t1.calls, t1.cost_pico), (3, 35));
        let t2 = &summary.rows[&vec![Some("t2".to_owned()), None]];
        assert_eq!(
            t2.cost_pico,
            2 * i128::from(i64::MAX),
            "sums past i64 stay exact"
        );
        assert_eq!(summary.total.calls, 5);
    }
}
