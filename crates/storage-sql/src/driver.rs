//! The connections of one database and the one way queries run on them.
//!
//! [`Pools`] is SQLite's single writer plus readers, or PostgreSQL's one
//! pool. A [`Query`] is built from SQL text with `?` placeholders (numbered
//! `$1`, `$2`, … as it is pushed, for PostgreSQL) and values bound straight
//! into the driver's own argument buffer, so nothing is copied on the way;
//! it runs on a reader, the writer, or an open [`Tx`]. Rows come back as
//! [`Row`], read with typed, fallible getters. Every sqlx error is mapped to
//! a [`StorageError`] here.

use sqlx::postgres::{PgArguments, PgConnection, PgPool, PgRow};
use sqlx::sqlite::{SqliteArguments, SqliteConnection, SqlitePool, SqliteRow};
use sqlx::{Arguments, ColumnIndex, Decode, Encode, Postgres, Sqlite, Type};

use super::dialect::Dialect;
use super::error::db_error;
use faultline_storage::{Result, StorageError};

/// Reports `pool`'s connections on `/metrics` as `name`.
pub(crate) fn watch_pool<DB: sqlx::Database>(name: &'static str, pool: &sqlx::Pool<DB>) {
    let pool = pool.clone();
    faultline_storage::metrics::watch_pool(name, move || faultline_storage::metrics::PoolState {
        open: pool.size(),
        idle: u32::try_from(pool.num_idle()).unwrap_or(u32::MAX),
        max: pool.options().get_max_connections(),
    });
}

/// A value a query can bind, on either database.
pub(crate) trait Param<'q>:
    'q + Send + Encode<'q, Sqlite> + Type<Sqlite> + Encode<'q, Postgres> + Type<Postgres>
{
}

impl<'q, T> Param<'q> for T where
    T: 'q + Send + Encode<'q, Sqlite> + Type<Sqlite> + Encode<'q, Postgres> + Type<Postgres>
{
}

/// A value a row can give, on either database.
pub(crate) trait Column:
    for<'r> Decode<'r, Sqlite> + Type<Sqlite> + for<'r> Decode<'r, Postgres> + Type<Postgres>
{
}

impl<T> Column for T where
    T: for<'r> Decode<'r, Sqlite> + Type<Sqlite> + for<'r> Decode<'r, Postgres> + Type<Postgres>
{
}

/// A column name or position, on either database.
pub(crate) trait ColumnName: ColumnIndex<SqliteRow> + ColumnIndex<PgRow> {}

impl<T: ColumnIndex<SqliteRow> + ColumnIndex<PgRow>> ColumnName for T {}

/// The connections of one database.
#[derive(Clone)]
pub(crate) enum Pools {
    /// One writer connection (SQLite allows one writer; queuing writers
    /// in-process avoids lock upgrade failures) and read-only readers.
    Sqlite(crate::sqlite::Db),
    /// PostgreSQL needs no single writer: reads and writes share a pool.
    Postgres(PgPool),
}

impl Pools {
    pub(crate) fn dialect(&self) -> Dialect {
        match self {
            Pools::Sqlite(_) => Dialect::Sqlite,
            Pools::Postgres(_) => Dialect::Postgres,
        }
    }

    /// A query that only reads, outside any transaction.
    pub(crate) fn read<'c, 'q>(&'c self, sql: &str) -> Query<'c, 'q> {
        Query::new(
            match self {
                Pools::Sqlite(db) => Target::Sqlite(On::Pool(&db.read), SqliteArguments::default()),
                Pools::Postgres(pool) => Target::Postgres(On::Pool(pool), PgArguments::default()),
            },
            sql,
        )
    }

    /// A query that writes, as a transaction of its own.
    pub(crate) fn write<'c, 'q>(&'c self, sql: &str) -> Query<'c, 'q> {
        Query::new(
            match self {
                Pools::Sqlite(db) => {
                    Target::Sqlite(On::Pool(&db.write), SqliteArguments::default())
                }
                Pools::Postgres(pool) => Target::Postgres(On::Pool(pool), PgArguments::default()),
            },
            sql,
        )
    }

    /// A write transaction (on SQLite's writer connection, which it holds
    /// until it ends).
    pub(crate) async fn begin(&self) -> Result<Tx> {
        Ok(match self {
            Pools::Sqlite(db) => Tx::Sqlite(db.write.begin().await.map_err(db_error)?),
            Pools::Postgres(pool) => Tx::Postgres(pool.begin().await.map_err(db_error)?),
        })
    }

    /// Bytes the database takes on disk.
    pub(crate) async fn disk_bytes(&self) -> Result<u64> {
        match self {
            Pools::Sqlite(db) => Ok(db.disk_bytes()),
            Pools::Postgres(pool) => {
                let bytes: i64 = sqlx::query_scalar("SELECT pg_database_size(current_database())")
                    .fetch_one(pool)
                    .await
                    .map_err(db_error)?;
                Ok(bytes.max(0) as u64)
            }
        }
    }

