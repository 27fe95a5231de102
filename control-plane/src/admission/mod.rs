//! Admission: may this key make this call now? Answered from memory only.

mod api;
mod decide;
mod estimate;
mod leases;
mod reservations;

pub use api::routes;
pub use decide::{Decision, decide};
pub use estimate::{CallFacts, Estimator, Sample};
pub use leases::{GIVE_BACK_GRACE, Leases, Release};
pub use reservations::{RESERVATION_TTL, Reservation, Reservations};
