//! No prompt, no completion, no virtual key and no provider credential is ever logged or
//! stored, and no credential reaches a client: traffic with markers planted in its prompts
//! and completions goes through the real gateway, then every log and every database file is
//! searched for them.

use std::time::Duration;

use trimio_e2e::envoy::TEST_CREDENTIALS;
use trimio_e2e::paths;
use trimio_e2e::stack::{Stack, StackOptions};
use trimio_mock_provider::exchange::{self, Exchange};

/// Exchanges with the prompt and the completion each carries, to be replaced by markers.
const PLANTED: [(&str, &str, &str); 4] = [
    (
        "anthropic-json-provider-headers",
        "Suggest a commit message for this diff.",
        "ledger: roll up per day in the insert transaction",
    ),
    (
        "openai-chat-json",
        "Explain the failing test.",
        "The assertion compares the wrong field.",
    ),
    (
        "openai-responses-json",
        "Summarize the diff.",
        "Two functions renamed.",
    ),
    (
        "gemini-stream-sse-running-totals",
        "Make the loader validate as it reads.",
        "I'll read the loader first.",
    ),
];

const PROMPT_MARKER: &str = "prompt-marker-7d1c5e0b";
const COMPLETION_MARKER: &str = "completion-marker-93ae41f2";

/// The exchange with its prompt and completion text replaced by the markers.
fn planted(exchange: &Exchange, prompt: &str, completion: &str) -> Exchange {
    let mut exchange = exchange.clone();
    let body = String::from_utf8(exchange.request.body_bytes()).unwrap();
    assert!(body.contains(prompt), "{}: {body}", exchange.name);
    exchange.request.body_text = Some(body.replace(prompt, PROMPT_MARKER));
    exchange.request.body = None;
    let mut replaced = false;
    for chunk in exchange.response.chunks.iter_mut() {
        if chunk.contains(completion) {
            *chunk = chunk.replace(completion, COMPLETION_MARKER);
            replaced = true;
        }
    }
    assert!(replaced, "{}: no completion text to replace", exchange.name);
    exchange
}

fn find(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}

#[tokio::test(flavor = "multi_thread")]
async fn no_prompt_completion_key_or_credential_is_logged_or_stored() {
    const LEASE_MS: u64 = 300;
    let all = exchange::load_all(&[paths::project_exchanges()]).unwrap();
    let exchanges: Vec<Exchange> = PLANTED
        .iter()
        .map(|(name, prompt, completion)| {
            let exchange = all.iter().find(|e| e.name == *name).unwrap();
            planted(exchange, prompt, completion)
        })
        .collect();
    let options = StackOptions {
        lease_ms: Some(LEASE_MS),
        ..StackOptions::default()
    };
    let mut stack = Stack::start(exchanges.clone(), options).await.unwrap();
    stack.load_prices(&exchanges).await.unwrap();
    let (_, key) = stack.team_with_key("secrets", Some("100")).await.unwrap();

    for exchange in &exchanges {
        let (outcome, record) = stack.call(exchange, &key).await.unwrap();
        assert_eq!(outcome.status, 200, "{}", exchange.name);
        assert!(find(&outcome.body, COMPLETION_MARKER), "{}", exchange.name);
        assert!(record["cost_usd"].is_string(), "{record}");
        for (_, credential) in TEST_CREDENTIALS {
            assert!(!find(&outcome.body, credential), "{}", exchange.name);
            let in_headers = outcome.headers.iter().any(|(_, v)| v.contains(credential));
            assert!(
                !in_headers,
                "{}: a credential in the response headers",
                exchange.name
            );
        }
    }
    // A denied call and a refused key leave their traces in the logs too.
    stack
        .control_plane
        .admin
        .set_budget("secrets", Some("0"))
        .await
        .unwrap();
    // The change reaches the gateway when the key's lease ends.
    tokio::time::sleep(Duration::from_millis(LEASE_MS + 100)).await;
    let denied = stack.send(&exchanges[0], Some(&key)).await.unwrap();
    assert_eq!(denied.status, 400);
    let unknown = stack
        .send(&exchanges[1], Some("tmk_not-a-key-of-this-gateway"))
        .await
        .unwrap();
    assert_eq!(unknown.status, 401);

    let database = stack.control_plane.database.clone();
    stack.control_plane.stop(false).await;
    let control_plane_log = std::fs::read(stack.dir.path().join("control-plane.0.log")).unwrap();
    let mut places: Vec<(String, Vec<u8>)> = vec![
        ("envoy log".into(), stack.envoy.log().into_bytes()),
        ("control plane log".into(), control_plane_log),
    ];
    for suffix in ["", "-wal", "-shm"] {
        let mut path = database.clone().into_os_string();
        path.push(suffix);
        if let Ok(bytes) = std::fs::read(&path) {
            places.push((format!("database file {}", path.to_string_lossy()), bytes));
        }
    }
    // The search finds what is there: the team's name is in the database, the filter's
    // configuration line in Envoy's log.
    let database_bytes: Vec<u8> = places
        .iter()
        .filter(|(name, _)| name.contains("database"))
        .flat_map(|(_, bytes)| bytes.clone())
        .collect();
    assert!(find(&database_bytes, "secrets"));
    assert!(find(&places[0].1, "trimio: configured"));
    let mut secrets: Vec<(&str, &str)> = vec![
        ("a prompt", PROMPT_MARKER),
        ("a completion", COMPLETION_MARKER),
        ("the virtual key", &key),
        ("an unknown key", "tmk_not-a-key-of-this-gateway"),
    ];
    for (_, credential) in TEST_CREDENTIALS {
        secrets.push(("a provider credential", credential));
    }
    for (place, bytes) in &places {
        assert!(!bytes.is_empty(), "{place} is empty");
        for (what, secret) in &secrets {
            assert!(!find(bytes, secret), "{what} is in the {place}");
        }
    }
    stack.stop().await;
}

/// The shipped gateway reaches every provider over TLS, checking the chain against the
/// system's CAs and the certificate's name against the provider's host, and sends that host
/// as SNI: a key is never sent to a server that merely answers on the provider's address.
#[test]
fn the_shipped_gateway_verifies_every_provider_certificate_and_name() {
    let text = std::fs::read_to_string(paths::root().join("envoy/gateway.yaml")).unwrap();
    let clusters = text.split("\n  - name: ").skip(1);
    let mut checked = Vec::new();
    for cluster in clusters {
        let name = cluster.lines().next().unwrap().trim();
        let Some(host) = [
            "api.anthropic.com",
            "api.openai.com",
            "generativelanguage.googleapis.com",
        ]
        .into_iter()
        .find(|host| cluster.contains(&format!("address: {host}, port_value: 443"))) else {
            continue;
        };
        for needed in [
            "name: envoy.transport_sockets.tls".to_owned(),
            format!("sni: {host}"),
            "trusted_ca: { filename: /etc/ssl/certs/ca-certificates.crt }".to_owned(),
            "san_type: DNS".to_owned(),
            format!("matcher: {{ exact: {host} }}"),
        ] {
            assert!(cluster.contains(&needed), "cluster {name} lacks `{needed}`");
        }
        checked.push(name.to_owned());
    }
    checked.sort();
    assert_eq!(checked, ["anthropic", "gemini", "openai"]);
}
