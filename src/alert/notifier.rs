//! Draining the outbox: claim the alerts that are due, render each, offer it to each recipient
//! that does not have it yet, and record each recipient's outcome as the server gives it. A
//! recipient is marked sent only after the server accepted the mail for it; a deferred one is
//! retried with exponential backoff and jitter until `give_up_after`, a refused one is failed,
//! loudly, without holding back the others. A server that cannot be reached or stalls ends the
//! pass and pauses delivery with the same backoff, so one hung server costs one timeout.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use lettre::Address;
use lettre::message::Mailbox;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, error, info, info_span, warn};

use super::batch::{digest_period, hour_start, latest_boundary, next_boundary};
use super::outlets::Outlet;
use super::render::{AlertBody, AlertMail, Item, Period, render};
use super::transport::{DeliveryError, MailSession, Mailer, OutgoingMail, RecipientOutcome};
use super::{batch_message_id, message_id_domain, short_hash};
use crate::config::{DigestSchedule, EmailConfig};
use crate::log_text::untrusted;
use crate::metrics::{DeliveryOutcome, Metrics};
use crate::rules::Hit;
use crate::store::{
    AlertDetail, AlertKind, AlertStatus, BatchItem, Claimant, MatchDelivery, NewBatch, SentRecord,
    Store, StoreError,
};
use crate::story::Role;

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

    /// When to retry an alert queued at `queued_at` after its `attempts`-th failure at `now`;
    /// `None` once it has been failing for longer than `give_up_after`.
    pub fn next_attempt(&self, attempts: u32, queued_at: i64, now: i64) -> Option<i64> {
        let age = Duration::from_secs(now.saturating_sub(queued_at).max(0) as u64);
        if age >= self.give_up_after {
            return None;
        }
        Some(now + self.delay(attempts).as_secs().max(1) as i64)
    }
}

/// What one pass over the outbox did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    pub sent: usize,
    pub retried: usize,
    pub failed: usize,
    /// Set when the pass ended because the mail server could not be reached or stalled.
    pub unavailable: Option<String>,
}

/// Whether a delivery pass goes on to the next alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    Continue,
    Stop,
}

/// A mail server that could not be reached: how many passes in a row, and no pass before.
#[derive(Debug, Clone, Copy, Default)]
struct ServerPause {
    failures: u32,
    until: i64,
    /// A refusal of the configuration (see [`DeliveryError::NeedsConfigChange`]) was logged
    /// at ERROR in this run of failures: the next ones are reminders.
    refusal_logged: bool,
}

/// What the notifier needs to know of a watch to gather its batch alerts.
#[derive(Debug, Clone)]
pub struct WatchBatching {
    pub name: String,
    pub recipients: Vec<String>,
    /// `Some` for a digest watch.
    pub digest: Option<DigestSchedule>,
}

/// Sends due alerts.
pub struct Notifier {
    store: Store,
    /// This process, and how long its claim on an alert lasts.
    claimant: Claimant,
    mailer: Mailer,
    from: Mailbox,
    policy: RetryPolicy,
    /// Replaced whole by a configuration reload.
    watches: RwLock<Arc<Vec<WatchBatching>>>,
    /// Recipients the server accepted whose "sent" could not be recorded (a database error):
    /// recorded before anything claimed is queued again, so they are not sent twice.
    sent_unrecorded: std::sync::Mutex<Vec<SentRecord>>,
    /// Set while the mail server is unavailable: no pass starts before its end.
    pause: std::sync::Mutex<ServerPause>,
    metrics: Arc<Metrics>,
}

/// Alerts claimed per round trip to the database: few, so that a process that dies strands
/// few claims until their leases expire.
const CLAIM_BATCH: i64 = 4;

