//! Reservations: the estimated cost of admitted calls whose usage has not arrived yet.
//!
//! Each admitted call holds its team's mean cost per call (over the calls that cost
//! something) until its usage record settles it, so a burst of concurrent calls cannot all
//! slip under a nearly spent budget. A reservation whose usage never comes expires.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::money::add_pico;

/// How long a reservation waits for its usage record.
pub const RESERVATION_TTL: Duration = Duration::from_secs(10 * 60);

/// Open reservations beyond which new calls are admitted without one (memory stays bounded
/// even if usage records stop arriving).
const MAX_OPEN: usize = 1_000_000;

#[derive(Debug, Clone)]
struct Reservation {
    team_id: String,
    estimate_pico: i128,
    expires_at: Instant,
}

/// Open reservations by request id, with a running sum per team.
#[derive(Debug, Default)]
pub struct Reservations {
    open: HashMap<String, Reservation>,
    held_by_team: HashMap<String, i128>,
}

impl Reservations {
    /// Opens (or renews) the reservation of a call. Returns false when full.
    pub fn open(
        &mut self,
        request_id: &str,
        team_id: &str,
        estimate_pico: i128,
        now: Instant,
    ) -> bool {
        self.settle(request_id);
        if self.open.len() >= MAX_OPEN {
            return false;
        }
        let held = self.held_by_team.entry(team_id.to_owned()).or_default();
        *held = add_pico(*held, estimate_pico);
        let reservation = Reservation {
            team_id: team_id.to_owned(),
            estimate_pico,
            expires_at: now + RESERVATION_TTL,
        };
        self.open.insert(request_id.to_owned(), reservation);
        true
    }

    /// Closes the reservation of a call whose usage arrived. Returns whether one was open.
    pub fn settle(&mut self, request_id: &str) -> bool {
        match self.open.remove(request_id) {
            Some(reservation) => {
                self.release(&reservation);
                true
            }
            None => false,
        }
    }

    /// Closes every reservation older than [`RESERVATION_TTL`]. Returns how many.
    pub fn expire(&mut self, now: Instant) -> usize {
        let expired: Vec<String> = self
            .open
            .iter()
            .filter(|(_, reservation)| reservation.expires_at <= now)
            .map(|(request_id, _)| request_id.clone())
            .collect();
        for request_id in &expired {
            self.settle(request_id);
        }
        expired.len()
    }

    /// Pico-dollars a team holds in open reservations.
    pub fn held(&self, team_id: &str) -> i128 {
        self.held_by_team.get(team_id).copied().unwrap_or(0)
    }

    pub fn len(&self) -> usize {
        self.open.len()
    }

    pub fn is_empty(&self) -> bool {
        self.open.is_empty()
    }

    fn release(&mut self, reservation: &Reservation) {
        if let Some(held) = self.held_by_team.get_mut(&reservation.team_id) {
            *held = add_pico(*held, -reservation.estimate_pico);
            if *held == 0 {
                self.held_by_team.remove(&reservation.team_id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_until_settled_or_expired() {
        let start = Instant::now();
        let mut reservations = Reservations::default();
        assert!(reservations.open("r1", "t1", 100, start));
        assert!(reservations.open("r2", "t1", 50, start + Duration::from_secs(60)));
        assert!(
            reservations.open("r1", "t1", 70, start),
            "renewing replaces the estimate"
        );
        assert_eq!(reservations.held("t1"), 120);

        assert!(reservations.settle("r2"));
        assert!(!reservations.settle("r2"));
        assert_eq!(reservations.held("t1"), 70);

        assert_eq!(
            reservations.expire(start + RESERVATION_TTL - Duration::from_secs(1)),
            0
        );
        assert_eq!(reservations.expire(start + RESERVATION_TTL), 1);
        assert_eq!(reservations.held("t1"), 0);
        assert!(reservations.is_empty());
    }
}
