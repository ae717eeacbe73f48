//! The database: every SQL statement, the embedded migrations, transactions, feed poll state
//! and the alert outbox. SQLite by default (WAL mode); statements use `$n` placeholders and
//! portable SQL so a second backend can share them.

mod rows;

pub use rows::{
    AlertDetail, AlertRow, AlertStatus, ArchivedArticle, BatchItem, FeedPollState, FeedRow,
    QueuedFeed,
};

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, Sqlite, SqlitePool, Transaction};

use crate::article::{Article, story_url};

/// Why a database operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open database {url}: {source}")]
    Open { url: String, source: sqlx::Error },
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database error: {0}")]
    Sql(#[from] sqlx::Error),
    #[error("unsupported database URL {0:?}: use sqlite://path/to/file.db")]
    UnsupportedUrl(String),
}

pub type Result<T> = std::result::Result<T, StoreError>;

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
        next_poll_at: i64,
    },
    Failure {
        error: String,
        http_status: Option<u16>,
        next_poll_at: i64,
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

/// The database handle; cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: SqlitePool,
    /// Ingest transactions take turns: SQLite has one writer, and waiting here (rather than
    /// for a pooled connection, which times out) keeps a long queue of feeds orderly.
    writer: std::sync::Arc<tokio::sync::Mutex<()>>,
}