impl Notifier {
    pub fn new(
        store: Store,
        claimant: Claimant,
        mailer: Mailer,
        from: Mailbox,
        policy: RetryPolicy,
        watches: Vec<WatchBatching>,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            store,
            claimant,
            mailer,
            from,
            policy,
            watches: RwLock::new(Arc::new(watches)),
            sent_unrecorded: std::sync::Mutex::new(Vec::new()),
            pause: std::sync::Mutex::new(ServerPause::default()),
            metrics,
        }
    }

    /// The watches as the configuration now defines them.
    fn watches(&self) -> Arc<Vec<WatchBatching>> {
        Arc::clone(&self.watches.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// A reloaded configuration's watches: batches are gathered by these from now on.
    pub fn set_watches(&self, watches: Vec<WatchBatching>) {
        *self.watches.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(watches);
    }

    /// When delivery may start again after the mail server was unavailable (`None`: now).
    pub fn paused_until(&self, now: i64) -> Option<i64> {
        let pause = *self.pause.lock().unwrap_or_else(|p| p.into_inner());
        (pause.until > now).then_some(pause.until)
    }

    /// Pauses delivery after the server could not be used; returns the pause and, for a
    /// refusal of the configuration, whether it is the first since the server last accepted
    /// mail (or since the start).
    fn server_unavailable(&self, now: i64, refusal: bool) -> (Duration, bool) {
        let mut pause = self.pause.lock().unwrap_or_else(|p| p.into_inner());
        pause.failures = pause.failures.saturating_add(1);
        let wait = self.policy.delay(pause.failures);
        pause.until = now + wait.as_secs().max(1) as i64;
        let first_refusal = refusal && !pause.refusal_logged;
        pause.refusal_logged |= refusal;
        (wait, first_refusal)
    }

    fn server_available(&self) {
        *self.pause.lock().unwrap_or_else(|p| p.into_inner()) = ServerPause::default();
    }

    /// This process's claims.
    pub fn claimant(&self) -> &Claimant {
        &self.claimant
    }

    /// Records as sent the alerts whose "sent" a database error kept from being recorded.
    /// Call it before queueing claimed alerts again after such an error.
    pub async fn record_unrecorded_sends(&self) -> Result<(), StoreError> {
        let pending = std::mem::take(
            &mut *self
                .sent_unrecorded
                .lock()
                .unwrap_or_else(|p| p.into_inner()),
        );
        for (index, sent) in pending.iter().enumerate() {
            if let Err(e) = self.store.recipient_sent(sent).await {
                self.sent_unrecorded
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .extend_from_slice(&pending[index..]);
                return Err(e);
            }
        }
        Ok(())
    }

    /// The period boundary a watch's waiting matches are gathered at.
    fn boundary(&self, watch: &WatchBatching, delivery: MatchDelivery, now: DateTime<Utc>) -> i64 {
        match (&watch.digest, delivery) {
            (Some(schedule), MatchDelivery::Digest) => latest_boundary(schedule, now),
            _ => hour_start(now.timestamp()),
        }
    }

    /// Turns the waiting matches of every period that has ended into batch alerts (a digest,
    /// or an hour's "and N more"); nothing is created for an empty period.
    pub async fn gather_batches(&self) -> Result<usize, StoreError> {
        let now = Utc::now();
        let domain = message_id_domain(&self.from);
        let mut created = 0;
        let watches = self.watches();
        for pending in self.store.pending_batches().await? {
            let Some(watch) = watches.iter().find(|w| w.name == pending.watch) else {
                continue;
            };
            let boundary = self.boundary(watch, pending.delivery, now);
            if pending.oldest_match_at >= boundary {
                continue;
            }
            let kind = pending.delivery.as_str();
            let batch = NewBatch {
                watch: &watch.name,
                delivery: pending.delivery,
                before: boundary,
                dedup_key: format!("{kind}:{}:{boundary}", watch.name),
                message_id: batch_message_id(&watch.name, kind, boundary, &domain),
                recipients: &watch.recipients,
            };
            if let Some(alert) = self.store.create_batch(&batch, now.timestamp()).await? {
                info!(watch = %watch.name, alert, kind, "batch alert queued");
                self.metrics.alert_queued(kind);
                created += 1;
            }
        }
        Ok(created)
    }

    /// When the next batch falls due, if any match is waiting for one.
    pub async fn next_batch_due(&self) -> Result<Option<i64>, StoreError> {
        let now = Utc::now();
        let mut next: Option<i64> = None;
        let watches = self.watches();
        for pending in self.store.pending_batches().await? {
            let Some(watch) = watches.iter().find(|w| w.name == pending.watch) else {
                continue;
            };
            let due = match (&watch.digest, pending.delivery) {
                (Some(schedule), MatchDelivery::Digest) => next_boundary(schedule, now),
                _ => hour_start(now.timestamp()) + 3600,
            };
            next = Some(next.map_or(due, |n| n.min(due)));
        }
        Ok(next)
    }

    /// Sends every alert due now, until none is left, the mail server is unavailable, or
    /// `shutdown` fires (the message in flight is finished; claimed ones not yet started go
    /// back to the queue).
    pub async fn deliver_due(
        &self,
        shutdown: &CancellationToken,
    ) -> Result<DeliveryReport, StoreError> {
        let mut report = DeliveryReport::default();
        let requeued = self.store.requeue_expired_claims().await?;
        if requeued > 0 {
            warn!(
                alerts = requeued,
                "alerts whose claim expired (the process sending them stopped) are queued again"
            );
        }
        self.gather_batches().await?;
        if self.paused_until(now()).is_some() {
            return Ok(report);
        }
        let mut session = self.mailer.session();
        let passed = self
            .deliver_claimed(&mut session, &mut report, shutdown)
            .await;
        session.finish().await;
        passed.map(|()| report)
    }

    async fn deliver_claimed(
        &self,
        session: &mut MailSession<'_>,
        report: &mut DeliveryReport,
        shutdown: &CancellationToken,
    ) -> Result<(), StoreError> {
        loop {
            if shutdown.is_cancelled() {
                return Ok(());
            }
            let claimed = self
                .store
                .claim_due_alerts(&self.claimant, now(), CLAIM_BATCH)
                .await?;
            if claimed.is_empty() {
                return Ok(());
            }
            let mut pending = claimed.into_iter();
            let mut flow = Flow::Continue;
            for alert in pending.by_ref() {
                let span = info_span!("deliver", alert = alert.id, watch = %alert.watch);
                flow = self
                    .deliver(alert, session, report, shutdown)
                    .instrument(span)
                    .await?;
                if flow == Flow::Stop || shutdown.is_cancelled() {
                    break;
                }
            }
            for alert in pending {
                self.store.release_claim(alert.id).await?;
            }
            if flow == Flow::Stop {
                return Ok(());
            }
        }
    }

    async fn deliver(
        &self,
        alert: AlertDetail,
        session: &mut MailSession<'_>,
        report: &mut DeliveryReport,
        shutdown: &CancellationToken,
    ) -> Result<Flow, StoreError> {
        let started = std::time::Instant::now();
        if !self.store.renew_claim(&self.claimant, &alert).await? {
            warn!(
                "lost the claim on this alert (its lease expired and another process took it); not sending it"
            );
            self.metrics.lease_lost("alert");
            return Ok(Flow::Continue);
        }
        let prepared = match recipients(&alert) {
            Ok(to) => self.render(&alert, &to).await?,
            Err(e) => Err(e),
        };
        let prepared = prepared.and_then(|message| {
            let from = message
                .envelope()
                .from()
                .cloned()
                .ok_or_else(|| "the message has no sender".to_string())?;
            Ok((from, message.formatted()))
        });
        let (from, bytes) = match prepared {
            Ok(prepared) => prepared,
            Err(e) => {
                error!(error = %untrusted(&e), "alert cannot be sent; marked failed");
                self.store.mark_failed(alert.id, &e).await?;
                report.failed += 1;
                self.metrics
                    .delivery(DeliveryOutcome::Failed, started.elapsed());
                return Ok(Flow::Continue);
            }
        };
        // The Message-ID's hash keeps two databases writing into one directory from
        // overwriting each other's alert number 1; the same alert always gets the same name.
        let stem = format!(
            "alert-{:08}-{}",
            alert.id,
            short_hash(alert.message_id.as_bytes(), 4)
        );
        let mail = OutgoingMail {
            from: &from,
            bytes: &bytes,
            file_stem: &stem,
        };
        let mut accepted: Vec<String> = Vec::new();
        let mut deferred: Option<String> = None;
        let mut unavailable: Option<(String, bool)> = None;
        for address in self.store.pending_recipients(alert.id).await? {
            let to = match recipient_address(&address) {
                Ok(to) => to,
                Err(e) => {
                    error!(to = %untrusted(&address), error = %untrusted(&e), "recipient is not an address; failed");
                    self.store.recipient_failed(alert.id, &address, &e).await?;
                    continue;
                }
            };
            let outcome = tokio::select! {
                outcome = session.send(&mail, &to) => outcome,
                // Past the transport's own bound (see `Mailer::longest_send`): only a send that
                // hangs beyond its timeouts is abandoned.
                _ = grace_after(shutdown, self.mailer.longest_send() + Duration::from_secs(1)) => {
                    warn!("shutting down: abandoning a delivery that did not finish in time; it stays queued");
                    self.store.release_claim(alert.id).await?;
                    return Ok(Flow::Stop);
                }
            };
            match outcome {
                Ok(RecipientOutcome::Accepted(reply)) => {
                    let sent = SentRecord {
                        alert_id: alert.id,
                        address: address.clone(),
                        at: now(),
                    };
                    if let Err(e) = self.store.recipient_sent(&sent).await {
                        self.sent_unrecorded
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .push(sent);
                        return Err(e);
                    }
                    tracing::debug!(to = %address, reply = %untrusted(&reply), "accepted");
                    accepted.push(address);
                }
                Ok(RecipientOutcome::Refused(reply)) => {
                    error!(to = %address, error = %untrusted(&reply), "refused for good for this recipient; marked failed");
                    self.store
                        .recipient_failed(alert.id, &address, &reply)
                        .await?;
                }
                Ok(RecipientOutcome::Deferred(reply)) => {
                    warn!(to = %address, error = %untrusted(&reply), "recipient deferred by the server");
                    self.store
                        .recipient_deferred(alert.id, &address, &reply)
                        .await?;
                    deferred = Some(reply);
                }
                Err(DeliveryError::Permanent(reason)) => {
                    error!(to = %address, error = %untrusted(&reason), "alert cannot be sent to this recipient; failed");
                    self.store
                        .recipient_failed(alert.id, &address, &reason)
                        .await?;
                }
                Err(
                    error @ (DeliveryError::Unavailable(_) | DeliveryError::NeedsConfigChange(_)),
                ) => {
                    let needs_config_change = matches!(error, DeliveryError::NeedsConfigChange(_));
                    let reason = error.to_string();
                    self.store
                        .recipient_deferred(alert.id, &address, &reason)
                        .await?;
                    unavailable = Some((reason, needs_config_change));
                    break;
                }
            }
        }
        if !accepted.is_empty() {
            self.server_available();
        }
        let still_pending = unavailable.as_ref().map(|(r, _)| r.clone()).or(deferred);
        if let Some(reason) = still_pending {
            let attempts = u32::try_from(alert.attempts).unwrap_or(u32::MAX);
            match self.policy.next_attempt(attempts, alert.queued_at, now()) {
                Some(retry_at) => {
                    warn!(error = %untrusted(&reason), attempts, retry_in_s = retry_at - now(), "delivery failed; will retry");
                    self.store.mark_retry(alert.id, &reason, retry_at).await?;
                    report.retried += 1;
                    self.metrics
                        .delivery(DeliveryOutcome::Retry, started.elapsed());
                }
                None => {
                    error!(error = %untrusted(&reason), attempts, "delivery kept failing; alert given up");
                    self.store.mark_failed(alert.id, &reason).await?;
                    report.failed += 1;
                    self.metrics
                        .delivery(DeliveryOutcome::Failed, started.elapsed());
                }
            }
        } else {
            let outcome = match self.store.finish_alert(alert.id).await? {
                AlertStatus::Failed => {
                    report.failed += 1;
                    DeliveryOutcome::Failed
                }
                _ => {
                    report.sent += 1;
                    DeliveryOutcome::Sent
                }
            };
            self.metrics.delivery(outcome, started.elapsed());
        }
        if !accepted.is_empty() {
            info!(
                to = %accepted.join(", "),
                title = %untrusted(alert.title.as_deref().unwrap_or(alert.kind.as_str())),
                ms = started.elapsed().as_millis() as u64,
                "alert sent"
            );
        }
        match unavailable {
            Some((reason, needs_config_change)) => {
                let (pause, first_refusal) = self.server_unavailable(now(), needs_config_change);
                let pause_ms = pause.as_millis() as u64;
                if !needs_config_change {
                    warn!(error = %untrusted(&reason), pause_ms, "mail server unavailable; delivery paused");
                } else if first_refusal {
                    // Waiting will not heal it: said loudly once, then as a reminder.
                    error!(error = %untrusted(&reason), pause_ms, "the mail server refuses this configuration; delivery paused: fix [email] (newswatch send-test tries it) and restart");
                } else {
                    warn!(error = %untrusted(&reason), pause_ms, "the mail server still refuses this configuration; delivery paused: fix [email] (newswatch send-test tries it) and restart");
                }
                report.unavailable = Some(reason);
                Ok(Flow::Stop)
            }
            None => Ok(Flow::Continue),
        }
    }

    /// The period a digest created at `created_at` covers, by the watch's schedule (the batch
    /// was gathered at the boundary before its creation time).
    fn digest_period(&self, watch: &str, created_at: i64) -> Option<Period> {
        let watches = self.watches();
        let schedule = watches.iter().find(|w| w.name == watch)?.digest.as_ref()?;
        let (from, to) = digest_period(schedule, created_at)?;
        Some(Period {
            from: DateTime::<Utc>::from_timestamp(from, 0)?,
            to: DateTime::<Utc>::from_timestamp(to, 0)?,
        })
    }

    /// Builds the message; the outer error is the database's, the inner one says why this
    /// alert cannot be rendered at all.
    async fn render(
        &self,
        alert: &AlertDetail,
        to: &[Mailbox],
    ) -> Result<Result<lettre::Message, String>, StoreError> {
        let date = DateTime::<Utc>::from_timestamp(alert.created_at, 0).unwrap_or_else(Utc::now);
        let hits = parse_hits(alert.explanation.as_deref());
        let outlets: Vec<Outlet>;
        let batch: Vec<(BatchItem, Vec<Outlet>)>;
        let batch_hits: Vec<Vec<Hit>>;
        let items: Vec<Item>;
        let body = match alert.kind {
            AlertKind::Article => {
                outlets = match (alert.story_role.as_deref(), alert.story) {
                    (Some(_), Some(story)) => self
                        .store
                        .story_outlets(&alert.watch, story, alert.article_id)
                        .await?
                        .into_iter()
                        .map(|o| Outlet {
                            feed: o.feed_name,
                            title: o.title,
                            link: o.link,
                        })
                        .collect(),
                    _ => Vec::new(),
                };
                AlertBody::Article(Item {
                    title: alert.title.as_deref().unwrap_or_default(),
                    link: alert.link.as_deref(),
                    feed_name: alert.feed_name.as_deref(),
                    published: timestamp(alert.published_at),
                    summary: alert.summary.as_deref().unwrap_or_default(),
                    content: alert.content.as_deref().unwrap_or_default(),
                    hits: &hits,
                    also_reported_by: &outlets,
                })
            }
            kind @ (AlertKind::Digest | AlertKind::Overflow) => {
                batch = by_story(self.store.batch_items(alert.id).await?);
                if batch.is_empty() {
                    return Ok(Err("the batch alert lists no matches".to_string()));
                }
                batch_hits = batch
                    .iter()
                    .map(|(b, _)| parse_hits(Some(&b.explanation)))
                    .collect();
                items = batch
                    .iter()
                    .zip(&batch_hits)
                    .map(|((b, outlets), hits)| Item {
                        title: &b.title,
                        link: b.link.as_deref(),
                        feed_name: b.feed_name.as_deref(),
                        published: timestamp(b.published_at),
                        summary: &b.summary,
                        content: &b.content,
                        hits,
                        also_reported_by: outlets,
                    })
                    .collect();
                if kind == AlertKind::Digest {
                    AlertBody::Digest(&items, self.digest_period(&alert.watch, alert.created_at))
                } else {
                    AlertBody::Overflow(&items)
                }
            }
        };
        let update_of = match alert.story_role.as_deref().and_then(Role::parse) {
            Some(Role::Update) => alert.story_first_message_id.as_deref(),
            _ => None,
        };
        let mail = AlertMail {
            watch: &alert.watch,
            message_id: &alert.message_id,
            body,
            update_of,
        };
        Ok(render(&mail, &self.from, to, date).map_err(|e| e.to_string()))
    }
}

/// A batch's matches with each story once: the first of a story's matches in the batch, with
/// the others as its outlets.
fn by_story(items: Vec<BatchItem>) -> Vec<(BatchItem, Vec<Outlet>)> {
    let mut grouped: Vec<(BatchItem, Vec<Outlet>)> = Vec::with_capacity(items.len());
    for item in items {
        let joins = item.story_role.as_ref().and_then(|_| {
            grouped
                .iter()
                .position(|(first, _)| first.story_role.is_some() && first.story == item.story)
        });
        match joins {
            Some(story) => grouped[story].1.push(Outlet {
                feed: item.feed_name,
                title: item.title,
                link: item.link,
            }),
            None => grouped.push((item, Vec::new())),
        }
    }
    grouped
}

/// Fires `grace` after shutdown was asked for: how long a delivery in flight may go on.
async fn grace_after(shutdown: &CancellationToken, grace: Duration) {
    shutdown.cancelled().await;
    tokio::time::sleep(grace).await;
}

fn parse_hits(json: Option<&str>) -> Vec<Hit> {
    json.and_then(|j| serde_json::from_str(j).ok())
        .unwrap_or_default()
}

fn timestamp(seconds: Option<i64>) -> Option<DateTime<Utc>> {
    seconds.and_then(|t| DateTime::<Utc>::from_timestamp(t, 0))
}

fn recipients(alert: &AlertDetail) -> Result<Vec<Mailbox>, String> {
    mailboxes(&alert.recipients)
}

/// The envelope address of a stored recipient (`a@b` or `Name <a@b>`).
fn recipient_address(stored: &str) -> Result<Address, String> {
    stored
        .parse::<Mailbox>()
        .map(|m| m.email)
        .map_err(|e| format!("recipient {stored:?}: {e}"))
}

/// The stored recipients (a JSON array of addresses) as mailboxes, each address once.
fn mailboxes(stored: &str) -> Result<Vec<Mailbox>, String> {
    let addresses: Vec<String> = serde_json::from_str(stored)
        .map_err(|e| format!("stored recipients are not readable: {e}"))?;
    if addresses.is_empty() {
        return Err("the alert has no recipients".to_string());
    }
    let mut mailboxes: Vec<Mailbox> = Vec::with_capacity(addresses.len());
    for address in &addresses {
        let mailbox = address
            .parse::<Mailbox>()
            .map_err(|e| format!("recipient {address:?}: {e}"))?;
        // An address listed twice gets the mail once.
        let email = mailbox.email.to_string();
        if !mailboxes
            .iter()
            .any(|m| m.email.to_string().eq_ignore_ascii_case(&email))
        {
            mailboxes.push(mailbox);
        }
    }
    Ok(mailboxes)
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
    fn each_recipient_gets_the_mail_once() {
        let to =
            mailboxes(r#"["a@example.org", "Analyst <A@example.org>", "b@example.org"]"#).unwrap();
        let emails: Vec<String> = to.iter().map(|m| m.email.to_string()).collect();
        assert_eq!(emails, ["a@example.org", "b@example.org"]);
        assert!(mailboxes("[]").is_err());
        assert!(mailboxes(r#"["not an address"]"#).is_err());
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
