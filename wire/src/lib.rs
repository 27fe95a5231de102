//! The wire between the Trimio filter and the control plane.
//!
//! One definition of these types serves both sides, so the filter (built for `wasm32-wasip1`)
//! and the control plane (native) cannot drift apart. Everything here is plain JSON over HTTP.
//!
//! Paths on the control plane:
//! - `POST /v1/filter/admit`: [`AdmitRequest`] → [`AdmitResponse`]
//! - `POST /v1/filter/usage`: [`UsageBatch`] → [`UsageAck`]

mod admit;
mod family;
mod usage;

pub use admit::{AdmitRequest, AdmitResponse, DenyReason, Lease, LeaseCharge, LeaseUse};
pub use family::{ApiFamily, Provider};
pub use usage::{Usage, UsageAck, UsageBatch, UsageFlags, UsageRecord};

/// Path of the admission endpoint on the control plane.
pub const ADMIT_PATH: &str = "/v1/filter/admit";
/// Path of the usage ingestion endpoint on the control plane.
pub const USAGE_PATH: &str = "/v1/filter/usage";
