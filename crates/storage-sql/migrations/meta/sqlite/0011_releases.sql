-- Releases (Sentry's `sentry_release`): a version of an organization's
-- code, the projects it is in, its deploys and the commits sentry-cli
-- set for it.
CREATE TABLE releases (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    version TEXT NOT NULL,
    ref TEXT,
    url TEXT,
    status TEXT NOT NULL DEFAULT 'open',
    date_created INTEGER NOT NULL,
    date_started INTEGER,
    date_released INTEGER,
    UNIQUE (org_id, version)
);
CREATE TABLE release_projects (
    release_id INTEGER NOT NULL REFERENCES releases (id) ON DELETE CASCADE,
    project_id INTEGER NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    PRIMARY KEY (release_id, project_id)
);
CREATE INDEX release_projects_project ON release_projects (project_id);
CREATE TABLE deploys (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    release_id INTEGER NOT NULL REFERENCES releases (id) ON DELETE CASCADE,
    environment TEXT NOT NULL,
    name TEXT,
    url TEXT,
    date_started INTEGER,
    date_finished INTEGER NOT NULL
);
CREATE INDEX deploys_release ON deploys (release_id, date_finished);
CREATE TABLE release_commits (
    release_id INTEGER NOT NULL REFERENCES releases (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    commit_id TEXT NOT NULL,
    repository TEXT,
    message TEXT,
    author_name TEXT,
    author_email TEXT,
    timestamp INTEGER,
    PRIMARY KEY (release_id, position)
);
