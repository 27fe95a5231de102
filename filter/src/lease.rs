//! Leases from the control plane, kept in Envoy's shared data so every worker admits a key's
//! calls against the same one, without asking.
//!
//! One entry per key and project (`trimio.lease.<key hash>.<project>`), changed with
//! compare-and-swap. A call admitted under it adds its charge to what the lease has used; a
//! call that does not fit, a lease that has ended, or a body of unknown size under a limited
//! lease sends the call to the control plane as before, asking for a new lease with it. Half
//! way through a lease's time or limit, the first call past that mark asks the root context
//! to renew it in the background: the calls themselves never wait for a lease.

use proxy_wasm::hostcalls;
use proxy_wasm::traits::Context;
use proxy_wasm::types::Status;
use serde::{Deserialize, Serialize};
use trimio_wire::{ADMIT_PATH, AdmitRequest, ApiFamily, Lease, LeaseCharge, LeaseUse, Provider};

use crate::config::Settings;
use crate::known_keys;
use crate::shared::call_control_plane;

const PREFIX: &str = "trimio.lease.";
/// Shared-data slot counting the lease entries made, so that keys and projects without end
/// cannot grow shared data without end.
const ENTRIES: &str = "trimio.lease_entries";
/// Most lease entries one Envoy makes; past it, calls of new keys and projects are asked for
/// one by one.
pub const MAX_ENTRIES: u64 = 10_000;
/// A renewal unanswered this long past the control plane's timeout (whose end reports it
/// failed) is asked for again.
const RENEWAL_STALE_MS: u64 = 1_000;

/// Which lease: the key and the project the client names ("" for none).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Slot {
    pub key_hash: String,
    pub project: String,
}

impl Slot {
    pub fn new(key_hash: &str, project: Option<&str>) -> Self {
        Slot {
            key_hash: key_hash.to_owned(),
            project: project.unwrap_or_default().to_owned(),
        }
    }

    fn name(&self) -> String {
        format!("{PREFIX}{}.{}", self.key_hash, self.project)
    }
}

/// A lease as the filter keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    id: String,
    expires_at_ms: u64,
    /// From when the next call asks for a renewal.
    renew_at_ms: u64,
    limit_pico: Option<u64>,
    used_pico: u64,
    max_calls: Option<u64>,
    calls: u64,
    call_pico: u64,
    per_kib: u64,
    /// The project the key is bound to, which the call's record carries.
    project: Option<String>,
    /// When a renewal was asked for, while it is unanswered.
    renewing_since_ms: Option<u64>,
}

impl Entry {
    pub fn new(lease: Lease, project: Option<String>, now_ms: u64) -> Self {
        Entry {
            id: lease.id,
            expires_at_ms: now_ms.saturating_add(lease.valid_ms),
            renew_at_ms: now_ms.saturating_add(lease.valid_ms / 2),
            limit_pico: lease.limit_pico,
            used_pico: 0,
            max_calls: lease.max_calls,
            calls: 0,
            call_pico: lease.call_pico,
            per_kib: lease.prompt_pico_per_kib,
            project,
            renewing_since_ms: None,
        }
    }

    /// No lease yet; one is being asked for.
    fn pending(now_ms: u64) -> Self {
        Entry {
            id: String::new(),
            expires_at_ms: 0,
            renew_at_ms: 0,
            limit_pico: Some(0),
            used_pico: 0,
            max_calls: Some(0),
            calls: 0,
            call_pico: 0,
            per_kib: 0,
            project: None,
            renewing_since_ms: Some(now_ms),
        }
    }

    fn renewing(&self, now_ms: u64, timeout_ms: u64) -> bool {
        self.renewing_since_ms.is_some_and(|since| {
            now_ms.saturating_sub(since) < timeout_ms.saturating_add(RENEWAL_STALE_MS)
        })
    }

    fn given_back(&self) -> LeaseUse {
        LeaseUse {
            id: self.id.clone(),
            used_pico: self.used_pico,
        }
    }
}

/// What a call does about its lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Local {
    /// Admitted under the lease; `renew` when the root context is to renew it now.
    Admitted {
        charge: LeaseCharge,
        project: Option<String>,
        renew: bool,
    },
    /// Ask the control plane; `lease` to ask for a lease with the call, giving `previous`
    /// back.
    Ask {
        lease: bool,
        previous: Option<LeaseUse>,
    },
}

/// When a call is decided, and how long the control plane may take to answer.
#[derive(Debug, Clone, Copy)]
pub struct Now {
    pub ms: u64,
    pub timeout_ms: u64,
}

