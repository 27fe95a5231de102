//! The admission decision.

use std::time::Instant;

use trimio_wire::{AdmitRequest, AdmitResponse, DenyReason};

use crate::calendar::{Period, day_string};
use crate::ledger::loggable_id;
use crate::money::format_cents;
use crate::state::Memory;

/// Least a call reserves at admission: 0.01 USD, in pico-dollars. Near the cap it limits the
/// calls in flight to what the rest of the budget can hold at this price each.
pub const MIN_RESERVATION_PICO: i128 = 10_000_000_000;

/// Decides one call and, when it is allowed, reserves its estimated cost.
///
/// Unknown and revoked keys are denied. A team with a budget is denied once its spend in the
/// period plus what its admitted calls hold reaches the budget. Everything is read from
/// memory; nothing here touches the store.
pub fn decide(
    memory: &mut Memory,
    request: &AdmitRequest,
    now: Instant,
    period: Period,
) -> AdmitResponse {
    let key_hash_prefix = loggable_id(&request.key_hash.chars().take(12).collect::<String>());
    let Some(key) = memory.registry.key_by_hash(&request.key_hash) else {
        tracing::info!(key.hash_prefix = %key_hash_prefix, reason = "unknown_key", "call denied");
        return deny(
            DenyReason::UnknownKey,
            "this key is not known to the gateway".to_owned(),
        );
    };
    let Some(team) = memory.registry.team(&key.team_id) else {
        tracing::warn!(key.id = %key.id, team.id = %key.team_id, "key has no team; call denied");
        return deny(
            DenyReason::UnknownKey,
            "this key is not known to the gateway".to_owned(),
        );
    };
    if key.is_revoked() {
        tracing::info!(team = %team.name, key.id = %key.id, reason = "revoked_key", "call denied");
        return deny(
            DenyReason::RevokedKey,
            "this key has been revoked".to_owned(),
        );
    }

    let spend = memory.spend.of(&team.id, period);
    let held = memory.reservations.held(&team.id);
    if let Some(budget) = team.budget_pico
        && spend.cost_pico.saturating_add(held) >= budget
    {
        tracing::info!(
            team = %team.name,
            reason = "budget_exhausted",
            spend_usd = %format_cents(spend.cost_pico),
            budget_usd = %format_cents(budget),
            "call denied"
        );
        let message = exhausted_message(&team.name, spend.cost_pico, budget, period);
        return deny(DenyReason::BudgetExhausted, message);
    }

    let allow = AdmitResponse::Allow {
        team_id: team.id.clone(),
        team: team.name.clone(),
        key_id: key.id.clone(),
        project: key.project.clone(),
    };
    // A team with no history, or only cheap calls, still reserves something, so a burst of
    // parallel calls cannot all pass a budget that none of them has been charged to yet.
    let estimate = spend.mean_cost().max(MIN_RESERVATION_PICO);
    tracing::debug!(
        team = %team.name,
        key.id = %key.id,
        estimate_pico = %estimate,
        "call admitted"
    );
    if !request.request_id.is_empty() {
        let team_id = team.id.clone();
        if !memory
            .reservations
            .open(&request.request_id, &team_id, estimate, now)
        {
            tracing::warn!(team.id = %team_id, "too many open reservations; admitted without one");
        }
    }
    allow
}

fn deny(reason: DenyReason, message: String) -> AdmitResponse {
    AdmitResponse::Deny { reason, message }
}

/// The sentence the person at the tool reads, in dollars and cents.
fn exhausted_message(team: &str, spend: i128, budget: i128, period: Period) -> String {
    let in_flight = if spend < budget {
        " and calls in flight may use the rest"
    } else {
        ""
    };
    format!(
        "team \"{team}\" has spent ${} of its ${} monthly budget{in_flight}; the budget resets on \
         {} 00:00 UTC",
        format_cents(spend),
        format_cents(budget),
        day_string(period.end)
    )
}

#[cfg(test)]
mod tests {
    use time::macros::date;
    use trimio_wire::{ApiFamily, Provider};

    use super::*;
    use crate::keys::Key;
    use crate::ledger::{LedgerRow, record_for_tests};
    use crate::money::PICO_PER_USD;
    use crate::registry::Registry;
    use crate::spend::Spend;
    use crate::teams::Team;

    fn december() -> Period {
        Period::containing(date!(2026 - 12 - 04))
    }

    fn memory(budget_usd: Option<i128>) -> Memory {
        let team = Team {
            id: "t1".into(),
            name: "payments".into(),
            budget_pico: budget_usd.map(|usd| usd * 1_000_000_000_000),
            created_at: "2026-12-01T00:00:00Z".into(),
        };
        let key = |id: &str, hash: &str, revoked: bool| Key {
            id: id.into(),
            team_id: "t1".into(),
            name: id.into(),
            project: Some("checkout".into()),
            key_hash: hash.into(),
            prefix: "tmk_0000".into(),
            created_at: "2026-12-01T00:00:00Z".into(),
            revoked_at: revoked.then(|| "2026-12-02T00:00:00Z".to_owned()),
        };
        Memory {
            registry: Registry::new(
                vec![team],
                vec![key("k1", "h1", false), key("k2", "h2", true)],
            ),
            spend: Spend::new(december()),
            reservations: Default::default(),
            prices: Default::default(),
        }
    }

