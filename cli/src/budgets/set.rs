//! `trimio budgets set`: which budget the flags name, and the body that creates or changes
//! it with only the fields given.

use clap::{Args, ValueEnum};
use reqwest::Method;
use serde_json::{Map, Value, json};

use crate::api::Request;
use crate::error::CliError;
use crate::printable::printable;
use crate::view::{items, str_of};

#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct SetArgs {
    /// The team's id or name.
    pub team: String,

    /// Budget one project of the team rather than the whole team.
    #[arg(long, conflicts_with = "key")]
    pub project: Option<String>,

    /// Budget one key of the team rather than the whole team.
    #[arg(long, value_name = "KEY_ID")]
    pub key: Option<String>,

    /// USD per period, as a decimal ("100", "12.50"); needed to create a budget.
    #[arg(long, value_name = "USD")]
    pub usd: Option<String>,

    /// How long a period lasts.
    #[arg(long, value_enum)]
    pub period: Option<PeriodKind>,

    /// IANA time zone in which periods start, such as Europe/Berlin (a new budget uses UTC).
    #[arg(long, value_name = "TZ")]
    pub time_zone: Option<String>,

    /// First day of a period: 1 to 28 of the month, or 1 to 7 of the week (1 is Monday).
    #[arg(long, value_name = "N")]
    pub start_day: Option<u8>,

    /// Never refuse a call for this budget; only send alerts.
    #[arg(long, conflicts_with = "hard")]
    pub warn_only: bool,

    /// Refuse calls once the budget is spent (the default for a new budget).
    #[arg(long)]
    pub hard: bool,

    /// Reserve each call's worst case before it runs: every output token it allows, and its
    /// prompt at the dearest prompt price.
    #[arg(long, conflicts_with = "no_strict")]
    pub strict: bool,

    /// Reserve each call's likely cost instead, guessed from its size and the team's recent
    /// calls.
    #[arg(long)]
    pub no_strict: bool,

    /// With --strict: output tokens reserved for a request that names no cap.
    #[arg(long, value_name = "TOKENS")]
    pub default_max_tokens: Option<u64>,

    /// Percents of the budget at which to alert, comma-separated, such as 50,80,100.
    #[arg(long, value_name = "PERCENTS", value_delimiter = ',')]
    pub thresholds: Option<Vec<u16>>,
}

/// A budget's period, as the API names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PeriodKind {
    Month,
    Week,
    Day,
}

impl PeriodKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PeriodKind::Month => "month",
            PeriodKind::Week => "week",
            PeriodKind::Day => "day",
        }
    }
}

/// What a budget covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    Team,
    Project(String),
    Key(String),
}

impl Scope {
    fn describe(&self, team: &str) -> String {
        match self {
            Scope::Team => format!("team {team}"),
            Scope::Project(project) => format!("project {project} of team {team}"),
            Scope::Key(key) => format!("key {key} of team {team}"),
        }
    }
}

/// What `set` does once it knows the team's budgets.
#[derive(Debug, Clone, PartialEq)]
pub enum Plan {
    Create(Request),
    Update { id: String, request: Request },
}

impl Plan {
    pub fn request(&self) -> &Request {
        match self {
            Plan::Create(request) | Plan::Update { request, .. } => request,
        }
    }
}

impl SetArgs {
    pub fn scope(&self) -> Scope {
        match (&self.project, &self.key) {
            (Some(project), _) => Scope::Project(project.clone()),
            (None, Some(key)) => Scope::Key(key.clone()),
            (None, None) => Scope::Team,
        }
    }

    /// The settings the flags give, and nothing else.
    pub fn fields(&self) -> Map<String, Value> {
        let mut fields = Map::new();
        let mut put = |name: &str, value: Value| {
            fields.insert(name.to_owned(), value);
        };
        if let Some(usd) = &self.usd {
            put("amount_usd", json!(usd));
        }
        if let Some(period) = self.period {
            put("period", json!(period.as_str()));
        }
        if let Some(time_zone) = &self.time_zone {
            put("time_zone", json!(time_zone));
        }
        if let Some(start_day) = self.start_day {
            put("start_day", json!(start_day));
        }
        if self.warn_only {
            put("mode", json!("warn"));
        } else if self.hard {
            put("mode", json!("hard"));
        }
        if self.strict {
            put("strict", json!(true));
        } else if self.no_strict {
            put("strict", json!(false));
        }
        if let Some(tokens) = self.default_max_tokens {
            put("default_max_tokens", json!(tokens));
        }
        if let Some(thresholds) = &self.thresholds {
            put("thresholds", json!(thresholds));
        }
        fields
    }

