//! The admin token: read from a file or the environment, never printed.

use std::fmt;
use std::path::Path;

use crate::error::CliError;

/// Environment variable holding the admin token itself.
pub const TOKEN_ENV: &str = "TRIMIO_ADMIN_TOKEN";

/// The admin token. `Debug` shows nothing of it.
#[derive(Clone)]
pub struct AdminToken(String);

impl AdminToken {
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// From `file` when given (surrounding whitespace ignored), else from [`TOKEN_ENV`].
    pub fn resolve(
        file: Option<&Path>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<AdminToken, CliError> {
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).map_err(|source| CliError::TokenFile {
                path: path.to_path_buf(),
                source,
            })?;
            let token = text.trim();
            if token.is_empty() {
                return Err(CliError::EmptyTokenFile {
                    path: path.to_path_buf(),
                });
            }
            return Ok(AdminToken(token.to_owned()));
        }

        match env(TOKEN_ENV) {
            Some(token) if !token.trim().is_empty() => Ok(AdminToken(token.trim().to_owned())),
            _ => Err(CliError::NoToken),
        }
    }
}

impl fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AdminToken(..)")
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn the_file_wins_over_the_environment_and_is_trimmed() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        writeln!(file, "  from-file\t").unwrap();
        let env = |_: &str| Some("from-env".to_owned());

        let token = AdminToken::resolve(Some(file.path()), &env).unwrap();
        assert_eq!(token.expose(), "from-file");

        let token = AdminToken::resolve(None, &env).unwrap();
        assert_eq!(token.expose(), "from-env");
    }

    #[test]
    fn missing_or_empty_tokens_say_how_to_pass_one() {
        let error = AdminToken::resolve(None, &no_env).unwrap_err();
        assert!(error.to_string().contains("--token-file"), "{error}");

        let blank = |_: &str| Some("  ".to_owned());
        assert!(matches!(
            AdminToken::resolve(None, &blank),
            Err(CliError::NoToken)
        ));

        let empty = tempfile::NamedTempFile::new().unwrap();
        let error = AdminToken::resolve(Some(empty.path()), &no_env).unwrap_err();
        assert!(matches!(error, CliError::EmptyTokenFile { .. }));

        let missing = Path::new("/nonexistent/trimio-admin-token");
        let error = AdminToken::resolve(Some(missing), &no_env).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("/nonexistent/trimio-admin-token"),
            "{error}"
        );
    }

    #[test]
    fn debug_never_shows_the_token() {
        let env = |_: &str| Some("s3cret-admin".to_owned());
        let token = AdminToken::resolve(None, &env).unwrap();
        assert_eq!(format!("{token:?}"), "AdminToken(..)");
    }
}
