//! Names people give to teams, keys and projects.

use thiserror::Error;

/// Longest name accepted.
pub const MAX_NAME_LEN: usize = 64;

/// A name that cannot be used, with the field it was given for.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error(
    "{field} \"{value}\" is not a valid name; use 1 to {MAX_NAME_LEN} letters, digits, '.', '_' \
     or '-'"
)]
pub struct NameError {
    pub field: &'static str,
    pub value: String,
}

/// Names are 1 to 64 characters of `[A-Za-z0-9._-]` starting with a letter or digit: safe in
/// URLs, logs and CSV.
pub fn validate(field: &'static str, value: &str) -> Result<(), NameError> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    let first_ok = value
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric());
    if !first_ok || value.len() > MAX_NAME_LEN || !value.chars().all(allowed) {
        return Err(NameError {
            field,
            value: value.chars().take(MAX_NAME_LEN).collect(),
        });
    }
    Ok(())
}

/// A team name: a name that cannot be mistaken for a team id (`team_…`), since `{team}` in
/// the admin API accepts either.
pub fn validate_team(value: &str) -> Result<(), NameError> {
    validate("name", value)?;
    if value.len() >= 5 && value[..5].eq_ignore_ascii_case("team_") {
        return Err(NameError {
            field: "name",
            value: value.to_owned(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_names_only() {
        for good in ["payments", "team-a", "a.b_c", "X", &"x".repeat(64)] {
            assert_eq!(validate("name", good), Ok(()), "{good}");
        }
        for bad in [
            "",
            "a b",
            "é",
            "a/b",
            &"x".repeat(65),
            "\"quoted\"",
            ".",
            "..",
            "-x",
            "_",
        ] {
            assert!(validate("name", bad).is_err(), "{bad}");
        }
        assert!(validate_team("team_38db060e39ef5042").is_err());
        assert!(validate_team("TEAM_x").is_err());
        assert_eq!(validate_team("teams"), Ok(()));
    }
}
