//! Budgets through the whole router, with a clock the tests move.

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::http::{Method, Request, StatusCode, header};
use serde_json::{Value, json};
use tower::ServiceExt;
use trimio_wire::{AdmitRequest, ApiFamily, Provider, Usage, UsageBatch, UsageFlags, UsageRecord};

use crate::clock::ManualClock;
use crate::http::app;
use crate::pricing::shipped_defaults;
use crate::secret::Secret;
use crate::state::{AppState, Tokens};
use crate::store::SqliteStore;

const ADMIN: &str = "admin-token-for-tests";

struct Harness {
    app: Router,
    state: AppState,
    clock: ManualClock,
    _dir: tempfile::TempDir,
}

fn ms(text: &str) -> i64 {
    text.parse::<jiff::Timestamp>().unwrap().as_millisecond()
}

impl Harness {
    fn at(now: &str) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open(&dir.path().join("trimio.db")).unwrap());
        let tokens = Tokens {
            admin: Secret::new(ADMIN.into()),
            filter: None,
        };
        let clock = ManualClock::at(ms(now));
        let state = AppState::load_with_clock(
            store,
            shipped_defaults().unwrap(),
            tokens,
            Arc::new(clock.clone()),
        )
        .unwrap();
        Harness {
            app: app(state.clone()),
            state,
            clock,
            _dir: dir,
        }
    }

    async fn send(&self, method: Method, uri: &str, body: Option<Value>) -> (StatusCode, Value) {
        let request = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::AUTHORIZATION, format!("Bearer {ADMIN}"))
            .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
            .unwrap();
        let response = self.app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = to_bytes(response.into_body(), usize::MAX).await.unwrap();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    async fn ok(&self, method: Method, uri: &str, body: Option<Value>) -> Value {
        let (status, value) = self.send(method, uri, body).await;
        assert!(status.is_success(), "{uri}: {status} {value}");
        value
    }

    /// A team with a key; returns the key's hash and id.
    async fn team(&self, name: &str, project: Option<&str>) -> (String, String) {
        self.ok(Method::POST, "/v1/admin/teams", Some(json!({"name": name})))
            .await;
        self.ok(
            Method::PUT,
            "/v1/admin/prices/budget-model",
            Some(json!({"input": "1", "output": "1"})),
        )
        .await;
        let key = self
            .ok(
                Method::POST,
                &format!("/v1/admin/teams/{name}/keys"),
                Some(json!({"name": "laptop", "project": project})),
            )
            .await;
        let secret = key["key"].as_str().unwrap();
        (
            crate::keys::hash(secret),
            key["id"].as_str().unwrap().to_owned(),
        )
    }

    async fn admit(&self, request_id: &str, key_hash: &str, wait_ms: Option<u64>) -> Value {
        let request = AdmitRequest {
            request_id: request_id.into(),
            key_hash: key_hash.into(),
            provider: Provider::Openai,
            family: ApiFamily::OpenaiChat,
            model: Some("budget-model".into()),
            prompt_bytes: Some(1_200_000),
            max_tokens: Some(100),
            project: None,
            wait_ms,
            lease: false,
            previous: None,
        };
        let body = serde_json::to_value(request).unwrap();
        self.ok(Method::POST, "/v1/filter/admit", Some(body)).await
    }

    /// Stores calls of 300,000 input tokens (0.30 USD each) started at `started`.
    async fn usage(&self, ids: &[&str], key_hash: &str, started: &str) -> Value {
        self.usage_with(ids, key_hash, started, 300_000, 200).await
    }

    async fn usage_with(
        &self,
        ids: &[&str],
        key_hash: &str,
        started: &str,
        input: u64,
        status: u16,
    ) -> Value {
        let records = ids
            .iter()
            .map(|id| UsageRecord {
                request_id: (*id).into(),
                key_hash: key_hash.into(),
                project: None,
                user: None,
                provider: Provider::Openai,
                family: ApiFamily::OpenaiChat,
                model: Some("budget-model".into()),
                request_model: Some("budget-model".into()),
                usage: Usage {
                    input,
                    ..Usage::default()
                },
                service_tier: None,
                inference_geo: None,
                status,
                streamed: false,
                flags: UsageFlags::default(),
                started_at_ms: ms(started) as u64,
                duration_ms: 5,
                request_bytes: 1_200_000,
                lease: None,
            })
            .collect();
        let body = serde_json::to_value(UsageBatch { records }).unwrap();
        self.ok(Method::POST, "/v1/filter/usage", Some(body)).await
    }
}

