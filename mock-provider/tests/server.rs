//! The mock provider against a raw HTTP/1.1 client, on a real socket.

mod support;

use std::io::Write;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::json;
use support::{Client, all_fixtures, chunks, fixture, request_headers};
use trimio_mock_provider::exchange::Exchange;
use trimio_mock_provider::server::{MockProvider, REQUESTS_PATH, ReceivedRequest};

const ANY_PORT: &str = "127.0.0.1:0";

async fn start(exchanges: Vec<Exchange>) -> MockProvider {
    let addr: SocketAddr = ANY_PORT.parse().unwrap();
    MockProvider::start(addr, exchanges)
        .await
        .expect("start the mock")
}

/// A fixture under a new name, changed by `change`.
fn variant(base: &str, name: &str, change: impl FnOnce(&mut Exchange)) -> Exchange {
    let mut exchange = fixture(base);
    exchange.name = name.to_owned();
    change(&mut exchange);
    exchange
}

fn gunzip_as_it_arrives() -> flate2::write::GzDecoder<Vec<u8>> {
    flate2::write::GzDecoder::new(Vec::new())
}

#[test]
fn every_fixture_loads() {
    let exchanges = all_fixtures();

    assert!(exchanges.len() >= 10, "only {} fixtures", exchanges.len());
    for exchange in &exchanges {
        let file = exchange.path.file_name().unwrap().to_string_lossy();
        assert_eq!(file, format!("{}.exchange.json", exchange.name));
        assert!(!chunks(exchange, false).is_empty(), "{}", exchange.name);
        assert!(!chunks(exchange, true).is_empty(), "{}", exchange.name);
    }
}

#[tokio::test]
async fn claude_code_stream_arrives_chunk_for_chunk() {
    let mock = start(all_fixtures()).await;
    let exchange = fixture("anthropic-claude-code-stream");
    let mut client = Client::connect(mock.addr()).await;

    let request = &exchange.request;
    client
        .send(
            &request.method,
            &request.path,
            &request_headers(&exchange),
            &request.body_bytes(),
        )
        .await;
    let head = client.read_head().await;
    let frames = client.read_frames().await;

    assert_eq!(head.status, 200);
    for (name, value) in &exchange.response.headers {
        assert_eq!(head.header(name), Some(value.as_str()), "{name}");
    }
    assert_eq!(head.header("content-encoding"), None);
    assert_eq!(
        frames,
        chunks(&exchange, false),
        "one frame per chunk, byte for byte"
    );
    let requests = mock.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(
        requests[0].exchange.as_deref(),
        Some("anthropic-claude-code-stream")
    );
    mock.shutdown().await;
}

#[tokio::test]
async fn exact_body_picks_among_exchanges_on_one_path() {
    let mock = start(all_fixtures()).await;
    let mut client = Client::connect(mock.addr()).await;

    // These share a path; the 429 also shares its body with the stream, so it is asked by name.
    for (name, by_name) in [
        ("anthropic-agent-loop", false),
        ("anthropic-claude-code-stream", false),
        ("anthropic-rate-limited", true),
    ] {
        let exchange = fixture(name);
        let request = &exchange.request;
        let mut headers = request_headers(&exchange);
        if by_name {
            headers.push(("x-mock-exchange", name));
        }
        let (head, body) = client
            .call(
                &request.method,
                &request.path,
                &headers,
                &request.body_bytes(),
            )
            .await;

        assert_eq!(head.status, exchange.response.status, "{name}");
        assert_eq!(
            head.header("retry-after"),
            exchange
                .response
                .headers
                .get("retry-after")
                .map(String::as_str)
        );
        assert_eq!(body, chunks(&exchange, false).concat(), "{name}");
    }

    let served: Vec<_> = mock
        .requests()
        .into_iter()
        .map(|r| r.exchange.unwrap())
        .collect();
    assert_eq!(
        served,
        [
            "anthropic-agent-loop",
            "anthropic-claude-code-stream",
            "anthropic-rate-limited"
        ]
    );
    mock.shutdown().await;
}

