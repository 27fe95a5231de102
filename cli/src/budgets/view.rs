//! Budgets for people: a table of many, or one in full.

use serde_json::Value;

use crate::table::{Align, Table, fields};
use crate::view::{NONE, estimate, items, moment, str_of, text, text_of};

pub fn list_text(value: &Value) -> String {
    let budgets = items(value, "budgets");
    if budgets.is_empty() {
        return "no budgets; set one with `trimio budgets set TEAM --usd AMOUNT`\n".to_owned();
    }
    let mut table = Table::new(&[
        ("ID", Align::Left),
        ("TEAM", Align::Left),
        ("SCOPE", Align::Left),
        ("AMOUNT USD", Align::Right),
        ("PERIOD", Align::Left),
        ("MODE", Align::Left),
        ("SPEND USD", Align::Right),
        ("USED", Align::Right),
        ("PROJECTED USD", Align::Right),
        ("EXHAUSTED ON", Align::Left),
    ]);
    for budget in budgets {
        let current = current(budget);
        table.row(vec![
            text(budget, "id"),
            text(budget, "team"),
            scope(budget),
            text(budget, "amount_usd"),
            period(budget),
            text(budget, "mode"),
            text(current, "spend_usd"),
            percent(current),
            estimate(current, "projected_usd"),
            text(current, "exhausted_on"),
        ]);
    }
    table.render()
}

pub fn budget_text(budget: &Value) -> String {
    let current = current(budget);
    let mode = match str_of(budget, "mode") {
        Some("hard") => "hard: calls are refused once it is spent".to_owned(),
        Some("warn") => "warn: calls are never refused; alerts only".to_owned(),
        _ => text(budget, "mode"),
    };
    let strict = match budget.get("strict").and_then(Value::as_bool) {
        Some(true) => format!(
            "yes: each call reserves its worst case; {} output tokens when a request names no cap",
            text(budget, "default_max_tokens")
        ),
        Some(false) => "no".to_owned(),
        None => NONE.to_owned(),
    };
    let thresholds: Vec<String> = items(budget, "thresholds")
        .iter()
        .map(|percent| format!("{percent}%"))
        .collect();
    let exhausted = match text_of(current, "exhausted_on") {
        Some(day) => format!("{day} at this rate"),
        None => "not within this period at this rate".to_owned(),
    };

    fields(&[
        ("budget", text(budget, "id")),
        ("team", text(budget, "team")),
        ("scope", scope(budget)),
        (
            "amount",
            format!("{} USD per {}", text(budget, "amount_usd"), period(budget)),
        ),
        ("mode", mode),
        ("strict", strict),
        ("alerts at", thresholds.join(", ")),
        (
            "this period",
            format!(
                "{} to {}",
                moment(current, "period_start"),
                moment(current, "period_end")
            ),
        ),
        (
            "spend",
            format!(
                "{} USD ({}), {} USD reserved, {} USD left",
                text(current, "spend_usd"),
                percent(current),
                text(current, "reserved_usd"),
                text(current, "remaining_usd")
            ),
        ),
        (
            "forecast",
            format!(
                "{} USD per day, {} USD by the period's end",
                estimate(current, "burn_usd_per_day"),
                estimate(current, "projected_usd")
            ),
        ),
        ("exhausted on", exhausted),
        ("updated", text(budget, "updated_at")),
    ])
}

/// The current period's figures, or an empty object.
fn current(budget: &Value) -> &Value {
    static EMPTY: Value = Value::Null;
    budget.get("current").unwrap_or(&EMPTY)
}

fn scope(budget: &Value) -> String {
    match str_of(budget, "scope") {
        Some("project") => format!("project {}", text(budget, "project")),
        Some("key") => format!("key {}", text(budget, "key_id")),
        Some(_) => text(budget, "scope"),
        None => NONE.to_owned(),
    }
}

/// `month`, `month from day 15`, `week from Wednesday`, `day`, with the time zone when it is
/// not UTC.
pub fn period(budget: &Value) -> String {
    let start_day = budget.get("start_day").and_then(Value::as_u64);
    let mut period = match (str_of(budget, "period"), start_day) {
        (Some("month"), Some(day)) if day != 1 => format!("month from day {day}"),
        (Some("week"), Some(day)) if day != 1 => match weekday(day) {
            Some(name) => format!("week from {name}"),
            None => format!("week from day {day}"),
        },
        (Some(_), _) => text(budget, "period"),
        (None, _) => NONE.to_owned(),
    };
    if let Some(zone) = text_of(budget, "time_zone").filter(|zone| zone != "UTC") {
        period.push_str(&format!(" ({zone})"));
    }
    period
}

fn weekday(day: u64) -> Option<&'static str> {
    let names = [
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
    ];
    let index = usize::try_from(day).ok()?.checked_sub(1)?;
    names.get(index).copied()
}

