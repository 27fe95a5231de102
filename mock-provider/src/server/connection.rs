//! One client connection: requests read in turn, each answered by an exchange, by the mock's
//! own endpoint, or by a provider-shaped error.

use std::io;

use serde_json::{Value, json};
use tokio::net::TcpStream;
use tracing::{debug, info};

use super::http1::{Http1, HttpError, ReadRequest};
use super::recording::ReceivedRequest;
use super::routing::{EXCHANGE_HEADER, Wanted};
use super::{Shared, admin, replay};
use crate::exchange::json_asks_for_usage;

const JSON: (&str, &str) = ("content-type", "application/json");

/// What becomes of the connection once a response is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ending {
    /// Ready for the next request.
    KeepAlive,
    /// Closed cleanly.
    Close,
    /// Aborted with a TCP reset, as a provider that fails mid-stream does.
    Reset,
}

impl Ending {
    pub fn after(close: bool) -> Self {
        if close {
            Ending::Close
        } else {
            Ending::KeepAlive
        }
    }
}

pub(super) async fn serve(stream: TcpStream, shared: &Shared) {
    // Each chunk must leave on its own, not wait for the next to fill a segment.
    if let Err(error) = stream.set_nodelay(true) {
        debug!(error = %error, "cannot set TCP_NODELAY");
    }
    let mut http = Http1::new(stream);

    loop {
        let request = match http.read_request().await {
            Ok(Some(request)) => request,
            Ok(None) => return,
            Err(error @ (HttpError::Io(_) | HttpError::Truncated)) => {
                debug!(error = %error, "connection ended mid-request");
                return;
            }
            Err(error) => {
                info!(error = %error, "bad request");
                let body = provider_error("invalid_request_error", &error.to_string());
                if let Err(error) = http.write_whole(400, &[JSON], &body, true).await {
                    debug!(error = %error, "cannot answer bad request");
                }
                return;
            }
        };

        let ending = if admin::handles(&request) {
            admin::answer(&mut http, &request, &shared.log).await
        } else {
            answer(&mut http, &request, shared).await
        };

        match ending {
            Ok(Ending::KeepAlive) => {}
            Ok(Ending::Close) => return,
            Ok(Ending::Reset) => {
                // Linger zero makes the close below send RST instead of FIN.
                if let Err(error) = http.stream().set_zero_linger() {
                    debug!(error = %error, "cannot set SO_LINGER; closing normally");
                }
                return;
            }
            Err(error) => {
                debug!(error = %error, "client went away mid-response");
                return;
            }
        }
    }
}

async fn answer(
    http: &mut Http1<TcpStream>,
    request: &ReadRequest,
    shared: &Shared,
) -> io::Result<Ending> {
    let body_json: Option<Value> = serde_json::from_slice(&request.body).ok();
    let name = request.header(EXCHANGE_HEADER);
    let wanted = Wanted {
        method: &request.method,
        target: &request.target,
        name: name.as_deref().map(str::trim),
        body: &request.body,
        body_json: body_json.as_ref(),
    };
    let chosen = shared.catalog.choose(&wanted);

    shared.log.record(ReceivedRequest {
        method: request.method.clone(),
        path: request.target.clone(),
        headers: request.headers.clone(),
        body: request.body.clone(),
        exchange: chosen.as_ref().ok().map(|entry| entry.name().to_owned()),
    });

    match chosen {
        Ok(entry) => {
            let usage_requested = body_json.as_ref().is_some_and(json_asks_for_usage);
            debug!(
                exchange = entry.name(),
                method = %request.method,
                path = request.path(),
                status = entry.exchange.response.status,
                usage_requested,
                "replaying exchange"
            );
            replay::send(http, entry, request, usage_requested).await
        }
        Err(miss) => {
            info!(method = %request.method, path = request.path(), "no exchange for request");
            let close = !request.keep_alive();
            let body = provider_error("not_found_error", &miss.to_string());
            http.write_whole(404, &[JSON], &body, close).await?;
            Ok(Ending::after(close))
        }
    }
}

/// An error body shaped like Anthropic's, which coding tools display as is.
fn provider_error(kind: &str, message: &str) -> Vec<u8> {
    json!({ "type": "error", "error": { "type": kind, "message": message } })
        .to_string()
        .into_bytes()
}
