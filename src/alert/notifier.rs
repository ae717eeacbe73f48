//! Draining the outbox: claim the alerts that are due, render each, send it, and record the
//! result. An alert is marked sent only after the transport accepted it; a transient failure
//! is retried with exponential backoff and jitter until `give_up_after`, a permanent one (or
//! the deadline) marks it failed, loudly.

use std::time::Duration;

use chrono::{DateTime, Utc};
use lettre::message::Mailbox;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, error, info, info_span, warn};

use super::render::{ArticleAlert, render_article_alert};
use super::transport::{DeliveryError, Mailer};
use crate::config::EmailConfig;
use crate::rules::Hit;
use crate::store::{AlertDetail, Store, StoreError};

/// When to try a failed delivery again.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub initial: Duration,
    pub max: Duration,
    pub give_up_after: Duration,
}

impl RetryPolicy {
    pub fn from_config(email: &EmailConfig) -> Self {
        Self {
            initial: email.retry_initial.0,
            max: email.retry_max.0,
            give_up_after: email.give_up_after.0,
        }
    }

    /// The delay before attempt `attempts + 1`: initial × 2^(attempts − 1), at most `max`,
    /// with ±20 % jitter so that many alerts failing together do not retry together.
    pub fn delay(&self, attempts: u32) -> Duration {
        let exponent = attempts.saturating_sub(1).min(30);
        let base = self.initial.saturating_mul(1u32 << exponent).min(self.max);
        let jitter = 0.8 + fastrand::f64() * 0.4;
        base.mul_f64(jitter)
    }

    /// When to retry an alert queued at `created_at` after its `attempts`-th failure at `now`;
    /// `None` once it has been failing for longer than `give_up_after`.
    pub fn next_attempt(&self, attempts: u32, created_at: i64, now: i64) -> Option<i64> {
        let age = Duration::from_secs(now.saturating_sub(created_at).max(0) as u64);
        if age >= self.give_up_after {
            return None;
        }
        Some(now + self.delay(attempts).as_secs().max(1) as i64)
    }
}

/// What one pass over the outbox did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    pub sent: usize,
    pub retried: usize,
    pub failed: usize,
}

/// Sends due alerts.
pub struct Notifier {
    store: Store,
    mailer: Mailer,
    from: Mailbox,
    policy: RetryPolicy,
}

/// Alerts claimed per round trip to the database.
const CLAIM_BATCH: i64 = 16;

impl Notifier {
    pub fn new(store: Store, mailer: Mailer, from: Mailbox, policy: RetryPolicy) -> Self {
        Self {
            store,
            mailer,
            from,
            policy,
        }
    }

    /// Sends every alert due now, until none is left or `shutdown` fires (the message in
    /// flight is finished; claimed ones not yet started go back to the queue).
    pub async fn deliver_due(
        &self,
        shutdown: &CancellationToken,
    ) -> Result<DeliveryReport, StoreError> {
        let mut report = DeliveryReport::default();
        loop {
            if shutdown.is_cancelled() {
                return Ok(report);
            }
            let claimed = self.store.claim_due_alerts(now(), CLAIM_BATCH).await?;
            if claimed.is_empty() {
                return Ok(report);
            }
            let mut pending = claimed.into_iter();
            for alert in pending.by_ref() {
                let span = info_span!("deliver", alert = alert.id, watch = %alert.watch);
                self.deliver(alert, &mut report).instrument(span).await?;
                if shutdown.is_cancelled() {
                    break;
                }
            }
            for alert in pending {
                self.store.release_claim(alert.id).await?;
            }
        }
    }

