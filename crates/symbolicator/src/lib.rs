//! symbolicator: JavaScript stack frames mapped back to the code that was
//! written, through the source maps sentry-cli uploaded.
//!
//! For each frame of an event's exceptions, the map of its file is found
//! by the debug id the event's `debug_meta` names for it, else by the
//! event's release, dist and the file's URL (`~/path`, as Sentry matches;
//! [`locate`]); each map is parsed once and cached ([`maps`]); the frame
//! gets the original file, line, column, function and five lines of
//! context ([`frames`]). Every frame records in its `data` how it was
//! resolved or why not ([`outcome`]), and exceptions whose frames changed
//! keep the SDK's frames as `raw_stacktrace`.
//!
//! The ingest-consumer calls it through [`Symbolicate`]: in-process in
//! the devserver ([`Symbolicator`]), over gRPC in the production topology
//! ([`grpc`]).

pub mod frames;
pub mod grpc;
pub mod locate;
pub mod maps;
mod metrics;
pub mod outcome;
pub mod scope;
pub mod service;
pub mod urls;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use faultline_protocol::{Event, Frame, ProjectId};
use faultline_storage::{ArtifactStore, BlobDir, StorageError};

use crate::locate::{EventKeys, Located, Locator};
use crate::maps::{Loaded, MapCache};
use crate::outcome::Unresolved;

#[derive(Debug, thiserror::Error)]
pub enum SymbolicateError {
    /// The symbolicator or its stores cannot answer now; try again later.
    #[error("symbolication is unavailable: {0}")]
    Unavailable(String),
    #[error("invalid symbolication request: {0}")]
    Invalid(String),
}

impl From<StorageError> for SymbolicateError {
    fn from(e: StorageError) -> Self {
        SymbolicateError::Unavailable(e.to_string())
    }
}

/// What the ingest-consumer asks of the symbolicator, wherever it runs.
#[async_trait]
pub trait Symbolicate: Send + Sync {
    /// `event` (of `project`) with its JavaScript frames mapped where
    /// their maps were uploaded, each frame saying how or why not.
    async fn symbolicate(
        &self,
        project: ProjectId,
        event: Event,
    ) -> Result<Event, SymbolicateError>;
}

/// Whether `event` has frames symbolication could map: JavaScript (the
/// event's platform or the frame's) with a line to look up. Anything else
/// skips the symbolicator entirely.
pub fn wants_symbolication(event: &Event) -> bool {
    let js = |platform: &str| matches!(platform, "javascript" | "node");
    event
        .exception
        .iter()
        .filter_map(|e| e.stacktrace.as_ref())
        .flat_map(|s| &s.frames)
        .any(|f| js(f.platform.as_deref().unwrap_or(&event.platform)) && f.lineno.is_some())
}

#[derive(Debug, Clone, Copy)]
pub struct SymbolicatorOptions {
    /// Largest map (or minified file) read: `limits.max-sourcemap-size`.
    pub max_sourcemap_size: u64,
    /// Bytes of parsed maps kept between events.
    pub cache_bytes: u64,
}

impl Default for SymbolicatorOptions {
    fn default() -> Self {
        SymbolicatorOptions {
            max_sourcemap_size: 32 * 1024 * 1024,
            cache_bytes: 256 * 1024 * 1024,
        }
    }
}

/// How often a bundle's last use is written: retention counts from it,
/// and days matter to it, not events.
const TOUCH_EVERY: Duration = Duration::from_secs(3600);

/// The symbolicator itself, over the artifact index and the blob store.
pub struct Symbolicator {
    artifacts: Arc<dyn ArtifactStore>,
    blobs: BlobDir,
    options: SymbolicatorOptions,
    cache: Mutex<MapCache>,
    touched: Mutex<HashMap<i64, Instant>>,
}

impl Symbolicator {
    pub fn new(
        artifacts: Arc<dyn ArtifactStore>,
        blobs: BlobDir,
        options: SymbolicatorOptions,
    ) -> Self {
        metrics::register();
        Symbolicator {
            artifacts,
            blobs,
            options,
            cache: Mutex::new(MapCache::new(options.cache_bytes)),
            touched: Mutex::new(HashMap::new()),
        }
    }

    /// Bytes of parsed maps in the cache (`/metrics`, the bench).
    pub fn cached_bytes(&self) -> u64 {
        self.cache.lock().expect("cache lock").bytes()
    }

    async fn load(&self, located: &Located) -> Loaded {
        if let Some(hit) = self.cache.lock().expect("cache lock").get(&located.key) {
            metrics::map_load("cache");
            return hit;
        }
        metrics::map_load("bundle");
        let (blobs, key, limit) = (
            self.blobs.clone(),
            located.key.clone(),
            self.options.max_sourcemap_size,
        );
        let loaded = tokio::task::spawn_blocking(move || maps::load(&blobs, &key, limit))
            .await
            .unwrap_or_else(|_| {
                Err(Unresolved::MalformedSourceMap {
                    error: "reading it failed".into(),
                })
            });
        self.cache
            .lock()
            .expect("cache lock")
            .insert(located.key.clone(), loaded.clone());
        loaded
    }

