//! The import route driven through the whole router with `oneshot`, on a LiteLLM-shaped
//! sample (`tests/data/litellm_sample.json`), and the calls priced afterwards.

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::http::{Method, Request, StatusCode, header};
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::calendar::{now_ms, today};
use crate::http::app;
use crate::pricing::shipped_defaults;
use crate::secret::Secret;
use crate::state::{AppState, Tokens};
use crate::store::{SqliteStore, Store};

const ADMIN: &str = "admin-token-for-import-tests";
const SAMPLE: &str = include_str!("../../../tests/data/litellm_sample.json");
const IMPORT: &str = "/v1/admin/prices/import?source=litellm";

fn tokens() -> Tokens {
    Tokens {
        admin: Secret::new(ADMIN.into()),
        filter: None,
    }
}

/// The router and its store, so a test can look at what was stored.
fn router() -> (Router, Arc<SqliteStore>) {
    let store = Arc::new(SqliteStore::in_memory().unwrap());
    let state = AppState::load(store.clone(), shipped_defaults().unwrap(), tokens()).unwrap();
    (app(state), store)
}

async fn send(
    app: &Router,
    method: Method,
    uri: &str,
    token: Option<&str>,
    body: String,
) -> (StatusCode, Value) {
    let mut request = Request::builder().method(method).uri(uri);
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let request = request.body(Body::from(body)).unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = to_bytes(response.into_body(), usize::MAX).await.unwrap();
    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, json)
}

async fn admin(app: &Router, method: Method, uri: &str, body: Option<Value>) -> Value {
    let body = body.map(|value| value.to_string()).unwrap_or_default();
    let (status, json) = send(app, method.clone(), uri, Some(ADMIN), body).await;
    assert_eq!(status, StatusCode::OK, "{method} {uri}: {json}");
    json
}

async fn import(app: &Router, uri: &str) -> Value {
    let (status, json) = send(app, Method::POST, uri, Some(ADMIN), SAMPLE.to_owned()).await;
    assert_eq!(status, StatusCode::OK, "{json}");
    json
}

