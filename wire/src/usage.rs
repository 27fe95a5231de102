//! Usage: one record per forwarded call, delivered in batches.

use serde::{Deserialize, Serialize};

use crate::{ApiFamily, Provider};

/// Token counts of one call, normalized across providers.
///
/// Every field is a count of tokens, except `web_search_requests`. The kinds never overlap
/// except `reasoning`, which is the part of `output` spent thinking and is for reports only.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Usage {
    /// Uncached input only (OpenAI's and Gemini's prompt counts minus their cached part).
    pub input: u64,
    /// Output, reasoning included.
    pub output: u64,
    /// Input served from the prompt cache.
    pub cache_read: u64,
    /// Input written to a cache that lives 5 minutes (a write with no TTL split counts here).
    pub cache_write_5m: u64,
    /// Input written to a cache that lives 1 hour.
    pub cache_write_1h: u64,
    /// The part of `output` spent on reasoning. Already inside `output`; never billed twice.
    pub reasoning: u64,
    /// Server-side web searches, billed per request.
    pub web_search_requests: u64,
}

impl Usage {
    /// The prompt as the long-context tiers see it: uncached input plus every cache kind.
    pub fn prompt_tokens(&self) -> u64 {
        self.input + self.cache_read + self.cache_write_5m + self.cache_write_1h
    }

    pub fn is_zero(&self) -> bool {
        *self == Usage::default()
    }
}

/// What was unusual about a call's record. All false on a clean call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct UsageFlags {
    /// Part of the usage was estimated because the provider never reported it.
    pub estimated: bool,
    /// The response could not be fully parsed (malformed JSON or SSE).
    pub malformed: bool,
    /// The response was larger than the inspection bound; it passed through uninspected.
    pub too_large: bool,
    /// The client went away before the response ended.
    pub client_aborted: bool,
    /// The upstream reset or the stream ended without its closing event.
    pub truncated: bool,
    /// The provider reported an error event mid-stream.
    pub stream_error: bool,
}

/// One forwarded call, as the filter saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageRecord {
    /// Unique per call; the control plane ignores a record whose id it already holds.
    pub request_id: String,
    /// Lowercase hex SHA-256 of the virtual key; the control plane charges the key's team.
    pub key_hash: String,
    /// Project named by the client (`x-trimio-project`), used when the key has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    /// User named by the client (`x-trimio-user`), for reports only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    pub provider: Provider,
    pub family: ApiFamily,
    /// The model as the response names it; `None` when the response named none.
    #[serde(default)]
    pub model: Option<String>,
    /// The model the request asked for, when the filter could read it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_model: Option<String>,
    #[serde(default)]
    pub usage: Usage,
    /// Service tier the provider reports (`priority`, `flex`, `batch`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_tier: Option<String>,
    /// Region the provider reports (Anthropic's `inference_geo`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inference_geo: Option<String>,
    /// HTTP status the provider answered; 0 when no response headers arrived.
    pub status: u16,
    pub streamed: bool,
    #[serde(default)]
    pub flags: UsageFlags,
    /// Start of the call, milliseconds since the Unix epoch (gateway clock).
    pub started_at_ms: u64,
    /// From request headers to the end of the response, in milliseconds.
    pub duration_ms: u64,
    /// Size of the request body as the client sent it, in bytes: what the control plane
    /// learns a team's prompt cost per byte from, to estimate later calls.
    #[serde(default)]
    pub request_bytes: u64,
    /// The lease the filter admitted the call under, instead of asking.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease: Option<crate::LeaseCharge>,
}

/// A batch of records from one gateway.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageBatch {
    pub records: Vec<UsageRecord>,
}

/// The control plane's acknowledgement. Every record of the batch is settled: durably stored
/// (newly, or already before), or rejected as impossible (its id and reason logged by the
/// control plane). A batch is never refused whole for one bad record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageAck {
    pub accepted: u32,
    pub duplicates: u32,
    #[serde(default)]
    pub rejected: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompt_counts_every_input_kind() {
        let usage = Usage {
            input: 3,
            cache_read: 15000,
            cache_write_5m: 2048,
            cache_write_1h: 1,
            output: 9,
            ..Usage::default()
        };
        assert_eq!(usage.prompt_tokens(), 17052);
    }

    #[test]
    fn records_read_with_missing_optional_fields() {
        let json = r#"{"request_id":"r1","key_hash":"ab","provider":"anthropic",
            "family":"anthropic_messages","status":200,"streamed":true,
            "started_at_ms":1,"duration_ms":2}"#;
        let record: UsageRecord = serde_json::from_str(json).unwrap();
        assert_eq!(record.model, None);
        assert!(record.usage.is_zero());
        assert_eq!(record.flags, UsageFlags::default());
    }
}