#[tokio::test]
async fn usage_chunks_follow_the_request_body() {
    let mock = start(all_fixtures()).await;
    let exchange = fixture("openai-chat-stream-no-usage-requested");
    let mut with_usage = exchange.request.body.clone().unwrap();
    with_usage["stream_options"] = json!({ "include_usage": true });
    let headers = [
        ("content-type", "application/json"),
        ("x-mock-exchange", exchange.name.as_str()),
    ];
    let mut client = Client::connect(mock.addr()).await;

    let body = serde_json::to_vec(exchange.request.body.as_ref().unwrap()).unwrap();
    let (_, plain) = client
        .call("POST", "/v1/chat/completions", &headers, &body)
        .await;
    let body = serde_json::to_vec(&with_usage).unwrap();
    let (_, usage) = client
        .call("POST", "/v1/chat/completions", &headers, &body)
        .await;

    assert_eq!(plain, exchange.response.chunks.concat().as_bytes());
    let usage_chunks = exchange
        .response
        .chunks_when_usage_requested
        .as_ref()
        .unwrap();
    assert_eq!(usage, usage_chunks.concat().as_bytes());
    assert_ne!(plain, usage);
    mock.shutdown().await;
}

#[tokio::test]
async fn gzip_is_applied_only_when_accepted() {
    let exchange = variant("anthropic-claude-code-stream", "gzip-stream", |e| {
        e.response.content_encoding = Some("gzip".to_owned());
    });
    let json = variant("anthropic-json", "gzip-json", |e| {
        e.response.content_encoding = Some("gzip".to_owned());
    });
    let mock = start(vec![exchange.clone(), json.clone()]).await;
    let expected = chunks(&exchange, false);
    let mut client = Client::connect(mock.addr()).await;

    // Accepted: compressed, and still chunk by chunk.
    let headers = [
        ("x-mock-exchange", "gzip-stream"),
        ("accept-encoding", "gzip, br"),
    ];
    client.send("POST", "/v1/messages", &headers, b"{}").await;
    let head = client.read_head().await;
    assert_eq!(head.header("content-encoding"), Some("gzip"));
    assert_eq!(
        head.header("content-type"),
        Some("text/event-stream; charset=utf-8")
    );
    let mut decoder = gunzip_as_it_arrives();
    let mut so_far = Vec::new();
    for chunk in &expected {
        let frame = client
            .read_frame()
            .await
            .unwrap()
            .expect("a frame per chunk");
        decoder.write_all(&frame).unwrap();
        decoder.flush().unwrap();
        so_far.extend_from_slice(chunk);
        assert_eq!(
            decoder.get_ref(),
            &so_far,
            "each frame decodes to its chunk"
        );
    }
    for frame in client.read_frames().await {
        decoder.write_all(&frame).unwrap();
    }
    assert_eq!(decoder.finish().unwrap(), expected.concat());

    // Not accepted: plain.
    let headers = [
        ("x-mock-exchange", "gzip-stream"),
        ("accept-encoding", "br;q=1, gzip;q=0"),
    ];
    client.send("POST", "/v1/messages", &headers, b"{}").await;
    let head = client.read_head().await;
    assert_eq!(head.header("content-encoding"), None);
    assert_eq!(client.read_frames().await, expected);

    // A single chunk goes out length-delimited, compressed whole.
    let headers = [
        ("x-mock-exchange", "gzip-json"),
        ("accept-encoding", "gzip"),
    ];
    let (head, body) = client.call("POST", "/v1/messages", &headers, b"{}").await;
    assert_eq!(head.header("content-encoding"), Some("gzip"));
    assert!(head.header("content-length").is_some());
    let mut decoder = gunzip_as_it_arrives();
    decoder.write_all(&body).unwrap();
    assert_eq!(decoder.finish().unwrap(), chunks(&json, false).concat());
    mock.shutdown().await;
}

