//! Just enough HTTP/1.1 for a provider, by hand: reading requests (length-delimited or chunked
//! bodies, `100-continue`, keep-alive) and framing responses, so that the replay decides exactly
//! which bytes leave the socket and when.

use std::io;

use http::StatusCode;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Largest request line plus headers accepted.
pub(super) const MAX_HEAD_BYTES: usize = 64 * 1024;
/// Largest request body accepted; agent loops send a few hundred kilobytes at most.
pub(super) const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;
const MAX_HEADERS: usize = 128;
const MAX_LINE_BYTES: usize = 8 * 1024;

/// The terminating chunk of a chunked body (no trailers).
pub(super) const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

/// A request the connection could not read.
#[derive(Debug, thiserror::Error)]
pub(super) enum HttpError {
    #[error("connection failed: {0}")]
    Io(#[from] io::Error),
    #[error("connection closed in the middle of a request")]
    Truncated,
    #[error("malformed request: {0}")]
    Malformed(String),
    #[error("request head is larger than {MAX_HEAD_BYTES} bytes")]
    HeadTooLarge,
    #[error("request body is larger than {MAX_BODY_BYTES} bytes")]
    BodyTooLarge,
}

/// One request as received, body decoded from its transfer encoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ReadRequest {
    pub method: String,
    /// The request target as sent: path and query.
    pub target: String,
    pub http10: bool,
    /// Lowercase names, in the order received.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl ReadRequest {
    /// Every value of a header, joined by `, ` as HTTP allows; `None` when absent.
    pub fn header(&self, name: &str) -> Option<String> {
        let values: Vec<&str> = self
            .headers
            .iter()
            .filter(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
            .collect();
        (!values.is_empty()).then(|| values.join(", "))
    }

    /// Whether the client lets the connection carry another request.
    pub fn keep_alive(&self) -> bool {
        let connection = self
            .header("connection")
            .unwrap_or_default()
            .to_ascii_lowercase();
        let says = |word: &str| connection.split(',').any(|token| token.trim() == word);
        if self.http10 {
            says("keep-alive")
        } else {
            !says("close")
        }
    }

    /// The path without its query string.
    pub fn path(&self) -> &str {
        path_of(&self.target)
    }
}

/// A target's path without its query string.
pub(super) fn path_of(target: &str) -> &str {
    target.split_once('?').map_or(target, |(path, _)| path)
}

/// How a response body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Framing {
    Length(usize),
    Chunked,
}

/// A response's status line and headers, ending with the blank line.
pub(super) fn head(
    status: u16,
    headers: &[(&str, &str)],
    framing: Framing,
    close: bool,
) -> Vec<u8> {
    let reason = StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("");
    let mut head = format!("HTTP/1.1 {status} {reason}\r\n");

    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    match framing {
        Framing::Length(length) => head.push_str(&format!("content-length: {length}\r\n")),
        Framing::Chunked => head.push_str("transfer-encoding: chunked\r\n"),
    }
    if close {
        head.push_str("connection: close\r\n");
    }
    head.push_str("\r\n");

    head.into_bytes()
}

/// One frame of a chunked body. `data` must not be empty: an empty frame ends the body.
pub(super) fn chunk(data: &[u8]) -> Vec<u8> {
    let mut frame = format!("{:x}\r\n", data.len()).into_bytes();
    frame.extend_from_slice(data);
    frame.extend_from_slice(b"\r\n");
    frame
}

