//! The control plane's admin API over HTTP: one request, one answer, and every failure turned
//! into a [`CliError`] that says what to do.

use std::io;
use std::time::Duration;

use reqwest::blocking::{Client, Response};
use reqwest::header::{CONTENT_TYPE, LOCATION};
use reqwest::redirect::Policy;
use reqwest::{Method, StatusCode, Url};
use serde_json::Value;

use crate::body::{ANSWER_LIMIT, Body, REFUSAL_LIMIT, read_capped};
use crate::error::CliError;
use crate::printable::printable_cut;
use crate::token::AdminToken;

/// How long to wait for a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long to wait for a whole answer; reports over long ranges take a while.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);
/// Characters of a body that is not the API's JSON kept for an error message, and of a
/// redirect's location.
const BODY_EXCERPT: usize = 200;
/// Characters of the API's own error message kept; the control plane's are one sentence.
const MESSAGE_LIMIT: usize = 500;

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

    /// Sends the request and reads the answer, up to [`ANSWER_LIMIT`] bytes of a success and
    /// [`REFUSAL_LIMIT`] of a refusal.
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
                .map_or_else(
                    || "an address it did not give".to_owned(),
                    |location| printable_cut(location, BODY_EXCERPT),
                );
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

        if !status.is_success() {
            let body = self.read(response, REFUSAL_LIMIT)?;
            return Err(refusal(status, &body.into_text(), &self.shown, request));
        }
        let too_large = || CliError::TooLarge {
            url: self.shown.clone(),
            method: request.method.to_string(),
            path: request.path_text(),
            limit: ANSWER_LIMIT,
        };
        // A length announced beyond the cap fails before anything is read.
        if response
            .content_length()
            .is_some_and(|length| length > ANSWER_LIMIT)
        {
            return Err(too_large());
        }
        let body = self.read(response, ANSWER_LIMIT)?;
        if body.cut {
            return Err(too_large());
        }
        let text = body.into_text();
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

    fn read(&self, response: Response, limit: u64) -> Result<Body, CliError> {
        read_capped(response, limit).map_err(|error| self.read_error(&error))
    }

    /// The URL of the request; refuses a path segment that a URL would drop or climb with.
    fn url(&self, request: &Request) -> Result<Url, CliError> {
        if let Some(segment) = request.path.iter().find(|segment| is_path_step(segment)) {
            return Err(CliError::PathStep {
                value: printable_cut(segment, BODY_EXCERPT),
                method: request.method.to_string(),
                path: printable_cut(&request.path_text(), MESSAGE_LIMIT),
            });
        }
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

    /// An error while reading a body: the HTTP client's, said as [`Api::transport`] says it.
    fn read_error(&self, error: &io::Error) -> CliError {
        let inner = error
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<reqwest::Error>());
        match inner {
            Some(inner) => self.transport(inner),
            None if error.kind() == io::ErrorKind::TimedOut => CliError::Timeout {
                url: self.shown.clone(),
                seconds: REQUEST_TIMEOUT.as_secs(),
            },
            None => CliError::Http {
                url: self.shown.clone(),
                cause: causes(error),
            },
        }
    }
}

/// Whether a path segment would not name a thing once in a URL: empty, or `.` or `..`, which
/// a URL drops or climbs a level with. Also caught: those written with tabs or line breaks
/// (which URL parsers drop) or percent-encoded (`%2e`, `.%2E`, `%252e`), since a proxy in front
/// of the control plane may decode escapes before it resolves the path, and any `/`-separated
/// part of the decoded value that is one of them.
pub fn is_path_step(segment: &str) -> bool {
    let step = |part: &[u8]| matches!(part, b"." | b"..");
    let mut bytes = segment.as_bytes().to_vec();
    loop {
        bytes.retain(|byte| !matches!(byte, b'\t' | b'\n' | b'\r'));
        if bytes.is_empty() || step(&bytes) || bytes.split(|b| matches!(b, b'/' | b'\\')).any(step)
        {
            return true;
        }
        let decoded = percent_decoded(&bytes);
        if decoded == bytes {
            return false;
        }
        bytes = decoded;
    }
}

