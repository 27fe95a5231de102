//! The command line: where the control plane is, how to print, and one command per feature.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::alerts::AlertsCommand;
use crate::api::is_path_step;
use crate::budgets::BudgetsCommand;
use crate::keys::KeysCommand;
use crate::prices::PricesCommand;
use crate::reports::ReportCommand;
use crate::teams::TeamsCommand;

/// Manage Trimio through its control plane's admin API: teams, keys, budgets, alerts,
/// prices and spend reports.
///
/// The admin token is read from --token-file (or TRIMIO_ADMIN_TOKEN_FILE), else from
/// TRIMIO_ADMIN_TOKEN; it is never printed. Give --url before the command (after it,
/// `alerts add-target` reads --url as the webhook's); --json and --token-file go anywhere.
#[derive(Debug, Parser)]
#[command(name = "trimio", version)]
pub struct Cli {
    /// The control plane's address.
    #[arg(long, env = "TRIMIO_URL", default_value = "http://127.0.0.1:8081")]
    pub url: String,

    /// File holding the admin token (surrounding whitespace ignored).
    #[arg(
        long,
        env = "TRIMIO_ADMIN_TOKEN_FILE",
        value_name = "PATH",
        global = true
    )]
    pub token_file: Option<PathBuf>,

    /// Print the API's JSON, one document, for scripts.
    #[arg(long, global = true)]
    pub json: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum Command {
    /// Teams, with their budget and this month's spend.
    #[command(subcommand)]
    Teams(TeamsCommand),
    /// A team's virtual keys: issue, list, revoke.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Budgets of teams, projects and keys.
    #[command(subcommand)]
    Budgets(BudgetsCommand),
    /// Webhook targets for budget alerts, and the alerts sent.
    #[command(subcommand)]
    Alerts(AlertsCommand),
    /// The price table (USD per million tokens).
    #[command(subcommand)]
    Prices(PricesCommand),
    /// Spend and forecast reports.
    #[command(subcommand)]
    Report(ReportCommand),
}

/// A team's id or name given as a path parameter.
pub fn team(value: &str) -> Result<String, String> {
    path_value(value, "a team", "give the team's name or id")
}

/// A key's id given as a path parameter.
pub fn key_id(value: &str) -> Result<String, String> {
    path_value(
        value,
        "a key",
        "give the key's id (key_…), from `trimio keys list TEAM`",
    )
}

/// A budget's id given as a path parameter.
pub fn budget_id(value: &str) -> Result<String, String> {
    path_value(
        value,
        "a budget",
        "give the budget's id (bud_…), from `trimio budgets list`",
    )
}

/// An alert target's id given as a path parameter.
pub fn target_id(value: &str) -> Result<String, String> {
    path_value(
        value,
        "an alert target",
        "give the target's id (tgt_…), from `trimio alerts targets TEAM`",
    )
}

/// A model key given as a path parameter.
pub fn model(value: &str) -> Result<String, String> {
    path_value(
        value,
        "a model",
        "give the model key as `trimio prices list` shows it",
    )
}

