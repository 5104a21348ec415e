-- Ignoring an issue until something happens (Sentry's snoozes: for a
-- while, until N more events, until N more users). Thresholds are
-- absolute: the issue's count or user count at which it comes back.
-- `seen_events.reappeared` remembers, for a redelivered event, that its
-- first delivery brought the issue back.
ALTER TABLE issues ADD COLUMN snooze_until INTEGER;
ALTER TABLE issues ADD COLUMN snooze_count INTEGER;
ALTER TABLE issues ADD COLUMN snooze_users INTEGER;
ALTER TABLE seen_events ADD COLUMN reappeared INTEGER NOT NULL DEFAULT 0;
