//! Virtual keys: what an engineer puts in their tool instead of a provider key.
//!
//! A key is `tmk_` and 40 random lowercase hex characters. Only its SHA-256 is stored; the key
//! itself is shown once, when issued.

mod api;

pub use api::routes;

use sha2::{Digest, Sha256};

use crate::random::{self, RandomError};
use crate::secret::Secret;

/// Start of every key, so a leaked one is easy to recognise.
pub const KEY_PREFIX: &str = "tmk_";
/// Characters of a key kept for display.
const DISPLAY_PREFIX_LEN: usize = 8;

/// A key as stored: never the key itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    pub id: String,
    pub team_id: String,
    pub name: String,
    /// Every call made with the key is charged to this project when set.
    pub project: Option<String>,
    /// Lowercase hex SHA-256 of the key.
    pub key_hash: String,
    /// The first characters of the key, to tell keys apart in listings.
    pub prefix: String,
    /// RFC 3339, UTC.
    pub created_at: String,
    pub revoked_at: Option<String>,
}

impl Key {
    pub fn is_revoked(&self) -> bool {
        self.revoked_at.is_some()
    }
}

/// A key just issued: the secret to hand out once, and what is stored.
pub struct IssuedKey {
    pub secret: Secret,
    pub key: Key,
}

/// Issues a new key for a team.
pub fn issue(
    team_id: &str,
    name: &str,
    project: Option<&str>,
    created_at: &str,
) -> Result<IssuedKey, RandomError> {
    let secret = format!("{KEY_PREFIX}{}", random::hex(20)?);
    let key = Key {
        id: random::id("key")?,
        team_id: team_id.to_owned(),
        name: name.to_owned(),
        project: project.map(str::to_owned),
        key_hash: hash(&secret),
        prefix: secret.chars().take(DISPLAY_PREFIX_LEN).collect(),
        created_at: created_at.to_owned(),
        revoked_at: None,
    };
    Ok(IssuedKey {
        secret: Secret::new(secret),
        key,
    })
}

/// Lowercase hex SHA-256 of a key, as the filter sends it.
pub fn hash(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_keys_have_the_documented_shape() {
        let issued = issue(
            "team_1",
            "alice-laptop",
            Some("checkout"),
            "2025-12-04T00:00:00Z",
        )
        .unwrap();
        let secret = issued.secret.expose();
        assert_eq!(secret.len(), 44);
        assert!(secret.starts_with("tmk_"));
        assert!(
            secret[4..]
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        );
        assert_eq!(issued.key.prefix, secret[..8]);
        assert_eq!(issued.key.key_hash, hash(secret));
        assert_eq!(issued.key.key_hash.len(), 64);
        assert!(!issued.key.is_revoked());
    }

    #[test]
    fn hashes_are_lowercase_hex_sha256() {
        assert_eq!(
            hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
