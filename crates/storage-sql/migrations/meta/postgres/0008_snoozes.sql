-- Ignoring an issue until something happens (Sentry's snoozes: for a
-- while, until N more events, until N more users). Thresholds are
-- absolute: the issue's count or user count at which it comes back.
-- `seen_events.reappeared` remembers, for a redelivered event, that its
-- first delivery brought the issue back.
ALTER TABLE issues ADD COLUMN snooze_until BIGINT;
ALTER TABLE issues ADD COLUMN snooze_count BIGINT;
ALTER TABLE issues ADD COLUMN snooze_users BIGINT;
ALTER TABLE seen_events ADD COLUMN reappeared BOOLEAN NOT NULL DEFAULT FALSE;
