//! Secrets held in memory: printed as nothing, compared in constant time.

use std::fmt;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A bearer token or a key. `Debug` never shows it.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Secret {
        Secret(value)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Constant-time comparison with what a client sent.
    ///
    /// Both sides are hashed first, so neither the content nor the length of the secret shows
    /// in the time taken.
    pub fn matches(&self, offered: &str) -> bool {
        let ours = Sha256::digest(self.0.as_bytes());
        let theirs = Sha256::digest(offered.as_bytes());
        ours.ct_eq(&theirs).into()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_only_the_same_value_and_never_prints_it() {
        let secret = Secret::new("s3cret-token".into());
        assert!(secret.matches("s3cret-token"));
        assert!(!secret.matches("s3cret-toke"));
        assert!(!secret.matches(""));
        assert_eq!(format!("{secret:?}"), "Secret(..)");
    }
}
