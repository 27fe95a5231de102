//! Leases: a slice of a key's budgets that the filter admits calls against by itself.
//!
//! A lease under a hard budget holds its whole limit on every budget that covers the key, as
//! a reservation does for one call, so leases never hand out more than the budgets have left
//! after spend and what calls in flight hold. Each usage record of a call admitted under the
//! lease gives back what the filter charged it; when the filter gives the lease back it says
//! what it charged in all, and whatever it did not use is released at once. A lease the filter
//! never gives back (the key went quiet, or the gateway stopped) releases what it holds
//! [`GIVE_BACK_GRACE`] after it ended. A lease that no hard budget binds holds nothing and is
//! not kept here.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::admission::RESERVATION_TTL;

/// How long the control plane waits, after a lease ended, for the filter to give it back
/// before it releases everything the lease still holds. Calls admitted under it that are
/// still running are then held by nothing, as after a gateway's restart.
pub const GIVE_BACK_GRACE: Duration = Duration::from_secs(30);

/// Open leases beyond which no more are granted (calls are asked for one by one instead).
const MAX_OPEN: usize = 100_000;

/// What a lease still holds on budgets.
#[derive(Debug, Clone, PartialEq, Eq)]
struct OpenLease {
    /// The key and project it was granted for.
    slot: String,
    granted_at: Instant,
    budget_ids: Vec<String>,
    /// Held on every budget in `budget_ids`, in pico-dollars.
    held_pico: i128,
    /// What the filter charged under it, once it gave it back.
    used_pico: Option<i128>,
    /// Charged by the usage records that arrived.
    settled_pico: i128,
    /// Past it, everything still held is released.
    release_at: Instant,
}

/// An amount to release from budgets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    pub budget_ids: Vec<String>,
    pub pico: i128,
}

/// Open leases by id.
#[derive(Debug)]
pub struct Leases {
    open: HashMap<String, OpenLease>,
    /// The lease of each key and project not given back yet, by slot.
    current: HashMap<String, String>,
    /// How long a lease is good for; zero grants none.
    pub valid: Duration,
    /// Most calls one lease admits.
    pub max_calls: u64,
}

impl Default for Leases {
    fn default() -> Self {
        Leases {
            open: HashMap::new(),
            current: HashMap::new(),
            valid: Duration::from_secs(5),
            max_calls: 100,
        }
    }
}

impl Leases {
    /// Whether another lease may hold budget.
    pub fn has_room(&self) -> bool {
        self.open.len() < MAX_OPEN
    }

    /// Whether `slot` (a key and project) holds a lease granted less than a lease's time ago
    /// and not given back: a gateway asking for another meanwhile gets none, so that the
    /// first calls of a key, arriving together, do not each tie up a share of its budgets.
    pub fn outstanding(&self, slot: &str, now: Instant) -> bool {
        self.current
            .get(slot)
            .and_then(|id| self.open.get(id))
            .is_some_and(|lease| lease.used_pico.is_none() && now < lease.granted_at + self.valid)
    }

    /// Records a granted lease that holds `limit_pico` on `budget_ids`; the caller holds it.
    pub fn open(
        &mut self,
        id: String,
        slot: String,
        budget_ids: Vec<String>,
        limit_pico: i128,
        now: Instant,
    ) {
        self.current.insert(slot.clone(), id.clone());
        let lease = OpenLease {
            slot,
            granted_at: now,
            budget_ids,
            held_pico: limit_pico,
            used_pico: None,
            settled_pico: 0,
            release_at: now + self.valid + GIVE_BACK_GRACE,
        };
        self.open.insert(id, lease);
    }

    /// A usage record charged `pico` to lease `id`: what to release for it.
    pub fn charge(&mut self, id: &str, pico: u64) -> Option<Release> {
        let lease = self.open.get_mut(id)?;
        let pico = i128::from(pico);
        lease.settled_pico = lease.settled_pico.saturating_add(pico);
        let release = pico.min(lease.held_pico).max(0);
        lease.held_pico -= release;
        let release = Release {
            budget_ids: lease.budget_ids.clone(),
            pico: release,
        };
        self.close_if_done(id);
        Some(release)
    }

