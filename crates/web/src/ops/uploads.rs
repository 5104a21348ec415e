//! Receiving chunks and assembling artifact bundles from them: the quota,
//! the checks a bundle must pass before it is kept, and the index the
//! symbolicator looks files up in.

use std::sync::Arc;

use faultline_artifacts as artifacts;
use faultline_protocol::ProjectId;
use faultline_storage::{ArtifactStore, BlobDir, ChunkAdmission, MetaStore, NewArtifactBundle};
use serde::Deserialize;

use super::{Member, OpError, OpResult};
use crate::scopes;

/// Largest chunk (Sentry's 8 MiB).
pub const CHUNK_SIZE: u64 = 8 * 1024 * 1024;
/// Most chunks one request may carry.
pub const CHUNKS_PER_REQUEST: usize = 64;
/// Largest chunk-upload request body.
pub const MAX_REQUEST_SIZE: u64 = 32 * 1024 * 1024;
/// Most projects one bundle is uploaded for.
const MAX_PROJECTS: usize = 100;

/// An `assemble` request body.
#[derive(Debug, Deserialize)]
pub struct AssembleRequest {
    pub checksum: String,
    #[serde(default)]
    pub chunks: Vec<String>,
    #[serde(default)]
    pub projects: Vec<String>,
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub dist: Option<String>,
}

/// What an `assemble` request found.
#[derive(Debug, PartialEq)]
pub enum Assembled {
    Ok,
    /// These chunks have not been uploaded (yet).
    Missing(Vec<String>),
    /// The file is not a usable bundle; why.
    Error(String),
}

/// Keeps checked chunks `(sha1, bytes)` for `member`'s organization, unless
/// its quota is full (then nothing new is kept).
pub async fn store_chunks(
    store: &Arc<dyn ArtifactStore>,
    blobs: &BlobDir,
    member: &Member,
    chunks: Vec<(String, Vec<u8>)>,
    quota: u64,
) -> OpResult<ChunkAdmission> {
    member.require(scopes::RELEASES_WRITE)?;
    let org = member.org.id;
    let names: Vec<String> = chunks.iter().map(|(name, _)| name.clone()).collect();
    let new = store.missing_chunks(org, &names).await?;
    let sizes: Vec<(String, u64)> = chunks
        .iter()
        .map(|(name, bytes)| (name.clone(), bytes.len() as u64))
        .collect();
    // Written before they are recorded: a recorded chunk always has its
    // bytes. Writing one that exists again writes the same bytes.
    let dir = blobs.clone();
    tokio::task::spawn_blocking(move || {
        chunks
            .iter()
            .try_for_each(|(name, bytes)| dir.write(&artifacts::chunk_key(org.0, name), bytes))
    })
    .await
    .expect("writing chunks does not panic")
    .map_err(|e| OpError::Storage(faultline_storage::StorageError::Unavailable(e.to_string())))?;
    let admission = store.record_chunks(org, &sizes, quota).await?;
    if matches!(admission, ChunkAdmission::OverQuota { .. }) {
        for name in &new {
            let _ = blobs.delete(&artifacts::chunk_key(org.0, name));
        }
    }
    Ok(admission)
}

fn invalid(field: &'static str, reason: impl Into<String>) -> OpError {
    OpError::invalid(field, reason.into())
}

