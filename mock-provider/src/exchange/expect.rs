//! What a call must be billed.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The billing an exchange must produce. The mock itself never reads it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// The model billed; `None` (`null` in the file) means the call costs nothing.
    #[serde(default)]
    pub model: Option<String>,
    /// Token counts by normalized kind (`input`, `output`, `cache_read`, ...).
    #[serde(default)]
    pub usage: BTreeMap<String, u64>,
    /// Exact cost in USD as a decimal string; matched within one micro-dollar.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<String>,
    /// The output was never reported by the provider, so it is estimated.
    #[serde(default)]
    pub estimated: bool,
    /// Bounds `[lo, hi]` of the estimated output tokens when `estimated` is true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_range: Option<[u64; 2]>,
}
