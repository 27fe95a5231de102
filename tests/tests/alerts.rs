//! Budget alerts reach a team's webhooks: the 50, 80 and 100 percent thresholds, each once,
//! through retries, a refused target and a control plane killed between two of them.
//!
//! Usage is delivered to the real control plane over HTTP as the filter delivers it; the
//! webhooks are a real HTTP server on loopback.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::{Value, json};
use trimio_e2e::control_plane::ControlPlane;
use trimio_e2e::process::wait_for;
use trimio_e2e::usage;
use trimio_wire::{Usage, UsageRecord};

const ADMIN_TOKEN: &str = "admin-token-for-alert-tests";
const FILTER_TOKEN: &str = "filter-token-for-alert-tests";

/// What the webhook server saw.
#[derive(Default)]
struct Seen {
    /// Every request: path, alert id header, body.
    requests: Vec<(String, String, Value)>,
    /// Requests answered 2xx: path, body.
    taken: Vec<(String, Value)>,
    /// Answer 503 to everything while set.
    refuse: bool,
    /// Answer 500 to this many more requests.
    fail_next: u32,
}

type Shared = Arc<Mutex<Seen>>;

async fn hook(
    State(seen): State<Shared>,
    Path(path): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> StatusCode {
    if path == "hang" {
        tokio::time::sleep(Duration::from_secs(60)).await;
        return StatusCode::NO_CONTENT;
    }
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let id = headers
        .get("x-trimio-alert-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let mut seen = seen.lock().unwrap();
    seen.requests.push((path.clone(), id, body.clone()));
    if seen.refuse {
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    if seen.fail_next > 0 {
        seen.fail_next -= 1;
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    seen.taken.push((path, body));
    StatusCode::NO_CONTENT
}

async fn webhook_server(seen: Shared) -> u16 {
    let app = axum::Router::new()
        .route("/hooks/{path}", post(hook))
        .with_state(seen);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    port
}

/// A call of 300,000 input tokens at 1 USD per million: 0.30 USD.
fn call(request_id: &str, key_hash: &str) -> UsageRecord {
    let usage = Usage {
        input: 300_000,
        ..Usage::default()
    };
    usage::record(request_id, key_hash, "alert-test-model", usage)
}

async fn deliver(control_plane: &ControlPlane, records: Vec<UsageRecord>) -> Value {
    control_plane.deliver_usage(records).await.unwrap()
}

/// Thresholds of the alerts a path took, in order.
fn taken_thresholds(seen: &Shared, path: &str) -> Vec<u64> {
    seen.lock()
        .unwrap()
        .taken
        .iter()
        .filter(|(p, body)| p == path && body["kind"] == "threshold")
        .filter_map(|(_, body)| body["threshold_percent"].as_u64())
        .collect()
}

fn slack_texts(seen: &Shared) -> Vec<String> {
    seen.lock()
        .unwrap()
        .taken
        .iter()
        .filter(|(p, _)| p == "slack")
        .filter_map(|(_, body)| body["text"].as_str().map(str::to_owned))
        .filter(|text| text.contains("has used"))
        .collect()
}

async fn wait_until(
    control_plane: &ControlPlane,
    seen: &Shared,
    what: &str,
    probe: impl Fn() -> bool,
) {
    let ok = wait_for(Duration::from_secs(30), || {
        let done = probe();
        async move { done }
    })
    .await;
    if !ok {
        let requests: Vec<String> = seen
            .lock()
            .unwrap()
            .requests
            .iter()
            .map(|(path, _, body)| format!("{path}: {body}"))
            .collect();
        panic!(
            "timed out waiting for {what}; the webhooks saw {requests:#?}; the control plane \
             logged:\n{}",
            control_plane.log()
        );
    }
}

#[tokio::test]
async fn thresholds_alert_once_each_across_retries_refusals_and_a_killed_control_plane() {
    let dir = tempfile::tempdir().unwrap();
    let seen: Shared = Arc::new(Mutex::new(Seen {
        fail_next: 1,
        ..Seen::default()
    }));
    let hooks = webhook_server(Arc::clone(&seen)).await;
    let mut control_plane = ControlPlane::start(dir.path(), ADMIN_TOKEN, FILTER_TOKEN)
        .await
        .unwrap();
    let admin = control_plane.admin.clone();
    admin.create_team("leads", Some("1")).await.unwrap();
    let (_, key) = admin.issue_key("leads", None).await.unwrap();
    let key_hash = usage::key_hash(&key);
    admin
        .set_price("alert-test-model", &json!({"input": "1", "output": "1"}))
        .await
        .unwrap();
    for (format, path) in [("json", "json"), ("slack", "slack")] {
        let body = json!({
            "url": format!("http://127.0.0.1:{hooks}/hooks/{path}?token=secret-in-the-url"),
            "format": format,
            "name": format!("leads-{format}"),
        });
        let (status, target) = admin
            .send(
                reqwest::Method::POST,
                "/v1/admin/teams/leads/alert-targets",
                Some(body),
            )
            .await
            .unwrap();
        assert_eq!(status, 201, "{target}");
        assert_eq!(target["format"], format);
        assert!(
            !target["url"].as_str().unwrap().contains("secret"),
            "the URL is shown cut: {target}"
        );
    }

    // 0.30 then 0.60: the 50 percent alert (and, far enough into the month, a forecast).
    // The json target fails its first request and gets that alert on the retry.
    let first = vec![call("a1", &key_hash), call("a2", &key_hash)];
    let ack = deliver(&control_plane, first.clone()).await;
    assert_eq!(ack["accepted"], 2);
    wait_until(&control_plane, &seen, "the 50 percent alert", || {
        taken_thresholds(&seen, "json") == [50] && slack_texts(&seen).len() == 1
    })
    .await;
    let text = &slack_texts(&seen)[0];
    assert!(
        text.contains("team \"leads\" has used 50% of its $1.00 monthly budget: $0.60 spent"),
        "{text}"
    );
    // The same batch again changes nothing.
    let ack = deliver(&control_plane, first).await;
    assert_eq!(
        (ack["accepted"].clone(), ack["duplicates"].clone()),
        (json!(0), json!(2))
    );

    // 0.90: the 80 percent alert is written while the targets refuse, and the control
    // plane is killed before it is delivered.
    seen.lock().unwrap().refuse = true;
    deliver(&control_plane, vec![call("a3", &key_hash)]).await;
    wait_until(
        &control_plane,
        &seen,
        "an attempt at the 80 percent alert",
        || {
            seen.lock()
                .unwrap()
                .requests
                .iter()
                .any(|(_, _, body)| body["threshold_percent"] == 80)
        },
    )
    .await;
    control_plane.stop(true).await;
    seen.lock().unwrap().refuse = false;
    control_plane.start_again().await.unwrap();
    wait_until(
        &control_plane,
        &seen,
        "the 80 percent alert after the restart",
        || taken_thresholds(&seen, "json") == [50, 80],
    )
    .await;

    // 1.20: the 100 percent alert.
    deliver(&control_plane, vec![call("a4", &key_hash)]).await;
    wait_until(&control_plane, &seen, "the 100 percent alert", || {
        taken_thresholds(&seen, "json") == [50, 80, 100] && slack_texts(&seen).len() >= 3
    })
    .await;
    // Nothing more comes.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(taken_thresholds(&seen, "json"), [50, 80, 100]);
    let slack = slack_texts(&seen);
    let thresholds: Vec<&str> = ["50%", "80%", "100%"]
        .into_iter()
        .filter(|t| slack.iter().filter(|text| text.contains(t)).count() == 1)
        .collect();
    assert_eq!(thresholds, ["50%", "80%", "100%"], "{slack:?}");

    // Every request for one alert carried the same id; a forecast, if the month is far
    // enough along for one, came at most once.
    {
        let seen_now = seen.lock().unwrap();
        let mut ids: HashMap<String, &Value> = HashMap::new();
        for (path, id, body) in &seen_now.requests {
            assert!(id.starts_with("alt_"), "{id}");
            if path == "json" {
                assert_eq!(body["id"].as_str(), Some(id.as_str()));
                let first = ids.entry(id.clone()).or_insert(body);
                assert_eq!(first["threshold_percent"], body["threshold_percent"]);
            }
        }
        // A delivery the target took just as the control plane was killed is sent again
        // after its restart, with the same id (at least once): one alert, by its id.
        let forecasts: std::collections::HashSet<&str> = seen_now
            .taken
            .iter()
            .filter(|(p, body)| p == "json" && body["kind"] == "forecast")
            .filter_map(|(_, body)| body["id"].as_str())
            .collect();
        assert!(forecasts.len() <= 1, "{forecasts:?} forecast alerts");
    }

    // The history says the same.
    let (status, history) = admin
        .send(reqwest::Method::GET, "/v1/admin/alerts?team=leads", None)
        .await
        .unwrap();
    assert_eq!(status, 200);
    let alerts = history["alerts"].as_array().unwrap();
    let mut thresholds: Vec<u64> = alerts
        .iter()
        .filter(|a| a["kind"] == "threshold")
        .map(|a| a["threshold_percent"].as_u64().unwrap())
        .collect();
    thresholds.sort_unstable();
    assert_eq!(thresholds, [50, 80, 100]);
    for alert in alerts {
        let deliveries = alert["deliveries"].as_array().unwrap();
        assert_eq!(deliveries.len(), 2, "{alert}");
        assert!(deliveries.iter().all(|d| d["state"] == "sent"), "{alert}");
        assert_eq!(alert["amount_usd"], "1");
    }
    let retried = alerts
        .iter()
        .flat_map(|a| a["deliveries"].as_array().unwrap())
        .filter(|d| d["attempts"].as_u64() > Some(1))
        .count();
    // The refused 80% may have been killed before its failure was recorded; the failed
    // first try was recorded.
    assert!(retried >= 1, "the failed first try was retried");
    let fifty = alerts
        .iter()
        .find(|a| a["threshold_percent"] == 50)
        .unwrap();
    assert_eq!(fifty["spend_usd"], "0.6");

    let log = control_plane.log();
    assert!(
        !log.contains("secret-in-the-url"),
        "a webhook URL reached the log"
    );
    control_plane.stop(false).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_target_that_hangs_holds_up_no_other_teams_alerts() {
    let dir = tempfile::tempdir().unwrap();
    let seen: Shared = Arc::new(Mutex::new(Seen::default()));
    let hooks = webhook_server(Arc::clone(&seen)).await;
    let control_plane = ControlPlane::start(dir.path(), ADMIN_TOKEN, FILTER_TOKEN)
        .await
        .unwrap();
    let admin = control_plane.admin.clone();
    admin
        .set_price("alert-test-model", &json!({"input": "1", "output": "1"}))
        .await
        .unwrap();
    let mut hashes = Vec::new();
    for (team, path) in [("stuck", "hang"), ("fine", "json")] {
        admin.create_team(team, Some("1")).await.unwrap();
        let (_, key) = admin.issue_key(team, None).await.unwrap();
        hashes.push(usage::key_hash(&key));
        let body = json!({"url": format!("http://127.0.0.1:{hooks}/hooks/{path}")});
        let path = format!("/v1/admin/teams/{team}/alert-targets");
        let (status, _) = admin
            .send(reqwest::Method::POST, &path, Some(body))
            .await
            .unwrap();
        assert_eq!(status, 201);
    }
    // The stuck team reaches all three thresholds at once: three deliveries that hang.
    let stuck: Vec<UsageRecord> = (0..4).map(|n| call(&format!("s{n}"), &hashes[0])).collect();
    deliver(&control_plane, stuck).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The other team's alert arrives at once all the same.
    let fine = vec![call("f1", &hashes[1]), call("f2", &hashes[1])];
    deliver(&control_plane, fine).await;
    let arrived = wait_for(Duration::from_secs(5), || {
        let done = taken_thresholds(&seen, "json") == [50];
        async move { done }
    })
    .await;
    assert!(arrived, "the fine team's alert waited behind the stuck one");
}
