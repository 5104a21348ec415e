-- Issue alert rules (Sentry's `sentry_rule`): `data` is the rule's
-- canonical JSON (conditions, filters, actions, matches, frequency).
CREATE TABLE alert_rules (
    id BIGSERIAL PRIMARY KEY,
    project_id BIGINT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'active',
    data TEXT NOT NULL,
    created_by BIGINT REFERENCES users (id) ON DELETE SET NULL,
    date_created BIGINT NOT NULL,
    last_triggered BIGINT
);
CREATE INDEX alert_rules_project ON alert_rules (project_id);
-- One row per firing of a rule for an issue, caused by one event: the
-- unique key makes a redelivered message fire nothing new, and the
-- (rule, issue, time) index answers "fired within the action interval".
CREATE TABLE rule_fires (
    id BIGSERIAL PRIMARY KEY,
    rule_id BIGINT NOT NULL REFERENCES alert_rules (id) ON DELETE CASCADE,
    project_id BIGINT NOT NULL,
    group_id BIGINT NOT NULL,
    event_id TEXT NOT NULL,
    date_fired BIGINT NOT NULL,
    UNIQUE (rule_id, group_id, event_id)
);
CREATE INDEX rule_fires_recent ON rule_fires (rule_id, group_id, date_fired);
CREATE INDEX rule_fires_project ON rule_fires (project_id, date_fired);
-- What a firing sends, one row per channel and recipient, written with the
-- firing (an outbox): the notifier claims due rows, sends, and records
-- the outcome, so a crash between firing and sending loses nothing.
CREATE TABLE alert_deliveries (
    id BIGSERIAL PRIMARY KEY,
    fire_id BIGINT REFERENCES rule_fires (id) ON DELETE CASCADE,
    project_id BIGINT NOT NULL,
    channel TEXT NOT NULL,
    target TEXT NOT NULL,
    payload TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt BIGINT NOT NULL,
    last_error TEXT,
    date_created BIGINT NOT NULL,
    date_updated BIGINT NOT NULL
);
CREATE INDEX alert_deliveries_due ON alert_deliveries (status, next_attempt);
CREATE INDEX alert_deliveries_fire ON alert_deliveries (fire_id);
-- Project plugins (Sentry's legacy plugins): the chat and webhook channels.
CREATE TABLE project_plugins (
    project_id BIGINT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    slug TEXT NOT NULL,
    enabled BOOLEAN NOT NULL DEFAULT FALSE,
    config TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (project_id, slug)
);
-- Members who turned alert emails off for a project (Sentry's per-project
-- `mail:alert` user option set to off).
CREATE TABLE alert_email_opt_outs (
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    project_id BIGINT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, project_id)
);
