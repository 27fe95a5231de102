//! Loads the provider exchanges for the tests: the shared ones (`shared/fixtures`) and the
//! project's own (`tests/exchanges`), from disk or, where there is no disk (wasm), as embedded
//! in the test binary.

#![allow(dead_code)]

pub mod checks;
pub mod coding;
pub mod embedded;

use std::path::PathBuf;

use serde_json::Value;
use trimio_meter::{End, Limits, Meter, Reading};
use trimio_wire::{ApiFamily, Provider, Usage};

/// One exchange, reduced to what the meter sees and what it must read.
#[derive(Debug, Clone)]
pub struct Fixture {
    pub name: String,
    pub family: ApiFamily,
    pub request_body: Vec<u8>,
    pub status: u16,
    pub content_type: Option<String>,
    pub chunks: Vec<Vec<u8>>,
    pub chunks_when_usage_requested: Option<Vec<Vec<u8>>>,
    pub client_abort_after_chunks: Option<usize>,
    /// The provider's connection is reset after this many chunks.
    pub reset_after_chunks: Option<usize>,
    pub expect_model: Option<String>,
    pub expect_usage: Usage,
    pub expect_estimated: bool,
    pub output_range: Option<(u64, u64)>,
}

impl Fixture {
    /// The response body in one piece.
    pub fn body(&self) -> Vec<u8> {
        self.chunks.concat()
    }

    /// Whether the meter reads this response at all: a billed family and a success.
    pub fn is_billed(&self) -> bool {
        let unbilled = matches!(
            self.family,
            ApiFamily::AnthropicCountTokens | ApiFamily::Other
        );
        self.status < 400 && !unbilled
    }

    /// Whether the response is a stream: events, or Gemini's JSON array of chunks.
    pub fn is_streamed(&self) -> bool {
        let array = self.body().iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[');
        self.is_sse() || (self.is_billed() && array)
    }

    pub fn is_sse(&self) -> bool {
        self.content_type
            .as_deref()
            .is_some_and(|c| c.starts_with("text/event-stream"))
    }

    pub fn meter(&self) -> Meter {
        Meter::new(
            self.family,
            self.status,
            self.content_type.as_deref(),
            Limits::default(),
        )
    }

    /// A meter for the body in the content coding `encoding` names.
    pub fn meter_encoded(&self, encoding: &str, limits: Limits) -> Meter {
        Meter::with_encoding(
            self.family,
            self.status,
            self.content_type.as_deref(),
            Some(encoding),
            limits,
        )
    }

    /// How the exchange ends from the gateway's side.
    pub fn end(&self) -> End {
        if self.client_abort_after_chunks.is_some() {
            End::ClientAborted
        } else if self.reset_after_chunks.is_some() {
            End::UpstreamReset
        } else {
            End::Complete
        }
    }

    /// The chunks the provider sends to the gateway. The gateway asks an OpenAI Chat stream
    /// for usage whenever the client did not, so the provider sends its usage chunks then.
    pub fn provider_chunks(&self) -> &[Vec<u8>] {
        let asked = self.family == ApiFamily::OpenaiChat
            && trimio_meter::request::ask_for_stream_usage(&self.request_body).is_some();
        match &self.chunks_when_usage_requested {
            Some(chunks) if asked => chunks,
            _ => &self.chunks,
        }
    }

    /// The chunks the gateway sees before the exchange ends.
    pub fn seen_chunks(&self) -> &[Vec<u8>] {
        let chunks = self.provider_chunks();
        let n = self
            .client_abort_after_chunks
            .or(self.reset_after_chunks)
            .unwrap_or(chunks.len())
            .min(chunks.len());
        &chunks[..n]
    }

    /// Meters `pieces` as the response body.
    pub fn read<'a>(&self, pieces: impl IntoIterator<Item = &'a [u8]>) -> Reading {
        let mut meter = self.meter();
        for piece in pieces {
            meter.feed(piece);
        }
        meter.finish(self.end())
    }

    /// Meters `pieces` as the body in the content coding `encoding` names.
    pub fn read_encoded<'a>(
        &self,
        encoding: &str,
        pieces: impl IntoIterator<Item = &'a [u8]>,
    ) -> Reading {
        let mut meter = self.meter_encoded(encoding, Limits::default());
        for piece in pieces {
            meter.feed(piece);
        }
        meter.finish(self.end())
    }
}

/// The folders exchanges are loaded from: the shared ones and the project's own.
pub fn fixture_dirs() -> [PathBuf; 2] {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    [
        manifest.join("../../shared/fixtures"),
        manifest.join("../tests/exchanges"),
    ]
}