    fn request(request_id: &str, key_hash: &str) -> AdmitRequest {
        AdmitRequest {
            request_id: request_id.into(),
            key_hash: key_hash.into(),
            provider: Provider::Anthropic,
            family: ApiFamily::AnthropicMessages,
        }
    }

    /// Adds a stored call of `cost` pico-dollars to the team's spend.
    fn spent(memory: &mut Memory, request_id: &str, cost: i64) {
        let mut record = record_for_tests(request_id, "h1");
        record.started_at_ms = 1_796_342_400_000; // 2026-12-04
        let mut row = LedgerRow::build(record, None, &Default::default(), 0).unwrap();
        row.team_id = Some("t1".into());
        row.cost_pico = Some(cost);
        memory.spend.add_call(&row);
        memory.reservations.settle(request_id);
    }

    fn reason(response: &AdmitResponse) -> Option<DenyReason> {
        match response {
            AdmitResponse::Allow { .. } => None,
            AdmitResponse::Deny { reason, .. } => Some(*reason),
        }
    }

    #[test]
    fn allows_a_known_key_with_its_team_and_project() {
        let mut memory = memory(None);
        let response = decide(
            &mut memory,
            &request("r1", "h1"),
            Instant::now(),
            december(),
        );
        assert_eq!(
            response,
            AdmitResponse::Allow {
                team_id: "t1".into(),
                team: "payments".into(),
                key_id: "k1".into(),
                project: Some("checkout".into()),
            }
        );
    }

    #[test]
    fn denies_unknown_and_revoked_keys() {
        let mut memory = memory(None);
        let now = Instant::now();
        let unknown = decide(&mut memory, &request("r1", "nope"), now, december());
        assert_eq!(reason(&unknown), Some(DenyReason::UnknownKey));
        let revoked = decide(&mut memory, &request("r2", "h2"), now, december());
        assert_eq!(reason(&revoked), Some(DenyReason::RevokedKey));
        assert!(memory.reservations.is_empty());
    }

    #[test]
    fn denies_once_spend_reaches_the_budget_naming_team_budget_and_reset() {
        let mut memory = memory(Some(10));
        spent(&mut memory, "r0", 10_020_000_000_000);

        let response = decide(
            &mut memory,
            &request("r1", "h1"),
            Instant::now(),
            december(),
        );
        let AdmitResponse::Deny { reason, message } = response else {
            panic!("expected a denial, got {response:?}");
        };
        assert_eq!(reason, DenyReason::BudgetExhausted);
        assert_eq!(
            message,
            "team \"payments\" has spent $10.02 of its $10.00 monthly budget; the budget resets \
             on 2027-01-01 00:00 UTC"
        );
    }

    #[test]
    fn a_zero_budget_denies_everything() {
        let mut memory = memory(Some(0));
        let response = decide(
            &mut memory,
            &request("r1", "h1"),
            Instant::now(),
            december(),
        );
        assert_eq!(reason(&response), Some(DenyReason::BudgetExhausted));
    }

    #[test]
    fn reservations_of_calls_in_flight_count_against_the_budget() {
        let mut memory = memory(Some(1));
        // Two calls of 0.40 USD each: the mean is 0.40.
        spent(&mut memory, "a", 400_000_000_000);
        spent(&mut memory, "b", 400_000_000_000);
        let now = Instant::now();

        // 0.80 spent, nothing held: allowed, holds 0.40.
        assert_eq!(
            reason(&decide(&mut memory, &request("r1", "h1"), now, december())),
            None
        );
        assert_eq!(memory.reservations.held("t1"), 400_000_000_000);
        // 0.80 + 0.40 >= 1.00: denied while r1 is in flight.
        let denied = decide(&mut memory, &request("r2", "h1"), now, december());
        assert_eq!(reason(&denied), Some(DenyReason::BudgetExhausted));
        let AdmitResponse::Deny { message, .. } = denied else {
            unreachable!()
        };
        assert!(message.contains("$0.80 of its $1.00 monthly budget and calls in flight"));

        // r1 settles at 0.10: 0.90 spent, allowed again.
        spent(&mut memory, "r1", 100_000_000_000);
        assert_eq!(
            reason(&decide(&mut memory, &request("r3", "h1"), now, december())),
            None
        );
    }

    #[test]
    fn expired_reservations_release_the_budget() {
        let mut memory = memory(Some(1));
        spent(&mut memory, "a", 600_000_000_000);
        let now = Instant::now();
        assert_eq!(
            reason(&decide(&mut memory, &request("r1", "h1"), now, december())),
            None
        );
        let denied = decide(&mut memory, &request("r2", "h1"), now, december());
        assert_eq!(reason(&denied), Some(DenyReason::BudgetExhausted));

        memory
            .reservations
            .expire(now + crate::admission::RESERVATION_TTL);
        assert_eq!(
            reason(&decide(&mut memory, &request("r3", "h1"), now, december())),
            None
        );
    }

    #[test]
    fn a_new_month_starts_from_nothing() {
        let mut memory = memory(Some(1));
        spent(&mut memory, "a", PICO_PER_USD as i64);
        let january = Period::containing(date!(2027 - 01 - 01));
        let response = decide(&mut memory, &request("r1", "h1"), Instant::now(), january);
        assert_eq!(reason(&response), None);
    }
}