    /// Gives the space of rows deleted from `tables` back: SQLite cuts its
    /// free pages off the file, PostgreSQL vacuums the tables (outside any
    /// transaction) so their space is reused and empty tail pages go.
    pub(crate) async fn reclaim(&self, tables: &[&str]) -> Result<()> {
        match self {
            Pools::Sqlite(db) => db.reclaim().await,
            Pools::Postgres(pool) => sqlx::raw_sql(&format!("VACUUM {}", tables.join(", ")))
                .execute(pool)
                .await
                .map(drop)
                .map_err(db_error),
        }
    }

    /// Statements without parameters (maintenance), on the writer.
    pub(crate) async fn execute_raw(&self, sql: &str) -> Result<()> {
        match self {
            Pools::Sqlite(db) => sqlx::raw_sql(sql).execute(&db.write).await.map(drop),
            Pools::Postgres(pool) => sqlx::raw_sql(sql).execute(pool).await.map(drop),
        }
        .map_err(db_error)
    }
}

/// An open write transaction; dropped without [`Tx::commit`], it rolls back.
pub(crate) enum Tx {
    Sqlite(sqlx::Transaction<'static, Sqlite>),
    Postgres(sqlx::Transaction<'static, Postgres>),
}

impl Tx {
    pub(crate) fn dialect(&self) -> Dialect {
        match self {
            Tx::Sqlite(_) => Dialect::Sqlite,
            Tx::Postgres(_) => Dialect::Postgres,
        }
    }

    pub(crate) fn query<'c, 'q>(&'c mut self, sql: &str) -> Query<'c, 'q> {
        Query::new(
            match self {
                Tx::Sqlite(tx) => Target::Sqlite(On::Conn(&mut **tx), SqliteArguments::default()),
                Tx::Postgres(tx) => Target::Postgres(On::Conn(&mut **tx), PgArguments::default()),
            },
            sql,
        )
    }

    /// Statements without parameters (schema migrations).
    pub(crate) async fn execute_raw(&mut self, sql: &str) -> Result<()> {
        match self {
            Tx::Sqlite(tx) => sqlx::raw_sql(sql).execute(&mut **tx).await.map(drop),
            Tx::Postgres(tx) => sqlx::raw_sql(sql).execute(&mut **tx).await.map(drop),
        }
        .map_err(db_error)
    }

    pub(crate) async fn commit(self) -> Result<()> {
        match self {
            Tx::Sqlite(tx) => tx.commit().await,
            Tx::Postgres(tx) => tx.commit().await,
        }
        .map_err(db_error)
    }
}

/// Where a query runs.
enum On<'c, P, C> {
    Pool(&'c P),
    Conn(&'c mut C),
}

/// The connection and the arguments of one database, so that a query can
/// never bind for one database and run on the other.
enum Target<'c, 'q> {
    Sqlite(On<'c, SqlitePool, SqliteConnection>, SqliteArguments<'q>),
    Postgres(On<'c, PgPool, PgConnection>, PgArguments),
}

/// One statement, built up and then run once.
pub(crate) struct Query<'c, 'q> {
    sql: String,
    placeholders: usize,
    bound: usize,
    /// The first value that failed to encode, reported when the query runs
    /// so that building stays chainable.
    bind_error: Option<sqlx::error::BoxDynError>,
    target: Target<'c, 'q>,
}

impl<'c, 'q> Query<'c, 'q> {
    fn new(target: Target<'c, 'q>, sql: &str) -> Self {
        let mut query = Query {
            sql: String::with_capacity(sql.len() + 16),
            placeholders: 0,
            bound: 0,
            bind_error: None,
            target,
        };
        query.push(sql);
        query
    }

    pub(crate) fn dialect(&self) -> Dialect {
        match self.target {
            Target::Sqlite(..) => Dialect::Sqlite,
            Target::Postgres(..) => Dialect::Postgres,
        }
    }

    /// Appends SQL text; each `?` in it is a placeholder for the next value
    /// bound. (No query here has a `?` inside a string literal.)
    pub(crate) fn push(&mut self, sql: &str) -> &mut Self {
        match self.dialect() {
            Dialect::Sqlite => {
                self.placeholders += sql.matches('?').count();
                self.sql.push_str(sql);
            }
            Dialect::Postgres => {
                let mut parts = sql.split('?');
                if let Some(first) = parts.next() {
                    self.sql.push_str(first);
                }
                for part in parts {
                    self.placeholders += 1;
                    self.sql.push('$');
                    self.sql.push_str(&self.placeholders.to_string());
                    self.sql.push_str(part);
                }
            }
        }
        self
    }

    /// Binds the value of the next placeholder.
    pub(crate) fn bind<T: Param<'q>>(mut self, value: T) -> Self {
        self.add(value);
        self
    }

    /// Appends a placeholder and binds its value.
    pub(crate) fn push_bind<T: Param<'q>>(&mut self, value: T) -> &mut Self {
        self.push("?");
        self.add(value);
        self
    }

    /// Appends `(?, ?, …)`, binding each value.
    pub(crate) fn push_list<T: Param<'q>>(&mut self, values: impl IntoIterator<Item = T>) {
        self.push("(");
        for (index, value) in values.into_iter().enumerate() {
            if index > 0 {
                self.push(", ");
            }
            self.push_bind(value);
        }
        self.push(")");
    }

    /// Appends `(…), (…), …`: one parenthesised row per item, whose
    /// values `row` pushes.
    pub(crate) fn push_rows<T>(
        &mut self,
        items: impl IntoIterator<Item = T>,
        mut row: impl FnMut(&mut Self, T),
    ) {
        for (index, item) in items.into_iter().enumerate() {
            self.push(if index == 0 { "(" } else { ", (" });
            row(self, item);
            self.push(")");
        }
    }

    fn add<T: Param<'q>>(&mut self, value: T) {
        self.bound += 1;
        let added = match &mut self.target {
            Target::Sqlite(_, arguments) => Arguments::add(arguments, value),
            Target::Postgres(_, arguments) => Arguments::add(arguments, value),
        };
        if let Err(e) = added {
            self.bind_error.get_or_insert(e);
        }
    }

