//! Sending an exchange's response: its status, its headers, then its chunks one frame at a
//! time, paced, compressed and cut as the exchange asks.

use std::borrow::Cow;
use std::io;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};

use super::connection::Ending;
use super::encoding::{self, Encoder};
use super::http1::{self, Framing, Http1, LAST_CHUNK, ReadRequest};
use super::routing::Entry;
use crate::exchange::{ContentEncoding, Response};

/// Headers the mock frames itself; the exchange's values for them are not sent.
const FRAMING_HEADERS: [&str; 4] = [
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
];

/// Sends `entry`'s response to `request`.
pub(super) async fn send<S: AsyncRead + AsyncWrite + Unpin>(
    http: &mut Http1<S>,
    entry: &Entry,
    request: &ReadRequest,
    usage_requested: bool,
) -> io::Result<Ending> {
    let response = &entry.exchange.response;
    let chunks = entry.chunks(usage_requested);
    let accept_encoding = request.header("accept-encoding");
    let encoding = entry
        .encoding
        .filter(|e| encoding::accepts(accept_encoding.as_deref(), *e));
    let headers = headers(response, encoding);
    let close = !request.keep_alive();

    if !streams(response, chunks) {
        let body = chunks.concat();
        let body = match encoding {
            Some(encoding) => Encoder::whole(encoding, &body)?,
            None => body,
        };
        http.write_whole(response.status, &headers, &body, close)
            .await?;
        return Ok(Ending::after(close));
    }

    http.write(&http1::head(
        response.status,
        &headers,
        Framing::Chunked,
        close,
    ))
    .await?;

    let mut encoder = encoding.map(Encoder::new);
    let delay = response.chunk_delay_ms.map(Duration::from_millis);
    for (index, chunk) in chunks.iter().enumerate() {
        if response.reset_after_chunks == Some(index) {
            return Ok(Ending::Reset);
        }
        if index > 0
            && let Some(delay) = delay
        {
            tokio::time::sleep(delay).await;
        }

        let data = match &mut encoder {
            Some(encoder) => Cow::Owned(encoder.push(chunk)?),
            None => Cow::Borrowed(chunk.as_slice()),
        };
        // An empty frame would end the body; an empty chunk sends nothing.
        if !data.is_empty() {
            http.write(&http1::chunk(&data)).await?;
        }
    }
    if response.reset_after_chunks.is_some() {
        return Ok(Ending::Reset);
    }

    let mut end = Vec::new();
    if let Some(encoder) = encoder {
        let trailer = encoder.finish()?;
        if !trailer.is_empty() {
            end.extend(http1::chunk(&trailer));
        }
    }
    end.extend_from_slice(LAST_CHUNK);
    http.write(&end).await?;

    Ok(Ending::after(close))
}

/// Whether the body goes out as chunks rather than one length-delimited piece.
fn streams(response: &Response, chunks: &[Vec<u8>]) -> bool {
    chunks.len() > 1 || response.chunk_delay_ms.is_some() || response.reset_after_chunks.is_some()
}

fn headers(response: &Response, encoding: Option<ContentEncoding>) -> Vec<(&str, &str)> {
    let mut headers: Vec<(&str, &str)> = response
        .headers
        .iter()
        .filter(|(name, _)| !FRAMING_HEADERS.iter().any(|f| name.eq_ignore_ascii_case(f)))
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect();
    if let Some(encoding) = encoding {
        headers.push(("content-encoding", encoding.token()));
    }
    headers
}