/// Decides a call of `prompt_bytes` against the lease in `entry`, changing it as the call
/// uses it. `None` when nothing is written back.
pub fn decide(
    entry: Option<&Entry>,
    prompt_bytes: Option<u64>,
    now: Now,
) -> (Local, Option<Entry>) {
    let now_ms = now.ms;
    let Some(entry) = entry else {
        // A placeholder, so that the calls beside this one do not each ask for a lease.
        let ask = Local::Ask {
            lease: true,
            previous: None,
        };
        return (ask, Some(Entry::pending(now_ms)));
    };
    let renewing = entry.renewing(now_ms, now.timeout_ms);
    let charge = match (prompt_bytes, entry.limit_pico) {
        (Some(bytes), _) => Some(
            entry
                .per_kib
                .saturating_mul(bytes.div_ceil(1024))
                .saturating_add(entry.call_pico),
        ),
        (None, None) => Some(entry.call_pico),
        (None, Some(_)) => None,
    };
    let used = charge.map(|charge| entry.used_pico.saturating_add(charge));
    let fits = now_ms < entry.expires_at_ms
        && entry.max_calls.is_none_or(|max| entry.calls < max)
        && used.is_some_and(|used| entry.limit_pico.is_none_or(|limit| used <= limit));
    if !fits {
        // This call is asked for; with it a new lease, unless a renewal is on its way.
        if renewing || (charge.is_none() && now_ms < entry.expires_at_ms) {
            let ask = Local::Ask {
                lease: false,
                previous: None,
            };
            return (ask, None);
        }
        let ask = Local::Ask {
            lease: true,
            previous: (!entry.id.is_empty()).then(|| entry.given_back()),
        };
        let mut changed = entry.clone();
        changed.renewing_since_ms = Some(now_ms);
        return (ask, Some(changed));
    }
    let (charge, used) = (charge.unwrap_or(0), used.unwrap_or(0));
    let mut changed = entry.clone();
    changed.used_pico = used;
    changed.calls = entry.calls + 1;
    let half_used = entry.limit_pico.is_some_and(|limit| used >= limit / 2)
        || entry.max_calls.is_some_and(|max| changed.calls >= max / 2);
    let renew = !renewing && (now_ms >= entry.renew_at_ms || half_used);
    if renew {
        changed.renewing_since_ms = Some(now_ms);
    }
    let admitted = Local::Admitted {
        charge: LeaseCharge {
            id: entry.id.clone(),
            pico: charge,
        },
        project: entry.project.clone(),
        renew,
    };
    (admitted, Some(changed))
}

/// Decides a call against the slot's lease in shared data.
pub fn admit(slot: &Slot, prompt_bytes: Option<u64>, now: Now) -> Local {
    let name = slot.name();
    for _ in 0..32 {
        let Ok((bytes, cas)) = hostcalls::get_shared_data(&name) else {
            break;
        };
        let entry = bytes
            .as_deref()
            .and_then(|bytes| serde_json::from_slice::<Entry>(bytes).ok());
        let (local, changed) = decide(entry.as_ref(), prompt_bytes, now);
        let Some(changed) = changed else {
            return local;
        };
        if bytes.is_none() {
            // A slot is made only for a key the control plane admitted before, so that keys
            // it never knew cannot use up the slots; such a key's first calls all ask.
            if known_keys::last_admitted(&slot.key_hash).is_none() {
                return local;
            }
            if !count_entry() {
                break;
            }
        }
        let Ok(value) = serde_json::to_vec(&changed) else {
            break;
        };
        match hostcalls::set_shared_data(&name, Some(&value), cas) {
            Ok(()) => return local,
            Err(Status::CasMismatch) => continue,
            Err(_) => break,
        }
    }
    Local::Ask {
        lease: false,
        previous: None,
    }
}

/// Puts a lease the control plane granted in the slot, in place of what is there. When that
/// was the lease `replaced`, given back with the question, and calls used it further while
/// the answer was on its way, returns its final use, to tell the control plane.
pub fn swap(slot: &Slot, entry: &Entry, replaced: Option<&LeaseUse>) -> Option<LeaseUse> {
    let name = slot.name();
    let value = serde_json::to_vec(entry).ok()?;
    for _ in 0..16 {
        let Ok((bytes, cas)) = hostcalls::get_shared_data(&name) else {
            return None;
        };
        if bytes.is_none() && !count_entry() {
            return None;
        }
        match hostcalls::set_shared_data(&name, Some(&value), cas) {
            Ok(()) => {
                let old: Entry = serde_json::from_slice(&bytes?).ok()?;
                let replaced = replaced?;
                return (old.id == replaced.id && old.used_pico > replaced.used_pico)
                    .then(|| old.given_back());
            }
            Err(Status::CasMismatch) => continue,
            Err(_) => return None,
        }
    }
    None
}