    async fn deliver(
        &self,
        alert: AlertDetail,
        report: &mut DeliveryReport,
    ) -> Result<(), StoreError> {
        let started = std::time::Instant::now();
        let prepared =
            recipients(&alert).and_then(|to| self.render(&alert, &to).map(|message| (to, message)));
        let (to, message) = match prepared {
            Ok(prepared) => prepared,
            Err(e) => {
                error!(error = %e, "alert cannot be sent; marked failed");
                self.store.mark_failed(alert.id, &e).await?;
                report.failed += 1;
                return Ok(());
            }
        };
        let stem = format!("alert-{:08}", alert.id);
        match self.mailer.send(&message, &stem).await {
            Ok(()) => {
                self.store.mark_sent(alert.id, now()).await?;
                report.sent += 1;
                let to: Vec<String> = to.iter().map(|m| m.email.to_string()).collect();
                info!(
                    to = %to.join(", "),
                    title = %alert.title,
                    ms = started.elapsed().as_millis() as u64,
                    "alert sent"
                );
            }
            Err(DeliveryError::Transient(reason)) => {
                let attempts = u32::try_from(alert.attempts).unwrap_or(u32::MAX);
                match self.policy.next_attempt(attempts, alert.created_at, now()) {
                    Some(retry_at) => {
                        warn!(error = %reason, attempts, retry_in_s = retry_at - now(), "delivery failed; will retry");
                        self.store.mark_retry(alert.id, &reason, retry_at).await?;
                        report.retried += 1;
                    }
                    None => {
                        error!(error = %reason, attempts, "delivery kept failing; alert given up");
                        self.store.mark_failed(alert.id, &reason).await?;
                        report.failed += 1;
                    }
                }
            }
            Err(DeliveryError::Permanent(reason)) => {
                error!(error = %reason, "delivery refused permanently; alert given up");
                self.store.mark_failed(alert.id, &reason).await?;
                report.failed += 1;
            }
        }
        Ok(())
    }

    fn render(&self, alert: &AlertDetail, to: &[Mailbox]) -> Result<lettre::Message, String> {
        let hits: Vec<Hit> = alert
            .explanation
            .as_deref()
            .and_then(|json| serde_json::from_str(json).ok())
            .unwrap_or_default();
        let published = alert
            .published_at
            .and_then(|t| DateTime::<Utc>::from_timestamp(t, 0));
        let view = ArticleAlert {
            watch: &alert.watch,
            title: &alert.title,
            link: alert.link.as_deref(),
            feed_name: alert.feed_name.as_deref(),
            published,
            summary: &alert.summary,
            content: &alert.content,
            hits: &hits,
            message_id: &alert.message_id,
        };
        let date = DateTime::<Utc>::from_timestamp(alert.created_at, 0).unwrap_or_else(Utc::now);
        render_article_alert(&view, &self.from, to, date).map_err(|e| e.to_string())
    }
}

fn recipients(alert: &AlertDetail) -> Result<Vec<Mailbox>, String> {
    let addresses: Vec<String> = serde_json::from_str(&alert.recipients)
        .map_err(|e| format!("stored recipients are not readable: {e}"))?;
    if addresses.is_empty() {
        return Err("the alert has no recipients".to_string());
    }
    addresses
        .iter()
        .map(|a| {
            a.parse::<Mailbox>()
                .map_err(|e| format!("recipient {a:?}: {e}"))
        })
        .collect()
}

fn now() -> i64 {
    Utc::now().timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            initial: Duration::from_secs(30),
            max: Duration::from_secs(3600),
            give_up_after: Duration::from_secs(3 * 86400),
        }
    }

    #[test]
    fn delays_double_with_jitter_up_to_the_maximum() {
        let p = policy();
        for (attempts, base) in [
            (1u32, 30.0),
            (2, 60.0),
            (3, 120.0),
            (10, 3600.0),
            (40, 3600.0),
        ] {
            let d = p.delay(attempts).as_secs_f64();
            assert!(
                d >= base * 0.8 && d <= base * 1.2,
                "attempt {attempts}: {d}"
            );
        }
    }

    #[test]
    fn alerts_are_given_up_after_the_deadline() {
        let p = policy();
        assert!(p.next_attempt(3, 0, 100).is_some());
        assert_eq!(p.next_attempt(50, 0, 3 * 86400), None);
    }
}
