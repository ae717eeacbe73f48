//! The database: every SQL statement, the embedded migrations, transactions, feed poll state,
//! the alert outbox and retention, over SQLite (the default, one process) or PostgreSQL (any
//! number of processes). One `Store` type over two concrete pools: the SQL both backends share
//! is written once, and the few statements that differ live in `dialect`, one module per
//! backend.

mod copy;
mod dialect;
mod feed_writes;
mod feeds;
mod ingest;
mod instances;
mod outbox;
mod retention;
mod rows;
mod stories;

pub use copy::CopiedTable;
pub use ingest::IngestTx;
pub use instances::Instance;
pub use outbox::{Claimant, OutboxSummary, RecipientState, SentRecord};
pub use retention::{FileSpace, MIN_ARTICLE_KEEP, PruneReport, RetentionPolicy};
pub use rows::{
    AlertDetail, AlertKind, AlertRow, AlertStatus, ArchivedArticle, BatchItem, DeliveryState,
    FeedHealth, FeedPollState, FeedRow, PollStatus, QueuedFeed,
};

use std::str::FromStr;

use crate::story::{Role, Signature};
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{
    SqliteAutoVacuum, SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{PgPool, Postgres, Sqlite, SqlitePool, Transaction};

/// Why a database operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open database {url}: {source}")]
    Open { url: String, source: sqlx::Error },
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database error: {0}")]
    Sql(#[from] sqlx::Error),
    #[error("{0}")]
    Copy(String),
    #[error("the lease on feed {feed_id} was lost (another instance polled it); results discarded")]
    LeaseLost { feed_id: i64 },
    #[error(
        "unsupported database URL {0:?}: use sqlite://path/to/file.db or postgres://user@host/dbname"
    )]
    UnsupportedUrl(String),
    #[error("the database schema is at migration {applied}; this version needs {expected}")]
    SchemaBehind { applied: i64, expected: i64 },
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// This process's claim on one poll of a feed: the poll's results are written only while the
/// token is still the feed's (fencing), so a process that lost its lease writes nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeedLease {
    pub feed_id: i64,
    pub token: i64,
}

/// A feed as configured, to be reconciled with the database.
#[derive(Debug, Clone)]
pub struct FeedSpec {
    pub name: String,
    pub url: String,
}

/// What one poll of a feed found, to record in its state.
#[derive(Debug, Clone)]
pub enum PollRecord {
    Success {
        /// Set when the feed moved permanently: poll this URL from now on.
        moved_to: Option<String>,
        etag: Option<String>,
        last_modified: Option<String>,
        not_modified: bool,
        new_articles: usize,
        next_poll_at_ms: i64,
    },
    Failure {
        error: String,
        http_status: Option<u16>,
        next_poll_at_ms: i64,
    },
}

/// How a match reaches (or does not reach) the watch's recipients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchDelivery {
    /// Its own alert, queued with the match.
    Alert,
    /// Waits for the watch's next digest.
    Digest,
    /// Over the hourly cap: waits for the hour's "and N more" summary.
    Overflow,
    /// Recorded only (too old to alert, or no recipients).
    None,
}

impl MatchDelivery {
    pub fn as_str(self) -> &'static str {
        match self {
            MatchDelivery::Alert => "alert",
            MatchDelivery::Digest => "digest",
            MatchDelivery::Overflow => "overflow",
            MatchDelivery::None => "none",
        }
    }
}

/// A match to record, with what its alert needs.
#[derive(Debug, Clone)]
pub struct NewMatch {
    pub watch: String,
    pub recipients: Vec<String>,
    pub message_id: String,
    /// JSON of the match explanation.
    pub explanation: String,
    pub delivery: MatchDelivery,
    /// The match's place in the watch's stories; `None` when the watch does not group.
    pub story: Option<StoryLink>,
}

/// Where a new match goes in its watch's stories.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoryLink {
    pub role: Role,
    /// The story (see [`StoryCandidate::story`]) a copy or update joins; `None` for a first.
    pub story: Option<i64>,
}

/// A recent match of a watch that a new one is compared with.
#[derive(Debug, Clone)]
pub struct StoryCandidate {
    /// The story it belongs to: the id of the match that started it.
    pub story: i64,
    pub signature: Signature,
    /// When its article was published (else matched), Unix seconds.
    pub at: i64,
}

/// An article of a story, as "also reported by" lists it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct StoryOutlet {
    pub feed_name: Option<String>,
    pub title: String,
    pub link: Option<String>,
}

/// A batch alert (digest or overflow summary) to create.
#[derive(Debug, Clone)]
pub struct NewBatch<'a> {
    pub watch: &'a str,
    /// `Digest` or `Overflow`.
    pub delivery: MatchDelivery,
    /// Matches recorded before this time go into the batch.
    pub before: i64,
    pub dedup_key: String,
    pub message_id: String,
    pub recipients: &'a [String],
}

