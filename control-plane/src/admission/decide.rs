//! The admission decision.

use std::time::Instant;

use trimio_wire::{AdmitRequest, AdmitResponse, DenyReason};

use crate::admission::estimate::{CallFacts, FALLBACK_PICO};
use crate::alerts::ends_text;
use crate::budgets::BudgetState;
use crate::ledger::loggable_id;
use crate::money::format_cents;
use crate::state::Memory;

/// What admission says now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Allowed; the call's estimate is reserved.
    Allow(AdmitResponse),
    Deny(AdmitResponse),
    /// The call fits once calls in flight settle below what they hold: ask again when they
    /// do. `deny` is the answer should they not settle in time.
    Wait {
        deny: AdmitResponse,
    },
}

/// Decides one call and, when it is allowed, reserves its estimated cost on every budget
/// that covers it.
///
/// Unknown and revoked keys are denied. A call is denied by a hard budget when the spend of
/// its period has reached it, or when the spend and the call's own estimate pass it; it
/// waits when only the estimates of calls in flight stand in the way. Everything is read
/// from memory; nothing here touches the store.
pub fn decide(memory: &mut Memory, request: &AdmitRequest, now: Instant, now_ms: i64) -> Decision {
    memory.budgets.turn(now_ms);
    let key_hash_prefix = loggable_id(&request.key_hash.chars().take(12).collect::<String>());
    let Some(key) = memory.registry.key_by_hash(&request.key_hash) else {
        tracing::info!(key.hash_prefix = %key_hash_prefix, reason = "unknown_key", "call denied");
        return Decision::Deny(deny(
            DenyReason::UnknownKey,
            "this key is not known to the gateway".to_owned(),
        ));
    };
    let Some(team) = memory.registry.team(&key.team_id) else {
        tracing::warn!(key.id = %key.id, team.id = %key.team_id, "key has no team; call denied");
        return Decision::Deny(deny(
            DenyReason::UnknownKey,
            "this key is not known to the gateway".to_owned(),
        ));
    };
    if key.is_revoked() {
        tracing::info!(team = %team.name, key.id = %key.id, reason = "revoked_key", "call denied");
        return Decision::Deny(deny(
            DenyReason::RevokedKey,
            "this key has been revoked".to_owned(),
        ));
    }

    // The key's project wins over the one the client names, as in the ledger.
    let project = key
        .project
        .clone()
        .or_else(|| request.project.clone().filter(|p| !p.is_empty()));
    let budget_ids = memory
        .budgets
        .covering(&team.id, project.as_deref(), Some(&key.id));
    let states: Vec<&BudgetState> = budget_ids
        .iter()
        .filter_map(|id| memory.budgets.get(id))
        .collect();
    let strict_max_tokens = states
        .iter()
        .filter(|state| state.budget.is_hard() && state.budget.strict)
        .map(|state| state.budget.default_max_tokens)
        .max();
    let facts = CallFacts {
        model: request.model.as_deref(),
        prompt_bytes: request.prompt_bytes,
        max_tokens: request.max_tokens,
    };
    let mut estimate =
        memory
            .estimator
            .estimate(&team.id, facts, &memory.prices, strict_max_tokens);
    if estimate == FALLBACK_PICO {
        // Without a priced model or recent calls, the team's mean cost per call is the better
        // guess.
        let mean = memory.spend.of(&team.id, memory.spend.period()).mean_cost();
        if mean > 0 {
            estimate = mean;
        }
    }

    let mut waiting = None;
    for state in states.iter().filter(|state| state.budget.is_hard()) {
        let budget = &state.budget;
        let (spent, held, amount) = (state.spent_pico, state.held_pico, budget.amount_pico);
        let key_name = Some(key.name.as_str());
        if spent >= amount || spent.saturating_add(estimate) > amount {
            tracing::info!(
                team = %team.name,
                budget.id = %budget.id,
                reason = "budget_exhausted",
                spend_usd = %format_cents(spent),
                budget_usd = %format_cents(amount),
                estimate_pico = %estimate,
                "call denied"
            );
            let why = if spent >= amount {
                Why::Spent
            } else {
                Why::ThisCall(estimate)
            };
            let message = exhausted_message(state, &team.name, key_name, why);
            return Decision::Deny(deny(DenyReason::BudgetExhausted, message));
        }
        if spent.saturating_add(held).saturating_add(estimate) > amount && waiting.is_none() {
            let message = exhausted_message(state, &team.name, key_name, Why::InFlight);
            waiting = Some(deny(DenyReason::BudgetExhausted, message));
        }
    }
    if let Some(deny) = waiting {
        return Decision::Wait { deny };
    }

    let allow = AdmitResponse::Allow {
        team_id: team.id.clone(),
        team: team.name.clone(),
        key_id: key.id.clone(),
        project: key.project.clone(),
    };
    tracing::debug!(
        team = %team.name,
        key.id = %key.id,
        estimate_pico = %estimate,
        "call admitted"
    );
    if !request.request_id.is_empty() {
        let team_id = team.id.clone();
        if !memory.reserve(&request.request_id, &team_id, budget_ids, estimate, now) {
            tracing::warn!(team.id = %team_id, "too many open reservations; admitted without one");
        }
    }
    Decision::Allow(allow)
}

fn deny(reason: DenyReason, message: String) -> AdmitResponse {
    AdmitResponse::Deny { reason, message }
}

/// Why a call does not fit.
#[derive(Debug, Clone, Copy)]
enum Why {
    /// The budget is spent.
    Spent,
    /// This call, at its estimate in pico-dollars, would pass it.
    ThisCall(i128),
    /// Calls in flight hold the rest.
    InFlight,
}

/// The sentence the person at the tool reads, in dollars and cents.
fn exhausted_message(state: &BudgetState, team: &str, key_name: Option<&str>, why: Why) -> String {
    let budget = &state.budget;
    let why = match why {
        Why::Spent => String::new(),
        Why::ThisCall(estimate) if estimate < 5_000_000_000 => {
            " and this call, estimated at under $0.01, would pass it".to_owned()
        }
        Why::ThisCall(estimate) => format!(
            " and this call, estimated at ${}, would pass it",
            format_cents(estimate)
        ),
        Why::InFlight => " and calls in flight hold the rest".to_owned(),
    };
    format!(
        "{} has spent ${} of its ${} {} budget{why}; the budget resets on {}",
        budget.subject(team, key_name),
        format_cents(state.spent_pico),
        format_cents(budget.amount_pico),
        budget.rule.kind.adjective(),
        ends_text(&state.window, &budget.rule.time_zone),
    )
}
