//! The mock's own endpoint: `GET /__mock/requests` lists what it received (as JSON, see
//! [`ReceivedRequest`](super::ReceivedRequest)), `DELETE /__mock/requests` forgets it. Neither
//! is recorded.

use std::io;

use serde_json::json;
use tokio::io::{AsyncRead, AsyncWrite};

use super::connection::Ending;
use super::http1::{Http1, ReadRequest};
use super::recording::RequestLog;

/// Path of the received-requests endpoint.
pub const REQUESTS_PATH: &str = "/__mock/requests";

const JSON: (&str, &str) = ("content-type", "application/json");

pub(super) fn handles(request: &ReadRequest) -> bool {
    request.path() == REQUESTS_PATH
}

pub(super) async fn answer<S: AsyncRead + AsyncWrite + Unpin>(
    http: &mut Http1<S>,
    request: &ReadRequest,
    log: &RequestLog,
) -> io::Result<Ending> {
    let close = !request.keep_alive();

    match request.method.as_str() {
        "GET" => {
            let body = serde_json::to_vec(&log.snapshot()).map_err(io::Error::other)?;
            http.write_whole(200, &[JSON], &body, close).await?;
        }
        "DELETE" => {
            let body = json!({ "cleared": log.clear() }).to_string();
            http.write_whole(200, &[JSON], body.as_bytes(), close)
                .await?;
        }
        _ => {
            let body = json!({ "error": "use GET or DELETE" }).to_string();
            let headers = [JSON, ("allow", "GET, DELETE")];
            http.write_whole(405, &headers, body.as_bytes(), close)
                .await?;
        }
    }

    Ok(Ending::after(close))
}
