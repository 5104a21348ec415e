-- User feedback (Sentry's sentry_userreport): one report per event of a
-- project (a second one replaces it); its issue is its event's, found
-- through seen_events when read. No foreign key: a report for a project
-- deleted meanwhile must not stall the consumer; reads filter by project.
CREATE TABLE user_reports (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id INTEGER NOT NULL,
    event_id TEXT NOT NULL,
    name TEXT NOT NULL,
    email TEXT NOT NULL,
    comments TEXT NOT NULL,
    url TEXT,
    date_created INTEGER NOT NULL,
    UNIQUE (project_id, event_id)
);
CREATE INDEX user_reports_project_date ON user_reports (project_id, date_created);
CREATE INDEX user_reports_date ON user_reports (date_created);
