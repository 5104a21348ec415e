//! Project keys (DSNs): creating one, and renaming, disabling, enabling and
//! rate-limiting one. A change reaches relay at once: its shared copy of
//! the key is dropped from the cache.

use faultline_storage::{Cache, KeyUpdate, MetaStore, Project, ProjectKey};

use super::{Member, OpError, OpResult};
use crate::names;
use crate::scopes;

/// The name of a key created without one, and of a new project's first key.
pub const DEFAULT_NAME: &str = "Default";

/// Longest rate-limit window: one day, as Sentry's.
pub const MAX_WINDOW_SECONDS: i64 = 86_400;

/// A change to a key; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct KeyChange<'a> {
    /// Empty leaves the name as it is.
    pub name: Option<&'a str>,
    pub is_active: Option<bool>,
    /// `Some(None)` removes the limit; `Some(Some((count, window)))` sets one.
    pub rate_limit: Option<Option<(i64, i64)>>,
}

/// A rate limit of `count` events per `window` seconds, if it is one: a
/// positive count and a window of 1 to [`MAX_WINDOW_SECONDS`].
pub fn rate_limit(count: i64, window: i64) -> OpResult<(i64, i64)> {
    if count > 0 && (1..=MAX_WINDOW_SECONDS).contains(&window) {
        Ok((count, window))
    } else {
        Err(OpError::invalid(
            "rateLimit",
            format!(
                "a rate limit needs a positive count and a window of 1 to {MAX_WINDOW_SECONDS} seconds"
            ),
        ))
    }
}

/// A key's name: [`DEFAULT_NAME`] when none is given, else the name rule.
fn key_name(given: Option<&str>) -> OpResult<&str> {
    match given.map(str::trim) {
        None | Some("") => Ok(DEFAULT_NAME),
        Some(name) => Ok(names::name("key", name)?),
    }
}

pub async fn create(
    meta: &dyn MetaStore,
    member: &Member,
    project: &Project,
    name: Option<&str>,
) -> OpResult<ProjectKey> {
    member.require(scopes::PROJECT_WRITE)?;
    member.check_project(project)?;
    let name = key_name(name)?;
    Ok(meta.create_key(project.id, name).await?)
}

/// Changes the key of `project` whose public part is `public_key` (how
/// Sentry names keys), then drops relay's shared copy of it so a disabled
/// key or a new limit takes effect at once (within relay's few seconds of
/// local caching).
pub async fn update(
    meta: &dyn MetaStore,
    cache: &dyn Cache,
    member: &Member,
    project: &Project,
    public_key: &str,
    change: KeyChange<'_>,
) -> OpResult<ProjectKey> {
    member.require(scopes::PROJECT_WRITE)?;
    member.check_project(project)?;
    let key = meta
        .keys(project.id)
        .await?
        .into_iter()
        .find(|k| k.public_key == public_key)
        .ok_or(OpError::NotFound)?;
    let rate_limit = match change.rate_limit {
        Some(Some((count, window))) => Some(Some(rate_limit(count, window)?)),
        other => other,
    };
    // A rename is held to the same rule as a new key; empty leaves it.
    let label = match change.name.map(str::trim) {
        None | Some("") => None,
        Some(name) => Some(names::name("key", name)?.to_owned()),
    };
    let update = KeyUpdate {
        label,
        is_active: change.is_active,
        rate_limit,
    };
    let key = meta.update_key(key.id, &update).await?;
    let entry = faultline_storage::cache_keys::project_key(&key.public_key);
    if let Err(e) = cache.delete(&entry).await {
        tracing::warn!(error = %e, "cannot drop the shared copy of a changed key; relay sees the change within a minute");
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limits_need_a_count_and_a_window_of_at_most_a_day() {
        assert_eq!(rate_limit(2, 60).unwrap(), (2, 60));
        assert_eq!(rate_limit(1, MAX_WINDOW_SECONDS).unwrap(), (1, 86_400));
        for (count, window) in [(0, 60), (-1, 60), (2, 0), (2, 86_401)] {
            let err = rate_limit(count, window).unwrap_err();
            assert!(err.to_string().contains("86400"), "{count}/{window}: {err}");
        }
    }

    #[test]
    fn keys_are_named_default_unless_named() {
        assert_eq!(key_name(None).unwrap(), "Default");
        assert_eq!(key_name(Some("  ")).unwrap(), "Default");
        assert_eq!(key_name(Some(" Backend ")).unwrap(), "Backend");
        assert!(
            key_name(Some(&"k".repeat(65)))
                .unwrap_err()
                .to_string()
                .contains("64")
        );
    }
}