/// A connection: the stream and the bytes read from it but not consumed yet.
pub(super) struct Http1<S> {
    stream: S,
    pending: Vec<u8>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Http1<S> {
    pub fn new(stream: S) -> Self {
        Http1 {
            stream,
            pending: Vec::new(),
        }
    }

    pub fn stream(&self) -> &S {
        &self.stream
    }

    /// Writes bytes and flushes them, so they leave before anything written later.
    pub async fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes).await?;
        self.stream.flush().await
    }

    /// Writes a whole response with a length-delimited body.
    pub async fn write_whole(
        &mut self,
        status: u16,
        headers: &[(&str, &str)],
        body: &[u8],
        close: bool,
    ) -> io::Result<()> {
        let mut response = head(status, headers, Framing::Length(body.len()), close);
        response.extend_from_slice(body);
        self.write(&response).await
    }

    /// The next request, or `None` when the client closed the connection between requests.
    pub async fn read_request(&mut self) -> Result<Option<ReadRequest>, HttpError> {
        let Some(mut request) = self.read_head().await? else {
            return Ok(None);
        };

        let body = self.body_kind(&request)?;
        let expects_continue = !request.http10
            && body != BodyKind::Length(0)
            && request
                .header("expect")
                .is_some_and(|e| e.eq_ignore_ascii_case("100-continue"));
        if expects_continue {
            self.write(b"HTTP/1.1 100 Continue\r\n\r\n").await?;
        }

        request.body = match body {
            BodyKind::Length(length) => self.read_exact(length).await?,
            BodyKind::Chunked => self.read_chunked().await?,
        };
        Ok(Some(request))
    }

    async fn read_head(&mut self) -> Result<Option<ReadRequest>, HttpError> {
        loop {
            if let Some(request) = self.parse_head()? {
                return Ok(Some(request));
            }
            if self.pending.len() > MAX_HEAD_BYTES {
                return Err(HttpError::HeadTooLarge);
            }
            if self.fill().await? == 0 {
                return if self.pending.is_empty() {
                    Ok(None)
                } else {
                    Err(HttpError::Truncated)
                };
            }
        }
    }

    /// Parses the head if it is all in `pending`, and consumes it.
    fn parse_head(&mut self) -> Result<Option<ReadRequest>, HttpError> {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut parsed = httparse::Request::new(&mut headers);
        let length = match parsed.parse(&self.pending) {
            Ok(httparse::Status::Complete(length)) => length,
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(error) => return Err(HttpError::Malformed(error.to_string())),
        };

        let request = ReadRequest {
            method: parsed.method.unwrap_or_default().to_owned(),
            target: parsed.path.unwrap_or_default().to_owned(),
            http10: parsed.version == Some(0),
            headers: parsed
                .headers
                .iter()
                .map(|h| {
                    let value = String::from_utf8_lossy(h.value).into_owned();
                    (h.name.to_ascii_lowercase(), value)
                })
                .collect(),
            body: Vec::new(),
        };

        self.pending.drain(..length);
        Ok(Some(request))
    }

    fn body_kind(&self, request: &ReadRequest) -> Result<BodyKind, HttpError> {
        if let Some(codings) = request.header("transfer-encoding") {
            let last = codings.rsplit(',').next().unwrap_or_default().trim();
            if last.eq_ignore_ascii_case("chunked") {
                return Ok(BodyKind::Chunked);
            }
            return Err(HttpError::Malformed(format!(
                "unsupported transfer-encoding `{codings}`"
            )));
        }

        let Some(lengths) = request.header("content-length") else {
            return Ok(BodyKind::Length(0));
        };
        let mut values = lengths.split(',').map(str::trim);
        let first = values.next().unwrap_or_default();
        if values.any(|other| other != first) {
            return Err(HttpError::Malformed(format!(
                "conflicting content-length `{lengths}`"
            )));
        }
        let length: usize = first
            .parse()
            .map_err(|_| HttpError::Malformed(format!("invalid content-length `{first}`")))?;
        if length > MAX_BODY_BYTES {
            return Err(HttpError::BodyTooLarge);
        }
        Ok(BodyKind::Length(length))
    }

    async fn read_exact(&mut self, length: usize) -> Result<Vec<u8>, HttpError> {
        self.need(length).await?;
        Ok(self.pending.drain(..length).collect())
    }

    async fn read_chunked(&mut self) -> Result<Vec<u8>, HttpError> {
        let mut body = Vec::new();
        loop {
            let line = self.read_line().await?;
            let size = chunk_size(&line)?;
            if size == 0 {
                break;
            }
            if body.len() + size > MAX_BODY_BYTES {
                return Err(HttpError::BodyTooLarge);
            }

            self.need(size + 2).await?;
            if &self.pending[size..size + 2] != b"\r\n" {
                return Err(HttpError::Malformed(
                    "chunk data not followed by CRLF".to_owned(),
                ));
            }
            body.extend_from_slice(&self.pending[..size]);
            self.pending.drain(..size + 2);
        }

        // Trailers carry nothing the mock uses; skip them up to the blank line.
        while !self.read_line().await?.is_empty() {}
        Ok(body)
    }

    /// The next line, without its CRLF.
    async fn read_line(&mut self) -> Result<Vec<u8>, HttpError> {
        loop {
            if let Some(end) = self.pending.windows(2).position(|pair| pair == b"\r\n") {
                let line = self.pending[..end].to_vec();
                self.pending.drain(..end + 2);
                return Ok(line);
            }
            if self.pending.len() > MAX_LINE_BYTES {
                return Err(HttpError::Malformed(
                    "line in chunked body too long".to_owned(),
                ));
            }
            if self.fill().await? == 0 {
                return Err(HttpError::Truncated);
            }
        }
    }

    /// Reads until at least `length` bytes are pending.
    async fn need(&mut self, length: usize) -> Result<(), HttpError> {
        while self.pending.len() < length {
            if self.fill().await? == 0 {
                return Err(HttpError::Truncated);
            }
        }
        Ok(())
    }

    /// One read from the stream; 0 at end of stream.
    async fn fill(&mut self) -> Result<usize, HttpError> {
        let mut buffer = [0u8; 16 * 1024];
        let read = self.stream.read(&mut buffer).await?;
        self.pending.extend_from_slice(&buffer[..read]);
        Ok(read)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BodyKind {
    Length(usize),
    Chunked,
}

fn chunk_size(line: &[u8]) -> Result<usize, HttpError> {
    let malformed = || HttpError::Malformed("invalid chunk size".to_owned());

    let text = std::str::from_utf8(line).map_err(|_| malformed())?;
    let digits = text.split(';').next().unwrap_or_default().trim();
    if digits.is_empty() || digits.len() > 15 || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(malformed());
    }
    usize::from_str_radix(digits, 16).map_err(|_| malformed())
}

