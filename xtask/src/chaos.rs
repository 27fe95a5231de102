//! `cargo xtask chaos`: faults made on real processes (Envoy with the filter, the control
//! plane, the mock provider) while clients send calls, then a count of what the ledger holds.
//!
//! Each scenario runs on a fresh stack. A call counts when its client saw it answered with a
//! request id (`x-trimio-request-id`); it is lost when the ledger has no record of that id
//! once delivery has settled. Records are the ledger's rows for the scenario's team;
//! duplicated is what the rollups count beyond those rows (a record applied twice), and
//! any ledger row of the team that no answered call explains. The last line is one JSON
//! object: `{"scenarios","calls","records","lost","duplicated"}`.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::sync::Mutex;
use trimio_e2e::stack::{Stack, StackOptions};
use trimio_mock_provider::exchange::{self, Exchange};

use crate::Parts;

#[derive(clap::Args)]
pub struct Args {
    /// Run only the scenarios whose names contain this.
    #[arg(long)]
    only: Option<String>,
    /// Also measure what a SIGKILL of Envoy under load loses (records still in its queue);
    /// printed as its own line, outside the totals.
    #[arg(long)]
    envoy_kill: bool,
}

/// The exchanges every scenario sends, round robin: streams and JSON of each provider, and
/// calls cut short by the upstream or the client.
const EXCHANGES: [&str; 7] = [
    "anthropic-paced-stream",
    "openai-chat-stream-usage-reasoning",
    "openai-responses-json",
    "gemini-stream-sse-running-totals",
    "anthropic-upstream-reset",
    "anthropic-client-abort",
    "openai-chat-json",
];

/// What one scenario saw.
#[derive(Debug, Default, Clone, Copy)]
struct Count {
    calls: u64,
    records: u64,
    lost: u64,
    duplicated: u64,
    /// Of the calls lost, those whose response the client saw cut short.
    lost_cut: u64,
}

type Fault = fn(
    Arc<Mutex<Stack>>,
    Arc<AtomicBool>,
) -> futures_util::future::BoxFuture<'static, Result<(), String>>;

struct Scenario {
    name: &'static str,
    about: &'static str,
    /// Clients sending at once.
    concurrency: usize,
    fault: Fault,
}

pub async fn run(_parts: Parts, args: Args) -> Result<(), String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/exchanges");
    let all = exchange::load_all(&[dir]).map_err(|e| e.to_string())?;
    let exchanges: Vec<Exchange> = EXCHANGES
        .iter()
        .map(|name| {
            all.iter()
                .find(|e| e.name == *name)
                .cloned()
                .ok_or_else(|| format!("no exchange named {name} in tests/exchanges"))
        })
        .collect::<Result<_, _>>()?;

    let scenarios = scenarios();
    let mut total = Count::default();
    let mut ran = 0u64;
    for scenario in &scenarios {
        if args
            .only
            .as_deref()
            .is_some_and(|only| !scenario.name.contains(only))
        {
            continue;
        }
        eprintln!("chaos: {} ({})", scenario.name, scenario.about);
        let started = Instant::now();
        let count = run_scenario(scenario, &exchanges).await?;
        ran += 1;
        total.calls += count.calls;
        total.records += count.records;
        total.lost += count.lost;
        total.duplicated += count.duplicated;
        println!(
            "{}",
            json!({
                "scenario": scenario.name, "calls": count.calls, "records": count.records,
                "lost": count.lost, "duplicated": count.duplicated,
                "seconds": started.elapsed().as_secs(),
            })
        );
    }
    if args.envoy_kill {
        eprintln!("chaos: measuring a SIGKILL of Envoy under load");
        let count = run_scenario(&envoy_kill(), &exchanges).await?;
        println!(
            "{}",
            json!({
                "measured": "envoy_sigkill_under_load", "calls": count.calls,
                "records": count.records, "lost": count.lost,
                "lost_mid_response": count.lost_cut,
                "lost_after_response": count.lost - count.lost_cut,
                "duplicated": count.duplicated,
            })
        );
    }
    println!(
        "{}",
        json!({
            "scenarios": ran, "calls": total.calls, "records": total.records,
            "lost": total.lost, "duplicated": total.duplicated,
        })
    );
    if total.lost > 0 || total.duplicated > 0 {
        return Err(format!(
            "{} records lost and {} duplicated",
            total.lost, total.duplicated
        ));
    }
    Ok(())
}

fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario {
            name: "steady",
            about: "no fault: the baseline",
            concurrency: 16,
            fault: |_, _| {
                Box::pin(async {
                    sleep(8).await;
                    Ok(())
                })
            },
        },
        Scenario {
            name: "control_plane_sigkill_under_load",
            about: "SIGKILL the control plane mid-load, start it again two seconds later",
            concurrency: 16,
            fault: |stack, _| {
                Box::pin(async move {
                    sleep(3).await;
                    stack.lock().await.control_plane.stop(true).await;
                    sleep(2).await;
                    stack.lock().await.control_plane.start_again().await?;
                    sleep(5).await;
                    Ok(())
                })
            },
        },
        Scenario {
            name: "control_plane_outage_30s",
            about: "the control plane stopped for 30 seconds under load",
            concurrency: 4,
            fault: |stack, _| {
                Box::pin(async move {
                    sleep(3).await;
                    stack.lock().await.control_plane.stop(false).await;
                    sleep(30).await;
                    stack.lock().await.control_plane.start_again().await?;
                    sleep(4).await;
                    Ok(())
                })
            },
        },
        Scenario {
            name: "control_plane_frozen",
            about: "SIGSTOP the control plane for 8 seconds: admissions time out, \
                    deliveries are retried while the first tries are still pending",
            concurrency: 8,
            fault: |stack, _| {
                Box::pin(async move {
                    sleep(3).await;
                    let pid = stack.lock().await.control_plane.pid();
                    signal(pid, "STOP");
                    sleep(8).await;
                    signal(pid, "CONT");
                    sleep(5).await;
                    Ok(())
                })
            },
        },
        Scenario {
            name: "control_plane_restarts",
            about: "the control plane restarted (SIGTERM) three times under load",
            concurrency: 8,
            fault: |stack, _| {
                Box::pin(async move {
                    for _ in 0..3 {
                        sleep(2).await;
                        stack.lock().await.control_plane.restart().await?;
                    }
                    sleep(3).await;
                    Ok(())
                })
            },
        },
        Scenario {
            name: "envoy_drained_restart",
            about: "Envoy stopped once its queue is delivered, and started again",
            concurrency: 8,
            fault: |stack, load| {
                Box::pin(async move {
                    sleep(3).await;
                    load.store(false, Ordering::SeqCst);
                    sleep(1).await;
                    let mut stack = stack.lock().await;
                    wait_drained(&stack.envoy).await?;
                    stack.envoy.stop().await;
                    let filter_token = stack.control_plane.filter_token.clone();
                    let options = stack.envoy_options.clone();
                    stack.envoy =
                        trimio_e2e::envoy::Envoy::start(stack.dir.path(), &options, &filter_token)
                            .await?;
                    drop(stack);
                    load.store(true, Ordering::SeqCst);
                    sleep(4).await;
                    Ok(())
                })
            },
        },
    ]
}

/// SIGKILL Envoy mid-load and start a new one: records still in the old one's queue, or in
/// a batch not yet acknowledged, are gone with it.
fn envoy_kill() -> Scenario {
    Scenario {
        name: "envoy_sigkill_under_load",
        about: "SIGKILL Envoy mid-load, then start it again",
        concurrency: 16,
        fault: |stack, _| {
            Box::pin(async move {
                sleep(3).await;
                let mut stack = stack.lock().await;
                stack.envoy.kill().await;
                let filter_token = stack.control_plane.filter_token.clone();
                let options = stack.envoy_options.clone();
                stack.envoy =
                    trimio_e2e::envoy::Envoy::start(stack.dir.path(), &options, &filter_token)
                        .await?;
                drop(stack);
                sleep(3).await;
                Ok(())
            })
        },
    }
}

async fn sleep(seconds: u64) {
    tokio::time::sleep(Duration::from_secs(seconds)).await;
}

fn signal(pid: Option<u32>, signal: &str) {
    if let Some(pid) = pid {
        let _ = std::process::Command::new("kill")
            .args([format!("-{signal}"), pid.to_string()])
            .status();
    }
}

/// Waits until Envoy holds no usage record: none waiting in the queue, every queued one
/// delivered.
pub(crate) async fn wait_drained(envoy: &trimio_e2e::envoy::Envoy) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let stats = envoy.stats("trimio").await;
        let stat = |name: &str| {
            stats
                .iter()
                .find(|(n, _)| n.ends_with(name))
                .map_or(0, |(_, v)| *v)
        };
        if stat("records_waiting") == 0
            && stat("records_queued") == stat("records_delivered") + stat("records_dropped")
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err("Envoy did not deliver its queue within 30 seconds".to_owned())
}

