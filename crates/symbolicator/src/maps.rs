//! Parsed source maps, read out of their bundle within limits and kept in
//! a cache bounded by bytes, failures included (a malformed map is parsed
//! once, not once per event).

use std::collections::HashMap;
use std::sync::Arc;

use faultline_artifacts::{Bundle, BundleError};
use faultline_storage::BlobDir;
use sourcemap::{DecodedMap, SourceMap};

use crate::outcome::Unresolved;
use crate::scope::MinifiedSource;

/// A map ready for lookups, with its minified file when the bundle has it
/// (what original function names are read from).
pub struct LoadedMap {
    pub map: SourceMap,
    pub minified: Option<MinifiedSource>,
    /// Per source of the map, where each line of its `sourcesContent`
    /// starts: context lines without scanning the file for every frame.
    line_starts: Vec<Vec<usize>>,
    /// What keeping it costs, roughly: the cache's unit.
    cost: u64,
}

/// Where a map is: a bundle's blob, the map's entry and the minified
/// file's entry.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MapKey {
    pub blob: String,
    pub map: String,
    pub minified: Option<String>,
}

pub type Loaded = Result<Arc<LoadedMap>, Unresolved>;

/// Reads and parses the map `key` names; `limit` bounds each file read.
pub fn load(blobs: &BlobDir, key: &MapKey, limit: u64) -> Loaded {
    let malformed = |error: String| Unresolved::MalformedSourceMap { error };
    let file = blobs
        .open(&key.blob)
        .map_err(|e| malformed(format!("the bundle cannot be opened: {e}")))?;
    let mut bundle = Bundle::open(std::io::BufReader::new(file))
        .map_err(|e| malformed(format!("the bundle cannot be read: {e}")))?;
    let bytes = bundle.read(&key.map, limit).map_err(|e| match e {
        BundleError::TooLarge { limit, .. } => Unresolved::SourceMapTooLarge { limit },
        e => malformed(e.to_string()),
    })?;
    // A minified file too large or unreadable only costs function names.
    let minified = key
        .minified
        .as_ref()
        .and_then(|name| bundle.read(name, limit).ok())
        .and_then(|b| String::from_utf8(b).ok());
    let cost = (bytes.len() as u64)
        .saturating_mul(4)
        .saturating_add(minified.as_ref().map_or(0, |m| m.len() as u64 * 2));
    // The parser is not ours: a map that makes it panic is a malformed
    // map, not a dead symbolicator.
    let parsed = std::panic::catch_unwind(|| parse(&bytes))
        .unwrap_or_else(|_| Err("the parser gave up on it".into()))
        .map_err(malformed)?;
    let line_starts = (0..parsed.get_source_count())
        .map(|id| {
            parsed
                .get_source_contents(id)
                .map_or_else(Vec::new, |text| {
                    std::iter::once(0)
                        .chain(text.match_indices('\n').map(|(at, _)| at + 1))
                        .collect()
                })
        })
        .collect::<Vec<_>>();
    let cost = cost.saturating_add(line_starts.iter().map(|l| l.len() as u64 * 8).sum::<u64>());
    Ok(Arc::new(LoadedMap {
        map: parsed,
        line_starts,
        minified: minified.map(MinifiedSource::new),
        cost,
    }))
}

impl LoadedMap {
    /// Lines `first..first + count` of source `id`'s contents (fewer at
    /// its end), without their line breaks.
    pub fn source_lines(&self, id: u32, first: usize, count: usize) -> Vec<&str> {
        let (Some(text), Some(starts)) = (
            self.map.get_source_contents(id),
            self.line_starts.get(id as usize),
        ) else {
            return Vec::new();
        };
        starts
            .iter()
            .skip(first)
            .take(count)
            .map(|&start| {
                let line = &text[start..];
                let line = line.split('\n').next().unwrap_or(line);
                line.strip_suffix('\r').unwrap_or(line)
            })
            .collect()
    }
}

fn parse(bytes: &[u8]) -> Result<SourceMap, String> {
    match sourcemap::decode_slice(bytes).map_err(|e| e.to_string())? {
        DecodedMap::Regular(map) => Ok(map),
        // Sections with their maps inline; sections by URL cannot be read.
        DecodedMap::Index(index) => index.flatten().map_err(|e| e.to_string()),
        DecodedMap::Hermes(hermes) => Ok((*hermes).clone()),
    }
}

/// Least recently used maps, at most `budget` bytes of them.
pub struct MapCache {
    budget: u64,
    used: u64,
    tick: u64,
    entries: HashMap<MapKey, (Loaded, u64)>,
}

/// What a failure costs in the cache: its key and reason.
const FAILURE_COST: u64 = 1024;

fn cost(loaded: &Loaded) -> u64 {
    match loaded {
        Ok(map) => map.cost,
        Err(_) => FAILURE_COST,
    }
}

impl MapCache {
    pub fn new(budget: u64) -> Self {
        MapCache {
            budget,
            used: 0,
            tick: 0,
            entries: HashMap::new(),
        }
    }

    pub fn get(&mut self, key: &MapKey) -> Option<Loaded> {
        self.tick += 1;
        let tick = self.tick;
        self.entries.get_mut(key).map(|(loaded, used)| {
            *used = tick;
            loaded.clone()
        })
    }

    /// Keeps `loaded`, dropping the least recently used entries to stay
    /// within the budget; one map larger than the budget is not kept.
    pub fn insert(&mut self, key: MapKey, loaded: Loaded) {
        let size = cost(&loaded);
        if size > self.budget {
            return;
        }
        self.tick += 1;
        if let Some((old, _)) = self.entries.insert(key, (loaded, self.tick)) {
            self.used -= cost(&old);
        }
        self.used += size;
        while self.used > self.budget {
            let Some(oldest) = self
                .entries
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            if let Some((gone, _)) = self.entries.remove(&oldest) {
                self.used -= cost(&gone);
            }
        }
    }

    pub fn bytes(&self) -> u64 {
        self.used
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u32) -> MapKey {
        MapKey {
            blob: format!("b{n}"),
            map: "m".into(),
            minified: None,
        }
    }

    fn failure() -> Loaded {
        Err(Unresolved::MalformedSourceMap { error: "x".into() })
    }

    #[test]
    fn the_cache_keeps_to_its_budget_dropping_the_least_recent() {
        let mut cache = MapCache::new(3 * FAILURE_COST);
        for n in 0..3 {
            cache.insert(key(n), failure());
        }
        assert!(cache.get(&key(0)).is_some());
        cache.insert(key(3), failure());
        assert_eq!(cache.len(), 3);
        assert_eq!(cache.bytes(), 3 * FAILURE_COST);
        assert!(cache.get(&key(1)).is_none(), "the least recently used went");
        assert!(cache.get(&key(0)).is_some());
        // Too large for the cache at all: not kept, nothing dropped for it.
        let mut tiny = MapCache::new(FAILURE_COST - 1);
        tiny.insert(key(9), failure());
        assert!(tiny.is_empty());
    }
}
