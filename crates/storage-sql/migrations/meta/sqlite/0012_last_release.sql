-- The release of an issue's newest event (Sentry's `lastRelease`).
ALTER TABLE issues ADD COLUMN last_release TEXT;
