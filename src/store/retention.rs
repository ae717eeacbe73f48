//! Retention: what the database no longer needs is deleted in batches, and the SQLite file
//! gives the space back.
//!
//! What goes: articles fetched longer ago than the policy's `articles` (never less than
//! [`MIN_ARTICLE_KEEP`]), sent alerts sent longer ago than `alerts_sent`, failed alerts last
//! tried longer ago than `alerts_failed`. What stays, however old: an article that an alert not
//! yet sent needs (queued, sending, or failed and still kept, which `alerts retry` may send
//! again), whether its own alert or a digest listing it, and an article whose match waits for
//! a digest or an hourly summary. A sent alert that outlives its article is kept without it.
//!
//! A deleted article leaves a tombstone (its identity, its canonical link and its feed), which
//! ingest consults as it does stored articles: a feed that still carries the entry, however
//! old, never brings it back as new, so deleting can neither alert an article again nor store
//! it again, whatever `[polling] max_age` is and whether or not the entry is dated.
//!
//! Each batch is one short transaction (on SQLite taking its turn with ingests, so the write
//! lock is never held for long); a pass cut short keeps what it did, and a second pass, or
//! another instance pruning at the same moment (PostgreSQL: each takes rows the other has not
//! locked), deletes only what is left. The SQLite file shrinks by incremental vacuum:
//! `auto_vacuum = INCREMENTAL` is set on every new database before its first table, and a
//! database made before that keeps its size until [`Store::make_file_shrinkable`] rewrites it
//! once. On PostgreSQL, autovacuum reuses the space of the deleted rows.

use std::time::Duration;

use super::rows::AlertStatus;
use super::{Db, Result, Store, Tx, on_pool, on_tx};

/// Articles younger than this are never deleted, whatever `[retention] articles` says: the
/// window over which articles are grouped into stories must stay whole.
pub const MIN_ARTICLE_KEEP: Duration = Duration::from_secs(48 * 3600);

/// Rows deleted per transaction.
const BATCH: i64 = 1000;

/// Free pages given back to the file system per transaction (8 MiB of 4 KiB pages).
const VACUUM_STEP: &str = "PRAGMA incremental_vacuum(2048)";

/// How long each kind of row is kept; `None` keeps it for ever.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionPolicy {
    /// By when the article was fetched; at least [`MIN_ARTICLE_KEEP`].
    pub articles: Option<Duration>,
    /// By when the alert was sent.
    pub alerts_sent: Option<Duration>,
    /// By the alert's last attempt.
    pub alerts_failed: Option<Duration>,
}

/// The policy at one moment: rows older than these unix times go (`i64::MIN`: none does).
#[derive(Debug, Clone, Copy)]
struct Cutoffs {
    sent: i64,
    failed: i64,
    articles: i64,
}

impl RetentionPolicy {
    fn cutoffs(&self, now: i64) -> Cutoffs {
        let before = |keep: Option<Duration>| {
            keep.map_or(i64::MIN, |keep| {
                now.saturating_sub(i64::try_from(keep.as_secs()).unwrap_or(i64::MAX))
            })
        };
        Cutoffs {
            sent: before(self.alerts_sent),
            failed: before(self.alerts_failed),
            articles: before(self.articles.map(|keep| keep.max(MIN_ARTICLE_KEEP))),
        }
    }
}

/// What a pass deleted (or, dry, would delete).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PruneReport {
    pub articles: u64,
    pub alerts_sent: u64,
    pub alerts_failed: u64,
    /// SQLite: the database's size before and after the pass.
    pub file: Option<FileSpace>,
    /// The pass stopped early (on request): what is left goes next time.
    pub interrupted: bool,
}

/// The size of a SQLite database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileSpace {
    /// Bytes (pages × page size) before…
    pub bytes_before: u64,
    /// …and after: the file's size once its write-ahead log is checkpointed.
    pub bytes_after: u64,
    /// Whether the file gives the space of deleted rows back: false for a database made
    /// before newswatch set `auto_vacuum`, until [`Store::make_file_shrinkable`] (its free
    /// pages are reused by new rows, so it grows no more, but it does not shrink).
    pub shrinks: bool,
}

