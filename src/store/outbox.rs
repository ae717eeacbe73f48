//! The outbox's delivery state: alerts claimed for sending, and the outcome for each of an
//! alert's recipients, recorded as the server answers for that address. An alert is done when
//! no recipient is pending: sent when every address has it, failed when one was refused.

use super::rows::{self, AlertDetail, AlertRow, AlertStatus, BatchItem, DeliveryState};
use super::{MatchDelivery, NewBatch, PendingBatch, Result, Store, StoreError, Tx, on_pool, on_tx};

/// Where one recipient of an alert stands.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RecipientState {
    pub address: String,
    pub status: DeliveryState,
    /// The server's last reply about this address when it was not an acceptance.
    pub error: Option<String>,
}

/// Who claims work, and for how long a claim lasts without being renewed.
#[derive(Debug, Clone)]
pub struct Claimant {
    /// The instance id (host, pid and a random start nonce).
    pub owner: String,
    pub lease: std::time::Duration,
}

impl Claimant {
    pub(super) fn lease_seconds(&self) -> i64 {
        i64::try_from(self.lease.as_secs().max(1)).unwrap_or(i64::MAX)
    }
}

/// A recipient the server accepted, to record as sent.
/// The outbox at a glance.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutboxSummary {
    /// (status, alerts), for the statuses that have any.
    pub by_status: Vec<(String, i64)>,
    /// Unix time (s) at which the longest-waiting unsent alert was queued.
    pub oldest_unsent_queued_at: Option<i64>,
}

