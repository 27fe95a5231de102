//! The admission decision.

use std::time::Instant;

use trimio_wire::{AdmitRequest, AdmitResponse, DenyReason, Lease};

use crate::admission::estimate::{CallFacts, FALLBACK_PICO};
use crate::alerts::ends_text;
use crate::budgets::BudgetState;
use crate::ledger::loggable_id;
use crate::money::format_cents;
use crate::random;
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
    if let Some(previous) = &request.previous {
        // Given back once, however often the question is decided again while it waits.
        memory.give_back_lease(&previous.id, previous.used_pico, now);
    }
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
    let mut bound = LeaseBound::Unbounded;
    for state in states.iter().filter(|state| state.budget.is_hard()) {
        let budget = &state.budget;
        let (spent, held, amount) = (state.spent_pico, state.held_pico, budget.amount_pico);
        bound = bound.and(budget.strict, amount - spent - held - estimate);
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

    let (team_id, team_name, key_id) = (team.id.clone(), team.name.clone(), key.id.clone());
    let key_project = key.project.clone();
    let lease = if request.lease {
        let slot = format!(
            "{}\n{}",
            request.key_hash,
            request.project.as_deref().unwrap_or_default()
        );
        let call = LeaseCall {
            team_id: &team_id,
            slot,
            estimate,
        };
        grant_lease(memory, call, &budget_ids, bound, now)
    } else {
        None
    };
    let allow = AdmitResponse::Allow {
        team_id: team_id.clone(),
        team: team_name.clone(),
        key_id: key_id.clone(),
        project: key_project,
        lease,
    };
    tracing::debug!(
        team = %team_name,
        key.id = %key_id,
        estimate_pico = %estimate,
        "call admitted"
    );
    if !request.request_id.is_empty()
        && !memory.reserve(&request.request_id, &team_id, budget_ids, estimate, now)
    {
        tracing::warn!(team.id = %team_id, "too many open reservations; admitted without one");
    }
    Decision::Allow(allow)
}

/// What the hard budgets covering a key leave for a lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LeaseBound {
    /// No hard budget covers the key.
    Unbounded,
    /// The least any hard budget has left after its spend, what calls in flight hold and
    /// the call being admitted, in pico-dollars.
    Headroom(i128),
    /// A strict budget covers the key: each call is priced at its own worst case, which only
    /// its own request tells, so every call is asked for.
    Strict,
}

impl LeaseBound {
    fn and(self, strict: bool, headroom: i128) -> LeaseBound {
        match self {
            _ if strict => LeaseBound::Strict,
            LeaseBound::Strict => LeaseBound::Strict,
            LeaseBound::Unbounded => LeaseBound::Headroom(headroom),
            LeaseBound::Headroom(least) => LeaseBound::Headroom(least.min(headroom)),
        }
    }
}

/// Share of a hard budget's headroom one lease may hold: other gateways, keys and projects
/// of the team draw on the same budget.
const LEASE_SHARE: i128 = 4;
/// A lease must hold at least this many calls at the larger of the charge and this call's
/// estimate, or calls are asked for one by one.
const LEASE_MIN_CALLS: i128 = 2;

/// A lease for the key, when it may have one, held on its hard budgets.
///
/// Its calls are charged at the team's recent calls' rates (output a call, prompt per KiB
/// of body); before there are any, a lease that no hard budget binds charges this call's
/// estimate (which nothing holds), and a bound one is not granted.
/// Who asks for a lease: the team, the key and project it is for (the filter's slot), and the
/// estimate of the call it came with.
struct LeaseCall<'a> {
    team_id: &'a str,
    slot: String,
    estimate: i128,
}

fn grant_lease(
    memory: &mut Memory,
    call: LeaseCall<'_>,
    budget_ids: &[String],
    bound: LeaseBound,
    now: Instant,
) -> Option<Lease> {
    let LeaseCall {
        team_id,
        slot,
        estimate,
    } = call;
    let valid_ms = u64::try_from(memory.leases.valid.as_millis()).unwrap_or(u64::MAX);
    if valid_ms == 0 || bound == LeaseBound::Strict {
        return None;
    }
    let rates = memory.estimator.team_rates(team_id);
    let (call_pico, per_kib) = rates.unwrap_or((estimate, 0));
    let limit_pico = match bound {
        // Under a hard budget, only once the team's own calls say what a call costs: a lease
        // charges every call it admits at one rate for its whole life, so a guess from the
        // price table alone would be wrong for all of them at once.
        LeaseBound::Headroom(_) if rates.is_none() || memory.leases.outstanding(&slot, now) => {
            return None;
        }
        LeaseBound::Headroom(headroom) => {
            let limit = (headroom / LEASE_SHARE).min(i128::from(u64::MAX));
            if limit < LEASE_MIN_CALLS * call_pico.max(estimate).max(1) || !memory.leases.has_room()
            {
                return None;
            }
            Some(limit)
        }
        _ => None,
    };
    let id = random::hex(16).ok()?;
    if let Some(limit) = limit_pico {
        memory.open_lease((id.clone(), slot), budget_ids.to_vec(), limit, now);
    }
    Some(Lease {
        id,
        valid_ms,
        limit_pico: limit_pico.map(|limit| u64::try_from(limit).unwrap_or(u64::MAX)),
        max_calls: Some(memory.leases.max_calls),
        call_pico: u64::try_from(call_pico.max(0)).unwrap_or(u64::MAX),
        prompt_pico_per_kib: u64::try_from(per_kib.max(0)).unwrap_or(u64::MAX),
    })
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
        Why::InFlight => " and calls in flight and gateways' leases hold the rest".to_owned(),
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
