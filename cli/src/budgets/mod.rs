//! `trimio budgets`: budgets of a team, of one of its projects, or of one key.

mod set;
mod view;

pub use set::{PeriodKind, Plan, Scope, SetArgs};

use clap::Subcommand;
use reqwest::Method;
use serde_json::json;

use crate::api::{Answer, Api, Request};
use crate::error::CliError;
use crate::reply::Reply;

#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum BudgetsCommand {
    /// Budgets with the current period's spend, reservations and forecast.
    List {
        /// Only this team's (id or name).
        #[arg(long)]
        team: Option<String>,
    },
    /// One budget in full.
    Show {
        /// The budget's id (`bud_…`).
        #[arg(value_parser = crate::args::budget_id)]
        id: String,
    },
    /// Delete a budget; its scope then has none.
    Delete {
        /// The budget's id (`bud_…`).
        #[arg(value_parser = crate::args::budget_id)]
        id: String,
    },
    /// Create the budget of a team, project or key, or change the one it has.
    ///
    /// Changes send only the flags given; the rest stays as it is. A new budget takes the
    /// control plane's defaults for what is not given (monthly, UTC, hard, alerts at 50, 80
    /// and 100 percent).
    Set(SetArgs),
}

impl BudgetsCommand {
    pub fn run(&self, api: &Api) -> Result<Reply, CliError> {
        match self {
            BudgetsCommand::List { team } => {
                let request =
                    Request::admin(Method::GET, &["budgets"]).query_opt("team", team.as_deref());
                let (json, value) = api.json(&request)?;
                Ok(Reply::document(json, view::list_text(&value)))
            }
            BudgetsCommand::Show { id } => {
                let (json, value) = api.json(&Request::admin(Method::GET, &["budgets", id]))?;
                Ok(Reply::document(json, view::budget_text(&value)))
            }
            BudgetsCommand::Delete { id } => delete(api, id),
            BudgetsCommand::Set(args) => set(api, args),
        }
    }
}

fn delete(api: &Api, id: &str) -> Result<Reply, CliError> {
    let request = Request::admin(Method::DELETE, &["budgets", id]);
    match api.send(&request)? {
        Answer::Json { text, .. } => Ok(Reply::document(text, format!("deleted budget {id}\n"))),
        Answer::Text(_) | Answer::Empty => Ok(Reply::made(
            &json!({"id": id, "deleted": true}),
            format!("deleted budget {id}\n"),
        )),
    }
}

/// Finds the scope's budget among the team's, then creates or changes it.
fn set(api: &Api, args: &SetArgs) -> Result<Reply, CliError> {
    let lookup = Request::admin(Method::GET, &["budgets"]).query("team", args.team.clone());
    let (_, existing) = api.json(&lookup)?;

    let plan = set::plan(args, &existing)?;

    let (json, budget) = api.json(plan.request())?;
    let verb = match plan {
        Plan::Create(_) => "created",
        Plan::Update { .. } => "updated",
    };
    let text = format!(
        "{verb} budget {}\n\n{}",
        crate::view::text(&budget, "id"),
        view::budget_text(&budget)
    );
    Ok(Reply::document(json, text))
}