/// Bytes with each `%XX` escape decoded once; a `%` not followed by two hex digits stays.
fn percent_decoded(bytes: &[u8]) -> Vec<u8> {
    let hex = |byte: Option<&u8>| byte.and_then(|byte| (*byte as char).to_digit(16));
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%'
            && let (Some(high), Some(low)) = (hex(bytes.get(index + 1)), hex(bytes.get(index + 2)))
        {
            // Two hex digits make at most 0xff.
            decoded.push((high * 16 + low) as u8);
            index += 3;
        } else {
            decoded.push(bytes[index]);
            index += 1;
        }
    }
    decoded
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
        // A page's line breaks and indents read as spaces in a one-line excerpt.
        let words: Vec<&str> = body.split_whitespace().take(BODY_EXCERPT).collect();
        let excerpt = printable_cut(&words.join(" "), BODY_EXCERPT);
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

/// The message of an API error body, `{"error": "..."}` or `{"error": {"message": "..."}}`,
/// escaped for a terminal and cut to 500 characters (`MESSAGE_LIMIT`).
pub fn api_message(body: &str) -> Option<String> {
    let value: Value = serde_json::from_str(body).ok()?;
    let error = value.get("error")?;
    let message = error
        .as_str()
        .or_else(|| error.get("message").and_then(Value::as_str))?;
    Some(printable_cut(message, MESSAGE_LIMIT))
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
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::thread::{self, JoinHandle};

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
    fn api_messages_are_escaped_and_cut() {
        let request = Request::admin(Method::POST, &["teams"]);
        let url = "http://127.0.0.1:8081";

        let hostile = json!({"error": "bad name\n\u{1b}]0;pwned\u{7}error: forged\u{9b}2J"});
        let error = refusal(StatusCode::BAD_REQUEST, &hostile.to_string(), url, &request);
        assert_eq!(
            error.to_string(),
            "bad name\\n\\u{1b}]0;pwned\\u{7}error: forged\\u{9b}2J (http 400)"
        );

        let long = json!({"error": "x".repeat(5_000_000)}).to_string();
        let CliError::Api { message, .. } = refusal(StatusCode::CONFLICT, &long, url, &request)
        else {
            panic!("not an api error");
        };
        assert_eq!(message.chars().count(), MESSAGE_LIMIT + 1);
        assert!(message.ends_with('…'), "{message}");

        let page = format!("<html>\u{1b}[2J{}</html>", "y".repeat(5_000));
        let error = refusal(StatusCode::BAD_GATEWAY, &page, url, &request).to_string();
        let start = "the control plane at http://127.0.0.1:8081 refused the request: <html>";
        assert!(error.starts_with(start), "{error}");
        assert!(error.contains("<html>\\u{1b}[2Jyyy"), "{error}");
        assert!(error.ends_with("y… (http 502)"), "{error}");
        assert!(error.chars().count() < 300, "{error}");
    }

    #[test]
    fn finds_path_steps_however_written() {
        for step in [
            "",
            ".",
            "..",
            "%2e",
            "%2E",
            ".%2e",
            "%2E.",
            "%2e%2E",
            "%252e%252e",
            ".\t.",
            "\n.",
            "a/..",
            "..%2Fb",
            "x%2F%2e%2e",
            "..\\x",
        ] {
            assert!(is_path_step(step), "{step:?}");
        }
        for name in [
            "payments",
            "...",
            "a.b",
            ".hidden",
            "%",
            "%2",
            "%zz",
            "%2e%2ex",
            "vertex_ai/claude-3",
        ] {
            assert!(!is_path_step(name), "{name:?}");
        }
    }

    #[test]
    fn never_sends_a_path_step() {
        // Nothing listens there: a request that went out would fail as unreachable.
        let port = {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let api = Api::new(&format!("http://127.0.0.1:{port}"), token()).unwrap();

        for (segments, shown) in [
            (
                &["teams", ".."][..],
                "\"..\" cannot be sent as part of GET /v1/admin/teams/..",
            ),
            (
                &["keys", "%2e", "x"],
                "\"%2e\" cannot be sent as part of GET /v1/admin/keys/%2e/x",
            ),
            (&["prices", "\u{1b}/.."], "\"\\u{1b}/..\" cannot be sent"),
        ] {
            let error = api
                .send(&Request::admin(Method::GET, segments))
                .unwrap_err();
            assert!(matches!(error, CliError::PathStep { .. }), "{error}");
            assert!(error.to_string().starts_with(shown), "{error}");
        }
        assert!(matches!(
            api.send(&Request::admin(Method::GET, &["teams", "..."])),
            Err(CliError::Unreachable { .. })
        ));
    }

    /// Serves one request on 127.0.0.1: reads its head, writes `head`, lets `body` write the
    /// rest, and closes. Returns the URL to use.
    fn serve_once(
        head: String,
        body: impl FnOnce(&mut TcpStream) + Send + 'static,
    ) -> (String, JoinHandle<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let server = thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut request = Vec::new();
            let mut buffer = [0u8; 1024];
            while !request.windows(4).any(|window| window == b"\r\n\r\n") {
                match stream.read(&mut buffer) {
                    Ok(0) | Err(_) => return,
                    Ok(read) => request.extend_from_slice(&buffer[..read]),
                }
            }
            if stream.write_all(head.as_bytes()).is_ok() {
                body(&mut stream);
            }
        });
        (url, server)
    }

    /// Writes `total` bytes of `byte` in blocks, stopping early once the client has gone.
    fn write_many(stream: &mut TcpStream, byte: u8, total: u64) {
        let block = vec![byte; 1024 * 1024];
        let mut written = 0u64;
        while written < total {
            if stream.write_all(&block).is_err() {
                return;
            }
            written += block.len() as u64;
        }
    }

    #[test]
    fn an_endless_answer_fails_at_the_cap() {
        let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n";
        let (url, server) = serve_once(head.to_owned(), |stream| {
            write_many(stream, b' ', 2 * ANSWER_LIMIT);
        });
        let api = Api::new(&url, token()).unwrap();

        let error = api
            .send(&Request::admin(Method::GET, &["reports", "spend"]))
            .unwrap_err();
        assert!(matches!(error, CliError::TooLarge { .. }), "{error}");
        let message = error.to_string();
        assert!(
            message.starts_with(&format!(
                "the control plane at {url} answered GET /v1/admin/reports/spend with more than \
                 64 MiB, the most trimio reads"
            )),
            "{message}"
        );
        server.join().unwrap();
    }

    #[test]
    fn an_announced_length_beyond_the_cap_fails_before_reading() {
        let head = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n[",
            1536 * 1024 * 1024u64
        );
        let (url, server) = serve_once(head, |stream| {
            // Hold the connection until the client drops it.
            let _ = stream.set_read_timeout(Some(Duration::from_secs(60)));
            let _ = stream.read(&mut [0u8; 1]);
        });
        let api = Api::new(&url, token()).unwrap();

        let error = api
            .send(&Request::admin(Method::GET, &["teams"]))
            .unwrap_err();
        assert!(matches!(error, CliError::TooLarge { .. }), "{error}");
        assert!(error.to_string().contains(&url), "{error}");
        server.join().unwrap();
    }

    #[test]
    fn a_long_refusal_is_read_in_part() {
        let message_len = 5_000_000u64;
        let head = format!(
            "HTTP/1.1 500 Internal Server Error\r\ncontent-type: application/json\r\n\
             content-length: {}\r\n\r\n{{\"error\":\"",
            message_len + 12
        );
        let (url, server) = serve_once(head, move |stream| {
            write_many(stream, b'x', message_len);
            let _ = stream.write_all(b"\"}");
        });
        let api = Api::new(&url, token()).unwrap();

        let error = api
            .send(&Request::admin(Method::GET, &["teams"]))
            .unwrap_err();
        let CliError::Api { status, message } = &error else {
            panic!("{error}");
        };
        assert_eq!(*status, 500);
        assert!(
            message.starts_with(&format!(
                "the control plane at {url} refused the request: {{\"error\":\"xxx"
            )),
            "{message}"
        );
        assert!(message.ends_with("x…"), "{message}");
        assert!(message.chars().count() < 300, "{message}");
        server.join().unwrap();
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