#[cfg(test)]
mod tests {
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use tokio::io::ReadBuf;

    use super::*;

    /// A stream that hands out its input in fixed pieces and swallows what is written.
    struct Pieces {
        pieces: Vec<Vec<u8>>,
        written: Vec<u8>,
    }

    impl Pieces {
        fn new(pieces: Vec<Vec<u8>>) -> Self {
            let mut pieces = pieces;
            pieces.reverse();
            Pieces {
                pieces,
                written: Vec::new(),
            }
        }
    }

    impl AsyncRead for Pieces {
        fn poll_read(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            if let Some(mut piece) = self.pieces.pop() {
                let take = piece.len().min(buf.remaining());
                buf.put_slice(&piece[..take]);
                if take < piece.len() {
                    self.pieces.push(piece.split_off(take));
                }
            }
            Poll::Ready(Ok(()))
        }
    }

    impl AsyncWrite for Pieces {
        fn poll_write(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            self.written.extend_from_slice(buf);
            Poll::Ready(Ok(buf.len()))
        }

        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }

        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    async fn read_all(pieces: Vec<Vec<u8>>) -> Result<Vec<ReadRequest>, HttpError> {
        let mut http = Http1::new(Pieces::new(pieces));
        let mut requests = Vec::new();
        while let Some(request) = http.read_request().await? {
            requests.push(request);
        }
        Ok(requests)
    }

    const TWO_REQUESTS: &[u8] = b"POST /v1/messages?beta=true HTTP/1.1\r\nHost: x\r\n\
        Content-Length: 7\r\nX-Api-Key: k\r\n\r\n{\"a\":1}\
        POST /v1/chat/completions HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n\
        3;ext=1\r\n{\"b\r\n4\r\n\":2}\r\n0\r\ntrailer: t\r\n\r\n";

