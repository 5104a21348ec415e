//! Passwords: the one rule a new password must meet (the dashboard, the
//! invitation page and `faultline createuser` all apply [`check_new`]), and
//! hashing with Argon2id (the `argon2` crate's defaults, which follow
//! OWASP's recommendation).

use std::sync::LazyLock;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

/// Fewest characters in a new password (characters, not bytes).
pub const MIN_CHARS: usize = 8;
/// Most bytes in a password: Argon2 takes any length, but a megabyte
/// "password" would only cost hashing time.
pub const MAX_BYTES: usize = 1024;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PasswordError {
    #[error("choose a password of {MIN_CHARS} characters or more")]
    TooShort,
    #[error("choose a password of at most {MAX_BYTES} bytes")]
    TooLong,
}

/// Whether `password` may become an account's password. It is taken as
/// typed: surrounding spaces count.
pub fn check_new(password: &str) -> Result<(), PasswordError> {
    if password.chars().count() < MIN_CHARS {
        Err(PasswordError::TooShort)
    } else if password.len() > MAX_BYTES {
        Err(PasswordError::TooLong)
    } else {
        Ok(())
    }
}

/// [`hash_password`] on the blocking pool, so Argon2's deliberate cost does
/// not stall the request threads (inline if the pool cannot run it).
pub async fn hash(password: String) -> String {
    let copy = password.clone();
    match tokio::task::spawn_blocking(move || hash_password(&copy)).await {
        Ok(hash) => hash,
        Err(e) => {
            tracing::warn!(error = %e, "password hashing did not run on the blocking pool");
            hash_password(&password)
        }
    }
}

pub fn hash_password(password: &str) -> String {
    let salt = SaltString::encode_b64(uuid::Uuid::new_v4().as_bytes())
        .expect("16 bytes is a valid salt length");
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("hashing with default parameters cannot fail")
        .to_string()
}

pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Verified when there is no real hash to check against, so that an
/// unknown email, an inactive account or one without a password takes as
/// long as a wrong password for a real account: otherwise the response time
/// tells which emails have accounts.
static DUMMY_HASH: LazyLock<String> =
    LazyLock::new(|| hash_password("no account has this password: it only costs time"));

/// Whether `password` matches `hash`, in the same time whether or not there
/// is a usable hash (`None`, or a stored value that is not one, is `false`).
pub fn verify_password_or_dummy(password: &str, hash: Option<&str>) -> bool {
    match hash.filter(|h| PasswordHash::new(h).is_ok()) {
        Some(hash) => verify_password(password, hash),
        None => {
            let _ = verify_password(password, &DUMMY_HASH);
            false
        }
    }
}

/// [`verify_password_or_dummy`] on the blocking pool: Argon2 is built to
/// take CPU time, which must not stall the request threads. `false` if the
/// pool cannot run it.
pub async fn check_password(password: String, hash: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || verify_password_or_dummy(&password, hash.as_deref()))
        .await
        .unwrap_or_else(|e| {
            tracing::error!(error = %e, "password check did not run");
            false
        })
}

/// A random password for generated accounts: 20 characters from 122 random bits.
pub fn generate_password() -> String {
    let raw = uuid::Uuid::new_v4().simple().to_string();
    raw.chars().take(20).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_and_verify() {
        let hash = hash_password("correct horse");
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("wrong", &hash));
        assert!(!verify_password("x", "not a hash"));
    }

    #[test]
    fn new_passwords_need_eight_characters_and_at_most_1024_bytes() {
        assert_eq!(check_new("x"), Err(PasswordError::TooShort));
        assert_eq!(check_new("1234567"), Err(PasswordError::TooShort));
        assert_eq!(check_new("12345678"), Ok(()));
        // Characters, not bytes: eight accented letters are enough.
        assert_eq!(check_new(&"é".repeat(8)), Ok(()));
        assert_eq!(check_new(&"a".repeat(MAX_BYTES)), Ok(()));
        assert_eq!(
            check_new(&"a".repeat(MAX_BYTES + 1)),
            Err(PasswordError::TooLong)
        );
        assert_eq!(
            PasswordError::TooShort.to_string(),
            "choose a password of 8 characters or more"
        );
    }

    #[test]
    fn no_hash_is_never_a_match_and_costs_a_verification() {
        let hash = hash_password("correct horse");
        assert!(verify_password_or_dummy("correct horse", Some(&hash)));
        assert!(!verify_password_or_dummy(
            "correct horse",
            Some("!disabled")
        ));
        assert!(!verify_password_or_dummy("", None));
        let _ = &*DUMMY_HASH;
        // The fastest of a few runs, so a busy machine does not decide.
        let time = |hash: Option<&str>| {
            (0..3)
                .map(|_| {
                    let start = std::time::Instant::now();
                    verify_password_or_dummy("a guess", hash);
                    start.elapsed()
                })
                .min()
                .unwrap()
        };
        let (known, unknown) = (time(Some(&hash)), time(None));
        // The same work either way; a skipped check would be 1000x faster.
        assert!(
            unknown * 4 > known && known * 4 > unknown,
            "{known:?} vs {unknown:?}"
        );
    }
}
