//! Trimio's proxy-wasm HTTP filter.
//!
//! Reads a team's virtual key, asks the control plane whether the call may go, swaps in the
//! provider credential, reads the provider's usage from the response as it passes, and
//! queues one usage record per forwarded call for delivery in batches.

mod admission;
mod call;
mod config;
mod deny;
mod headers;
mod key;
mod known_keys;
mod lease;
mod root;
mod shared;

pub use config::{ConfigError, PluginConfig, Settings};

use proxy_wasm::traits::RootContext;
use proxy_wasm::types::LogLevel;

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Info);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::<root::Root>::default() });
}}