    /// The filter gave lease `id` back having charged `used_pico` under it: what it did not
    /// use is released, and what its calls still running were charged stays held until their
    /// records arrive (at most [`RESERVATION_TTL`]).
    pub fn give_back(&mut self, id: &str, used_pico: u64, now: Instant) -> Option<Release> {
        let lease = self.open.get_mut(id)?;
        let used = i128::from(used_pico);
        if let Some(before) = lease.used_pico {
            // The gateway admitted more under it while its renewal was on the way, and says
            // so once the new lease took its place: those calls are held too.
            if used <= before {
                return None;
            }
            lease.used_pico = Some(used);
            lease.held_pico += used - before;
            return Some(Release {
                budget_ids: lease.budget_ids.clone(),
                pico: before - used,
            });
        }
        lease.used_pico = Some(used);
        if self.current.get(&lease.slot) == Some(&id.to_owned()) {
            self.current.remove(&lease.slot);
        }
        let still_running = used.saturating_sub(lease.settled_pico).max(0);
        let release = lease.held_pico.saturating_sub(still_running).max(0);
        lease.held_pico -= release;
        lease.release_at = now + RESERVATION_TTL;
        let release = Release {
            budget_ids: lease.budget_ids.clone(),
            pico: release,
        };
        self.close_if_done(id);
        Some(release)
    }

    /// Forgets every lease whose time is up, with what each still held.
    pub fn expire(&mut self, now: Instant) -> Vec<Release> {
        let ended: Vec<(String, OpenLease)> = self
            .open
            .extract_if(|_, lease| lease.release_at <= now)
            .collect();
        ended
            .into_iter()
            .map(|(id, lease)| {
                if self.current.get(&lease.slot) == Some(&id) {
                    self.current.remove(&lease.slot);
                }
                Release {
                    budget_ids: lease.budget_ids,
                    pico: lease.held_pico,
                }
            })
            .collect()
    }

    fn close_if_done(&mut self, id: &str) {
        if self
            .open
            .get(id)
            .is_some_and(|lease| lease.used_pico.is_some() && lease.held_pico == 0)
        {
            self.open.remove(id);
        }
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

    fn ids() -> Vec<String> {
        vec!["b1".to_owned()]
    }

    #[test]
    fn a_lease_given_back_releases_what_it_did_not_use() {
        let now = Instant::now();
        let mut leases = Leases::default();
        leases.open("l1".into(), "k\n".into(), ids(), 1_000, now);
        assert_eq!(leases.charge("l1", 100).map(|r| r.pico), Some(100));
        // Charged 300 in all: 100 arrived, 200 still running; the 700 never used goes back.
        assert_eq!(leases.give_back("l1", 300, now).map(|r| r.pico), Some(700));
        // Given back once; a later word of more use holds that more.
        assert_eq!(leases.give_back("l1", 0, now), None);
        assert_eq!(leases.give_back("l1", 350, now).map(|r| r.pico), Some(-50));
        assert_eq!(leases.charge("l1", 50).map(|r| r.pico), Some(50));
        assert_eq!(leases.charge("l1", 150).map(|r| r.pico), Some(150));
        assert_eq!(leases.len(), 1);
        assert_eq!(leases.charge("l1", 50).map(|r| r.pico), Some(50));
        assert!(leases.is_empty(), "everything it held is released");
        assert_eq!(leases.charge("l1", 50), None);
    }

    #[test]
    fn a_key_holds_one_lease_not_given_back_at_a_time() {
        let now = Instant::now();
        let mut leases = Leases::default();
        assert!(!leases.outstanding("k\n", now));
        leases.open("l1".into(), "k\n".into(), ids(), 1_000, now);
        assert!(leases.outstanding("k\n", now));
        assert!(!leases.outstanding("k\ncheckout", now), "another project");
        assert!(
            !leases.outstanding("k\n", now + leases.valid),
            "its time is up"
        );
        leases.give_back("l1", 0, now);
        assert!(!leases.outstanding("k\n", now));

        leases.open("l2".into(), "k\n".into(), ids(), 1_000, now);
        let end = now + leases.valid + GIVE_BACK_GRACE;
        assert_eq!(leases.expire(end).len(), 1);
        assert!(!leases.outstanding("k\n", now));
    }

    #[test]
    fn never_releases_more_than_it_holds() {
        let now = Instant::now();
        let mut leases = Leases::default();
        leases.open("l1".into(), "k\n".into(), ids(), 100, now);
        // Records the filter charged beyond the limit (a charge it counted late).
        assert_eq!(leases.charge("l1", 80).map(|r| r.pico), Some(80));
        assert_eq!(leases.charge("l1", 80).map(|r| r.pico), Some(20));
        assert_eq!(leases.give_back("l1", 400, now).map(|r| r.pico), Some(0));
        assert!(leases.is_empty());
    }

    #[test]
    fn a_lease_never_given_back_releases_after_the_grace() {
        let now = Instant::now();
        let mut leases = Leases::default();
        leases.open("l1".into(), "k\n".into(), ids(), 500, now);
        leases.charge("l1", 200);
        let before = now + leases.valid + GIVE_BACK_GRACE - Duration::from_millis(1);
        assert!(leases.expire(before).is_empty());
        let released = leases.expire(now + leases.valid + GIVE_BACK_GRACE);
        assert_eq!(released.iter().map(|r| r.pico).sum::<i128>(), 300);
        assert!(leases.is_empty());
    }
}