    /// The body that creates the budget: the scope and the settings given.
    pub fn create_body(&self) -> Value {
        let mut body = Map::new();
        body.insert("team".to_owned(), json!(self.team));
        match self.scope() {
            Scope::Team => {}
            Scope::Project(project) => {
                body.insert("project".to_owned(), json!(project));
            }
            Scope::Key(key) => {
                body.insert("key_id".to_owned(), json!(key));
            }
        }
        body.extend(self.fields());
        Value::Object(body)
    }
}

/// Changes the scope's budget if `existing` (the answer of `GET /v1/admin/budgets?team=`)
/// holds one, else creates it.
pub fn plan(args: &SetArgs, existing: &Value) -> Result<Plan, CliError> {
    let scope = args.scope();
    let found = items(existing, "budgets")
        .iter()
        .find(|budget| of_team(budget, &args.team) && covers(budget, &scope));

    match found {
        Some(budget) => {
            let id = str_of(budget, "id")
                .ok_or_else(|| {
                    CliError::Usage("the control plane listed a budget without an id".into())
                })?
                .to_owned();
            let fields = args.fields();
            if fields.is_empty() {
                return Err(CliError::Usage(format!(
                    "nothing to change in budget {} of {}; give --usd, --period, \
                     --time-zone, --start-day, --warn-only or --hard, --strict or --no-strict, \
                     --default-max-tokens or --thresholds",
                    printable(&id),
                    scope.describe(&args.team)
                )));
            }
            let request =
                Request::admin(Method::PATCH, &["budgets", &id]).body(Value::Object(fields));
            Ok(Plan::Update { id, request })
        }
        None if args.usd.is_none() => Err(CliError::Usage(format!(
            "{} has no budget yet; give --usd to create one",
            scope.describe(&args.team)
        ))),
        None => Ok(Plan::Create(
            Request::admin(Method::POST, &["budgets"]).body(args.create_body()),
        )),
    }
}

/// Whether a listed budget belongs to `team` (an id, or a name in any case). The list is
/// already filtered by team; this keeps a control plane that ignored the filter from having
/// another team's budget changed.
fn of_team(budget: &Value, team: &str) -> bool {
    str_of(budget, "team_id") == Some(team)
        || str_of(budget, "team").is_some_and(|name| name.eq_ignore_ascii_case(team))
}

