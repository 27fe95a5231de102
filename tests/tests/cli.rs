//! The `trimio` command line end to end: the real binary, run as a person or a script would
//! run it, against the real control-plane process on loopback.
//!
//! `trimio` is built with `cargo build -p trimio-cli` into the target folder that holds the
//! control-plane binary the harness runs (`TRIMIO_CONTROL_PLANE_BIN`), so it is never stale;
//! `TRIMIO_CLI_BIN` names a prebuilt one instead.
//!
//! Spend comes from usage records delivered to `/v1/filter/usage` as the filter delivers
//! them, keyed by the SHA-256 of a key issued through `trimio`.

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::process::Command;
use trimio_e2e::control_plane::ControlPlane;
use trimio_e2e::paths;
use trimio_e2e::stack::random_token;
use trimio_e2e::usage;
use trimio_wire::Usage;

/// A model no shipped price names, priced through `trimio prices set`.
const MODEL: &str = "cli-test-model";

/// Variables of the caller's environment that would change what `trimio` does.
const CLEARED_ENV: [&str; 9] = [
    "TRIMIO_URL",
    "TRIMIO_ADMIN_TOKEN",
    "TRIMIO_ADMIN_TOKEN_FILE",
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "ALL_PROXY",
    "all_proxy",
];

/// The `trimio` binary, built once per test run.
fn trimio_bin() -> PathBuf {
    static BIN: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let built = BIN.get_or_init(|| {
        if let Some(bin) = std::env::var_os("TRIMIO_CLI_BIN") {
            return Ok(PathBuf::from(bin));
        }
        let control_plane = paths::control_plane_bin();
        let profile_dir = control_plane
            .parent()
            .ok_or("the control-plane binary has no folder")?;
        let target_dir = profile_dir
            .parent()
            .ok_or("the control-plane binary is not in a target folder")?;

        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut build = std::process::Command::new(cargo);
        build
            .args(["build", "-p", "trimio-cli", "--target-dir"])
            .arg(target_dir)
            .current_dir(paths::root());
        if profile_dir
            .file_name()
            .is_some_and(|name| name == "release")
        {
            build.arg("--release");
        }
        let status = build
            .status()
            .map_err(|e| format!("cannot run cargo: {e}"))?;
        if !status.success() {
            return Err(format!("cargo build -p trimio-cli failed: {status}"));
        }
        Ok(profile_dir.join("trimio"))
    });
    match built {
        Ok(bin) => bin.clone(),
        Err(error) => panic!("{error}"),
    }
}

/// `trimio` aimed at one control plane, with the admin token in a file.
struct Trimio {
    bin: PathBuf,
    url: String,
    token: String,
    token_file: PathBuf,
}

impl Trimio {
    fn new(control_plane: &ControlPlane, dir: &Path, token: &str) -> Trimio {
        let token_file = dir.join("admin-token");
        std::fs::write(&token_file, format!("{token}\n")).unwrap();
        Trimio {
            bin: trimio_bin(),
            url: control_plane.admin.base().to_owned(),
            token: token.to_owned(),
            token_file,
        }
    }

    /// `trimio` with a clean environment: no URL, no token, no proxy.
    fn bare(&self) -> Command {
        let mut command = Command::new(&self.bin);
        for name in CLEARED_ENV {
            command.env_remove(name);
        }
        command.stdin(Stdio::null());
        command
    }

    /// `trimio --url URL ARGS` with the token file in TRIMIO_ADMIN_TOKEN_FILE.
    fn command(&self, args: &[&str]) -> Command {
        let mut command = self.bare();
        command
            .arg("--url")
            .arg(&self.url)
            .args(args)
            .env("TRIMIO_ADMIN_TOKEN_FILE", &self.token_file);
        command
    }

    /// Runs it and checks that the admin token is nowhere in what it printed.
    async fn output(&self, mut command: Command) -> Output {
        let output = command.output().await.expect("trimio runs");
        for stream in [&output.stdout, &output.stderr] {
            let printed = String::from_utf8_lossy(stream);
            assert!(
                !printed.contains(&self.token),
                "trimio printed the admin token:\n{printed}"
            );
        }
        output
    }

