//! The request side of an exchange: what a coding tool sends.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The request a coding tool sends. Its headers never carry a key.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    pub method: String,
    /// Path with its query string, as sent on the request line.
    pub path: String,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
    /// Raw body text; replaces `body` where the exact bytes matter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_text: Option<String>,
    /// The client closes its connection after receiving this many response chunks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_abort_after_chunks: Option<usize>,
}

impl Request {
    /// The bytes to send: `body_text` as is, else `body` as compact JSON in the key order of
    /// the file, else nothing.
    pub fn body_bytes(&self) -> Vec<u8> {
        if let Some(text) = &self.body_text {
            return text.as_bytes().to_vec();
        }
        match &self.body {
            // Serializing a `Value` cannot fail: its keys are strings and it holds no floats
            // that JSON cannot represent.
            Some(body) => serde_json::to_vec(body).unwrap_or_default(),
            None => Vec::new(),
        }
    }

    /// Whether the body asks an OpenAI-style provider to stream usage
    /// (`stream_options.include_usage: true`).
    pub fn asks_for_usage(&self) -> bool {
        if let Some(text) = &self.body_text {
            return body_asks_for_usage(text.as_bytes());
        }
        self.body.as_ref().is_some_and(json_asks_for_usage)
    }
}

/// Whether raw request bytes are JSON that asks for usage; false when they are not JSON.
fn body_asks_for_usage(body: &[u8]) -> bool {
    serde_json::from_slice::<Value>(body).is_ok_and(|value| json_asks_for_usage(&value))
}

/// Whether a parsed request body asks for usage.
pub(crate) fn json_asks_for_usage(body: &Value) -> bool {
    body.pointer("/stream_options/include_usage") == Some(&Value::Bool(true))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn request(body: &str) -> Request {
        Request {
            body: Some(serde_json::from_str(body).unwrap()),
            ..Request::default()
        }
    }

    #[test]
    fn body_bytes_keep_the_key_order_of_the_file() {
        let request = request(r#"{ "model": "m", "stream": true, "a": { "z": 1, "b": 2 } }"#);

        assert_eq!(
            request.body_bytes(),
            br#"{"model":"m","stream":true,"a":{"z":1,"b":2}}"#
        );
    }

    #[test]
    fn body_text_replaces_body() {
        let mut request = request(r#"{"model": "m"}"#);
        request.body_text = Some("{ \"model\" : \"x\" }".to_owned());

        assert_eq!(request.body_bytes(), b"{ \"model\" : \"x\" }");
    }

    #[test]
    fn no_body_is_empty() {
        assert!(Request::default().body_bytes().is_empty());
    }

    #[test]
    fn usage_is_asked_only_by_include_usage_true() {
        assert!(request(r#"{"stream_options": {"include_usage": true}}"#).asks_for_usage());
        assert!(!request(r#"{"stream_options": {"include_usage": false}}"#).asks_for_usage());
        assert!(!request(r#"{"stream_options": {}}"#).asks_for_usage());
        assert!(!request(r#"{"stream": true}"#).asks_for_usage());
        assert!(!Request::default().asks_for_usage());
    }

    #[test]
    fn usage_in_body_text_counts() {
        let text = json!({"stream_options": {"include_usage": true}}).to_string();
        let request = Request {
            body_text: Some(text),
            ..Request::default()
        };

        assert!(request.asks_for_usage());
        assert!(!body_asks_for_usage(b"not json"));
    }
}