/// The exchange files on disk, sorted by path. Fails the test when a folder has none.
pub fn fixture_paths() -> Vec<PathBuf> {
    let mut paths = Vec::new();
    for dir in fixture_dirs() {
        let before = paths.len();
        let entries =
            std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()));
        paths.extend(
            entries
                .filter_map(|entry| entry.ok().map(|e| e.path()))
                .filter(|p| p.to_string_lossy().ends_with(".exchange.json")),
        );
        assert!(paths.len() > before, "no exchanges in {}", dir.display());
    }
    paths.sort();
    paths
}

/// Every exchange on disk, sorted by path.
pub fn fixtures() -> Vec<Fixture> {
    fixture_paths()
        .iter()
        .map(|path| {
            let text =
                std::fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
            parse(&text)
        })
        .collect()
}

pub fn fixture(name: &str) -> Fixture {
    fixtures()
        .into_iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("no fixture {name}"))
}

/// One exchange from its JSON text.
pub fn parse(text: &[u8]) -> Fixture {
    let v: Value = serde_json::from_slice(text).unwrap();
    let name = v["name"].as_str().unwrap().to_owned();
    let request = &v["request"];
    let response = &v["response"];
    let expect = &v["expect"];

    let path_text = request["path"].as_str().unwrap();
    let (family, _) = ApiFamily::from_path(path_text, Provider::Openai);
    let request_body = match request.get("body_text").and_then(Value::as_str) {
        Some(text) => text.as_bytes().to_vec(),
        None => serde_json::to_vec(&request["body"]).unwrap(),
    };

    let content_type = response["headers"].as_object().and_then(|headers| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
            .and_then(|(_, v)| v.as_str().map(str::to_owned))
    });
    let chunks = match response.get("chunks_base64") {
        Some(encoded) => strings(encoded).iter().map(|s| base64(s)).collect(),
        None => strings(&response["chunks"])
            .into_iter()
            .map(String::into_bytes)
            .collect(),
    };
    let chunks_when_usage_requested = response
        .get("chunks_when_usage_requested")
        .map(|c| strings(c).into_iter().map(String::into_bytes).collect());

    let output_range = expect
        .get("output_range")
        .and_then(Value::as_array)
        .map(|r| (r[0].as_u64().unwrap(), r[1].as_u64().unwrap()));

    Fixture {
        name,
        family,
        request_body,
        status: response["status"].as_u64().unwrap() as u16,
        content_type,
        chunks,
        chunks_when_usage_requested,
        client_abort_after_chunks: request
            .get("client_abort_after_chunks")
            .and_then(Value::as_u64)
            .map(|n| n as usize),
        reset_after_chunks: response
            .get("reset_after_chunks")
            .and_then(Value::as_u64)
            .map(|n| n as usize),
        expect_model: expect["model"].as_str().map(str::to_owned),
        expect_usage: serde_json::from_value(expect["usage"].clone()).unwrap(),
        expect_estimated: expect
            .get("estimated")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        output_range,
    }
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect()
}

/// Standard base64 with padding, as the fixtures use for chunks that are not text.
pub fn base64(text: &str) -> Vec<u8> {
    let digit = |c: u8| -> u32 {
        match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'+' => 62,
            b'/' => 63,
            _ => panic!("not base64: {c}"),
        }
    };
    let clean: Vec<u8> = text
        .bytes()
        .filter(|&c| c != b'=' && !c.is_ascii_whitespace())
        .collect();
    let mut out = Vec::new();
    for group in clean.chunks(4) {
        let n = group.iter().fold(0u32, |acc, &c| acc << 6 | digit(c)) << (6 * (4 - group.len()));
        let bytes = n.to_be_bytes();
        out.extend_from_slice(&bytes[1..group.len()]);
    }
    out
}

/// Checks a reading against what the fixture expects.
pub fn check(fixture: &Fixture, reading: &Reading) {
    let name = &fixture.name;
    assert_eq!(reading.model, fixture.expect_model, "{name}: model");
    assert_eq!(
        reading.flags.estimated, fixture.expect_estimated,
        "{name}: estimated"
    );
    if fixture.expect_estimated {
        if let Some((lo, hi)) = fixture.output_range {
            let output = reading.usage.output;
            assert!(
                (lo..=hi).contains(&output),
                "{name}: output {output} not in {lo}..={hi}"
            );
        }
    } else {
        assert_eq!(reading.usage, fixture.expect_usage, "{name}: usage");
    }
}

/// `bytes` with every line feed of the SSE framing written as `ending` instead.
pub fn with_line_endings(bytes: &[u8], ending: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() * 2);
    for &b in bytes {
        if b == b'\n' {
            out.extend_from_slice(ending);
        } else {
            out.push(b);
        }
    }
    out
}
