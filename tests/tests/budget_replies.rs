//! A team over its budget gets, from each API family, the reply that provider gives an account
//! out of credit: its status, its error shape and its no-retry signal, with a message that
//! names the team, the budget and when the period resets. Nothing reaches the provider.
//!
//! Each family's reply is printed (`cargo test --test budget_replies -- --nocapture`), so a
//! reader sees exactly what a tool receives.

use serde_json::Value;
use trimio_e2e::client::Outcome;
use trimio_e2e::paths;
use trimio_e2e::stack::{Stack, StackOptions};
use trimio_mock_provider::exchange::{self, Exchange};

const TEAM: &str = "research";

fn named(exchanges: &[Exchange], name: &str) -> Exchange {
    exchanges
        .iter()
        .find(|e| e.name == name)
        .cloned()
        .unwrap_or_else(|| panic!("no exchange {name}"))
}

fn show(family: &str, reply: &Outcome) {
    eprintln!(
        "{family}: {} {}\n  x-should-retry: {:?}, x-trimio-denied: {:?}",
        reply.status,
        String::from_utf8_lossy(&reply.body),
        reply.header("x-should-retry"),
        reply.header("x-trimio-denied"),
    );
}

/// What every out-of-budget reply has, whatever the family; returns the message.
fn common(family: &str, reply: &Outcome, message: &Value) -> String {
    assert_eq!(
        reply.header("content-type"),
        Some("application/json"),
        "{family}"
    );
    assert_eq!(reply.header("x-should-retry"), Some("false"), "{family}");
    assert_eq!(
        reply.header("x-trimio-denied"),
        Some("budget_exhausted"),
        "{family}"
    );
    assert_eq!(
        reply.request_id(),
        None,
        "{family}: a denied call has no record"
    );
    let message = message
        .as_str()
        .unwrap_or_else(|| panic!("{family}: no message"))
        .to_owned();
    // The team, its budget ($0.00 a month) and when the period resets.
    for part in [
        format!("\"{TEAM}\""),
        "$0.00".to_owned(),
        "resets".to_owned(),
    ] {
        assert!(
            message.contains(&part),
            "{family}: {part} not in {message:?}"
        );
    }
    message
}

#[tokio::test(flavor = "multi_thread")]
async fn each_family_gets_its_providers_out_of_credit_reply() {
    let exchanges = exchange::load_all(&[paths::shared_fixtures(), paths::project_exchanges()])
        .expect("exchange files load");
    let stack = Stack::start(exchanges.clone(), StackOptions::default())
        .await
        .expect("stack starts");
    stack.load_prices(&exchanges).await.unwrap();
    // A zero budget admits nothing.
    let (_, key) = stack.team_with_key(TEAM, Some("0")).await.unwrap();

    // Anthropic Messages: 400 invalid_request_error, the shape Anthropic gives an account
    // whose credit balance is too low.
    let reply = stack
        .send(&named(&exchanges, "anthropic-json"), Some(&key))
        .await
        .unwrap();
    show("Anthropic Messages", &reply);
    let body = reply.json();
    assert_eq!(reply.status, 400);
    assert_eq!(body["type"], "error");
    assert_eq!(body["error"]["type"], "invalid_request_error");
    let message = common("Anthropic Messages", &reply, &body["error"]["message"]);
    assert!(
        !message.contains("Your credit balance is too low"),
        "Claude Code would show its own text in place of this message"
    );

    // OpenAI Chat Completions and Responses: 429 insufficient_quota.
    for (family, name) in [
        ("OpenAI Chat Completions", "openai-chat-stream-usage"),
        ("OpenAI Responses", "openai-responses-stream"),
    ] {
        let reply = stack
            .send(&named(&exchanges, name), Some(&key))
            .await
            .unwrap();
        show(family, &reply);
        let body = reply.json();
        assert_eq!(reply.status, 429, "{family}");
        assert_eq!(body["error"]["type"], "insufficient_quota", "{family}");
        assert_eq!(body["error"]["code"], "insufficient_quota", "{family}");
        assert!(body["error"]["param"].is_null(), "{family}");
        let message = common(family, &reply, &body["error"]["message"]);
        assert!(
            message.starts_with("You exceeded your current quota"),
            "{family}: {message}"
        );
    }

    // Gemini generateContent: 402 with status RESOURCE_EXHAUSTED, as Gemini answers when
    // prepaid credit is depleted.
    let reply = stack
        .send(&named(&exchanges, "gemini-thoughts"), Some(&key))
        .await
        .unwrap();
    show("Gemini generateContent", &reply);
    let body = reply.json();
    assert_eq!(reply.status, 402);
    assert_eq!(body["error"]["code"], 402);
    assert_eq!(body["error"]["status"], "RESOURCE_EXHAUSTED");
    assert_eq!(body["error"]["details"][0]["reason"], "BUDGET_EXHAUSTED");
    common("Gemini generateContent", &reply, &body["error"]["message"]);

    assert!(
        stack.mock.requests().is_empty(),
        "a call over budget reached the provider"
    );
    stack.stop().await;
}