impl OutboxSummary {
    /// Alerts with `status`.
    pub fn count(&self, status: &str) -> i64 {
        self.by_status
            .iter()
            .find(|(s, _)| s == status)
            .map_or(0, |(_, n)| *n)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentRecord {
    pub alert_id: i64,
    pub address: String,
    pub at: i64,
}

/// The key two spellings of one address share: the part in angle brackets, if any, lower-cased.
fn address_key(address: &str) -> String {
    let bare = match (address.rfind('<'), address.rfind('>')) {
        (Some(open), Some(close)) if open < close => &address[open + 1..close],
        _ => address,
    };
    bare.trim().to_lowercase()
}

/// Records the recipients of a new alert, each address once.
pub(super) async fn insert_recipients(
    tx: &mut Tx,
    alert_id: i64,
    recipients: &[String],
) -> Result<()> {
    let mut seen = std::collections::HashSet::new();
    let unique: Vec<&str> = recipients
        .iter()
        .filter(|r| seen.insert(address_key(r)))
        .map(String::as_str)
        .collect();
    let unique = serde_json::to_string(&unique).unwrap_or_else(|_| "[]".into());
    on_tx!(tx, conn, sql => {
        sqlx::query(sql::INSERT_RECIPIENTS)
            .bind(alert_id)
            .bind(&unique)
            .execute(&mut *conn)
            .await?;
    });
    Ok(())
}

impl Store {
    /// Alerts per status, and when the longest-waiting unsent alert (queued or sending) was
    /// queued: the outbox at a glance, for metrics and the service status.
    pub async fn outbox_summary(&self) -> Result<OutboxSummary> {
        const BY_STATUS: &str = "SELECT status, COUNT(*) FROM alerts GROUP BY status";
        const OLDEST: &str =
            "SELECT MIN(queued_at) FROM alerts WHERE status IN ('queued', 'sending')";
        Ok(on_pool!(self, pool, sql => OutboxSummary {
            by_status: sqlx::query_as::<_, (String, i64)>(BY_STATUS)
                .fetch_all(pool)
                .await?,
            oldest_unsent_queued_at: sqlx::query_scalar::<_, Option<i64>>(OLDEST)
                .fetch_one(pool)
                .await?,
        }))
    }

    /// When the next queued alert falls due, or the next claim expires.
    pub async fn next_alert_due(&self) -> Result<Option<i64>> {
        Ok(
            on_pool!(self, pool, sql => sqlx::query_scalar::<_, Option<i64>>(sql::NEXT_ALERT_DUE)
            .fetch_one(pool)
            .await?),
        )
    }

    /// Puts back in the queue the alerts whose claim expired: the process that claimed them
    /// stopped (even `kill -9`) before it finished. A live claimant's claims are never taken.
    /// Recipients recorded as sent are not sent again.
    pub async fn requeue_expired_claims(&self) -> Result<u64> {
        Ok(
            on_pool!(self, pool, sql => sqlx::query(sql::REQUEUE_EXPIRED_ALERTS)
            .execute(pool)
            .await?
            .rows_affected()),
        )
    }

    /// Puts this process's own claims back in the queue (after a pass that failed half-way).
    pub async fn release_claims_of(&self, owner: &str) -> Result<u64> {
        Ok(on_pool!(self, pool, sql => sqlx::query(
            "UPDATE alerts SET status = 'queued', claimed_at = NULL, lease_owner = NULL,
                    lease_until = NULL
             WHERE status = 'sending' AND lease_owner = $1",
        )
        .bind(owner)
        .execute(pool)
        .await?
        .rows_affected()))
    }

    /// Claims up to `limit` alerts due at `now` for `claimant`, each with a lease.
    pub async fn claim_due_alerts(
        &self,
        claimant: &Claimant,
        now: i64,
        limit: i64,
    ) -> Result<Vec<AlertDetail>> {
        let mut tx = self.begin().await?;
        let lease = claimant.lease_seconds();
        let claimed = on_tx!(&mut tx, conn, sql => {
            let ids: Vec<i64> = sqlx::query_scalar(sql::DUE_ALERT_IDS)
                .bind(now)
                .bind(limit)
                .fetch_all(&mut *conn)
                .await?;
            let mut claimed = Vec::with_capacity(ids.len());
            for id in ids {
                sqlx::query(sql::CLAIM_ALERT)
                    .bind(id)
                    .bind(now)
                    .bind(&claimant.owner)
                    .bind(lease)
                    .execute(&mut *conn)
                    .await?;
                let detail = sqlx::query_as::<_, AlertDetail>(concat!(
                    rows::alert_detail_select!(),
                    " WHERE a.id = $1"
                ))
                .bind(id)
                .fetch_one(&mut *conn)
                .await?;
                claimed.push(detail);
            }
            claimed
        });
        tx.commit().await?;
        Ok(claimed)
    }

    /// Extends the lease on a claimed alert just before it is sent; `false` when the claim
    /// was lost (it expired and another process took the alert): then it must not be sent.
    pub async fn renew_claim(&self, claimant: &Claimant, alert: &AlertDetail) -> Result<bool> {
        Ok(on_pool!(self, pool, sql => sqlx::query(sql::RENEW_ALERT)
            .bind(alert.id)
            .bind(alert.lease_token)
            .bind(claimant.lease_seconds())
            .execute(pool)
            .await?
            .rows_affected()
            == 1))
    }

    /// Returns a claimed alert to the queue unattempted (shutdown came first, or the server
    /// was unreachable before this alert's turn).
    pub async fn release_claim(&self, alert_id: i64) -> Result<()> {
        on_pool!(self, pool, sql => { sqlx::query(
            "UPDATE alerts SET status = 'queued', claimed_at = NULL, attempts = attempts - 1
             WHERE id = $1 AND status = 'sending'",
        )
        .bind(alert_id)
        .execute(pool)
        .await?; });
        Ok(())
    }

    /// The recipients of an alert that do not have it yet, in the order they were configured.
    pub async fn pending_recipients(&self, alert_id: i64) -> Result<Vec<String>> {
        Ok(on_pool!(self, pool, sql => sqlx::query_scalar(
            "SELECT address FROM alert_recipients WHERE alert_id = $1 AND status = 'pending'
             ORDER BY position",
        )
        .bind(alert_id)
        .fetch_all(pool)
        .await?))
    }

    /// The server accepted the alert for this recipient.
    pub async fn recipient_sent(&self, sent: &SentRecord) -> Result<()> {
        on_pool!(self, pool, sql => { sqlx::query(
            "UPDATE alert_recipients SET status = 'sent', sent_at = $3, last_error = NULL
             WHERE alert_id = $1 AND address = $2",
        )
        .bind(sent.alert_id)
        .bind(&sent.address)
        .bind(sent.at)
        .execute(pool)
        .await?; });
        Ok(())
    }

    /// The server refused this recipient for good.
    pub async fn recipient_failed(&self, alert_id: i64, address: &str, error: &str) -> Result<()> {
        self.set_recipient(alert_id, address, DeliveryState::Failed, error)
            .await
    }

    /// The server asked to try this recipient again later.
    pub async fn recipient_deferred(
        &self,
        alert_id: i64,
        address: &str,
        error: &str,
    ) -> Result<()> {
        self.set_recipient(alert_id, address, DeliveryState::Pending, error)
            .await
    }

    async fn set_recipient(
        &self,
        alert_id: i64,
        address: &str,
        status: DeliveryState,
        error: &str,
    ) -> Result<()> {
        on_pool!(self, pool, sql => { sqlx::query(
            "UPDATE alert_recipients SET status = $3, last_error = $4
             WHERE alert_id = $1 AND address = $2",
        )
        .bind(alert_id)
        .bind(address)
        .bind(status.as_str())
        .bind(error)
        .execute(pool)
        .await?; });
        Ok(())
    }

    /// Ends a delivery attempt once no recipient is pending: the alert is sent when every
    /// recipient has it, failed when one was refused (the others keep theirs).
    pub async fn finish_alert(&self, alert_id: i64) -> Result<AlertStatus> {
        let failed: Option<String> = on_pool!(self, pool, sql => sqlx::query_scalar(
            "SELECT address || ': ' || COALESCE(last_error, 'refused') FROM alert_recipients
             WHERE alert_id = $1 AND status = 'failed' ORDER BY position LIMIT 1",
        )
        .bind(alert_id)
        .fetch_optional(pool)
        .await?);
        let status = if failed.is_some() {
            AlertStatus::Failed
        } else {
            AlertStatus::Sent
        };
        on_pool!(self, pool, sql => { sqlx::query(
            "UPDATE alerts SET status = $2, claimed_at = NULL, last_error = $3,
                    sent_at = (SELECT MAX(sent_at) FROM alert_recipients WHERE alert_id = $1)
             WHERE id = $1",
        )
        .bind(alert_id)
        .bind(status.as_str())
        .bind(failed)
        .execute(pool)
        .await?; });
        Ok(status)
    }

    /// Sending failed for some recipients; try those again at `retry_at`.
    pub async fn mark_retry(&self, alert_id: i64, error: &str, retry_at: i64) -> Result<()> {
        on_pool!(self, pool, sql => { sqlx::query(
            "UPDATE alerts SET status = 'queued', claimed_at = NULL, last_error = $2,
                    next_attempt_at = $3
             WHERE id = $1",
        )
        .bind(alert_id)
        .bind(error)
        .bind(retry_at)
        .execute(pool)
        .await?; });
        Ok(())
    }

    /// Sending failed for good: every recipient still pending is failed with `error`.
    pub async fn mark_failed(&self, alert_id: i64, error: &str) -> Result<()> {
        let mut tx = self.begin().await?;
        on_tx!(&mut tx, conn, sql => { sqlx::query(
            "UPDATE alert_recipients SET status = 'failed', last_error = $2
             WHERE alert_id = $1 AND status = 'pending'",
        )
        .bind(alert_id)
        .bind(error)
        .execute(&mut *conn)
        .await?; });
        on_tx!(&mut tx, conn, sql => { sqlx::query(
            "UPDATE alerts SET status = 'failed', claimed_at = NULL, last_error = $2 WHERE id = $1",
        )
        .bind(alert_id)
        .bind(error)
        .execute(&mut *conn)
        .await?; });
        tx.commit().await?;
        Ok(())
    }

    /// Puts a failed (or waiting) alert back in the queue for an attempt now, with a fresh
    /// give-up deadline; its refused recipients are tried again, those that have it are not.
    /// Returns whether such an alert exists.
    pub async fn retry_alert(&self, alert_id: i64, now: i64) -> Result<bool> {
        let mut tx = self.begin().await?;
        let done = on_tx!(&mut tx, conn, sql => sqlx::query(
            "UPDATE alerts SET status = 'queued', next_attempt_at = $2, queued_at = $2
             WHERE id = $1 AND status IN ('failed', 'queued')",
        )
        .bind(alert_id)
        .bind(now)
        .execute(&mut *conn)
        .await?.rows_affected());
        on_tx!(&mut tx, conn, sql => { sqlx::query(
            "UPDATE alert_recipients SET status = 'pending'
             WHERE alert_id = $1 AND status = 'failed'",
        )
        .bind(alert_id)
        .execute(&mut *conn)
        .await?; });
        tx.commit().await?;
        Ok(done == 1)
    }

    /// Puts every failed alert back in the queue; returns how many.
    pub async fn retry_failed(&self, now: i64) -> Result<u64> {
        let mut tx = self.begin().await?;
        on_tx!(&mut tx, conn, sql => { sqlx::query(
            "UPDATE alert_recipients SET status = 'pending'
             WHERE status = 'failed'
               AND alert_id IN (SELECT id FROM alerts WHERE status = 'failed')",
        )
        .execute(&mut *conn)
        .await?; });
        let done = on_tx!(&mut tx, conn, sql => sqlx::query(
            "UPDATE alerts SET status = 'queued', next_attempt_at = $1, queued_at = $1
             WHERE status = 'failed'",
        )
        .bind(now)
        .execute(&mut *conn)
        .await?.rows_affected());
        tx.commit().await?;
        Ok(done)
    }

    /// Watches with digest or overflow matches not yet in a batch alert.
    pub async fn pending_batches(&self) -> Result<Vec<PendingBatch>> {
        let rows: Vec<(String, String, i64)> = on_pool!(self, pool, sql => sqlx::query_as(
            "SELECT watch, delivery, MIN(matched_at) FROM matches
             WHERE delivery IN ('digest', 'overflow') AND batch_alert_id IS NULL
             GROUP BY watch, delivery",
        )
        .fetch_all(pool)
        .await?);
        Ok(rows
            .into_iter()
            .map(|(watch, delivery, oldest_match_at)| PendingBatch {
                watch,
                delivery: if delivery == "digest" {
                    MatchDelivery::Digest
                } else {
                    MatchDelivery::Overflow
                },
                oldest_match_at,
            })
            .collect())
    }

    /// Gathers a watch's waiting matches recorded before `batch.before` into one queued alert;
    /// `None` when there are none (or this period's batch exists already).
    pub async fn create_batch(&self, batch: &NewBatch<'_>, now: i64) -> Result<Option<i64>> {
        let mut tx = self.begin().await?;
        let count: i64 = on_tx!(&mut tx, conn, sql => sqlx::query_scalar(
            "SELECT COUNT(*) FROM matches
             WHERE watch = $1 AND delivery = $2 AND batch_alert_id IS NULL AND matched_at < $3",
        )
        .bind(batch.watch)
        .bind(batch.delivery.as_str())
        .bind(batch.before)
        .fetch_one(&mut *conn)
        .await?);
        if count == 0 {
            return Ok(None);
        }
        let kind = if batch.delivery == MatchDelivery::Digest {
            "digest"
        } else {
            "overflow"
        };
        let alert_id: Option<i64> = on_tx!(&mut tx, conn, sql => sqlx::query_scalar(
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
        .fetch_optional(&mut *conn)
        .await?);
        let Some(alert_id) = alert_id else {
            return Ok(None);
        };
        insert_recipients(&mut tx, alert_id, batch.recipients).await?;
        on_tx!(&mut tx, conn, sql => { sqlx::query(
            "UPDATE matches SET batch_alert_id = $4
             WHERE watch = $1 AND delivery = $2 AND batch_alert_id IS NULL AND matched_at < $3",
        )
        .bind(batch.watch)
        .bind(batch.delivery.as_str())
        .bind(batch.before)
        .bind(alert_id)
        .execute(&mut *conn)
        .await?; });
        tx.commit().await?;
        Ok(Some(alert_id))
    }

    /// The matches a batch alert lists, newest first.
    pub async fn batch_items(&self, alert_id: i64) -> Result<Vec<BatchItem>> {
        Ok(
            on_pool!(self, pool, sql => sqlx::query_as::<_, BatchItem>(concat!(
            rows::batch_item_select!(),
            " WHERE m.batch_alert_id = $1
              ORDER BY COALESCE(ar.published_at, ar.fetched_at) DESC, ar.id DESC"
        ))
        .bind(alert_id)
        .fetch_all(pool)
        .await?),
        )
    }

    /// Alerts, newest first, optionally of one status and created since a time.
    pub async fn alerts(
        &self,
        status: Option<AlertStatus>,
        since: Option<i64>,
    ) -> Result<Vec<AlertRow>> {
        Ok(
            on_pool!(self, pool, sql => sqlx::query_as::<_, AlertRow>(concat!(
            rows::alert_row_select!(),
            " WHERE ($1 IS NULL OR a.status = $1) AND a.created_at >= $2
             ORDER BY a.created_at DESC, a.id DESC"
        ))
        .bind(status.map(|s| s.as_str()))
        .bind(since.unwrap_or(i64::MIN))
        .fetch_all(pool)
        .await?),
        )
    }

    /// Each recipient of an alert with where it stands, in the order they were configured.
    pub async fn recipient_states(&self, alert_id: i64) -> Result<Vec<RecipientState>> {
        let rows: Vec<(String, String, Option<String>)> = on_pool!(self, pool, sql => sqlx::query_as(
            "SELECT address, status, last_error FROM alert_recipients WHERE alert_id = $1
             ORDER BY position",
        )
        .bind(alert_id)
        .fetch_all(pool)
        .await?);
        rows.into_iter()
            .map(|(address, status, error)| {
                let status = DeliveryState::try_from(status)
                    .map_err(|e| StoreError::Sql(sqlx::Error::Decode(e.into())))?;
                Ok(RecipientState {
                    address,
                    status,
                    error,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::address_key;

    #[test]
    fn two_spellings_of_one_address_share_a_key() {
        assert_eq!(address_key("Analyst <A@Example.org>"), "a@example.org");
        assert_eq!(address_key(" a@example.org "), "a@example.org");
        assert_ne!(address_key("a@example.org"), address_key("b@example.org"));
    }
}
