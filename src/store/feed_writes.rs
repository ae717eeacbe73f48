//! Group commit for the two small writes every poll makes on SQLite: its claim, and the record
//! of a poll that stored nothing (a 304, an error). Committed one by one, each costs a commit of
//! its own (file locks, a WAL append, the other connections' page caches invalidated), and a
//! cycle of 2,000 unchanged feeds is 4,000 commits. Polls that want to write at the same time
//! are written instead by whichever of them gets SQLite's one writer turn first, in one
//! transaction; a poll alone writes alone, as before, without waiting for company.
//!
//! PostgreSQL runs these writes side by side on its pool and does not come here.

use std::sync::Mutex;

use sqlx::SqlitePool;
use tokio::sync::oneshot;

use super::dialect::sqlite as sql;
use super::ingest::record_poll_statement;
use super::rows::{ClaimRow, PollStatus};
use super::{FeedLease, PollRecord, Result, StoreError};

/// Most writes one transaction takes.
const MOST_PER_COMMIT: usize = 256;

/// One poll's write.
#[derive(Debug)]
pub(super) enum FeedWrite {
    Claim {
        feed_id: i64,
        owner: String,
        lease_seconds: i64,
        even_if_not_due: bool,
    },
    Record {
        lease: FeedLease,
        record: PollRecord,
        now: i64,
    },
}

/// What a write did.
#[derive(Debug)]
pub(super) enum Written {
    /// The claim, or `None` when the feed was not free or not due.
    Claimed(Option<ClaimRow>),
    /// Rows the record changed: 0 when the lease was no longer the poll's.
    Recorded(u64),
}

struct Pending {
    write: FeedWrite,
    reply: oneshot::Sender<Result<Written>>,
}

/// The writes waiting for the writer turn.
#[derive(Default)]
pub(super) struct FeedWrites {
    waiting: Mutex<Vec<Pending>>,
}

impl FeedWrites {
    /// Writes `write`, with any others waiting by the time this one gets the turn.
    pub(super) async fn write(
        &self,
        pool: &SqlitePool,
        writer: &tokio::sync::Mutex<()>,
        write: FeedWrite,
    ) -> Result<Written> {
        let (reply, mut written) = oneshot::channel();
        self.lock().push(Pending { write, reply });
        let turn = writer.lock().await;
        // Another poll may have written this one in its transaction (it replies before it
        // gives the turn back).
        if let Ok(result) = written.try_recv() {
            return result;
        }
        loop {
            // The oldest first, so that this one's turn comes however many keep arriving.
            let batch: Vec<Pending> = {
                let mut waiting = self.lock();
                let take = waiting.len().min(MOST_PER_COMMIT);
                waiting.drain(..take).collect()
            };
            if batch.is_empty() {
                break;
            }
            write_batch(pool, batch).await;
            if let Ok(result) = written.try_recv() {
                drop(turn);
                return result;
            }
        }
        drop(turn);
        written.await.unwrap_or_else(|_| Err(abandoned()))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Pending>> {
        self.waiting.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Writes a batch in one transaction and answers each write; when the transaction fails,
/// each write alone, so that one bad write fails only its own poll.
async fn write_batch(pool: &SqlitePool, batch: Vec<Pending>) {
    if batch.len() > 1 {
        match in_one_transaction(pool, &batch).await {
            Ok(results) => {
                for (pending, result) in batch.into_iter().zip(results) {
                    let _ = pending.reply.send(Ok(result));
                }
                return;
            }
            Err(e) => {
                tracing::debug!(error = %e, "a batch of poll writes failed; writing each alone")
            }
        }
    }
    for pending in batch {
        let result = match pool.acquire().await {
            Ok(mut conn) => execute(&mut conn, &pending.write).await,
            Err(e) => Err(e.into()),
        };
        let _ = pending.reply.send(result);
    }
}

async fn in_one_transaction(pool: &SqlitePool, batch: &[Pending]) -> Result<Vec<Written>> {
    let mut tx = pool.begin_with(sql::BEGIN_ARTICLE_WRITES).await?;
    let mut results = Vec::with_capacity(batch.len());
    for pending in batch {
        results.push(execute(&mut tx, &pending.write).await?);
    }
    tx.commit().await?;
    Ok(results)
}

async fn execute(conn: &mut sqlx::SqliteConnection, write: &FeedWrite) -> Result<Written> {
    match write {
        FeedWrite::Claim {
            feed_id,
            owner,
            lease_seconds,
            even_if_not_due,
        } => {
            let claimed: Option<ClaimRow> = sqlx::query_as(sql::CLAIM_FEED)
                .bind(feed_id)
                .bind(owner)
                .bind(lease_seconds)
                .bind(even_if_not_due)
                .fetch_optional(&mut *conn)
                .await?;
            Ok(Written::Claimed(claimed))
        }
        FeedWrite::Record { lease, record, now } => {
            let lease = *lease;
            let now = *now;
            let done = record_poll_statement!(lease, record, now)
                .execute(&mut *conn)
                .await?;
            Ok(Written::Recorded(done.rows_affected()))
        }
    }
}

/// The poll that was writing this one's batch stopped half-way (it was cancelled).
fn abandoned() -> StoreError {
    StoreError::Sql(sqlx::Error::WorkerCrashed)
}
