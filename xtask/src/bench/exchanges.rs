//! The exchanges the benchmark sends, built from the project's own so they stay valid: a
//! non-streamed Anthropic call, a stream of twenty events five milliseconds apart, and the
//! same stream paced slowly enough to hold many open at once.
//!
//! They are written to the run's own folder for the mock provider, not kept in
//! `tests/exchanges`, so the exchange suites do not replay them.

use std::path::Path;

use trimio_e2e::paths;
use trimio_mock_provider::exchange::{self, Exchange};

/// Events in a streamed answer.
const STREAM_EVENTS: usize = 20;
/// Pause between two events of the paced stream, in milliseconds.
pub const STREAM_PACE_MS: u64 = 5;
/// Pause between two events of the long stream, in milliseconds: with twenty events it stays
/// open for about eight seconds.
pub const LONG_STREAM_PACE_MS: u64 = 400;

pub struct BenchExchanges {
    pub json: Exchange,
    pub stream: Exchange,
    pub long_stream: Exchange,
}

impl BenchExchanges {
    pub fn all(&self) -> [&Exchange; 3] {
        [&self.json, &self.stream, &self.long_stream]
    }

    /// Writes each as `<name>.exchange.json` into `dir`, for the mock provider's process.
    pub fn write(&self, dir: &Path) -> Result<(), String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        for exchange in self.all() {
            let path = dir.join(format!("{}.exchange.json", exchange.name));
            let text = serde_json::to_string_pretty(exchange).map_err(|e| e.to_string())?;
            std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
        }
        Ok(())
    }
}

pub fn build() -> Result<BenchExchanges, String> {
    let dir = paths::project_exchanges();
    let load = |name: &str| {
        exchange::load(&dir.join(format!("{name}.exchange.json"))).map_err(|e| e.to_string())
    };

    let mut json = load("anthropic-json-provider-headers")?;
    json.name = "bench-json".to_owned();
    json.about = "the benchmark's non-streamed call".to_owned();

    let mut stream = load("anthropic-paced-stream")?;
    stream.name = "bench-stream".to_owned();
    stream.about =
        format!("the benchmark's streamed call: {STREAM_EVENTS} events {STREAM_PACE_MS} ms apart");
    stream.response.chunks = events(&stream.response.chunks)?;
    stream.response.chunk_delay_ms = Some(STREAM_PACE_MS);
    let output = STREAM_EVENTS as u64;
    if let Some(expect) = &mut stream.expect {
        expect.usage.insert("output".to_owned(), output);
        // 25 input tokens at 1 USD and the output at 5 USD per million.
        expect.cost_usd = Some(format!("{:.6}", (25 + 5 * output) as f64 / 1e6));
    }

    let mut long_stream = stream.clone();
    long_stream.name = "bench-long-stream".to_owned();
    long_stream.about = format!(
        "the benchmark's long stream: {STREAM_EVENTS} events {LONG_STREAM_PACE_MS} ms apart"
    );
    long_stream.response.chunk_delay_ms = Some(LONG_STREAM_PACE_MS);

    Ok(BenchExchanges {
        json,
        stream,
        long_stream,
    })
}

/// [`STREAM_EVENTS`] Anthropic events: the recorded stream's opening two, text deltas, and
/// its closing three with the output count raised to one token per event.
fn events(recorded: &[String]) -> Result<Vec<String>, String> {
    let find = |kind: &str| {
        recorded
            .iter()
            .find(|chunk| chunk.starts_with(&format!("event: {kind}\n")))
            .cloned()
            .ok_or_else(|| format!("the paced stream has no {kind} event"))
    };
    let closing = [
        find("content_block_stop")?,
        find("message_delta")?.replace(
            "\"output_tokens\":15",
            &format!("\"output_tokens\":{STREAM_EVENTS}"),
        ),
        find("message_stop")?,
    ];
    let mut events = vec![find("message_start")?, find("content_block_start")?];
    let deltas = STREAM_EVENTS - events.len() - closing.len();
    for n in 0..deltas {
        events.push(format!(
            "event: content_block_delta\ndata: {{\"type\":\"content_block_delta\",\"index\":0,\
             \"delta\":{{\"type\":\"text_delta\",\"text\":\"word{n} \"}}}}\n\n"
        ));
    }
    events.extend(closing);
    Ok(events)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_have_twenty_events_and_bill_one_token_each() {
        let exchanges = build().unwrap();

        for stream in [&exchanges.stream, &exchanges.long_stream] {
            assert_eq!(stream.response.chunks.len(), STREAM_EVENTS);
            assert!(stream.response.chunks[STREAM_EVENTS - 2].contains("\"output_tokens\":20"));
            let expect = stream.expect.as_ref().unwrap();
            assert_eq!(expect.usage["output"], 20);
            assert_eq!(expect.cost_usd.as_deref(), Some("0.000125"));
        }
        assert_eq!(
            exchanges.stream.response.chunk_delay_ms,
            Some(STREAM_PACE_MS)
        );
    }

    #[test]
    fn written_exchanges_load_back() {
        let exchanges = build().unwrap();
        let dir = tempfile::tempdir().unwrap();

        exchanges.write(dir.path()).unwrap();

        let loaded = exchange::load_all(&[dir.path().to_path_buf()]).unwrap();
        assert_eq!(loaded.len(), 3);
        assert!(loaded.iter().any(|e| e.name == "bench-long-stream"));
    }
}
