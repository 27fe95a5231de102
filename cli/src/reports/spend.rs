//! `trimio report spend`: the spend report's query, and its rows as a table.

use clap::{Args, ValueEnum};
use reqwest::Method;
use serde_json::Value;

use crate::api::Request;
use crate::printable::printable;
use crate::table::{Align, Table};
use crate::view::{NONE, items, plural, text, text_of};

#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct SpendArgs {
    /// One calendar month (UTC); this month when no range is given.
    #[arg(long, value_name = "YYYY-MM", conflicts_with_all = ["from", "to"])]
    pub period: Option<String>,

    /// The first day of the range (UTC).
    #[arg(long, value_name = "YYYY-MM-DD", requires = "to")]
    pub from: Option<String>,

    /// The day after the last day of the range: the range excludes it.
    #[arg(long, value_name = "YYYY-MM-DD", requires = "from")]
    pub to: Option<String>,

    /// What to group rows by, comma-separated, in order (team when not given).
    #[arg(long, value_enum, value_delimiter = ',')]
    pub group_by: Vec<Dimension>,

    /// Print the API's CSV, for spreadsheets (with or without --json).
    #[arg(long)]
    pub csv: bool,
}

/// What a spend report can group by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Dimension {
    Team,
    Project,
    Model,
    User,
    Day,
}

impl Dimension {
    pub fn as_str(self) -> &'static str {
        match self {
            Dimension::Team => "team",
            Dimension::Project => "project",
            Dimension::Model => "model",
            Dimension::User => "user",
            Dimension::Day => "day",
        }
    }
}

impl SpendArgs {
    pub fn request(&self) -> Request {
        let group_by: Vec<&str> = self.group_by.iter().map(|d| d.as_str()).collect();
        Request::admin(Method::GET, &["reports", "spend"])
            .query_opt("period", self.period.as_deref())
            .query_opt("from", self.from.as_deref())
            .query_opt("to", self.to.as_deref())
            .query_opt(
                "group_by",
                (!group_by.is_empty()).then(|| group_by.join(",")),
            )
            .query_opt("format", self.csv.then_some("csv"))
    }
}

/// Token counts shown, by their name in a row's `usage`; both cache write kinds are summed.
const TOKEN_COLUMNS: [(&str, &[&str]); 4] = [
    ("INPUT", &["input"]),
    ("OUTPUT", &["output"]),
    ("CACHE READ", &["cache_read"]),
    ("CACHE WRITE", &["cache_write_5m", "cache_write_1h"]),
];

pub fn report_text(report: &Value) -> String {
    let group_by: Vec<&str> = items(report, "group_by")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let range = format!(
        "from {} up to {} (exclusive)",
        text(report, "from"),
        text(report, "to")
    );
    let rows = items(report, "rows");
    if rows.is_empty() {
        return format!("no spend {range}\n");
    }

    let mut table = Table::new(&[]);
    for dimension in &group_by {
        table.column(&dimension.to_uppercase(), Align::Left);
    }
    table.column("CALLS", Align::Right);
    table.column("UNPRICED", Align::Right);
    for (title, _) in TOKEN_COLUMNS {
        table.column(title, Align::Right);
    }
    table.column("COST USD", Align::Right);

    for row in rows {
        let mut cells: Vec<String> = group_by
            .iter()
            .map(|dimension| group_value(row, dimension))
            .collect();
        cells.extend(totals(row));
        table.row(cells);
    }
    let total = report.get("total").unwrap_or(&Value::Null);
    let mut cells = vec!["TOTAL".to_owned()];
    cells.extend(std::iter::repeat_n(
        String::new(),
        group_by.len().saturating_sub(1),
    ));
    cells.extend(totals(total));
    table.row(cells);

    let mut out = format!("spend {range}, by {}\n\n", printable(&group_by.join(", ")));
    out.push_str(&table.render());
    out.push_str(&notes(total));
    out
}

/// A row's value for one group: a team by its name, `-` where the calls had none.
fn group_value(row: &Value, dimension: &str) -> String {
    if dimension == "team" {
        return text_of(row, "team")
            .or_else(|| text_of(row, "team_id"))
            .unwrap_or_else(|| NONE.to_owned());
    }
    text(row, dimension)
}

fn totals(row: &Value) -> Vec<String> {
    let usage = row.get("usage").unwrap_or(&Value::Null);
    let mut cells = vec![text(row, "calls"), text(row, "unpriced_calls")];
    for (_, kinds) in TOKEN_COLUMNS {
        let sum = kinds
            .iter()
            .filter_map(|kind| usage.get(*kind).and_then(Value::as_u64))
            .fold(0u64, u64::saturating_add);
        cells.push(sum.to_string());
    }
    cells.push(text(row, "cost_usd"));
    cells
}

