-- When each recorded event happened (its timestamp, in milliseconds), so
-- retention prunes the ids of deleted events while their issue lives on.
-- Rows from before take their issue's last event time: never pruned early.
ALTER TABLE seen_events ADD COLUMN event_time BIGINT NOT NULL DEFAULT 0;
UPDATE seen_events SET event_time = COALESCE(
    (SELECT last_seen FROM issues WHERE issues.id = seen_events.group_id), 0);
CREATE INDEX seen_events_event_time ON seen_events (event_time);
