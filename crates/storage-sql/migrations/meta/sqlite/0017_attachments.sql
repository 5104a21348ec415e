-- Event attachments (Sentry's eventattachment): what describes each file an
-- SDK sent beside an event; the bytes are in the blob store, under
-- attachments/<project>/<event>/<sha1>. One row per event, name and
-- content, so a redelivered item is kept once. No foreign key, as for user
-- reports: a deleted project must not stall the consumer.
CREATE TABLE event_attachments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id INTEGER NOT NULL,
    event_id TEXT NOT NULL,
    name TEXT NOT NULL,
    -- The item's attachment_type: event.attachment, event.minidump, …
    attachment_type TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size INTEGER NOT NULL,
    sha1 TEXT NOT NULL,
    date_created INTEGER NOT NULL,
    UNIQUE (project_id, event_id, name, sha1)
);
CREATE INDEX event_attachments_date ON event_attachments (date_created);