/// A watch with matches waiting for a batch alert.
#[derive(Debug, Clone)]
pub struct PendingBatch {
    pub watch: String,
    pub delivery: MatchDelivery,
    pub oldest_match_at: i64,
}

/// The two backends' pools.
#[derive(Clone)]
enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// A transaction on either backend.
enum Tx {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

/// Runs `$body` once per backend, with `$pool` bound to that backend's pool and `$sql` to its
/// `dialect` module: the body is written once and type-checked for both.
macro_rules! on_pool {
    ($store:expr, $pool:ident, $sql:ident => $body:expr) => {
        match &$store.db {
            $crate::store::Db::Sqlite($pool) => {
                #[allow(unused_imports)]
                use $crate::store::dialect::sqlite as $sql;
                $body
            }
            $crate::store::Db::Postgres($pool) => {
                #[allow(unused_imports)]
                use $crate::store::dialect::postgres as $sql;
                $body
            }
        }
    };
}
pub(crate) use on_pool;

/// [`on_pool!`] for a transaction: `$conn` is the transaction's connection.
macro_rules! on_tx {
    ($tx:expr, $conn:ident, $sql:ident => $body:expr) => {
        match $tx {
            $crate::store::Tx::Sqlite($conn) => {
                #[allow(unused_imports)]
                use $crate::store::dialect::sqlite as $sql;
                let $conn = &mut **$conn;
                $body
            }
            $crate::store::Tx::Postgres($conn) => {
                #[allow(unused_imports)]
                use $crate::store::dialect::postgres as $sql;
                let $conn = &mut **$conn;
                $body
            }
        }
    };
}
pub(crate) use on_tx;

impl Tx {
    async fn commit(self) -> Result<()> {
        match self {
            Tx::Sqlite(tx) => tx.commit().await?,
            Tx::Postgres(tx) => tx.commit().await?,
        }
        Ok(())
    }
}

/// The database handle; cheap to clone.
#[derive(Clone)]
pub struct Store {
    db: Db,
    /// SQLite has one writer: ingest transactions take turns here (rather than waiting for a
    /// pooled connection, which times out), which keeps a long queue of feeds orderly.
    /// PostgreSQL writers run side by side.
    writer: std::sync::Arc<tokio::sync::Mutex<()>>,
    /// SQLite: claims and poll records waiting for the writer, written together.
    feed_writes: std::sync::Arc<feed_writes::FeedWrites>,
}

/// The backend a database URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// The backend of `url`, or `None` for a URL of another kind.
    pub fn of_url(url: &str) -> Option<Backend> {
        if url.starts_with("sqlite:") {
            Some(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Backend::Postgres)
        } else {
            None
        }
    }
}

impl Store {
    /// Opens the database (creating a SQLite file if missing) and brings its schema up to
    /// date. `max_connections`: the pool's size (default 4 for SQLite, 8 for PostgreSQL).
    pub async fn open(url: &str, max_connections: Option<u32>) -> Result<Store> {
        let open_error = |source| StoreError::Open {
            url: redacted_url(url),
            source,
        };
        let db = match Backend::of_url(url) {
            Some(Backend::Sqlite) => {
                let options = SqliteConnectOptions::from_str(url)
                    .map_err(open_error)?
                    .create_if_missing(true)
                    // Takes effect on a new file (set before its first table): retention then
                    // shrinks it. An older file keeps its mode until `make_file_shrinkable`.
                    .auto_vacuum(SqliteAutoVacuum::Incremental)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .busy_timeout(Duration::from_secs(30))
                    .foreign_keys(true);
                let pool = SqlitePoolOptions::new()
                    .max_connections(max_connections.unwrap_or(4))
                    .acquire_timeout(Duration::from_secs(300))
                    .connect_with(options)
                    .await
                    .map_err(open_error)?;
                migrate_one_at_a_time(url, &pool).await?;
                Db::Sqlite(pool)
            }
            Some(Backend::Postgres) => {
                let options = PgConnectOptions::from_str(url).map_err(open_error)?;
                let pool = PgPoolOptions::new()
                    .max_connections(max_connections.unwrap_or(8))
                    .acquire_timeout(Duration::from_secs(60))
                    .connect_with(options)
                    .await
                    .map_err(open_error)?;
                // The migrator takes PostgreSQL's migration lock: instances started together
                // on an empty database create the schema once.
                sqlx::migrate!("migrations/postgres").run(&pool).await?;
                Db::Postgres(pool)
            }
            None => return Err(StoreError::UnsupportedUrl(url.to_string())),
        };
        Ok(Store {
            db,
            writer: Default::default(),
            feed_writes: Default::default(),
        })
    }

