CREATE TABLE invites (
    token_hash TEXT PRIMARY KEY,
    org_id INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    email TEXT NOT NULL,
    role TEXT NOT NULL,
    invited_by INTEGER NOT NULL,
    created INTEGER NOT NULL,
    expires INTEGER NOT NULL
);
ALTER TABLE issues ADD COLUMN assignee_id INTEGER REFERENCES users (id) ON DELETE SET NULL;
