-- Releases (Sentry's `sentry_release`): a version of an organization's
-- code, the projects it is in, its deploys and the commits sentry-cli
-- set for it.
CREATE TABLE releases (
    id BIGSERIAL PRIMARY KEY,
    org_id BIGINT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    version TEXT NOT NULL,
    ref TEXT,
    url TEXT,
    status TEXT NOT NULL DEFAULT 'open',
    date_created BIGINT NOT NULL,
    date_started BIGINT,
    date_released BIGINT,
    UNIQUE (org_id, version)
);
CREATE TABLE release_projects (
    release_id BIGINT NOT NULL REFERENCES releases (id) ON DELETE CASCADE,
    project_id BIGINT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    PRIMARY KEY (release_id, project_id)
);
CREATE INDEX release_projects_project ON release_projects (project_id);
CREATE TABLE deploys (
    id BIGSERIAL PRIMARY KEY,
    release_id BIGINT NOT NULL REFERENCES releases (id) ON DELETE CASCADE,
    environment TEXT NOT NULL,
    name TEXT,
    url TEXT,
    date_started BIGINT,
    date_finished BIGINT NOT NULL
);
CREATE INDEX deploys_release ON deploys (release_id, date_finished);
CREATE TABLE release_commits (
    release_id BIGINT NOT NULL REFERENCES releases (id) ON DELETE CASCADE,
    position BIGINT NOT NULL,
    commit_id TEXT NOT NULL,
    repository TEXT,
    message TEXT,
    author_name TEXT,
    author_email TEXT,
    timestamp BIGINT,
    PRIMARY KEY (release_id, position)
);
