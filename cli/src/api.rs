//! The control plane's admin API over HTTP: one request, one answer, and every failure turned
//! into a [`CliError`] that says what to do.

use std::time::Duration;

use reqwest::blocking::Client;
use reqwest::header::{CONTENT_TYPE, LOCATION};
use reqwest::redirect::Policy;
use reqwest::{Method, StatusCode, Url};
use serde_json::Value;

use crate::error::CliError;
use crate::token::AdminToken;

/// How long to wait for a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long to wait for a whole answer; reports over long ranges take a while.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);
/// Characters of a body that is not the API's JSON kept for an error message.
const BODY_EXCERPT: usize = 200;

/// One admin API request, built before anything is sent.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub method: Method,
    /// Path segments after the base URL, each percent-encoded when sent.
    pub path: Vec<String>,
    pub query: Vec<(&'static str, String)>,
    pub body: Option<Value>,
}

impl Request {
    /// A request to `/v1/admin/<segments>`.
    pub fn admin(method: Method, segments: &[&str]) -> Request {
        let path = ["v1", "admin"]
            .iter()
            .chain(segments)
            .map(|segment| (*segment).to_owned())
            .collect();
        Request {
            method,
            path,
            query: Vec::new(),
            body: None,
        }
    }

    pub fn query(mut self, name: &'static str, value: impl Into<String>) -> Request {
        self.query.push((name, value.into()));
        self
    }

    /// Adds the parameter only when there is a value.
    pub fn query_opt(self, name: &'static str, value: Option<impl Into<String>>) -> Request {
        match value {
            Some(value) => self.query(name, value),
            None => self,
        }
    }

    pub fn body(mut self, body: Value) -> Request {
        self.body = Some(body);
        self
    }

    /// The path as the API's documentation writes it, for messages.
    pub fn path_text(&self) -> String {
        format!("/{}", self.path.join("/"))
    }
}

/// A successful answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// A JSON body, as received and parsed.
    Json { text: String, value: Value },
    /// Any other body, such as a CSV report.
    Text(String),
    /// No body (204).
    Empty,
}

/// A client for one control plane, holding the admin token.
#[derive(Debug)]
pub struct Api {
    base: Url,
    /// The base URL as messages show it: without any user or password in it.
    shown: String,
    token: AdminToken,
    http: Client,
}

impl Api {
    pub fn new(url: &str, token: AdminToken) -> Result<Api, CliError> {
        let base = Url::parse(url)
            .ok()
            .filter(|base| matches!(base.scheme(), "http" | "https") && base.has_host())
            .ok_or_else(|| CliError::BadUrl(url.to_owned()))?;
        let shown = shown_url(&base);
        let http = Client::builder()
            .redirect(Policy::none())
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .user_agent(concat!("trimio/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|error| CliError::Http {
                url: shown.clone(),
                cause: causes(&error),
            })?;
        Ok(Api {
            base,
            shown,
            token,
            http,
        })
    }

    /// Sends the request and reads the whole answer.
    pub fn send(&self, request: &Request) -> Result<Answer, CliError> {
        let mut builder = self
            .http
            .request(request.method.clone(), self.url(request)?)
            .bearer_auth(self.token.expose());
        if !request.query.is_empty() {
            builder = builder.query(&request.query);
        }
        if let Some(body) = &request.body {
            builder = builder.json(body);
        }
        let response = builder.send().map_err(|error| self.transport(&error))?;

        let status = response.status();
        if status.is_redirection() {
            let location = response
                .headers()
                .get(LOCATION)
                .and_then(|value| value.to_str().ok())
                .unwrap_or("an address it did not give")
                .to_owned();
            return Err(CliError::Redirected {
                url: self.shown.clone(),
                location,
            });
        }
        let is_json = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value.contains("json"));
        let text = response.text().map_err(|error| self.transport(&error))?;