fn covers(budget: &Value, scope: &Scope) -> bool {
    match scope {
        Scope::Team => str_of(budget, "scope") == Some("team"),
        Scope::Project(project) => {
            str_of(budget, "scope") == Some("project")
                && str_of(budget, "project") == Some(project.as_str())
        }
        Scope::Key(key) => {
            str_of(budget, "scope") == Some("key") && str_of(budget, "key_id") == Some(key.as_str())
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::args::{Cli, Command};
    use crate::budgets::BudgetsCommand;

    fn parse(args: &[&str]) -> SetArgs {
        let argv = ["trimio", "budgets", "set"].iter().chain(args);
        match Cli::try_parse_from(argv).map(|cli| cli.command) {
            Ok(Command::Budgets(BudgetsCommand::Set(args))) => args,
            other => panic!("{args:?} parsed as {other:?}"),
        }
    }

    fn budgets() -> Value {
        json!({"budgets": [
            {"id": "bud_team", "team_id": "team_1", "team": "payments", "scope": "team",
             "project": null, "key_id": null},
            {"id": "bud_proj", "team_id": "team_1", "team": "payments", "scope": "project",
             "project": "checkout", "key_id": null},
            {"id": "bud_key", "team_id": "team_1", "team": "payments", "scope": "key",
             "project": null, "key_id": "key_7"}]})
    }

    #[test]
    fn sends_only_the_fields_given() {
        let args = parse(&["payments", "--usd", "100"]);
        assert_eq!(Value::Object(args.fields()), json!({"amount_usd": "100"}));

        let args = parse(&[
            "payments",
            "--usd",
            "12.50",
            "--period",
            "week",
            "--time-zone",
            "Europe/Berlin",
            "--start-day",
            "3",
            "--warn-only",
            "--no-strict",
            "--default-max-tokens",
            "32000",
            "--thresholds",
            "50,80,100",
        ]);
        assert_eq!(
            Value::Object(args.fields()),
            json!({"amount_usd": "12.50", "period": "week", "time_zone": "Europe/Berlin",
                "start_day": 3, "mode": "warn", "strict": false, "default_max_tokens": 32000,
                "thresholds": [50, 80, 100]})
        );

        let args = parse(&["payments", "--hard", "--strict"]);
        assert_eq!(
            Value::Object(args.fields()),
            json!({"mode": "hard", "strict": true})
        );
    }

    #[test]
    fn refuses_contradicting_flags() {
        for args in [
            &["payments", "--usd", "1", "--project", "p", "--key", "key_1"][..],
            &["payments", "--warn-only", "--hard"],
            &["payments", "--strict", "--no-strict"],
            &["payments", "--period", "year"],
            &["payments", "--thresholds", "50,x"],
        ] {
            let argv = ["trimio", "budgets", "set"].iter().chain(args);
            assert!(Cli::try_parse_from(argv).is_err(), "{args:?}");
        }
    }

    #[test]
    fn creates_with_the_scope_when_there_is_none() {
        let none = json!({"budgets": []});

        let plan = plan(&parse(&["payments", "--usd", "100"]), &none).unwrap();
        let Plan::Create(request) = plan else {
            panic!("{plan:?}")
        };
        assert_eq!(
            (request.method.clone(), request.path_text()),
            (Method::POST, "/v1/admin/budgets".to_owned())
        );
        assert_eq!(
            request.body,
            Some(json!({"team": "payments", "amount_usd": "100"}))
        );

        let args = parse(&["payments", "--project", "search", "--usd", "40"]);
        assert_eq!(
            plan_body(&args, &budgets()),
            json!({"team": "payments", "project": "search", "amount_usd": "40"})
        );
        let args = parse(&[
            "payments", "--key", "key_8", "--usd", "5", "--period", "day",
        ]);
        assert_eq!(
            plan_body(&args, &budgets()),
            json!({"team": "payments", "key_id": "key_8", "amount_usd": "5", "period": "day"})
        );
    }

    fn plan_body(args: &SetArgs, existing: &Value) -> Value {
        plan(args, existing)
            .unwrap()
            .request()
            .body
            .clone()
            .unwrap()
    }

    #[test]
    fn patches_the_budget_of_the_same_scope() {
        let cases = [
            (&["payments", "--usd", "150"][..], "bud_team"),
            (&["PAYMENTS", "--usd", "150"], "bud_team"),
            (&["team_1", "--usd", "150"], "bud_team"),
            (
                &["payments", "--project", "checkout", "--usd", "150"],
                "bud_proj",
            ),
            (&["payments", "--key", "key_7", "--usd", "150"], "bud_key"),
        ];
        for (args, expected) in cases {
            match plan(&parse(args), &budgets()).unwrap() {
                Plan::Update { id, request } => {
                    assert_eq!(id, expected, "{args:?}");
                    assert_eq!(request.method, Method::PATCH);
                    assert_eq!(request.path_text(), format!("/v1/admin/budgets/{expected}"));
                    assert_eq!(request.body, Some(json!({"amount_usd": "150"})));
                }
                other => panic!("{args:?}: {other:?}"),
            }
        }

        let args = parse(&["payments", "--thresholds", "90"]);
        assert_eq!(plan_body(&args, &budgets()), json!({"thresholds": [90]}));
    }

    #[test]
    fn says_what_is_missing() {
        let error = plan(&parse(&["payments"]), &budgets()).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("nothing to change in budget bud_team"),
            "{error}"
        );

        let error = plan(
            &parse(&["payments", "--project", "x", "--warn-only"]),
            &budgets(),
        )
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "project x of team payments has no budget yet; give --usd to create one"
        );
    }

    #[test]
    fn never_changes_another_teams_budget() {
        let args = parse(&["ml", "--usd", "10"]);
        let plan = plan(&args, &budgets()).unwrap();
        assert!(matches!(plan, Plan::Create(_)), "{plan:?}");
    }
}