/// Refuses, before anything is sent, a value that would change the request's route (see
/// [`is_path_step`]): clap then exits with status 2, as for any value it cannot parse.
fn path_value(value: &str, what: &str, hint: &str) -> Result<String, String> {
    if is_path_step(value) {
        return Err(format!(
            "it cannot name {what}: an empty value, \".\" or \"..\" (also percent-encoded, as \
             %2e) would change the request's path; {hint}"
        ));
    }
    Ok(value.to_owned())
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;
    use crate::alerts::TargetFormat;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("trimio").chain(args.iter().copied()))
    }

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn json_goes_anywhere_and_url_before_the_command() {
        let cli = parse(&["--url", "http://10.0.0.2:8081", "teams", "list", "--json"]).unwrap();
        assert_eq!(cli.url, "http://10.0.0.2:8081");
        assert!(cli.json);
        assert_eq!(cli.command, Command::Teams(TeamsCommand::List));

        let cli = parse(&["--json", "keys", "list", "payments"]).unwrap();
        assert!(cli.json);
        assert_eq!(
            cli.command,
            Command::Keys(KeysCommand::List {
                team: "payments".into()
            })
        );
    }

    #[test]
    fn add_target_reads_url_after_the_command_as_the_webhook() {
        let cli = parse(&[
            "--url",
            "http://127.0.0.1:9000",
            "alerts",
            "add-target",
            "payments",
            "--url",
            "https://hooks.example/x",
            "--format",
            "slack",
            "--name",
            "leads",
        ])
        .unwrap();
        assert_eq!(cli.url, "http://127.0.0.1:9000");
        assert_eq!(
            cli.command,
            Command::Alerts(AlertsCommand::AddTarget {
                team: "payments".into(),
                url: "https://hooks.example/x".into(),
                format: Some(TargetFormat::Slack),
                name: Some("leads".into()),
            })
        );
        assert!(parse(&["alerts", "add-target", "payments"]).is_err());
        assert!(
            parse(&[
                "alerts",
                "add-target",
                "payments",
                "--url",
                "u",
                "--format",
                "xml"
            ])
            .is_err()
        );
    }

    #[test]
    fn parses_every_command() {
        let commands: [&[&str]; 20] = [
            &["teams", "list"],
            &["teams", "create", "payments", "--budget-usd", "500"],
            &["teams", "show", "payments"],
            &["keys", "list", "payments"],
            &[
                "keys",
                "create",
                "payments",
                "--name",
                "ci",
                "--project",
                "checkout",
            ],
            &["keys", "revoke", "key_1"],
            &["budgets", "list", "--team", "payments"],
            &["budgets", "show", "bud_1"],
            &["budgets", "delete", "bud_1"],
            &["budgets", "set", "payments", "--usd", "100"],
            &["alerts", "targets", "payments"],
            &[
                "alerts",
                "add-target",
                "payments",
                "--url",
                "https://h.example/x",
            ],
            &["alerts", "remove-target", "tgt_1"],
            &["alerts", "list", "--team", "payments", "--limit", "10"],
            &["prices", "list"],
            &["prices", "set", "m", "--input", "3", "--output", "15"],
            &["prices", "delete", "m"],
            &[
                "report",
                "spend",
                "--period",
                "2026-11",
                "--group-by",
                "team,model",
            ],
            &[
                "report",
                "spend",
                "--from",
                "2026-11-01",
                "--to",
                "2026-11-08",
                "--csv",
            ],
            &["report", "forecast", "--team", "payments"],
        ];
        for args in commands {
            if let Err(error) = parse(args) {
                panic!("{args:?}: {error}");
            }
        }
        assert!(
            parse(&["keys", "create", "payments"]).is_err(),
            "--name is required"
        );
        assert!(parse(&["teams"]).is_err());
    }

    #[test]
    fn refuses_values_that_would_change_the_path() {
        let commands: [&[&str]; 11] = [
            &["teams", "show", "VALUE"],
            &["keys", "list", "VALUE"],
            &["keys", "create", "VALUE", "--name", "ci"],
            &["keys", "revoke", "VALUE"],
            &["budgets", "show", "VALUE"],
            &["budgets", "delete", "VALUE"],
            &["alerts", "targets", "VALUE"],
            &[
                "alerts",
                "add-target",
                "VALUE",
                "--url",
                "https://h.example/x",
            ],
            &["alerts", "remove-target", "VALUE"],
            &["prices", "set", "VALUE", "--input", "3", "--output", "15"],
            &["prices", "delete", "VALUE"],
        ];
        let with = |args: &[&str], value: &str| -> Vec<String> {
            args.iter()
                .map(|arg| if *arg == "VALUE" { value } else { arg }.to_owned())
                .collect()
        };
        let bad = [
            "", ".", "..", "%2e", ".%2E", "%2E%2e", "%252e", ".\t.", "a/..", "..%2F",
        ];
        for args in commands {
            for value in bad {
                let argv = with(args, value);
                let error = match Cli::try_parse_from(std::iter::once("trimio".into()).chain(argv))
                {
                    Ok(cli) => panic!("{args:?} with {value:?} parsed as {:?}", cli.command),
                    Err(error) => error,
                };
                assert_eq!(error.kind(), clap::error::ErrorKind::ValueValidation);
                assert_eq!(error.exit_code(), 2);
                assert!(error.to_string().contains("it cannot name a"), "{error}");
            }
            for value in [
                "payments",
                "key_1",
                "a.b",
                "...",
                "vertex_ai/claude-3",
                "%2e%2ex",
            ] {
                let argv = with(args, value);
                assert!(
                    Cli::try_parse_from(std::iter::once("trimio".into()).chain(argv)).is_ok(),
                    "{args:?} with {value:?}"
                );
            }
        }

        let error = parse(&["keys", "revoke", ".."]).unwrap_err().to_string();
        assert!(
            error.contains("cannot name a key") && error.contains("trimio keys list TEAM"),
            "{error}"
        );
    }

    #[test]
    fn reads_the_token_file_flag() {
        let cli = parse(&["teams", "list", "--token-file", "/run/secrets/admin"]).unwrap();
        assert_eq!(cli.token_file, Some(PathBuf::from("/run/secrets/admin")));
    }
}
