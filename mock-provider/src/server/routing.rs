//! Choosing the exchange that answers a request.
//!
//! In order: the exchange named by `x-mock-exchange`; else the one whose method, path (query
//! included) and body equal the request's, bodies compared as JSON values when both parse; else
//! the most alike with the same method and path, query ignored (streamed or not as asked, a
//! success, the same model); else the first with the same path, query ignored.

use std::cmp::Reverse;

use serde_json::Value;

use super::http1::path_of;
use crate::exchange::{ContentEncoding, Exchange, ExchangeError, UnknownEncoding};

/// The header that picks an exchange by name.
pub const EXCHANGE_HEADER: &str = "x-mock-exchange";

/// An exchange with what serving it needs computed once.
#[derive(Debug)]
pub(super) struct Entry {
    pub exchange: Exchange,
    pub encoding: Option<ContentEncoding>,
    body: Vec<u8>,
    body_json: Option<Value>,
    chunks: Vec<Vec<u8>>,
    chunks_with_usage: Vec<Vec<u8>>,
}

impl Entry {
    fn new(exchange: Exchange) -> Result<Self, CatalogError> {
        let response = &exchange.response;
        let chunks = response.body_chunks(false);
        let chunks_with_usage = response.body_chunks(true);
        let (chunks, chunks_with_usage) = match (chunks, chunks_with_usage) {
            (Ok(chunks), Ok(with_usage)) => (chunks, with_usage),
            (Err(source), _) | (_, Err(source)) => {
                return Err(CatalogError::Chunks {
                    name: exchange.name,
                    source,
                });
            }
        };
        let encoding = match response.encoding() {
            Ok(encoding) => encoding,
            Err(source) => {
                return Err(CatalogError::Encoding {
                    name: exchange.name,
                    source,
                });
            }
        };
        let body = exchange.request.body_bytes();
        let body_json = serde_json::from_slice(&body).ok();

        Ok(Entry {
            exchange,
            encoding,
            body,
            body_json,
            chunks,
            chunks_with_usage,
        })
    }

    pub fn name(&self) -> &str {
        &self.exchange.name
    }

    /// The chunks to send, before content encoding.
    pub fn chunks(&self, usage_requested: bool) -> &[Vec<u8>] {
        if usage_requested {
            &self.chunks_with_usage
        } else {
            &self.chunks
        }
    }

    /// How well this exchange answers a request it does not match exactly, so that a real
    /// tool pointed at the mock gets an answer in the form it asked for: streamed or not
    /// first, then a success over an error, then the same model.
    fn likeness(&self, body_json: Option<&Value>) -> (bool, bool, bool) {
        let field = |body: Option<&Value>, name: &str| body.and_then(|b| b.get(name)).cloned();
        let ours = self.body_json.as_ref();
        let streams = |body: Option<&Value>| field(body, "stream") == Some(Value::Bool(true));
        let same_stream = streams(ours) == streams(body_json);
        let success = (200..300).contains(&self.exchange.response.status);
        let same_model =
            field(ours, "model").is_some() && field(ours, "model") == field(body_json, "model");
        (same_stream, success, same_model)
    }

    fn same_body(&self, body: &[u8], body_json: Option<&Value>) -> bool {
        match (&self.body_json, body_json) {
            (Some(ours), Some(theirs)) => ours == theirs,
            _ => self.body == body,
        }
    }
}

/// An exchange that cannot be served.
#[derive(Debug, thiserror::Error)]
pub(super) enum CatalogError {
    #[error("exchange `{name}`: {source}")]
    Chunks { name: String, source: ExchangeError },
    #[error("exchange `{name}`: {source}")]
    Encoding {
        name: String,
        source: UnknownEncoding,
    },
}

/// Why no exchange answers a request; the text goes to the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(super) enum Miss {
    #[error("the mock provider has no exchange named `{0}`")]
    UnknownName(String),
    #[error("the mock provider has no exchange for {method} {path}")]
    NoRoute { method: String, path: String },
}

/// What a request is matched on.
pub(super) struct Wanted<'a> {
    pub method: &'a str,
    /// Path and query.
    pub target: &'a str,
    /// Value of `x-mock-exchange`, if sent.
    pub name: Option<&'a str>,
    pub body: &'a [u8],
    pub body_json: Option<&'a Value>,
}

/// Every exchange the mock serves, in the order given.
#[derive(Debug)]
pub(super) struct Catalog {
    entries: Vec<Entry>,
}

