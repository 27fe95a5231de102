//! The control plane alone, with no Envoy in front: admissions per second (hey, many
//! concurrent clients, the filter's token) and usage records durably stored per second
//! (batches with unique request ids, counted from the acknowledgements, then checked against
//! the ledger in the database file).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use trimio_e2e::control_plane::ControlPlane;
use trimio_e2e::stack::random_token;
use trimio_e2e::usage;
use trimio_mock_provider::exchange::Exchange;
use trimio_wire::{
    ADMIT_PATH, AdmitRequest, AdmitResponse, ApiFamily, Provider, USAGE_PATH, Usage, UsageAck,
    UsageBatch, UsageRecord,
};

use super::{hey, process_stats};

/// Concurrent clients asking for admission.
const ADMIT_CLIENTS: usize = 64;
/// Concurrent clients delivering usage, and records per batch (the filter's default).
const USAGE_CLIENTS: usize = 16;
const BATCH: usize = 200;
/// The team's monthly budget: large enough that no call is denied.
const BUDGET_USD: &str = "1000000";

#[derive(Debug, Clone)]
pub struct Figures {
    pub admissions: hey::Run,
    /// The control plane's CPU time while answering them, seconds.
    pub admissions_cpu_s: f64,
    pub records: u64,
    pub records_seconds: f64,
    /// The control plane's CPU time while storing them, seconds.
    pub records_cpu_s: f64,
    pub admit_clients: usize,
    pub usage_clients: usize,
    pub batch: usize,
}

impl Figures {
    pub fn records_per_s(&self) -> f64 {
        self.records as f64 / self.records_seconds.max(f64::EPSILON)
    }
}

pub async fn measure(
    hey_bin: &Path,
    dir: &Path,
    exchange: &Exchange,
    seconds: u64,
) -> Result<Figures, String> {
    let filter_token = random_token();
    let mut control_plane = ControlPlane::start(dir, &random_token(), &filter_token).await?;
    let result = run(
        &control_plane,
        hey_bin,
        dir,
        exchange,
        &filter_token,
        seconds,
    )
    .await;
    control_plane.stop(false).await;
    result
}

async fn run(
    control_plane: &ControlPlane,
    hey_bin: &Path,
    dir: &Path,
    exchange: &Exchange,
    filter_token: &str,
    seconds: u64,
) -> Result<Figures, String> {
    let admin = &control_plane.admin;
    let team = admin.create_team("bench", Some(BUDGET_USD)).await?;
    let team_id = team["id"].as_str().ok_or("no team id")?.to_owned();
    let (_, key) = admin.issue_key(&team_id, None).await?;
    for (model, entry) in &exchange.prices {
        admin.set_price(model, entry).await?;
    }
    let key_hash = usage::key_hash(&key);
    let base = admin.base().to_owned();
    let http = reqwest::Client::new();

    // Admissions: the request the filter sends for the JSON exchange, with its body read.
    let body = exchange.request.body_bytes();
    let model = exchange
        .request
        .body
        .as_ref()
        .and_then(|b| b["model"].as_str())
        .map(str::to_owned);
    let admit = AdmitRequest {
        request_id: "bench-admission".to_owned(),
        key_hash: key_hash.clone(),
        provider: Provider::Anthropic,
        family: ApiFamily::AnthropicMessages,
        model,
        prompt_bytes: Some(body.len() as u64),
        max_tokens: Some(8192),
        project: None,
        wait_ms: Some(2000),
        lease: false,
        previous: None,
    };
    let answer: AdmitResponse = post(&http, &base, ADMIT_PATH, filter_token, &admit).await?;
    if !matches!(answer, AdmitResponse::Allow { .. }) {
        return Err(format!("the bench key is not admitted: {answer:?}"));
    }
    let admit_file = dir.join("admit.json");
    let admit_json = serde_json::to_vec(&admit).map_err(|e| e.to_string())?;
    std::fs::write(&admit_file, admit_json).map_err(|e| format!("admit.json: {e}"))?;
    let pid = control_plane.pid().ok_or("the control plane is gone")?;
    eprintln!("bench: control plane alone: admissions, {ADMIT_CLIENTS} clients, {seconds} s");
    let cpu_before = process_stats::cpu_seconds(pid)?;
    let admissions = hey::run(&hey::Load {
        hey: hey_bin,
        url: format!("{base}{ADMIT_PATH}"),
        method: "POST",
        headers: vec![
            "content-type: application/json".to_owned(),
            format!("authorization: Bearer {filter_token}"),
        ],
        body_file: Some(&admit_file),
        workers: ADMIT_CLIENTS,
        rate_per_worker: None,
        seconds,
    })
    .await?;
    let admissions_cpu_s = process_stats::cpu_seconds(pid)? - cpu_before;

    eprintln!(
        "bench: control plane alone: usage, {USAGE_CLIENTS} clients, batches of {BATCH}, \
         {seconds} s"
    );
    let cpu_before = process_stats::cpu_seconds(pid)?;
    let (records, records_seconds) =
        deliver(&http, &base, filter_token, &key_hash, seconds).await?;
    let records_cpu_s = process_stats::cpu_seconds(pid)? - cpu_before;
    let stored = ledger_rows(&control_plane.database)?;
    if stored != records {
        return Err(format!(
            "the control plane acknowledged {records} new records but its ledger holds {stored}"
        ));
    }

    Ok(Figures {
        admissions,
        admissions_cpu_s,
        records,
        records_seconds,
        records_cpu_s,
        admit_clients: ADMIT_CLIENTS,
        usage_clients: USAGE_CLIENTS,
        batch: BATCH,
    })
}