fn percent(current: &Value) -> String {
    match text_of(current, "used_percent") {
        Some(percent) => format!("{percent}%"),
        None => NONE.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// A budget shaped as the admin API documents it.
    fn budget() -> Value {
        json!({"id": "bud_1", "team_id": "team_1", "team": "payments", "scope": "team",
            "project": null, "key_id": null, "amount_usd": "100", "period": "month",
            "time_zone": "UTC", "start_day": 1, "mode": "hard", "strict": false,
            "default_max_tokens": 32000, "thresholds": [50, 80, 100],
            "created_at": "2026-11-02T09:00:00Z", "updated_at": "2026-12-01T08:00:00Z",
            "current": {"period_start": "2026-12-01T00:00:00Z",
                "period_end": "2027-01-01T00:00:00Z", "spend_usd": "12.5",
                "reserved_usd": "0.3", "remaining_usd": "87.2", "used_percent": "12.5",
                "burn_usd_per_day": "3.1", "projected_usd": "96.1", "exhausted_on": null}})
    }

    #[test]
    fn lists_budgets_as_a_table() {
        let mut project = budget();
        project["id"] = json!("bud_2");
        project["scope"] = json!("project");
        project["project"] = json!("checkout");
        project["amount_usd"] = json!("40");
        project["period"] = json!("week");
        project["start_day"] = json!(3);
        project["time_zone"] = json!("Europe/Berlin");
        project["mode"] = json!("warn");
        project["current"]["exhausted_on"] = json!("2026-12-29");

        let rendered = list_text(&json!({"budgets": [budget(), project]}));
        let expected = [
            concat!(
                "ID     TEAM      SCOPE             AMOUNT USD  ",
                "PERIOD                             ",
                "  MODE  SPEND USD   USED  PROJECTED USD  EXHAUSTED ON"
            ),
            concat!(
                "bud_1  payments  team                     100  ",
                "month                              ",
                "  hard       12.5  12.5%          96.10  -"
            ),
            concat!(
                "bud_2  payments  project checkout          40  ",
                "week from Wednesday (Europe/Berlin)",
                "  warn       12.5  12.5%          96.10  2026-12-29"
            ),
        ];
        assert_eq!(rendered.lines().collect::<Vec<_>>(), expected);
        assert!(list_text(&json!({"budgets": []})).contains("trimio budgets set"));
    }

    #[test]
    fn shows_one_budget_in_full() {
        let rendered = budget_text(&budget());
        for line in [
            "budget        bud_1",
            "scope         team",
            "amount        100 USD per month",
            "mode          hard: calls are refused once it is spent",
            "strict        no",
            "alerts at     50%, 80%, 100%",
            "this period   2026-12-01 to 2027-01-01",
            "spend         12.5 USD (12.5%), 0.3 USD reserved, 87.2 USD left",
            "forecast      3.10 USD per day, 96.10 USD by the period's end",
            "exhausted on  not within this period at this rate",
        ] {
            assert!(
                rendered.lines().any(|l| l == line),
                "{line:?} in\n{rendered}"
            );
        }
    }

    #[test]
    fn shows_a_period_in_its_time_zone() {
        let mut berlin = budget();
        berlin["time_zone"] = json!("Europe/Berlin");
        berlin["current"]["period_start"] = json!("2026-12-01T00:00:00+01:00");
        berlin["current"]["period_end"] = json!("2027-01-01T00:00:00+01:00");
        let rendered = budget_text(&berlin);
        assert!(
            rendered.contains("amount        100 USD per month (Europe/Berlin)\n"),
            "{rendered}"
        );
        assert!(
            rendered.contains("this period   2026-12-01 00:00+01:00 to 2027-01-01 00:00+01:00\n"),
            "{rendered}"
        );
    }

    #[test]
    fn survives_a_budget_without_current_figures() {
        let mut bare = budget();
        bare.as_object_mut().unwrap().remove("current");
        assert!(budget_text(&bare).contains("spend         - USD (-)"));
    }

    #[test]
    fn names_periods() {
        fn with(period: &str, day: u64, zone: &str) -> serde_json::Value {
            json!({"period": period, "start_day": day, "time_zone": zone})
        }
        assert_eq!(period(&with("month", 1, "UTC")), "month");
        assert_eq!(period(&with("month", 15, "UTC")), "month from day 15");
        assert_eq!(period(&with("week", 1, "UTC")), "week");
        assert_eq!(period(&with("week", 7, "UTC")), "week from Sunday");
        assert_eq!(period(&with("week", 9, "UTC")), "week from day 9");
        assert_eq!(
            period(&json!({"period": "day", "time_zone": "Asia/Tokyo"})),
            "day (Asia/Tokyo)"
        );
    }
}
