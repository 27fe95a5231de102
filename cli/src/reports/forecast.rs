//! `trimio report forecast`: where each team and project is heading this period.

use serde_json::Value;

use crate::table::{Align, Table};
use crate::view::{estimate, items, moment, text};

pub fn report_text(report: &Value) -> String {
    let rows = items(report, "rows");
    if rows.is_empty() {
        return "no team has spend or a budget in its current period\n".to_owned();
    }
    let mut table = Table::new(&[
        ("TEAM", Align::Left),
        ("PROJECT", Align::Left),
        ("BUDGET USD", Align::Right),
        ("SPEND USD", Align::Right),
        ("BURN USD/DAY", Align::Right),
        ("PROJECTED USD", Align::Right),
        ("EXHAUSTED ON", Align::Left),
        ("PERIOD END", Align::Left),
    ]);
    for row in rows {
        table.row(vec![
            text(row, "team"),
            text(row, "project"),
            text(row, "amount_usd"),
            text(row, "spend_usd"),
            estimate(row, "burn_usd_per_day"),
            estimate(row, "projected_usd"),
            text(row, "exhausted_on"),
            moment(row, "period_end"),
        ]);
    }
    format!(
        "forecast as of {}, at each period's burn rate so far\n\n{}",
        moment(report, "as_of"),
        table.render()
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn renders_team_and_project_rows() {
        let report = json!({"as_of": "2026-12-10T12:00:00Z", "rows": [
            {"team_id": "team_1", "team": "payments", "project": null, "budget_id": "bud_1",
             "amount_usd": "100", "period_start": "2026-12-01T00:00:00Z",
             "period_end": "2027-01-01T00:00:00Z", "spend_usd": "60",
             "burn_usd_per_day": "6.5", "projected_usd": "201.5", "exhausted_on": "2026-12-16"},
            {"team_id": "team_1", "team": "payments", "project": "checkout", "budget_id": null,
             "amount_usd": null, "period_start": "2026-12-01T00:00:00Z",
             "period_end": "2027-01-01T00:00:00Z", "spend_usd": "0.018369",
             "burn_usd_per_day": "0.002", "projected_usd": "0.06", "exhausted_on": null}]});
        let expected = [
            "forecast as of 2026-12-10 12:00, at each period's burn rate so far",
            "",
            "TEAM      PROJECT   BUDGET USD  SPEND USD  BURN USD/DAY  PROJECTED USD  EXHAUSTED ON  \
             PERIOD END",
            "payments  -                100         60          6.50         201.50  2026-12-16    \
             2027-01-01",
            "payments  checkout           -   0.018369         <0.01           0.06  -             \
             2027-01-01",
        ];
        assert_eq!(report_text(&report).lines().collect::<Vec<_>>(), expected);
    }

    #[test]
    fn says_when_there_is_nothing_to_forecast() {
        assert!(report_text(&json!({"as_of": "x", "rows": []})).starts_with("no team"));
    }
}