        if !status.is_success() {
            return Err(refusal(status, &text, &self.shown, request));
        }
        if status == StatusCode::NO_CONTENT || (text.trim().is_empty() && !is_json) {
            return Ok(Answer::Empty);
        }
        if !is_json {
            return Ok(Answer::Text(text));
        }
        match serde_json::from_str(&text) {
            Ok(value) => Ok(Answer::Json { text, value }),
            Err(_) => Err(CliError::Unexpected {
                url: self.shown.clone(),
                what: format!("{status} with a body that is not JSON"),
            }),
        }
    }

    /// Sends a request whose answer must be JSON; returns it as received and parsed.
    pub fn json(&self, request: &Request) -> Result<(String, Value), CliError> {
        match self.send(request)? {
            Answer::Json { text, value } => Ok((text, value)),
            Answer::Text(_) | Answer::Empty => Err(CliError::Unexpected {
                url: self.shown.clone(),
                what: format!("{} {} without JSON", request.method, request.path_text()),
            }),
        }
    }

    fn url(&self, request: &Request) -> Result<Url, CliError> {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .map_err(|()| CliError::BadUrl(self.shown.clone()))?
            .pop_if_empty()
            .extend(&request.path);
        Ok(url)
    }

    fn transport(&self, error: &reqwest::Error) -> CliError {
        let url = self.shown.clone();
        if error.is_timeout() {
            let seconds = if error.is_connect() {
                CONNECT_TIMEOUT
            } else {
                REQUEST_TIMEOUT
            };
            return CliError::Timeout {
                url,
                seconds: seconds.as_secs(),
            };
        }
        if error.is_connect() {
            return CliError::Unreachable {
                url,
                cause: innermost(error),
            };
        }
        CliError::Http {
            url,
            cause: causes(error),
        }
    }
}

/// The error for a refused request: the API's own message where it gave one.
fn refusal(status: StatusCode, body: &str, url: &str, request: &Request) -> CliError {
    if status == StatusCode::UNAUTHORIZED {
        // The control plane answers {"error": "..."}; a gateway or a provider answers in a
        // provider's shape, which means --url names the wrong server.
        let from_control_plane = serde_json::from_str::<serde_json::Value>(body)
            .is_ok_and(|value| value["error"].is_string());
        if !from_control_plane {
            return CliError::NotControlPlane {
                url: url.to_owned(),
            };
        }
        return CliError::Unauthorized {
            url: url.to_owned(),
        };
    }
    let message = api_message(body);
    if status == StatusCode::NOT_FOUND && message.as_deref() == Some("no such route") {
        return CliError::NoRoute {
            url: url.to_owned(),
            method: request.method.to_string(),
            path: request.path_text(),
        };
    }
    let message = message.unwrap_or_else(|| {
        let excerpt: String = body.trim().chars().take(BODY_EXCERPT).collect();
        let excerpt = excerpt.replace(|c: char| c.is_control(), " ");
        if excerpt.is_empty() {
            format!("the control plane at {url} refused the request")
        } else {
            format!("the control plane at {url} refused the request: {excerpt}")
        }
    });
    CliError::Api {
        status: status.as_u16(),
        message,
    }
}

/// The message of an API error body: `{"error": "..."}` or `{"error": {"message": "..."}}`.
pub fn api_message(body: &str) -> Option<String> {
    let value: Value = serde_json::from_str(body).ok()?;
    let error = value.get("error")?;
    let message = error
        .as_str()
        .or_else(|| error.get("message").and_then(Value::as_str))?;
    Some(message.to_owned())
}

/// The URL without user, password, query or fragment, and without a trailing slash.
fn shown_url(url: &Url) -> String {
    let mut shown = url.clone();
    // Both fail only for URLs that cannot have them, which then have none to remove.
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.set_query(None);
    shown.set_fragment(None);
    shown.as_str().trim_end_matches('/').to_owned()
}

