//! End-to-end harness for Trimio: real Envoy with the real filter, the real control-plane
//! process, and the mock provider, all on loopback. The tests in `tests/` and the
//! `cargo xtask` commands (replay, demo, up) build on it.

pub mod client;
pub mod control_plane;
pub mod envoy;
pub mod envoy_config;
pub mod expect;
pub mod paths;
pub mod process;
pub mod stack;
pub mod usage;
