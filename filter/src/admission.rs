//! The admission question the filter puts to the control plane: which key, which call, and the
//! facts the control plane prices its estimate of the call from.

use trimio_wire::{AdmitRequest, ApiFamily, Provider};

/// What the filter knows of a call when it asks. Each fact is absent when the filter could not
/// read it before asking (admission from the headers knows no model but Gemini's, which its
/// path names, and no output cap).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    pub model: Option<String>,
    /// Size of the request body in bytes: as read, or as `content-length` declares it.
    pub prompt_bytes: Option<u64>,
    /// The request's cap on output tokens.
    pub max_tokens: Option<u64>,
    /// The project the client names (`x-trimio-project`).
    pub project: Option<String>,
}

/// The question for one call. The control plane may hold its answer for two thirds of the
/// filter's `timeout_ms`, so that an answer held to the end still arrives in time.
pub fn request(
    request_id: &str,
    key_hash: &str,
    provider: Provider,
    family: ApiFamily,
    facts: Facts,
    timeout_ms: u64,
) -> AdmitRequest {
    AdmitRequest {
        request_id: request_id.to_owned(),
        key_hash: key_hash.to_owned(),
        provider,
        family,
        model: facts.model,
        prompt_bytes: facts.prompt_bytes,
        max_tokens: facts.max_tokens,
        project: facts.project,
        wait_ms: Some(timeout_ms.saturating_mul(2) / 3),
        lease: false,
        previous: None,
    }
}

/// The model a Gemini path names: `/v1beta/models/{model}:generateContent` (or
/// `:streamGenerateContent`, with or without a query string).
pub fn path_model(family: ApiFamily, path: &str) -> Option<String> {
    if !matches!(
        family,
        ApiFamily::GeminiGenerate | ApiFamily::GeminiStreamGenerate
    ) {
        return None;
    }
    let path = path.split(['?', '#']).next().unwrap_or(path);
    let (_, after) = path.split_once("/models/")?;
    let (model, _) = after.split_once(':')?;
    let model = model.trim_matches('/');
    (!model.is_empty() && !model.contains('/')).then(|| model.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answer_may_be_held_for_two_thirds_of_the_timeout() {
        let facts = Facts {
            model: Some("claude-sonnet-4-5".into()),
            prompt_bytes: Some(1234),
            max_tokens: Some(64),
            project: Some("checkout".into()),
        };
        let request = request(
            "r1",
            "ab",
            Provider::Anthropic,
            ApiFamily::AnthropicMessages,
            facts,
            3000,
        );
        assert_eq!(request.wait_ms, Some(2000));
        assert_eq!(request.model.as_deref(), Some("claude-sonnet-4-5"));
        assert_eq!(
            (request.prompt_bytes, request.max_tokens),
            (Some(1234), Some(64))
        );
        assert_eq!(request.project.as_deref(), Some("checkout"));
    }

    #[test]
    fn reads_the_model_from_a_gemini_path() {
        let stream = ApiFamily::GeminiStreamGenerate;
        assert_eq!(
            path_model(
                stream,
                "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
            )
            .as_deref(),
            Some("gemini-2.5-flash")
        );
        assert_eq!(
            path_model(
                ApiFamily::GeminiGenerate,
                "/v1/models/gemini-2.5-pro:generateContent"
            )
            .as_deref(),
            Some("gemini-2.5-pro")
        );
        assert_eq!(path_model(stream, "/v1beta/models/:generateContent"), None);
        assert_eq!(
            path_model(ApiFamily::OpenaiChat, "/v1/models/gpt-4.1:x"),
            None
        );
    }
}
