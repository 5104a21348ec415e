-- Source-map uploads. upload_chunks are the pieces sentry-cli sent to
-- chunk-upload, kept (in the blob store) until a bundle is assembled from
-- them; artifact_bundles are the assembled bundles (Sentry's
-- `sentry_artifactbundle`), with the projects they were uploaded for and
-- an index of their files by URL and debug id. Both count against the
-- organization's upload quota.
CREATE TABLE upload_chunks (
    org_id BIGINT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    checksum TEXT NOT NULL,
    size BIGINT NOT NULL,
    date_added BIGINT NOT NULL,
    PRIMARY KEY (org_id, checksum)
);
CREATE INDEX upload_chunks_date ON upload_chunks (date_added);
CREATE TABLE artifact_bundles (
    id BIGSERIAL PRIMARY KEY,
    org_id BIGINT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    checksum TEXT NOT NULL,
    bundle_id TEXT,
    release TEXT,
    dist TEXT,
    file_count BIGINT NOT NULL,
    size BIGINT NOT NULL,
    blob TEXT NOT NULL,
    date_added BIGINT NOT NULL,
    date_last_used BIGINT NOT NULL,
    UNIQUE (org_id, checksum)
);
CREATE INDEX artifact_bundles_release ON artifact_bundles (org_id, release);
CREATE INDEX artifact_bundles_used ON artifact_bundles (date_last_used);
CREATE TABLE artifact_bundle_projects (
    bundle_id BIGINT NOT NULL REFERENCES artifact_bundles (id) ON DELETE CASCADE,
    project_id BIGINT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    PRIMARY KEY (bundle_id, project_id)
);
CREATE INDEX artifact_bundle_projects_project ON artifact_bundle_projects (project_id);
CREATE TABLE artifact_bundle_files (
    bundle_id BIGINT NOT NULL REFERENCES artifact_bundles (id) ON DELETE CASCADE,
    path TEXT NOT NULL,
    url TEXT NOT NULL,
    file_type TEXT NOT NULL,
    debug_id TEXT,
    sourcemap TEXT,
    size BIGINT NOT NULL,
    PRIMARY KEY (bundle_id, path)
);
CREATE INDEX artifact_bundle_files_debug_id ON artifact_bundle_files (debug_id);
CREATE INDEX artifact_bundle_files_url ON artifact_bundle_files (url);
