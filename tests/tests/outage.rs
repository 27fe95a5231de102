//! The control plane away: calls go on (failing open for known keys), their usage waits in
//! Envoy's shared queue up to its bound, a record past the bound is dropped and counted, and
//! what waited is delivered once the control plane is back.

use std::collections::HashSet;
use std::time::Duration;

use trimio_e2e::paths;
use trimio_e2e::process::wait_for;
use trimio_e2e::stack::{Stack, StackOptions};
use trimio_mock_provider::exchange::{self, Exchange};

fn anthropic_json() -> Exchange {
    exchange::load_all(&[paths::project_exchanges()])
        .unwrap()
        .into_iter()
        .find(|e| e.name == "anthropic-json-provider-headers")
        .unwrap()
}

async fn stat(stack: &Stack, name: &str) -> u64 {
    stack
        .envoy
        .stats("trimio")
        .await
        .into_iter()
        .find(|(n, _)| n.ends_with(name))
        .map_or(0, |(_, v)| v)
}

#[tokio::test(flavor = "multi_thread")]
async fn usage_waits_in_a_bounded_queue_while_the_control_plane_is_away() {
    let exchange = anthropic_json();
    let options = StackOptions {
        max_queued_records: Some(5),
        ..StackOptions::default()
    };
    let mut stack = Stack::start(vec![exchange.clone()], options).await.unwrap();
    let (_, key) = stack.team_with_key("queued", None).await.unwrap();
    stack
        .load_prices(std::slice::from_ref(&exchange))
        .await
        .unwrap();
    // One call while the control plane is up makes the key known for failing open.
    stack.call(&exchange, &key).await.unwrap();

    stack.control_plane.stop(false).await;
    let mut answered = Vec::new();
    for _ in 0..20 {
        let outcome = stack.send(&exchange, Some(&key)).await.unwrap();
        assert_eq!(outcome.status, 200, "fails open for a known key");
        answered.push(outcome.request_id().unwrap().to_owned());
    }
    let settled = wait_for(Duration::from_secs(10), || async {
        stat(&stack, "records_queued").await + stat(&stack, "records_dropped").await == 21
    })
    .await;
    assert!(settled, "every record was queued or dropped");
    // Five wait in the queue; each of Envoy's two workers may hold one batch it is retrying.
    assert_eq!(stat(&stack, "records_waiting").await, 5);
    let dropped = stat(&stack, "records_dropped").await;
    assert!((13..=15).contains(&dropped), "dropped {dropped}");
    let log = stack.envoy.log();
    assert!(
        log.contains("usage record dropped (queue full or refused)"),
        "{log}"
    );

    stack.control_plane.start_again().await.unwrap();
    let delivered = wait_for(Duration::from_secs(30), || async {
        stat(&stack, "records_waiting").await == 0
            && stat(&stack, "records_delivered").await == 21 - dropped
    })
    .await;
    assert!(delivered, "what waited was delivered");
    let mut stored = HashSet::new();
    for id in &answered {
        if stack.control_plane.admin.call(id).await.unwrap().is_some() {
            stored.insert(id.clone());
        }
    }
    assert_eq!(
        stored.len() as u64,
        20 - dropped,
        "exactly the records not dropped"
    );
    stack.stop().await;
}
