//! Usage records as the filter delivers them, for tests that feed the control plane
//! directly.

use std::time::{SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};
use trimio_wire::{ApiFamily, Provider, Usage, UsageFlags, UsageRecord};

/// The hash the filter sends for a virtual key: lowercase hex SHA-256.
pub fn key_hash(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// A completed Anthropic Messages call to `model` that used `usage`, started now.
pub fn record(request_id: &str, key_hash: &str, model: &str, usage: Usage) -> UsageRecord {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    UsageRecord {
        request_id: request_id.to_owned(),
        key_hash: key_hash.to_owned(),
        project: None,
        user: None,
        provider: Provider::Anthropic,
        family: ApiFamily::AnthropicMessages,
        model: Some(model.to_owned()),
        request_model: Some(model.to_owned()),
        usage,
        service_tier: None,
        inference_geo: None,
        status: 200,
        streamed: false,
        flags: UsageFlags::default(),
        started_at_ms: now_ms,
        duration_ms: 10,
        request_bytes: 0,
        lease: None,
    }
}