    #[tokio::test]
    async fn reads_pipelined_length_and_chunked_requests() {
        let requests = read_all(vec![TWO_REQUESTS.to_vec()]).await.unwrap();

        assert_eq!(requests.len(), 2);
        assert_eq!(requests[0].method, "POST");
        assert_eq!(requests[0].target, "/v1/messages?beta=true");
        assert_eq!(requests[0].path(), "/v1/messages");
        assert_eq!(
            requests[0].headers[2],
            ("x-api-key".to_owned(), "k".to_owned())
        );
        assert_eq!(requests[0].body, b"{\"a\":1}");
        assert_eq!(requests[1].body, b"{\"b\":2}");
    }

    #[tokio::test]
    async fn every_split_point_reads_the_same_requests() {
        let whole = read_all(vec![TWO_REQUESTS.to_vec()]).await.unwrap();

        for split in 1..TWO_REQUESTS.len() {
            let pieces = vec![
                TWO_REQUESTS[..split].to_vec(),
                TWO_REQUESTS[split..].to_vec(),
            ];
            assert_eq!(read_all(pieces).await.unwrap(), whole, "split at {split}");
        }
        let bytes = TWO_REQUESTS.iter().map(|b| vec![*b]).collect();
        assert_eq!(read_all(bytes).await.unwrap(), whole, "byte by byte");
    }

    #[tokio::test]
    async fn expect_continue_is_answered() {
        let request = b"POST / HTTP/1.1\r\nexpect: 100-continue\r\ncontent-length: 2\r\n\r\n{}";
        let mut http = Http1::new(Pieces::new(vec![request.to_vec()]));

        let read = http.read_request().await.unwrap().unwrap();

        assert_eq!(read.body, b"{}");
        assert_eq!(http.stream().written, b"HTTP/1.1 100 Continue\r\n\r\n");
    }

    #[tokio::test]
    async fn truncated_and_malformed_requests_fail() {
        let cut = b"POST / HTTP/1.1\r\ncontent-length: 10\r\n\r\n{}".to_vec();
        assert!(matches!(
            read_all(vec![cut]).await,
            Err(HttpError::Truncated)
        ));

        let bad = b"POST / HTTP/1.1\r\ncontent-length: ten\r\n\r\n".to_vec();
        assert!(matches!(
            read_all(vec![bad]).await,
            Err(HttpError::Malformed(_))
        ));

        let bad = b"POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n".to_vec();
        assert!(matches!(
            read_all(vec![bad]).await,
            Err(HttpError::Malformed(_))
        ));

        let conflicting = b"POST / HTTP/1.1\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\n";
        let result = read_all(vec![conflicting.to_vec()]).await;
        assert!(matches!(result, Err(HttpError::Malformed(_))));
    }

    #[test]
    fn keep_alive_follows_the_version_and_connection_header() {
        let mut request = ReadRequest {
            method: "GET".to_owned(),
            target: "/".to_owned(),
            http10: false,
            headers: Vec::new(),
            body: Vec::new(),
        };
        assert!(request.keep_alive());

        request
            .headers
            .push(("connection".to_owned(), "Close".to_owned()));
        assert!(!request.keep_alive());

        request.http10 = true;
        request.headers[0].1 = "keep-alive".to_owned();
        assert!(request.keep_alive());
    }

    #[test]
    fn heads_and_chunks_are_framed() {
        let head = head(429, &[("retry-after", "12")], Framing::Length(3), true);
        assert_eq!(
            head,
            b"HTTP/1.1 429 Too Many Requests\r\nretry-after: 12\r\ncontent-length: 3\r\n\
              connection: close\r\n\r\n"
        );
        assert_eq!(
            chunk(&[b'x'; 26]),
            [b"1a\r\n".as_slice(), &[b'x'; 26], b"\r\n"].concat()
        );
    }
}
