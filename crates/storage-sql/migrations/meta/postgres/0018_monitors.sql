-- Cron monitors (Sentry's sentry_monitor, sentry_monitorenvironment and
-- sentry_monitorcheckin). Times are milliseconds since the epoch.
CREATE TABLE monitors (
    id BIGSERIAL PRIMARY KEY,
    guid TEXT NOT NULL UNIQUE,
    project_id BIGINT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    slug TEXT NOT NULL,
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    is_muted BOOLEAN NOT NULL DEFAULT FALSE,
    -- The MonitorConfig as JSON.
    config TEXT NOT NULL,
    date_created BIGINT NOT NULL,
    UNIQUE (project_id, slug)
);
CREATE TABLE monitor_environments (
    id BIGSERIAL PRIMARY KEY,
    monitor_id BIGINT NOT NULL REFERENCES monitors (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    date_created BIGINT NOT NULL,
    last_checkin BIGINT,
    next_checkin BIGINT,
    next_checkin_latest BIGINT,
    failures BIGINT NOT NULL DEFAULT 0,
    successes BIGINT NOT NULL DEFAULT 0,
    incident_open BOOLEAN NOT NULL DEFAULT FALSE,
    version BIGINT NOT NULL DEFAULT 0,
    UNIQUE (monitor_id, name)
);
-- The missed-check-in sweep reads only what is due.
CREATE INDEX monitor_environments_due ON monitor_environments (next_checkin_latest);
CREATE TABLE monitor_checkins (
    id BIGSERIAL PRIMARY KEY,
    guid TEXT NOT NULL,
    monitor_id BIGINT NOT NULL REFERENCES monitors (id) ON DELETE CASCADE,
    environment_id BIGINT NOT NULL REFERENCES monitor_environments (id) ON DELETE CASCADE,
    status TEXT NOT NULL,
    duration_ms BIGINT,
    date_created BIGINT NOT NULL,
    date_updated BIGINT NOT NULL,
    expected_time BIGINT,
    timeout_at BIGINT,
    config TEXT NOT NULL,
    UNIQUE (monitor_id, guid)
);
CREATE INDEX monitor_checkins_monitor_date ON monitor_checkins (monitor_id, date_created);
CREATE INDEX monitor_checkins_environment_date ON monitor_checkins (environment_id, date_created);
CREATE INDEX monitor_checkins_date ON monitor_checkins (date_created);
-- The timeout sweep reads only in-progress check-ins.
CREATE INDEX monitor_checkins_timeout ON monitor_checkins (timeout_at) WHERE status = 'in_progress';
