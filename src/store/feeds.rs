//! Feeds and their poll state: reconciling the table with the configuration, what is due, and
//! the outcome of each poll.

use super::feed_writes::{FeedWrite, Written};
use super::ingest::record_poll_statement;
use super::rows::{self, ClaimRow, FeedHealth, FeedPollState, FeedRow, PollStatus, QueuedFeed};
use super::{
    Claimant, Db, FeedLease, FeedSpec, PollRecord, Result, Store, StoreError, dialect, on_pool,
    on_tx,
};

impl Store {
    /// Reconciles the feeds table with the configuration, in a few statements whatever the
    /// number of feeds: new feeds are added, a changed URL restarts the feed's HTTP state,
    /// feeds no longer configured stop being polled (their articles stay).
    pub async fn sync_feeds(&self, feeds: &[FeedSpec]) -> Result<()> {
        let configured: Vec<serde_json::Value> = feeds
            .iter()
            .map(|f| serde_json::json!({ "name": f.name, "url": f.url }))
            .collect();
        let configured = serde_json::to_string(&configured).unwrap_or_else(|_| "[]".into());
        let mut tx = self.begin().await?;
        on_tx!(&mut tx, conn, sql => {
            for statement in [sql::RESET_MOVED_FEEDS, sql::ADD_FEEDS, sql::RETIRE_FEEDS] {
                sqlx::query(statement)
                    .bind(&configured)
                    .execute(&mut *conn)
                    .await?;
            }
        });
        tx.commit().await
    }

    /// Every feed (active ones first), with its article count.
    pub async fn feeds(&self) -> Result<Vec<FeedRow>> {
        Ok(
            on_pool!(self, pool, sql => sqlx::query_as::<_, FeedRow>(concat!(
            rows::feed_select!(),
            " ORDER BY f.active DESC, f.name"
        ))
        .fetch_all(pool)
        .await?),
        )
    }

    /// Active feeds due for a poll at `now_ms` (unix milliseconds) that no live lease holds,
    /// in the order they fell due (id order among feeds due at the same time): the scheduler
    /// queues these two columns per feed and reads the rest when the poll starts.
    pub async fn due_feeds(&self, now_ms: i64) -> Result<Vec<QueuedFeed>> {
        Ok(on_pool!(self, pool, sql => {
            sqlx::query_as::<_, QueuedFeed>(sql::DUE_FEEDS)
                .bind(now_ms)
                .fetch_all(pool)
                .await?
        }))
    }

    /// Every active feed's name, last successful poll (unix s) and failures in a row: how
    /// the feeds are doing, whichever instance polled them (for metrics).
    pub async fn feed_health(&self) -> Result<Vec<FeedHealth>> {
        Ok(on_pool!(self, pool, sql => {
            sqlx::query_as::<_, FeedHealth>(
                "SELECT name, last_success_at, consecutive_errors FROM feeds WHERE active",
            )
            .fetch_all(pool)
            .await?
        }))
    }

    /// Every active feed, by name: what `once` polls.
    pub async fn active_feeds(&self) -> Result<Vec<QueuedFeed>> {
        Ok(on_pool!(self, pool, sql => {
            sqlx::query_as::<_, QueuedFeed>(
                "SELECT id, url FROM feeds WHERE active ORDER BY name",
            )
            .fetch_all(pool)
            .await?
        }))
    }

    /// A feed's poll state, read as its poll starts (`None` for an unknown id).
    pub async fn feed_poll_state(&self, id: i64) -> Result<Option<FeedPollState>> {
        Ok(on_pool!(self, pool, sql => {
            sqlx::query_as::<_, FeedPollState>(
                "SELECT id, name, url, etag, last_modified, first_success_at, consecutive_errors
                 FROM feeds WHERE id = $1",
            )
            .bind(id)
            .fetch_optional(pool)
            .await?
        }))
    }

    /// The earliest time (unix ms) after `now_ms` at which a feed falls due, or a lease held
    /// on a due feed expires (those due and free are being polled, or held back by the
    /// scheduler).
    pub async fn next_poll_after(&self, now_ms: i64) -> Result<Option<i64>> {
        Ok(on_pool!(self, pool, sql => {
            sqlx::query_scalar::<_, Option<i64>>(sql::NEXT_POLL_AFTER)
                .bind(now_ms)
                .fetch_one(pool)
                .await?
        }))
    }

    /// Claims a poll of `feed_id` for `claimant`, committed before it returns, with the state
    /// the poll starts from (one statement; on SQLite committed together with the other polls'
    /// claims and records waiting, see `feed_writes`): `None` when another live process holds
    /// it, or when it is not due (by the database's clock) unless `even_if_not_due` (`once`
    /// polls every feed).
    pub async fn claim_feed(
        &self,
        feed_id: i64,
        claimant: &Claimant,
        even_if_not_due: bool,
    ) -> Result<Option<(FeedLease, FeedPollState)>> {
        let claimed: Option<ClaimRow> = match &self.db {
            Db::Sqlite(pool) => {
                let write = FeedWrite::Claim {
                    feed_id,
                    owner: claimant.owner.clone(),
                    lease_seconds: claimant.lease_seconds(),
                    even_if_not_due,
                };
                match self.feed_writes.write(pool, &self.writer, write).await? {
                    Written::Claimed(claimed) => claimed,
                    Written::Recorded(_) => None,
                }
            }
            Db::Postgres(pool) => {
                sqlx::query_as(dialect::postgres::CLAIM_FEED)
                    .bind(feed_id)
                    .bind(&claimant.owner)
                    .bind(claimant.lease_seconds())
                    .bind(even_if_not_due)
                    .fetch_optional(pool)
                    .await?
            }
        };
        Ok(claimed.map(|row| {
            let lease = FeedLease {
                feed_id,
                token: row.lease_token,
            };
            (lease, row.state)
        }))
    }

    /// Records a poll that produced no articles to ingest (an error, or 304) and ends its
    /// lease: one statement (on SQLite committed with others, as claims are), written only
    /// while `lease` is still this process's.
    pub async fn record_poll(&self, lease: FeedLease, record: &PollRecord, now: i64) -> Result<()> {
        let held = match &self.db {
            Db::Sqlite(pool) => {
                let write = FeedWrite::Record {
                    lease,
                    record: record.clone(),
                    now,
                };
                match self.feed_writes.write(pool, &self.writer, write).await? {
                    Written::Recorded(rows) => rows,
                    Written::Claimed(_) => 0,
                }
            }
            Db::Postgres(pool) => record_poll_statement!(lease, record, now)
                .execute(pool)
                .await?
                .rows_affected(),
        };
        if held == 0 {
            return Err(StoreError::LeaseLost {
                feed_id: lease.feed_id,
            });
        }
        Ok(())
    }
}