/// Assembles the bundle `request` names from `member`'s chunks, or says
/// which chunks are missing; a bundle stored before is only extended to
/// the request's projects.
pub async fn assemble_bundle(
    meta: &dyn MetaStore,
    store: &Arc<dyn ArtifactStore>,
    blobs: &BlobDir,
    member: &Member,
    request: AssembleRequest,
    max_size: u64,
) -> OpResult<Assembled> {
    member.require(scopes::RELEASES_WRITE)?;
    let org = member.org.id;
    let checksum = request.checksum.to_ascii_lowercase();
    if !artifacts::is_sha1_hex(&checksum) {
        return Err(invalid("checksum", "checksum must be a SHA-1 in hex"));
    }
    let chunks: Vec<String> = request
        .chunks
        .iter()
        .map(|c| c.to_ascii_lowercase())
        .collect();
    if chunks.iter().any(|c| !artifacts::is_sha1_hex(c)) {
        return Err(invalid("chunks", "each chunk must be a SHA-1 in hex"));
    }
    if chunks.len() as u64 > max_size.div_ceil(CHUNK_SIZE).max(1) {
        return Err(invalid(
            "chunks",
            format!("the file would be larger than {max_size} bytes"),
        ));
    }
    if request.projects.is_empty() {
        return Err(invalid(
            "projects",
            "You need to specify at least one project",
        ));
    }
    if request.projects.len() > MAX_PROJECTS {
        return Err(invalid("projects", "too many projects"));
    }
    let mut projects: Vec<ProjectId> = Vec::with_capacity(request.projects.len());
    for slug in &request.projects {
        match meta.project_by_slug(org, slug).await? {
            Some(project) => projects.push(project.id),
            None => return Err(invalid("projects", "One or more projects are invalid")),
        }
    }
    let version = request.version.filter(|v| !v.is_empty());
    if let Some(version) = &version {
        super::releases::check_version(version)?;
    }
    let dist = request.dist.filter(|d| !d.is_empty());
    if dist
        .as_ref()
        .is_some_and(|d| d.len() > 64 || d.contains(['\n', '\r', '\t']))
    {
        return Err(invalid(
            "dist",
            "a dist is at most 64 characters, on one line",
        ));
    }

    if let Some(existing) = store.bundle_by_checksum(org, &checksum).await? {
        store
            .insert_bundle(&NewArtifactBundle {
                org_id: org,
                checksum,
                bundle_id: existing.bundle_id,
                release: existing.release,
                dist: existing.dist,
                projects,
                files: Vec::new(),
                size: existing.size,
                blob: existing.blob,
            })
            .await?;
        return Ok(Assembled::Ok);
    }
    let mut missing = store.missing_chunks(org, &chunks).await?;
    // A chunk on record whose bytes are gone (a volume not shared) is
    // asked for again rather than failing the assembly.
    missing.extend(
        chunks
            .iter()
            .filter(|c| !missing.contains(c) && !blobs.exists(&artifacts::chunk_key(org.0, c)))
            .cloned()
            .collect::<Vec<_>>(),
    );
    if !missing.is_empty() {
        let mut seen = std::collections::HashSet::new();
        missing.retain(|c| seen.insert(c.clone()));
        return Ok(Assembled::Missing(missing));
    }

    let key = artifacts::bundle_key(org.0, &checksum);
    let dir = blobs.clone();
    let (target, sum, list) = (key.clone(), checksum.clone(), chunks.clone());
    let built = tokio::task::spawn_blocking(move || -> Result<_, String> {
        let size = artifacts::assemble(&dir, org.0, &list, &sum, &target, max_size)
            .map_err(|e| e.to_string())?;
        let checked = dir
            .open(&target)
            .map_err(|e| e.to_string())
            .and_then(|file| {
                artifacts::Bundle::open(std::io::BufReader::new(file))
                    .and_then(|mut b| b.manifest())
                    .map_err(|e| e.to_string())
            });
        match checked {
            Ok(manifest) => Ok((size, manifest)),
            Err(e) => {
                let _ = dir.delete(&target);
                Err(e)
            }
        }
    })
    .await
    .expect("assembling does not panic");
    let (size, manifest) = match built {
        Ok(built) => built,
        Err(detail) => return Ok(Assembled::Error(detail)),
    };
    store
        .insert_bundle(&NewArtifactBundle {
            org_id: org,
            checksum,
            bundle_id: manifest.bundle_id,
            release: version.or(manifest.release),
            dist: dist.or(manifest.dist),
            projects,
            files: manifest.files,
            size,
            blob: key,
        })
        .await?;
    store.remove_chunks(org, &chunks).await?;
    for chunk in &chunks {
        let _ = blobs.delete(&artifacts::chunk_key(org.0, chunk));
    }
    Ok(Assembled::Ok)
}
