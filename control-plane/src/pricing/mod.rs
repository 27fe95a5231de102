//! The price table: what a call costs, from its usage and the price of its model.
//!
//! Entries are data ([`PriceEntry`], decimal strings in USD per million tokens), shipped as
//! defaults and changed at run time through the admin API. Each entry is compiled once into
//! integer [`Rates`]; a call's cost is computed from those in pico-dollars. Many entries can
//! be imported at once from LiteLLM's public price map ([`import`]).

mod api;
mod defaults;
mod entry;
pub mod import;
mod rates;
mod table;

pub use api::{PriceView, routes};
pub use defaults::{DefaultsError, shipped_defaults};
pub use entry::{LongContextEntry, MultiplierEntry, PriceEntry, PriceError, validate_model};
pub use rates::{CostOverflow, Rates};
pub use table::{Origin, PriceTable, Priced};