    async fn touch(&self, bundles: Vec<i64>) -> Result<(), StorageError> {
        let now = Instant::now();
        let due: Vec<i64> = {
            let mut touched = self.touched.lock().expect("touched lock");
            bundles
                .into_iter()
                .filter(|b| {
                    let due = touched
                        .get(b)
                        .is_none_or(|at| now.duration_since(*at) >= TOUCH_EVERY);
                    if due {
                        touched.insert(*b, now);
                    }
                    due
                })
                .collect()
        };
        if due.is_empty() {
            return Ok(());
        }
        self.artifacts.touch_bundles(&due, chrono::Utc::now()).await
    }
}

/// A frame's file, when it is one a map could cover.
fn source_url(frame: &Frame) -> Option<String> {
    let url = frame.abs_path.as_deref().or(frame.filename.as_deref())?;
    let runtime = url.starts_with("node:")
        || url.starts_with('<')
        || url == "native"
        || url == "[native code]";
    (!runtime && frame.lineno.is_some()).then(|| url.to_owned())
}

#[async_trait]
impl Symbolicate for Symbolicator {
    async fn symbolicate(
        &self,
        project: ProjectId,
        mut event: Event,
    ) -> Result<Event, SymbolicateError> {
        if !wants_symbolication(&event) {
            return Ok(event);
        }
        // The keys are read while the frames change: taken out of the
        // event for the while, not a copy of all of it.
        let images = std::mem::take(&mut event.debug_images);
        let (release, dist) = (event.release.clone(), event.dist.clone());
        let mut locator = Locator::new(
            self.artifacts.as_ref(),
            project,
            EventKeys {
                images: &images,
                release: release.as_deref(),
                dist: dist.as_deref(),
            },
        );
        let mut used = Vec::new();
        for exception in &mut event.exception {
            let Some(stacktrace) = exception.stacktrace.as_mut() else {
                continue;
            };
            let raw = stacktrace.clone();
            let mut changed = false;
            // Per frame: the identifier at its position, when mapped.
            let mut call_sites: Vec<Option<String>> = Vec::new();
            let mut scope_named: Vec<bool> = Vec::new();
            for frame in &mut stacktrace.frames {
                let (mut call_site, mut from_scope) = (None, false);
                let Some(url) = source_url(frame) else {
                    metrics::frame(Unresolved::NotASourceFrame.code());
                    frame.data = Some(outcome::unresolved(&Unresolved::NotASourceFrame, None));
                    call_sites.push(None);
                    scope_named.push(false);
                    continue;
                };
                let unmapped = |why: &Unresolved, with| {
                    metrics::frame(why.code());
                    outcome::unresolved(why, with)
                };
                frame.data = Some(match locator.locate(&url).await? {
                    Err(why) => unmapped(&why, None),
                    Ok(located) => match self.load(&located).await {
                        Err(why) => unmapped(&why, Some(located.with)),
                        Ok(loaded) => match frames::map_frame(frame, &url, &loaded) {
                            Err(why) => unmapped(&why, Some(located.with)),
                            Ok(mapped) => {
                                metrics::frame("mapped");
                                changed = true;
                                used.push(located.bundle);
                                call_site = mapped.call_site_name;
                                from_scope = mapped.named_from_scope;
                                outcome::resolved(located.with, &located.map_url)
                            }
                        },
                    },
                });
                call_sites.push(call_site);
                scope_named.push(from_scope);
            }
            // A frame whose function the scope did not name is named by its
            // caller's call site (frames are oldest first: the caller is
            // the frame before).
            for i in 1..stacktrace.frames.len() {
                let mapped = stacktrace.frames[i]
                    .data
                    .as_ref()
                    .is_some_and(|d| d.get("symbolicated") == Some(&serde_json::Value::Bool(true)));
                if mapped
                    && !scope_named[i]
                    && let Some(name) = &call_sites[i - 1]
                {
                    stacktrace.frames[i].function = Some(name.clone());
                }
            }
            if changed {
                exception.raw_stacktrace = Some(raw);
            }
        }
        drop(locator);
        event.debug_images = images;
        used.sort_unstable();
        used.dedup();
        if !used.is_empty() {
            // Retention's clock: a failure here costs a day's accuracy at
            // worst, not the event.
            if let Err(e) = self.touch(used).await {
                tracing::warn!(error = %e, "cannot note that bundles were used");
            }
        }
        Ok(event)
    }
}
