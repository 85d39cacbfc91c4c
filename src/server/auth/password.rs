//! Password hashing: argon2id with the crate's defaults (19 MiB, 2 passes,
//! one lane — OWASP's recommended minimum), stored as PHC strings. Hashing
//! takes tens of milliseconds of CPU, so it runs on the blocking pool, never
//! on the async workers that serve pages.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rand::RngCore;

/// The shortest password accepted (NIST SP 800-63B asks for at least 8; the
/// dashboard can reconnect every account, so more).
pub const MIN_LENGTH: usize = 12;

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("the password must be at least {MIN_LENGTH} characters")]
    TooShort,
    #[error("the password must be at most 1024 characters")]
    TooLong,
    #[error("hashing failed: {0}")]
    Hash(String),
}

/// Checks the length rules.
pub fn validate(password: &str) -> Result<(), PasswordError> {
    match password.chars().count() {
        n if n < MIN_LENGTH => Err(PasswordError::TooShort),
        n if n > 1024 => Err(PasswordError::TooLong),
        _ => Ok(()),
    }
}

/// Hashes a password that passed [`validate`].
pub async fn hash(password: String) -> Result<String, PasswordError> {
    validate(&password)?;
    tokio::task::spawn_blocking(move || {
        let mut salt = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut salt);
        let salt = SaltString::encode_b64(&salt).map_err(|e| PasswordError::Hash(e.to_string()))?;
        Argon2::default().hash_password(password.as_bytes(), &salt).map(|h| h.to_string()).map_err(|e| PasswordError::Hash(e.to_string()))
    })
    .await
    .map_err(|e| PasswordError::Hash(e.to_string()))?
}

/// Whether `password` matches `phc`. With `None` (no such user) it still
/// spends the time of one verification, so timing does not tell which
/// emails have accounts.
pub async fn verify(password: String, phc: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || {
        let phc = phc.unwrap_or_else(|| DUMMY.with(Clone::clone));
        match PasswordHash::new(&phc) {
            Ok(parsed) => Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok(),
            Err(e) => {
                tracing::error!(error = %e, "a stored password hash cannot be parsed");
                false
            }
        }
    })
    .await
    .unwrap_or(false)
}

thread_local! {
    /// A hash of nothing anyone knows, verified against when the email is unknown.
    static DUMMY: String = {
        let mut salt = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut salt);
        let salt = SaltString::encode_b64(&salt).expect("16 bytes encode");
        let mut secret = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut secret);
        Argon2::default().hash_password(&secret, &salt).expect("argon2 with default parameters").to_string()
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let phc = hash("correct horse battery".into()).await.unwrap();
        assert!(phc.starts_with("$argon2id$"), "{phc}");
        assert!(verify("correct horse battery".into(), Some(phc.clone())).await);
        assert!(!verify("correct horse battery!".into(), Some(phc)).await);
        assert!(!verify("anything".into(), None).await);
    }

    #[tokio::test]
    async fn short_passwords_are_refused_before_hashing() {
        assert!(matches!(hash("short".into()).await, Err(PasswordError::TooShort)));
    }
}
