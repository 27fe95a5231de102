//! The ledger: one row per call, priced once when it arrives, and the daily rollups written
//! with it.

mod api;
mod ingest;
mod record;
mod rollup;

pub use api::{admin_routes, filter_routes};
pub use ingest::ingest;
pub use record::{LedgerRow, RecordError};
pub use rollup::{RollupRow, Totals};

#[cfg(test)]
pub(crate) use record::tests::record as record_for_tests;