fn decision(answer: &Value) -> &str {
    answer["decision"].as_str().unwrap()
}

#[tokio::test]
async fn spend_resets_at_midnight_in_the_budgets_zone_and_the_ledger_keeps_every_call() {
    // 23:30 on 31 December in New York is 04:30 UTC on 1 January.
    let h = Harness::at("2027-01-01T04:30:00Z");
    let (key, _) = h.team("night", None).await;
    let budget = h
        .ok(
            Method::POST,
            "/v1/admin/budgets",
            Some(json!({"team": "night", "amount_usd": "1", "time_zone": "America/New_York"})),
        )
        .await;
    let id = budget["id"].as_str().unwrap().to_owned();
    assert_eq!(
        budget["current"]["period_start"],
        "2026-12-01T00:00:00-05:00"
    );
    assert_eq!(budget["current"]["period_end"], "2027-01-01T00:00:00-05:00");

    h.usage(&["d1", "d2", "d3"], &key, "2027-01-01T04:40:00Z")
        .await;
    let denied = h.admit("d4", &key, None).await;
    assert_eq!(decision(&denied), "deny", "{denied}");
    assert_eq!(
        denied["message"],
        "team \"night\" has spent $0.90 of its $1.00 monthly budget and this call, estimated at \
         $0.30, would pass it; the budget resets on 2027-01-01 00:00 America/New_York"
    );

    // One second past midnight in New York.
    h.clock.set(ms("2027-01-01T05:00:01Z"));
    let allowed = h.admit("n1", &key, None).await;
    assert_eq!(decision(&allowed), "allow", "{allowed}");
    h.usage(&["n1"], &key, "2027-01-01T05:00:01Z").await;
    // A call of the old period arriving late is stored, and counts in the old period only.
    h.usage(&["d5"], &key, "2027-01-01T04:59:59Z").await;
    h.state.upkeep().await.unwrap();

    let budget = h
        .ok(Method::GET, &format!("/v1/admin/budgets/{id}"), None)
        .await;
    let current = &budget["current"];
    assert_eq!(current["period_start"], "2027-01-01T00:00:00-05:00");
    assert_eq!(current["period_end"], "2027-02-01T00:00:00-05:00");
    assert_eq!(current["spend_usd"], "0.3");
    assert_eq!(current["reserved_usd"], "0");

    for request_id in ["d1", "d2", "d3", "d5", "n1"] {
        let (status, call) = h
            .send(Method::GET, &format!("/v1/admin/calls/{request_id}"), None)
            .await;
        assert_eq!(status, StatusCode::OK, "{request_id}: {call}");
    }
    let report = h
        .ok(
            Method::GET,
            "/v1/admin/reports/spend?from=2026-12-31&to=2027-01-02&group_by=team",
            None,
        )
        .await;
    assert_eq!(report["total"]["calls"], 5);
    assert_eq!(report["total"]["cost_usd"], "1.5");
}

