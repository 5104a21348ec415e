//! Project keys and their limits, as relay needs them on every request.
//!
//! A key is looked up in three places, nearest first: this process's memory
//! (for `LOCAL_TTL`, so a disabled key stops working that soon after the
//! shared entry goes), the shared cache (Redis in the production topology;
//! web deletes the entry when a key changes), then the metadata store. Rate
//! limits count in the shared cache, in fixed windows, so every relay
//! enforces one limit. When the shared cache is away, relay falls back to
//! the metadata store and does not enforce rate limits: it keeps accepting
//! events rather than refuse them for want of a counter.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use faultline_protocol::ProjectId;
use faultline_storage::{Cache, MetaStore, ProjectKey, cache_keys};
use serde::{Deserialize, Serialize};

use crate::RelayError;

const LOCAL_TTL: Duration = Duration::from_secs(2);
const SHARED_TTL: Duration = Duration::from_secs(60);
/// Bounds the local cache so random keys from an attacker cannot grow it.
const MAX_ENTRIES: usize = 10_000;

/// What relay keeps of a project key: its project config, in Sentry's words.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeyConfig {
    pub public_key: String,
    pub project_id: ProjectId,
    pub is_active: bool,
    /// Events per `rate_limit_window` seconds; `None` is unlimited.
    pub rate_limit_count: Option<i64>,
    pub rate_limit_window: Option<i64>,
}

impl From<ProjectKey> for KeyConfig {
    fn from(key: ProjectKey) -> Self {
        KeyConfig {
            public_key: key.public_key,
            project_id: key.project_id,
            is_active: key.is_active,
            rate_limit_count: key.rate_limit_count,
            rate_limit_window: key.rate_limit_window,
        }
    }
}

struct Entry {
    key: Option<KeyConfig>,
    fetched: Instant,
}

pub struct KeyCache {
    meta: Arc<dyn MetaStore>,
    shared: Arc<dyn Cache>,
    local: Mutex<HashMap<String, Entry>>,
}

impl KeyCache {
    pub fn new(meta: Arc<dyn MetaStore>, shared: Arc<dyn Cache>) -> Self {
        KeyCache {
            meta,
            shared,
            local: Mutex::new(HashMap::new()),
        }
    }

    async fn lookup(&self, public_key: &str) -> Result<Option<KeyConfig>, RelayError> {
        let entry = cache_keys::project_key(public_key);
        match self.shared.get(&entry).await {
            Ok(Some(bytes)) => {
                if let Ok(key) = serde_json::from_slice(&bytes) {
                    return Ok(Some(key));
                }
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(error = %e, "shared cache unavailable; reading the key from the metadata store")
            }
        }
        let key = self.meta.key_by_public(public_key).await.map_err(|e| {
            tracing::error!(error = %e, "key lookup failed");
            RelayError::Unavailable
        })?;
        let key = key.map(KeyConfig::from);
        // Only keys that exist are shared: random keys from an attacker
        // stay in the bounded local cache.
        if let Some(key) = &key {
            let bytes = serde_json::to_vec(key).expect("plain data serialises");
            if let Err(e) = self.shared.set(&entry, &bytes, SHARED_TTL).await {
                tracing::warn!(error = %e, "cannot share the project key");
            }
        }
        Ok(key)
    }

    /// Resolves `public_key` for `project`, enforcing active state and
    /// project ownership.
    pub async fn authorize(
        &self,
        public_key: &str,
        project: ProjectId,
    ) -> Result<KeyConfig, RelayError> {
        let cached = {
            let local = self.local.lock().unwrap_or_else(|p| p.into_inner());
            local
                .get(public_key)
                .filter(|e| e.fetched.elapsed() < LOCAL_TTL)
                .map(|e| e.key.clone())
        };
        let key = match cached {
            Some(key) => key,
            None => {
                let key = self.lookup(public_key).await?;
                let mut local = self.local.lock().unwrap_or_else(|p| p.into_inner());
                if local.len() >= MAX_ENTRIES {
                    local.retain(|_, e| e.fetched.elapsed() < LOCAL_TTL);
                }
                local.insert(
                    public_key.to_owned(),
                    Entry {
                        key: key.clone(),
                        fetched: Instant::now(),
                    },
                );
                key
            }
        };
        let key = key.ok_or(RelayError::UnknownKey)?;
        if key.project_id != project {
            return Err(RelayError::WrongProject(project.0));
        }
        if !key.is_active {
            return Err(RelayError::KeyDisabled);
        }
        Ok(key)
    }

    /// Counts `events` against the key's limit, refusing (without counting
    /// them) when it would be exceeded.
    pub async fn check_rate_limit(&self, key: &KeyConfig, events: i64) -> Result<(), RelayError> {
        let (Some(limit), Some(window)) = (key.rate_limit_count, key.rate_limit_window) else {
            return Ok(());
        };
        if events == 0 || limit <= 0 || window <= 0 {
            return Ok(());
        }
        let now = chrono::Utc::now().timestamp();
        let counter = cache_keys::rate_limit(&key.public_key, window, now / window);
        let ttl = Duration::from_secs(window as u64);
        let count = match self.shared.incr(&counter, events, ttl).await {
            Ok(count) => count,
            Err(e) => {
                tracing::warn!(error = %e, "shared cache unavailable; rate limit not enforced");
                return Ok(());
            }
        };
        if count > limit {
            // Refused events do not use up the window.
            let _ = self.shared.incr(&counter, -events, ttl).await;
            let retry_after = (window - now % window).max(1) as u64;
            return Err(RelayError::RateLimited { retry_after });
        }
        Ok(())
    }

    /// Whether this project already accepted an event with this id (an
    /// SDK retrying after a lost answer): the answer is 200 again, and the
    /// event is not queued twice. A cache that cannot answer says no.
    pub async fn seen_event(&self, project: ProjectId, event_id: &str) -> bool {
        matches!(
            self.shared
                .get(&cache_keys::seen_event(project, event_id))
                .await,
            Ok(Some(_))
        )
    }

    /// Remembers an accepted event id, only once it is durably queued (so a
    /// failed publish is not taken for a duplicate on the retry).
    pub async fn remember_event(&self, project: ProjectId, event_id: &str) {
        let entry = cache_keys::seen_event(project, event_id);
        if let Err(e) = self.shared.set(&entry, b"1", SEEN_TTL).await {
            tracing::debug!(error = %e, "cannot remember the event id");
        }
    }
}

/// How long an accepted event id is remembered for deduplication; SDK
/// retries come within seconds.
const SEEN_TTL: Duration = Duration::from_secs(3600);
