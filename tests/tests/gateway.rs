//! The gateway end to end: real Envoy with the filter, the real control-plane process, and the
//! mock provider replaying exchange files byte for byte.

use std::time::Duration;

use trimio_e2e::client::{self, EXCHANGE_HEADER};
use trimio_e2e::envoy::{Envoy, TEST_CREDENTIALS};
use trimio_e2e::envoy_config::{self, EnvoyOptions, Upstreams};
use trimio_e2e::expect;
use trimio_e2e::paths;
use trimio_e2e::stack::{Stack, StackOptions};
use trimio_mock_provider::exchange::{self, Exchange};

fn load(dirs: &[std::path::PathBuf]) -> Vec<Exchange> {
    exchange::load_all(dirs).expect("exchange files load")
}

fn all_exchanges() -> Vec<Exchange> {
    load(&[paths::shared_fixtures(), paths::project_exchanges()])
}

fn named(exchanges: &[Exchange], name: &str) -> Exchange {
    exchanges
        .iter()
        .find(|e| e.name == name)
        .cloned()
        .unwrap_or_else(|| panic!("no exchange {name}"))
}

fn is_gemini(exchange: &Exchange) -> bool {
    exchange.request.path.starts_with("/v1beta/")
}

async fn stack(exchanges: &[Exchange]) -> Stack {
    match Stack::start(exchanges.to_vec(), StackOptions::default()).await {
        Ok(stack) => stack,
        Err(err) => panic!("stack did not start: {err}"),
    }
}

