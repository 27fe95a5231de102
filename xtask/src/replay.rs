//! `cargo xtask replay`: sends exchange files through a fresh, isolated stack and prints one
//! JSON line per call, with usage, model and cost read back from the control plane's ledger.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{Value, json};
use trimio_e2e::client::{self, Outcome};
use trimio_e2e::stack::{Stack, StackOptions};
use trimio_mock_provider::exchange::{self, Exchange};

use crate::Parts;

#[derive(clap::Args)]
pub struct Args {
    /// The team's monthly budget in USD (none: unlimited).
    #[arg(long)]
    budget_usd: Option<String>,
    /// Put the team's budget in strict mode: every call reserves its worst case.
    #[arg(long, requires = "budget_usd")]
    strict: bool,
    /// Calls in flight at once.
    #[arg(long, default_value_t = 1)]
    concurrency: usize,
    /// Times each request is sent.
    #[arg(long, default_value_t = 1)]
    repeat: usize,
    /// Exchange files, or folders of them.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
}

pub async fn run(_parts: Parts, args: Args) -> Result<(), String> {
    let exchanges = exchange::load_all(&args.paths).map_err(|e| e.to_string())?;
    if exchanges.is_empty() {
        return Err("no *.exchange.json files in the given paths".to_owned());
    }
    let stack = Stack::start(exchanges.clone(), StackOptions::default()).await?;
    let result = replay(&stack, &exchanges, &args).await;
    stack.stop().await;
    result
}

async fn replay(stack: &Stack, exchanges: &[Exchange], args: &Args) -> Result<(), String> {
    let (team_id, key) = stack
        .team_with_key("replay", args.budget_usd.as_deref())
        .await?;
    if args.strict {
        let admin = &stack.control_plane.admin;
        let (_, budgets) = admin
            .send(reqwest::Method::GET, "/v1/admin/budgets?team=replay", None)
            .await?;
        let id = budgets["budgets"][0]["id"]
            .as_str()
            .ok_or_else(|| format!("the team has no budget: {budgets}"))?;
        let (status, answer) = admin
            .send(
                reqwest::Method::PATCH,
                &format!("/v1/admin/budgets/{id}"),
                Some(json!({"strict": true})),
            )
            .await?;
        if status != 200 {
            return Err(format!("cannot make the budget strict: {status} {answer}"));
        }
    }
    stack.load_prices(exchanges).await?;

    let jobs: Vec<&Exchange> = exchanges
        .iter()
        .flat_map(|e| std::iter::repeat_n(e, args.repeat.max(1)))
        .collect();
    let key = Arc::new(key);
    let mut lines = futures_util::stream::iter(jobs)
        .map(|exchange| {
            let key = Arc::clone(&key);
            async move { (exchange, stack.send(exchange, Some(&key)).await) }
        })
        .buffer_unordered(args.concurrency.max(1));

    let (mut calls, mut allowed, mut denied) = (0u64, 0u64, 0u64);
    while let Some((exchange, outcome)) = lines.next().await {
        calls += 1;
        let line = match outcome {
            Ok(outcome) => {
                let line = describe(stack, exchange, &outcome).await;
                if line["denied"] == json!(true) {
                    denied += 1;
                } else if line.get("error").is_none() {
                    allowed += 1;
                }
                line
            }
            Err(err) => json!({"file": exchange.path, "error": err}),
        };
        println!("{line}");
    }

    let report = stack.control_plane.admin.report("group_by=team").await?;
    let spend = report["rows"]
        .as_array()
        .and_then(|rows| {
            rows.iter()
                .find(|r| r["team"] == json!("replay") || r["team_id"] == json!(team_id))
        })
        .map(|row| row["cost_usd"].clone())
        .unwrap_or(json!("0"));
    let spend_percent = args
        .budget_usd
        .as_deref()
        .and_then(|budget| percent_of(spend.as_str().unwrap_or("0"), budget));
    let summary = json!({"summary": {
        "calls": calls, "allowed": allowed, "denied": denied,
        "spend_usd": spend, "budget_usd": args.budget_usd,
        "spend_percent": spend_percent, "strict": args.strict,
        "estimates": report["estimates"],
    }});
    println!("{summary}");
    Ok(())
}

/// The line for one call: what the client saw, and what the ledger says it cost.
async fn describe(stack: &Stack, exchange: &Exchange, outcome: &Outcome) -> Value {
    let passthrough = client::passthrough(exchange, outcome);
    let Some(request_id) = outcome.request_id() else {
        let denied = outcome.header("x-trimio-denied").is_some();
        let mut line = json!({
            "file": exchange.path, "status": outcome.status, "denied": denied,
            "model": null, "usage": null, "cost_usd": "0", "estimated": false,
            "passthrough": false,
        });
        if denied {
            line["reply"] = outcome.json();
        } else {
            line["error"] = json!("the gateway answered without a request id");
        }
        return line;
    };
    let record = match stack
        .control_plane
        .admin
        .wait_for_call(request_id, Duration::from_secs(30))
        .await
    {
        Ok(record) => record,
        Err(err) => return json!({"file": exchange.path, "request_id": request_id, "error": err}),
    };
    let mut line = json!({
        "file": exchange.path,
        "status": outcome.status,
        "denied": false,
        "model": record["model"],
        "usage": record["usage"],
        "cost_usd": record["cost_usd"],
        "estimated": record["estimated"],
        "passthrough": passthrough.is_ok(),
        "request_id": request_id,
    });
    if let Err(why) = passthrough {
        line["passthrough_error"] = json!(why);
    }
    if let Some(expect) = &exchange.expect {
        line["matches_expect"] = json!(trimio_e2e::expect::check(expect, &record).is_ok());
    }
    line
}

/// `spend / budget` in percent with two decimals, from decimal USD strings; integer math.
fn percent_of(spend: &str, budget: &str) -> Option<String> {
    let (spend, budget) = (micro_usd(spend)?, micro_usd(budget)?);
    if budget == 0 {
        return None;
    }
    let hundredths = spend * 10_000 / budget;
    Some(format!("{}.{:02}", hundredths / 100, hundredths % 100))
}

/// A decimal USD string in millionths of a dollar (digits past the sixth dropped).
fn micro_usd(text: &str) -> Option<i128> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let mut digits: String = fraction.chars().take(6).collect();
    while digits.len() < 6 {
        digits.push('0');
    }
    Some(whole.parse::<i128>().ok()? * 1_000_000 + digits.parse::<i128>().ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percents_from_decimal_strings() {
        assert_eq!(percent_of("0.991926", "1").as_deref(), Some("99.19"));
        assert_eq!(percent_of("1.02", "1.00").as_deref(), Some("102.00"));
        assert_eq!(percent_of("0", "0"), None);
        assert_eq!(percent_of("x", "1"), None);
    }
}
