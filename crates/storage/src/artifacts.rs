//! Uploaded source maps, as sentry-cli sends them: chunks (pieces of a file,
//! named by their SHA-1) that `chunk-upload` receives, and the artifact
//! bundles assembled from them, each indexed by the URL and debug id of its
//! files so the symbolicator finds a frame's map without opening every
//! bundle. The bytes themselves live in the [`BlobDir`](crate::BlobDir);
//! this seam keeps what is where, and how much each organization keeps.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use faultline_protocol::{OrgId, ProjectId};

use crate::Result;

/// The kinds of file a bundle's manifest names (Sentry's `type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArtifactType {
    MinifiedSource,
    SourceMap,
    Source,
    /// Anything else a manifest names (`indexed_ram_bundle`, …): kept in
    /// the index, never looked up.
    Other,
}

impl ArtifactType {
    pub fn parse(s: &str) -> Self {
        match s {
            "minified_source" => ArtifactType::MinifiedSource,
            "source_map" => ArtifactType::SourceMap,
            "source" => ArtifactType::Source,
            _ => ArtifactType::Other,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ArtifactType::MinifiedSource => "minified_source",
            ArtifactType::SourceMap => "source_map",
            ArtifactType::Source => "source",
            ArtifactType::Other => "other",
        }
    }
}

/// One file of a bundle, as its manifest describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct ArtifactFile {
    /// The ZIP entry holding it.
    pub path: String,
    /// Where the SDK saw it: `~/static/app.min.js`, or a full URL.
    pub url: String,
    pub ty: ArtifactType,
    /// Its debug id (lowercase, hyphenated), from the `debug-id` header.
    pub debug_id: Option<String>,
    /// A minified file's `sourcemap` header: its map's URL, relative to it.
    pub sourcemap: Option<String>,
    /// Uncompressed, as the ZIP entry declares it.
    pub size: u64,
}

/// A bundle to record, assembled and checked.
#[derive(Debug, Clone)]
pub struct NewArtifactBundle {
    pub org_id: OrgId,
    /// SHA-1 of the uploaded file, hex: what `assemble` names it by.
    pub checksum: String,
    /// The manifest's `debug_id`.
    pub bundle_id: Option<String>,
    pub release: Option<String>,
    pub dist: Option<String>,
    pub projects: Vec<ProjectId>,
    pub files: Vec<ArtifactFile>,
    pub size: u64,
    /// Its key in the blob store.
    pub blob: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ArtifactBundle {
    pub id: i64,
    pub org_id: OrgId,
    pub checksum: String,
    pub bundle_id: Option<String>,
    pub release: Option<String>,
    pub dist: Option<String>,
    pub file_count: u64,
    pub size: u64,
    pub blob: String,
    pub date_added: DateTime<Utc>,
}

/// A file found for a frame: the bundle (its blob) and the file in it.
#[derive(Debug, Clone, PartialEq)]
pub struct FoundArtifact {
    pub bundle_id: i64,
    pub blob: String,
    pub file: ArtifactFile,
}

/// What [`ArtifactStore::record_chunks`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkAdmission {
    Recorded,
    /// The organization's uploads would exceed the quota: nothing recorded.
    OverQuota {
        used: u64,
    },
}

/// What retention removed: the blobs that are no longer anyone's.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExpiredArtifacts {
    /// `(organization, checksum)` of chunks nobody assembled in time.
    pub chunks: Vec<(OrgId, String)>,
    /// Blob keys of bundles not used within the retention.
    pub bundles: Vec<String>,
}

#[async_trait]
pub trait ArtifactStore: Send + Sync {
    /// Records received chunks `(checksum, size)` of `org`, unless the
    /// organization's chunks and bundles would then exceed `quota` bytes
    /// (chunks it has already count once).
    async fn record_chunks(
        &self,
        org: OrgId,
        chunks: &[(String, u64)],
        quota: u64,
    ) -> Result<ChunkAdmission>;
    /// Which of `checksums` the organization has not uploaded, in order.
    async fn missing_chunks(&self, org: OrgId, checksums: &[String]) -> Result<Vec<String>>;
    /// Forgets chunks (after assembly: the bundle holds their bytes now).
    async fn remove_chunks(&self, org: OrgId, checksums: &[String]) -> Result<()>;
    /// Bytes the organization keeps in chunks and bundles.
    async fn upload_usage(&self, org: OrgId) -> Result<u64>;

    async fn bundle_by_checksum(
        &self,
        org: OrgId,
        checksum: &str,
    ) -> Result<Option<ArtifactBundle>>;
    /// Records a bundle and its file index. A bundle with the same
    /// checksum is kept instead, its projects extended; returns it and
    /// whether this one was new.
    async fn insert_bundle(&self, bundle: &NewArtifactBundle) -> Result<(ArtifactBundle, bool)>;
    /// The bundles uploaded for a release of `org`, newest first, with
    /// their files.
    async fn release_bundles(
        &self,
        org: OrgId,
        release: &str,
    ) -> Result<Vec<(ArtifactBundle, Vec<ArtifactFile>)>>;
    /// The organization's bundles, newest first, at most `limit`.
    async fn bundles(&self, org: OrgId, limit: usize) -> Result<Vec<ArtifactBundle>>;

    /// The newest file of `ty` with `debug_id` in a bundle of `project`.
    async fn artifact_by_debug_id(
        &self,
        project: ProjectId,
        debug_id: &str,
        ty: ArtifactType,
    ) -> Result<Option<FoundArtifact>>;
    /// The files (minified sources, maps, sources) of the bundles of
    /// `project` for `release` and `dist`, newest bundle first, at most
    /// `limit`: what a frame's URL is matched against when no exact
    /// candidate URL is on record.
    async fn release_files(
        &self,
        project: ProjectId,
        release: &str,
        dist: Option<&str>,
        limit: usize,
    ) -> Result<Vec<FoundArtifact>>;
    /// Notes that bundles were used (retention counts from the last use).
    async fn touch_bundles(&self, bundles: &[i64], at: DateTime<Utc>) -> Result<()>;

    /// Deletes chunks added before `chunks_before` and bundles last used
    /// before `bundles_before`; returns what their blobs were.
    async fn expire_artifacts(
        &self,
        chunks_before: DateTime<Utc>,
        bundles_before: DateTime<Utc>,
    ) -> Result<ExpiredArtifacts>;
}
