//! Reservations: the estimated cost of admitted calls whose usage has not arrived yet.
//!
//! Each admitted call holds its estimate on every budget that covers it until its usage
//! record settles it (a failed call settles at what it cost, usually nothing), so a burst of
//! concurrent calls cannot all slip under a nearly spent budget. A reservation whose usage
//! never comes (a gateway that died) expires.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// How long a reservation waits for its usage record: longer than a call that streams for
/// many minutes, short enough that a gateway that died gives its reservations back the same
/// hour.
pub const RESERVATION_TTL: Duration = Duration::from_secs(60 * 60);

/// Open reservations beyond which new calls are admitted without one (memory stays bounded
/// even if usage records stop arriving).
const MAX_OPEN: usize = 1_000_000;

/// What one admitted call holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    pub team_id: String,
    /// The budgets the estimate is held on.
    pub budget_ids: Vec<String>,
    pub estimate_pico: i128,
    expires_at: Instant,
}

/// Too many reservations are open to open another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Full;

/// Open reservations by request id.
#[derive(Debug, Default)]
pub struct Reservations {
    open: HashMap<String, Reservation>,
}

impl Reservations {
    /// Opens the reservation of a call, returning any it replaces.
    pub fn open(
        &mut self,
        request_id: &str,
        team_id: &str,
        budget_ids: Vec<String>,
        estimate_pico: i128,
        now: Instant,
    ) -> Result<Option<Reservation>, Full> {
        let replaced = self.open.remove(request_id);
        if self.open.len() >= MAX_OPEN {
            return Err(Full);
        }
        let reservation = Reservation {
            team_id: team_id.to_owned(),
            budget_ids,
            estimate_pico,
            expires_at: now + RESERVATION_TTL,
        };
        self.open.insert(request_id.to_owned(), reservation);
        Ok(replaced)
    }

    /// The estimate a call holds, if it holds one.
    pub fn estimate(&self, request_id: &str) -> Option<i128> {
        self.open.get(request_id).map(|r| r.estimate_pico)
    }

    /// Closes the reservation of a call whose usage arrived.
    pub fn settle(&mut self, request_id: &str) -> Option<Reservation> {
        self.open.remove(request_id)
    }

    /// Closes every reservation older than [`RESERVATION_TTL`] and returns them.
    pub fn expire(&mut self, now: Instant) -> Vec<Reservation> {
        self.open
            .extract_if(|_, reservation| reservation.expires_at <= now)
            .map(|(_, reservation)| reservation)
            .collect()
    }

    pub fn len(&self) -> usize {
        self.open.len()
    }

    pub fn is_empty(&self) -> bool {
        self.open.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_until_settled_or_expired() {
        let start = Instant::now();
        let mut reservations = Reservations::default();
        let ids = vec!["b1".to_owned()];
        assert_eq!(
            reservations.open("r1", "t1", ids.clone(), 100, start),
            Ok(None)
        );
        let later = start + Duration::from_secs(60);
        assert_eq!(
            reservations.open("r2", "t1", ids.clone(), 50, later),
            Ok(None)
        );
        let replaced = reservations.open("r1", "t1", ids, 70, start).unwrap();
        assert_eq!(replaced.map(|r| r.estimate_pico), Some(100));
        assert_eq!(reservations.estimate("r1"), Some(70));

        assert_eq!(reservations.settle("r2").map(|r| r.estimate_pico), Some(50));
        assert!(reservations.settle("r2").is_none());

        let early = start + RESERVATION_TTL - Duration::from_secs(1);
        assert!(reservations.expire(early).is_empty());
        assert_eq!(reservations.expire(start + RESERVATION_TTL).len(), 1);
        assert!(reservations.is_empty());
    }
}
