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

/// Names are 1 to 64 characters of `[A-Za-z0-9._-]`: safe in URLs, logs and CSV.
pub fn validate(field: &'static str, value: &str) -> Result<(), NameError> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if value.is_empty() || value.len() > MAX_NAME_LEN || !value.chars().all(allowed) {
        return Err(NameError {
            field,
            value: value.chars().take(MAX_NAME_LEN).collect(),
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
        for bad in ["", "a b", "é", "a/b", &"x".repeat(65), "\"quoted\""] {
            assert!(validate("name", bad).is_err(), "{bad}");
        }
    }
}
