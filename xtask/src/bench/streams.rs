//! Streamed calls measured one by one: the time to the first byte of the body, and the
//! memory a gateway holds while many streams are open at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use trimio_e2e::client::{self, EXCHANGE_HEADER};
use trimio_e2e::envoy::Envoy;
use trimio_e2e::process::wait_for;
use trimio_mock_provider::exchange::Exchange;

use super::Gateway;

/// A client that keeps its connections, as a coding tool's SDK does.
pub fn client() -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .pool_max_idle_per_host(1024)
        .build()
        .map_err(|e| format!("http client: {e}"))
}

/// One streamed call read to its end and checked; the time from sending it to the first body
/// byte.
pub async fn first_byte(
    http: &reqwest::Client,
    gateway: &Gateway,
    exchange: &Exchange,
) -> Result<Duration, String> {
    let base = gateway.url("");
    let outcome = client::send(http, &base, exchange, Some(&gateway.key)).await?;
    gateway.check(exchange, &outcome)?;
    outcome
        .arrivals
        .first()
        .copied()
        .ok_or_else(|| format!("{base}: a stream with no body"))
}

/// A gateway's memory with no call in flight, and with `count` long streams open: resident
/// (what the streams cost the machine) and, for Envoy, its own heap in use (its allocator's
/// count, which leaves out the wasm VMs' memory and what the allocator keeps after a free).
#[derive(Debug, Clone, Copy)]
pub struct OpenStreams {
    pub count: usize,
    pub idle_kib: u64,
    pub open_kib: u64,
    pub heap_idle_kib: Option<u64>,
    pub heap_open_kib: Option<u64>,
}

impl OpenStreams {
    /// What one open stream adds to the gateway's resident memory, in KiB.
    pub fn per_stream_kib(&self) -> f64 {
        (self.open_kib as f64 - self.idle_kib as f64) / self.count.max(1) as f64
    }

    /// Resident memory idle and with the streams open, as `idle/open` in MiB.
    pub fn rss_mib(&self) -> String {
        format!(
            "{:.1}/{:.1}",
            self.idle_kib as f64 / 1024.0,
            self.open_kib as f64 / 1024.0
        )
    }

    /// What one open stream adds to Envoy's heap in use, in KiB.
    pub fn heap_per_stream_kib(&self) -> Option<f64> {
        let (idle, open) = (self.heap_idle_kib?, self.heap_open_kib?);
        Some((open as f64 - idle as f64) / self.count.max(1) as f64)
    }
}

/// Opens `count` streams of `exchange` at once (each on its own connection, as HTTP/1.1
/// needs), reads the gateway's memory once every stream has sent its first event, then lets
/// them end.
pub async fn open_streams(
    gateway: &Gateway,
    exchange: &Exchange,
    count: usize,
) -> Result<OpenStreams, String> {
    let http = client()?;
    let base = gateway.url("");
    let key = &gateway.key;
    let idle_kib = gateway.rss_kib()?;
    let heap_idle_kib = heap_in_use_kib(&http, gateway.envoy()).await?;

    let opened = Arc::new(AtomicUsize::new(0));
    let mut streams = Vec::with_capacity(count);
    for _ in 0..count {
        let (http, opened) = (http.clone(), Arc::clone(&opened));
        let request = request(&http, &base, exchange, key);
        streams.push(tokio::spawn(async move {
            let mut response = request.send().await.map_err(|e| e.to_string())?;
            if response.status() != 200 {
                return Err(format!("status {}", response.status()));
            }
            let mut first = true;
            while response.chunk().await.map_err(|e| e.to_string())?.is_some() {
                if first {
                    opened.fetch_add(1, Ordering::SeqCst);
                    first = false;
                }
            }
            Ok::<(), String>(())
        }));
    }

    let all_open = wait_for(Duration::from_secs(30), || {
        let opened = Arc::clone(&opened);
        async move { opened.load(Ordering::SeqCst) >= count }
    })
    .await;
    // The highest of a few readings, while every stream is between two events.
    let (mut open_kib, mut heap_open_kib) = (0, None);
    if all_open {
        for _ in 0..5 {
            open_kib = open_kib.max(gateway.rss_kib()?);
            heap_open_kib = heap_open_kib.max(heap_in_use_kib(&http, gateway.envoy()).await?);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    let mut failed = Vec::new();
    for stream in streams {
        match stream.await {
            Ok(Ok(())) => {}
            Ok(Err(why)) => failed.push(why),
            Err(e) => failed.push(e.to_string()),
        }
    }
    if !all_open || !failed.is_empty() {
        return Err(format!(
            "{} of {count} streams opened; failures: {:?}",
            opened.load(Ordering::SeqCst),
            failed.iter().take(3).collect::<Vec<_>>()
        ));
    }
    Ok(OpenStreams {
        count,
        idle_kib,
        open_kib,
        heap_idle_kib,
        heap_open_kib,
    })
}

/// The heap Envoy's allocator counts in use (`allocated` of the admin `/memory`), in KiB;
/// `None` for a gateway that is not Envoy.
async fn heap_in_use_kib(
    http: &reqwest::Client,
    envoy: Option<&Envoy>,
) -> Result<Option<u64>, String> {
    let Some(envoy) = envoy else {
        return Ok(None);
    };
    let url = format!("http://127.0.0.1:{}/memory", envoy.admin_port);
    let memory: serde_json::Value = http
        .get(url)
        .send()
        .await
        .map_err(|e| format!("envoy /memory: {e}"))?
        .json()
        .await
        .map_err(|e| format!("envoy /memory: {e}"))?;
    // Protobuf's JSON writes 64-bit integers as strings.
    let allocated = &memory["allocated"];
    allocated
        .as_str()
        .and_then(|text| text.parse::<u64>().ok())
        .or_else(|| allocated.as_u64())
        .map(|bytes| Some(bytes / 1024))
        .ok_or_else(|| format!("envoy /memory has no allocated: {memory}"))
}

/// The exchange's request as a tool sends it, with the key where its API family wants it.
fn request(
    http: &reqwest::Client,
    base: &str,
    exchange: &Exchange,
    key: &str,
) -> reqwest::RequestBuilder {
    let mut request = http
        .post(format!("{base}{}", exchange.request.path))
        .header(EXCHANGE_HEADER, &exchange.name);
    for (name, value) in &exchange.request.headers {
        request = request.header(name, value);
    }
    let (name, value) = client::key_header(exchange, key);
    request
        .header(name, value)
        .body(exchange.request.body_bytes())
}