/// The price of one model key as `GET /v1/admin/prices` lists it.
async fn listed(app: &Router, model: &str) -> Value {
    let prices = admin(app, Method::GET, "/v1/admin/prices", None).await;
    prices["prices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|price| price["model"] == model)
        .cloned()
        .unwrap_or(Value::Null)
}

/// Delivers one call and returns its cost as the ledger shows it.
async fn cost(app: &Router, request_id: &str, model: &str, usage: Value) -> Value {
    let record = json!({
        "request_id": request_id,
        "key_hash": "0".repeat(64),
        "provider": "anthropic",
        "family": "anthropic_messages",
        "model": model,
        "usage": usage,
        "status": 200,
        "streamed": false,
        "started_at_ms": now_ms(),
        "duration_ms": 900
    });
    let batch = json!({ "records": [record] }).to_string();
    let (status, ack) = send(app, Method::POST, "/v1/filter/usage", None, batch).await;
    assert_eq!((status, &ack["accepted"]), (StatusCode::OK, &json!(1)));
    let call = admin(
        app,
        Method::GET,
        &format!("/v1/admin/calls/{request_id}"),
        None,
    )
    .await;
    call["cost_usd"].clone()
}

#[tokio::test]
async fn imported_prices_price_calls_exactly() {
    let (app, store) = router();
    let answer = import(&app, IMPORT).await;

    assert_eq!(answer["imported"], 8);
    assert_eq!(answer["dry_run"], false);
    assert_eq!(answer["other_providers"], 3);
    let models: Vec<&str> = answer["prices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|price| price["model"].as_str().unwrap())
        .collect();
    assert_eq!(
        models,
        [
            "claude-3-haiku-20240307",
            "claude-haiku-4-5",
            "claude-sonnet-4-5",
            "gemini-2.5-flash",
            "gemini-2.5-pro",
            "gpt-4.1",
            "gpt-4o-2024-05-13",
            "o1-pro",
        ]
    );
    assert_eq!(
        answer["skipped"],
        json!([
            {"model": "chatgpt-4o-latest", "reason": "input_cost_per_token: 5.0000001e-06 needs \
                more than 6 decimal places in usd per million tokens"},
            {"model": "gpt-3.5-turbo-0125", "reason": "input_cost_per_token: -5e-07 is negative; \
                prices are zero or more"},
            {"model": "text-embedding-3-small", "reason": "mode \"embedding\" is not chat or \
                responses; only models priced per token are imported"},
        ])
    );

    let sonnet = listed(&app, "claude-sonnet-4-5").await;
    assert_eq!(
        sonnet,
        json!({
            "model": "claude-sonnet-4-5", "input": "3", "output": "15", "cache_read": "0.3",
            "cache_write_5m": "3.75", "cache_write_1h": "6", "web_search_per_1k": "10",
            "long_context": {"above_input_tokens": 200000, "input": "6", "output": "22.5",
                "cache_read": "0.6", "cache_write_5m": "7.5", "cache_write_1h": "12"},
            "effective_date": today(),
            "source": "litellm model_prices_and_context_window.json",
            "origin": "custom"
        })
    );
    assert_eq!(
        answer["prices"][2], sonnet,
        "the answer shows what the list shows"
    );
    assert_eq!(store.load_directory().unwrap().prices.len(), 8);

    let cases = [
        (
            "claude-sonnet-4-5-20250929",
            json!({"input": 3, "output": 412, "cache_read": 15000, "cache_write_5m": 2048}),
            "0.018369",
        ),
        // 1000 × 6 / 1e6 for the 1 h write, 2 × 10 / 1000 for the searches.
        (
            "claude-sonnet-4-5-20250929",
            json!({"cache_write_1h": 1000, "web_search_requests": 2}),
            "0.026",
        ),
        // Above 200k prompt tokens: (150001 × 2.5 + 50000 × 0.625 + 1000 × 15) / 1e6.
        (
            "gemini-2.5-pro",
            json!({"input": 150_001, "cache_read": 50_000, "output": 1000}),
            "0.4212525",
        ),
        // (1000 × 0.25 + 100000 × 0.03 + 100 × 1.25) / 1e6.
        (
            "claude-3-haiku-20240307",
            json!({"input": 1000, "cache_read": 100_000, "output": 100}),
            "0.003375",
        ),
        // The dated key is longer than the shipped `gpt-4o` (2.5 / 10), so it prices the call.
        (
            "gpt-4o-2024-05-13",
            json!({"input": 1000, "output": 500}),
            "0.0125",
        ),
        (
            "o1-pro-2025-03-19",
            json!({"input": 10, "output": 10}),
            "0.0075",
        ),
        // Not in the map: the shipped default (0.25 / 2) still prices it.
        (
            "gpt-5-mini-2025-08-07",
            json!({"input": 1000, "output": 1000}),
            "0.00225",
        ),
    ];
    for (index, (model, usage, expected)) in cases.into_iter().enumerate() {
        let request_id = format!("r{index}");
        assert_eq!(
            cost(&app, &request_id, model, usage).await,
            expected,
            "{model}"
        );
    }
    assert_eq!(listed(&app, "gpt-5-mini").await["origin"], "default");
}

#[tokio::test]
async fn prices_set_through_the_api_stay_unless_the_import_names_them() {
    let (app, store) = router();
    let mine = json!({"input": "2", "output": "8"});
    admin(&app, Method::PUT, "/v1/admin/prices/my-model", Some(mine)).await;
    let cheap = json!({"input": "1", "output": "1"});
    admin(
        &app,
        Method::PUT,
        "/v1/admin/prices/claude-sonnet-4-5",
        Some(cheap),
    )
    .await;

    import(&app, IMPORT).await;

    let mine = listed(&app, "my-model").await;
    assert_eq!(
        (&mine["input"], &mine["origin"]),
        (&json!("2"), &json!("custom"))
    );
    let sonnet = listed(&app, "claude-sonnet-4-5").await;
    assert_eq!(
        sonnet["input"], "3",
        "the import wins for the model it names"
    );

    // A restart on the same database reads what the import stored.
    let reloaded = AppState::load(store, shipped_defaults().unwrap(), tokens()).unwrap();
    let memory = reloaded.memory();
    let (key, priced) = memory.prices.lookup("gemini-2.5-flash-001").unwrap();
    assert_eq!(
        (key, priced.entry.input.as_str()),
        ("gemini-2.5-flash", "0.3")
    );
    assert_eq!(priced.entry.cache_read.as_deref(), Some("0.075"));
}

#[tokio::test]
async fn a_dry_run_answers_the_same_and_stores_nothing() {
    let (app, store) = router();
    let answer = import(&app, &format!("{IMPORT}&dry_run=true")).await;
    assert_eq!(answer["dry_run"], true);
    assert_eq!(answer["imported"], 8);
    assert_eq!(answer["prices"].as_array().map(Vec::len), Some(8));
    assert_eq!(answer["skipped"].as_array().map(Vec::len), Some(3));

    assert!(store.load_directory().unwrap().prices.is_empty());
    assert_eq!(listed(&app, "claude-sonnet-4-5").await["origin"], "default");
    assert_eq!(listed(&app, "o1-pro").await, Value::Null);
}

#[tokio::test]
async fn providers_and_source_url_narrow_and_label_the_import() {
    let (app, _) = router();
    let uri = format!("{IMPORT}&providers=gemini&source_url=https://example.com/model_prices.json");
    let answer = import(&app, &uri).await;
    assert_eq!(answer["imported"], 2);
    assert_eq!(answer["skipped"], json!([]));
    assert_eq!(answer["other_providers"], 12);
    assert_eq!(
        answer["prices"][0]["source"],
        "litellm model_prices_and_context_window.json (https://example.com/model_prices.json)"
    );
    assert_eq!(listed(&app, "claude-haiku-4-5").await["origin"], "default");
}

#[tokio::test]
async fn the_import_needs_the_admin_token() {
    let (app, store) = router();
    for token in [None, Some("wrong")] {
        let (status, json) = send(&app, Method::POST, IMPORT, token, SAMPLE.to_owned()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{token:?}");
        assert!(json["error"].as_str().unwrap().contains("admin token"));
    }
    assert!(store.load_directory().unwrap().prices.is_empty());
}

#[tokio::test]
async fn bad_queries_and_bodies_are_refused_with_a_reason() {
    let (app, store) = router();
    let cases = [
        (
            "/v1/admin/prices/import?source=openrouter",
            SAMPLE,
            "unknown source \"openrouter\"; the only source is litellm",
        ),
        (
            "/v1/admin/prices/import",
            SAMPLE,
            "invalid query: failed to deserialize query string: missing field `source`",
        ),
        (
            "/v1/admin/prices/import?source=litellm&providers=anthropic,bedrock",
            SAMPLE,
            "unknown provider \"bedrock\" in providers; use anthropic, openai or gemini, \
             comma-separated",
        ),
        (
            "/v1/admin/prices/import?source=litellm&source_url=",
            SAMPLE,
            "source_url must be 1 to 1024 characters without spaces or control characters",
        ),
        (
            IMPORT,
            "[]",
            "the body is not a litellm price map (a json object of model names to entries): \
             invalid type: sequence, expected a map at line 1 column 0",
        ),
    ];
    for (uri, body, error) in cases {
        let (status, json) = send(&app, Method::POST, uri, Some(ADMIN), body.to_owned()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}");
        assert_eq!(json["error"], error, "{uri}");
    }
    assert!(store.load_directory().unwrap().prices.is_empty());
}

#[tokio::test]
async fn this_route_alone_takes_maps_past_the_usual_body_limit() {
    let (app, _) = router();
    // JSON allows any whitespace after the value; 20 MiB of it passes the usual 16 MiB limit.
    let padded = format!("{SAMPLE}{}", " ".repeat(20 * 1024 * 1024));

    let (status, answer) = send(&app, Method::POST, IMPORT, Some(ADMIN), padded.clone()).await;
    assert_eq!((status, &answer["imported"]), (StatusCode::OK, &json!(8)));

    let uri = "/v1/admin/prices/my-model";
    let (status, json) = send(&app, Method::PUT, uri, Some(ADMIN), padded).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        json["error"].as_str().unwrap().contains("length limit"),
        "{json}"
    );

    let huge = format!("{SAMPLE}{}", " ".repeat(33 * 1024 * 1024));
    let (status, _) = send(&app, Method::POST, IMPORT, Some(ADMIN), huge).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
}
