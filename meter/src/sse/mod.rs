//! Server-sent events: framing a byte stream into events, per the WHATWG HTML standard's
//! event-stream interpretation, whatever the chunk boundaries.

mod event;
mod framer;

pub(crate) use event::Event;
pub(crate) use framer::Framer;
