//! The request side: the few top-level fields the gateway reads from a request body as it
//! passes, and the rewrite that asks an OpenAI Chat stream to report its usage.

mod reader;
mod stream_usage;

pub use reader::{RequestFacts, RequestReader};
pub use stream_usage::ask_for_stream_usage;