    /// Its stdout; it must succeed.
    async fn ok(&self, args: &[&str]) -> String {
        let output = self.output(self.command(args)).await;
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(
            output.status.success(),
            "trimio {args:?} failed ({}):\n{}{stdout}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        stdout
    }

    /// Its stdout with `--json`, which must be one JSON document.
    async fn json(&self, args: &[&str]) -> Value {
        let args: Vec<&str> = args.iter().copied().chain(["--json"]).collect();
        let stdout = self.ok(&args).await;
        match serde_json::from_str(&stdout) {
            Ok(value) => value,
            Err(error) => {
                panic!("trimio {args:?} --json printed no single document ({error}):\n{stdout}")
            }
        }
    }

    /// Its stderr; it must fail.
    async fn fails(&self, args: &[&str]) -> String {
        failed(self.output(self.command(args)).await, args)
    }
}

fn failed(output: Output, args: &[&str]) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        !output.status.success(),
        "trimio {args:?} should have failed; it printed:\n{}",
        String::from_utf8_lossy(&output.stdout)
    );
    assert!(stderr.starts_with("error: "), "{stderr}");
    stderr
}

/// A control plane on a fresh database, and `trimio` aimed at it.
async fn start(dir: &Path) -> (ControlPlane, Trimio) {
    let token = random_token();
    let control_plane = match ControlPlane::start(dir, &token, &random_token()).await {
        Ok(control_plane) => control_plane,
        Err(error) => panic!("control plane did not start: {error}"),
    };
    let trimio = Trimio::new(&control_plane, dir, &token);
    (control_plane, trimio)
}

/// Every line of a table as its cells: text between runs of two or more spaces.
fn rows(table: &str) -> Vec<Vec<&str>> {
    table
        .lines()
        .map(|line| {
            line.split("  ")
                .map(str::trim)
                .filter(|cell| !cell.is_empty())
                .collect()
        })
        .collect()
}

/// The first row of a table whose first cell is `first`.
fn row<'a>(table: &'a str, first: &str) -> Vec<&'a str> {
    rows(table)
        .into_iter()
        .find(|cells| cells.first() == Some(&first))
        .unwrap_or_else(|| panic!("no row {first:?} in\n{table}"))
}

/// Delivers one call made with `key` to the control plane as the filter would.
async fn deliver_call(control_plane: &ControlPlane, key: &str, input: u64, output: u64) {
    let usage = Usage {
        input,
        output,
        ..Usage::default()
    };
    let id = format!("cli-{}", random_token());
    let mut record = usage::record(&id, &usage::key_hash(key), MODEL, usage);
    record.duration_ms = 120;
    let ack = control_plane.deliver_usage(vec![record]).await.unwrap();
    assert_eq!(ack["accepted"], 1, "usage delivery: {ack}");
}