async fn run_scenario(scenario: &Scenario, exchanges: &[Exchange]) -> Result<Count, String> {
    let stack = Stack::start(exchanges.to_vec(), StackOptions::default()).await?;
    let (team_id, key) = stack.team_with_key("chaos", None).await?;
    stack.load_prices(exchanges).await?;
    let database = stack.control_plane.database.clone();
    let admin = stack.control_plane.admin.clone();
    let stack = Arc::new(Mutex::new(stack));

    // Clients send until the fault is over; the fault may pause them.
    let sending = Arc::new(AtomicBool::new(true));
    let running = Arc::new(AtomicBool::new(true));
    let answered = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let cut = Arc::new(std::sync::Mutex::new(HashSet::<String>::new()));
    let exchanges = Arc::new(exchanges.to_vec());
    let mut clients = Vec::new();
    for client in 0..scenario.concurrency {
        let (stack, sending, running) = (stack.clone(), sending.clone(), running.clone());
        let (answered, exchanges, key) = (answered.clone(), exchanges.clone(), key.clone());
        let cut = cut.clone();
        clients.push(tokio::spawn(async move {
            let mut n = client;
            while running.load(Ordering::SeqCst) {
                if !sending.load(Ordering::SeqCst) {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
                let exchange = &exchanges[n % exchanges.len()];
                n += 1;
                let (http, base) = {
                    let stack = stack.lock().await;
                    (stack.http.clone(), stack.envoy.url(""))
                };
                let sent = trimio_e2e::client::send(&http, &base, exchange, Some(&key)).await;
                match sent {
                    Ok(outcome) => {
                        if let Some(id) = outcome.request_id() {
                            answered.lock().unwrap().push(id.to_owned());
                            // A cut the exchange itself makes is part of the call.
                            let planned = exchange.response.reset_after_chunks.is_some()
                                || exchange.request.client_abort_after_chunks.is_some();
                            if outcome.cut && !planned {
                                cut.lock().unwrap().insert(id.to_owned());
                            }
                        }
                    }
                    Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                }
            }
        }));
    }
    let fault = (scenario.fault)(stack.clone(), sending.clone()).await;
    running.store(false, Ordering::SeqCst);
    for client in clients {
        let _ = client.await;
    }
    fault?;

    let answered: Vec<String> = answered.lock().unwrap().clone();
    let unique: HashSet<&String> = answered.iter().collect();
    if unique.len() != answered.len() {
        return Err("the gateway gave two calls the same request id".to_owned());
    }
    // Delivery settles: every answered call's record arrives, or the wait runs out.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut missing: Vec<&String> = answered.iter().collect();
    while !missing.is_empty() && Instant::now() < deadline {
        let held = ledger_ids(&database, &team_id)?;
        missing.retain(|id| !held.contains(*id));
        if !missing.is_empty() {
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
    // A moment more for any straggler that would be a duplicate.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let held = ledger_ids(&database, &team_id)?;
    let rolled_up = rollup_calls(&database, &team_id)?;
    let stray = held.iter().filter(|id| !unique.contains(id)).count() as u64;
    let records = held.len() as u64;
    let cut = cut.lock().unwrap().clone();
    let count = Count {
        calls: answered.len() as u64,
        records,
        lost: missing.len() as u64,
        duplicated: rolled_up.saturating_sub(records) + stray,
        lost_cut: missing
            .iter()
            .filter(|id| cut.contains(id.as_str()))
            .count() as u64,
    };
    if count.lost > 0 {
        eprintln!(
            "chaos: lost {:?}",
            missing.iter().take(5).collect::<Vec<_>>()
        );
    }
    let _ = admin;

    let stack = Arc::try_unwrap(stack)
        .map_err(|_| "the stack is still in use".to_owned())?
        .into_inner();
    stack.stop().await;
    Ok(count)
}

/// Request ids of the team's calls in the ledger, read from the database file.
fn ledger_ids(database: &Path, team_id: &str) -> Result<HashSet<String>, String> {
    let conn = open(database)?;
    let mut statement = conn
        .prepare("SELECT request_id FROM ledger WHERE team_id = ?1")
        .map_err(|e| e.to_string())?;
    let rows = statement
        .query_map([team_id], |row| row.get::<_, String>(0))
        .map_err(|e| e.to_string())?;
    rows.collect::<Result<_, _>>().map_err(|e| e.to_string())
}

/// Calls the team's rollups count.
fn rollup_calls(database: &Path, team_id: &str) -> Result<u64, String> {
    let conn = open(database)?;
    let mut statement = conn
        .prepare("SELECT calls FROM rollups WHERE team_id = ?1")
        .map_err(|e| e.to_string())?;
    let rows = statement
        .query_map([team_id], |row| row.get::<_, i64>(0))
        .map_err(|e| e.to_string())?;
    let mut sum = 0u64;
    for calls in rows {
        sum += u64::try_from(calls.map_err(|e| e.to_string())?).unwrap_or(0);
    }
    Ok(sum)
}

fn open(database: &Path) -> Result<rusqlite::Connection, String> {
    rusqlite::Connection::open_with_flags(database, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| format!("open {}: {e}", database.display()))
}