#[tokio::test]
async fn brotli_and_deflate_round_trip() {
    let br = variant("anthropic-stream-cumulative", "br", |e| {
        e.response.content_encoding = Some("br".to_owned());
    });
    let deflate = variant("anthropic-stream-cumulative", "deflate", |e| {
        e.response.content_encoding = Some("deflate".to_owned());
    });
    let expected = chunks(&br, false).concat();
    let mock = start(vec![br, deflate]).await;
    let mut client = Client::connect(mock.addr()).await;

    let headers = [
        ("x-mock-exchange", "br"),
        ("accept-encoding", "gzip, deflate, br"),
    ];
    let (head, body) = client.call("POST", "/v1/messages", &headers, b"").await;
    assert_eq!(head.header("content-encoding"), Some("br"));
    let mut decoded = Vec::new();
    brotli::BrotliDecompress(&mut body.as_slice(), &mut decoded).unwrap();
    assert_eq!(decoded, expected);

    let headers = [
        ("x-mock-exchange", "deflate"),
        ("accept-encoding", "deflate"),
    ];
    let (head, body) = client.call("POST", "/v1/messages", &headers, b"").await;
    assert_eq!(head.header("content-encoding"), Some("deflate"));
    let mut decoder = flate2::write::ZlibDecoder::new(Vec::new());
    decoder.write_all(&body).unwrap();
    assert_eq!(decoder.finish().unwrap(), expected);
    mock.shutdown().await;
}

#[tokio::test]
async fn delayed_chunks_arrive_one_by_one() {
    let delay = Duration::from_millis(100);
    let exchange = variant("anthropic-claude-code-stream", "slow", |e| {
        e.response.chunk_delay_ms = Some(delay.as_millis() as u64);
    });
    let expected = chunks(&exchange, false);
    // The server cannot finish sooner than this after the request.
    let all_pauses = delay * (expected.len() as u32 - 1);
    let mock = start(vec![exchange]).await;
    let mut client = Client::connect(mock.addr()).await;

    let sent = Instant::now();
    client
        .send(
            "POST",
            "/v1/messages",
            &[("x-mock-exchange", "slow")],
            b"{}",
        )
        .await;
    client.read_head().await;
    let first = client.read_frame().await.unwrap();
    let first_arrived = sent.elapsed();
    let mut frames = vec![first.expect("a first frame")];
    frames.extend(client.read_frames().await);
    let all_arrived = sent.elapsed();

    assert_eq!(frames, expected);
    assert!(
        first_arrived < all_pauses,
        "first chunk took {first_arrived:?}, as long as the whole paced stream ({all_pauses:?})"
    );
    assert!(
        all_arrived >= all_pauses,
        "stream took {all_arrived:?}, less than its pauses"
    );
    mock.shutdown().await;
}

#[tokio::test]
async fn reset_cuts_the_connection_after_the_given_chunks() {
    let exchange = variant("anthropic-claude-code-stream", "cut", |e| {
        e.response.reset_after_chunks = Some(3);
    });
    let expected = chunks(&exchange, false);
    let mock = start(vec![exchange]).await;
    let mut client = Client::connect(mock.addr()).await;

    client
        .send("POST", "/v1/messages", &[("x-mock-exchange", "cut")], b"{}")
        .await;
    let head = client.read_head().await;
    let mut frames = Vec::new();
    for _ in 0..3 {
        frames.push(client.read_frame().await.unwrap().expect("a frame"));
    }
    let after = client.read_frame().await;

    assert_eq!(head.header("transfer-encoding"), Some("chunked"));
    assert_eq!(frames, expected[..3]);
    let error = after.expect_err("no more frames, no terminating chunk");
    assert_eq!(error.kind(), std::io::ErrorKind::ConnectionReset, "{error}");
    assert_eq!(mock.requests()[0].exchange.as_deref(), Some("cut"));
    mock.shutdown().await;
}

