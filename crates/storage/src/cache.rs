//! A shared cache: what relay keeps between requests (project keys, rate
//! limit windows, event ids it has seen). In the production topology it is
//! Redis, shared by every relay; in the devserver, process memory. Losing
//! it loses nothing that matters: every entry can be rebuilt or expire.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;

use crate::Result;

#[async_trait]
pub trait Cache: Send + Sync + 'static {
    async fn ping(&self) -> Result<()>;

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>>;

    async fn set(&self, key: &str, value: &[u8], ttl: Duration) -> Result<()>;

    async fn delete(&self, key: &str) -> Result<()>;

    /// Adds `n` (which may be negative) to the counter `key`, which starts
    /// at 0 and expires `ttl` after it was created; returns the new value.
    async fn incr(&self, key: &str, n: i64, ttl: Duration) -> Result<i64>;
}

/// The names of shared entries: one place, since relay reads what web
/// invalidates.
pub mod cache_keys {
    use faultline_protocol::ProjectId;

    /// A project key's config, by public key.
    pub fn project_key(public_key: &str) -> String {
        format!("projectkey:{public_key}")
    }

    /// A rate limit counter: the key's `index`-th window of `window` seconds.
    pub fn rate_limit(public_key: &str, window: i64, index: i64) -> String {
        format!("ratelimit:{public_key}:{window}:{index}")
    }

    /// An event id a project accepted.
    pub fn seen_event(project: ProjectId, event_id: &str) -> String {
        format!("seen:{}:{event_id}", project.0)
    }
}

/// Bounds the memory cache so keys chosen by an attacker cannot grow it
/// without limit.
const MAX_ENTRIES: usize = 100_000;

enum Value {
    Bytes(Vec<u8>),
    Counter(i64),
}

struct Entry {
    value: Value,
    expires: Instant,
}

/// The cache in process memory, for the devserver (one process, one relay).
#[derive(Default)]
pub struct MemoryCache {
    entries: Mutex<HashMap<String, Entry>>,
}

impl MemoryCache {
    pub fn new() -> Self {
        Self::default()
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn make_room(entries: &mut HashMap<String, Entry>) {
        if entries.len() >= MAX_ENTRIES {
            let now = Instant::now();
            entries.retain(|_, e| e.expires > now);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
    }
}

#[async_trait]
impl Cache for MemoryCache {
    async fn ping(&self) -> Result<()> {
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let entries = self.entries();
        Ok(entries.get(key).and_then(|e| match &e.value {
            Value::Bytes(b) if e.expires > Instant::now() => Some(b.clone()),
            _ => None,
        }))
    }

    async fn set(&self, key: &str, value: &[u8], ttl: Duration) -> Result<()> {
        let mut entries = self.entries();
        Self::make_room(&mut entries);
        entries.insert(
            key.to_owned(),
            Entry {
                value: Value::Bytes(value.to_vec()),
                expires: Instant::now() + ttl,
            },
        );
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<()> {
        self.entries().remove(key);
        Ok(())
    }

    async fn incr(&self, key: &str, n: i64, ttl: Duration) -> Result<i64> {
        let mut entries = self.entries();
        let now = Instant::now();
        let live = entries
            .get(key)
            .is_some_and(|e| e.expires > now && matches!(e.value, Value::Counter(_)));
        if !live {
            Self::make_room(&mut entries);
            entries.insert(
                key.to_owned(),
                Entry {
                    value: Value::Counter(0),
                    expires: now + ttl,
                },
            );
        }
        let entry = entries.get_mut(key).expect("inserted above");
        let Value::Counter(count) = &mut entry.value else {
            unreachable!("a live entry here is a counter")
        };
        *count += n;
        Ok(*count)
    }
}
