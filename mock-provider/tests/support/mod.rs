//! A raw HTTP/1.1 client for the mock's tests: it sees framing that ordinary clients hide (one
//! frame per chunk, when each arrives, how the connection ends).

// Each test binary uses a different part of this module.
#![allow(dead_code)]

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;
use trimio_mock_provider::exchange::{self, Exchange};

/// Longest wait for anything the mock should send; only reached when a test is already failing.
pub const PATIENCE: Duration = Duration::from_secs(10);

pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures")
}

pub fn fixture(name: &str) -> Exchange {
    let path = fixtures_dir().join(format!("{name}.exchange.json"));
    exchange::load(&path).unwrap_or_else(|error| panic!("{error}"))
}

pub fn all_fixtures() -> Vec<Exchange> {
    exchange::load_all(&[fixtures_dir()]).unwrap_or_else(|error| panic!("{error}"))
}

/// A response's status line and headers.
#[derive(Debug)]
pub struct Head {
    pub status: u16,
    /// Lowercase names, in order.
    pub headers: Vec<(String, String)>,
}

impl Head {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

pub struct Client {
    stream: TcpStream,
    pending: Vec<u8>,
}

impl Client {
    pub async fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).await.expect("connect to the mock");
        Client {
            stream,
            pending: Vec::new(),
        }
    }

    /// Sends a request with a length-delimited body; `host` and `content-length` are added.
    pub async fn send(
        &mut self,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) {
        let mut request = format!("{method} {target} HTTP/1.1\r\nhost: mock\r\n");
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str(&format!("content-length: {}\r\n\r\n", body.len()));

        let mut bytes = request.into_bytes();
        bytes.extend_from_slice(body);
        self.send_raw(&bytes).await;
    }

    pub async fn send_raw(&mut self, bytes: &[u8]) {
        self.stream
            .write_all(bytes)
            .await
            .expect("send to the mock");
    }

    pub async fn read_head(&mut self) -> Head {
        loop {
            let mut headers = [httparse::EMPTY_HEADER; 64];
            let mut response = httparse::Response::new(&mut headers);
            if let httparse::Status::Complete(length) = response
                .parse(&self.pending)
                .expect("a valid response head")
            {
                let head = Head {
                    status: response.code.expect("a status"),
                    headers: response
                        .headers
                        .iter()
                        .map(|h| {
                            let value = String::from_utf8(h.value.to_vec()).expect("text header");
                            (h.name.to_ascii_lowercase(), value)
                        })
                        .collect(),
                };
                self.pending.drain(..length);
                return head;
            }
            assert!(
                self.fill().await.expect("read a head") > 0,
                "connection closed before a head"
            );
        }
    }

    /// The data of the next chunked frame; `None` after the last chunk (and its blank line).
    pub async fn read_frame(&mut self) -> io::Result<Option<Vec<u8>>> {
        let line = self.read_line().await?;
        let size = usize::from_str_radix(line.trim(), 16).expect("a chunk size");
        if size == 0 {
            assert_eq!(self.read_line().await?, "", "no trailers expected");
            return Ok(None);
        }

        self.need(size + 2).await?;
        let data = self.pending[..size].to_vec();
        assert_eq!(
            &self.pending[size..size + 2],
            b"\r\n",
            "chunk data ends with CRLF"
        );
        self.pending.drain(..size + 2);
        Ok(Some(data))
    }

    /// Every remaining frame of a chunked body.
    pub async fn read_frames(&mut self) -> Vec<Vec<u8>> {
        let mut frames = Vec::new();
        while let Some(frame) = self.read_frame().await.expect("read a frame") {
            frames.push(frame);
        }
        frames
    }

    /// The body after `head`, whatever its framing.
    pub async fn read_body(&mut self, head: &Head) -> Vec<u8> {
        if head.header("transfer-encoding") == Some("chunked") {
            return self.read_frames().await.concat();
        }
        let length: usize = head
            .header("content-length")
            .expect("a content-length or a chunked body")
            .parse()
            .expect("a numeric content-length");
        self.need(length).await.expect("read a body");
        self.pending.drain(..length).collect()
    }

    /// Sends a request and reads its whole response.
    pub async fn call(
        &mut self,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> (Head, Vec<u8>) {
        self.send(method, target, headers, body).await;
        let head = self.read_head().await;
        let body = self.read_body(&head).await;
        (head, body)
    }

    async fn read_line(&mut self) -> io::Result<String> {
        loop {
            if let Some(end) = self.pending.windows(2).position(|pair| pair == b"\r\n") {
                let line = String::from_utf8(self.pending[..end].to_vec()).expect("text line");
                self.pending.drain(..end + 2);
                return Ok(line);
            }
            if self.fill().await? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
    }

    async fn need(&mut self, length: usize) -> io::Result<()> {
        while self.pending.len() < length {
            if self.fill().await? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
        Ok(())
    }

    async fn fill(&mut self) -> io::Result<usize> {
        let mut buffer = [0u8; 16 * 1024];
        let read = timeout(PATIENCE, self.stream.read(&mut buffer))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "the mock sent nothing"))??;
        self.pending.extend_from_slice(&buffer[..read]);
        Ok(read)
    }
}

/// The exchange's chunks as bytes.
pub fn chunks(exchange: &Exchange, usage_requested: bool) -> Vec<Vec<u8>> {
    exchange
        .response
        .body_chunks(usage_requested)
        .expect("chunks")
}

/// The exchange's request headers as pairs.
pub fn request_headers(exchange: &Exchange) -> Vec<(&str, &str)> {
    exchange
        .request
        .headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}