impl FileSpace {
    pub fn reclaimed(&self) -> u64 {
        self.bytes_before.saturating_sub(self.bytes_after)
    }
}

/// A SQLite database's pages, as its pragmas tell.
#[derive(Debug, Clone, Copy)]
struct Pages {
    size: i64,
    count: i64,
    /// `PRAGMA auto_vacuum`: 0 none, 1 full, 2 incremental.
    auto_vacuum: i64,
}

impl Pages {
    fn bytes(&self) -> u64 {
        u64::try_from(self.size.saturating_mul(self.count)).unwrap_or(0)
    }

    fn space_since(&self, before: &Pages) -> FileSpace {
        FileSpace {
            bytes_before: before.bytes(),
            bytes_after: self.bytes(),
            shrinks: self.auto_vacuum != 0,
        }
    }
}

/// Row ids as the JSON array the retention statements read.
fn id_list(ids: impl Iterator<Item = i64>) -> String {
    serde_json::to_string(&ids.collect::<Vec<i64>>()).unwrap_or_else(|_| "[]".into())
}

impl Store {
    /// Applies `policy` at `now` (unix seconds): deletes expired alerts, then expired
    /// articles, in batches, and gives the freed space back to the file system (SQLite).
    /// `dry_run` counts what would go and changes nothing. `stop` is asked between batches;
    /// when it says so, the pass ends early and says so.
    pub async fn prune(
        &self,
        policy: &RetentionPolicy,
        now: i64,
        dry_run: bool,
        stop: &(dyn Fn() -> bool + Sync),
    ) -> Result<PruneReport> {
        let cutoffs = policy.cutoffs(now);
        let before = self.sqlite_pages().await?;
        let mut report = PruneReport::default();
        if dry_run {
            self.count_expired(&cutoffs, &mut report).await?;
            report.file = before.map(|pages| pages.space_since(&pages));
            return Ok(report);
        }
        for (status, cutoff) in [
            (AlertStatus::Sent, cutoffs.sent),
            (AlertStatus::Failed, cutoffs.failed),
        ] {
            let mut after = (i64::MIN, i64::MIN);
            while cutoff != i64::MIN && !report.interrupted {
                match self.prune_alert_batch(status, cutoff, after).await? {
                    Some((last, deleted)) => {
                        after = last;
                        match status {
                            AlertStatus::Sent => report.alerts_sent += deleted,
                            _ => report.alerts_failed += deleted,
                        }
                    }
                    None => break,
                }
                report.interrupted = stop();
            }
        }
        if cutoffs.articles != i64::MIN {
            let mut after_article = (i64::MIN, i64::MIN);
            while !report.interrupted {
                match self
                    .prune_article_batch(&cutoffs, after_article, now, &mut report)
                    .await?
                {
                    Some(last) => after_article = last,
                    None => break,
                }
                report.interrupted = stop();
            }
        }
        if let Some(before) = before {
            if before.auto_vacuum == 2 && !report.interrupted {
                report.interrupted = !self.vacuum_free_pages(stop).await?;
            }
            self.checkpoint().await?;
            report.file = self
                .sqlite_pages()
                .await?
                .map(|after| after.space_since(&before));
        }
        Ok(report)
    }

