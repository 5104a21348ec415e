CREATE TABLE users (
    id BIGSERIAL PRIMARY KEY,
    email TEXT NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    password_hash TEXT,
    is_superuser BOOLEAN NOT NULL DEFAULT FALSE,
    is_active BOOLEAN NOT NULL DEFAULT TRUE,
    date_joined BIGINT NOT NULL,
    timezone TEXT NOT NULL DEFAULT 'UTC'
);
CREATE UNIQUE INDEX users_email ON users (lower(email));
CREATE TABLE api_tokens (
    id BIGSERIAL PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    scopes TEXT NOT NULL,
    name TEXT,
    date_created BIGINT NOT NULL
);
CREATE TABLE organizations (
    id BIGSERIAL PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    date_created BIGINT NOT NULL
);
CREATE TABLE org_members (
    org_id BIGINT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role TEXT NOT NULL,
    date_added BIGINT NOT NULL,
    PRIMARY KEY (org_id, user_id)
);
CREATE TABLE projects (
    id BIGSERIAL PRIMARY KEY,
    org_id BIGINT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    slug TEXT NOT NULL,
    name TEXT NOT NULL,
    platform TEXT,
    date_created BIGINT NOT NULL,
    first_event BIGINT,
    next_short_id BIGINT NOT NULL DEFAULT 0,
    UNIQUE (org_id, slug)
);
CREATE TABLE project_keys (
    id BIGSERIAL PRIMARY KEY,
    project_id BIGINT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    label TEXT NOT NULL,
    public_key TEXT NOT NULL UNIQUE,
    secret_key TEXT NOT NULL,
    is_active BOOLEAN NOT NULL DEFAULT TRUE,
    rate_limit_count BIGINT,
    rate_limit_window BIGINT,
    date_created BIGINT NOT NULL
);
CREATE TABLE issues (
    id BIGSERIAL PRIMARY KEY,
    project_id BIGINT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    hash TEXT NOT NULL,
    short_id BIGINT NOT NULL,
    title TEXT NOT NULL,
    culprit TEXT NOT NULL,
    level TEXT NOT NULL,
    status TEXT NOT NULL,
    substatus TEXT,
    event_type TEXT NOT NULL,
    platform TEXT NOT NULL,
    metadata TEXT NOT NULL,
    count BIGINT NOT NULL,
    user_count BIGINT NOT NULL,
    first_seen BIGINT NOT NULL,
    last_seen BIGINT NOT NULL,
    first_release TEXT,
    resolved_at BIGINT,
    assignee_id BIGINT REFERENCES users (id) ON DELETE SET NULL,
    UNIQUE (project_id, hash),
    UNIQUE (project_id, short_id)
);
CREATE INDEX issues_project_last_seen ON issues (project_id, last_seen);
CREATE TABLE seen_events (
    project_id BIGINT NOT NULL,
    event_id TEXT NOT NULL,
    group_id BIGINT NOT NULL,
    is_new BOOLEAN NOT NULL,
    regression BOOLEAN NOT NULL,
    PRIMARY KEY (project_id, event_id)
);
CREATE TABLE issue_users (
    group_id BIGINT NOT NULL,
    user_tag TEXT NOT NULL,
    PRIMARY KEY (group_id, user_tag)
);
CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    created BIGINT NOT NULL,
    expires BIGINT NOT NULL
);
CREATE INDEX sessions_expires ON sessions (expires);
CREATE TABLE invites (
    token_hash TEXT PRIMARY KEY,
    org_id BIGINT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    email TEXT NOT NULL,
    role TEXT NOT NULL,
    invited_by BIGINT NOT NULL,
    created BIGINT NOT NULL,
    expires BIGINT NOT NULL
);
CREATE TABLE teams (
    id BIGSERIAL PRIMARY KEY,
    org_id BIGINT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    slug TEXT NOT NULL,
    name TEXT NOT NULL,
    date_created BIGINT NOT NULL,
    UNIQUE (org_id, slug)
);
CREATE TABLE project_teams (
    project_id BIGINT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    team_id BIGINT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    PRIMARY KEY (project_id, team_id)
);
