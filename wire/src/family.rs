//! API families: which provider protocol a request speaks, told from its path.

use serde::{Deserialize, Serialize};

/// The provider a call goes to. Decides the credential and the error shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Provider {
    Anthropic,
    Openai,
    Gemini,
}

impl Provider {
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Anthropic => "anthropic",
            Provider::Openai => "openai",
            Provider::Gemini => "gemini",
        }
    }
}

/// The protocol of one call. Decides where the key is read and where usage lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApiFamily {
    /// `POST /v1/messages`
    AnthropicMessages,
    /// `POST /v1/messages/count_tokens`: recorded, never billed.
    AnthropicCountTokens,
    /// `POST /v1/chat/completions`
    OpenaiChat,
    /// `POST /v1/responses`
    OpenaiResponses,
    /// `/v1beta/models/{model}:generateContent`
    GeminiGenerate,
    /// `/v1beta/models/{model}:streamGenerateContent`
    GeminiStreamGenerate,
    /// Any other path of a known provider (model listing, files, ...): forwarded, recorded,
    /// never billed.
    Other,
}

impl ApiFamily {
    /// Tells the family and provider from a request path (query string included or not).
    ///
    /// `default_provider` answers for paths that name no provider of their own, such as
    /// `/v1/models`, which both Anthropic and OpenAI serve.
    pub fn from_path(path: &str, default_provider: Provider) -> (ApiFamily, Provider) {
        let path = path.split(['?', '#']).next().unwrap_or(path);
        let path = path.trim_end_matches('/');
        match path {
            "/v1/messages" => (ApiFamily::AnthropicMessages, Provider::Anthropic),
            "/v1/messages/count_tokens" => (ApiFamily::AnthropicCountTokens, Provider::Anthropic),
            "/v1/chat/completions" => (ApiFamily::OpenaiChat, Provider::Openai),
            "/v1/responses" => (ApiFamily::OpenaiResponses, Provider::Openai),
            p if p.starts_with("/v1beta/") || p.starts_with("/v1/models/") && p.contains(':') => {
                if p.ends_with(":streamGenerateContent") {
                    (ApiFamily::GeminiStreamGenerate, Provider::Gemini)
                } else if p.ends_with(":generateContent") {
                    (ApiFamily::GeminiGenerate, Provider::Gemini)
                } else {
                    (ApiFamily::Other, Provider::Gemini)
                }
            }
            p if p.starts_with("/v1/messages/") => (ApiFamily::Other, Provider::Anthropic),
            p if p.starts_with("/v1/responses/") => (ApiFamily::Other, Provider::Openai),
            _ => (ApiFamily::Other, default_provider),
        }
    }

    /// Whether calls of this family are billed from the usage the provider reports.
    pub fn is_billable(self) -> bool {
        !matches!(self, ApiFamily::AnthropicCountTokens | ApiFamily::Other)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ApiFamily::AnthropicMessages => "anthropic_messages",
            ApiFamily::AnthropicCountTokens => "anthropic_count_tokens",
            ApiFamily::OpenaiChat => "openai_chat",
            ApiFamily::OpenaiResponses => "openai_responses",
            ApiFamily::GeminiGenerate => "gemini_generate",
            ApiFamily::GeminiStreamGenerate => "gemini_stream_generate",
            ApiFamily::Other => "other",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_families_from_paths() {
        let cases = [
            (
                "/v1/messages",
                ApiFamily::AnthropicMessages,
                Provider::Anthropic,
            ),
            (
                "/v1/messages?beta=true",
                ApiFamily::AnthropicMessages,
                Provider::Anthropic,
            ),
            (
                "/v1/messages/count_tokens?beta=true",
                ApiFamily::AnthropicCountTokens,
                Provider::Anthropic,
            ),
            (
                "/v1/chat/completions",
                ApiFamily::OpenaiChat,
                Provider::Openai,
            ),
            (
                "/v1/responses",
                ApiFamily::OpenaiResponses,
                Provider::Openai,
            ),
            (
                "/v1beta/models/gemini-2.5-pro:generateContent",
                ApiFamily::GeminiGenerate,
                Provider::Gemini,
            ),
            (
                "/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse&key=x",
                ApiFamily::GeminiStreamGenerate,
                Provider::Gemini,
            ),
            ("/v1beta/models", ApiFamily::Other, Provider::Gemini),
            ("/v1/models", ApiFamily::Other, Provider::Openai),
        ];
        for (path, family, provider) in cases {
            assert_eq!(
                ApiFamily::from_path(path, Provider::Openai),
                (family, provider),
                "{path}"
            );
        }
    }

    #[test]
    fn only_generation_families_bill() {
        assert!(ApiFamily::AnthropicMessages.is_billable());
        assert!(!ApiFamily::AnthropicCountTokens.is_billable());
        assert!(!ApiFamily::Other.is_billable());
    }
}
