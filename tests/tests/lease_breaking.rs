//! Attempts to break leases and batched usage delivery: each test states the claim it checks
//! (README "Leases", "Faults", "What does not work yet") and fails when the claim does not
//! hold.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::{Value, json};
use trimio_e2e::paths;
use trimio_e2e::process::wait_for;
use trimio_e2e::stack::{Stack, StackOptions};
use trimio_mock_provider::exchange::{self, Exchange};

fn exchanges() -> Vec<Exchange> {
    exchange::load_all(&[paths::shared_fixtures(), paths::project_exchanges()])
        .expect("exchange files load")
}

fn named(name: &str) -> Exchange {
    exchanges()
        .into_iter()
        .find(|e| e.name == name)
        .unwrap_or_else(|| panic!("no exchange {name}"))
}

/// `anthropic-json` (0.01875 USD a call at its prices), its answer spread over `delay_ms`
/// between chunks so that calls stay in flight.
fn slow(name: &str, delay_ms: u64) -> Exchange {
    let mut e = named(name);
    e.name = format!("{name}-slow-{delay_ms}");
    e.response.chunk_delay_ms = Some(delay_ms);
    e
}

async fn stack_of(exchanges: Vec<Exchange>, options: StackOptions) -> Stack {
    let stack = Stack::start(exchanges.clone(), options)
        .await
        .expect("stack starts");
    stack.load_prices(&exchanges).await.unwrap();
    stack
}

fn with_lease(lease_ms: u64) -> StackOptions {
    StackOptions {
        lease_ms: Some(lease_ms),
        ..StackOptions::default()
    }
}

/// What one call saw.
#[derive(Debug, Clone)]
struct Seen {
    status: u16,
    request_id: Option<String>,
    /// When the call was sent, from the test's start.
    sent: Instant,
}

/// How many of `seen` passed, and how long after `since` the last of them was sent.
fn passed_since(seen: &[Seen], since: Instant) -> (usize, Duration) {
    let passed: Vec<&Seen> = seen.iter().filter(|s| s.status == 200).collect();
    let last = passed.iter().map(|s| s.sent - since).max();
    (passed.len(), last.unwrap_or_default())
}