    /// Which backend this is.
    pub fn backend(&self) -> Backend {
        match self.db {
            Db::Sqlite(_) => Backend::Sqlite,
            Db::Postgres(_) => Backend::Postgres,
        }
    }

    /// The database file of a `sqlite:` URL (`None` for in-memory databases and PostgreSQL).
    pub fn file_path(url: &str) -> Option<std::path::PathBuf> {
        let rest = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))?;
        let path = rest.split('?').next().unwrap_or(rest);
        (!path.is_empty() && path != ":memory:").then(|| std::path::PathBuf::from(path))
    }

    /// The database file of a `sqlite:` URL with every symlink resolved: two paths to one
    /// file give one path. A file not yet created keeps its name in its resolved directory.
    pub fn resolved_file_path(url: &str) -> Option<std::path::PathBuf> {
        let path = Self::file_path(url)?;
        if let Ok(real) = std::fs::canonicalize(&path) {
            return Some(real);
        }
        let parent = match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => std::path::Path::new("."),
        };
        Some(match (std::fs::canonicalize(parent), path.file_name()) {
            (Ok(dir), Some(name)) => dir.join(name),
            _ => path,
        })
    }

    /// Whether the database answers and its schema is the one this build migrates to (for
    /// `/readyz`): an error says which of the two is wrong.
    pub async fn check_ready(&self) -> Result<()> {
        const APPLIED: &str =
            "SELECT COALESCE(MAX(version), 0) FROM _sqlx_migrations WHERE success";
        let (applied, expected) = match &self.db {
            Db::Sqlite(pool) => (
                sqlx::query_scalar::<_, i64>(APPLIED)
                    .fetch_one(pool)
                    .await?,
                latest_migration(&sqlx::migrate!("migrations/sqlite")),
            ),
            Db::Postgres(pool) => (
                sqlx::query_scalar::<_, i64>(APPLIED)
                    .fetch_one(pool)
                    .await?,
                latest_migration(&sqlx::migrate!("migrations/postgres")),
            ),
        };
        if applied < expected {
            return Err(StoreError::SchemaBehind { applied, expected });
        }
        Ok(())
    }

    /// Closes the pool, waiting for connections in use.
    pub async fn close(&self) {
        match &self.db {
            Db::Sqlite(pool) => pool.close().await,
            Db::Postgres(pool) => pool.close().await,
        }
    }

    /// A write transaction: on SQLite it takes the write lock at once (`BEGIN IMMEDIATE`), so
    /// that it never fails half-way on a lock upgrade.
    async fn begin(&self) -> Result<Tx> {
        Ok(match &self.db {
            Db::Sqlite(pool) => Tx::Sqlite(pool.begin_with("BEGIN IMMEDIATE").await?),
            Db::Postgres(pool) => Tx::Postgres(pool.begin().await?),
        })
    }

    /// Stored articles published (else fetched) since `since`, oldest first, with the names of
    /// their feeds.
    pub async fn articles_since(&self, since: i64) -> Result<Vec<ArchivedArticle>> {
        Ok(
            on_pool!(self, pool, sql => sqlx::query_as::<_, ArchivedArticle>(concat!(
            rows::archive_select!(),
            " WHERE COALESCE(a.published_at, a.fetched_at) >= $1",
            " ORDER BY COALESCE(a.published_at, a.fetched_at), a.id"
        ))
        .bind(since)
        .fetch_all(pool)
        .await?),
        )
    }
}

fn latest_migration(migrator: &sqlx::migrate::Migrator) -> i64 {
    migrator.iter().map(|m| m.version).max().unwrap_or(0)
}

/// `url` with any password replaced, for messages.
pub fn redacted_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_string(),
    }
}

/// Brings a SQLite schema up to date, one process at a time: two commands started together on
/// a new database (a daemon and `newswatch alerts`) would otherwise both create the tables.
async fn migrate_one_at_a_time(url: &str, pool: &SqlitePool) -> Result<()> {
    let guard = match Store::resolved_file_path(url) {
        Some(path) => {
            let mut lock_path = path.into_os_string();
            lock_path.push(".migrate-lock");
            let locked = tokio::task::spawn_blocking(move || {
                let file = std::fs::OpenOptions::new()
                    .create(true)
                    .truncate(false)
                    .write(true)
                    .open(&lock_path)?;
                file.lock()?;
                Ok::<_, std::io::Error>(file)
            })
            .await;
            match locked {
                Ok(Ok(file)) => Some(file),
                // Without the lock file (a read-only directory) migrating still works alone.
                _ => None,
            }
        }
        None => None,
    };
    let migrated = sqlx::migrate!("migrations/sqlite").run(pool).await;
    drop(guard);
    Ok(migrated?)
}

#[cfg(test)]
mod tests;
