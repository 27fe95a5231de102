//! The command line, with environment fallbacks, resolved into a [`Config`].

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};
use thiserror::Error;

use crate::logging::LogFormat;
use crate::pricing::import::ImportPricesArgs;
use crate::secret::Secret;
use crate::state::Tokens;

/// Environment variable holding the admin token itself.
pub const ADMIN_TOKEN_ENV: &str = "TRIMIO_ADMIN_TOKEN";
/// Environment variable holding the filter token itself.
pub const FILTER_TOKEN_ENV: &str = "TRIMIO_FILTER_TOKEN";

/// Tokens shorter than this draw a warning at start.
const SHORT_TOKEN: usize = 16;

/// Trimio control plane: teams, keys, budgets, prices and the usage ledger.
///
/// Without a command it serves. The admin token comes from --admin-token-file (or
/// TRIMIO_ADMIN_TOKEN_FILE), else from TRIMIO_ADMIN_TOKEN. The filter token, optional,
/// likewise from --filter-token-file, TRIMIO_FILTER_TOKEN_FILE or TRIMIO_FILTER_TOKEN.
#[derive(Debug, Parser)]
#[command(name = "trimio-control-plane", version)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Address to listen on; port 0 picks a free port.
    #[arg(long, env = "TRIMIO_LISTEN", default_value = "127.0.0.1:8081")]
    pub listen: SocketAddr,

    /// SQLite database file, created if missing.
    #[arg(long, env = "TRIMIO_DATABASE", default_value = "./trimio.db")]
    pub database: PathBuf,

    /// File holding the admin token (surrounding whitespace ignored).
    #[arg(long, env = "TRIMIO_ADMIN_TOKEN_FILE")]
    pub admin_token_file: Option<PathBuf>,

    /// File holding the token the filter must send; without one, filter routes are open.
    #[arg(long, env = "TRIMIO_FILTER_TOKEN_FILE")]
    pub filter_token_file: Option<PathBuf>,

    /// How long a lease lets a gateway admit a key's calls without asking, in milliseconds:
    /// the longest a revoked key, a lowered budget or a spent one takes to reach every
    /// gateway. 0 grants no leases (every call is asked for).
    #[arg(long, env = "TRIMIO_LEASE_MS", default_value_t = 5000)]
    pub lease_ms: u64,

    /// Most calls one lease admits before the gateway asks again: with `--lease-ms`, what
    /// bounds the calls a change (a key revoked, a budget set, lowered or spent) lets through.
    #[arg(long, env = "TRIMIO_LEASE_CALLS", default_value_t = 100,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub lease_calls: u64,

    /// Log format on stderr.
    #[arg(long, env = "TRIMIO_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,
}

/// What to do instead of serving.
#[derive(Debug, Subcommand)]
pub enum Command {
    ImportPrices(ImportPricesArgs),
}

/// Everything the server needs to start.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub database: PathBuf,
    pub tokens: Tokens,
    pub lease_ms: u64,
    pub lease_calls: u64,
}

/// The configuration cannot be used; the process refuses to start.
#[derive(Debug, Error)]
pub enum ConfigError {
    #[error(
        "no admin token: set {ADMIN_TOKEN_ENV} or pass --admin-token-file PATH (or set \
         TRIMIO_ADMIN_TOKEN_FILE)"
    )]
    NoAdminToken,
    #[error("cannot read the {which} token file {path}: {source}")]
    Read {
        which: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error("the {which} token from {origin} is empty; put the token in it")]
    Empty { which: &'static str, origin: String },
}

impl Cli {
    /// Resolves the tokens. `env` reads an environment variable (a parameter for tests).
    pub fn resolve(self, env: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let admin = token(
            "admin",
            self.admin_token_file.as_deref(),
            ADMIN_TOKEN_ENV,
            &env,
        )?
        .ok_or(ConfigError::NoAdminToken)?;
        let filter = token(
            "filter",
            self.filter_token_file.as_deref(),
            FILTER_TOKEN_ENV,
            &env,
        )?;
        Ok(Config {
            listen: self.listen,
            database: self.database,
            tokens: Tokens { admin, filter },
            lease_ms: self.lease_ms,
            lease_calls: self.lease_calls,
        })
    }
}