/// Tells the control plane what a lease used, as a question that asks for nothing; its
/// answer needs nothing done.
pub fn give_back(
    ctx: &impl Context,
    settings: &Settings,
    slot: &Slot,
    (provider, family): (Provider, ApiFamily),
    used: LeaseUse,
) {
    let project = slot.project.clone();
    let request = AdmitRequest {
        request_id: String::new(),
        key_hash: slot.key_hash.clone(),
        provider,
        family,
        model: None,
        prompt_bytes: None,
        max_tokens: None,
        project: (!project.is_empty()).then_some(project),
        wait_ms: None,
        lease: false,
        previous: Some(used),
    };
    if let Ok(body) = serde_json::to_vec(&request) {
        let _ = call_control_plane(ctx, settings, ADMIT_PATH, &body, None);
    }
}

/// Empties the slot: its next call is asked for, with a lease.
pub fn clear(slot: &Slot) {
    let name = slot.name();
    if matches!(hostcalls::get_shared_data(&name), Ok((Some(bytes), _)) if !bytes.is_empty()) {
        let _ = hostcalls::set_shared_data(&name, Some(&[]), None);
    }
}

/// A renewal went unanswered: the next call past the mark asks again.
pub fn renewal_failed(slot: &Slot, id: &str) {
    let name = slot.name();
    for _ in 0..8 {
        let Ok((Some(bytes), cas)) = hostcalls::get_shared_data(&name) else {
            return;
        };
        let Ok(mut entry) = serde_json::from_slice::<Entry>(&bytes) else {
            return;
        };
        if entry.id != id {
            return;
        }
        entry.renewing_since_ms = None;
        let Ok(value) = serde_json::to_vec(&entry) else {
            return;
        };
        if hostcalls::set_shared_data(&name, Some(&value), cas) != Err(Status::CasMismatch) {
            return;
        }
    }
}

/// What became of a slot's lease.
pub enum Ended {
    /// In use, or being asked for.
    Live,
    /// No lease is left in it.
    Gone,
    /// It ended unrenewed; the slot is emptied and the lease is to be given back with this.
    GiveBack(LeaseUse),
}

/// Empties the slot if its lease has ended and no renewal is on its way, and returns that
/// lease, with what it used, for giving back: a key gone quiet does not hold its share of a
/// budget until the control plane gives up on it.
pub fn take_ended(slot: &Slot, now: Now) -> Ended {
    let name = slot.name();
    for _ in 0..8 {
        let Ok((Some(bytes), cas)) = hostcalls::get_shared_data(&name) else {
            return Ended::Gone;
        };
        let Ok(entry) = serde_json::from_slice::<Entry>(&bytes) else {
            return Ended::Gone;
        };
        if entry.id.is_empty()
            || now.ms < entry.expires_at_ms
            || entry.renewing(now.ms, now.timeout_ms)
        {
            return Ended::Live;
        }
        match hostcalls::set_shared_data(&name, Some(&[]), cas) {
            Ok(()) => return Ended::GiveBack(entry.given_back()),
            Err(Status::CasMismatch) => continue,
            Err(_) => return Ended::Live,
        }
    }
    Ended::Live
}

/// What the lease in the slot has used, to give it back with a renewal.
pub fn in_use(slot: &Slot) -> Option<LeaseUse> {
    let (bytes, _) = hostcalls::get_shared_data(&slot.name()).ok()?;
    let entry: Entry = serde_json::from_slice(&bytes?).ok()?;
    Some(entry.given_back())
}

/// Counts one more entry, unless there are already [`MAX_ENTRIES`].
fn count_entry() -> bool {
    for _ in 0..32 {
        let Ok((bytes, cas)) = hostcalls::get_shared_data(ENTRIES) else {
            return false;
        };
        let count = count_of(bytes.as_deref());
        if count >= MAX_ENTRIES {
            return false;
        }
        match hostcalls::set_shared_data(ENTRIES, Some(&(count + 1).to_le_bytes()), cas) {
            Ok(()) => return true,
            Err(Status::CasMismatch) => continue,
            Err(_) => return false,
        }
    }
    false
}

