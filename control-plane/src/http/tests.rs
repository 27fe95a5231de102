//! The whole router, driven request by request with `oneshot`.

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::http::{Method, Request, StatusCode, header};
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::calendar::now_ms;
use crate::http::app;
use crate::keys;
use crate::pricing::shipped_defaults;
use crate::secret::Secret;
use crate::state::{AppState, Tokens};
use crate::store::SqliteStore;

const ADMIN: &str = "admin-token-for-tests";
const FILTER: &str = "filter-token-for-tests";

fn router(filter_token: Option<&str>) -> Router {
    let store = Arc::new(SqliteStore::in_memory().unwrap());
    let tokens = Tokens {
        admin: Secret::new(ADMIN.into()),
        filter: filter_token.map(|token| Secret::new(token.into())),
    };
    app(AppState::load(store, shipped_defaults().unwrap(), tokens).unwrap())
}

struct Reply {
    status: StatusCode,
    content_type: String,
    text: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|error| panic!("{error}: {}", self.text))
    }
}

async fn send(
    app: &Router,
    method: Method,
    uri: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Reply {
    let mut request = Request::builder().method(method).uri(uri);
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let body = match body {
        Some(value) => Body::from(value.to_string()),
        None => Body::empty(),
    };
    let response = app
        .clone()
        .oneshot(request.body(body).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let bytes = to_bytes(response.into_body(), usize::MAX).await.unwrap();
    Reply {
        status,
        content_type,
        text: String::from_utf8(bytes.to_vec()).unwrap(),
    }
}

async fn admin(app: &Router, method: Method, uri: &str, body: Option<Value>) -> Reply {
    send(app, method, uri, Some(ADMIN), body).await
}

/// A usage record of the sonnet worked example, started now.
fn usage(request_id: &str, key: &str) -> Value {
    json!({
        "request_id": request_id,
        "key_hash": keys::hash(key),
        "project": "claimed-by-client",
        "user": "alice",
        "provider": "anthropic",
        "family": "anthropic_messages",
        "model": "claude-sonnet-4-5-20250929",
        "usage": {"input": 3, "output": 412, "cache_read": 15000, "cache_write_5m": 2048},
        "service_tier": "standard",
        "status": 200,
        "streamed": true,
        "started_at_ms": now_ms(),
        "duration_ms": 1500
    })
}

fn admit_request(request_id: &str, key: &str) -> Value {
    json!({
        "request_id": request_id,
        "key_hash": keys::hash(key),
        "provider": "anthropic",
        "family": "anthropic_messages"
    })
}

/// Every admin route, with a body each would accept.
fn admin_routes() -> Vec<(Method, &'static str, Option<Value>)> {
    vec![
        (
            Method::POST,
            "/v1/admin/teams",
            Some(json!({"name": "payments"})),
        ),
        (Method::GET, "/v1/admin/teams", None),
        (Method::GET, "/v1/admin/teams/payments", None),
        (
            Method::PATCH,
            "/v1/admin/teams/payments",
            Some(json!({"budget_usd": "5"})),
        ),
        (
            Method::POST,
            "/v1/admin/teams/payments/keys",
            Some(json!({"name": "laptop"})),
        ),
        (Method::GET, "/v1/admin/teams/payments/keys", None),
        (Method::DELETE, "/v1/admin/keys/key_0000000000000000", None),
        (Method::GET, "/v1/admin/prices", None),
        (
            Method::PUT,
            "/v1/admin/prices/m",
            Some(json!({"input": "1", "output": "2"})),
        ),
        (Method::DELETE, "/v1/admin/prices/m", None),
        (
            Method::POST,
            "/v1/admin/prices/import?source=litellm",
            Some(json!({})),
        ),
        (Method::GET, "/v1/admin/calls/r1", None),
        (Method::GET, "/v1/admin/reports/spend", None),
        (
            Method::GET,
            "/v1/admin/reports/spend?format=csv&group_by=team,model",
            None,
        ),
        (Method::GET, "/v1/admin/reports/forecast", None),
        (
            Method::POST,
            "/v1/admin/budgets",
            Some(json!({"team": "payments", "amount_usd": "5"})),
        ),
        (Method::GET, "/v1/admin/budgets", None),
        (Method::GET, "/v1/admin/budgets/bud_0", None),
        (
            Method::PATCH,
            "/v1/admin/budgets/bud_0",
            Some(json!({"amount_usd": "5"})),
        ),
        (Method::DELETE, "/v1/admin/budgets/bud_0", None),
        (
            Method::POST,
            "/v1/admin/teams/payments/alert-targets",
            Some(json!({"url": "http://127.0.0.1:9/"})),
        ),
        (Method::GET, "/v1/admin/teams/payments/alert-targets", None),
        (Method::DELETE, "/v1/admin/alert-targets/tgt_0", None),
        (Method::GET, "/v1/admin/alerts", None),
    ]
}

/// Every admin route the source declares, as (method, path template), read from the
/// `.route(...)` calls of every module: the router itself cannot be listed.
fn declared_admin_routes() -> Vec<(String, String)> {
    let mut declared = Vec::new();
    let mut files = vec![std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src")];
    while let Some(path) = files.pop() {
        if path.is_dir() {
            files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        if path.extension().is_none_or(|e| e != "rs") || path.ends_with("http/tests.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        for (at, _) in text.match_indices(".route(") {
            // The call's arguments, up to the parenthesis that closes it.
            let rest = &text[at + ".route(".len()..];
            let mut depth = 1;
            let end = rest
                .char_indices()
                .find(|(_, c)| {
                    match c {
                        '(' => depth += 1,
                        ')' => depth -= 1,
                        _ => {}
                    }
                    depth == 0
                })
                .map_or(rest.len(), |(i, _)| i);
            let call = &rest[..end];
            let Some(path) = call
                .split('"')
                .nth(1)
                .filter(|p| p.starts_with("/v1/admin"))
            else {
                continue;
            };
            for method in ["get", "post", "put", "patch", "delete"] {
                let used = call.contains(&format!(" {method}("))
                    || call.contains(&format!(".{method}("))
                    || call.contains(&format!("({method}("));
                if used {
                    declared.push((method.to_uppercase(), path.to_owned()));
                }
            }
        }
    }
    declared.sort();
    declared
}

/// Whether a concrete URI is an instance of a path template with `{name}` segments.
fn instance_of(uri: &str, template: &str) -> bool {
    let path = uri.split('?').next().unwrap_or(uri);
    let (a, b): (Vec<&str>, Vec<&str>) = (path.split('/').collect(), template.split('/').collect());
    a.len() == b.len()
        && a.iter()
            .zip(&b)
            .all(|(seg, tpl)| seg == tpl || (tpl.starts_with('{') && tpl.ends_with('}')))
}

#[test]
fn the_route_list_of_the_token_test_is_every_admin_route_declared() {
    let declared = declared_admin_routes();
    assert!(declared.len() >= 20, "{declared:?}");
    let listed = admin_routes();
    for (method, template) in &declared {
        let covered = listed
            .iter()
            .any(|(m, uri, _)| m.as_str() == method && instance_of(uri, template));
        assert!(covered, "{method} {template} is not in admin_routes()");
    }
}

#[tokio::test]
async fn every_admin_route_refuses_a_missing_or_wrong_token() {
    // The filter's token opens the filter's routes only.
    let app = router(Some(FILTER));
    for (method, uri, body) in admin_routes() {
        for token in [None, Some("wrong"), Some(""), Some(FILTER)] {
            let reply = send(&app, method.clone(), uri, token, body.clone()).await;
            assert_eq!(
                reply.status,
                StatusCode::UNAUTHORIZED,
                "{method} {uri} with {token:?}"
            );
            assert!(
                reply.json()["error"]
                    .as_str()
                    .unwrap()
                    .contains("admin token")
            );
        }
    }
    let teams = admin(&app, Method::GET, "/v1/admin/teams", None)
        .await
        .json();
    assert_eq!(
        teams["teams"],
        json!([]),
        "nothing was created without the token"
    );
}

#[tokio::test]
async fn health_needs_no_token() {
    let reply = send(&router(Some(FILTER)), Method::GET, "/healthz", None, None).await;
    assert_eq!((reply.status, reply.text.as_str()), (StatusCode::OK, "ok"));
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_json() {
    let app = router(None);
    let reply = admin(&app, Method::GET, "/v1/nothing", None).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.json()["error"], "no such route");
    let reply = admin(&app, Method::DELETE, "/v1/admin/teams", None).await;
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn filter_routes_require_the_filter_token_when_one_is_set() {
    let app = router(Some(FILTER));
    let body = admit_request("r1", "tmk_x");
    let refused = send(
        &app,
        Method::POST,
        "/v1/filter/admit",
        None,
        Some(body.clone()),
    )
    .await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    let wrong = send(
        &app,
        Method::POST,
        "/v1/filter/admit",
        Some(ADMIN),
        Some(body.clone()),
    )
    .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let batch = json!({"records": []});
    let refused = send(&app, Method::POST, "/v1/filter/usage", None, Some(batch)).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);

    let allowed = send(
        &app,
        Method::POST,
        "/v1/filter/admit",
        Some(FILTER),
        Some(body),
    )
    .await;
    assert_eq!(allowed.status, StatusCode::OK);
    assert_eq!(allowed.json()["reason"], "unknown_key");
}

#[tokio::test]
async fn teams_are_created_read_and_changed() {
    let app = router(None);
    let created = admin(
        &app,
        Method::POST,
        "/v1/admin/teams",
        Some(json!({"name": "payments", "budget_usd": "100"})),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED);
    let team = created.json();
    assert_eq!(team["name"], "payments");
    assert_eq!(team["budget_usd"], "100");
    assert_eq!(team["spend_usd"], "0");
    assert!(team["id"].as_str().unwrap().starts_with("team_"));
    for field in ["period_start", "period_end", "created_at"] {
        assert!(team[field].is_string(), "{field}");
    }

    let id = team["id"].as_str().unwrap();
    let by_id = admin(&app, Method::GET, &format!("/v1/admin/teams/{id}"), None).await;
    assert_eq!(by_id.json()["name"], "payments");

    let duplicate = admin(
        &app,
        Method::POST,
        "/v1/admin/teams",
        Some(json!({"name": "payments"})),
    )
    .await;
    assert_eq!(duplicate.status, StatusCode::CONFLICT);
    assert!(
        duplicate.json()["error"]
            .as_str()
            .unwrap()
            .contains("choose another name")
    );

    for bad in [
        json!({"name": "no spaces"}),
        json!({"name": ""}),
        json!({"name": "x", "budget_usd": "-1"}),
    ] {
        let reply = admin(&app, Method::POST, "/v1/admin/teams", Some(bad.clone())).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{bad}");
    }
    let unknown_field = admin(
        &app,
        Method::POST,
        "/v1/admin/teams",
        Some(json!({"name": "a", "budget": "1"})),
    )
    .await;
    assert_eq!(unknown_field.status, StatusCode::BAD_REQUEST);

    let changed = admin(
        &app,
        Method::PATCH,
        "/v1/admin/teams/payments",
        Some(json!({"budget_usd": "0.10"})),
    )
    .await;
    assert_eq!(changed.json()["budget_usd"], "0.1");
    let unlimited = admin(
        &app,
        Method::PATCH,
        "/v1/admin/teams/payments",
        Some(json!({"budget_usd": null})),
    )
    .await;
    assert_eq!(unlimited.json()["budget_usd"], Value::Null);
    let nothing = admin(
        &app,
        Method::PATCH,
        "/v1/admin/teams/payments",
        Some(json!({})),
    )
    .await;
    assert_eq!(nothing.status, StatusCode::BAD_REQUEST);

    let missing = admin(&app, Method::GET, "/v1/admin/teams/nobody", None).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let list = admin(&app, Method::GET, "/v1/admin/teams", None)
        .await
        .json();
    assert_eq!(list["teams"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn a_call_goes_from_key_to_admission_to_ledger_to_report() {
    let app = router(None);
    admin(
        &app,
        Method::POST,
        "/v1/admin/teams",
        Some(json!({"name": "payments"})),
    )
    .await;
    let issued = admin(
        &app,
        Method::POST,
        "/v1/admin/teams/payments/keys",
        Some(json!({"name": "alice-laptop", "project": "checkout"})),
    )
    .await;
    assert_eq!(issued.status, StatusCode::CREATED);
    let issued = issued.json();
    let key = issued["key"].as_str().unwrap().to_owned();
    assert!(key.starts_with("tmk_") && key.len() == 44);
    assert_eq!(issued["prefix"], &key[..8]);
    assert_eq!(issued["team"], "payments");
    assert_eq!(issued["project"], "checkout");

    let listed = admin(&app, Method::GET, "/v1/admin/teams/payments/keys", None).await;
    assert!(!listed.text.contains(&key) && !listed.text.contains(&keys::hash(&key)));
    assert_eq!(listed.json()["keys"][0]["name"], "alice-laptop");

    let admitted = send(
        &app,
        Method::POST,
        "/v1/filter/admit",
        None,
        Some(admit_request("r1", &key)),
    )
    .await;
    let admitted = admitted.json();
    assert_eq!(admitted["decision"], "allow");
    assert_eq!(admitted["team"], "payments");
    assert_eq!(admitted["project"], "checkout");

    let batch = json!({"records": [usage("r1", &key)]});
    let ack = send(
        &app,
        Method::POST,
        "/v1/filter/usage",
        None,
        Some(batch.clone()),
    )
    .await;
    assert_eq!(
        ack.json(),
        json!({"accepted": 1, "duplicates": 0, "rejected": 0})
    );
    let again = send(&app, Method::POST, "/v1/filter/usage", None, Some(batch)).await;
    assert_eq!(
        again.json(),
        json!({"accepted": 0, "duplicates": 1, "rejected": 0})
    );

    let call = admin(&app, Method::GET, "/v1/admin/calls/r1", None)
        .await
        .json();
    assert_eq!(call["cost_usd"], "0.018369");
    assert_eq!(call["team"], "payments");
    assert_eq!(
        call["project"], "checkout",
        "the key's project wins over the client's"
    );
    assert_eq!(call["user"], "alice");
    assert_eq!(call["unpriced"], false);
    assert_eq!(call["usage"]["cache_write_5m"], 2048);
    assert_eq!(call["flags"]["truncated"], false);
    let missing = admin(&app, Method::GET, "/v1/admin/calls/nope", None).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);

    let team = admin(&app, Method::GET, "/v1/admin/teams/payments", None)
        .await
        .json();
    assert_eq!(team["spend_usd"], "0.018369");

    let report = admin(
        &app,
        Method::GET,
        "/v1/admin/reports/spend?group_by=team,project,model,user",
        None,
    )
    .await
    .json();
    assert_eq!(
        report["group_by"],
        json!(["team", "project", "model", "user"])
    );
    let row = &report["rows"][0];
    assert_eq!(row["team"], "payments");
    assert_eq!(row["project"], "checkout");
    assert_eq!(row["model"], "claude-sonnet-4-5-20250929");
    assert_eq!(row["calls"], 1);
    assert_eq!(row["usage"]["output"], 412);
    assert_eq!(report["total"]["cost_usd"], "0.018369");

    let csv = admin(
        &app,
        Method::GET,
        "/v1/admin/reports/spend?format=csv&group_by=model",
        None,
    )
    .await;
    assert!(csv.content_type.starts_with("text/csv"));
    let mut lines = csv.text.lines();
    assert_eq!(
        lines.next(),
        Some(
            "model,calls,unpriced_calls,estimated_calls,input,output,cache_read,cache_write_5m,\
             cache_write_1h,reasoning,web_search_requests,cost_usd"
        )
    );
    assert_eq!(
        lines.next(),
        Some("claude-sonnet-4-5-20250929,1,0,0,3,412,15000,2048,0,0,0,0.018369")
    );

    let bad = admin(
        &app,
        Method::GET,
        "/v1/admin/reports/spend?group_by=team;drop",
        None,
    )
    .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);

    let key_id = issued["id"].as_str().unwrap();
    let revoked = admin(
        &app,
        Method::DELETE,
        &format!("/v1/admin/keys/{key_id}"),
        None,
    )
    .await;
    assert_eq!(revoked.json()["id"], key_id);
    let denied = send(
        &app,
        Method::POST,
        "/v1/filter/admit",
        None,
        Some(admit_request("r2", &key)),
    )
    .await;
    assert_eq!(denied.json()["reason"], "revoked_key");
}

#[tokio::test]
async fn a_spent_budget_denies_the_next_call_with_a_clear_message() {
    let app = router(None);
    admin(
        &app,
        Method::POST,
        "/v1/admin/teams",
        Some(json!({"name": "payments", "budget_usd": "0.02"})),
    )
    .await;
    let issued = admin(
        &app,
        Method::POST,
        "/v1/admin/teams/payments/keys",
        Some(json!({"name": "ci"})),
    )
    .await;
    let key = issued.json()["key"].as_str().unwrap().to_owned();

    let batch = json!({"records": [usage("r1", &key), usage("r2", &key)]});
    send(&app, Method::POST, "/v1/filter/usage", None, Some(batch)).await;

    let denied = send(
        &app,
        Method::POST,
        "/v1/filter/admit",
        None,
        Some(admit_request("r3", &key)),
    )
    .await;
    assert_eq!(denied.status, StatusCode::OK);
    let denied = denied.json();
    assert_eq!(denied["decision"], "deny");
    assert_eq!(denied["reason"], "budget_exhausted");
    let message = denied["message"].as_str().unwrap();
    assert!(
        message.starts_with(
            "team \"payments\" has spent $0.04 of its $0.02 monthly budget; the budget resets on "
        ),
        "{message}"
    );

    admin(
        &app,
        Method::PATCH,
        "/v1/admin/teams/payments",
        Some(json!({"budget_usd": "50"})),
    )
    .await;
    let allowed = send(
        &app,
        Method::POST,
        "/v1/filter/admit",
        None,
        Some(admit_request("r4", &key)),
    )
    .await;
    assert_eq!(allowed.json()["decision"], "allow");
}

#[tokio::test]
async fn prices_are_read_set_and_deleted() {
    let app = router(None);
    let listed = admin(&app, Method::GET, "/v1/admin/prices", None)
        .await
        .json();
    let sonnet = listed["prices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|price| price["model"] == "claude-sonnet-4-5")
        .cloned()
        .unwrap();
    assert_eq!(sonnet["input"], "3");
    assert_eq!(sonnet["origin"], "default");
    assert!(sonnet["source"].as_str().unwrap().starts_with("https://"));

    let entry =
        json!({"input": "2", "output": "8", "cache_read": "0.50", "effective_date": "2025-04-14"});
    let set = admin(&app, Method::PUT, "/v1/admin/prices/my-model", Some(entry)).await;
    assert_eq!(set.status, StatusCode::OK);
    assert_eq!(set.json()["origin"], "custom");
    assert_eq!(set.json()["cache_read"], "0.50");

    let override_default = admin(
        &app,
        Method::PUT,
        "/v1/admin/prices/claude-sonnet-4-5",
        Some(json!({"input": "1", "output": "1"})),
    )
    .await;
    assert_eq!(override_default.json()["origin"], "custom");
    let deleted = admin(
        &app,
        Method::DELETE,
        "/v1/admin/prices/claude-sonnet-4-5",
        None,
    )
    .await
    .json();
    assert_eq!(deleted["deleted"], true);
    assert_eq!(
        deleted["default"]["input"], "3",
        "the shipped default applies again"
    );
    let again = admin(
        &app,
        Method::DELETE,
        "/v1/admin/prices/claude-sonnet-4-5",
        None,
    )
    .await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);

    let cases = [
        json!({"input": "-1", "output": "1"}),
        json!({"input": "0.1234567", "output": "1"}),
        json!({"input": 3, "output": "1"}),
        json!({"output": "1"}),
    ];
    for bad in cases {
        let reply = admin(
            &app,
            Method::PUT,
            "/v1/admin/prices/my-model",
            Some(bad.clone()),
        )
        .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{bad}");
    }
    let negative = admin(
        &app,
        Method::PUT,
        "/v1/admin/prices/my-model",
        Some(json!({"input": "1", "output": "-2"})),
    )
    .await;
    assert_eq!(
        negative.json()["error"],
        "output: \"-2\" is negative; give zero or more"
    );
}

#[tokio::test]
async fn calls_to_unknown_models_are_unpriced() {
    let app = router(None);
    let mut record = usage("r1", "tmk_unknown");
    record["model"] = json!("brand-new-model");
    let batch = json!({"records": [record]});
    let ack = send(&app, Method::POST, "/v1/filter/usage", None, Some(batch)).await;
    assert_eq!(ack.json()["accepted"], 1);

    let call = admin(&app, Method::GET, "/v1/admin/calls/r1", None)
        .await
        .json();
    assert_eq!(call["cost_usd"], Value::Null);
    assert_eq!(call["unpriced"], true);
    assert_eq!(call["team"], Value::Null);
    assert_eq!(call["project"], "claimed-by-client");

    let report = admin(&app, Method::GET, "/v1/admin/reports/spend", None)
        .await
        .json();
    assert_eq!(report["total"]["unpriced_calls"], 1);
    assert_eq!(report["rows"][0]["team"], Value::Null);
}

#[tokio::test]
async fn only_a_body_that_is_not_a_batch_is_refused() {
    let app = router(None);
    let reply = send(
        &app,
        Method::POST,
        "/v1/filter/usage",
        None,
        Some(json!({"records": 3})),
    )
    .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(
        reply.json()["error"]
            .as_str()
            .unwrap()
            .starts_with("invalid json body: ")
    );

    let mut huge = usage("r1", "tmk_x");
    huge["usage"]["input"] = json!(u64::MAX);
    let reply = send(
        &app,
        Method::POST,
        "/v1/filter/usage",
        None,
        Some(json!({"records": [huge]})),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.json(),
        json!({"accepted": 0, "duplicates": 0, "rejected": 1})
    );
}

/// Creates a team and issues it a key; returns the key.
async fn team_with_key(app: &Router, name: &str, budget_usd: Option<&str>) -> String {
    let created = admin(
        app,
        Method::POST,
        "/v1/admin/teams",
        Some(json!({"name": name, "budget_usd": budget_usd})),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let issued = admin(
        app,
        Method::POST,
        &format!("/v1/admin/teams/{name}/keys"),
        Some(json!({"name": "laptop"})),
    )
    .await;
    assert_eq!(issued.status, StatusCode::CREATED, "{}", issued.text);
    issued.json()["key"].as_str().unwrap().to_owned()
}

async fn deliver(app: &Router, records: Vec<Value>) -> Reply {
    let batch = json!({ "records": records });
    send(app, Method::POST, "/v1/filter/usage", None, Some(batch)).await
}

#[tokio::test]
async fn one_impossible_record_never_refuses_the_batch() {
    let app = router(None);
    let key = team_with_key(&app, "payments", None).await;

    let mut long_labels = usage("r2", &key);
    long_labels["user"] = json!(format!("{}{}", "u".repeat(255), "é".repeat(10)));
    long_labels["project"] = json!("p".repeat(300));
    long_labels["model"] = json!(format!("claude-sonnet-4-5-{}", "x".repeat(200)));
    long_labels["service_tier"] = json!("t".repeat(129));
    let mut empty_id = usage("", &key);
    empty_id["user"] = json!("bob");
    let long_id = usage(&"r".repeat(129), &key);
    let odd_id = usage("r 3\n", &key);
    let mut many_tokens = usage("r4", &key);
    many_tokens["usage"]["cache_read"] = json!(100_000_001);
    let mut many_searches = usage("r5", &key);
    many_searches["usage"]["web_search_requests"] = json!(u64::MAX);
    let mut not_a_record = usage("r6", &key);
    not_a_record["usage"]["input"] = json!(-1);
    let at_the_limit = {
        let mut record = usage("r7", &key);
        record["usage"] = json!({"input": 100_000_000, "output": 100_000_000});
        record
    };

    let reply = deliver(
        &app,
        vec![
            usage("r1", &key),
            long_labels,
            empty_id,
            long_id,
            odd_id,
            many_tokens,
            many_searches,
            not_a_record,
            json!(3),
            at_the_limit,
        ],
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(
        reply.json(),
        json!({"accepted": 3, "duplicates": 0, "rejected": 7})
    );

    let clamped = admin(&app, Method::GET, "/v1/admin/calls/r2", None)
        .await
        .json();
    let user = clamped["user"].as_str().unwrap();
    assert!(
        user.len() <= 256 && user.starts_with(&"u".repeat(255)),
        "{user}"
    );
    assert_eq!(clamped["project"].as_str().map(str::len), Some(256));
    assert_eq!(clamped["model"].as_str().map(str::len), Some(128));
    assert_eq!(clamped["service_tier"].as_str().map(str::len), Some(128));
    assert_eq!(
        clamped["cost_usd"], "0.018369",
        "clamped calls are still priced"
    );
    // Past the long-context threshold: 1e8 × 6 + 1e8 × 22.5 usd per million tokens.
    let limit = admin(&app, Method::GET, "/v1/admin/calls/r7", None)
        .await
        .json();
    assert_eq!(limit["cost_usd"], "2850");
    for rejected in ["r4", "r5", "r6"] {
        let reply = admin(
            &app,
            Method::GET,
            &format!("/v1/admin/calls/{rejected}"),
            None,
        )
        .await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{rejected} was stored");
    }

    let again = deliver(&app, vec![usage("r1", &key), usage("r8", &key)]).await;
    assert_eq!(
        again.json(),
        json!({"accepted": 1, "duplicates": 1, "rejected": 0}),
        "later batches are not blocked"
    );
    for not_a_batch in [json!({"records": 3}), json!([]), json!({})] {
        let reply = send(
            &app,
            Method::POST,
            "/v1/filter/usage",
            None,
            Some(not_a_batch.clone()),
        )
        .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{not_a_batch}");
    }
}

#[tokio::test]
async fn a_call_costing_more_than_the_limit_is_rejected_alone() {
    let app = router(None);
    let key = team_with_key(&app, "payments", None).await;
    let price = json!({"input": "10000", "output": "10000"});
    let set = admin(&app, Method::PUT, "/v1/admin/prices/costly", Some(price)).await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.text);

    // 10_000_001 tokens at 0.01 usd: 100_000.01 usd.
    let mut too_costly = usage("r1", &key);
    too_costly["model"] = json!("costly-1");
    too_costly["usage"] = json!({"input": 10_000_001});
    let mut at_the_limit = usage("r2", &key);
    at_the_limit["model"] = json!("costly-1");
    at_the_limit["usage"] = json!({"input": 10_000_000});
    let reply = deliver(&app, vec![too_costly, at_the_limit]).await;
    assert_eq!(
        reply.json(),
        json!({"accepted": 1, "duplicates": 0, "rejected": 1})
    );
    let call = admin(&app, Method::GET, "/v1/admin/calls/r2", None)
        .await
        .json();
    assert_eq!(call["cost_usd"], "100000");
}

#[tokio::test]
async fn rollups_past_64_bits_stay_exact_in_reports_and_spend() {
    let app = router(None);
    let key = team_with_key(&app, "payments", None).await;
    let price = json!({"input": "10000", "output": "10000"});
    admin(&app, Method::PUT, "/v1/admin/prices/costly", Some(price)).await;

    // 100 calls of 99_999.99 usd in one rollup: about 1e19 pico-dollars, past i64.
    let records = (0..100)
        .map(|n| {
            let mut record = usage(&format!("r{n}"), &key);
            record["model"] = json!("costly-1");
            record["usage"] = json!({"input": 9_999_999});
            record
        })
        .collect();
    let reply = deliver(&app, records).await;
    assert_eq!(reply.json()["accepted"], 100, "{}", reply.text);

    let report = admin(&app, Method::GET, "/v1/admin/reports/spend", None).await;
    assert_eq!(report.status, StatusCode::OK, "{}", report.text);
    assert_eq!(report.json()["total"]["cost_usd"], "9999999");
    let csv = admin(
        &app,
        Method::GET,
        "/v1/admin/reports/spend?format=csv&group_by=team,model,day",
        None,
    )
    .await;
    assert_eq!(csv.status, StatusCode::OK, "{}", csv.text);
    assert!(csv.text.contains(",9999999\r\n"), "{}", csv.text);
    let team = admin(&app, Method::GET, "/v1/admin/teams/payments", None)
        .await
        .json();
    assert_eq!(team["spend_usd"], "9999999");
}

#[tokio::test]
async fn prices_and_budgets_above_the_limits_are_refused() {
    let app = router(None);
    let too_high = [
        (json!({"input": "10000.000001", "output": "1"}), "input"),
        (json!({"input": "1", "output": "20000"}), "output"),
        (
            json!({"input": "1", "output": "1", "cache_write_1h": "10001"}),
            "cache_write_1h",
        ),
        (
            json!({"input": "1", "output": "1",
                "long_context": {"above_input_tokens": 1, "input": "99999"}}),
            "long_context.input",
        ),
        (
            json!({"input": "1", "output": "1", "web_search_per_1k": "10000.5"}),
            "web_search_per_1k",
        ),
        (
            json!({"input": "1", "output": "1",
                "multipliers": {"service_tier": {"priority": "100.000001"}}}),
            "multipliers.service_tier.priority",
        ),
    ];
    for (entry, field) in too_high {
        let reply = admin(&app, Method::PUT, "/v1/admin/prices/m", Some(entry.clone())).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{entry}");
        let error = reply.json()["error"].as_str().unwrap().to_owned();
        assert!(
            error.starts_with(&format!("{field}: ")) && error.contains("limit"),
            "{error}"
        );
    }
    let at_the_limits = json!({"input": "10000", "output": "10000", "web_search_per_1k": "10000",
        "multipliers": {"service_tier": {"priority": "100"}, "inference_geo": {"us": "100"}}});
    let reply = admin(&app, Method::PUT, "/v1/admin/prices/m", Some(at_the_limits)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);

    let big = admin(
        &app,
        Method::POST,
        "/v1/admin/teams",
        Some(json!({"name": "big", "budget_usd": "1000000000"})),
    )
    .await;
    assert_eq!(big.status, StatusCode::CREATED, "{}", big.text);
    assert_eq!(big.json()["budget_usd"], "1000000000");
    for budget in ["1000000000.000000000001", "99999999999999"] {
        let reply = admin(
            &app,
            Method::PATCH,
            "/v1/admin/teams/big",
            Some(json!({"budget_usd": budget})),
        )
        .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{budget}");
        let error = reply.json()["error"].as_str().unwrap().to_owned();
        assert!(error.contains("1000000000"), "{error}");
    }
}

#[tokio::test]
async fn csv_cells_cannot_run_as_formulas_or_split_columns() {
    let app = router(None);
    let key = team_with_key(&app, "payments", None).await;
    let users = [
        "=1+1",
        "+1",
        "-1",
        "@SUM(A1)",
        "\tx",
        "\rx",
        "a;b",
        "a,b",
        "say \"hi\"",
        "ok",
    ];
    let records = users
        .iter()
        .enumerate()
        .map(|(n, user)| {
            let mut record = usage(&format!("r{n}"), &key);
            record["user"] = json!(user);
            record
        })
        .collect();
    deliver(&app, records).await;

    let csv = admin(
        &app,
        Method::GET,
        "/v1/admin/reports/spend?format=csv&group_by=user",
        None,
    )
    .await;
    let cells: Vec<&str> = csv
        .text
        .split("\r\n")
        .skip(1)
        .filter(|line| !line.is_empty())
        .map(|line| line.rsplitn(12, ',').last().unwrap())
        .collect();
    let mut expected = [
        "\"'\tx\"",
        "\"'\rx\"",
        "'+1",
        "'-1",
        "'=1+1",
        "'@SUM(A1)",
        "\"a,b\"",
        "\"a;b\"",
        "ok",
        "\"say \"\"hi\"\"\"",
    ];
    expected.sort_unstable();
    let mut cells = cells;
    cells.sort_unstable();
    assert_eq!(cells, expected);
}

#[tokio::test]
async fn team_names_are_unique_and_found_whatever_their_case() {
    let app = router(None);
    team_with_key(&app, "payments", None).await;
    for taken in ["Payments", "PAYMENTS"] {
        let reply = admin(
            &app,
            Method::POST,
            "/v1/admin/teams",
            Some(json!({"name": taken})),
        )
        .await;
        assert_eq!(reply.status, StatusCode::CONFLICT, "{taken}");
    }
    let found = admin(&app, Method::GET, "/v1/admin/teams/PayMents", None).await;
    assert_eq!(found.status, StatusCode::OK);
    assert_eq!(found.json()["name"], "payments");
    let keys = admin(&app, Method::GET, "/v1/admin/teams/PAYMENTS/keys", None).await;
    assert_eq!(keys.json()["keys"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn admin_input_built_to_break_the_store_or_the_reports_is_refused() {
    let app = router(None);
    let ok = admin(
        &app,
        Method::POST,
        "/v1/admin/teams",
        Some(json!({"name": "payments", "budget_usd": "10"})),
    )
    .await;
    assert_eq!(ok.status, StatusCode::CREATED);

    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let raw_bodies = [
        deep.as_str(),
        "{\"name\": \"x\"",
        "\u{0}",
        "{\"name\":\"a\",\"name\":\"b\"}",
    ];
    for body in raw_bodies {
        let request = Request::builder()
            .method(Method::POST)
            .uri("/v1/admin/teams")
            .header(header::AUTHORIZATION, format!("Bearer {ADMIN}"))
            .body(Body::from(body.to_owned()))
            .unwrap();
        let response = app.clone().oneshot(request).await.unwrap();
        assert_eq!(
            response.status(),
            StatusCode::BAD_REQUEST,
            "{}",
            &body[..body.len().min(30)]
        );
    }

    let refused: Vec<(Method, &str, Value)> = vec![
        (
            Method::POST,
            "/v1/admin/teams",
            json!({"name": "'; DROP TABLE teams; --"}),
        ),
        (Method::POST, "/v1/admin/teams", json!({"name": "名前"})),
        (Method::POST, "/v1/admin/teams", json!({"name": "a\u{0}b"})),
        (
            Method::POST,
            "/v1/admin/teams",
            json!({"name": "x".repeat(65)}),
        ),
        (
            Method::POST,
            "/v1/admin/teams",
            json!({"name": "ok", "budget_usd": 5}),
        ),
        (
            Method::POST,
            "/v1/admin/teams/payments/keys",
            json!({"name": "k", "project": "p' OR 1=1"}),
        ),
        (
            Method::POST,
            "/v1/admin/budgets",
            json!({"team": "payments", "amount_usd": "1e9"}),
        ),
        (
            Method::POST,
            "/v1/admin/budgets",
            json!({"team": "payments", "amount_usd": "-1"}),
        ),
        (
            Method::POST,
            "/v1/admin/budgets",
            json!({"team": "payments", "amount_usd": "NaN"}),
        ),
        (
            Method::POST,
            "/v1/admin/budgets",
            json!({
                "team": "payments", "project": "x", "amount_usd": "1",
                "time_zone": "../../etc/passwd",
            }),
        ),
        (
            Method::POST,
            "/v1/admin/budgets",
            json!({"team": "payments", "project": "x", "amount_usd": "1", "thresholds": [0]}),
        ),
        (
            Method::POST,
            "/v1/admin/budgets",
            json!({"team": "payments", "project": "x'--", "amount_usd": "1"}),
        ),
        (
            Method::POST,
            "/v1/admin/teams/payments/alert-targets",
            json!({"url": "file:///etc/passwd"}),
        ),
        (
            Method::POST,
            "/v1/admin/teams/payments/alert-targets",
            json!({"url": "javascript:alert(1)"}),
        ),
        (
            Method::PUT,
            "/v1/admin/prices/m",
            json!({"input": "1e3", "output": "1"}),
        ),
    ];
    for (method, uri, body) in refused {
        let reply = admin(&app, method.clone(), uri, Some(body.clone())).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{method} {uri} {body}: {}",
            reply.text
        );
        assert!(reply.json()["error"].is_string());
    }
    for uri in [
        "/v1/admin/reports/spend?group_by=team;DROP%20TABLE%20ledger",
        "/v1/admin/reports/spend?from=2026-99-01&to=2027-01-01",
        "/v1/admin/reports/spend?from=2026-12-01'--&to=2027-01-01",
        "/v1/admin/reports/spend?period=2026-12&from=2026-12-01",
        "/v1/admin/reports/spend?format=xml",
        "/v1/admin/alerts?limit=-1",
        "/v1/admin/budgets?team=nobody",
    ] {
        let reply = admin(&app, Method::GET, uri, None).await;
        assert!(
            reply.status == StatusCode::BAD_REQUEST || reply.status == StatusCode::NOT_FOUND,
            "{uri}: {} {}",
            reply.status,
            reply.text
        );
    }

    // The store is whole: the team and its budget are there, reports run.
    let teams = admin(&app, Method::GET, "/v1/admin/teams", None)
        .await
        .json();
    assert_eq!(teams["teams"][0]["name"], "payments");
    assert_eq!(teams["teams"][0]["budget_usd"], "10");
    let report = admin(
        &app,
        Method::GET,
        "/v1/admin/reports/spend?group_by=team",
        None,
    )
    .await;
    assert_eq!(report.status, StatusCode::OK);
}
