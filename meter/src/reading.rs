//! What the meter reports when a response ends.

use trimio_wire::{Usage, UsageFlags};

/// How a response ended, as the host saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The last body chunk arrived.
    Complete,
    /// The client went away before the response ended.
    ClientAborted,
    /// The upstream connection was reset before the response ended.
    UpstreamReset,
}

/// The usage of one response, normalized, with what was unusual about it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reading {
    /// The model as the response names it; `None` for errors and for calls that are never
    /// billed.
    pub model: Option<String>,
    pub usage: Usage,
    /// Service tier the provider reports (`standard`, `default`, `priority`, `flex`, ...).
    pub service_tier: Option<String>,
    /// Region the provider reports (Anthropic's `inference_geo`).
    pub inference_geo: Option<String>,
    /// Whether the response was a stream (server-sent events, or Gemini's JSON array stream).
    pub streamed: bool,
    pub flags: UsageFlags,
}
