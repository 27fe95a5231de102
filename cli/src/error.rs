//! What can go wrong, each message saying what to do about it.

use std::io;
use std::path::PathBuf;

use thiserror::Error;

/// A failed command. The message is printed after `error: ` and the process exits non-zero.
#[derive(Debug, Error)]
pub enum CliError {
    /// Nothing answered at the address (refused, no route, no such host).
    #[error(
        "cannot reach the control plane at {url} ({cause}); start it (`cargo xtask up`, or \
         `trimio-control-plane`), or point --url or TRIMIO_URL at where it listens"
    )]
    Unreachable { url: String, cause: String },

    #[error(
        "the control plane at {url} did not answer within {seconds} s; check that it is the \
         control plane's address (--url or TRIMIO_URL) and that it is running"
    )]
    Timeout { url: String, seconds: u64 },

    /// The control plane answered 401.
    #[error(
        "the control plane at {url} refused the admin token: it is wrong or missing; pass the \
         file that holds it with --token-file PATH (or TRIMIO_ADMIN_TOKEN_FILE), or the token \
         itself in TRIMIO_ADMIN_TOKEN (`cargo xtask up` keeps it in .trimio/admin-token)"
    )]
    Unauthorized { url: String },

    /// A 401 in a shape the control plane never sends.
    #[error(
        "{url} answered 401 like a gateway or a model provider, not like the Trimio control \
         plane: point --url (or TRIMIO_URL) at the control plane (port 8081 unless moved), not \
         at the gateway"
    )]
    NotControlPlane { url: String },

    #[error(
        "no admin token: pass the file that holds it with --token-file PATH (or \
         TRIMIO_ADMIN_TOKEN_FILE), or set TRIMIO_ADMIN_TOKEN (`cargo xtask up` keeps it in \
         .trimio/admin-token)"
    )]
    NoToken,

    #[error("cannot read the admin token file {path}: {source}")]
    TokenFile { path: PathBuf, source: io::Error },

    #[error("the admin token file {path} is empty; put the admin token in it")]
    EmptyTokenFile { path: PathBuf },

    #[error(
        "--url \"{0}\" is not an http or https URL; give the control plane's address, such as \
         http://127.0.0.1:8081"
    )]
    BadUrl(String),

    /// The control plane refused the request and said why (its own message).
    #[error("{message} (http {status})")]
    Api { status: u16, message: String },

    /// A 404 for the route itself, not for a thing it names.
    #[error(
        "the control plane at {url} has no route {method} {path}; it is older than this trimio, \
         upgrade it"
    )]
    NoRoute {
        url: String,
        method: String,
        path: String,
    },

    #[error(
        "the control plane at {url} redirected to {location}; give that address with --url or \
         TRIMIO_URL"
    )]
    Redirected { url: String, location: String },

    /// A success whose body is not what the route answers.
    #[error("the control plane at {url} answered {what}; is --url the control plane's address?")]
    Unexpected { url: String, what: String },

    /// Flags that are valid one by one but not together, or not for what exists.
    #[error("{0}")]
    Usage(String),

    /// Anything else from the HTTP client (building it, reading a body).
    #[error("http request to {url} failed: {cause}")]
    Http { url: String, cause: String },
}
