//! `cargo xtask demo`: three teams of simulated agent traffic through the real stack against
//! the mock provider, then the spend report.

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
    // Each agent loop sends its calls one after another; every loop of every team runs at
    // the same time, as a team's agents do.
    let mut loops = Vec::new();
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
        for n in 0..team.loops {
            let key = if n % 2 == 0 {
                key.clone()
            } else {
                project_key.clone()
            };
            let calls: Vec<&Exchange> = (0..team.calls_per_loop)
                .map(|i| mix[(n + i) % mix.len()])
                .collect();
            loops.push((team.name, key, calls));
        }
    }
    let total: usize = loops.iter().map(|(_, _, calls)| calls.len()).sum();
    eprintln!(
        "{} agent loops of {} teams send {total} calls through the gateway",
        loops.len(),
        TEAMS.len()
    );

    let per_loop = loops.into_iter().map(|(team, key, calls)| async move {
        let mut statuses = Vec::new();
        for exchange in calls {
            let status = match stack.send(exchange, Some(&key)).await {
                Ok(outcome) => outcome.status,
                Err(_) => 0,
            };
            statuses.push((team, status));
        }
        statuses
    });
    let results: Vec<(&str, u16)> = futures_util::future::join_all(per_loop)
        .await
        .into_iter()
        .flatten()
        .collect();
    for team in &TEAMS {
        let mine: Vec<u16> = results
            .iter()
            .filter(|(t, _)| *t == team.name)
            .map(|r| r.1)
            .collect();
        let ok = mine.iter().filter(|s| **s == 200).count();
        eprintln!(
            "  {:<9} budget ${:<5} {} calls: {} answered, {} refused (budget spent)",
            team.name,
            team.budget_usd,
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
            row["calls"].as_u64().unwrap_or(0),
            text(&row["cost_usd"]),
        );
    }
    println!(
        "{:<54} {:>6} {:>12}",
        "total",
        report["total"]["calls"].as_u64().unwrap_or(0),
        text(&report["total"]["cost_usd"])
    );
}

fn text(value: &Value) -> String {
    value
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| "-".to_owned())
}
