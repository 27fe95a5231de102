//! Admission: may this key make this call now?

use serde::{Deserialize, Serialize};

use crate::{ApiFamily, Provider};

/// Asked by the filter before a call goes upstream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdmitRequest {
    /// Unique id of the call; a later [`crate::UsageRecord`] carries the same id and settles
    /// whatever the admission reserved.
    pub request_id: String,
    /// Lowercase hex SHA-256 of the virtual key. The key itself never leaves the gateway.
    pub key_hash: String,
    pub provider: Provider,
    pub family: ApiFamily,
    /// The model the request body names, when the filter read it before asking.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Size of the request body in bytes (read, or from `content-length`): the prompt the
    /// estimate prices.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_bytes: Option<u64>,
    /// The request's cap on output tokens (`max_tokens` and its kin), when read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u64>,
    /// Project named by the client (`x-trimio-project`); a key bound to a project overrides
    /// it. Decides which project budget applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    /// Longest the control plane may hold the answer while calls in flight hold the rest of
    /// a budget, in milliseconds; absent or 0 answers at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_ms: Option<u64>,
    /// The filter would take a [`Lease`] for the key with the answer. A question with an
    /// empty `request_id` asks for a lease alone: no call waits on it and nothing is reserved.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub lease: bool,
    /// The lease this one replaces, and what the filter admitted under it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<LeaseUse>,
}

/// Lets the filter admit a key's calls itself, without asking, for `valid_ms` from when it
/// got the answer and for at most `max_calls` calls. Each call it admits is charged
/// `call_pico`, plus `prompt_pico_per_kib` for every KiB (rounded up) of its request body,
/// against `limit_pico`; a call that does not fit (or whose body size is unknown) is asked for
/// as before. No limit means no hard budget binds the key.
///
/// A key revoked or a budget set, lowered or spent reaches the filter when the lease ends: at
/// most `valid_ms` or `max_calls` calls after the change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    pub id: String,
    pub valid_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit_pico: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_calls: Option<u64>,
    #[serde(default)]
    pub call_pico: u64,
    #[serde(default)]
    pub prompt_pico_per_kib: u64,
}

/// What the filter charged to a lease it gives back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseUse {
    pub id: String,
    pub used_pico: u64,
}

/// The lease a call was admitted under and what it was charged, carried by its usage record
/// so the control plane releases what the lease held for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseCharge {
    pub id: String,
    pub pico: u64,
}

/// The control plane's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum AdmitResponse {
    Allow {
        team_id: String,
        team: String,
        key_id: String,
        /// The project the key is bound to, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        project: Option<String>,
        /// Granted when the question asked for one and the key's budgets allow it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        lease: Option<Lease>,
    },
    Deny {
        reason: DenyReason,
        /// A sentence for the person at the tool: names the team, the budget, the spend and
        /// when the period resets. Never names a key or anything internal.
        message: String,
    },
}

/// Why a call was denied. Decides the provider-shaped error the client gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DenyReason {
    /// No such key: the provider's authentication error.
    UnknownKey,
    /// The key was revoked: the provider's authentication error.
    RevokedKey,
    /// The team's budget for the period is spent: the provider's out-of-credit reply.
    BudgetExhausted,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decisions_are_tagged() {
        let allow = AdmitResponse::Allow {
            team_id: "t1".into(),
            team: "payments".into(),
            key_id: "k1".into(),
            project: None,
            lease: None,
        };
        let json = serde_json::to_string(&allow).unwrap();
        assert_eq!(
            json,
            r#"{"decision":"allow","team_id":"t1","team":"payments","key_id":"k1"}"#
        );

        let deny: AdmitResponse = serde_json::from_str(
            r#"{"decision":"deny","reason":"budget_exhausted","message":"spent"}"#,
        )
        .unwrap();
        assert_eq!(
            deny,
            AdmitResponse::Deny {
                reason: DenyReason::BudgetExhausted,
                message: "spent".into()
            }
        );
    }
}