/// A token from its file if one is named, else from its variable.
fn token(
    which: &'static str,
    file: Option<&Path>,
    variable: &str,
    env: &impl Fn(&str) -> Option<String>,
) -> Result<Option<Secret>, ConfigError> {
    let (value, origin) = match file {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                which,
                path: path.to_owned(),
                source,
            })?;
            (text, path.display().to_string())
        }
        None => match env(variable) {
            Some(value) => (value, variable.to_owned()),
            None => return Ok(None),
        },
    };

    let value = value.trim();
    if value.is_empty() {
        return Err(ConfigError::Empty { which, origin });
    }
    if value.len() < SHORT_TOKEN {
        tracing::warn!(
            token = which,
            "the {which} token is shorter than {SHORT_TOKEN} characters"
        );
    }
    Ok(Some(Secret::new(value.to_owned())))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn cli(args: &[&str]) -> Cli {
        let mut argv = vec!["trimio-control-plane"];
        argv.extend(args);
        Cli::try_parse_from(argv).unwrap()
    }

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn refuses_to_start_without_an_admin_token() {
        let error = cli(&[]).resolve(env(&[])).unwrap_err();
        assert!(matches!(error, ConfigError::NoAdminToken));
        assert!(error.to_string().contains("TRIMIO_ADMIN_TOKEN"));
    }

    #[test]
    fn reads_tokens_from_the_environment_or_files() {
        let config = cli(&["--listen", "127.0.0.1:0", "--database", "x.db"])
            .resolve(env(&[("TRIMIO_ADMIN_TOKEN", "admin-token-0123456789")]))
            .unwrap();
        assert_eq!(config.listen.port(), 0);
        assert!(config.tokens.admin.matches("admin-token-0123456789"));
        assert!(config.tokens.filter.is_none());

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("filter");
        std::fs::write(&file, "filter-token-0123456789\n").unwrap();
        let config = cli(&["--filter-token-file", file.to_str().unwrap()])
            .resolve(env(&[
                ("TRIMIO_ADMIN_TOKEN", "a"),
                ("TRIMIO_FILTER_TOKEN", "ignored"),
            ]))
            .unwrap();
        let filter = config.tokens.filter.unwrap();
        assert!(
            filter.matches("filter-token-0123456789"),
            "the file wins and is trimmed"
        );
    }

    #[test]
    fn serves_without_a_command_and_imports_with_one() {
        assert!(cli(&["--listen", "127.0.0.1:0"]).command.is_none());

        let parsed = cli(&[
            "import-prices",
            "--database",
            "x.db",
            "--litellm",
            "prices.json",
            "--dry-run",
        ]);
        let Some(Command::ImportPrices(args)) = parsed.command else {
            panic!("no import-prices command");
        };
        assert_eq!(
            (args.database.to_str(), args.litellm.to_str(), args.dry_run),
            (Some("x.db"), Some("prices.json"), true)
        );
        assert_eq!(args.providers, None);

        let missing = Cli::try_parse_from(["trimio-control-plane", "import-prices", "--dry-run"]);
        assert!(missing.is_err(), "--litellm is required");
    }

    #[test]
    fn refuses_empty_or_unreadable_token_files() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty");
        std::fs::write(&empty, "\n").unwrap();
        let error = cli(&["--admin-token-file", empty.to_str().unwrap()]).resolve(env(&[]));
        assert!(matches!(
            error,
            Err(ConfigError::Empty { which: "admin", .. })
        ));

        let missing = dir.path().join("missing");
        let error = cli(&["--admin-token-file", missing.to_str().unwrap()]).resolve(env(&[]));
        assert!(matches!(error, Err(ConfigError::Read { .. })));
    }
}