    /// SQLite: rewrites a database made before newswatch set `auto_vacuum = INCREMENTAL`
    /// (one `VACUUM`, which needs free disk space the size of the database and holds the
    /// write lock while it copies it), so that retention shrinks the file from then on.
    /// Returns the database's size before and after; `None` when there is nothing to do
    /// (PostgreSQL, or a file that shrinks already).
    pub async fn make_file_shrinkable(&self) -> Result<Option<FileSpace>> {
        let Db::Sqlite(pool) = &self.db else {
            return Ok(None);
        };
        let Some(before) = self.sqlite_pages().await? else {
            return Ok(None);
        };
        if before.auto_vacuum != 0 {
            return Ok(None);
        }
        {
            let _turn = std::sync::Arc::clone(&self.writer).lock_owned().await;
            let mut conn = pool.acquire().await?;
            // VACUUM cannot run in a transaction (nor so in a migration); the checkpoint
            // empties the write-ahead log, which the rewrite filled with the whole database.
            sqlx::raw_sql(
                "PRAGMA auto_vacuum = INCREMENTAL; VACUUM; PRAGMA wal_checkpoint(TRUNCATE)",
            )
            .execute(&mut *conn)
            .await?;
        }
        Ok(self
            .sqlite_pages()
            .await?
            .map(|after| after.space_since(&before)))
    }

    async fn count_expired(&self, cutoffs: &Cutoffs, report: &mut PruneReport) -> Result<()> {
        let alerts: Vec<(String, i64)> = on_pool!(self, pool, sql => {
            sqlx::query_as(sql::EXPIRED_ALERT_COUNTS)
                .bind(cutoffs.sent)
                .bind(cutoffs.failed)
                .fetch_all(pool)
                .await?
        });
        for (status, count) in alerts {
            let count = u64::try_from(count).unwrap_or(0);
            match status.as_str() {
                "sent" => report.alerts_sent += count,
                _ => report.alerts_failed += count,
            }
        }
        if cutoffs.articles != i64::MIN {
            let articles: i64 = on_pool!(self, pool, sql => {
                sqlx::query_scalar(sql::EXPIRED_ARTICLE_COUNT)
                    .bind(cutoffs.sent)
                    .bind(cutoffs.failed)
                    .bind(cutoffs.articles)
                    .fetch_one(pool)
                    .await?
            });
            report.articles = u64::try_from(articles).unwrap_or(0);
        }
        Ok(())
    }

    /// A write transaction for one batch, with SQLite's turn to write.
    async fn begin_batch(&self) -> Result<(Tx, Option<tokio::sync::OwnedMutexGuard<()>>)> {
        let turn = match self.db {
            Db::Sqlite(_) => Some(std::sync::Arc::clone(&self.writer).lock_owned().await),
            Db::Postgres(_) => None,
        };
        Ok((self.begin().await?, turn))
    }

    /// Deletes the next batch of the alerts of `status` expired at `cutoff`, after `after`
    /// (next_attempt_at, id), with their recipients and, for a batch alert, the matches it
    /// listed; returns the last one taken and how many went, `None` when none is left.
    async fn prune_alert_batch(
        &self,
        status: AlertStatus,
        cutoff: i64,
        after: (i64, i64),
    ) -> Result<Option<((i64, i64), u64)>> {
        let (mut tx, _turn) = self.begin_batch().await?;
        let taken: Vec<(i64, i64)> = on_tx!(&mut tx, conn, sql => {
            sqlx::query_as(sql::TAKE_EXPIRED_ALERTS)
                .bind(status.as_str())
                .bind(cutoff)
                .bind(after.0)
                .bind(after.1)
                .bind(BATCH)
                .fetch_all(&mut *conn)
                .await?
        });
        let Some(&(last_id, last_due)) = taken.last() else {
            tx.commit().await?;
            return Ok(None);
        };
        let ids = id_list(taken.iter().map(|(id, _)| *id));
        let deleted = on_tx!(&mut tx, conn, sql => {
            for statement in [sql::DELETE_ALERT_RECIPIENTS, sql::DELETE_BATCH_MATCHES] {
                sqlx::query(statement).bind(&ids).execute(&mut *conn).await?;
            }
            sqlx::query(sql::DELETE_ALERTS)
                .bind(&ids)
                .execute(&mut *conn)
                .await?
                .rows_affected()
        });
        tx.commit().await?;
        Ok(Some(((last_due, last_id), deleted)))
    }

