//! Local replies in each provider's own error shape, so a coding tool shows the message and
//! reacts as it would to the provider itself: re-authenticate, or stop without retrying.
//!
//! What the clients do with an out-of-budget reply, read from their sources:
//! - The Stainless-generated SDKs (Anthropic and OpenAI, Python and TypeScript) obey
//!   `x-should-retry` before anything else; without it they retry 408, 409, 429 and 5xx, and
//!   nothing else.
//! - Claude Code's own retry loop also obeys `x-should-retry: false` for every 4xx and never
//!   retries a 400. It shows a fixed "Credit balance is too low" in place of any error whose
//!   message contains "Your credit balance is too low", so that phrase would hide the team's
//!   message; any other 400 is shown as `API Error: 400` with the body.
//! - Codex does not retry a 429 at the HTTP level; a 429 whose `error.type` is neither
//!   `usage_limit_reached` nor `usage_not_included` ends the turn, not retried, as "exceeded
//!   retry limit, last status: 429" (it does not show the body's message).
//! - Gemini CLI retries a 429 (up to 10 attempts, 5 to 30 seconds apart) unless its details
//!   name a daily quota, a retry delay over five minutes, or one of a few Google reasons; an
//!   `ErrorInfo` of another domain does not stop it. It does not retry 400, 402 or 403. The
//!   Google GenAI Python SDK retries nothing unless asked to, and then 408, 429 and 5xx.

use serde_json::json;
use trimio_wire::{DenyReason, Provider};

/// Why the gateway answers a call itself instead of forwarding it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No key, an unknown key or a revoked key.
    Unauthenticated,
    /// Two different keys in one request.
    ConflictingKeys,
    /// The team's budget for the period is spent.
    OutOfBudget,
    /// The control plane could not answer and the deployment fails closed.
    Unavailable,
    /// The provider has no credential configured at this gateway.
    ProviderNotConfigured,
}

/// Header on every local reply, naming why the gateway answered it (tools ignore it;
/// scripts and tests read it).
pub const DENIED_HEADER: &str = "x-trimio-denied";

impl Refusal {
    pub fn label(self) -> &'static str {
        match self {
            Refusal::Unauthenticated => "unauthenticated",
            Refusal::ConflictingKeys => "conflicting_keys",
            Refusal::OutOfBudget => "budget_exhausted",
            Refusal::Unavailable => "control_plane_unavailable",
            Refusal::ProviderNotConfigured => "provider_not_configured",
        }
    }
}

impl From<DenyReason> for Refusal {
    fn from(reason: DenyReason) -> Self {
        match reason {
            DenyReason::UnknownKey | DenyReason::RevokedKey => Refusal::Unauthenticated,
            DenyReason::BudgetExhausted => Refusal::OutOfBudget,
        }
    }
}

/// A complete local reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u32,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

/// The provider-shaped reply for a refusal. `message` (for an out-of-budget refusal, the
/// control plane's sentence naming team, budget, spend and reset) is shown to the person.
pub fn reply(provider: Provider, refusal: Refusal, message: Option<&str>) -> Reply {
    let text = message
        .map(str::to_owned)
        .unwrap_or_else(|| default_message(refusal).to_owned());
    let (status, body) = match provider {
        Provider::Anthropic => anthropic(refusal, &text),
        Provider::Openai => openai(refusal, &text),
        Provider::Gemini => gemini(refusal, &text),
    };
    let mut headers = vec![("content-type", "application/json".to_owned())];
    // The Anthropic and OpenAI SDKs and Claude Code obey this header before their status rules.
    let retry = matches!(refusal, Refusal::Unavailable);
    headers.push(("x-should-retry", retry.to_string()));
    headers.push((DENIED_HEADER, refusal.label().to_owned()));
    Reply {
        status,
        headers,
        body: body.to_string().into_bytes(),
    }
}

fn default_message(refusal: Refusal) -> &'static str {
    match refusal {
        Refusal::Unauthenticated => {
            "invalid api key: this gateway does not know this key, or it was revoked"
        }
        Refusal::ConflictingKeys => "the request carries two different api keys; send one",
        Refusal::OutOfBudget => "your team's budget for this period is spent",
        Refusal::Unavailable => "the gateway cannot check this key right now; retry shortly",
        Refusal::ProviderNotConfigured => "this gateway has no credential for this provider",
    }
}

/// Anthropic: 401 `authentication_error`; out of credit is 400 `invalid_request_error`, which
/// no Anthropic client retries. The message leaves out Anthropic's own wording ("Your credit
/// balance is too low"): Claude Code would show its fixed text and a link to Anthropic's
/// billing page in place of the team's message.
fn anthropic(refusal: Refusal, text: &str) -> (u32, serde_json::Value) {
    let (status, kind) = match refusal {
        Refusal::Unauthenticated | Refusal::ConflictingKeys => (401, "authentication_error"),
        Refusal::OutOfBudget => (400, "invalid_request_error"),
        Refusal::Unavailable => (529, "overloaded_error"),
        Refusal::ProviderNotConfigured => (403, "permission_error"),
    };
    let message = match refusal {
        Refusal::OutOfBudget => format!("Budget exhausted: {text}"),
        _ => text.to_owned(),
    };
    (
        status,
        json!({"type": "error", "error": {"type": kind, "message": message}}),
    )
}

