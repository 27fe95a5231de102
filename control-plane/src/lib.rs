//! The Trimio control plane: teams, keys, budgets, prices and the usage ledger.
//!
//! The filter in each Envoy asks it whether a call may go ahead (`POST /v1/filter/admit`,
//! answered from memory) and delivers one usage record per call afterwards
//! (`POST /v1/filter/usage`, priced and stored in the ledger). Operators manage teams, keys,
//! budgets and prices and read spend reports through the admin API under `/v1/admin`.
//!
//! Run it with `trimio-control-plane --listen 127.0.0.1:8081 --database ./trimio.db` and the
//! admin token in `TRIMIO_ADMIN_TOKEN`; it prints `listening on ADDR` once it accepts requests.

pub mod admission;
pub mod alerts;
pub mod budgets;
pub mod calendar;
pub mod cli;
pub mod clock;
pub mod http;
pub mod keys;
pub mod ledger;
pub mod logging;
pub mod money;
pub mod names;
pub mod pricing;
pub mod random;
pub mod registry;
pub mod reports;
pub mod secret;
pub mod server;
pub mod spend;
pub mod state;
pub mod store;
pub mod teams;

pub use http::app;
pub use state::AppState;