    fn check(&mut self) -> Result<()> {
        debug_assert_eq!(
            self.placeholders, self.bound,
            "placeholders and bound values differ in `{}`",
            self.sql
        );
        match self.bind_error.take() {
            Some(e) => Err(StorageError::Database(e)),
            None => Ok(()),
        }
    }

    pub(crate) async fn fetch_all(mut self) -> Result<Vec<Row>> {
        self.check()?;
        let sql = self.sql.as_str();
        match self.target {
            Target::Sqlite(on, arguments) => {
                let query = sqlx::query_with(sql, arguments);
                let rows = match on {
                    On::Pool(pool) => query.fetch_all(pool).await,
                    On::Conn(conn) => query.fetch_all(conn).await,
                };
                Ok(rows
                    .map_err(db_error)?
                    .into_iter()
                    .map(Row::Sqlite)
                    .collect())
            }
            Target::Postgres(on, arguments) => {
                let query = sqlx::query_with(sql, arguments);
                let rows = match on {
                    On::Pool(pool) => query.fetch_all(pool).await,
                    On::Conn(conn) => query.fetch_all(conn).await,
                };
                Ok(rows
                    .map_err(db_error)?
                    .into_iter()
                    .map(Row::Postgres)
                    .collect())
            }
        }
    }

    /// The first row, if any (the queries that use this return at most one).
    pub(crate) async fn fetch_optional(self) -> Result<Option<Row>> {
        Ok(self.fetch_all().await?.into_iter().next())
    }

    /// The one row a statement returns (an `INSERT … RETURNING`);
    /// `NotFound` if it returned none.
    pub(crate) async fn fetch_one(self) -> Result<Row> {
        self.fetch_optional().await?.ok_or(StorageError::NotFound)
    }

    /// The first column of the first row, if any.
    pub(crate) async fn fetch_scalar<T: Column>(self) -> Result<Option<T>> {
        self.fetch_optional()
            .await?
            .map(|row| row.get(0))
            .transpose()
    }

    /// Runs the statement; returns how many rows it changed.
    pub(crate) async fn execute(mut self) -> Result<u64> {
        self.check()?;
        let sql = self.sql.as_str();
        match self.target {
            Target::Sqlite(on, arguments) => {
                let query = sqlx::query_with(sql, arguments);
                match on {
                    On::Pool(pool) => query.execute(pool).await,
                    On::Conn(conn) => query.execute(conn).await,
                }
                .map(|done| done.rows_affected())
            }
            Target::Postgres(on, arguments) => {
                let query = sqlx::query_with(sql, arguments);
                match on {
                    On::Pool(pool) => query.execute(pool).await,
                    On::Conn(conn) => query.execute(conn).await,
                }
                .map(|done| done.rows_affected())
            }
        }
        .map_err(db_error)
    }
}

/// One result row.
pub(crate) enum Row {
    Sqlite(SqliteRow),
    Postgres(PgRow),
}

impl Row {
    /// The column's value; a missing column or one of another type means
    /// the schema is not what this code expects.
    pub(crate) fn get<T: Column>(&self, column: impl ColumnName) -> Result<T> {
        match self {
            Row::Sqlite(row) => sqlx::Row::try_get(row, column),
            Row::Postgres(row) => sqlx::Row::try_get(row, column),
        }
        .map_err(db_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn postgres_placeholders_are_numbered_across_pushes() {
        // Building a query needs no connection.
        let pool = sqlx::postgres::PgPoolOptions::new()
            .connect_lazy("postgres://nobody@127.0.0.1:1/none")
            .expect("a well-formed URL");
        let mut query = Query::new(
            Target::Postgres(On::Pool(&pool), PgArguments::default()),
            "SELECT * FROM t WHERE a = ? AND b IN ",
        )
        .bind(0_i64);
        query.push_list([1_i64, 2, 3]);
        query.push(" AND c = ").push_bind("x");
        assert_eq!(
            query.sql,
            "SELECT * FROM t WHERE a = $1 AND b IN ($2, $3, $4) AND c = $5"
        );
        assert_eq!((query.placeholders, query.bound), (5, 5));
    }
}
