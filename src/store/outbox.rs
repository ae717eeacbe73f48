//! The outbox's delivery state: alerts claimed for sending, and the outcome for each of an
//! alert's recipients, recorded as the server answers for that address. An alert is done when
//! no recipient is pending: sent when every address has it, failed when one was refused.

use sqlx::{Executor, Sqlite};

use super::rows::{self, AlertDetail, AlertRow, AlertStatus};
use super::{Result, Store};

/// Where one recipient of an alert stands.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RecipientState {
    pub address: String,
    /// `pending`, `sent` or `failed`.
    pub status: String,
    /// The server's last reply about this address when it was not an acceptance.
    pub error: Option<String>,
}

/// A recipient the server accepted, to record as sent.
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
pub(super) async fn insert_recipients<'c, E>(
    executor: E,
    alert_id: i64,
    recipients: &[String],
) -> Result<()>
where
    E: Executor<'c, Database = Sqlite>,
{
    let mut seen = std::collections::HashSet::new();
    let unique: Vec<&str> = recipients
        .iter()
        .filter(|r| seen.insert(address_key(r)))
        .map(String::as_str)
        .collect();
    sqlx::query(
        "INSERT INTO alert_recipients (alert_id, address, position)
         SELECT $1, value, key FROM json_each($2) WHERE true
         ON CONFLICT (alert_id, address) DO NOTHING",
    )
    .bind(alert_id)
    .bind(serde_json::to_string(&unique).unwrap_or_else(|_| "[]".into()))
    .execute(executor)
    .await?;
    Ok(())
}

impl Store {
    /// When the next queued alert falls due.
    pub async fn next_alert_due(&self) -> Result<Option<i64>> {
        let row: Option<i64> =
            sqlx::query_scalar("SELECT MIN(next_attempt_at) FROM alerts WHERE status = 'queued'")
                .fetch_one(&self.pool)
                .await?;
        Ok(row)
    }

    /// Puts alerts a crashed process had claimed back in the queue. Their recipients that were
    /// recorded as sent are not sent again.
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

    /// Returns a claimed alert to the queue unattempted (shutdown came first, or the server
    /// was unreachable before this alert's turn).
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

    /// The recipients of an alert that do not have it yet, in the order they were configured.
    pub async fn pending_recipients(&self, alert_id: i64) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT address FROM alert_recipients WHERE alert_id = $1 AND status = 'pending'
             ORDER BY position",
        )
        .bind(alert_id)
        .fetch_all(&self.pool)
        .await?)
    }

    /// The server accepted the alert for this recipient.
    pub async fn recipient_sent(&self, sent: &SentRecord) -> Result<()> {
        sqlx::query(
            "UPDATE alert_recipients SET status = 'sent', sent_at = $3, last_error = NULL
             WHERE alert_id = $1 AND address = $2",
        )
        .bind(sent.alert_id)
        .bind(&sent.address)
        .bind(sent.at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The server refused this recipient for good.
    pub async fn recipient_failed(&self, alert_id: i64, address: &str, error: &str) -> Result<()> {
        self.set_recipient(alert_id, address, "failed", error).await
    }

    /// The server asked to try this recipient again later.
    pub async fn recipient_deferred(
        &self,
        alert_id: i64,
        address: &str,
        error: &str,
    ) -> Result<()> {
        self.set_recipient(alert_id, address, "pending", error)
            .await
    }

    async fn set_recipient(
        &self,
        alert_id: i64,
        address: &str,
        status: &str,
        error: &str,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE alert_recipients SET status = $3, last_error = $4
             WHERE alert_id = $1 AND address = $2",
        )
        .bind(alert_id)
        .bind(address)
        .bind(status)
        .bind(error)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Ends a delivery attempt once no recipient is pending: the alert is sent when every
    /// recipient has it, failed when one was refused (the others keep theirs).
    pub async fn finish_alert(&self, alert_id: i64) -> Result<AlertStatus> {
        let failed: Option<String> = sqlx::query_scalar(
            "SELECT address || ': ' || COALESCE(last_error, 'refused') FROM alert_recipients
             WHERE alert_id = $1 AND status = 'failed' ORDER BY position LIMIT 1",
        )
        .bind(alert_id)
        .fetch_optional(&self.pool)
        .await?;
        let status = if failed.is_some() {
            AlertStatus::Failed
        } else {
            AlertStatus::Sent
        };
        sqlx::query(
            "UPDATE alerts SET status = $2, claimed_at = NULL, last_error = $3,
                    sent_at = (SELECT MAX(sent_at) FROM alert_recipients WHERE alert_id = $1)
             WHERE id = $1",
        )
        .bind(alert_id)
        .bind(status.as_str())
        .bind(failed)
        .execute(&self.pool)
        .await?;
        Ok(status)
    }

    /// Sending failed for some recipients; try those again at `retry_at`.
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

    /// Sending failed for good: every recipient still pending is failed with `error`.
    pub async fn mark_failed(&self, alert_id: i64, error: &str) -> Result<()> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        sqlx::query(
            "UPDATE alert_recipients SET status = 'failed', last_error = $2
             WHERE alert_id = $1 AND status = 'pending'",
        )
        .bind(alert_id)
        .bind(error)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE alerts SET status = 'failed', claimed_at = NULL, last_error = $2 WHERE id = $1",
        )
        .bind(alert_id)
        .bind(error)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Puts a failed (or waiting) alert back in the queue for an attempt now, with a fresh
    /// give-up deadline; its refused recipients are tried again, those that have it are not.
    /// Returns whether such an alert exists.
    pub async fn retry_alert(&self, alert_id: i64, now: i64) -> Result<bool> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let done = sqlx::query(
            "UPDATE alerts SET status = 'queued', next_attempt_at = $2, queued_at = $2
             WHERE id = $1 AND status IN ('failed', 'queued')",
        )
        .bind(alert_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE alert_recipients SET status = 'pending'
             WHERE alert_id = $1 AND status = 'failed'",
        )
        .bind(alert_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    /// Puts every failed alert back in the queue; returns how many.
    pub async fn retry_failed(&self, now: i64) -> Result<u64> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        sqlx::query(
            "UPDATE alert_recipients SET status = 'pending'
             WHERE status = 'failed'
               AND alert_id IN (SELECT id FROM alerts WHERE status = 'failed')",
        )
        .execute(&mut *tx)
        .await?;
        let done = sqlx::query(
            "UPDATE alerts SET status = 'queued', next_attempt_at = $1, queued_at = $1
             WHERE status = 'failed'",
        )
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
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

    /// Each recipient of an alert with where it stands, in the order they were configured.
    pub async fn recipient_states(&self, alert_id: i64) -> Result<Vec<RecipientState>> {
        let rows: Vec<(String, String, Option<String>)> = sqlx::query_as(
            "SELECT address, status, last_error FROM alert_recipients WHERE alert_id = $1
             ORDER BY position",
        )
        .bind(alert_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(address, status, error)| RecipientState {
                address,
                status,
                error,
            })
            .collect())
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
