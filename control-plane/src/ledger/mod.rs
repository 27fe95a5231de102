//! The ledger: one row per call, priced once when it arrives, and the daily rollups written
//! with it.

mod api;
mod delivery;
mod ingest;
mod record;
mod rollup;

pub use api::{admin_routes, filter_routes};
pub use delivery::{Delivery, Rejected};
pub use ingest::ingest;
pub use record::{
    LedgerRow, MAX_CALL_COST_PICO, MAX_COUNT, MAX_LABEL_BYTES, MAX_NAME_BYTES, MAX_REQUEST_ID_LEN,
    RecordError, loggable_id,
};
pub use rollup::{EstimateTotals, RollupRow, Totals};

#[cfg(test)]
pub(crate) use record::tests::{
    record as record_for_tests, sonnet_prices as sonnet_prices_for_tests,
};
