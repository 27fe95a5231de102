//! `trimio report`: spend over a range, and each budget's forecast for its period.

mod forecast;
mod spend;

pub use spend::{Dimension, SpendArgs};

use clap::Subcommand;
use reqwest::Method;

use crate::api::{Answer, Api, Request};
use crate::error::CliError;
use crate::reply::Reply;

#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum ReportCommand {
    /// Calls, tokens and cost, grouped (this month by team when nothing is given).
    Spend(SpendArgs),
    /// Spend, burn rate and projected spend for the current period of each team and project.
    Forecast {
        /// Only this team's (id or name).
        #[arg(long)]
        team: Option<String>,
    },
}

impl ReportCommand {
    pub fn request(&self) -> Request {
        match self {
            ReportCommand::Spend(args) => args.request(),
            ReportCommand::Forecast { team } => {
                Request::admin(Method::GET, &["reports", "forecast"])
                    .query_opt("team", team.as_deref())
            }
        }
    }

    pub fn run(&self, api: &Api) -> Result<Reply, CliError> {
        let request = self.request();
        match self {
            ReportCommand::Spend(args) if args.csv => match api.send(&request)? {
                Answer::Text(csv) | Answer::Json { text: csv, .. } => Ok(Reply::Raw(csv)),
                Answer::Empty => Ok(Reply::Raw(String::new())),
            },
            ReportCommand::Spend(_) => {
                let (json, value) = api.json(&request)?;
                Ok(Reply::document(json, spend::report_text(&value)))
            }
            ReportCommand::Forecast { .. } => {
                let (json, value) = api.json(&request)?;
                Ok(Reply::document(json, forecast::report_text(&value)))
            }
        }
    }
}