impl Store {
    /// Opens (creating if missing) the database and brings its schema up to date.
    pub async fn open(url: &str) -> Result<Store> {
        if !url.starts_with("sqlite:") {
            return Err(StoreError::UnsupportedUrl(url.to_string()));
        }
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|source| StoreError::Open {
                url: url.to_string(),
                source,
            })?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(30))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(300))
            .connect_with(options)
            .await
            .map_err(|source| StoreError::Open {
                url: url.to_string(),
                source,
            })?;
        sqlx::migrate!("migrations/sqlite").run(&pool).await?;
        Ok(Store {
            pool,
            writer: Default::default(),
        })
    }

    /// The database file of a `sqlite:` URL (`None` for in-memory databases).
    pub fn file_path(url: &str) -> Option<std::path::PathBuf> {
        let rest = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))?;
        let path = rest.split('?').next().unwrap_or(rest);
        (!path.is_empty() && path != ":memory:").then(|| std::path::PathBuf::from(path))
    }

    /// Closes the pool, waiting for connections in use.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Reconciles the feeds table with the configuration: new feeds are added, a changed URL
    /// restarts the feed's HTTP state, feeds no longer configured stop being polled (their
    /// articles stay).
    pub async fn sync_feeds(&self, feeds: &[FeedSpec]) -> Result<()> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        sqlx::query("UPDATE feeds SET active = 0")
            .execute(&mut *tx)
            .await?;
        for feed in feeds {
            sqlx::query(
                "INSERT INTO feeds (name, config_url, url, active) VALUES ($1, $2, $2, 1)
                 ON CONFLICT (name) DO UPDATE SET active = 1",
            )
            .bind(&feed.name)
            .bind(&feed.url)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "UPDATE feeds SET config_url = $2, url = $2, etag = NULL, last_modified = NULL,
                        next_poll_at = 0
                 WHERE name = $1 AND config_url <> $2",
            )
            .bind(&feed.name)
            .bind(&feed.url)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Every feed (active ones first), with its article count.
    pub async fn feeds(&self) -> Result<Vec<FeedRow>> {
        Ok(sqlx::query_as::<_, FeedRow>(concat!(
            rows::feed_select!(),
            " ORDER BY f.active DESC, f.name"
        ))
        .fetch_all(&self.pool)
        .await?)
    }

    /// Active feeds due for a poll at `now`, in the order they fell due (id order among
    /// feeds due at the same second).
    pub async fn due_feeds(&self, now: i64) -> Result<Vec<QueuedFeed>> {
        Ok(sqlx::query_as::<_, QueuedFeed>(
            "SELECT id, url FROM feeds WHERE active = 1 AND next_poll_at <= $1
             ORDER BY next_poll_at, id",
        )
        .bind(now)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Every active feed, by name: what `once` polls.
    pub async fn active_feeds(&self) -> Result<Vec<QueuedFeed>> {
        Ok(sqlx::query_as::<_, QueuedFeed>(
            "SELECT id, url FROM feeds WHERE active = 1 ORDER BY name",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// A feed's poll state, read as its poll starts (`None` for an unknown id).
    pub async fn feed_poll_state(&self, id: i64) -> Result<Option<FeedPollState>> {
        Ok(sqlx::query_as::<_, FeedPollState>(
            "SELECT id, name, url, etag, last_modified, first_success_at, consecutive_errors
             FROM feeds WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// The earliest next poll among active feeds not yet due at `now` (those due are being
    /// polled, or held back by the scheduler).
    pub async fn next_poll_after(&self, now: i64) -> Result<Option<i64>> {
        let row = sqlx::query(
            "SELECT MIN(next_poll_at) FROM feeds WHERE active = 1 AND next_poll_at > $1",
        )
        .bind(now)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get::<Option<i64>, _>(0)?)
    }

    /// When the next queued alert falls due.
    pub async fn next_alert_due(&self) -> Result<Option<i64>> {
        let row = sqlx::query("SELECT MIN(next_attempt_at) FROM alerts WHERE status = 'queued'")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get::<Option<i64>, _>(0)?)
    }

    /// Which of these identities are stored already.
    pub async fn known_identities<'a>(
        &self,
        identities: impl Iterator<Item = &'a str>,
    ) -> Result<std::collections::HashSet<String>> {
        let list: Vec<&str> = identities.collect();
        if list.is_empty() {
            return Ok(Default::default());
        }
        let json = serde_json::to_string(&list).unwrap_or_else(|_| "[]".into());
        let known: Vec<String> = sqlx::query_scalar(
            "SELECT identity FROM articles WHERE identity IN (SELECT value FROM json_each($1))",
        )
        .bind(json)
        .fetch_all(&self.pool)
        .await?;
        Ok(known.into_iter().collect())
    }

    /// Starts the one transaction in which a poll's results are written (one at a time).
    pub async fn begin_ingest(&self) -> Result<IngestTx> {
        let turn = std::sync::Arc::clone(&self.writer).lock_owned().await;
        Ok(IngestTx {
            tx: self.pool.begin_with("BEGIN IMMEDIATE").await?,
            _turn: turn,
        })
    }

    /// Records a poll that produced no articles to ingest (an error, or 304).
    pub async fn record_poll(&self, feed_id: i64, record: &PollRecord, now: i64) -> Result<()> {
        let mut tx = self.begin_ingest().await?;
        tx.record_poll(feed_id, record, now).await?;
        tx.commit().await
    }

    /// Watches with digest or overflow matches not yet in a batch alert.
    pub async fn pending_batches(&self) -> Result<Vec<PendingBatch>> {
        let rows = sqlx::query(
            "SELECT watch, delivery, MIN(matched_at) FROM matches
             WHERE delivery IN ('digest', 'overflow') AND batch_alert_id IS NULL
             GROUP BY watch, delivery",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut pending = Vec::with_capacity(rows.len());
        for row in rows {
            let delivery = match row.try_get::<String, _>(1)?.as_str() {
                "digest" => MatchDelivery::Digest,
                _ => MatchDelivery::Overflow,
            };
            pending.push(PendingBatch {
                watch: row.try_get(0)?,
                delivery,
                oldest_match_at: row.try_get(2)?,
            });
        }
        Ok(pending)
    }

    /// Gathers a watch's waiting matches recorded before `batch.before` into one queued alert;
    /// `None` when there are none (or this period's batch exists already).
    pub async fn create_batch(&self, batch: &NewBatch<'_>, now: i64) -> Result<Option<i64>> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let count: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM matches
             WHERE watch = $1 AND delivery = $2 AND batch_alert_id IS NULL AND matched_at < $3",
        )
        .bind(batch.watch)
        .bind(batch.delivery.as_str())
        .bind(batch.before)
        .fetch_one(&mut *tx)
        .await?;
        if count == 0 {
            return Ok(None);
        }
        let kind = if batch.delivery == MatchDelivery::Digest {
            "digest"
        } else {
            "overflow"
        };
        let alert_id: Option<i64> = sqlx::query_scalar(
            "INSERT INTO alerts (watch, kind, item_count, dedup_key, message_id, recipients, status,
                                 next_attempt_at, created_at, queued_at)
             VALUES ($1, $2, $3, $4, $5, $6, 'queued', $7, $7, $7)
             ON CONFLICT (dedup_key) DO NOTHING
             RETURNING id",
        )
        .bind(batch.watch)
        .bind(kind)
        .bind(count)
        .bind(&batch.dedup_key)
        .bind(&batch.message_id)
        .bind(serde_json::to_string(batch.recipients).unwrap_or_else(|_| "[]".into()))
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(alert_id) = alert_id else {
            return Ok(None);
        };
        sqlx::query(
            "UPDATE matches SET batch_alert_id = $4
             WHERE watch = $1 AND delivery = $2 AND batch_alert_id IS NULL AND matched_at < $3",
        )
        .bind(batch.watch)
        .bind(batch.delivery.as_str())
        .bind(batch.before)
        .bind(alert_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(alert_id))
    }

    /// The matches a batch alert lists, newest first.
    pub async fn batch_items(&self, alert_id: i64) -> Result<Vec<BatchItem>> {
        Ok(sqlx::query_as::<_, BatchItem>(concat!(
            rows::batch_item_select!(),
            " WHERE m.batch_alert_id = $1
              ORDER BY COALESCE(ar.published_at, ar.fetched_at) DESC, ar.id DESC"
        ))
        .bind(alert_id)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Puts alerts a crashed process had claimed back in the queue.
    pub async fn requeue_claimed(&self) -> Result<u64> {
        let done = sqlx::query(
            "UPDATE alerts SET status = 'queued', claimed_at = NULL WHERE status = 'sending'",
        )
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    /// Claims up to `limit` alerts due at `now` for sending.
    pub async fn claim_due_alerts(&self, now: i64, limit: i64) -> Result<Vec<AlertDetail>> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let ids: Vec<i64> = sqlx::query_scalar(
            "SELECT id FROM alerts WHERE status = 'queued' AND next_attempt_at <= $1
             ORDER BY next_attempt_at, id LIMIT $2",
        )
        .bind(now)
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
        let mut claimed = Vec::with_capacity(ids.len());
        for id in ids {
            sqlx::query(
                "UPDATE alerts SET status = 'sending', claimed_at = $2, attempts = attempts + 1
                 WHERE id = $1",
            )
            .bind(id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            let detail = sqlx::query_as::<_, AlertDetail>(concat!(
                rows::alert_detail_select!(),
                " WHERE a.id = $1"
            ))
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
            claimed.push(detail);
        }
        tx.commit().await?;
        Ok(claimed)
    }

    /// Returns a claimed alert to the queue unattempted (shutdown came first).
    pub async fn release_claim(&self, alert_id: i64) -> Result<()> {
        sqlx::query(
            "UPDATE alerts SET status = 'queued', claimed_at = NULL, attempts = attempts - 1
             WHERE id = $1 AND status = 'sending'",
        )
        .bind(alert_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The server accepted the alert.
    pub async fn mark_sent(&self, alert_id: i64, now: i64) -> Result<()> {
        sqlx::query(
            "UPDATE alerts SET status = 'sent', sent_at = $2, claimed_at = NULL, last_error = NULL
             WHERE id = $1",
        )
        .bind(alert_id)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Sending failed; try again at `retry_at`.
    pub async fn mark_retry(&self, alert_id: i64, error: &str, retry_at: i64) -> Result<()> {
        sqlx::query(
            "UPDATE alerts SET status = 'queued', claimed_at = NULL, last_error = $2,
                    next_attempt_at = $3
             WHERE id = $1",
        )
        .bind(alert_id)
        .bind(error)
        .bind(retry_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Sending failed for good.
    pub async fn mark_failed(&self, alert_id: i64, error: &str) -> Result<()> {
        sqlx::query(
            "UPDATE alerts SET status = 'failed', claimed_at = NULL, last_error = $2 WHERE id = $1",
        )
        .bind(alert_id)
        .bind(error)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Puts a failed (or waiting) alert back in the queue for an attempt now, with a fresh
    /// give-up deadline. Returns whether such an alert exists.
    pub async fn retry_alert(&self, alert_id: i64, now: i64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE alerts SET status = 'queued', next_attempt_at = $2, queued_at = $2
             WHERE id = $1 AND status IN ('failed', 'queued')",
        )
        .bind(alert_id)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Puts every failed alert back in the queue; returns how many.
    pub async fn retry_failed(&self, now: i64) -> Result<u64> {
        let done = sqlx::query(
            "UPDATE alerts SET status = 'queued', next_attempt_at = $1, queued_at = $1
             WHERE status = 'failed'",
        )
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    /// Alerts, newest first, optionally of one status and created since a time.
    pub async fn alerts(
        &self,
        status: Option<AlertStatus>,
        since: Option<i64>,
    ) -> Result<Vec<AlertRow>> {
        Ok(sqlx::query_as::<_, AlertRow>(concat!(
            rows::alert_row_select!(),
            " WHERE ($1 IS NULL OR a.status = $1) AND a.created_at >= $2
             ORDER BY a.created_at DESC, a.id DESC"
        ))
        .bind(status.map(|s| s.as_str()))
        .bind(since.unwrap_or(i64::MIN))
        .fetch_all(&self.pool)
        .await?)
    }

    /// Stored articles published (else fetched) since `since`, oldest first, with the names of
    /// their feeds.
    pub async fn articles_since(&self, since: i64) -> Result<Vec<ArchivedArticle>> {
        Ok(sqlx::query_as::<_, ArchivedArticle>(concat!(
            rows::archive_select!(),
            " WHERE COALESCE(a.published_at, a.fetched_at) >= $1",
            " ORDER BY COALESCE(a.published_at, a.fetched_at), a.id"
        ))
        .bind(since)
        .fetch_all(&self.pool)
        .await?)
    }
}

/// The transaction of one poll's ingest: articles, matches, alerts and poll state commit
/// together or not at all.
pub struct IngestTx {
    tx: Transaction<'static, Sqlite>,
    _turn: tokio::sync::OwnedMutexGuard<()>,
}

impl IngestTx {
    /// Stores a poll's articles; for each, its id when it was new. An article is already known
    /// when its identity is stored (from any feed), when its canonical link was first seen
    /// through another feed (the story under a different GUID), or when it repeats an earlier
    /// entry of the same batch. Every article is recorded as carried by the feed. A few
    /// statements per batch, whatever its size: SQLite's single writer waits on each.
    pub async fn insert_articles(
        &mut self,
        feed_id: i64,
        articles: &[Article],
        now: i64,
    ) -> Result<Vec<Option<i64>>> {
        if articles.is_empty() {
            return Ok(Vec::new());
        }
        let rows: Vec<serde_json::Value> = articles
            .iter()
            .map(|a| {
                serde_json::json!({
                    "identity": a.identity,
                    "link": a.link,
                    "canonical_link": a.link.as_deref().and_then(story_url),
                    "title": a.title,
                    "summary": a.summary,
                    "content": a.content,
                    "authors": serde_json::to_string(&a.authors).unwrap_or_else(|_| "[]".into()),
                    "categories": serde_json::to_string(&a.categories).unwrap_or_else(|_| "[]".into()),
                    "lang": a.lang,
                    "published_at": a.published.map(|d| d.timestamp()),
                })
            })
            .collect();
        let batch = serde_json::to_string(&rows).unwrap_or_else(|_| "[]".into());
        // Per entry, the article with its identity first, else the oldest with its link.
        let known: Vec<(i64, i64, i64)> = sqlx::query_as(
            "SELECT CAST(j.key AS INTEGER), 0, a.id FROM json_each($1) j
               JOIN articles a ON a.identity = json_extract(j.value, '$.identity')
             UNION ALL
             SELECT CAST(j.key AS INTEGER), 1, a.id FROM json_each($1) j
               JOIN articles a ON a.canonical_link = json_extract(j.value, '$.canonical_link')
                              AND a.feed_id <> $2
             ORDER BY 1, 2, 3",
        )
        .bind(&batch)
        .bind(feed_id)
        .fetch_all(&mut *self.tx)
        .await?;
        let mut ids: Vec<Option<i64>> = vec![None; articles.len()];
        for (index, _, id) in known {
            if let Some(slot) = usize::try_from(index).ok().and_then(|i| ids.get_mut(i)) {
                slot.get_or_insert(id);
            }
        }
        // The new ones, each identity once (the first entry wins).
        let mut first_entry: std::collections::HashMap<&str, usize> =
            std::collections::HashMap::new();
        let fresh: Vec<usize> = (0..articles.len())
            .filter(|&i| {
                ids[i].is_none()
                    && *first_entry
                        .entry(articles[i].identity.as_str())
                        .or_insert(i)
                        == i
            })
            .collect();
        let mut inserted = vec![false; articles.len()];
        if !fresh.is_empty() {
            let fresh_rows: Vec<&serde_json::Value> = fresh.iter().map(|&i| &rows[i]).collect();
            let fresh_batch = serde_json::to_string(&fresh_rows).unwrap_or_else(|_| "[]".into());
            let created: Vec<(i64, String)> = sqlx::query_as(
                "INSERT INTO articles (identity, feed_id, link, canonical_link, title, summary,
                                       content, authors, categories, lang, published_at, fetched_at)
                 SELECT json_extract(r.value, '$.identity'), $2, json_extract(r.value, '$.link'),
                        json_extract(r.value, '$.canonical_link'), json_extract(r.value, '$.title'),
                        json_extract(r.value, '$.summary'), json_extract(r.value, '$.content'),
                        json_extract(r.value, '$.authors'), json_extract(r.value, '$.categories'),
                        json_extract(r.value, '$.lang'), json_extract(r.value, '$.published_at'), $3
                 FROM json_each($1) r
                 ORDER BY r.key
                 RETURNING id, identity",
            )
            .bind(&fresh_batch)
            .bind(feed_id)
            .bind(now)
            .fetch_all(&mut *self.tx)
            .await?;
            let by_identity: std::collections::HashMap<&str, i64> = created
                .iter()
                .map(|(id, identity)| (identity.as_str(), *id))
                .collect();
            for &i in &fresh {
                ids[i] = by_identity.get(articles[i].identity.as_str()).copied();
                inserted[i] = ids[i].is_some();
            }
        }
        // Repeats within the batch point at the article their first entry created.
        for i in 0..articles.len() {
            if ids[i].is_none() {
                ids[i] = first_entry
                    .get(articles[i].identity.as_str())
                    .and_then(|&first| ids[first]);
            }
        }
        let carried: Vec<i64> = ids.iter().flatten().copied().collect();
        sqlx::query(
            "INSERT INTO feed_articles (feed_id, article_id, first_seen_at)
             SELECT $1, value, $2 FROM json_each($3) WHERE true
             ON CONFLICT (feed_id, article_id) DO NOTHING",
        )
        .bind(feed_id)
        .bind(now)
        .bind(serde_json::to_string(&carried).unwrap_or_else(|_| "[]".into()))
        .execute(&mut *self.tx)
        .await?;
        Ok(ids
            .into_iter()
            .zip(inserted)
            .map(|(id, new)| id.filter(|_| new))
            .collect())
    }

    /// Article alerts queued for `watch` since `since` (for the hourly cap).
    pub async fn article_alerts_since(&mut self, watch: &str, since: i64) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM alerts WHERE watch = $1 AND kind = 'article' AND created_at >= $2",
        )
        .bind(watch)
        .bind(since)
        .fetch_one(&mut *self.tx)
        .await?)
    }

    /// Records a match and, for `MatchDelivery::Alert`, queues its alert (once per watch and
    /// article). Returns whether an alert was queued.
    pub async fn record_match(
        &mut self,
        article_id: i64,
        found: &NewMatch,
        now: i64,
    ) -> Result<bool> {
        let recorded = sqlx::query(
            "INSERT INTO matches (watch, article_id, matched_at, explanation, delivery)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (watch, article_id) DO NOTHING",
        )
        .bind(&found.watch)
        .bind(article_id)
        .bind(now)
        .bind(&found.explanation)
        .bind(found.delivery.as_str())
        .execute(&mut *self.tx)
        .await?;
        if found.delivery != MatchDelivery::Alert || recorded.rows_affected() == 0 {
            return Ok(false);
        }
        let queued = sqlx::query(
            "INSERT INTO alerts (watch, kind, article_id, dedup_key, message_id, recipients, status,
                                 next_attempt_at, created_at, queued_at)
             VALUES ($1, 'article', $2, $3, $4, $5, 'queued', $6, $6, $6)
             ON CONFLICT (dedup_key) DO NOTHING",
        )
        .bind(&found.watch)
        .bind(article_id)
        .bind(format!("article:{}:{article_id}", found.watch))
        .bind(&found.message_id)
        .bind(serde_json::to_string(&found.recipients).unwrap_or_else(|_| "[]".into()))
        .bind(now)
        .execute(&mut *self.tx)
        .await?;
        Ok(queued.rows_affected() == 1)
    }

    /// Records the outcome of a poll in the feed's state.
    pub async fn record_poll(&mut self, feed_id: i64, record: &PollRecord, now: i64) -> Result<()> {
        match record {
            PollRecord::Success {
                moved_to,
                etag,
                last_modified,
                not_modified,
                new_articles,
                next_poll_at,
            } => {
                let status = if *not_modified { "not_modified" } else { "ok" };
                sqlx::query(
                    "UPDATE feeds SET
                        url = COALESCE($2, url),
                        etag = CASE WHEN $3 THEN etag ELSE $4 END,
                        last_modified = CASE WHEN $3 THEN last_modified ELSE $5 END,
                        first_success_at = COALESCE(first_success_at, $6),
                        last_poll_at = $6, last_success_at = $6,
                        last_status = $7, last_http_status = NULL, last_error = NULL,
                        consecutive_errors = 0, next_poll_at = $8,
                        last_new_article_at = CASE WHEN $9 > 0 THEN $6 ELSE last_new_article_at END
                     WHERE id = $1",
                )
                .bind(feed_id)
                .bind(moved_to)
                .bind(*not_modified)
                .bind(etag)
                .bind(last_modified)
                .bind(now)
                .bind(status)
                .bind(next_poll_at)
                .bind(*new_articles as i64)
                .execute(&mut *self.tx)
                .await?;
            }
            PollRecord::Failure {
                error,
                http_status,
                next_poll_at,
            } => {
                sqlx::query(
                    "UPDATE feeds SET last_poll_at = $2, last_status = 'error', last_error = $3,
                        last_http_status = $4, consecutive_errors = consecutive_errors + 1,
                        next_poll_at = $5
                     WHERE id = $1",
                )
                .bind(feed_id)
                .bind(now)
                .bind(error)
                .bind(http_status.map(i64::from))
                .bind(next_poll_at)
                .execute(&mut *self.tx)
                .await?;
            }
        }
        Ok(())
    }

    pub async fn commit(self) -> Result<()> {
        self.tx.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
