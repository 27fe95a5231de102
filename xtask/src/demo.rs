//! `cargo xtask demo`: three teams of simulated agent traffic through the real stack against
//! the mock provider, then the spend report.

use futures_util::StreamExt;
use serde_json::Value;
use trimio_e2e::paths;
use trimio_e2e::stack::{Stack, StackOptions};
use trimio_mock_provider::exchange::{self, Exchange};

use crate::Parts;

/// A team, its monthly budget, the exchanges its tools produce, and its agent loops.
struct Team {
    name: &'static str,
    budget_usd: &'static str,
    exchanges: &'static [&'static str],
    loops: usize,
    calls_per_loop: usize,
}

const TEAMS: [Team; 3] = [
    Team {
        name: "payments",
        budget_usd: "50",
        exchanges: &[
            "anthropic-claude-code-stream",
            "anthropic-agent-loop",
            "anthropic-json",
        ],
        loops: 4,
        calls_per_loop: 15,
    },
    Team {
        name: "search",
        budget_usd: "20",
        exchanges: &["openai-responses-stream"],
        loops: 3,
        calls_per_loop: 12,
    },
    Team {
        name: "mobile",
        budget_usd: "0.05",
        exchanges: &[
            "openai-chat-stream-usage",
            "openai-chat-stream-no-usage-requested",
        ],
        loops: 3,
        calls_per_loop: 10,
    },
];

pub async fn run(_parts: Parts) -> Result<(), String> {
    let mut sources = vec![paths::project_exchanges()];
    if paths::shared_fixtures().exists() {
        sources.push(paths::shared_fixtures());
    }
    let exchanges = exchange::load_all(&sources).map_err(|e| e.to_string())?;
    let stack = Stack::start(exchanges.clone(), StackOptions::default()).await?;
    let result = demo(&stack, &exchanges).await;
    stack.stop().await;
    result
}

async fn demo(stack: &Stack, exchanges: &[Exchange]) -> Result<(), String> {
    stack.load_prices(exchanges).await?;
    let mut calls = Vec::new();
    for team in &TEAMS {
        let (team_id, key) = stack
            .team_with_key(team.name, Some(team.budget_usd))
            .await?;
        let project = format!("{}-app", team.name);
        let (_, project_key) = stack
            .control_plane
            .admin
            .issue_key(&team_id, Some(&project))
            .await?;
        let mix: Vec<&Exchange> = team
            .exchanges
            .iter()
            .filter_map(|name| exchanges.iter().find(|e| e.name == *name))
            .collect();
        if mix.is_empty() {
            return Err(format!(
                "team {}: none of its exchanges were found",
                team.name
            ));
        }
        for n in 0..team.loops * team.calls_per_loop {
            let key = if n % 3 == 0 {
                project_key.clone()
            } else {
                key.clone()
            };
            calls.push((team.name, mix[n % mix.len()], key));
        }
    }
    eprintln!(
        "sending {} calls from {} teams through the gateway",
        calls.len(),
        TEAMS.len()
    );

    let results: Vec<(&str, u16)> = futures_util::stream::iter(calls)
        .map(|(team, exchange, key)| async move {
            let status = match stack.send(exchange, Some(&key)).await {
                Ok(outcome) => outcome.status,
                Err(_) => 0,
            };
            (team, status)
        })
        .buffer_unordered(8)
        .collect()
        .await;
    for team in &TEAMS {
        let mine: Vec<u16> = results
            .iter()
            .filter(|(t, _)| *t == team.name)
            .map(|r| r.1)
            .collect();
        let ok = mine.iter().filter(|s| **s == 200).count();
        eprintln!(
            "  {:<9} {} calls: {} answered 200, {} refused or failed",
            team.name,
            mine.len(),
            ok,
            mine.len() - ok
        );
    }

    // Records leave the gateway in batches; wait until the ledger holds every answered call.
    let answered = results
        .iter()
        .filter(|(_, s)| *s != 0 && !is_denial(*s))
        .count() as u64;
    let admin = &stack.control_plane.admin;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    while tokio::time::Instant::now() < deadline {
        let report = admin.report("group_by=team").await.unwrap_or(Value::Null);
        if report["total"]["calls"].as_u64().unwrap_or(0) >= answered {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    let report = admin.report("group_by=team,project,model").await?;
    print_report(&report);
    Ok(())
}

fn is_denial(status: u16) -> bool {
    matches!(status, 400 | 401 | 429)
}

fn print_report(report: &Value) {
    println!(
        "\nSpend {} to {} (exclusive), by team, project and model:",
        report["from"].as_str().unwrap_or("?"),
        report["to"].as_str().unwrap_or("?")
    );
    println!(
        "{:<10} {:<14} {:<28} {:>6} {:>12}",
        "team", "project", "model", "calls", "cost_usd"
    );
    for row in report["rows"].as_array().into_iter().flatten() {
        println!(
            "{:<10} {:<14} {:<28} {:>6} {:>12}",
            text(&row["team"]),
            text(&row["project"]),
            text(&row["model"]),
            row["calls"],
            text(&row["cost_usd"]),
        );
    }
    println!(
        "{:<54} {:>6} {:>12}",
        "total",
        report["total"]["calls"],
        text(&report["total"]["cost_usd"])
    );
}

fn text(value: &Value) -> String {
    value
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| "-".to_owned())
}
