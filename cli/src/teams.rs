//! `trimio teams`: list, create and show teams.

use clap::Subcommand;
use reqwest::Method;
use serde_json::{Value, json};

use crate::api::{Api, Request};
use crate::error::CliError;
use crate::reply::Reply;
use crate::table::{Align, Table, fields};
use crate::view::{items, moment, text, text_of};

#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum TeamsCommand {
    /// Every team, with its budget and this month's spend.
    List,
    /// Create a team.
    Create {
        /// 1 to 64 letters, digits, '.', '_' or '-'.
        name: String,
        /// A monthly budget in USD (UTC months); without it the team has none.
        #[arg(long, value_name = "USD")]
        budget_usd: Option<String>,
    },
    /// One team, with its budget and this month's spend.
    Show {
        /// The team's id or name.
        #[arg(value_parser = crate::args::team)]
        team: String,
    },
}

impl TeamsCommand {
    pub fn request(&self) -> Request {
        match self {
            TeamsCommand::List => Request::admin(Method::GET, &["teams"]),
            TeamsCommand::Create { name, budget_usd } => Request::admin(Method::POST, &["teams"])
                .body(json!({"name": name, "budget_usd": budget_usd})),
            TeamsCommand::Show { team } => Request::admin(Method::GET, &["teams", team]),
        }
    }

    pub fn run(&self, api: &Api) -> Result<Reply, CliError> {
        let (json, value) = api.json(&self.request())?;
        let text = match self {
            TeamsCommand::List => list_text(&value),
            TeamsCommand::Create { .. } => created_text(&value),
            TeamsCommand::Show { .. } => team_text(&value),
        };
        Ok(Reply::document(json, text))
    }
}

fn list_text(value: &Value) -> String {
    let teams = items(value, "teams");
    if teams.is_empty() {
        return "no teams yet; create one with `trimio teams create NAME`\n".to_owned();
    }
    let mut table = Table::new(&[
        ("NAME", Align::Left),
        ("ID", Align::Left),
        ("BUDGET USD", Align::Right),
        ("SPEND USD", Align::Right),
        ("PERIOD START", Align::Left),
    ]);
    for team in teams {
        table.row(vec![
            text(team, "name"),
            text(team, "id"),
            text(team, "budget_usd"),
            text(team, "spend_usd"),
            moment(team, "period_start"),
        ]);
    }
    table.render()
}

fn created_text(team: &Value) -> String {
    let budget = match text_of(team, "budget_usd") {
        Some(usd) => format!("a budget of {usd} USD per month"),
        None => "no budget".to_owned(),
    };
    format!(
        "created team {} ({}) with {budget}\n",
        text(team, "name"),
        text(team, "id")
    )
}

/// The budget's own period decides the spend shown; a team without a budget shows the
/// calendar month.
fn team_text(team: &Value) -> String {
    let budget = match (text_of(team, "budget_usd"), text_of(team, "budget_id")) {
        (Some(usd), Some(id)) => format!("{usd} USD per period ({id}; `trimio budgets show {id}`)"),
        (Some(usd), None) => format!("{usd} USD per month"),
        (None, _) => "none".to_owned(),
    };
    fields(&[
        ("team", text(team, "name")),
        ("id", text(team, "id")),
        ("budget", budget),
        (
            "spend",
            format!(
                "{} USD from {} to {} (exclusive)",
                text(team, "spend_usd"),
                moment(team, "period_start"),
                moment(team, "period_end")
            ),
        ),
        ("created", text(team, "created_at")),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn team() -> Value {
        json!({"id": "team_1a2b", "name": "payments", "budget_usd": "500", "spend_usd": "12.5",
            "period_start": "2026-12-01", "period_end": "2027-01-01",
            "created_at": "2026-11-02T09:00:00Z"})
    }

    #[test]
    fn create_sends_the_budget_or_null() {
        let create = TeamsCommand::Create {
            name: "payments".into(),
            budget_usd: Some("500".into()),
        };
        assert_eq!(
            create.request().body,
            Some(json!({"name": "payments", "budget_usd": "500"}))
        );
        let create = TeamsCommand::Create {
            name: "ml".into(),
            budget_usd: None,
        };
        assert_eq!(
            create.request().body,
            Some(json!({"name": "ml", "budget_usd": null}))
        );
        assert_eq!(create.request().path_text(), "/v1/admin/teams");
    }

    #[test]
    fn lists_teams_as_a_table() {
        let mut unlimited = team();
        unlimited["name"] = json!("ml");
        unlimited["id"] = json!("team_3c4d");
        unlimited["budget_usd"] = Value::Null;
        unlimited["spend_usd"] = json!("0.018369");
        let rendered = list_text(&json!({"teams": [team(), unlimited]}));
        assert_eq!(
            rendered,
            "NAME      ID         BUDGET USD  SPEND USD  PERIOD START\n\
             payments  team_1a2b         500       12.5  2026-12-01\n\
             ml        team_3c4d           -   0.018369  2026-12-01\n"
        );
        assert!(list_text(&json!({"teams": []})).contains("trimio teams create"));
    }

    #[test]
    fn shows_one_team() {
        let rendered = team_text(&team());
        assert!(rendered.starts_with("team     payments\n"), "{rendered}");
        assert!(
            rendered.contains("budget   500 USD per month\n"),
            "{rendered}"
        );
        assert!(
            rendered.contains("spend    12.5 USD from 2026-12-01 to 2027-01-01 (exclusive)\n"),
            "{rendered}"
        );

        let mut budgeted = team();
        budgeted["budget_id"] = json!("bud_9");
        budgeted["period_start"] = json!("2026-11-30T23:00:00Z");
        budgeted["period_end"] = json!("2026-12-31T23:00:00Z");
        let rendered = team_text(&budgeted);
        assert!(
            rendered.contains("budget   500 USD per period (bud_9; `trimio budgets show bud_9`)\n"),
            "{rendered}"
        );
        assert!(
            rendered.contains("from 2026-11-30 23:00 to 2026-12-31 23:00 (exclusive)"),
            "{rendered}"
        );
        assert_eq!(
            created_text(&team()),
            "created team payments (team_1a2b) with a budget of 500 USD per month\n"
        );
    }

    #[test]
    fn escapes_what_the_server_sends() {
        let mut hostile = team();
        hostile["name"] = json!("pay\u{1b}]0;x\u{7}");
        hostile["budget_usd"] = json!("5\n\u{1b}[2J");
        assert_eq!(
            created_text(&hostile),
            "created team pay\\u{1b}]0;x\\u{7} (team_1a2b) with a budget of 5\\n\\u{1b}[2J USD \
             per month\n"
        );
    }
}