#[tokio::test]
async fn requests_are_recorded_in_order() {
    let mock = start(all_fixtures()).await;
    let mut client = Client::connect(mock.addr()).await;

    let headers = [("Content-Type", "application/json"), ("X-Trace", "t1")];
    let (head, _) = client
        .call(
            "POST",
            "/v1/messages/count_tokens?beta=true",
            &headers,
            b"{}",
        )
        .await;
    assert_eq!(head.status, 200);
    let (head, body) = client
        .call("POST", "/v2/unknown?key=k", &[], b"hello")
        .await;
    assert_eq!(head.status, 404);
    let error: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(error["type"], "error");
    assert_eq!(error["error"]["type"], "not_found_error");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("POST /v2/unknown")
    );

    let requests = mock.requests();
    let header = |name: &str, value: &str| (name.to_owned(), value.to_owned());
    assert_eq!(
        requests,
        [
            ReceivedRequest {
                method: "POST".to_owned(),
                path: "/v1/messages/count_tokens?beta=true".to_owned(),
                headers: vec![
                    header("host", "mock"),
                    header("content-type", "application/json"),
                    header("x-trace", "t1"),
                    header("content-length", "2"),
                ],
                body: b"{}".to_vec(),
                exchange: Some("anthropic-count-tokens".to_owned()),
            },
            ReceivedRequest {
                method: "POST".to_owned(),
                path: "/v2/unknown?key=k".to_owned(),
                headers: vec![header("host", "mock"), header("content-length", "5")],
                body: b"hello".to_vec(),
                exchange: None,
            },
        ]
    );

    // The same list over HTTP, which is itself not recorded.
    let (head, body) = client.call("GET", REQUESTS_PATH, &[], b"").await;
    assert_eq!(head.status, 200);
    let listed: Vec<ReceivedRequest> = serde_json::from_slice(&body).unwrap();
    assert_eq!(listed, requests);
    let raw: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(raw[1]["body_utf8"], "hello");
    assert_eq!(raw[1]["body_base64"], "aGVsbG8=");
    assert_eq!(mock.requests().len(), 2);

    let (head, body) = client.call("DELETE", REQUESTS_PATH, &[], b"").await;
    assert_eq!(head.status, 200);
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&body).unwrap()["cleared"],
        2
    );
    assert!(mock.requests().is_empty());

    client.call("POST", "/v1/messages", &[], b"{}").await;
    assert_eq!(mock.requests().len(), 1);
    mock.clear_requests();
    assert!(mock.requests().is_empty());
    mock.shutdown().await;
}

#[tokio::test]
async fn chunked_request_bodies_are_matched() {
    let mock = start(all_fixtures()).await;
    let exchange = fixture("anthropic-json");
    let body = exchange.request.body_bytes();
    let (front, back) = body.split_at(body.len() / 2);
    let mut request =
        b"POST /v1/messages HTTP/1.1\r\nhost: mock\r\ntransfer-encoding: chunked\r\n\r\n".to_vec();
    for part in [front, back] {
        request.extend(format!("{:x}\r\n", part.len()).into_bytes());
        request.extend_from_slice(part);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    let mut client = Client::connect(mock.addr()).await;

    client.send_raw(&request).await;
    let head = client.read_head().await;
    let served = client.read_body(&head).await;

    assert_eq!(served, chunks(&exchange, false).concat());
    assert_eq!(mock.requests()[0].body, body);
    assert_eq!(
        mock.requests()[0].exchange.as_deref(),
        Some("anthropic-json")
    );
    mock.shutdown().await;
}

#[tokio::test]
async fn shutdown_stops_listening() {
    let mock = start(all_fixtures()).await;
    let addr = mock.addr();

    mock.shutdown().await;

    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}