/// Every exchange: usage and cost as expected, the client gets the provider's bytes, and the
/// provider sees the configured credential, never the virtual key.
async fn bills_every_exchange(options: StackOptions) {
    let exchanges = all_exchanges();
    let stack = Stack::start(exchanges.clone(), options)
        .await
        .expect("stack starts");
    let (_, key) = stack.team_with_key("platform", None).await.unwrap();
    stack.load_prices(&exchanges).await.unwrap();

    let mut checked = 0;
    for exchange in &exchanges {
        let (outcome, record) = stack.call(exchange, &key).await.unwrap();
        if let Err(why) = client::passthrough(exchange, &outcome) {
            panic!("{}: not passed through: {why}", exchange.name);
        }
        let expect = exchange
            .expect
            .as_ref()
            .expect("every exchange has an expect");
        if let Err(why) = expect::check(expect, &record) {
            panic!("{}: {why}\nrecord: {record:#}", exchange.name);
        }
        assert_eq!(record["team"], "platform", "{}", exchange.name);
        // The size of the body the client sent, before any rewrite; shown once the ledger's
        // call view carries it.
        if let Some(bytes) = record.get("request_bytes") {
            let sent = exchange.request.body_bytes().len() as u64;
            assert_eq!(bytes.as_u64(), Some(sent), "{}", exchange.name);
        }
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} exchanges checked");

    let received = stack.mock.requests();
    assert_eq!(received.len(), checked);
    for request in &received {
        let key_seen = request.headers.iter().any(|(_, v)| v.contains(&key));
        assert!(
            !key_seen,
            "{:?}: the virtual key reached the provider",
            request.exchange
        );
        let credential = match request.path.as_str() {
            p if p.starts_with("/v1/messages") => ("x-api-key", TEST_CREDENTIALS[0].1.to_owned()),
            p if p.starts_with("/v1beta/") => ("x-goog-api-key", TEST_CREDENTIALS[2].1.to_owned()),
            _ => ("authorization", format!("Bearer {}", TEST_CREDENTIALS[1].1)),
        };
        assert!(
            !request.path.contains("key="),
            "a key went upstream in the query"
        );
        let sent = request
            .headers
            .iter()
            .find(|(n, _)| n == credential.0)
            .map(|(_, v)| v.clone());
        assert_eq!(sent, Some(credential.1), "{:?}", request.exchange);
        let attribution = request
            .headers
            .iter()
            .any(|(n, _)| n.starts_with("x-trimio-"));
        assert!(!attribution, "attribution headers went upstream");
    }
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn every_exchange_is_billed_as_expected_and_passed_through() {
    bills_every_exchange(StackOptions::default()).await;
}

/// Istio's WasmPlugin cannot set `allow_on_headers_stop_iteration`; the filter must bill the
/// same without it.
#[tokio::test(flavor = "multi_thread")]
async fn bills_the_same_without_allow_on_headers_stop_iteration() {
    let options = StackOptions {
        allow_on_headers_stop_iteration: false,
        ..Default::default()
    };
    bills_every_exchange(options).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_first_event_reaches_the_client_before_the_provider_sends_the_last() {
    let exchanges = all_exchanges();
    let paced = named(&exchanges, "anthropic-paced-stream");
    let delay = Duration::from_millis(paced.response.chunk_delay_ms.expect("paced"));
    let gaps = paced.response.chunks.len() as u32 - 1;
    let stack = stack(std::slice::from_ref(&paced)).await;
    let (_, key) = stack.team_with_key("platform", None).await.unwrap();

    let (outcome, _) = stack.call(&paced, &key).await.unwrap();
    client::passthrough(&paced, &outcome).unwrap();
    let first = outcome.arrivals[0];
    let last = *outcome.arrivals.last().unwrap();
    // The provider paces its events `delay` apart: had the gateway held the body back, the
    // first bytes would arrive with the last.
    assert!(
        last - first >= delay * gaps * 9 / 10,
        "first bytes at {first:?}, last at {last:?}: the stream was held back"
    );
    assert!(
        outcome.arrivals.len() as u32 > gaps / 2,
        "arrivals: {:?}",
        outcome.arrivals
    );
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_and_revoked_keys_get_the_providers_401_and_reach_no_upstream() {
    let exchanges = all_exchanges();
    let anthropic = named(&exchanges, "anthropic-json");
    let openai = named(&exchanges, "openai-chat-stream-usage");
    let stack = stack(&exchanges).await;
    let admin = &stack.control_plane.admin;
    let team = admin.create_team("platform", None).await.unwrap();
    let (key_id, key) = admin
        .issue_key(team["id"].as_str().unwrap(), None)
        .await
        .unwrap();
    admin.revoke_key(&key_id).await.unwrap();

    let unknown = "tmk_0000000000000000000000000000000000000000";
    for used in [unknown, key.as_str()] {
        let reply = stack.send(&anthropic, Some(used)).await.unwrap();
        assert_eq!(
            reply.status,
            401,
            "{}",
            String::from_utf8_lossy(&reply.body)
        );
        assert_eq!(reply.json()["type"], "error");
        assert_eq!(reply.json()["error"]["type"], "authentication_error");

        let reply = stack.send(&openai, Some(used)).await.unwrap();
        assert_eq!(reply.status, 401);
        assert_eq!(reply.json()["error"]["code"], "invalid_api_key");
    }
    let missing = stack.send(&anthropic, None).await.unwrap();
    assert_eq!(missing.status, 401);

    assert!(
        stack.mock.requests().is_empty(),
        "a refused call reached the provider"
    );
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_team_over_budget_gets_the_out_of_credit_reply_and_reaches_no_upstream() {
    let exchanges = all_exchanges();
    let anthropic = named(&exchanges, "anthropic-json");
    let openai = named(&exchanges, "openai-chat-stream-usage");
    const LEASE_MS: u64 = 500;
    let options = StackOptions {
        lease_ms: Some(LEASE_MS),
        ..StackOptions::default()
    };
    let stack = Stack::start(exchanges.clone(), options).await.unwrap();
    // One anthropic-json call costs $0.01875; then the budget is cut to $0.01, below what is
    // spent, so no estimate of the next call can fit.
    let (team_id, key) = stack.team_with_key("payments", None).await.unwrap();
    stack.load_prices(&exchanges).await.unwrap();

    let (first, record) = stack.call(&anthropic, &key).await.unwrap();
    assert_eq!(first.status, 200);
    assert_eq!(record["cost_usd"], "0.01875");
    let admin = &stack.control_plane.admin;
    admin.set_budget(&team_id, Some("0.01")).await.unwrap();
    // The lease the first call brought ends; the next call is asked for.
    tokio::time::sleep(Duration::from_millis(LEASE_MS + 100)).await;

    let denied = stack.send(&anthropic, Some(&key)).await.unwrap();
    assert_eq!(
        denied.status,
        400,
        "{}",
        String::from_utf8_lossy(&denied.body)
    );
    let body = denied.json();
    assert_eq!(body["error"]["type"], "invalid_request_error");
    let message = body["error"]["message"].as_str().unwrap();
    for part in ["payments", "0.01", "resets"] {
        assert!(message.contains(part), "{part:?} not in {message:?}");
    }

    let denied = stack.send(&openai, Some(&key)).await.unwrap();
    assert_eq!(denied.status, 429);
    assert_eq!(denied.json()["error"]["code"], "insufficient_quota");
    assert_eq!(denied.header("x-should-retry"), Some("false"));

    let received = stack.mock.requests();
    assert_eq!(received.len(), 1, "a denied call reached the provider");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_control_plane_restart_keeps_every_record() {
    let exchanges = all_exchanges();
    let mut stack = stack(&exchanges).await;
    let (_, key) = stack.team_with_key("platform", None).await.unwrap();
    stack.load_prices(&exchanges).await.unwrap();

    let mut ids = Vec::new();
    for exchange in exchanges.iter().filter(|e| !is_gemini(e)).take(6) {
        let (outcome, _) = stack.call(exchange, &key).await.unwrap();
        ids.push(outcome.request_id().unwrap().to_owned());
    }
    let before = stack
        .control_plane
        .admin
        .report("group_by=team")
        .await
        .unwrap();

    stack.control_plane.restart().await.unwrap();
    for id in &ids {
        let record = stack.control_plane.admin.call(id).await.unwrap();
        assert!(record.is_some(), "record {id} lost in a restart");
    }
    let after = stack
        .control_plane
        .admin
        .report("group_by=team")
        .await
        .unwrap();
    assert_eq!(before["total"], after["total"]);

    // SIGKILL too: what was acknowledged is on disk.
    stack.control_plane.stop(true).await;
    stack.control_plane.start_again().await.unwrap();
    let after_kill = stack
        .control_plane
        .admin
        .report("group_by=team")
        .await
        .unwrap();
    assert_eq!(before["total"], after_kill["total"]);

    // The gateway goes on delivering to the restarted control plane.
    let exchange = named(&exchanges, "anthropic-json");
    let (_, record) = stack.call(&exchange, &key).await.unwrap();
    assert_eq!(record["cost_usd"], "0.01875");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn every_shipped_envoy_config_validates() {
    let wasm = paths::wasm();
    paths::require(&wasm, "the filter's wasm module").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut validated = 0;
    for entry in std::fs::read_dir(paths::root().join("envoy")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        // The shipped files name the module's path inside the container image.
        let text = std::fs::read_to_string(&path).unwrap();
        let local = text.replace("/etc/trimio/trimio_filter.wasm", &wasm.to_string_lossy());
        let copy = dir.path().join(path.file_name().unwrap());
        std::fs::write(&copy, local).unwrap();
        trimio_e2e::envoy::validate(&copy).unwrap();
        validated += 1;
    }
    assert!(validated >= 2, "only {validated} configs found");
}

#[test]
fn shipped_envoy_configs_are_current() {
    for (file, options) in [
        ("envoy/gateway.yaml", EnvoyOptions::shipped_gateway()),
        (
            "envoy/gateway-mock.yaml",
            EnvoyOptions::shipped_mock_gateway(),
        ),
    ] {
        let shipped = std::fs::read_to_string(paths::root().join(file)).unwrap();
        assert_eq!(
            shipped,
            envoy_config::render(&options),
            "{file}: run `cargo xtask envoy-config`"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_plugin_config_is_refused_with_the_field_named() {
    let dir = tempfile::tempdir().unwrap();
    let wasm = paths::wasm().to_string_lossy().into_owned();
    let options = EnvoyOptions::local(
        &wasm,
        1,
        Upstreams::Mock {
            host: "127.0.0.1".into(),
            port: 1,
        },
    );
    let bad = r#"{"control_plane":{"cluster":"trimio_control_plane","timeuot_ms":5},
        "providers":{"anthropic":{"credential_env":"ANTHROPIC_API_KEY"}}}"#;
    let config = envoy_config::render_with_plugin_config(&options, bad);
    let started = Envoy::start_with_config(dir.path(), &config, &TEST_CREDENTIALS).await;
    let Err(log) = started else {
        panic!("envoy accepted a bad plugin configuration")
    };
    assert!(
        log.contains("timeuot_ms"),
        "the log does not name the field:\n{log}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_mock_refuses_nothing_it_was_not_asked_for() {
    // A guard on the harness itself: the exchange header picks the exchange served.
    let exchanges = all_exchanges();
    let stack = stack(&exchanges).await;
    let (_, key) = stack.team_with_key("platform", None).await.unwrap();
    let json = named(&exchanges, "anthropic-json");
    let outcome = stack.send(&json, Some(&key)).await.unwrap();
    let served = stack.mock.requests();
    assert_eq!(served.len(), 1);
    assert_eq!(served[0].exchange.as_deref(), Some("anthropic-json"));
    assert!(served[0].headers.iter().any(|(n, _)| n == EXCHANGE_HEADER));
    assert_eq!(outcome.status, 200);
    stack.stop().await;
}