/// What the cost column leaves out or guesses.
fn notes(total: &Value) -> String {
    let count = |key: &str| total.get(key).and_then(Value::as_u64).unwrap_or(0);
    let mut out = String::new();
    let unpriced = count("unpriced_calls");
    if unpriced > 0 {
        out.push_str(&format!(
            "\nCOST USD leaves out {} with no price for the model; set one with `trimio prices \
             set MODEL --input USD --output USD`\n",
            plural(unpriced, "call")
        ));
    }
    let estimated = count("estimated_calls");
    if estimated > 0 {
        out.push_str(&format!(
            "\n{} estimated: the provider did not report all of the usage\n",
            plural(estimated, "call")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use clap::Parser;
    use serde_json::json;

    use super::*;
    use crate::args::{Cli, Command};
    use crate::reports::ReportCommand;

    fn parse(args: &[&str]) -> Result<SpendArgs, String> {
        let argv = ["trimio", "report", "spend"].iter().chain(args);
        match Cli::try_parse_from(argv).map(|cli| cli.command) {
            Ok(Command::Report(ReportCommand::Spend(args))) => Ok(args),
            Ok(other) => Err(format!("{other:?}")),
            Err(error) => Err(error.to_string()),
        }
    }

    #[test]
    fn builds_the_query_from_the_flags() {
        let args = parse(&[]).unwrap();
        assert!(args.request().query.is_empty());

        let args = parse(&[
            "--period",
            "2026-11",
            "--group-by",
            "team,project,model",
            "--csv",
        ])
        .unwrap();
        assert_eq!(
            args.request().query,
            vec![
                ("period", "2026-11".to_owned()),
                ("group_by", "team,project,model".to_owned()),
                ("format", "csv".to_owned()),
            ]
        );

        let args = parse(&["--from", "2026-11-03", "--to", "2026-11-10"]).unwrap();
        assert_eq!(
            args.request().query,
            vec![
                ("from", "2026-11-03".to_owned()),
                ("to", "2026-11-10".to_owned())
            ]
        );
        assert_eq!(args.request().path_text(), "/v1/admin/reports/spend");
    }

    #[test]
    fn refuses_mixed_or_half_ranges_and_unknown_groups() {
        assert!(
            parse(&[
                "--period",
                "2026-11",
                "--from",
                "2026-11-01",
                "--to",
                "2026-12-01"
            ])
            .is_err()
        );
        assert!(parse(&["--from", "2026-11-01"]).is_err());
        assert!(parse(&["--to", "2026-11-01"]).is_err());
        assert!(parse(&["--group-by", "team,region"]).is_err());
    }

    fn report() -> Value {
        json!({"from": "2026-12-01", "to": "2027-01-01", "group_by": ["team", "project"],
            "rows": [
                {"team_id": "team_1", "team": "payments", "project": "checkout", "calls": 12,
                 "unpriced_calls": 0, "estimated_calls": 0,
                 "usage": {"input": 1000, "output": 200, "cache_read": 50,
                    "cache_write_5m": 10, "cache_write_1h": 5, "reasoning": 0,
                    "web_search_requests": 0},
                 "cost_usd": "0.018369"},
                {"team_id": "team_2", "team": null, "project": null, "calls": 1,
                 "unpriced_calls": 1, "estimated_calls": 1,
                 "usage": {"input": 7, "output": 3}, "cost_usd": "0"}],
            "total": {"calls": 13, "unpriced_calls": 1, "estimated_calls": 1,
                "usage": {"input": 1007, "output": 203, "cache_read": 50,
                    "cache_write_5m": 10, "cache_write_1h": 5},
                "cost_usd": "0.018369"}})
    }

    #[test]
    fn renders_groups_totals_and_notes() {
        let rendered = report_text(&report());
        let expected = [
            "spend from 2026-12-01 up to 2027-01-01 (exclusive), by team, project",
            "",
            "TEAM      PROJECT   CALLS  UNPRICED  INPUT  OUTPUT  CACHE READ  CACHE WRITE  COST USD",
            "payments  checkout     12         0   1000     200          50           15  0.018369",
            "team_2    -             1         1      7       3           0            0         0",
            "TOTAL                  13         1   1007     203          50           15  0.018369",
            "",
            "COST USD leaves out 1 call with no price for the model; set one with `trimio prices \
             set MODEL --input USD --output USD`",
            "",
            "1 call estimated: the provider did not report all of the usage",
        ];
        assert_eq!(rendered.lines().collect::<Vec<_>>(), expected);
    }

    #[test]
    fn escapes_group_names_and_values_the_server_sends() {
        let report = json!({"from": "2026-12-01", "to": "2027-01-01",
            "group_by": ["team", "x\u{1b}[2J"],
            "rows": [{"team": "pay\u{1b}]0;t\u{7}", "x\u{1b}[2J": "v\nerror: forged",
                "calls": 1, "unpriced_calls": 0, "cost_usd": "1"}],
            "total": {"calls": 1, "cost_usd": "1"}});
        let rendered = report_text(&report);
        assert!(
            !rendered.chars().any(|c| c.is_control() && c != '\n'),
            "{rendered:?}"
        );
        let lines: Vec<&str> = rendered.lines().collect();
        assert!(lines[0].ends_with("by team, x\\u{1b}[2J"), "{rendered}");
        assert_eq!(lines[2].split_whitespace().nth(1), Some("X\\u{1b}[2J"));
        assert!(
            lines[3].starts_with("pay\\u{1b}]0;t\\u{7}  v\\nerror: forged"),
            "{rendered}"
        );
    }

    #[test]
    fn says_when_there_is_no_spend() {
        let empty = json!({"from": "2026-12-01", "to": "2027-01-01", "group_by": ["team"],
            "rows": [], "total": {}});
        assert_eq!(
            report_text(&empty),
            "no spend from 2026-12-01 up to 2027-01-01 (exclusive)\n"
        );
    }
}
