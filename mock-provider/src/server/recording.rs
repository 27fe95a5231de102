//! The record of every request the mock received, for tests to inspect.

use std::sync::{Mutex, MutexGuard, PoisonError};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};

/// One request as the mock received it.
///
/// As JSON (what `GET /__mock/requests` returns) the body is carried twice: `body_base64`, exact,
/// and `body_utf8`, lossy, for people; reading the JSON back uses `body_base64`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "ReceivedRequestJson", try_from = "ReceivedRequestJson")]
pub struct ReceivedRequest {
    pub method: String,
    /// Path with its query string, as received.
    pub path: String,
    /// Lowercase names, in the order received.
    pub headers: Vec<(String, String)>,
    /// The body, decoded from any transfer encoding.
    pub body: Vec<u8>,
    /// Name of the exchange served; `None` when the mock answered 404.
    pub exchange: Option<String>,
}

impl ReceivedRequest {
    /// The first value of a header; `name` in any case.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReceivedRequestJson {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body_base64: String,
    #[serde(default)]
    body_utf8: String,
    exchange: Option<String>,
}

impl From<ReceivedRequest> for ReceivedRequestJson {
    fn from(request: ReceivedRequest) -> Self {
        ReceivedRequestJson {
            body_base64: BASE64.encode(&request.body),
            body_utf8: String::from_utf8_lossy(&request.body).into_owned(),
            method: request.method,
            path: request.path,
            headers: request.headers,
            exchange: request.exchange,
        }
    }
}

impl TryFrom<ReceivedRequestJson> for ReceivedRequest {
    type Error = base64::DecodeError;

    fn try_from(json: ReceivedRequestJson) -> Result<Self, Self::Error> {
        Ok(ReceivedRequest {
            body: BASE64.decode(&json.body_base64)?,
            method: json.method,
            path: json.path,
            headers: json.headers,
            exchange: json.exchange,
        })
    }
}

/// Received requests, in arrival order.
#[derive(Debug, Default)]
pub(super) struct RequestLog(Mutex<Vec<ReceivedRequest>>);

impl RequestLog {
    pub fn record(&self, request: ReceivedRequest) {
        self.lock().push(request);
    }

    pub fn snapshot(&self) -> Vec<ReceivedRequest> {
        self.lock().clone()
    }

    /// Forgets every request; returns how many there were.
    pub fn clear(&self) -> usize {
        std::mem::take(&mut *self.lock()).len()
    }

    // A panic while holding the lock cannot leave the list half-written: pushes and takes are
    // whole, so a poisoned lock is still sound to use.
    fn lock(&self) -> MutexGuard<'_, Vec<ReceivedRequest>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn request() -> ReceivedRequest {
        ReceivedRequest {
            method: "POST".to_owned(),
            path: "/v1/messages?beta=true".to_owned(),
            headers: vec![("content-type".to_owned(), "application/json".to_owned())],
            body: vec![b'{', 0xc3, b'}'],
            exchange: Some("anthropic-json".to_owned()),
        }
    }

    #[test]
    fn json_carries_the_body_exactly_and_readably() {
        let json = serde_json::to_value(request()).unwrap();

        assert_eq!(
            json,
            json!({
                "method": "POST",
                "path": "/v1/messages?beta=true",
                "headers": [["content-type", "application/json"]],
                "body_base64": "e8N9",
                "body_utf8": "{\u{fffd}}",
                "exchange": "anthropic-json",
            })
        );
        assert_eq!(
            serde_json::from_value::<ReceivedRequest>(json).unwrap(),
            request()
        );
    }

    #[test]
    fn log_keeps_order_and_clears() {
        let log = RequestLog::default();
        log.record(request());
        log.record(ReceivedRequest {
            exchange: None,
            ..request()
        });

        let requests = log.snapshot();
        assert_eq!(requests.len(), 2);
        assert_eq!(requests[1].exchange, None);
        assert_eq!(requests[0].header("Content-Type"), Some("application/json"));

        assert_eq!(log.clear(), 2);
        assert!(log.snapshot().is_empty());
    }
}