/// The deepest cause, which names what went wrong ("Connection refused (os error 111)").
fn innermost(error: &(dyn std::error::Error + 'static)) -> String {
    let mut deepest = error;
    while let Some(source) = deepest.source() {
        deepest = source;
    }
    deepest.to_string()
}

/// Every cause in the chain, outermost first.
fn causes(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![error.to_string()];
    let mut current = error;
    while let Some(source) = current.source() {
        parts.push(source.to_string());
        current = source;
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use std::net::TcpListener;

    use serde_json::json;

    use super::*;

    fn token() -> AdminToken {
        AdminToken::resolve(None, &|_| Some("s3cret-admin".to_owned())).unwrap()
    }

    #[test]
    fn paths_are_encoded_segment_by_segment_under_any_base() {
        let request = Request::admin(Method::GET, &["teams", "a b/c", "keys"]).query("x", "1");
        assert_eq!(request.path_text(), "/v1/admin/teams/a b/c/keys");

        for base in ["http://127.0.0.1:8081", "http://127.0.0.1:8081/"] {
            let api = Api::new(base, token()).unwrap();
            let url = api.url(&request).unwrap();
            assert_eq!(
                url.as_str(),
                "http://127.0.0.1:8081/v1/admin/teams/a%20b%2Fc/keys"
            );
        }
        let api = Api::new("https://ops.example/trimio/", token()).unwrap();
        assert_eq!(
            api.url(&Request::admin(Method::GET, &["teams"]))
                .unwrap()
                .as_str(),
            "https://ops.example/trimio/v1/admin/teams"
        );
    }

    #[test]
    fn refuses_urls_that_are_not_http() {
        for bad in ["127.0.0.1:8081", "ftp://host", "not a url", "unix:/tmp/x"] {
            assert!(
                matches!(Api::new(bad, token()), Err(CliError::BadUrl(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn messages_show_the_url_without_credentials() {
        let api = Api::new("http://ops:hunter2@127.0.0.1:8081/?x=1", token()).unwrap();
        assert_eq!(api.shown, "http://127.0.0.1:8081");
    }

    #[test]
    fn reads_both_error_shapes() {
        assert_eq!(
            api_message(r#"{"error":"no team \"x\""}"#).as_deref(),
            Some("no team \"x\"")
        );
        let nested = json!({"error": {"message": "budget exists", "type": "conflict"}});
        assert_eq!(
            api_message(&nested.to_string()).as_deref(),
            Some("budget exists")
        );
        assert_eq!(api_message("<html>bad gateway</html>"), None);
        assert_eq!(api_message(r#"{"error":42}"#), None);
    }

    #[test]
    fn refusals_carry_the_api_message_or_say_what_to_do() {
        let request = Request::admin(Method::GET, &["budgets"]);
        let url = "http://127.0.0.1:8081";

        let body = r#"{"error":"missing or wrong admin token"}"#;
        let error = refusal(StatusCode::UNAUTHORIZED, body, url, &request);
        assert!(error.to_string().contains("--token-file"), "{error}");
        assert!(error.to_string().contains("TRIMIO_ADMIN_TOKEN"), "{error}");
        let gateway = r#"{"type":"error","error":{"type":"authentication_error","message":"x"}}"#;
        let error = refusal(StatusCode::UNAUTHORIZED, gateway, url, &request);
        assert!(error.to_string().contains("not at the gateway"), "{error}");

        let error = refusal(
            StatusCode::NOT_FOUND,
            r#"{"error":"no such route"}"#,
            url,
            &request,
        );
        assert_eq!(
            error.to_string(),
            "the control plane at http://127.0.0.1:8081 has no route GET /v1/admin/budgets; it is \
             older than this trimio, upgrade it"
        );

        let error = refusal(
            StatusCode::CONFLICT,
            r#"{"error":"team \"payments\" already exists"}"#,
            url,
            &request,
        );
        assert_eq!(
            error.to_string(),
            "team \"payments\" already exists (http 409)"
        );

        let error = refusal(StatusCode::BAD_GATEWAY, "upstream\ndown", url, &request);
        assert_eq!(
            error.to_string(),
            "the control plane at http://127.0.0.1:8081 refused the request: upstream down \
             (http 502)"
        );
    }

    #[test]
    fn a_closed_port_names_the_url_and_how_to_fix_it() {
        let port = {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let api = Api::new(&format!("http://127.0.0.1:{port}"), token()).unwrap();

        let error = api
            .send(&Request::admin(Method::GET, &["teams"]))
            .unwrap_err();
        let message = error.to_string();
        assert!(matches!(error, CliError::Unreachable { .. }), "{message}");
        assert!(
            message.contains(&format!("http://127.0.0.1:{port}")),
            "{message}"
        );
        assert!(message.contains("TRIMIO_URL"), "{message}");
        assert!(!message.contains("s3cret-admin"), "{message}");
    }
}
