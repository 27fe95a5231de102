//! Exchange files: one model call as it crosses the wire, and what it must be billed.
//!
//! The format is described in `shared/fixtures/README.md`. Every object in it rejects fields it
//! does not know (a typo would otherwise silently change what a test checks), except `prices`,
//! which is free-form and read by the billing tests, not by the mock.

mod error;
mod expect;
mod load;
mod request;
mod response;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use error::ExchangeError;
pub use expect::Expect;
pub use load::{load, load_all};
pub use request::Request;
pub(crate) use request::json_asks_for_usage;
pub use response::{ContentEncoding, Response, UnknownEncoding};

/// One exchange file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exchange {
    /// Short id; `x-mock-exchange: <name>` selects this exchange on the mock.
    pub name: String,
    /// What the case exercises, for people.
    #[serde(default)]
    pub about: String,
    pub request: Request,
    pub response: Response,
    /// USD per million tokens per model key, as decimal strings. Free-form here.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub prices: Map<String, Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<Expect>,
    /// The file this exchange was loaded from; empty for exchanges built in code.
    #[serde(skip)]
    pub path: PathBuf,
}