/// Teams, keys, prices and the spend report, through the routes every control plane has.
#[tokio::test]
async fn manages_teams_keys_prices_and_reads_spend() {
    let dir = tempfile::tempdir().unwrap();
    let (control_plane, trimio) = start(dir.path()).await;

    // Teams.
    let created = trimio
        .ok(&["teams", "create", "payments", "--budget-usd", "500"])
        .await;
    assert!(
        created.starts_with("created team payments (team_"),
        "{created}"
    );
    assert!(
        created.contains("a budget of 500 USD per month"),
        "{created}"
    );

    let ml = trimio.json(&["teams", "create", "ml"]).await;
    assert_eq!(
        (&ml["name"], &ml["budget_usd"]),
        (&json!("ml"), &Value::Null)
    );

    let taken = trimio.fails(&["teams", "create", "PAYMENTS"]).await;
    assert!(
        taken.contains("team \"payments\" already exists"),
        "{taken}"
    );
    assert!(taken.contains("(http 409)"), "{taken}");

    let table = trimio.ok(&["teams", "list"]).await;
    assert!(table.starts_with("NAME "), "{table}");
    let payments = row(&table, "payments");
    assert_eq!(&payments[2..4], ["500", "0"], "{table}");
    assert_eq!(row(&table, "ml")[2], "-", "{table}");
    let listed = trimio.json(&["teams", "list"]).await;
    let names: Vec<&str> = listed["teams"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|team| team["name"].as_str())
        .collect();
    assert_eq!(names.len(), 2);
    assert!(
        names.contains(&"payments") && names.contains(&"ml"),
        "{listed}"
    );

    let shown = trimio.ok(&["teams", "show", "payments"]).await;
    assert!(shown.contains("budget   500 USD per "), "{shown}");
    let missing = trimio.fails(&["teams", "show", "nope"]).await;
    assert!(missing.contains("no team \"nope\""), "{missing}");
    assert!(missing.contains("(http 404)"), "{missing}");

    // Keys: shown once, never listed.
    let issued = trimio
        .ok(&[
            "keys",
            "create",
            "payments",
            "--name",
            "ci",
            "--project",
            "checkout",
        ])
        .await;
    let ci_key = issued
        .lines()
        .map(str::trim)
        .find(|line| line.starts_with("tmk_"))
        .unwrap_or_else(|| panic!("no key in\n{issued}"))
        .to_owned();
    assert_eq!(issued.matches(&ci_key).count(), 1, "{issued}");
    assert!(issued.contains("will not be shown again"), "{issued}");
    assert!(
        issued.contains("for team payments, project checkout"),
        "{issued}"
    );

    let laptop_args = ["keys", "create", "payments", "--name", "laptop", "--json"];
    let laptop = trimio.output(trimio.command(&laptop_args)).await;
    assert!(laptop.status.success());
    let laptop_json: Value = serde_json::from_slice(&laptop.stdout).unwrap();
    let laptop_key = laptop_json["key"].as_str().unwrap().to_owned();
    let laptop_id = laptop_json["id"].as_str().unwrap().to_owned();
    assert!(laptop_key.starts_with("tmk_"));
    assert!(String::from_utf8_lossy(&laptop.stderr).contains("will not be shown again"));

    trimio.ok(&["keys", "revoke", &laptop_id]).await;
    let keys = trimio.ok(&["keys", "list", "payments"]).await;
    let laptop_row = row(&keys, &laptop_id);
    assert_eq!(laptop_row[2..4], ["laptop", "-"], "{keys}");
    assert!(laptop_row[5].starts_with("revoked "), "{keys}");
    let ci_row = rows(&keys)
        .into_iter()
        .find(|cells| cells.get(2) == Some(&"ci"))
        .unwrap_or_else(|| panic!("no ci key in\n{keys}"));
    assert_eq!((ci_row[3], ci_row[5]), ("checkout", "active"), "{keys}");
    let keys_json = trimio.json(&["keys", "list", "payments"]).await;
    assert_eq!(keys_json["keys"].as_array().unwrap().len(), 2);
    for listing in [keys.as_str(), &keys_json.to_string()] {
        assert!(!listing.contains(&ci_key) && !listing.contains(&laptop_key));
    }
    let unknown = trimio.fails(&["keys", "revoke", "key_nope"]).await;
    assert!(unknown.contains("no key \"key_nope\""), "{unknown}");

    // Prices.
    let set = trimio
        .ok(&[
            "prices",
            "set",
            MODEL,
            "--input",
            "3",
            "--output",
            "15",
            "--cache-read",
            "0.30",
        ])
        .await;
    assert!(
        set.contains("input 3, output 15 USD per million tokens"),
        "{set}"
    );
    let prices = trimio.ok(&["prices", "list"]).await;
    let price = row(&prices, MODEL);
    assert_eq!(&price[1..4], ["3", "15", "0.30"], "{prices}");
    assert!(price.contains(&"custom"), "{prices}");
    let prices_json = trimio.json(&["prices", "list"]).await;
    let entry = prices_json["prices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|entry| entry["model"] == MODEL)
        .unwrap();
    assert_eq!(entry["origin"], "custom");
    let bad = trimio
        .fails(&["prices", "set", MODEL, "--input", "1,5", "--output", "15"])
        .await;
    assert!(
        bad.contains("is not a plain decimal number") && bad.contains("(http 400)"),
        "{bad}"
    );

    // One call with the ci key: 1M input at 3 + 100k output at 15 per million is 4.5 USD.
    deliver_call(&control_plane, &ci_key, 1_000_000, 100_000).await;

    let spend = trimio
        .ok(&["report", "spend", "--group-by", "team,project,model"])
        .await;
    assert!(spend.starts_with("spend from "), "{spend}");
    let call = row(&spend, "payments");
    assert_eq!(call[..4], ["payments", "checkout", MODEL, "1"], "{spend}");
    assert_eq!(call.last(), Some(&"4.5"), "{spend}");
    assert_eq!(row(&spend, "TOTAL").last(), Some(&"4.5"), "{spend}");
    let spend_json = trimio
        .json(&["report", "spend", "--group-by", "team"])
        .await;
    assert_eq!(spend_json["total"]["cost_usd"], "4.5", "{spend_json}");
    assert_eq!(spend_json["rows"][0]["team"], "payments", "{spend_json}");
    let csv = trimio
        .ok(&["report", "spend", "--group-by", "team,model", "--csv"])
        .await;
    assert!(csv.starts_with("team_id,team,model,calls,"), "{csv}");
    assert!(csv.contains(&format!(",payments,{MODEL},1,")), "{csv}");
    let month = trimio.json(&["teams", "show", "payments"]).await;
    assert_eq!(month["spend_usd"], "4.5");

    let deleted = trimio.ok(&["prices", "delete", MODEL]).await;
    assert!(deleted.contains("recorded unpriced"), "{deleted}");
    let again = trimio.fails(&["prices", "delete", MODEL]).await;
    assert!(again.contains("(http 404)"), "{again}");
}

/// What goes wrong says what to do, and never shows the token.
#[tokio::test]
async fn failures_say_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let (_control_plane, trimio) = start(dir.path()).await;

    // The token from the environment, and the URL from TRIMIO_URL.
    let mut command = trimio.bare();
    command
        .args(["teams", "list"])
        .env("TRIMIO_URL", &trimio.url)
        .env("TRIMIO_ADMIN_TOKEN", &trimio.token);
    let output = trimio.output(command).await;
    assert!(output.status.success(), "{output:?}");
    assert!(String::from_utf8_lossy(&output.stdout).contains("no teams yet"));

    // A wrong token.
    let wrong = dir.path().join("wrong-token");
    std::fs::write(&wrong, "not-the-admin-token").unwrap();
    let mut command = trimio.bare();
    command
        .arg("--url")
        .arg(&trimio.url)
        .args(["teams", "list", "--token-file"])
        .arg(&wrong);
    let stderr = failed(trimio.output(command).await, &["--token-file", "wrong"]);
    assert!(stderr.contains("refused the admin token"), "{stderr}");
    assert!(
        stderr.contains("--token-file") && stderr.contains("TRIMIO_ADMIN_TOKEN"),
        "{stderr}"
    );
    assert!(!stderr.contains("not-the-admin-token"), "{stderr}");

    // No token at all.
    let mut command = trimio.bare();
    command
        .arg("--url")
        .arg(&trimio.url)
        .args(["teams", "list"]);
    let stderr = failed(trimio.output(command).await, &["no token"]);
    assert!(stderr.contains("no admin token"), "{stderr}");

    // Nothing listening.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port())
    };
    let mut command = trimio.bare();
    command
        .arg("--url")
        .arg(&closed)
        .args(["teams", "list"])
        .env("TRIMIO_ADMIN_TOKEN_FILE", &trimio.token_file);
    let stderr = failed(trimio.output(command).await, &["closed port"]);
    assert!(
        stderr.contains(&format!("cannot reach the control plane at {closed}")),
        "{stderr}"
    );
    assert!(stderr.contains("--url or TRIMIO_URL"), "{stderr}");

    // Flags clap refuses exit non-zero too.
    let output = trimio
        .output(trimio.command(&[
            "report",
            "spend",
            "--period",
            "2026-11",
            "--from",
            "2026-11-01",
        ]))
        .await;
    assert!(!output.status.success());
}

