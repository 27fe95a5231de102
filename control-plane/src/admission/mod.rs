//! Admission: may this key make this call now? Answered from memory only.

mod api;
mod decide;
mod reservations;

pub use api::routes;
pub use decide::decide;
pub use reservations::{RESERVATION_TTL, Reservations};
