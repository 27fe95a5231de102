//! Random identifiers and keys from the operating system's generator.

use thiserror::Error;

/// The operating system gave no randomness; nothing can be issued safely.
#[derive(Debug, Error)]
#[error("the operating system random number generator failed: {0}")]
pub struct RandomError(getrandom::Error);

/// `bytes` random bytes as lowercase hex (twice as many characters).
pub fn hex(bytes: usize) -> Result<String, RandomError> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).map_err(RandomError)?;
    Ok(::hex::encode(buf))
}

/// A new identifier such as `team_3f9c0a1b2c3d4e5f`: a short kind prefix and 64 random bits.
pub fn id(kind: &str) -> Result<String, RandomError> {
    Ok(format!("{kind}_{}", hex(8)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_prefixed_and_distinct() {
        let a = id("team").unwrap();
        let b = id("team").unwrap();
        assert!(a.starts_with("team_"));
        assert_eq!(a.len(), "team_".len() + 16);
        assert_ne!(a, b);
    }
}