/// Budgets, alert targets, the alert history and the forecast report.
#[tokio::test]
async fn manages_budgets_alerts_and_forecasts() {
    let dir = tempfile::tempdir().unwrap();
    let (control_plane, trimio) = start(dir.path()).await;

    trimio.ok(&["teams", "create", "search"]).await;
    let key = trimio
        .json(&[
            "keys",
            "create",
            "search",
            "--name",
            "ranker",
            "--project",
            "ranking",
        ])
        .await;
    let key = key["key"].as_str().unwrap().to_owned();
    trimio
        .ok(&["prices", "set", MODEL, "--input", "3", "--output", "15"])
        .await;

    // A team budget, created; then a project budget, created and then changed.
    let created = trimio
        .ok(&["budgets", "set", "search", "--usd", "100"])
        .await;
    assert!(created.starts_with("created budget bud_"), "{created}");
    assert!(created.contains("100 USD per month"), "{created}");

    let project = trimio
        .json(&[
            "budgets",
            "set",
            "search",
            "--project",
            "ranking",
            "--usd",
            "40",
            "--period",
            "week",
            "--warn-only",
            "--thresholds",
            "50,90",
        ])
        .await;
    let project_id = project["id"].as_str().unwrap().to_owned();
    assert_eq!(project["scope"], "project");
    assert_eq!(project["project"], "ranking");
    assert_eq!(project["amount_usd"], "40");
    assert_eq!(project["period"], "week");
    assert_eq!(project["mode"], "warn");
    assert_eq!(project["thresholds"], json!([50, 90]));

    let changed = trimio
        .json(&[
            "budgets",
            "set",
            "search",
            "--project",
            "ranking",
            "--usd",
            "45",
        ])
        .await;
    assert_eq!(
        changed["id"],
        project_id.as_str(),
        "the same budget is changed"
    );
    assert_eq!(changed["amount_usd"], "45");
    assert_eq!(changed["period"], "week", "only --usd was sent");
    assert_eq!(changed["mode"], "warn", "only --usd was sent");
    assert_eq!(
        changed["thresholds"],
        json!([50, 90]),
        "only --usd was sent"
    );

    let none = trimio
        .fails(&["budgets", "set", "search", "--project", "other", "--hard"])
        .await;
    assert!(none.contains("has no budget yet; give --usd"), "{none}");

    let budgets = trimio.ok(&["budgets", "list", "--team", "search"]).await;
    let team_row = row(&budgets, created.split_whitespace().nth(2).unwrap());
    assert_eq!(team_row[1..4], ["search", "team", "100"], "{budgets}");
    let project_row = row(&budgets, &project_id);
    assert_eq!(
        project_row[1..6],
        ["search", "project ranking", "45", "week", "warn"],
        "{budgets}"
    );
    let listed = trimio.json(&["budgets", "list", "--team", "search"]).await;
    assert_eq!(listed["budgets"].as_array().unwrap().len(), 2, "{listed}");

    let shown = trimio.ok(&["budgets", "show", &project_id]).await;
    assert!(shown.contains("amount        45 USD per week\n"), "{shown}");
    assert!(shown.contains("alerts at     50%, 90%\n"), "{shown}");

    // Alert targets: the webhook's path is a secret and is never shown back.
    let leads = trimio
        .ok(&[
            "alerts",
            "add-target",
            "search",
            "--url",
            "http://127.0.0.1:9/hooks/T000/B000/secret-part",
            "--format",
            "slack",
            "--name",
            "leads",
        ])
        .await;
    assert!(
        leads.contains("\"leads\" (slack) for team search"),
        "{leads}"
    );
    assert!(!leads.contains("secret-part"), "{leads}");
    let plain = trimio
        .json(&[
            "alerts",
            "add-target",
            "search",
            "--url",
            "http://127.0.0.1:9/plain",
        ])
        .await;
    assert_eq!(
        (&plain["format"], &plain["name"]),
        (&json!("json"), &json!("default"))
    );
    let plain_id = plain["id"].as_str().unwrap().to_owned();

    let targets = trimio.ok(&["alerts", "targets", "search"]).await;
    assert!(!targets.contains("secret-part"), "{targets}");
    let leads_id = targets
        .lines()
        .find(|line| line.contains(" leads "))
        .and_then(|line| line.split_whitespace().next())
        .unwrap_or_else(|| panic!("no leads target in\n{targets}"))
        .to_owned();
    assert_eq!(
        row(&targets, &leads_id)[1..3],
        ["leads", "slack"],
        "{targets}"
    );
    assert_eq!(
        row(&targets, &plain_id)[1..3],
        ["default", "json"],
        "{targets}"
    );

    trimio.ok(&["alerts", "remove-target", &plain_id]).await;
    let remaining = trimio.json(&["alerts", "targets", "search"]).await;
    assert_eq!(
        remaining["targets"].as_array().unwrap().len(),
        1,
        "{remaining}"
    );

    // 30 USD on the ranking project: over half its 45 USD budget, 30% of the team's.
    deliver_call(&control_plane, &key, 5_000_000, 1_000_000).await;

    let forecast = trimio.ok(&["report", "forecast", "--team", "search"]).await;
    assert!(forecast.starts_with("forecast as of "), "{forecast}");
    let team_forecast = rows(&forecast)
        .into_iter()
        .find(|cells| cells.first() == Some(&"search") && cells.get(1) == Some(&"-"))
        .unwrap_or_else(|| panic!("no team row in\n{forecast}"));
    assert_eq!(team_forecast[2..4], ["100", "30"], "{forecast}");
    let forecast_json = trimio
        .json(&["report", "forecast", "--team", "search"])
        .await;
    let rows = forecast_json["rows"].as_array().unwrap();
    let team = rows
        .iter()
        .find(|row| row["team"] == "search" && row["project"].is_null())
        .unwrap_or_else(|| panic!("no team row in {forecast_json}"));
    assert_eq!(
        (&team["amount_usd"], &team["spend_usd"]),
        (&json!("100"), &json!("30"))
    );
    let ranking = rows
        .iter()
        .find(|row| row["project"] == "ranking")
        .unwrap_or_else(|| panic!("no project row in {forecast_json}"));
    assert_eq!(ranking["amount_usd"], "45");

    // The 50% threshold of the project budget was crossed: an alert, to the one target. (A
    // forecast alert may come with it; the history holds both.)
    let alert = wait_for_alert(&trimio, "search", Duration::from_secs(30), |alert| {
        alert["kind"] == "threshold" && alert["threshold_percent"] == 50
    })
    .await;
    assert_eq!(alert["budget_id"], project_id.as_str(), "{alert}");
    let deliveries = alert["deliveries"].as_array().unwrap();
    assert_eq!(deliveries.len(), 1, "{alert}");
    assert_eq!(deliveries[0]["target_id"], leads_id.as_str(), "{alert}");
    let state = deliveries[0]["state"].as_str().unwrap();
    assert!(["pending", "sent", "failed"].contains(&state), "{alert}");
    let history = trimio
        .ok(&["alerts", "list", "--team", "search", "--limit", "10"])
        .await;
    let alert_row = row(&history, alert["id"].as_str().unwrap());
    assert!(alert_row.contains(&"50% reached"), "{history}");
    assert!(alert_row.contains(&"project ranking"), "{history}");

    let spend = trimio.ok(&["report", "spend"]).await;
    assert_eq!(row(&spend, "search").last(), Some(&"30"), "{spend}");

    // Deleting.
    let deleted = trimio.json(&["budgets", "delete", &project_id]).await;
    assert_eq!(deleted["deleted"], true);
    let gone = trimio.fails(&["budgets", "show", &project_id]).await;
    assert!(gone.contains("(http 404)"), "{gone}");
}

/// The newest alert of `team` that `wanted` picks, once there is one.
async fn wait_for_alert(
    trimio: &Trimio,
    team: &str,
    limit: Duration,
    wanted: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let history = trimio.json(&["alerts", "list", "--team", team]).await;
        let alerts = history["alerts"].as_array().cloned().unwrap_or_default();
        if let Some(alert) = alerts.into_iter().find(&wanted) {
            return alert;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no such alert for team {team} after {limit:?}: {history}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
