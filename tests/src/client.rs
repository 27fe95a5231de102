//! A coding tool's side of an exchange: sends its request through the gateway, the key where
//! the tool's API family puts it, and keeps what comes back.

use std::time::{Duration, Instant};

use trimio_mock_provider::exchange::Exchange;

/// Header that tells the mock provider which exchange to serve.
pub const EXCHANGE_HEADER: &str = "x-mock-exchange";
/// Response header the filter adds with the call's request id.
pub const REQUEST_ID_HEADER: &str = "x-trimio-request-id";

/// What the client saw of one call.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// The body as received (decoded, if the response was compressed).
    pub body: Vec<u8>,
    /// When each piece of the body arrived, counted from the request.
    pub arrivals: Vec<Duration>,
    /// The client hung up before the end (`client_abort_after_chunks`).
    pub aborted: bool,
    /// The body ended in an error (the provider reset the stream).
    pub cut: bool,
}

impl Outcome {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn request_id(&self) -> Option<&str> {
        self.header(REQUEST_ID_HEADER)
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// Where a tool of this exchange's API family sends its key.
pub fn key_header(exchange: &Exchange, key: &str) -> (String, String) {
    let path = exchange.request.path.as_str();
    if path.starts_with("/v1/messages") {
        ("x-api-key".to_owned(), key.to_owned())
    } else if path.starts_with("/v1beta/") {
        ("x-goog-api-key".to_owned(), key.to_owned())
    } else {
        ("authorization".to_owned(), format!("Bearer {key}"))
    }
}

/// Sends the exchange's request to `base` with `key`, reads the whole response (or hangs up
/// early where the exchange says so).
pub async fn send(
    http: &reqwest::Client,
    base: &str,
    exchange: &Exchange,
    key: Option<&str>,
) -> Result<Outcome, String> {
    let method = reqwest::Method::from_bytes(exchange.request.method.as_bytes())
        .map_err(|e| format!("{}: bad method: {e}", exchange.name))?;
    let mut request = http
        .request(method, format!("{base}{}", exchange.request.path))
        .header(EXCHANGE_HEADER, &exchange.name);
    for (name, value) in &exchange.request.headers {
        request = request.header(name, value);
    }
    if let Some(key) = key {
        let (name, value) = key_header(exchange, key);
        request = request.header(name, value);
    }
    let body = exchange.request.body_bytes();
    if !body.is_empty() {
        request = request.body(body);
    }

    let started = Instant::now();
    let mut response = request
        .send()
        .await
        .map_err(|e| format!("{}: {e}", exchange.name))?;
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let abort_after = exchange.request.client_abort_after_chunks;
    let mut outcome = Outcome {
        status,
        headers,
        body: Vec::new(),
        arrivals: Vec::new(),
        aborted: false,
        cut: false,
    };
    loop {
        if abort_after.is_some_and(|n| outcome.arrivals.len() >= n) {
            outcome.aborted = true;
            break;
        }
        match response.chunk().await {
            Ok(Some(chunk)) => {
                outcome.arrivals.push(started.elapsed());
                outcome.body.extend_from_slice(&chunk);
            }
            Ok(None) => break,
            Err(_) => {
                outcome.cut = true;
                break;
            }
        }
    }
    Ok(outcome)
}

/// Whether the client received exactly what the provider sent for its own request: the
/// status, every header of the exchange with its value, and the body.
pub fn passthrough(exchange: &Exchange, outcome: &Outcome) -> Result<(), String> {
    if outcome.status != exchange.response.status {
        return Err(format!(
            "status {} != {}",
            outcome.status, exchange.response.status
        ));
    }
    for (name, value) in &exchange.response.headers {
        if name.eq_ignore_ascii_case("content-length")
            || name.eq_ignore_ascii_case("transfer-encoding")
        {
            continue;
        }
        match outcome.header(&name.to_ascii_lowercase()) {
            Some(got) if got == value => {}
            got => return Err(format!("header {name}: {got:?} != {value:?}")),
        }
    }
    let chunks = exchange
        .response
        .body_chunks(exchange.request.asks_for_usage())
        .map_err(|e| e.to_string())?;
    let expected: Vec<u8> = chunks.concat();
    if outcome.aborted || outcome.cut {
        return if expected.starts_with(&outcome.body) {
            Ok(())
        } else {
            Err("the bytes before the hang-up differ from the provider's".to_owned())
        };
    }
    if outcome.body == expected {
        Ok(())
    } else {
        Err(format!(
            "body differs: got {} bytes, the provider sent {}: {:?}",
            outcome.body.len(),
            expected.len(),
            String::from_utf8_lossy(&outcome.body)
                .chars()
                .take(300)
                .collect::<String>()
        ))
    }
}