/// OpenAI: 401 `invalid_api_key`; out of credit is 429 `insufficient_quota`. The SDKs would
/// retry a 429 but for `x-should-retry: false`; Codex ends the turn on it without a retry.
fn openai(refusal: Refusal, text: &str) -> (u32, serde_json::Value) {
    let (status, kind, code) = match refusal {
        Refusal::Unauthenticated | Refusal::ConflictingKeys => {
            (401, "invalid_request_error", "invalid_api_key")
        }
        Refusal::OutOfBudget => (429, "insufficient_quota", "insufficient_quota"),
        Refusal::Unavailable => (503, "server_error", "service_unavailable"),
        Refusal::ProviderNotConfigured => (403, "invalid_request_error", "unsupported_provider"),
    };
    let message = match refusal {
        Refusal::OutOfBudget => format!("You exceeded your current quota: {text}"),
        _ => text.to_owned(),
    };
    let error = json!({"message": message, "type": kind, "param": null, "code": code});
    (status, json!({ "error": error }))
}

/// Gemini: an invalid key is 400 `INVALID_ARGUMENT` with reason `API_KEY_INVALID`; depleted
/// prepaid credit is 402 with status `RESOURCE_EXHAUSTED` (Gemini answered 429 before, which
/// Gemini CLI and the GenAI SDKs' retry options treat as a rate limit and retry; 402 they do
/// not retry).
fn gemini(refusal: Refusal, text: &str) -> (u32, serde_json::Value) {
    let (status, kind, reason) = match refusal {
        Refusal::Unauthenticated | Refusal::ConflictingKeys => {
            (400, "INVALID_ARGUMENT", "API_KEY_INVALID")
        }
        Refusal::OutOfBudget => (402, "RESOURCE_EXHAUSTED", "BUDGET_EXHAUSTED"),
        Refusal::Unavailable => (503, "UNAVAILABLE", "SERVICE_UNAVAILABLE"),
        Refusal::ProviderNotConfigured => (403, "PERMISSION_DENIED", "PROVIDER_NOT_CONFIGURED"),
    };
    let detail = json!({
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": reason,
        "domain": "trimio",
    });
    let error = json!({"code": status, "message": text, "status": kind, "details": [detail]});
    (status, json!({ "error": error }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(reply: &Reply) -> serde_json::Value {
        serde_json::from_slice(&reply.body).unwrap()
    }

    #[test]
    fn anthropic_shapes() {
        let auth = reply(Provider::Anthropic, Refusal::Unauthenticated, None);
        assert_eq!(auth.status, 401);
        assert_eq!(body(&auth)["error"]["type"], "authentication_error");
        assert_eq!(body(&auth)["type"], "error");

        let spent = reply(
            Provider::Anthropic,
            Refusal::OutOfBudget,
            Some("team \"a\" spent"),
        );
        assert_eq!(spent.status, 400);
        assert_eq!(body(&spent)["error"]["type"], "invalid_request_error");
        let message = body(&spent)["error"]["message"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(message.contains("team \"a\""), "{message}");
        // Claude Code would put its own text in place of a message with Anthropic's wording.
        assert!(!message.contains("Your credit balance is too low"));
    }

    #[test]
    fn openai_out_of_quota_is_final() {
        let spent = reply(Provider::Openai, Refusal::OutOfBudget, Some("spent"));
        assert_eq!(spent.status, 429);
        assert_eq!(body(&spent)["error"]["code"], "insufficient_quota");
        assert!(
            spent
                .headers
                .contains(&("x-should-retry", "false".to_owned()))
        );
        let auth = reply(Provider::Openai, Refusal::Unauthenticated, None);
        assert_eq!(
            (auth.status, body(&auth)["error"]["code"].clone()),
            (401, "invalid_api_key".into())
        );
    }

    #[test]
    fn gemini_shapes() {
        let auth = reply(Provider::Gemini, Refusal::Unauthenticated, None);
        assert_eq!(auth.status, 400);
        assert_eq!(
            body(&auth)["error"]["details"][0]["reason"],
            "API_KEY_INVALID"
        );
        let spent = reply(Provider::Gemini, Refusal::OutOfBudget, Some("spent"));
        assert_eq!(
            (spent.status, body(&spent)["error"]["status"].clone()),
            (402, "RESOURCE_EXHAUSTED".into())
        );
        assert_eq!(body(&spent)["error"]["code"], 402);
    }
}
