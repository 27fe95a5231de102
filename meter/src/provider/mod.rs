//! Where each API family reports usage, and how its counts map to the normalized kinds.
//!
//! Each family reads server-sent events and the top-level members of a JSON body, keeps the
//! counts it has seen, and reports them when the response ends. Events are parsed only when
//! they can carry what is needed (told by their name, or by a quick search of their text);
//! content deltas are only counted for the output estimate.

mod anthropic;
mod gemini;
mod observed;
mod openai;
mod openai_chat;
mod openai_responses;

use trimio_wire::ApiFamily;

use crate::json::{MemberSink, first_string};
use crate::reading::End;
use crate::sse::Event;

pub(crate) use observed::Report;

use anthropic::Anthropic;
use gemini::Gemini;
use openai_chat::OpenaiChat;
use openai_responses::OpenaiResponses;

/// How the body was read, which decides whether it ended as it should.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    Sse,
    /// A JSON body; `complete` when its top-level value ended.
    Json {
        complete: bool,
    },
}

/// The usage reader of one billable API family.
#[derive(Debug)]
pub(crate) enum Protocol {
    Anthropic(Anthropic),
    OpenaiChat(OpenaiChat),
    OpenaiResponses(OpenaiResponses),
    Gemini(Gemini),
}

impl Protocol {
    /// `None` for families that are never billed.
    pub(crate) fn for_family(family: ApiFamily) -> Option<Protocol> {
        match family {
            ApiFamily::AnthropicMessages => Some(Protocol::Anthropic(Anthropic::default())),
            ApiFamily::OpenaiChat => Some(Protocol::OpenaiChat(OpenaiChat::default())),
            ApiFamily::OpenaiResponses => {
                Some(Protocol::OpenaiResponses(OpenaiResponses::default()))
            }
            ApiFamily::GeminiGenerate | ApiFamily::GeminiStreamGenerate => {
                Some(Protocol::Gemini(Gemini::default()))
            }
            ApiFamily::AnthropicCountTokens | ApiFamily::Other => None,
        }
    }

    pub(crate) fn event(&mut self, event: Event<'_>) {
        match self {
            Protocol::Anthropic(p) => p.event(event),
            Protocol::OpenaiChat(p) => p.event(event),
            Protocol::OpenaiResponses(p) => p.event(event),
            Protocol::Gemini(p) => p.event(event),
        }
    }

    pub(crate) fn report(&self, end: End, framing: Framing) -> Report {
        match self {
            Protocol::Anthropic(p) => p.report(framing),
            Protocol::OpenaiChat(p) => p.report(framing),
            Protocol::OpenaiResponses(p) => p.report(framing),
            Protocol::Gemini(p) => p.report(end, framing),
        }
    }
}

impl MemberSink for Protocol {
    fn wants(&self, key: &[u8]) -> bool {
        match self {
            Protocol::Anthropic(p) => p.wants(key),
            Protocol::OpenaiChat(p) => p.wants(key),
            Protocol::OpenaiResponses(p) => p.wants(key),
            Protocol::Gemini(p) => p.wants(key),
        }
    }

    fn member(&mut self, key: &[u8], value: &[u8]) {
        match self {
            Protocol::Anthropic(p) => p.member(key, value),
            Protocol::OpenaiChat(p) => p.member(key, value),
            Protocol::OpenaiResponses(p) => p.member(key, value),
            Protocol::Gemini(p) => p.member(key, value),
        }
    }
}

/// What an event is: its `event:` name, or when it has none, the `type` its data names first
/// (Anthropic and OpenAI put the type first in every event).
fn kind<'a>(event: &Event<'a>) -> &'a [u8] {
    let name = event.name();
    if !name.is_empty() && name != b"message" {
        return name;
    }
    let text = match event {
        Event::Whole { data, .. } => data,
        Event::Oversize { head, .. } => head,
    };
    first_string(text, br#""type""#).unwrap_or_default()
}

/// Whether `needle` occurs in `haystack`.
fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(haystack, needle).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_falls_back_to_the_data_type() {
        let named = Event::Whole {
            name: b"ping",
            data: br#"{"type":"other"}"#,
        };
        assert_eq!(kind(&named), b"ping");
        let unnamed = Event::Whole {
            name: b"",
            data: br#"{"type":"message_stop"}"#,
        };
        assert_eq!(kind(&unnamed), b"message_stop");
        let oversize = Event::Oversize {
            name: b"",
            head: br#"{"type":"x","#,
            tail: b"",
        };
        assert_eq!(kind(&oversize), b"x");
    }

    #[test]
    fn only_billable_families_are_read() {
        assert!(Protocol::for_family(ApiFamily::AnthropicCountTokens).is_none());
        assert!(Protocol::for_family(ApiFamily::Other).is_none());
        assert!(Protocol::for_family(ApiFamily::GeminiStreamGenerate).is_some());
    }
}
