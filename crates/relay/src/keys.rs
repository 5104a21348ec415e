//! Project key lookup with a short-lived cache (a disabled key stops working
//! within `TTL`), and per-key rate limits in fixed windows.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use faultline_protocol::ProjectId;
use faultline_storage::{MetaStore, ProjectKey};

use crate::RelayError;

const TTL: Duration = Duration::from_secs(2);
/// Bounds the cache so random keys from an attacker cannot grow it forever.
const MAX_ENTRIES: usize = 10_000;

struct Entry {
    key: Option<ProjectKey>,
    fetched: Instant,
    window_start: Instant,
    window_count: i64,
}

pub struct KeyCache {
    meta: Arc<dyn MetaStore>,
    entries: Mutex<HashMap<String, Entry>>,
}

impl KeyCache {
    pub fn new(meta: Arc<dyn MetaStore>) -> Self {
        KeyCache {
            meta,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// Resolves `public_key` for `project`, enforcing active state and
    /// project ownership.
    pub async fn authorize(
        &self,
        public_key: &str,
        project: ProjectId,
    ) -> Result<ProjectKey, RelayError> {
        let cached = {
            let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
            entries
                .get(public_key)
                .filter(|e| e.fetched.elapsed() < TTL)
                .map(|e| e.key.clone())
        };
        let key = match cached {
            Some(key) => key,
            None => {
                let key = self.meta.key_by_public(public_key).await.map_err(|e| {
                    tracing::error!(error = %e, "key lookup failed");
                    RelayError::Unavailable
                })?;
                let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
                if entries.len() >= MAX_ENTRIES {
                    entries.retain(|_, e| e.fetched.elapsed() < TTL);
                }
                let now = Instant::now();
                let entry = entries.entry(public_key.to_owned()).or_insert(Entry {
                    key: None,
                    fetched: now,
                    window_start: now,
                    window_count: 0,
                });
                entry.key = key.clone();
                entry.fetched = now;
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

    /// Counts `events` against the key's limit, refusing when it is spent.
    pub fn check_rate_limit(&self, key: &ProjectKey, events: i64) -> Result<(), RelayError> {
        let (Some(limit), Some(window)) = (key.rate_limit_count, key.rate_limit_window) else {
            return Ok(());
        };
        if events == 0 || limit <= 0 || window <= 0 {
            return Ok(());
        }
        let window = Duration::from_secs(window as u64);
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let Some(entry) = entries.get_mut(&key.public_key) else {
            return Ok(());
        };
        if entry.window_start.elapsed() >= window {
            entry.window_start = Instant::now();
            entry.window_count = 0;
        }
        if entry.window_count + events > limit {
            let retry_after = window
                .saturating_sub(entry.window_start.elapsed())
                .as_secs()
                .max(1);
            return Err(RelayError::RateLimited { retry_after });
        }
        entry.window_count += events;
        Ok(())
    }
}