    /// Deletes the next batch of expired articles after `after` (fetched_at, id), leaving a
    /// tombstone of each and unlinking the sent alerts kept without them; returns the
    /// (fetched_at, id) of the last one taken, `None` when no expired article is left.
    async fn prune_article_batch(
        &self,
        cutoffs: &Cutoffs,
        after: (i64, i64),
        now: i64,
        report: &mut PruneReport,
    ) -> Result<Option<(i64, i64)>> {
        let (mut tx, _turn) = self.begin_batch().await?;
        let taken: Vec<(i64, i64)> = on_tx!(&mut tx, conn, sql => {
            sqlx::query_as(sql::TAKE_EXPIRED_ARTICLES)
                .bind(cutoffs.sent)
                .bind(cutoffs.failed)
                .bind(cutoffs.articles)
                .bind(after.0)
                .bind(after.1)
                .bind(BATCH)
                .fetch_all(&mut *conn)
                .await?
        });
        let Some(&(last_id, last_fetched_at)) = taken.last() else {
            tx.commit().await?;
            return Ok(None);
        };
        let ids = id_list(taken.iter().map(|(id, _)| *id));
        let deleted = on_tx!(&mut tx, conn, sql => {
            sqlx::query(sql::TOMBSTONE_ARTICLES)
                .bind(&ids)
                .bind(now)
                .execute(&mut *conn)
                .await?;
            for statement in [
                sql::DELETE_FEED_ARTICLES,
                sql::DELETE_ARTICLE_MATCHES,
                sql::UNLINK_ALERTS,
            ] {
                sqlx::query(statement).bind(&ids).execute(&mut *conn).await?;
            }
            sqlx::query(sql::DELETE_ARTICLES)
                .bind(&ids)
                .execute(&mut *conn)
                .await?
                .rows_affected()
        });
        tx.commit().await?;
        report.articles += deleted;
        Ok(Some((last_fetched_at, last_id)))
    }

    /// SQLite's page counts; `None` on PostgreSQL.
    async fn sqlite_pages(&self) -> Result<Option<Pages>> {
        let Db::Sqlite(pool) = &self.db else {
            return Ok(None);
        };
        let mut conn = pool.acquire().await?;
        let mut pages = Pages {
            size: 0,
            count: 0,
            auto_vacuum: 0,
        };
        for (value, pragma) in [
            (&mut pages.size, "PRAGMA page_size"),
            (&mut pages.count, "PRAGMA page_count"),
            (&mut pages.auto_vacuum, "PRAGMA auto_vacuum"),
        ] {
            *value = sqlx::query_scalar(pragma).fetch_one(&mut *conn).await?;
        }
        Ok(Some(pages))
    }

    /// Gives SQLite's free pages back to the file system, a step per transaction, each in its
    /// turn with the ingests; `false` when `stop` ended it early.
    async fn vacuum_free_pages(&self, stop: &(dyn Fn() -> bool + Sync)) -> Result<bool> {
        let Db::Sqlite(pool) = &self.db else {
            return Ok(true);
        };
        let mut free = i64::MAX;
        loop {
            if stop() {
                return Ok(false);
            }
            let _turn = std::sync::Arc::clone(&self.writer).lock_owned().await;
            let mut conn = pool.acquire().await?;
            let left: i64 = sqlx::query_scalar("PRAGMA freelist_count")
                .fetch_one(&mut *conn)
                .await?;
            // Done, or no step frees anything (the file is not in incremental mode).
            if left == 0 || left >= free {
                return Ok(true);
            }
            free = left;
            sqlx::query(VACUUM_STEP).execute(&mut *conn).await?;
        }
    }

    /// Copies SQLite's write-ahead log into the file, which truncates the file once the whole
    /// log is copied. PASSIVE: it neither waits for readers nor holds up writers (what it
    /// cannot copy now, the next automatic checkpoint does).
    async fn checkpoint(&self) -> Result<()> {
        if let Db::Sqlite(pool) = &self.db {
            sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                .fetch_all(pool)
                .await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
