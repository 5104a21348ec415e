CREATE TABLE teams (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    slug TEXT NOT NULL,
    name TEXT NOT NULL,
    date_created INTEGER NOT NULL,
    UNIQUE (org_id, slug)
);
CREATE TABLE project_teams (
    project_id INTEGER NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    team_id INTEGER NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    PRIMARY KEY (project_id, team_id)
);
