-- What frequency conditions count, kept by the notifier as it consumes
-- post-process (so a rule is evaluated from counts, never by rescanning
-- events): events per issue in one-minute buckets (windows up to an
-- hour) and one-hour buckets (a day, a week, 30 days), and when each user
-- was last seen on each issue. The notifier prunes what no window reaches.
CREATE TABLE alert_event_counts (
    group_id INTEGER NOT NULL,
    width INTEGER NOT NULL,
    bucket INTEGER NOT NULL,
    events INTEGER NOT NULL,
    PRIMARY KEY (group_id, width, bucket)
);
CREATE INDEX alert_event_counts_age ON alert_event_counts (width, bucket);
CREATE TABLE alert_group_users (
    group_id INTEGER NOT NULL,
    user_key TEXT NOT NULL,
    last_seen INTEGER NOT NULL,
    PRIMARY KEY (group_id, user_key)
);
CREATE INDEX alert_group_users_recent ON alert_group_users (group_id, last_seen);
CREATE INDEX alert_group_users_age ON alert_group_users (last_seen);
