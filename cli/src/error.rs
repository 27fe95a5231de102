//! What can go wrong, each message saying what to do about it.

use std::io;
use std::path::PathBuf;

use thiserror::Error;

use crate::printable::printable;

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

    /// The control plane refused the request and said why (its own message, escaped and cut).
    #[error("{message} (http {status})")]
    Api { status: u16, message: String },

    /// A successful answer longer than trimio reads; `limit` is in bytes.
    #[error(
        "the control plane at {url} answered {method} {path} with more than {}, the most trimio \
         reads; check that --url (or TRIMIO_URL) is the control plane's address, and narrow a \
         report with --period, --from and --to, or fewer --group-by",
        size(*limit)
    )]
    TooLarge {
        url: String,
        method: String,
        path: String,
        limit: u64,
    },

    /// A path parameter that would change the route the request reaches; `value` is escaped.
    #[error(
        "\"{value}\" cannot be sent as part of {method} {path}: an empty value, \".\" or \"..\" \
         (also percent-encoded, as %2e) would change which route the request reaches"
    )]
    PathStep {
        value: String,
        method: String,
        path: String,
    },

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

impl CliError {
    /// The message as printed after `error: `: one line, with anything a terminal would act on
    /// escaped, whatever the server or the file system put in it.
    pub fn line(&self) -> String {
        printable(&self.to_string())
    }
}

/// `64 MiB`, `64 KiB`, `100 bytes`.
fn size(bytes: u64) -> String {
    const KIB: u64 = 1024;
    const MIB: u64 = 1024 * KIB;
    if bytes >= MIB && bytes.is_multiple_of(MIB) {
        format!("{} MiB", bytes / MIB)
    } else if bytes >= KIB && bytes.is_multiple_of(KIB) {
        format!("{} KiB", bytes / KIB)
    } else {
        format!("{bytes} bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_on_one_line_with_nothing_a_terminal_acts_on() {
        let error = CliError::Api {
            status: 400,
            message: "bad\nerror: forged\u{1b}]0;pwned\u{7}".into(),
        };
        assert_eq!(
            error.line(),
            "bad\\nerror: forged\\u{1b}]0;pwned\\u{7} (http 400)"
        );
    }

    #[test]
    fn writes_sizes_in_their_unit() {
        assert_eq!(size(64 * 1024 * 1024), "64 MiB");
        assert_eq!(size(64 * 1024), "64 KiB");
        assert_eq!(size(1500), "1500 bytes");
    }
}
