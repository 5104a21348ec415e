CREATE TABLE users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    email TEXT NOT NULL UNIQUE COLLATE NOCASE,
    name TEXT NOT NULL DEFAULT '',
    password_hash TEXT,
    is_superuser INTEGER NOT NULL DEFAULT 0,
    is_active INTEGER NOT NULL DEFAULT 1,
    date_joined INTEGER NOT NULL
);
CREATE TABLE api_tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    scopes TEXT NOT NULL,
    name TEXT,
    date_created INTEGER NOT NULL
);
CREATE TABLE organizations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    date_created INTEGER NOT NULL
);
CREATE TABLE org_members (
    org_id INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role TEXT NOT NULL,
    date_added INTEGER NOT NULL,
    PRIMARY KEY (org_id, user_id)
);
CREATE TABLE projects (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    slug TEXT NOT NULL,
    name TEXT NOT NULL,
    platform TEXT,
    date_created INTEGER NOT NULL,
    first_event INTEGER,
    next_short_id INTEGER NOT NULL DEFAULT 0,
    UNIQUE (org_id, slug)
);
CREATE TABLE project_keys (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id INTEGER NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    label TEXT NOT NULL,
    public_key TEXT NOT NULL UNIQUE,
    secret_key TEXT NOT NULL,
    is_active INTEGER NOT NULL DEFAULT 1,
    rate_limit_count INTEGER,
    rate_limit_window INTEGER,
    date_created INTEGER NOT NULL
);
CREATE TABLE issues (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id INTEGER NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    hash TEXT NOT NULL,
    short_id INTEGER NOT NULL,
    title TEXT NOT NULL,
    culprit TEXT NOT NULL,
    level TEXT NOT NULL,
    status TEXT NOT NULL,
    substatus TEXT,
    event_type TEXT NOT NULL,
    platform TEXT NOT NULL,
    metadata TEXT NOT NULL,
    count INTEGER NOT NULL,
    user_count INTEGER NOT NULL,
    first_seen INTEGER NOT NULL,
    last_seen INTEGER NOT NULL,
    first_release TEXT,
    resolved_at INTEGER,
    UNIQUE (project_id, hash),
    UNIQUE (project_id, short_id)
);
CREATE INDEX issues_project_last_seen ON issues (project_id, last_seen);
CREATE TABLE seen_events (
    project_id INTEGER NOT NULL,
    event_id TEXT NOT NULL,
    group_id INTEGER NOT NULL,
    is_new INTEGER NOT NULL,
    regression INTEGER NOT NULL,
    PRIMARY KEY (project_id, event_id)
) WITHOUT ROWID;
CREATE TABLE issue_users (
    group_id INTEGER NOT NULL,
    user_tag TEXT NOT NULL,
    PRIMARY KEY (group_id, user_tag)
) WITHOUT ROWID;
CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
