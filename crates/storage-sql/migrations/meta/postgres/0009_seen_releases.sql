-- The releases each project's events have named, with when the first of
-- them came: the latest-release filter of alert rules compares an event's
-- release with the project's newest (as Sentry orders releases created on
-- the fly, by when they were first seen). Kept by the notifier for
-- projects with such a rule.
CREATE TABLE seen_releases (
    project_id BIGINT NOT NULL,
    version TEXT NOT NULL,
    first_seen BIGINT NOT NULL,
    PRIMARY KEY (project_id, version)
);
CREATE INDEX seen_releases_latest ON seen_releases (project_id, first_seen);