fn count_of(bytes: Option<&[u8]>) -> u64 {
    bytes
        .and_then(|b| <[u8; 8]>::try_from(b).ok())
        .map_or(0, u64::from_le_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: u64) -> Now {
        Now {
            ms,
            timeout_ms: 3_000,
        }
    }

    fn lease(limit_pico: Option<u64>) -> Entry {
        let lease = Lease {
            id: "l1".into(),
            valid_ms: 10_000,
            limit_pico,
            call_pico: 100,
            prompt_pico_per_kib: 10,
            max_calls: Some(10),
        };
        Entry::new(lease, Some("checkout".into()), 1_000)
    }

    #[test]
    fn admits_and_charges_the_call_and_its_body() {
        let entry = lease(Some(10_000));
        let (local, changed) = decide(Some(&entry), Some(2049), at(2_000));
        let Local::Admitted {
            charge,
            project,
            renew,
        } = local
        else {
            panic!("{local:?}");
        };
        assert_eq!((charge.id.as_str(), charge.pico), ("l1", 130));
        assert_eq!(project.as_deref(), Some("checkout"));
        assert!(!renew);
        assert_eq!(changed.unwrap().used_pico, 130);
    }

    #[test]
    fn renews_once_from_half_its_time_or_limit() {
        let entry = lease(Some(10_000));
        let (local, changed) = decide(Some(&entry), Some(0), at(6_000));
        assert!(matches!(local, Local::Admitted { renew: true, .. }));
        let changed = changed.unwrap();
        let (again, _) = decide(Some(&changed), Some(0), at(6_001));
        assert!(matches!(again, Local::Admitted { renew: false, .. }));
        // A renewal unanswered for long is asked again.
        let (stale, _) = decide(
            Some(&changed),
            Some(0),
            at(6_000 + 3_000 + RENEWAL_STALE_MS),
        );
        assert!(matches!(stale, Local::Admitted { renew: true, .. }));

        let mut used = lease(Some(1_000));
        used.used_pico = 450;
        let (local, _) = decide(Some(&used), Some(0), at(2_000));
        assert!(matches!(local, Local::Admitted { renew: true, .. }));
    }

    #[test]
    fn a_call_that_does_not_fit_is_asked_for_with_a_new_lease() {
        let mut entry = lease(Some(1_000));
        entry.used_pico = 950;
        let (local, changed) = decide(Some(&entry), Some(0), at(2_000));
        let previous = Some(LeaseUse {
            id: "l1".into(),
            used_pico: 950,
        });
        assert_eq!(
            local,
            Local::Ask {
                lease: true,
                previous
            }
        );
        // The next call does not ask for another while that one is on its way.
        let (next, _) = decide(changed.as_ref(), Some(0), at(2_001));
        assert_eq!(
            next,
            Local::Ask {
                lease: false,
                previous: None
            }
        );
    }

    #[test]
    fn a_lease_admits_at_most_its_calls_and_renews_from_half_of_them() {
        let mut entry = lease(None);
        for n in 1..=10 {
            let (local, changed) = decide(Some(&entry), Some(0), at(2_000));
            let Local::Admitted { renew, .. } = local else {
                panic!("call {n}: {local:?}");
            };
            assert_eq!(renew, n == 5, "call {n}");
            entry = changed.unwrap();
        }
        let (local, _) = decide(Some(&entry), Some(0), at(2_000));
        assert!(matches!(local, Local::Ask { .. }), "{local:?}");
    }

    #[test]
    fn an_ended_lease_admits_nothing() {
        let entry = lease(None);
        let (local, _) = decide(Some(&entry), Some(10), at(11_000));
        assert!(matches!(local, Local::Ask { lease: true, .. }), "{local:?}");
        let (local, pending) = decide(None, Some(10), at(11_000));
        assert!(matches!(
            local,
            Local::Ask {
                lease: true,
                previous: None
            }
        ));
        // The calls beside it ask without a lease until it is answered.
        let (next, _) = decide(pending.as_ref(), Some(10), at(11_001));
        assert_eq!(
            next,
            Local::Ask {
                lease: false,
                previous: None
            }
        );
    }

    #[test]
    fn an_unknown_body_size_passes_only_an_unlimited_lease() {
        let (local, _) = decide(Some(&lease(None)), None, at(2_000));
        assert!(matches!(local, Local::Admitted { .. }), "{local:?}");
        let (local, _) = decide(Some(&lease(Some(10_000))), None, at(2_000));
        assert_eq!(
            local,
            Local::Ask {
                lease: false,
                previous: None
            }
        );
    }
}