impl Catalog {
    pub fn new(exchanges: Vec<Exchange>) -> Result<Self, CatalogError> {
        let entries = exchanges
            .into_iter()
            .map(Entry::new)
            .collect::<Result<_, _>>()?;
        Ok(Catalog { entries })
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn choose(&self, wanted: &Wanted<'_>) -> Result<&Entry, Miss> {
        if let Some(name) = wanted.name {
            let named = self.entries.iter().find(|entry| entry.name() == name);
            return named.ok_or_else(|| Miss::UnknownName(name.to_owned()));
        }

        let same_route = |entry: &&Entry| {
            entry
                .exchange
                .request
                .method
                .eq_ignore_ascii_case(wanted.method)
                && entry.exchange.request.path == wanted.target
        };
        let path = path_of(wanted.target);

        let same_path = |entry: &&Entry| {
            entry
                .exchange
                .request
                .method
                .eq_ignore_ascii_case(wanted.method)
                && path_of(&entry.exchange.request.path) == path
        };
        let most_alike = self
            .entries
            .iter()
            .enumerate()
            .filter(|(_, entry)| same_path(entry))
            .max_by_key(|(index, entry)| (entry.likeness(wanted.body_json), Reverse(*index)))
            .map(|(_, entry)| entry);

        self.entries
            .iter()
            .filter(same_route)
            .find(|entry| entry.same_body(wanted.body, wanted.body_json))
            .or(most_alike)
            .or_else(|| self.entries.iter().find(same_route))
            .or_else(|| {
                self.entries
                    .iter()
                    .find(|e| path_of(&e.exchange.request.path) == path)
            })
            .ok_or_else(|| Miss::NoRoute {
                method: wanted.method.to_owned(),
                path: path.to_owned(),
            })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::exchange::{Request, Response};

    fn exchange(name: &str, method: &str, path: &str, body: Value) -> Exchange {
        Exchange {
            name: name.to_owned(),
            about: String::new(),
            request: Request {
                method: method.to_owned(),
                path: path.to_owned(),
                body: Some(body),
                ..Request::default()
            },
            response: Response {
                status: 200,
                ..Response::default()
            },
            prices: Default::default(),
            expect: None,
            path: Default::default(),
        }
    }

    fn catalog() -> Catalog {
        Catalog::new(vec![
            exchange(
                "first",
                "POST",
                "/v1/messages?beta=true",
                json!({"model": "a"}),
            ),
            exchange(
                "second",
                "POST",
                "/v1/messages?beta=true",
                json!({"model": "b", "x": 1}),
            ),
            exchange("get", "GET", "/v1/models", json!(null)),
        ])
        .unwrap()
    }

    fn choose<'a>(
        catalog: &'a Catalog,
        method: &str,
        target: &str,
        name: Option<&str>,
        body: &[u8],
    ) -> Result<&'a str, Miss> {
        let body_json = serde_json::from_slice(body).ok();
        let wanted = Wanted {
            method,
            target,
            name,
            body,
            body_json: body_json.as_ref(),
        };
        catalog.choose(&wanted).map(Entry::name)
    }

    #[test]
    fn the_header_wins() {
        let catalog = catalog();

        assert_eq!(
            choose(&catalog, "GET", "/other", Some("second"), b""),
            Ok("second")
        );
        assert_eq!(
            choose(
                &catalog,
                "POST",
                "/v1/messages?beta=true",
                Some("nope"),
                b""
            ),
            Err(Miss::UnknownName("nope".to_owned()))
        );
    }

    #[test]
    fn equal_json_bodies_match_whatever_their_layout() {
        let catalog = catalog();
        let body = br#"{ "x" : 1, "model" : "b" }"#;

        assert_eq!(
            choose(&catalog, "POST", "/v1/messages?beta=true", None, body),
            Ok("second")
        );
    }

    #[test]
    fn an_inexact_request_gets_the_most_alike_answer() {
        let mut error = exchange("error", "POST", "/v1/messages", json!({"model": "m"}));
        error.response.status = 429;
        let json_call = exchange("json", "POST", "/v1/messages", json!({"model": "m"}));
        let streamed = exchange(
            "streamed",
            "POST",
            "/v1/messages",
            json!({"model": "m", "stream": true}),
        );
        let catalog = Catalog::new(vec![error, json_call, streamed]).unwrap();

        let stream = br#"{"model":"other","stream":true}"#;
        assert_eq!(
            choose(&catalog, "POST", "/v1/messages", None, stream),
            Ok("streamed")
        );
        let plain = br#"{"model":"other","max_tokens":5}"#;
        assert_eq!(
            choose(&catalog, "POST", "/v1/messages?beta=true", None, plain),
            Ok("json")
        );
    }

    #[test]
    fn same_method_and_path_falls_back_to_the_first() {
        let catalog = catalog();

        let chosen = choose(
            &catalog,
            "POST",
            "/v1/messages?beta=true",
            None,
            b"{\"model\":\"c\"}",
        );
        assert_eq!(chosen, Ok("first"));
    }

    #[test]
    fn path_without_query_is_the_last_resort() {
        let catalog = catalog();

        assert_eq!(
            choose(&catalog, "POST", "/v1/messages", None, b""),
            Ok("first")
        );
        assert_eq!(
            choose(&catalog, "GET", "/v1/models?limit=5", None, b""),
            Ok("get")
        );
        assert_eq!(
            choose(&catalog, "POST", "/v1/responses?key=secret", None, b""),
            Err(Miss::NoRoute {
                method: "POST".to_owned(),
                path: "/v1/responses".to_owned()
            })
        );
    }

    #[test]
    fn usage_chunks_are_kept_apart() {
        let mut exchange = exchange("usage", "POST", "/v1/chat/completions", json!({}));
        exchange.response.chunks = vec!["a".to_owned()];
        exchange.response.chunks_when_usage_requested = Some(vec!["a".to_owned(), "u".to_owned()]);

        let catalog = Catalog::new(vec![exchange]).unwrap();

        assert_eq!(catalog.entries[0].chunks(false), [b"a".to_vec()]);
        assert_eq!(
            catalog.entries[0].chunks(true),
            [b"a".to_vec(), b"u".to_vec()]
        );
    }

    #[test]
    fn unservable_exchanges_are_refused() {
        let mut exchange = exchange("bad", "POST", "/", json!({}));
        exchange.response.content_encoding = Some("zstd".to_owned());

        let error = Catalog::new(vec![exchange]).unwrap_err();

        assert!(
            error
                .to_string()
                .starts_with("exchange `bad`: unknown content encoding")
        );
    }
}