/// Sends the exchange's request with `key`, extra headers and optionally another body.
async fn post(
    http: &reqwest::Client,
    stack: &Stack,
    exchange: &Exchange,
    key: &str,
    extra: &[(&str, &str)],
    body: Option<Vec<u8>>,
) -> Seen {
    let sent = Instant::now();
    let (name, value) = trimio_e2e::client::key_header(exchange, key);
    let mut request = http
        .post(stack.envoy.url(&exchange.request.path))
        .header("x-mock-exchange", &exchange.name)
        .header(name, value);
    for (name, value) in &exchange.request.headers {
        request = request.header(name, value);
    }
    for (name, value) in extra {
        request = request.header(*name, *value);
    }
    request = request.body(body.unwrap_or_else(|| exchange.request.body_bytes()));
    match request.send().await {
        Ok(response) => {
            let status = response.status().as_u16();
            let request_id = response
                .headers()
                .get("x-trimio-request-id")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let _ = response.bytes().await;
            Seen {
                status,
                request_id,
                sent,
            }
        }
        Err(_) => Seen {
            status: 0,
            request_id: None,
            sent,
        },
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(128)
        .build()
        .unwrap()
}

/// Waits until the ledger holds as many calls as Envoy admitted; the ledger's count.
async fn ledger_catches_up(stack: &Stack, limit: Duration) -> (u64, u64) {
    let admin = &stack.control_plane.admin;
    let started = Instant::now();
    loop {
        let admitted = stack.envoy.trimio_counter("calls_admitted").await;
        let report = admin.report("group_by=team").await.unwrap();
        let calls = report["total"]["calls"].as_u64().unwrap_or(0);
        if calls >= admitted || started.elapsed() > limit {
            return (admitted, calls);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn team_spend_usd(stack: &Stack, team: &str) -> f64 {
    let (_, team) = stack
        .control_plane
        .admin
        .send(
            reqwest::Method::GET,
            &format!("/v1/admin/teams/{team}"),
            None,
        )
        .await
        .unwrap();
    let spent = team["spend_usd"]
        .as_str()
        .or_else(|| team["spent_usd"].as_str())
        .unwrap_or_else(|| panic!("no spend in {team}"));
    spent.parse().unwrap()
}

/// README: one Envoy keeps at most 10,000 leases, made only for keys the control plane has
/// admitted: 10,000 calls with keys nobody issued leave a real key its leases.
#[tokio::test(flavor = "multi_thread")]
async fn unknown_keys_do_not_use_up_the_lease_table_of_real_keys() {
    let exchange = named("anthropic-json");
    let stack = stack_of(vec![exchange.clone()], StackOptions::default()).await;
    let (_, key) = stack.team_with_key("victim", None).await.unwrap();
    let http = client();

    // 10,000 calls with made-up keys, no body: each is refused 401.
    let url = stack.envoy.url("/v1/models");
    let refused = futures_util::stream::iter(0..10_000u32)
        .map(|i| {
            let http = http.clone();
            let url = url.clone();
            async move {
                http.get(&url)
                    .bearer_auth(format!("tmk_not_a_key_{i}"))
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
                    .unwrap_or(0)
            }
        })
        .buffer_unordered(32)
        .filter(|status| std::future::ready(*status == 401))
        .count()
        .await;
    assert_eq!(refused, 10_000);

    // A real key's calls afterwards.
    for _ in 0..20 {
        let seen = post(&http, &stack, &exchange, &key, &[], None).await;
        assert_eq!(seen.status, 200);
    }
    let by_lease = stack.envoy.trimio_counter("calls_admitted_by_lease").await;
    assert!(
        by_lease >= 19,
        "after 10,000 unknown keys a real key's calls are no longer leased: {by_lease} of 20"
    );
    stack.stop().await;
}

/// README: "a revoked key ... reaches every gateway within --lease-ms" (plus a round trip).
/// Keeps the lease busy: 48 clients, each on its own project, alternating Anthropic and
/// OpenAI paths, from before the revocation until 3 s after; reports the last call that
/// passed.
#[tokio::test(flavor = "multi_thread")]
async fn a_revoked_key_stops_within_the_lease_under_continuous_traffic() {
    const LEASE_MS: u64 = 1_000;
    let anthropic = named("anthropic-json");
    let openai = named("openai-chat-json");
    let stack = stack_of(
        vec![anthropic.clone(), openai.clone()],
        with_lease(LEASE_MS),
    )
    .await;
    let admin = stack.control_plane.admin.clone();
    let team = admin.create_team("platform", None).await.unwrap();
    let (key_id, key) = admin
        .issue_key(team["id"].as_str().unwrap(), None)
        .await
        .unwrap();
    let http = client();
    let stack = Arc::new(stack);

    let stop_at = Instant::now() + Duration::from_secs(5);
    let mut clients = Vec::new();
    for c in 0..48 {
        let (stack, http, key) = (stack.clone(), http.clone(), key.clone());
        let (anthropic, openai) = (anthropic.clone(), openai.clone());
        clients.push(tokio::spawn(async move {
            let project = format!("p{c}");
            let mut seen = Vec::new();
            let mut i = 0u64;
            while Instant::now() < stop_at {
                let exchange = if (i + c).is_multiple_of(2) {
                    &anthropic
                } else {
                    &openai
                };
                let extra = [("x-trimio-project", project.as_str())];
                seen.push(post(&http, &stack, exchange, &key, &extra, None).await);
                i += 1;
            }
            seen
        }));
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    admin.revoke_key(&key_id).await.unwrap();
    let at = Instant::now();

    let mut last_pass = Duration::ZERO;
    let mut passed_after = 0;
    let mut statuses: HashMap<u16, u64> = HashMap::new();
    for client in clients {
        for seen in client.await.unwrap() {
            *statuses.entry(seen.status).or_default() += 1;
            if seen.status == 200 && seen.sent > at {
                passed_after += 1;
                last_pass = last_pass.max(seen.sent - at);
            }
        }
    }
    eprintln!(
        "statuses {statuses:?}; {passed_after} calls passed after the revocation, the last \
         sent {last_pass:?} after it"
    );
    let bound = Duration::from_millis(LEASE_MS + 400);
    assert!(
        last_pass <= bound,
        "a call passed {last_pass:?} after the revocation"
    );
    let stack = Arc::into_inner(stack).unwrap();
    let (admitted, calls) = ledger_catches_up(&stack, Duration::from_secs(15)).await;
    assert_eq!(admitted, calls, "records for the admitted calls");
    stack.stop().await;
}

/// Runs `clients` clients, each sending calls until it has been refused `refusals` times in a
/// row or `limit` passes; every status seen.
async fn hammer(
    stack: &Arc<Stack>,
    exchange: &Exchange,
    key: &str,
    clients: usize,
    project_of: impl Fn(usize) -> Option<String>,
    limit: Duration,
) -> Vec<Seen> {
    let http = client();
    let stop_at = Instant::now() + limit;
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (stack, http, key, exchange) = (
            stack.clone(),
            http.clone(),
            key.to_owned(),
            exchange.clone(),
        );
        let project = project_of(c);
        tasks.push(tokio::spawn(async move {
            let mut seen = Vec::new();
            let mut refused_in_a_row = 0;
            while Instant::now() < stop_at && refused_in_a_row < 3 {
                let extra: Vec<(&str, &str)> = project
                    .as_deref()
                    .map(|p| vec![("x-trimio-project", p)])
                    .unwrap_or_default();
                let s = post(&http, &stack, &exchange, &key, &extra, None).await;
                if s.status == 200 {
                    refused_in_a_row = 0;
                } else {
                    refused_in_a_row += 1;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                seen.push(s);
            }
            seen
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap());
    }
    all
}

/// A hard budget of 1.50 USD, calls of 0.018369 USD each that stay in flight ~0.8 s, 50
/// clients; the budget may be passed by the estimate error only (here the calls are all alike,
/// so about one call).
async fn hard_budget_under_concurrency(projects: bool) -> (f64, u64, u64) {
    let exchange = slow("anthropic-claude-code-stream", 100);
    let stack = stack_of(vec![exchange.clone()], StackOptions::default()).await;
    let (team_id, key) = stack.team_with_key("payments", Some("1.50")).await.unwrap();
    // The team's first records, so that leases are granted.
    for _ in 0..3 {
        let (outcome, _) = stack.call(&exchange, &key).await.unwrap();
        assert_eq!(outcome.status, 200);
    }
    let stack = Arc::new(stack);
    let seen = hammer(
        &stack,
        &exchange,
        &key,
        50,
        |c| projects.then(|| format!("proj-{c}")),
        Duration::from_secs(30),
    )
    .await;
    let stack = Arc::into_inner(stack).unwrap();
    let ok = seen.iter().filter(|s| s.status == 200).count();
    let statuses: HashSet<u16> = seen.iter().map(|s| s.status).collect();
    let (admitted, calls) = ledger_catches_up(&stack, Duration::from_secs(20)).await;
    let spent = team_spend_usd(&stack, &team_id).await;
    let by_lease = stack.envoy.trimio_counter("calls_admitted_by_lease").await;
    let budget = team_budget(&stack, &team_id).await;
    eprintln!("budget at the end: {}", budget["current"]);
    if projects {
        // How long until a call with nothing else in flight is admitted again.
        let http = client();
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(60) {
            let s = post(
                &http,
                &stack,
                &exchange,
                &key,
                &[("x-trimio-project", "later")],
                None,
            )
            .await;
            if s.status == 200 {
                break;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        eprintln!(
            "a call on a quiet budget is admitted again after {:?}",
            started.elapsed()
        );
    }
    eprintln!(
        "projects={projects}: {ok} answered 200 (+3 first), statuses {statuses:?}; admitted \
         {admitted}, {by_lease} by lease, ledger {calls}; spent {spent} of 1.50 ({:.1}%)",
        spent / 1.5 * 100.0
    );
    stack.stop().await;
    (spent, admitted, calls)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hard_budget_holds_under_50_clients_on_one_lease() {
    let (spent, admitted, calls) = hard_budget_under_concurrency(false).await;
    assert_eq!(admitted, calls);
    assert!(spent <= 1.50 + 2.0 * 0.018369, "spent {spent} of 1.50");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hard_budget_holds_under_50_clients_each_on_its_own_project() {
    let (spent, admitted, calls) = hard_budget_under_concurrency(true).await;
    assert_eq!(admitted, calls);
    assert!(spent <= 1.50 + 2.0 * 0.018369, "spent {spent} of 1.50");
}

async fn team_budget(stack: &Stack, team_id: &str) -> Value {
    let (_, budgets) = stack
        .control_plane
        .admin
        .send(
            reqwest::Method::GET,
            &format!("/v1/admin/budgets?team={team_id}"),
            None,
        )
        .await
        .unwrap();
    let list = budgets
        .as_array()
        .cloned()
        .or_else(|| budgets["budgets"].as_array().cloned())
        .unwrap_or_else(|| panic!("{budgets}"));
    list.into_iter().next().unwrap()
}

/// README: a lease holds its share of a hard budget until it is given back, and a gateway
/// gives back a lease whose key went quiet once it ends. Key A makes three calls and goes
/// quiet; key B of the same team, one call at a time, may be refused while A's lease holds a
/// quarter of the budget, but once A's lease has ended B spends the budget to within a call.
#[tokio::test(flavor = "multi_thread")]
async fn an_idle_lease_does_not_strand_a_quarter_of_the_budget() {
    let exchange = named("anthropic-json");
    let stack = stack_of(vec![exchange.clone()], StackOptions::default()).await;
    let (team_id, a) = stack.team_with_key("payments", Some("1.50")).await.unwrap();
    for _ in 0..3 {
        let (outcome, _) = stack.call(&exchange, &a).await.unwrap();
        assert_eq!(outcome.status, 200);
    }
    let (_, b) = stack
        .control_plane
        .admin
        .issue_key(&team_id, None)
        .await
        .unwrap();
    let http = client();
    // Key B, one call at a time, until refused; then again once key A's lease has ended and
    // its gateway gave it back (README: leases hold their share until given back).
    let mut refusals: Vec<u16> = Vec::new();
    let started = Instant::now();
    for round in 0..2 {
        for _ in 0..100 {
            let seen = post(&http, &stack, &exchange, &b, &[], None).await;
            if seen.status != 200 {
                refusals.push(seen.status);
                break;
            }
        }
        if round == 0 {
            let lease_ends = Duration::from_millis(5_000 + 1_000);
            tokio::time::sleep(lease_ends.saturating_sub(started.elapsed())).await;
        }
    }
    ledger_catches_up(&stack, Duration::from_secs(10)).await;
    let budget = team_budget(&stack, &team_id).await;
    let current = &budget["current"];
    eprintln!(
        "key B refused with {refusals:?}; spend {} of 1.50, held {}",
        current["spend_usd"], current["reserved_usd"]
    );
    let spent: f64 = current["spend_usd"].as_str().unwrap().parse().unwrap();
    // 80 calls of 0.01875 fit in 1.50; once A's lease is back, B gets within a call or two.
    assert!(
        spent >= 1.50 - 2.0 * 0.01875,
        "refused at {spent} of 1.50 after key A's lease ended; {} held",
        current["reserved_usd"]
    );
    assert!(spent <= 1.50 + 0.01875, "spent {spent}");
    stack.stop().await;
}

/// README: a budget set on a team whose key holds a lease reaches the gateway within
/// `--lease-calls` calls or `--lease-ms`. A strict 0.10 USD budget set on a team with no
/// budget, under 16 clients.
#[tokio::test(flavor = "multi_thread")]
async fn a_new_strict_budget_binds_calls_under_a_live_lease() {
    let exchange = named("anthropic-json");
    let stack = stack_of(vec![exchange.clone()], StackOptions::default()).await;
    let (team_id, key) = stack.team_with_key("payments", None).await.unwrap();
    let http = client();
    for _ in 0..2 {
        assert_eq!(
            post(&http, &stack, &exchange, &key, &[], None).await.status,
            200
        );
    }
    let (status, budget) = stack
        .control_plane
        .admin
        .send(
            reqwest::Method::POST,
            "/v1/admin/budgets",
            Some(json!({"team": team_id, "amount_usd": "0.10", "strict": true})),
        )
        .await
        .unwrap();
    assert!((200..300).contains(&status), "{budget}");
    let set_at = Instant::now();
    let stack = Arc::new(stack);
    // 16 clients for up to 7 s.
    let seen = hammer(
        &stack,
        &exchange,
        &key,
        16,
        |_| None,
        Duration::from_secs(7),
    )
    .await;
    let stack = Arc::into_inner(stack).unwrap();
    let (passed, last) = passed_since(&seen, set_at);
    eprintln!("the last call passed {last:?} after the strict budget was set");
    ledger_catches_up(&stack, Duration::from_secs(10)).await;
    let budget = team_budget(&stack, &team_id).await;
    let spent: f64 = budget["current"]["spend_usd"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    eprintln!("after the strict 0.10 budget: {passed} calls passed; spend {spent}");
    // README: a budget set reaches the gateway within `--lease-calls` calls (100) or
    // `--lease-ms`; with 16 clients at most that many more were already on their way. The
    // two calls before it (0.0375) count in its period.
    assert!(
        passed <= 100 + 16,
        "{passed} calls passed after the strict budget was set; spend {spent}"
    );
    assert!(
        last < Duration::from_millis(5_000 + 400),
        "the last call passed {last:?} after the strict budget was set"
    );
    stack.stop().await;
}

/// README: a budget lowered reaches the gateway within `--lease-calls` calls or
/// `--lease-ms`. Team budget 100 USD, lowered to 0.10 USD, under 16 clients.
#[tokio::test(flavor = "multi_thread")]
async fn a_lowered_hard_budget_is_passed_by_at_most_a_little() {
    let exchange = named("anthropic-json");
    let stack = stack_of(vec![exchange.clone()], StackOptions::default()).await;
    let (team_id, key) = stack.team_with_key("payments", Some("100")).await.unwrap();
    for _ in 0..3 {
        let (outcome, _) = stack.call(&exchange, &key).await.unwrap();
        assert_eq!(outcome.status, 200);
    }
    stack
        .control_plane
        .admin
        .set_budget(&team_id, Some("0.10"))
        .await
        .unwrap();
    let set_at = Instant::now();
    let stack = Arc::new(stack);
    let seen = hammer(
        &stack,
        &exchange,
        &key,
        16,
        |_| None,
        Duration::from_secs(7),
    )
    .await;
    let stack = Arc::into_inner(stack).unwrap();
    let (passed, last) = passed_since(&seen, set_at);
    ledger_catches_up(&stack, Duration::from_secs(10)).await;
    let spent = team_spend_usd(&stack, &team_id).await;
    eprintln!(
        "budget lowered to 0.10: {passed} calls passed, the last {last:?} after; spend {spent}"
    );
    // README: a lowered budget reaches the gateway within `--lease-calls` calls (100) or
    // `--lease-ms`, plus what the 16 clients had on their way; the three calls before it
    // (0.05625) count too.
    assert!(
        passed <= 100 + 16,
        "{passed} calls passed after the budget was lowered to 0.10; spend {spent}"
    );
    assert!(spent <= 0.05625 + 116.0 * 0.01875, "spend {spent}");
    stack.stop().await;
}

/// Every call a client saw answered has exactly one record, across a SIGKILL of the control
/// plane while leases are live (a hard budget, so leases hold part of it), and a restart; and
/// the budget is passed by no more than what the leases live at the kill could admit.
#[tokio::test(flavor = "multi_thread")]
async fn a_control_plane_sigkill_with_live_leases_loses_and_doubles_nothing() {
    sigkill_with_live_leases("open").await;
}

/// The same, failing closed: nothing passes without the control plane but the leases live at
/// the kill, so the budget may be passed by what those leases still had, at most.
#[tokio::test(flavor = "multi_thread")]
async fn a_control_plane_sigkill_with_live_leases_failing_closed() {
    let spent = sigkill_with_live_leases("closed").await;
    assert!(spent <= 3.00 + 0.75, "spent {spent} of 3.00");
}

async fn sigkill_with_live_leases(failure_mode: &str) -> f64 {
    let exchange = slow("anthropic-claude-code-stream", 20);
    let options = StackOptions {
        failure_mode: failure_mode.to_owned(),
        ..StackOptions::default()
    };
    let stack = stack_of(vec![exchange.clone()], options).await;
    let (team_id, key) = stack.team_with_key("payments", Some("3.00")).await.unwrap();
    for _ in 0..3 {
        let (outcome, _) = stack.call(&exchange, &key).await.unwrap();
        assert_eq!(outcome.status, 200);
    }
    let stack = Arc::new(tokio::sync::Mutex::new(stack));
    let http = client();
    let stop_at = Instant::now() + Duration::from_secs(14);
    let mut tasks = Vec::new();
    for c in 0..16 {
        let (stack, http, key, exchange) =
            (stack.clone(), http.clone(), key.clone(), exchange.clone());
        tasks.push(tokio::spawn(async move {
            let project = format!("p{}", c % 4);
            let mut seen = Vec::new();
            while Instant::now() < stop_at {
                let s = {
                    let guard = stack.lock().await;
                    let url = guard.envoy.url("");
                    drop(guard);
                    let (name, value) = trimio_e2e::client::key_header(&exchange, &key);
                    let mut request = http
                        .post(format!("{url}{}", exchange.request.path))
                        .header("x-mock-exchange", &exchange.name)
                        .header("x-trimio-project", &project)
                        .header(name, value);
                    for (n, v) in &exchange.request.headers {
                        request = request.header(n, v);
                    }
                    let sent = Instant::now();
                    match request.body(exchange.request.body_bytes()).send().await {
                        Ok(r) => {
                            let status = r.status().as_u16();
                            let id = r
                                .headers()
                                .get("x-trimio-request-id")
                                .and_then(|v| v.to_str().ok())
                                .map(str::to_owned);
                            let _ = r.bytes().await;
                            Seen {
                                status,
                                request_id: id,
                                sent,
                            }
                        }
                        Err(_) => Seen {
                            status: 0,
                            request_id: None,
                            sent,
                        },
                    }
                };
                if s.status != 200 {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                seen.push(s);
            }
            seen
        }));
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let killed_at = Instant::now();
    {
        let mut guard = stack.lock().await;
        guard.control_plane.stop(true).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    {
        let mut guard = stack.lock().await;
        guard.control_plane.start_again().await.unwrap();
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap());
    }
    let stack = Arc::into_inner(stack).unwrap().into_inner();
    let answered: Vec<String> = all.iter().filter_map(|s| s.request_id.clone()).collect();
    let mut statuses: HashMap<u16, u64> = HashMap::new();
    for s in &all {
        *statuses.entry(s.status).or_default() += 1;
    }
    let rel = |s: &Seen| {
        s.sent.duration_since(killed_at).as_secs_f64()
            - killed_at.saturating_duration_since(s.sent).as_secs_f64()
    };
    let first_400 = all
        .iter()
        .filter(|s| s.status == 400)
        .map(rel)
        .fold(f64::MAX, f64::min);
    let ok_before = all
        .iter()
        .filter(|s| s.status == 200 && rel(s) < 0.0)
        .count();
    let ok_after = all
        .iter()
        .filter(|s| s.status == 200 && rel(s) >= 0.0)
        .count();
    eprintln!(
        "first 400 at {first_400:.2}s from the kill; 200s before the kill {ok_before}, \
         after {ok_after}"
    );
    let settled = wait_for(Duration::from_secs(30), || async {
        stack.envoy.trimio_counter("records_waiting").await == 0
            && stack.envoy.trimio_counter("records_delivered").await
                >= stack.envoy.trimio_counter("records_queued").await
    })
    .await;
    assert!(settled, "delivery settled");
    let mut lost = 0;
    for id in &answered {
        if stack.control_plane.admin.call(id).await.unwrap().is_none() {
            lost += 1;
        }
    }
    let report = stack
        .control_plane
        .admin
        .report("group_by=team")
        .await
        .unwrap();
    let records = report["total"]["calls"].as_u64().unwrap();
    let spent = team_spend_usd(&stack, &team_id).await;
    eprintln!(
        "{failure_mode}: statuses {statuses:?}; {} answered with an id (+3 first), \
         {records} records, {lost} lost; spent {spent} of 3.00; queued {} delivered {} \
         duplicate {}",
        answered.len(),
        stack.envoy.trimio_counter("records_queued").await,
        stack.envoy.trimio_counter("records_delivered").await,
        stack.envoy.trimio_counter("records_duplicate").await,
    );
    assert_eq!(lost, 0);
    assert_eq!(
        records,
        answered.len() as u64 + 3,
        "one record per answered call"
    );
    stack.stop().await;
    spent
}

/// The exchange's JSON body padded to about `size` bytes.
fn padded_body(exchange: &Exchange, size: usize) -> Vec<u8> {
    let mut body: Value = exchange.request.body.clone().unwrap();
    body["metadata"] = json!({"user_id": "x".repeat(size)});
    serde_json::to_vec(&body).unwrap()
}

async fn reserved_pico(stack: &Stack, request_id: &str) -> f64 {
    let record = stack
        .control_plane
        .admin
        .wait_for_call(request_id, Duration::from_secs(10))
        .await
        .unwrap();
    record["reserved_usd"]
        .as_str()
        .map_or(-1.0, |usd| usd.parse::<f64>().unwrap() * 1e12)
}

/// Sends over HTTP/2 declaring `declared` as content-length and sending `body`.
async fn h2_lying(
    port: u16,
    exchange: &Exchange,
    key: &str,
    declared: usize,
    body: Vec<u8>,
) -> (u16, Option<String>) {
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let (client, connection) = h2::client::handshake(tcp).await.unwrap();
    tokio::spawn(connection);
    let mut client = client.ready().await.unwrap();
    let mut request = http::Request::builder()
        .method("POST")
        .uri(format!("http://127.0.0.1:{port}{}", exchange.request.path))
        .header("x-mock-exchange", &exchange.name)
        .header("content-length", declared.to_string());
    for (name, value) in &exchange.request.headers {
        request = request.header(name.as_str(), value.as_str());
    }
    let (name, value) = trimio_e2e::client::key_header(exchange, key);
    let request = request.header(name, value).body(()).unwrap();
    let Ok((response, mut stream)) = client.send_request(request, false) else {
        return (0, None);
    };
    let mut rest = bytes::Bytes::from(body);
    while !rest.is_empty() {
        stream.reserve_capacity(rest.len());
        let cap = match futures_util::future::poll_fn(|cx| stream.poll_capacity(cx)).await {
            Some(Ok(cap)) => cap,
            _ => break,
        };
        let piece = rest.split_to(cap.min(rest.len()));
        if stream.send_data(piece, rest.is_empty()).is_err() {
            break;
        }
    }
    match tokio::time::timeout(Duration::from_secs(10), response).await {
        Ok(Ok(response)) => {
            let id = response
                .headers()
                .get("x-trimio-request-id")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            (response.status().as_u16(), id)
        }
        _ => (0, None),
    }
}

/// Under one lease a call is charged for its body: a 200 KB body with content-length, the same
/// body chunked without one, and over HTTP/2 a content-length that understates the body.
#[tokio::test(flavor = "multi_thread")]
async fn a_lease_charges_each_call_for_the_body_it_sends() {
    let exchange = named("anthropic-json");
    let stack = stack_of(vec![exchange.clone()], StackOptions::default()).await;
    let (_, key) = stack.team_with_key("payments", Some("1000")).await.unwrap();
    for _ in 0..3 {
        let (outcome, _) = stack.call(&exchange, &key).await.unwrap();
        assert_eq!(outcome.status, 200);
    }
    let http = client();
    let small = post(&http, &stack, &exchange, &key, &[], None).await;
    let big = padded_body(&exchange, 200_000);
    let with_length = post(&http, &stack, &exchange, &key, &[], Some(big.clone())).await;

    // Chunked, no content-length.
    let pieces: Vec<Result<Vec<u8>, std::io::Error>> =
        big.chunks(16 * 1024).map(|c| Ok(c.to_vec())).collect();
    let (name, value) = trimio_e2e::client::key_header(&exchange, &key);
    let mut request = http
        .post(stack.envoy.url(&exchange.request.path))
        .header("x-mock-exchange", &exchange.name)
        .header(name, value);
    for (n, v) in &exchange.request.headers {
        request = request.header(n, v);
    }
    let response = request
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            pieces,
        )))
        .send()
        .await
        .unwrap();
    let chunked_status = response.status().as_u16();
    let chunked_id = response
        .headers()
        .get("x-trimio-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let _ = response.bytes().await;

    let (h2_status, h2_id) = h2_lying(stack.envoy.port, &exchange, &key, 625, big.clone()).await;

    let by_lease = stack.envoy.trimio_counter("calls_admitted_by_lease").await;
    let r_small = reserved_pico(&stack, small.request_id.as_deref().unwrap()).await;
    let r_len = reserved_pico(&stack, with_length.request_id.as_deref().unwrap()).await;
    let r_chunked = match &chunked_id {
        Some(id) => reserved_pico(&stack, id).await,
        None => -1.0,
    };
    let r_h2 = match &h2_id {
        Some(id) => reserved_pico(&stack, id).await,
        None => -1.0,
    };
    eprintln!(
        "by lease {by_lease}; charged: small {r_small:.0}, 200 KB with length {r_len:.0} \
         ({}), chunked {r_chunked:.0} ({chunked_status}), h2 declaring 625 {r_h2:.0} \
         ({h2_status})",
        with_length.status
    );
    assert!(
        r_len > 100.0 * r_small,
        "the 200 KB body was charged like a small one"
    );
    assert!(
        chunked_status != 200 || r_chunked > 100.0 * r_small,
        "the chunked 200 KB body was charged like a small one"
    );
    assert!(
        h2_status != 200 || r_h2 > 100.0 * r_small,
        "an HTTP/2 body longer than its content-length passed, charged like a small one"
    );
    stack.stop().await;
}

/// README ("What does not work yet"): a lease charges the team's recent rates, so calls dearer
/// than the recent ones pass a hard budget "by the difference". How far: three cheap OpenAI
/// calls (0.0035 USD), then 16 clients of Gemini 2.5 Pro calls (0.0859 USD each) on a 1 USD
/// budget.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "documented limitation (README, What does not work yet); run to measure it"]
async fn dear_calls_after_cheap_ones_pass_a_hard_budget_by_how_much() {
    dear_after_cheap(None).await;
}

/// The same without leases, for comparison.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "documented limitation (README, What does not work yet); run to measure it"]
async fn dear_calls_after_cheap_ones_without_leases() {
    dear_after_cheap(Some(0)).await;
}

async fn dear_after_cheap(lease_ms: Option<u64>) {
    let cheap = named("openai-chat-json");
    let dear = slow("gemini-thoughts", 0);
    let options = StackOptions {
        lease_ms,
        ..StackOptions::default()
    };
    let stack = stack_of(vec![cheap.clone(), dear.clone()], options).await;
    let (team_id, key) = stack.team_with_key("payments", Some("1.00")).await.unwrap();
    for _ in 0..3 {
        let (outcome, _) = stack.call(&cheap, &key).await.unwrap();
        assert_eq!(outcome.status, 200);
    }
    let stack = Arc::new(stack);
    let seen = hammer(&stack, &dear, &key, 16, |_| None, Duration::from_secs(10)).await;
    let stack = Arc::into_inner(stack).unwrap();
    let passed = seen.iter().filter(|s| s.status == 200).count();
    ledger_catches_up(&stack, Duration::from_secs(10)).await;
    let spent = team_spend_usd(&stack, &team_id).await;
    let by_lease = stack.envoy.trimio_counter("calls_admitted_by_lease").await;
    eprintln!(
        "lease_ms {lease_ms:?}: {passed} dear calls passed ({by_lease} by lease); \
         spent {spent} of 1.00"
    );
    assert!(spent <= 1.00 + 2.0 * 0.0859, "spent {spent} of 1.00");
    stack.stop().await;
}

/// A gateway with a credential for Anthropic only (README: `cargo xtask up` uses "the
/// provider keys ... (any you have)"). Calls to an OpenAI path are refused for want of a
/// credential before admission, so they hold nothing: after forty of them the team's real
/// calls still spend its 1.50 USD budget.
#[tokio::test(flavor = "multi_thread")]
async fn calls_refused_for_want_of_a_credential_hold_no_budget() {
    let anthropic = named("anthropic-json");
    let openai = named("openai-chat-json");
    let mut stack = stack_of(
        vec![anthropic.clone(), openai.clone()],
        StackOptions::default(),
    )
    .await;
    // The same Envoy, with the Anthropic credential only.
    stack.envoy.stop().await;
    let config = trimio_e2e::envoy_config::render(&stack.envoy_options);
    let token = stack.control_plane.filter_token.clone();
    stack.envoy = trimio_e2e::envoy::Envoy::start_with_config(
        stack.dir.path(),
        &config,
        &[
            ("ANTHROPIC_API_KEY", "sk-ant-provider-credential"),
            (trimio_e2e::envoy::FILTER_TOKEN_ENV, token.as_str()),
        ],
    )
    .await
    .unwrap();
    let (team_id, key) = stack.team_with_key("payments", Some("1.50")).await.unwrap();
    for _ in 0..3 {
        let (outcome, _) = stack.call(&anthropic, &key).await.unwrap();
        assert_eq!(outcome.status, 200);
    }
    let http = client();
    let mut refused = HashMap::new();
    for _ in 0..40 {
        let seen = post(&http, &stack, &openai, &key, &[], None).await;
        *refused.entry(seen.status).or_insert(0) += 1;
    }
    tokio::time::sleep(Duration::from_secs(6)).await;
    let budget = team_budget(&stack, &team_id).await;
    eprintln!(
        "40 OpenAI calls answered {refused:?}; the budget now: spend {} held {}",
        budget["current"]["spend_usd"], budget["current"]["reserved_usd"]
    );
    let mut admitted = 0;
    for _ in 0..100 {
        if post(&http, &stack, &anthropic, &key, &[], None)
            .await
            .status
            != 200
        {
            break;
        }
        admitted += 1;
    }
    ledger_catches_up(&stack, Duration::from_secs(10)).await;
    let spent = team_spend_usd(&stack, &team_id).await;
    eprintln!("then {admitted} Anthropic calls before a refusal; spent {spent} of 1.50");
    assert!(
        spent >= 1.50 - 2.0 * 0.01875,
        "refused at {spent} of 1.50: calls that never ran hold the rest"
    );
    stack.stop().await;
}

/// A client that hangs up while its admission is being decided (a tool's timeout, Ctrl-C)
/// never runs; its record (status 0, flagged) releases what the control plane reserved for
/// it. Forty such calls during a stall of the control plane leave a 1.50 USD budget free.
#[tokio::test(flavor = "multi_thread")]
async fn calls_whose_client_hung_up_before_admission_hold_no_budget() {
    let exchange = named("anthropic-json");
    let stack = stack_of(vec![exchange.clone()], StackOptions::default()).await;
    let (team_id, key) = stack.team_with_key("payments", Some("1.50")).await.unwrap();
    let pid = stack.control_plane.pid().unwrap().to_string();
    let signal = |sig: &str| {
        let status = std::process::Command::new("kill")
            .args([sig, &pid])
            .status()
            .unwrap();
        assert!(status.success());
    };
    signal("-STOP");
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let stack = Arc::new(stack);
    let mut tasks = Vec::new();
    for c in 0..40 {
        let (stack, http, key, exchange) = (
            stack.clone(),
            impatient.clone(),
            key.clone(),
            exchange.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let project = format!("p{c}");
            post(
                &http,
                &stack,
                &exchange,
                &key,
                &[("x-trimio-project", &project)],
                None,
            )
            .await
            .status
        }));
    }
    let mut statuses = HashMap::new();
    for task in tasks {
        *statuses.entry(task.await.unwrap()).or_insert(0) += 1;
    }
    signal("-CONT");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let stack = Arc::into_inner(stack).unwrap();
    let budget = team_budget(&stack, &team_id).await;
    let report = stack
        .control_plane
        .admin
        .report("group_by=team")
        .await
        .unwrap();
    eprintln!(
        "40 clients hung up ({statuses:?}); records {}; the budget: spend {} held {}",
        report["total"]["calls"], budget["current"]["spend_usd"], budget["current"]["reserved_usd"]
    );
    let held: f64 = budget["current"]["reserved_usd"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(held < 0.05, "{held} USD held for calls that never ran");
    stack.stop().await;
}

/// A key revoked, then the control plane away within `--lease-ms` (before any renewal told
/// the gateway): failing open, the revoked key passes for the whole outage, because nothing
/// ever told the gateway. (README documents that a key revoked *during* an outage passes.)
#[tokio::test(flavor = "multi_thread")]
#[ignore = "documented limitation (README, What does not work yet): a key revoked within a \
            lease's time before an outage is still known for failing open; run to measure it"]
async fn a_key_revoked_just_before_an_outage_does_not_fail_open() {
    const LEASE_MS: u64 = 2_000;
    let exchange = named("anthropic-json");
    let mut stack = stack_of(vec![exchange.clone()], with_lease(LEASE_MS)).await;
    let admin = stack.control_plane.admin.clone();
    let team = admin.create_team("platform", None).await.unwrap();
    let (key_id, key) = admin
        .issue_key(team["id"].as_str().unwrap(), None)
        .await
        .unwrap();
    let http = client();
    for _ in 0..2 {
        assert_eq!(
            post(&http, &stack, &exchange, &key, &[], None).await.status,
            200
        );
    }
    admin.revoke_key(&key_id).await.unwrap();
    stack.control_plane.stop(false).await;
    let revoked_at = Instant::now();
    let mut passed_late = 0;
    while revoked_at.elapsed() < Duration::from_secs(8) {
        let seen = post(&http, &stack, &exchange, &key, &[], None).await;
        if seen.status == 200 && revoked_at.elapsed() > Duration::from_millis(LEASE_MS + 400) {
            passed_late += 1;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    eprintln!("{passed_late} calls of the revoked key passed after the lease's time");
    stack.control_plane.start_again().await.unwrap();
    assert_eq!(passed_late, 0);
    stack.stop().await;
}

/// Renewals as often as can be (`--lease-ms 200`: one every 100 ms), 50 clients on one key,
/// calls in flight ~0.8 s: what the old lease admits while its renewal is on the way is told
/// to the control plane once the new lease is in place, so a hard budget still holds.
/// A larger budget (15 USD, ~800 calls), fast calls, 50 clients, for many leased calls.
#[tokio::test(flavor = "multi_thread")]
async fn a_larger_hard_budget_holds_under_50_clients() {
    for lease_ms in [200, 5_000] {
        let exchange = slow("anthropic-claude-code-stream", 0);
        let stack = stack_of(vec![exchange.clone()], with_lease(lease_ms)).await;
        let (team_id, key) = stack.team_with_key("payments", Some("15")).await.unwrap();
        for _ in 0..3 {
            let (outcome, _) = stack.call(&exchange, &key).await.unwrap();
            assert_eq!(outcome.status, 200);
        }
        let stack = Arc::new(stack);
        let seen = hammer(
            &stack,
            &exchange,
            &key,
            50,
            |_| None,
            Duration::from_secs(30),
        )
        .await;
        let stack = Arc::into_inner(stack).unwrap();
        let ok = seen.iter().filter(|s| s.status == 200).count();
        let (admitted, calls) = ledger_catches_up(&stack, Duration::from_secs(20)).await;
        let spent = team_spend_usd(&stack, &team_id).await;
        eprintln!(
            "lease {lease_ms} ms: {ok} passed, {} by lease, {} renewals; ledger {calls} of \
             {admitted}; spent {spent} of 15",
            stack.envoy.trimio_counter("calls_admitted_by_lease").await,
            stack.envoy.trimio_counter("lease_renewals").await
        );
        assert_eq!(admitted, calls);
        assert!(spent <= 15.0 + 2.0 * 0.018369, "spent {spent}");
        stack.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hard_budget_holds_with_renewals_every_100_ms() {
    for (projects, delay) in [(false, 100), (true, 100), (false, 0), (true, 0)] {
        let exchange = slow("anthropic-claude-code-stream", delay);
        let stack = stack_of(vec![exchange.clone()], with_lease(200)).await;
        let (team_id, key) = stack.team_with_key("payments", Some("1.50")).await.unwrap();
        for _ in 0..3 {
            let (outcome, _) = stack.call(&exchange, &key).await.unwrap();
            assert_eq!(outcome.status, 200);
        }
        let stack = Arc::new(stack);
        let seen = hammer(
            &stack,
            &exchange,
            &key,
            50,
            |c| projects.then(|| format!("p{}", c % 5)),
            Duration::from_secs(20),
        )
        .await;
        let stack = Arc::into_inner(stack).unwrap();
        let ok = seen.iter().filter(|s| s.status == 200).count();
        let (admitted, calls) = ledger_catches_up(&stack, Duration::from_secs(20)).await;
        let spent = team_spend_usd(&stack, &team_id).await;
        eprintln!(
            "lease 200 ms, projects={projects}, chunk delay {delay}: {ok} passed, {} by \
             lease, {} renewals; ledger {calls} of {admitted}; spent {spent} of 1.50",
            stack.envoy.trimio_counter("calls_admitted_by_lease").await,
            stack.envoy.trimio_counter("lease_renewals").await
        );
        assert_eq!(admitted, calls);
        assert!(spent <= 1.50 + 2.0 * 0.018369, "spent {spent}");
        stack.stop().await;
    }
}
