//! Throttling of password guesses: sign-in (per account and per client
//! address) and the current-password check of a password change (per
//! account), each counted in a window that starts with its first attempt.
//!
//! An attempt is counted *before* its password is verified, under one lock
//! with the check: otherwise parallel guesses all pass a check that none of
//! them has counted yet. A right password then gives its count back.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use faultline_storage::UserId;

const MAX_FAILURES_PER_EMAIL: u32 = 5;
const MAX_FAILURES_PER_ADDRESS: u32 = 20;
const MAX_PASSWORD_CHECKS_PER_USER: u32 = 5;
const WINDOW: Duration = Duration::from_secs(300);
/// Beyond this many keys, expired ones are dropped, so a flood of
/// addresses cannot grow the table without bound.
const MAX_TRACKED: usize = 100_000;

/// One counter an attempt is charged to, and how many it allows per window.
#[derive(Debug, Clone)]
pub struct Limit {
    key: String,
    max: u32,
}

impl Limit {
    pub fn sign_in_email(email: &str) -> Self {
        Limit {
            key: format!("email:{email}"),
            max: MAX_FAILURES_PER_EMAIL,
        }
    }

    /// `address` is the client's, as `client_ip` resolves it behind
    /// trusted proxies.
    pub fn sign_in_address(address: &str) -> Self {
        Limit {
            key: format!("ip:{address}"),
            max: MAX_FAILURES_PER_ADDRESS,
        }
    }

    pub fn password_check(user: UserId) -> Self {
        Limit {
            key: format!("password-check:{}", user.0),
            max: MAX_PASSWORD_CHECKS_PER_USER,
        }
    }
}

/// In-process: each web process throttles what it sees.
#[derive(Default)]
pub struct LoginThrottle {
    attempts: Mutex<HashMap<String, (u32, Instant)>>,
}

impl LoginThrottle {
    /// Charges one attempt to every limit, or to none and `Err(wait)` when
    /// any of them is used up.
    pub fn reserve(&self, limits: &[Limit]) -> Result<(), Duration> {
        let mut attempts = self.attempts.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        if attempts.len() > MAX_TRACKED {
            attempts.retain(|_, (_, since)| now.duration_since(*since) < WINDOW);
        }
        for limit in limits {
            if let Some((count, since)) = attempts.get(&limit.key) {
                let elapsed = now.duration_since(*since);
                if *count >= limit.max && elapsed < WINDOW {
                    return Err(WINDOW - elapsed);
                }
            }
        }
        for limit in limits {
            let entry = attempts.entry(limit.key.clone()).or_insert((0, now));
            if now.duration_since(entry.1) >= WINDOW {
                *entry = (0, now);
            }
            entry.0 += 1;
        }
        Ok(())
    }

    /// The password was right: this attempt does not count against `limit`.
    pub fn refund(&self, limit: &Limit) {
        let mut attempts = self.attempts.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((count, _)) = attempts.get_mut(&limit.key) {
            *count = count.saturating_sub(1);
        }
    }

    /// The account proved its password: its earlier failures are forgiven.
    /// (An address's are not, or one known password would clear the way
    /// for guessing others from the same place.)
    pub fn forgive(&self, limit: &Limit) {
        self.attempts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&limit.key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_counts_attempts_before_their_outcome() {
        let throttle = LoginThrottle::default();
        let limits = [
            Limit::sign_in_email("a@b.c"),
            Limit::sign_in_address("10.0.0.1"),
        ];
        for _ in 0..MAX_FAILURES_PER_EMAIL {
            assert!(throttle.reserve(&limits).is_ok());
        }
        let wait = throttle.reserve(&limits).unwrap_err();
        assert!(wait <= WINDOW && wait > WINDOW - Duration::from_secs(5));
        // Another account from the same address still has attempts left.
        assert!(
            throttle
                .reserve(&[
                    Limit::sign_in_email("x@y.z"),
                    Limit::sign_in_address("10.0.0.1")
                ])
                .is_ok()
        );
    }

    #[test]
    fn a_refused_attempt_is_charged_to_no_limit() {
        let throttle = LoginThrottle::default();
        let address = Limit::sign_in_address("10.0.0.2");
        for _ in 0..MAX_FAILURES_PER_EMAIL {
            throttle
                .reserve(&[Limit::sign_in_email("a@b.c"), address.clone()])
                .unwrap();
        }
        for _ in 0..50 {
            assert!(
                throttle
                    .reserve(&[Limit::sign_in_email("a@b.c"), address.clone()])
                    .is_err()
            );
        }
        for _ in MAX_FAILURES_PER_EMAIL..MAX_FAILURES_PER_ADDRESS {
            assert!(throttle.reserve(std::slice::from_ref(&address)).is_ok());
        }
        assert!(throttle.reserve(&[address]).is_err());
    }

    #[test]
    fn success_refunds_the_address_and_forgives_the_account() {
        let throttle = LoginThrottle::default();
        let (email, address) = (Limit::sign_in_email("a@b.c"), Limit::sign_in_address("::1"));
        for _ in 0..MAX_FAILURES_PER_EMAIL {
            throttle.reserve(&[email.clone(), address.clone()]).unwrap();
        }
        throttle.refund(&address);
        throttle.forgive(&email);
        // Four of the address's attempts remain counted, plus this one.
        assert!(throttle.reserve(&[email, address.clone()]).is_ok());
        for _ in MAX_FAILURES_PER_EMAIL..MAX_FAILURES_PER_ADDRESS {
            throttle.reserve(std::slice::from_ref(&address)).unwrap();
        }
        assert!(throttle.reserve(&[address]).is_err());
    }

    #[test]
    fn parallel_attempts_get_exactly_the_limit() {
        let throttle = std::sync::Arc::new(LoginThrottle::default());
        let allowed: u32 = (0..40)
            .map(|_| {
                let throttle = throttle.clone();
                std::thread::spawn(move || {
                    u32::from(
                        throttle
                            .reserve(&[Limit::password_check(UserId(7))])
                            .is_ok(),
                    )
                })
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|t| t.join().unwrap())
            .sum();
        assert_eq!(allowed, MAX_PASSWORD_CHECKS_PER_USER);
    }
}
