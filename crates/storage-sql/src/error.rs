//! sqlx's errors as [`StorageError`]s: the one place where a driver error
//! gets its meaning (a unique violation is a conflict, a lost connection
//! makes the store unavailable), so callers never see sqlx.

use faultline_storage::StorageError;

pub(crate) fn db_error(e: sqlx::Error) -> StorageError {
    match e {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            StorageError::Conflict(db.message().to_owned())
        }
        sqlx::Error::RowNotFound => StorageError::NotFound,
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_) => StorageError::Unavailable(e.to_string()),
        sqlx::Error::ColumnDecode { .. }
        | sqlx::Error::ColumnNotFound(_)
        | sqlx::Error::ColumnIndexOutOfBounds { .. }
        | sqlx::Error::Decode(_) => StorageError::Corrupt(e.to_string()),
        other => StorageError::Database(Box::new(other)),
    }
}

/// Names what a unique violation was about, for the methods whose contract
/// promises a [`StorageError::Conflict`] (a taken email or slug).
pub(crate) fn conflict(what: &'static str) -> impl FnOnce(StorageError) -> StorageError {
    move |e| match e {
        StorageError::Conflict(_) => StorageError::Conflict(what.to_owned()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lost_connections_are_unavailability_and_missing_rows_not_found() {
        assert!(matches!(
            db_error(sqlx::Error::PoolTimedOut),
            StorageError::Unavailable(_)
        ));
        assert!(matches!(
            db_error(sqlx::Error::RowNotFound),
            StorageError::NotFound
        ));
        assert!(matches!(
            db_error(sqlx::Error::ColumnNotFound("id".into())),
            StorageError::Corrupt(_)
        ));
    }

    #[test]
    fn conflicts_get_the_callers_words_and_other_errors_pass() {
        let named = conflict("a team with this slug")(StorageError::Conflict("teams.slug".into()));
        assert!(matches!(named, StorageError::Conflict(m) if m == "a team with this slug"));
        assert!(matches!(
            conflict("x")(StorageError::NotFound),
            StorageError::NotFound
        ));
    }
}
