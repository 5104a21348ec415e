//! Finding the map of a frame's file: by the debug id the event's
//! `debug_meta` names for it, else by the event's release and dist and the
//! file's URL.

use std::collections::HashMap;

use faultline_protocol::{DebugImage, ProjectId};
use faultline_storage::{ArtifactStore, ArtifactType, FoundArtifact, StorageError};

use crate::maps::MapKey;
use crate::outcome::{ResolvedWith, Unresolved};
use crate::urls::{candidate_urls, join, suffix_match};

/// Most files of one release a frame's URL is matched against.
const MAX_RELEASE_FILES: usize = 10_000;

/// Where a file's map was found.
#[derive(Debug, Clone)]
pub struct Located {
    pub key: MapKey,
    pub with: ResolvedWith,
    /// The map's URL, as uploaded: what the frame's `data.sourcemap` says.
    pub map_url: String,
    pub bundle: i64,
}

/// What of an event finds its maps: its `debug_meta` images, release and
/// dist.
pub struct EventKeys<'a> {
    pub images: &'a [DebugImage],
    pub release: Option<&'a str>,
    pub dist: Option<&'a str>,
}

/// The lookups of one event: each URL once, the release's files once.
pub struct Locator<'a> {
    store: &'a dyn ArtifactStore,
    project: ProjectId,
    event: EventKeys<'a>,
    release_files: Option<Vec<FoundArtifact>>,
    found: HashMap<String, Result<Located, Unresolved>>,
}

impl<'a> Locator<'a> {
    pub fn new(store: &'a dyn ArtifactStore, project: ProjectId, event: EventKeys<'a>) -> Self {
        Locator {
            store,
            project,
            event,
            release_files: None,
            found: HashMap::new(),
        }
    }

    /// The map of the file at `url`, or why there is none.
    pub async fn locate(&mut self, url: &str) -> Result<Result<Located, Unresolved>, StorageError> {
        if let Some(found) = self.found.get(url) {
            return Ok(found.clone());
        }
        let found = self.find(url).await?;
        self.found.insert(url.to_owned(), found.clone());
        Ok(found)
    }

    async fn find(&mut self, url: &str) -> Result<Result<Located, Unresolved>, StorageError> {
        let debug_id = self
            .event
            .images
            .iter()
            .filter(|image| image.ty == "sourcemap")
            .find(|image| image.code_file.as_deref() == Some(url))
            .and_then(|image| image.debug_id.as_deref())
            .and_then(faultline_artifacts::normalize_debug_id);
        let by_id = match &debug_id {
            Some(id) => self.by_debug_id(id).await?,
            None => None,
        };
        if let Some(located) = by_id {
            return Ok(Ok(located));
        }
        let Some(release) = self.event.release.map(str::to_owned) else {
            return Ok(Err(match debug_id {
                Some(debug_id) => Unresolved::NoBundleWithDebugId { debug_id },
                None => Unresolved::MissingDebugId,
            }));
        };
        Ok(match self.by_release(&release, url).await? {
            Ok(located) => Ok(located),
            // The debug id was the way this build meant to be found.
            Err(_) if debug_id.is_some() => Err(Unresolved::NoBundleWithDebugId {
                debug_id: debug_id.unwrap_or_default(),
            }),
            Err(why) => Err(why),
        })
    }

    async fn by_debug_id(&self, id: &str) -> Result<Option<Located>, StorageError> {
        let Some(map) = self
            .store
            .artifact_by_debug_id(self.project, id, ArtifactType::SourceMap)
            .await?
        else {
            return Ok(None);
        };
        let minified = self
            .store
            .artifact_by_debug_id(self.project, id, ArtifactType::MinifiedSource)
            .await?
            .filter(|m| m.bundle_id == map.bundle_id);
        Ok(Some(Located {
            key: MapKey {
                blob: map.blob.clone(),
                map: map.file.path.clone(),
                minified: minified.map(|m| m.file.path),
            },
            with: ResolvedWith::DebugId,
            map_url: map.file.url,
            bundle: map.bundle_id,
        }))
    }

    async fn by_release(
        &mut self,
        release: &str,
        url: &str,
    ) -> Result<Result<Located, Unresolved>, StorageError> {
        if self.release_files.is_none() {
            let files = self
                .store
                .release_files(self.project, release, self.event.dist, MAX_RELEASE_FILES)
                .await?;
            self.release_files = Some(files);
        }
        let files = self.release_files.as_deref().unwrap_or_default();
        let not_found = || Unresolved::UrlNotInRelease {
            release: release.to_owned(),
            url: url.to_owned(),
        };
        let code_files = |f: &&FoundArtifact| f.file.ty != ArtifactType::SourceMap;
        let Some(code) = find_file(files, url, code_files) else {
            // A map uploaded on its own, at the file's URL plus `.map`.
            let maps = |f: &&FoundArtifact| f.file.ty == ArtifactType::SourceMap;
            return Ok(find_file(files, &format!("{url}.map"), maps)
                .map(|map| located(map, None))
                .ok_or_else(not_found));
        };
        let map_url = match &code.file.sourcemap {
            Some(reference) => join(&code.file.url, reference),
            None => format!("{}.map", code.file.url),
        };
        let map = files
            .iter()
            .filter(|f| f.file.ty == ArtifactType::SourceMap && f.file.url == map_url)
            // The one uploaded with the file, else the newest.
            .max_by_key(|f| (f.bundle_id == code.bundle_id, f.bundle_id));
        Ok(match map {
            Some(map) => Ok(located(map, Some(code).filter(|c| c.blob == map.blob))),
            None => Err(Unresolved::MapNotInBundle { map: map_url }),
        })
    }
}

fn located(map: &FoundArtifact, minified: Option<&FoundArtifact>) -> Located {
    Located {
        key: MapKey {
            blob: map.blob.clone(),
            map: map.file.path.clone(),
            minified: minified.map(|m| m.file.path.clone()),
        },
        with: ResolvedWith::Release,
        map_url: map.file.url.clone(),
        bundle: map.bundle_id,
    }
}

/// The file at the first candidate URL of `url`, else the one whose `~/`
/// path ends `url`'s path longest; newest bundle first in either case.
fn find_file<'f>(
    files: &'f [FoundArtifact],
    url: &str,
    kind: impl Fn(&&FoundArtifact) -> bool,
) -> Option<&'f FoundArtifact> {
    let kind = &kind;
    candidate_urls(url)
        .iter()
        .find_map(|candidate| files.iter().filter(kind).find(|f| &f.file.url == candidate))
        .or_else(|| {
            files
                .iter()
                .filter(kind)
                .filter_map(|f| suffix_match(url, &f.file.url).map(|len| (len, f)))
                // Longest; among equals, the first (the newest bundle).
                .fold(
                    None,
                    |best: Option<(usize, &FoundArtifact)>, (len, f)| match best {
                        Some((best_len, _)) if best_len >= len => best,
                        _ => Some((len, f)),
                    },
                )
                .map(|(_, f)| f)
        })
}
