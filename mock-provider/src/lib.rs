//! A mock LLM provider that replays exchange files byte for byte.
//!
//! An exchange file (`*.exchange.json`, format in `shared/fixtures/README.md`) holds one model
//! call as it crosses the wire. [`exchange`] loads and validates those files; [`server`] answers
//! HTTP/1.1 requests with the recorded responses, chunk by chunk, with the delays, content
//! encodings and connection resets the files ask for, and records every request it receives.
//!
//! This is the only fake in the test suite: every other part of Trimio is tested for real
//! against it. The binary `trimio-mock-provider` serves the same thing as a process:
//!
//! ```text
//! trimio-mock-provider --listen 127.0.0.1:0 shared/fixtures
//! ```

pub mod exchange;
pub mod server;
