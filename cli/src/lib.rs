//! `trimio`: the command line for platform teams, over the control plane's admin API.
//!
//! Each command is one request or two (`budgets set` reads the team's budgets first), and
//! prints either the API's JSON (`--json`) or tables and short summaries for people. Every
//! failure says what to do about it; the admin token never appears in what is printed, and
//! nothing the control plane sends reaches the terminal raw ([`printable`]).

pub mod alerts;
pub mod api;
pub mod args;
pub mod body;
pub mod budgets;
pub mod error;
pub mod keys;
pub mod prices;
pub mod printable;
pub mod reply;
pub mod reports;
pub mod table;
pub mod teams;
pub mod token;
pub mod view;

use crate::api::Api;
use crate::args::{Cli, Command};
use crate::error::CliError;
use crate::reply::Reply;
use crate::token::AdminToken;

/// Runs the command; `env` reads the environment (the admin token's variable).
pub fn run(cli: &Cli, env: &dyn Fn(&str) -> Option<String>) -> Result<Reply, CliError> {
    let token = AdminToken::resolve(cli.token_file.as_deref(), env)?;
    let api = Api::new(&cli.url, token)?;

    match &cli.command {
        Command::Teams(command) => command.run(&api),
        Command::Keys(command) => command.run(&api),
        Command::Budgets(command) => command.run(&api),
        Command::Alerts(command) => command.run(&api),
        Command::Prices(command) => command.run(&api),
        Command::Report(command) => command.run(&api),
    }
}
