//! What SQLite and PostgreSQL spell differently, and nothing else: every
//! query is written once, in the SQL both accept, and asks here for the few
//! pieces that differ. Placeholders are not among them: queries write `?`
//! and [`super::driver::Query`] numbers them (`$1`, `$2`, …) for PostgreSQL.

/// Which SQL the database speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// The smaller of two values. SQLite's two-argument `MIN` is a scalar
    /// function; PostgreSQL has only the aggregate and spells this `LEAST`.
    pub(crate) fn least(self) -> &'static str {
        match self {
            Dialect::Sqlite => "MIN",
            Dialect::Postgres => "LEAST",
        }
    }

    /// The larger of two values (`MAX` / `GREATEST`, as [`Self::least`]).
    pub(crate) fn greatest(self) -> &'static str {
        match self {
            Dialect::Sqlite => "MAX",
            Dialect::Postgres => "GREATEST",
        }
    }

    /// The pattern match that ignores case: SQLite's `LIKE` already does
    /// (for ASCII), PostgreSQL's does not.
    pub(crate) fn like_ignoring_case(self) -> &'static str {
        match self {
            Dialect::Sqlite => "LIKE",
            Dialect::Postgres => "ILIKE",
        }
    }

    /// `users.email` equal to one bound value, ignoring case, in the form
    /// the unique index serves: SQLite's column collates NOCASE, while
    /// PostgreSQL's index is on `lower(email)`.
    pub(crate) fn email_matches(self) -> &'static str {
        match self {
            Dialect::Sqlite => "email = ?",
            Dialect::Postgres => "lower(email) = lower(?)",
        }
    }

    /// A statement locking one organization row (binding its id) until the
    /// transaction ends, so membership changes of one organization happen
    /// one after another. SQLite needs none: its single writer connection
    /// already runs write transactions one at a time. Under PostgreSQL's
    /// READ COMMITTED, two transactions demoting two different owners would
    /// otherwise each count the other as still an owner.
    pub(crate) fn lock_organization(self) -> Option<&'static str> {
        match self {
            Dialect::Sqlite => None,
            Dialect::Postgres => Some("SELECT id FROM organizations WHERE id = ? FOR UPDATE"),
        }
    }

    /// A statement locking one alert rule row (binding its id) until the
    /// transaction ends, so two notifiers deciding whether the rule fires
    /// for an issue decide one after the other; SQLite's single writer
    /// already does.
    pub(crate) fn lock_alert_rule(self) -> Option<&'static str> {
        match self {
            Dialect::Sqlite => None,
            Dialect::Postgres => Some("SELECT id FROM alert_rules WHERE id = ? FOR UPDATE"),
        }
    }

    /// A statement locking one project row (binding its id) until the
    /// transaction ends, so two notifiers queue one summary between them.
    pub(crate) fn lock_project(self) -> Option<&'static str> {
        match self {
            Dialect::Sqlite => None,
            Dialect::Postgres => Some("SELECT id FROM projects WHERE id = ? FOR UPDATE"),
        }
    }

    /// What lets concurrent claims of queued rows pass over the rows another
    /// transaction has locked instead of waiting for them; SQLite has no
    /// row locks (its one writer claims alone).
    pub(crate) fn skip_locked(self) -> &'static str {
        match self {
            Dialect::Sqlite => "",
            Dialect::Postgres => " FOR UPDATE SKIP LOCKED",
        }
    }

    /// The 64-bit integer column type. SQLite's integers are 64-bit anyway,
    /// and `INTEGER PRIMARY KEY` is what makes a column its row id.
    pub(crate) fn bigint(self) -> &'static str {
        match self {
            Dialect::Sqlite => "INTEGER",
            Dialect::Postgres => "BIGINT",
        }
    }
}