#[tokio::test]
async fn project_and_key_budgets_bind_their_calls_only_and_warn_only_never_denies() {
    let h = Harness::at("2026-12-04T12:00:00Z");
    let (checkout, checkout_key) = h.team("shop", Some("checkout")).await;
    let other = h
        .ok(
            Method::POST,
            "/v1/admin/teams/shop/keys",
            Some(json!({"name": "ci"})),
        )
        .await;
    let other = crate::keys::hash(other["key"].as_str().unwrap());

    let project = json!({"team": "shop", "project": "checkout", "amount_usd": "0.5"});
    h.ok(Method::POST, "/v1/admin/budgets", Some(project.clone()))
        .await;
    let (status, taken) = h
        .send(Method::POST, "/v1/admin/budgets", Some(project))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{taken}");

    h.usage(&["p1"], &checkout, "2026-12-04T11:00:00Z").await;
    let denied = h.admit("p2", &checkout, None).await;
    assert_eq!(decision(&denied), "deny");
    assert!(
        denied["message"]
            .as_str()
            .unwrap()
            .starts_with("project \"checkout\" of team \"shop\" has spent $0.30 of its $0.50"),
        "{denied}"
    );
    // The team's other key is not in the project.
    assert_eq!(decision(&h.admit("o1", &other, None).await), "allow");

    // A key budget, then warn-only.
    let body = json!({"team": "shop", "key_id": checkout_key, "amount_usd": "0.1", "mode": "warn"});
    let key_budget = h.ok(Method::POST, "/v1/admin/budgets", Some(body)).await;
    assert_eq!(key_budget["scope"], "key");
    let projects = h.ok(Method::GET, "/v1/admin/budgets?team=shop", None).await;
    let project_id = projects["budgets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["scope"] == "project")
        .and_then(|b| b["id"].as_str())
        .unwrap()
        .to_owned();
    h.ok(
        Method::PATCH,
        &format!("/v1/admin/budgets/{project_id}"),
        Some(json!({"mode": "warn"})),
    )
    .await;
    assert_eq!(decision(&h.admit("p3", &checkout, None).await), "allow");
}

#[tokio::test]
async fn a_call_held_back_by_calls_in_flight_waits_for_them_to_settle() {
    let h = Harness::at("2026-12-04T12:00:00Z");
    let (key, _) = h.team("burst", None).await;
    h.ok(
        Method::POST,
        "/v1/admin/budgets",
        Some(json!({"team": "burst", "amount_usd": "1"})),
    )
    .await;
    // Teach the estimator: 0.30 a call.
    h.usage(&["w0"], &key, "2026-12-04T11:00:00Z").await;
    // 0.30 spent; two calls in flight hold 0.60; a third would pass 1.00 only if they cost
    // what they hold.
    assert_eq!(decision(&h.admit("w1", &key, None).await), "allow");
    assert_eq!(decision(&h.admit("w2", &key, None).await), "allow");
    let at_once = h.admit("w3", &key, None).await;
    assert_eq!(decision(&at_once), "deny");
    assert!(
        at_once["message"]
            .as_str()
            .unwrap()
            .contains("and calls in flight and gateways' leases hold the rest"),
        "{at_once}"
    );

    // Waiting: w1 fails upstream and settles at nothing, which makes room.
    let waiter = {
        let h_app = h.app.clone();
        let key = key.clone();
        tokio::spawn(async move {
            let request = json!({
                "request_id": "w4", "key_hash": key, "provider": "openai",
                "family": "openai_chat", "model": "budget-model",
                "prompt_bytes": 1_200_000, "max_tokens": 100, "wait_ms": 5000,
            });
            let request = Request::builder()
                .method(Method::POST)
                .uri("/v1/filter/admit")
                .body(Body::from(request.to_string()))
                .unwrap();
            let response = h_app.oneshot(request).await.unwrap();
            let bytes = to_bytes(response.into_body(), usize::MAX).await.unwrap();
            serde_json::from_slice::<Value>(&bytes).unwrap()
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert!(
        !waiter.is_finished(),
        "the call waits while w1 and w2 hold the rest"
    );
    let failed = h
        .usage_with(&["w1"], &key, "2026-12-04T12:00:00Z", 0, 529)
        .await;
    assert_eq!(failed["accepted"], 1);
    let answer = waiter.await.unwrap();
    assert_eq!(decision(&answer), "allow", "{answer}");
}

#[tokio::test]
async fn a_strict_budget_is_never_passed_whatever_the_calls_cost_and_however_they_interleave() {
    let h = Harness::at("2026-12-04T12:00:00Z");
    let (key, _) = h.team("careful", None).await;
    let body = json!({"team": "careful", "amount_usd": "20", "strict": true});
    let budget = h.ok(Method::POST, "/v1/admin/budgets", Some(body)).await;
    let id = budget["id"].as_str().unwrap().to_owned();

    // Each request: 1.2 MB of body, max_tokens 100. Its worst case is 1.2M tokens at the
    // dearest prompt price plus 100 output tokens.
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move |below: u64| {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (seed >> 33) % below
    };
    let mut in_flight: Vec<String> = Vec::new();
    let (mut admitted, mut n) = (0, 0);
    while n < 400 {
        n += 1;
        let request_id = format!("s{n}");
        if decision(&h.admit(&request_id, &key, None).await) == "allow" {
            admitted += 1;
            in_flight.push(request_id);
        }
        // Settle a random few of the calls in flight, each at a random cost up to its worst.
        while !in_flight.is_empty() && next(3) == 0 {
            let done = in_flight.swap_remove(next(in_flight.len() as u64) as usize);
            let input = next(1_200_001);
            h.usage_with(&[&done], &key, "2026-12-04T12:00:00Z", input, 200)
                .await;
        }
        let state = h
            .ok(Method::GET, &format!("/v1/admin/budgets/{id}"), None)
            .await;
        let spent = crate::money::parse_usd(state["current"]["spend_usd"].as_str().unwrap());
        assert!(
            spent.unwrap() <= 20_000_000_000_000,
            "passed at call {n}: {state}"
        );
    }
    assert!(admitted >= 15, "admitted {admitted}");
}

#[tokio::test]
async fn alerts_come_once_per_month_whatever_its_zone_and_again_for_a_new_amount() {
    let h = Harness::at("2026-12-11T12:00:00Z");
    let (key, _) = h.team("zones", None).await;
    let budget = h
        .ok(
            Method::POST,
            "/v1/admin/budgets",
            Some(json!({"team": "zones", "amount_usd": "1"})),
        )
        .await;
    let id = budget["id"].as_str().unwrap().to_owned();
    let thresholds = |alerts: &Value, amount: &str| -> Vec<u64> {
        let mut found: Vec<u64> = alerts["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["kind"] == "threshold" && a["amount_usd"] == amount)
            .map(|a| a["threshold_percent"].as_u64().unwrap())
            .collect();
        found.sort_unstable();
        found
    };

    h.usage(&["z1", "z2"], &key, "2026-12-11T11:00:00Z").await;
    for zone in ["Europe/Berlin", "America/St_Johns", "UTC"] {
        let body = json!({"time_zone": zone});
        h.ok(
            Method::PATCH,
            &format!("/v1/admin/budgets/{id}"),
            Some(body),
        )
        .await;
        h.usage_with(
            &[&format!("tz-{zone}")],
            &key,
            "2026-12-11T11:00:00Z",
            1,
            200,
        )
        .await;
    }
    let alerts = h.ok(Method::GET, "/v1/admin/alerts?team=zones", None).await;
    assert_eq!(thresholds(&alerts, "1"), [50], "{alerts}");
    let forecasts = alerts["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["kind"] == "forecast")
        .count();
    assert_eq!(forecasts, 1, "{alerts}");

    // Raised to 10 USD: its own thresholds alert when reached.
    h.ok(
        Method::PATCH,
        &format!("/v1/admin/budgets/{id}"),
        Some(json!({"amount_usd": "10"})),
    )
    .await;
    let ids: Vec<String> = (0..15).map(|n| format!("r{n}")).collect();
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    h.usage(&ids, &key, "2026-12-11T11:30:00Z").await;
    let alerts = h.ok(Method::GET, "/v1/admin/alerts?team=zones", None).await;
    assert_eq!(thresholds(&alerts, "1"), [50]);
    assert_eq!(thresholds(&alerts, "10"), [50], "{alerts}");
}

#[tokio::test]
async fn waiting_admissions_are_bounded() {
    let h = Harness::at("2026-12-04T12:00:00Z");
    let (key, _) = h.team("herd", None).await;
    h.ok(
        Method::POST,
        "/v1/admin/budgets",
        Some(json!({"team": "herd", "amount_usd": "1"})),
    )
    .await;
    h.usage(&["h0"], &key, "2026-12-04T11:00:00Z").await;
    // 0.30 spent; two calls in flight hold 0.60: every further call would wait.
    assert_eq!(decision(&h.admit("h1", &key, None).await), "allow");
    assert_eq!(decision(&h.admit("h2", &key, None).await), "allow");

    let mut waiting = Vec::new();
    for n in 0..crate::state::MAX_WAITERS {
        let app = h.app.clone();
        let key = key.clone();
        waiting.push(tokio::spawn(async move {
            let request = json!({
                "request_id": format!("w{n}"), "key_hash": key, "provider": "openai",
                "family": "openai_chat", "model": "budget-model",
                "prompt_bytes": 1_200_000, "max_tokens": 100, "wait_ms": 2000,
            });
            let request = Request::builder()
                .method(Method::POST)
                .uri("/v1/filter/admit")
                .body(Body::from(request.to_string()))
                .unwrap();
            app.oneshot(request).await.unwrap().status()
        }));
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(waiting.iter().all(|w| !w.is_finished()), "they wait");
    let started = std::time::Instant::now();
    let past = h.admit("past-the-bound", &key, Some(2000)).await;
    assert_eq!(decision(&past), "deny");
    assert!(started.elapsed() < std::time::Duration::from_millis(1000));
    for w in waiting {
        assert_eq!(w.await.unwrap(), StatusCode::OK);
    }
}

/// Pico-dollars per US dollar.
const USD: i128 = 1_000_000_000_000;

impl Harness {
    /// Asks for a lease, with a call (`request_id`) or alone (empty), giving `previous` back.
    async fn lease(&self, request_id: &str, key_hash: &str, previous: Option<Value>) -> Value {
        let request = json!({
            "request_id": request_id, "key_hash": key_hash, "provider": "openai",
            "family": "openai_chat", "model": "budget-model",
            "prompt_bytes": if request_id.is_empty() { None } else { Some(1_200_000) },
            "max_tokens": 100, "lease": true, "previous": previous,
        });
        self.ok(Method::POST, "/v1/filter/admit", Some(request))
            .await
    }

    fn held(&self) -> i128 {
        self.state
            .memory()
            .budgets
            .all()
            .map(|state| state.held_pico)
            .sum()
    }
}

#[tokio::test]
async fn a_lease_holds_a_share_of_what_is_left_and_gives_back_what_it_did_not_use() {
    let h = Harness::at("2026-12-04T12:00:00Z");
    let (key, _) = h.team("leased", None).await;
    h.ok(
        Method::POST,
        "/v1/admin/budgets",
        Some(json!({"team": "leased", "amount_usd": "100"})),
    )
    .await;
    // Teach the estimator: 0.30 a call of 1,200,000 bytes, all of it prompt.
    h.usage(&["w0"], &key, "2026-12-04T11:00:00Z").await;

    let answer = h.lease("a1", &key, None).await;
    assert_eq!(decision(&answer), "allow", "{answer}");
    let lease = &answer["lease"];
    let id = lease["id"].as_str().unwrap().to_owned();
    assert_eq!(lease["valid_ms"], 5000);
    // A quarter of what is left after the spend (0.30) and this call's estimate (0.30).
    let limit = i128::from(lease["limit_pico"].as_u64().unwrap());
    assert_eq!(limit, (100 * USD - 3 * USD / 10 - 3 * USD / 10) / 4);
    assert_eq!(lease["call_pico"], 0);
    // 0.30 USD over 1,200,000 bytes, a KiB at a time.
    assert_eq!(
        i128::from(lease["prompt_pico_per_kib"].as_u64().unwrap()),
        3 * USD / 10 * 1024 / 1_200_000
    );
    assert_eq!(
        h.held(),
        3 * USD / 10 + limit,
        "the call's estimate and the lease"
    );

    // A call admitted under the lease releases what it was charged when its record comes.
    let mut charged = h.usage(&["c1"], &key, "2026-12-04T12:00:01Z").await;
    assert_eq!(charged["accepted"], 1);
    let record = json!({
        "request_id": "c2", "key_hash": key, "provider": "openai", "family": "openai_chat",
        "model": "budget-model", "usage": {"input": 300_000}, "status": 200,
        "streamed": false, "started_at_ms": ms("2026-12-04T12:00:02Z"), "duration_ms": 5,
        "request_bytes": 1_200_000, "lease": {"id": id, "pico": 250_000_000_000u64},
    });
    charged = h
        .ok(
            Method::POST,
            "/v1/filter/usage",
            Some(json!({"records": [record]})),
        )
        .await;
    assert_eq!(charged["accepted"], 1);
    assert_eq!(h.held(), 3 * USD / 10 + limit - USD / 4);
    // The same record again releases nothing more.
    h.ok(
        Method::POST,
        "/v1/filter/usage",
        Some(json!({"records": [record]})),
    )
    .await;
    assert_eq!(h.held(), 3 * USD / 10 + limit - USD / 4);

    // Given back having charged 0.75 in all: 0.50 of calls still running stays held, the
    // rest of the limit is released, and the new lease holds its own share.
    let renewed = h
        .lease(
            "",
            &key,
            Some(json!({"id": id, "used_pico": 750_000_000_000u64})),
        )
        .await;
    let new_limit = i128::from(renewed["lease"]["limit_pico"].as_u64().unwrap());
    assert_ne!(renewed["lease"]["id"].as_str().unwrap(), id);
    assert_eq!(h.held(), 3 * USD / 10 + USD / 2 + new_limit);
    // Given back twice, it is released once; and while the renewed lease is out, the key
    // gets no other.
    let again = h
        .lease("", &key, Some(json!({"id": id, "used_pico": 0})))
        .await;
    assert_eq!(decision(&again), "allow");
    assert!(again.get("lease").is_none(), "{again}");
    assert_eq!(h.held(), 3 * USD / 10 + USD / 2 + new_limit);
}

#[tokio::test]
async fn only_keys_without_a_strict_budget_get_leases() {
    let h = Harness::at("2026-12-04T12:00:00Z");
    let (free, _) = h.team("free", None).await;
    let answer = h.lease("f1", &free, None).await;
    assert_eq!(decision(&answer), "allow");
    assert!(answer["lease"]["id"].is_string(), "{answer}");
    assert!(
        answer["lease"].get("limit_pico").is_none(),
        "no hard budget, no limit"
    );
    assert_eq!(h.held(), 0);

    let (careful, _) = h.team("careful", None).await;
    h.ok(
        Method::POST,
        "/v1/admin/budgets",
        Some(json!({"team": "careful", "amount_usd": "100", "strict": true})),
    )
    .await;
    let answer = h.lease("s1", &careful, None).await;
    assert_eq!(decision(&answer), "allow");
    assert!(answer.get("lease").is_none(), "{answer}");

    // Nearly spent: too little left for two calls at their estimate.
    let (tight, _) = h.team("tight", None).await;
    h.ok(
        Method::POST,
        "/v1/admin/budgets",
        Some(json!({"team": "tight", "amount_usd": "1"})),
    )
    .await;
    h.usage(&["t0"], &tight, "2026-12-04T11:00:00Z").await;
    let answer = h.lease("t1", &tight, None).await;
    assert_eq!(decision(&answer), "allow");
    assert!(answer.get("lease").is_none(), "{answer}");
}