/// Delivers batches from [`USAGE_CLIENTS`] clients for `seconds`; the records acknowledged
/// as newly stored, and the time it took (the last batches included).
async fn deliver(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    key_hash: &str,
    seconds: u64,
) -> Result<(u64, f64), String> {
    let accepted = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let mut clients = Vec::new();
    for client in 0..USAGE_CLIENTS {
        let (http, base, token) = (http.clone(), base.to_owned(), token.to_owned());
        let (key_hash, accepted) = (key_hash.to_owned(), Arc::clone(&accepted));
        clients.push(tokio::spawn(async move {
            let mut sent = 0usize;
            while Instant::now() < deadline {
                let records = (0..BATCH)
                    .map(|n| record(&format!("bench-{client}-{sent}-{n}"), &key_hash))
                    .collect();
                let batch = UsageBatch { records };
                let ack: UsageAck = post(&http, &base, USAGE_PATH, &token, &batch).await?;
                if ack.accepted as usize != BATCH {
                    return Err(format!(
                        "a batch of {BATCH} new records was acknowledged as {ack:?}"
                    ));
                }
                accepted.fetch_add(u64::from(ack.accepted), Ordering::Relaxed);
                sent += 1;
            }
            Ok::<(), String>(())
        }));
    }
    for client in clients {
        client.await.map_err(|e| e.to_string())??;
    }
    Ok((
        accepted.load(Ordering::Relaxed),
        started.elapsed().as_secs_f64(),
    ))
}

/// A record like the filter's for the JSON exchange.
fn record(request_id: &str, key_hash: &str) -> UsageRecord {
    let usage = Usage {
        input: 1410,
        output: 233,
        cache_read: 6144,
        ..Usage::default()
    };
    let mut record = usage::record(request_id, key_hash, "claude-haiku-4-5-20251001", usage);
    record.service_tier = Some("standard".to_owned());
    record.duration_ms = 700;
    record.request_bytes = 150;
    record
}

async fn post<T: serde::Serialize, A: serde::de::DeserializeOwned>(
    http: &reqwest::Client,
    base: &str,
    path: &str,
    token: &str,
    body: &T,
) -> Result<A, String> {
    let response = http
        .post(format!("{base}{path}"))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .map_err(|e| format!("{path}: {e}"))?;
    let status = response.status();
    if !status.is_success() {
        let text = response.text().await.unwrap_or_default();
        return Err(format!("{path}: status {status}: {text}"));
    }
    response.json().await.map_err(|e| format!("{path}: {e}"))
}

/// Rows in the ledger, read from the database file.
fn ledger_rows(database: &Path) -> Result<u64, String> {
    let conn =
        rusqlite::Connection::open_with_flags(database, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(|e| format!("open {}: {e}", database.display()))?;
    conn.query_row("SELECT COUNT(*) FROM ledger", [], |row| {
        row.get::<_, i64>(0)
    })
    .map(|n| n.max(0) as u64)
    .map_err(|e| e.to_string())
}
