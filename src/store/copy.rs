//! Moving an installation: every table of one database copied into an empty one (SQLite into
//! PostgreSQL), ids kept, so that what was sent stays sent and what was queued stays queued.

use sqlx::{AssertSqlSafe, Row};

use super::{Db, Result, Store, StoreError};

/// A column's kind, for reading it from one backend and binding it to the other.
#[derive(Clone, Copy)]
enum Kind {
    Int,
    Text,
    Blob,
    Bool,
}

use Kind::{Blob, Bool, Int, Text};

/// Every table, parents before children, with its columns.
const TABLES: &[(&str, &[(&str, Kind)])] = &[
    (
        "feeds",
        &[
            ("id", Int),
            ("name", Text),
            ("config_url", Text),
            ("url", Text),
            ("active", Bool),
            ("etag", Text),
            ("last_modified", Text),
            ("first_success_at", Int),
            ("last_poll_at", Int),
            ("last_success_at", Int),
            ("last_status", Text),
            ("last_http_status", Int),
            ("last_error", Text),
            ("consecutive_errors", Int),
            ("next_poll_at_ms", Int),
            ("last_new_article_at", Int),
        ],
    ),
    (
        "articles",
        &[
            ("id", Int),
            ("identity", Text),
            ("feed_id", Int),
            ("link", Text),
            ("canonical_link", Text),
            ("title", Text),
            ("summary", Text),
            ("content", Text),
            ("authors", Text),
            ("categories", Text),
            ("lang", Text),
            ("published_at", Int),
            ("fetched_at", Int),
            ("signature", Blob),
        ],
    ),
    (
        "article_tombstones",
        &[
            ("identity", Text),
            ("feed_id", Int),
            ("canonical_link", Text),
            ("deleted_at", Int),
        ],
    ),
    (
        "feed_articles",
        &[
            ("feed_id", Int),
            ("article_id", Int),
            ("first_seen_at", Int),
        ],
    ),
    (
        "alerts",
        &[
            ("id", Int),
            ("watch", Text),
            ("kind", Text),
            ("article_id", Int),
            ("item_count", Int),
            ("dedup_key", Text),
            ("message_id", Text),
            ("recipients", Text),
            ("status", Text),
            ("attempts", Int),
            ("next_attempt_at", Int),
            ("last_error", Text),
            ("created_at", Int),
            ("queued_at", Int),
            ("sent_at", Int),
        ],
    ),
    (
        "matches",
        &[
            ("id", Int),
            ("watch", Text),
            ("article_id", Int),
            ("matched_at", Int),
            ("explanation", Text),
            ("delivery", Text),
            ("batch_alert_id", Int),
            ("story_role", Text),
            ("story_id", Int),
        ],
    ),
    (
        "alert_recipients",
        &[
            ("alert_id", Int),
            ("address", Text),
            ("position", Int),
            ("status", Text),
            ("last_error", Text),
            ("sent_at", Int),
        ],
    ),
];

/// One table's rows on both sides after a copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopiedTable {
    pub table: &'static str,
    pub source_rows: i64,
    pub target_rows: i64,
}

/// A value read from the source, to bind on the target.
enum Value {
    Int(Option<i64>),
    Text(Option<String>),
    Blob(Option<Vec<u8>>),
    Bool(bool),
}

impl Store {
    /// Copies this SQLite database into `target`, an empty PostgreSQL database, in one
    /// transaction; alerts that were being sent are queued again. Refuses a target that
    /// holds any row.
    pub async fn copy_into(&self, target: &Store) -> Result<Vec<CopiedTable>> {
        let (Db::Sqlite(source), Db::Postgres(pg)) = (&self.db, &target.db) else {
            return Err(StoreError::Copy(
                "migrate-db copies a SQLite database into a PostgreSQL one".into(),
            ));
        };
        for (table, _) in TABLES {
            let rows: i64 =
                sqlx::query_scalar(AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
                    .fetch_one(pg)
                    .await?;
            if rows > 0 {
                return Err(StoreError::Copy(format!(
                    "the target database is not empty (its {table} table has {rows} rows); \
                     migrate-db only fills an empty database"
                )));
            }
        }
        let mut tx = pg.begin().await?;
        for (table, columns) in TABLES {
            let names: Vec<&str> = columns.iter().map(|(name, _)| *name).collect();
            let select = format!("SELECT {} FROM {table}", names.join(", "));
            let placeholders: Vec<String> = (1..=columns.len()).map(|i| format!("${i}")).collect();
            let insert = format!(
                "INSERT INTO {table} ({}) VALUES ({})",
                names.join(", "),
                placeholders.join(", ")
            );
            let rows = sqlx::query(AssertSqlSafe(select)).fetch_all(source).await?;
            for row in rows {
                let mut values = Vec::with_capacity(columns.len());
                for (index, (_, kind)) in columns.iter().enumerate() {
                    values.push(match kind {
                        Int => Value::Int(row.try_get(index)?),
                        Text => Value::Text(row.try_get(index)?),
                        Blob => Value::Blob(row.try_get(index)?),
                        Bool => Value::Bool(row.try_get(index)?),
                    });
                }
                let mut query = sqlx::query(AssertSqlSafe(insert.clone()));
                for value in values {
                    query = match value {
                        Value::Int(v) => query.bind(v),
                        Value::Text(v) => query.bind(v),
                        Value::Blob(v) => query.bind(v),
                        Value::Bool(v) => query.bind(v),
                    };
                }
                query.execute(&mut *tx).await?;
            }
        }
        // Ids continue after the copied ones; nothing is claimed by a process of the old
        // installation any more.
        for table in ["feeds", "articles", "alerts", "matches"] {
            sqlx::query(AssertSqlSafe(format!(
                "SELECT setval(pg_get_serial_sequence('{table}', 'id'),
                               GREATEST((SELECT MAX(id) FROM {table}), 1))"
            )))
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query(
            "UPDATE alerts SET status = 'queued', claimed_at = NULL WHERE status = 'sending'",
        )
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        let mut copied = Vec::with_capacity(TABLES.len());
        for (table, _) in TABLES {
            let count = format!("SELECT COUNT(*) FROM {table}");
            let source_rows: i64 = sqlx::query_scalar(AssertSqlSafe(count.clone()))
                .fetch_one(source)
                .await?;
            let target_rows: i64 = sqlx::query_scalar(AssertSqlSafe(count))
                .fetch_one(pg)
                .await?;
            copied.push(CopiedTable {
                table,
                source_rows,
                target_rows,
            });
        }
        Ok(copied)
    }
}
