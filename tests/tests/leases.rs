//! Leases end to end: after a key's first call, the filter admits its calls under the lease
//! the control plane granted, without asking; every call is still recorded once; and a key
//! revoked or a budget lowered reaches the gateway when the lease ends.

use std::time::{Duration, Instant};

use trimio_e2e::paths;
use trimio_e2e::stack::{Stack, StackOptions};
use trimio_mock_provider::exchange::{self, Exchange};

fn anthropic_json() -> Exchange {
    exchange::load_all(&[paths::shared_fixtures(), paths::project_exchanges()])
        .expect("exchange files load")
        .into_iter()
        .find(|e| e.name == "anthropic-json")
        .expect("the anthropic-json exchange")
}

async fn stack(exchange: &Exchange, lease_ms: Option<u64>) -> Stack {
    let options = StackOptions {
        lease_ms,
        ..StackOptions::default()
    };
    let stack = Stack::start(vec![exchange.clone()], options)
        .await
        .expect("stack starts");
    stack
        .load_prices(std::slice::from_ref(exchange))
        .await
        .unwrap();
    stack
}

#[tokio::test(flavor = "multi_thread")]
async fn calls_after_the_first_are_admitted_under_the_lease_and_each_is_recorded() {
    let exchange = anthropic_json();
    let stack = stack(&exchange, None).await;
    let (team_id, key) = stack.team_with_key("platform", None).await.unwrap();

    let mut ids = Vec::new();
    for _ in 0..30 {
        let outcome = stack.send(&exchange, Some(&key)).await.unwrap();
        assert_eq!(outcome.status, 200);
        ids.push(outcome.request_id().unwrap().to_owned());
    }
    assert_eq!(stack.envoy.trimio_counter("calls_admitted").await, 30);
    assert_eq!(
        stack.envoy.trimio_counter("calls_admitted_by_lease").await,
        29,
        "only the first call is asked for"
    );
    let admin = &stack.control_plane.admin;
    for id in &ids {
        let record = admin
            .wait_for_call(id, Duration::from_secs(10))
            .await
            .unwrap();
        assert_eq!(record["cost_usd"], "0.01875");
        assert_eq!(record["team_id"], team_id.as_str());
    }
    let report = admin.report("group_by=team").await.unwrap();
    assert_eq!(report["total"]["calls"], 30, "{report}");
    assert_eq!(report["total"]["cost_usd"], "0.5625", "{report}");
    stack.stop().await;
}

/// Sends a call every 50 ms until one is refused; how long that took and the refusal.
async fn until_refused(stack: &Stack, exchange: &Exchange, key: &str) -> (Duration, u16, String) {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(10) {
        let outcome = stack.send(exchange, Some(key)).await.unwrap();
        if outcome.status != 200 {
            let body = String::from_utf8_lossy(&outcome.body).into_owned();
            return (started.elapsed(), outcome.status, body);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("never refused");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_revoked_key_and_a_lowered_budget_reach_the_gateway_within_the_lease() {
    const LEASE_MS: u64 = 1000;
    let exchange = anthropic_json();
    let stack = stack(&exchange, Some(LEASE_MS)).await;
    let admin = &stack.control_plane.admin;
    // The bound: the lease's time, plus the round trip of a renewal granted just before.
    let bound = Duration::from_millis(LEASE_MS + 400);

    let team = admin.create_team("platform", None).await.unwrap();
    let (key_id, key) = admin
        .issue_key(team["id"].as_str().unwrap(), None)
        .await
        .unwrap();
    assert_eq!(stack.send(&exchange, Some(&key)).await.unwrap().status, 200);
    assert_eq!(stack.send(&exchange, Some(&key)).await.unwrap().status, 200);
    assert_eq!(
        stack.envoy.trimio_counter("calls_admitted_by_lease").await,
        1
    );
    admin.revoke_key(&key_id).await.unwrap();
    let (took, status, body) = until_refused(&stack, &exchange, &key).await;
    assert_eq!(status, 401, "{body}");
    assert!(took <= bound, "revocation took {took:?}");
    for _ in 0..5 {
        assert_eq!(stack.send(&exchange, Some(&key)).await.unwrap().status, 401);
    }

    let (team_id, key) = stack.team_with_key("payments", Some("100")).await.unwrap();
    assert_eq!(stack.send(&exchange, Some(&key)).await.unwrap().status, 200);
    assert_eq!(stack.send(&exchange, Some(&key)).await.unwrap().status, 200);
    // Below what is spent (0.0375): no call fits.
    admin.set_budget(&team_id, Some("0.01")).await.unwrap();
    let (took, status, body) = until_refused(&stack, &exchange, &key).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("Budget exhausted"), "{body}");
    assert!(took <= bound, "the lowered budget took {took:?}");

    // Every call admitted reached the ledger once.
    let admitted = stack.envoy.trimio_counter("calls_admitted").await;
    let started = Instant::now();
    loop {
        let report = admin.report("group_by=team").await.unwrap();
        let calls = report["total"]["calls"].as_u64().unwrap();
        if calls == admitted {
            break;
        }
        assert!(calls < admitted, "{calls} records for {admitted} calls");
        assert!(started.elapsed() < Duration::from_secs(10), "{report}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn leased_calls_under_a_hard_budget_stop_at_it() {
    let exchange = anthropic_json();
    let stack = stack(&exchange, None).await;
    // Each call costs 0.01875: eighty calls fit in 1.50 exactly. The first calls are asked
    // for one by one, until their records teach the control plane what a call costs.
    let (_, key) = stack.team_with_key("payments", Some("1.50")).await.unwrap();
    let mut admitted = 0;
    for _ in 0..120 {
        let outcome = stack.send(&exchange, Some(&key)).await.unwrap();
        match outcome.status {
            200 => admitted += 1,
            400 => break,
            other => panic!("status {other}"),
        }
    }
    assert!(stack.envoy.trimio_counter("calls_admitted_by_lease").await > 0);
    assert!((70..=80).contains(&admitted), "{admitted} calls admitted");
    let refused = stack.send(&exchange, Some(&key)).await.unwrap();
    assert_eq!(refused.status, 400);
    stack.stop().await;
}
