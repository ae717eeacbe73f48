//! Wiring the pipeline together: a scheduler that starts polls when feeds are due, polls that
//! fetch and ingest within concurrency limits (overall and per host), a notifier that drains
//! the outbox, and shutdown on a signal that lets the work in hand finish.

mod heartbeat;
mod queue;
mod reload;
pub mod schedule;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use chrono::Utc;
use lettre::message::Mailbox;
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, debug, error, info, info_span, warn};

use crate::alert::{Mailer, Notifier, RetryPolicy, WatchBatching, message_id_domain};
use crate::config::Config;
use crate::feed::{self, FetchRequest, FetchSettings, Fetcher, PolledContent};
use crate::ingest::{AlertWindow, Archive, FeedContext, Ingestor, WatchDelivery, WatchTargets};
use crate::log_text::untrusted;
use crate::metrics::{self, Metrics};
use crate::rules::WatchSet;
use crate::store::{
    Claimant, FeedSpec, Instance, PollRecord, QueuedFeed, RetentionPolicy, Store, StoreError,
};
use crate::systemd;
use crate::wording::plural;
pub use heartbeat::Heartbeat;
use queue::{Host, PollQueue, host_of};
pub use reload::ReloadTriggers;
use schedule::Schedule;

/// Why the daemon could not start or go on.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Setup(String),
}

/// What a feed is, per the configuration.
#[derive(Debug, Clone)]
struct FeedSettings {
    interval: Duration,
    /// Name and tags.
    labels: Vec<String>,
    lang: Option<String>,
}

/// A random fraction of a second added to each timed wake-up, so that instances sharing a
/// database do not all look for work at the same instant.
fn wake_jitter() -> Duration {
    Duration::from_millis(fastrand::u64(0..100))
}

/// The shortest wait between two looks at the schedule (feeds falling due within it are
/// queued together rather than one scan each): a thirtieth of the shortest feed interval, so
/// that no feed waits more than that past its time, between these bounds. A scan reads the
/// feeds table, so a daemon of 15-minute feeds looks once a second at most.
fn min_scan_gap(shortest_interval: Option<Duration>) -> Duration {
    shortest_interval.map_or(Duration::from_secs(1), |interval| {
        (interval / 30).clamp(Duration::from_millis(50), Duration::from_secs(1))
    })
}

/// How often the scheduler loop proves it is alive: every [`heartbeat::BEAT_EVERY`], or more
/// often when systemd's watchdog wants it (half its timeout).
fn beat_interval() -> Duration {
    systemd::watchdog_timeout()
        .map_or(heartbeat::BEAT_EVERY, |timeout| {
            (timeout / 2).min(heartbeat::BEAT_EVERY)
        })
        .max(Duration::from_millis(100))
}

/// The longest: a look at least this often sees feeds another instance's config added.
const MAX_SCAN_GAP: Duration = Duration::from_secs(60);

/// How long to wait after a database error before trying again.
const DATABASE_RETRY: Duration = Duration::from_secs(5);

/// A poll that could not record its outcome (a database error, a panic) leaves the feed due;
/// it is held back this long, doubling with each failure in a row up to [`MAX_FAILED_POLL_HOLD`],
/// instead of being fetched again at once.
const FAILED_POLL_HOLD: Duration = Duration::from_secs(60);
const MAX_FAILED_POLL_HOLD: Duration = Duration::from_secs(3600);

/// Why a poll task ended without recording its outcome in the feed's schedule.
#[derive(Debug)]
enum PollTaskError {
    Database(StoreError),
    Panicked,
}

/// Feeds whose last poll could not record its outcome: not polled again before their time.
#[derive(Debug, Default)]
struct HeldFeeds {
    /// Feed id → (failures in a row, unix time in ms before which it is not polled).
    held: HashMap<i64, (u32, i64)>,
}

impl HeldFeeds {
    fn failed(&mut self, feed: i64, now_ms: i64) {
        let failures = self
            .held
            .get(&feed)
            .map_or(0, |(n, _)| *n)
            .saturating_add(1);
        let hold = FAILED_POLL_HOLD
            .saturating_mul(1u32 << failures.saturating_sub(1).min(16))
            .min(MAX_FAILED_POLL_HOLD);
        self.held
            .insert(feed, (failures, schedule::after_ms(now_ms, hold)));
    }

    fn succeeded(&mut self, feed: i64) {
        self.held.remove(&feed);
    }

    /// The earliest time (ms) after `now_ms` at which a held feed may be polled again.
    fn next_release(&self, now_ms: i64) -> Option<i64> {
        self.held
            .values()
            .map(|(_, until)| *until)
            .filter(|until| *until > now_ms)
            .min()
    }

    fn is_held(&self, feed: i64, now_ms: i64) -> bool {
        self.held
            .get(&feed)
            .is_some_and(|(_, until)| *until > now_ms)
    }
}

/// What a poll task returns: its feed and how the poll went.
type PollOutcome = (i64, Result<PollSummary, PollTaskError>);

/// A started poll's turn of its host: given back to the [`PollQueue`] when the fetch ends,
/// or when the poll stops or panics before that (on drop).
struct HostTurn {
    host: Option<Host>,
    done: mpsc::UnboundedSender<Host>,
}

impl HostTurn {
    fn end(&mut self) {
        if let Some(host) = self.host.take() {
            // The receiver lives as long as the polls it started; if it is gone, so is the
            // queue the turn belonged to.
            let _ = self.done.send(host);
        }
    }
}

impl Drop for HostTurn {
    fn drop(&mut self) {
        self.end();
    }
}

/// The polls of a cycle (`once`) or of the scheduler (`run`): feeds waiting in a
/// [`PollQueue`] and tasks for the ones that hold a turn and a slot. Memory stays in
/// proportion to `concurrency`, plus a few words per waiting feed, however many are due.
struct Polls {
    queue: PollQueue,
    /// Feeds queued or polling: a feed is queued once until its poll ends.
    pending: HashSet<i64>,
    tasks: JoinSet<PollOutcome>,
    fetch_done: mpsc::UnboundedSender<Host>,
    fetches_done: mpsc::UnboundedReceiver<Host>,
    /// `once` polls every feed; the scheduler only those due.
    even_if_not_due: bool,
}

impl Polls {
    fn new(concurrency: usize, per_host: usize, even_if_not_due: bool) -> Polls {
        let (fetch_done, fetches_done) = mpsc::unbounded_channel();
        Polls {
            queue: PollQueue::new(concurrency, per_host),
            pending: HashSet::new(),
            tasks: JoinSet::new(),
            fetch_done,
            fetches_done,
            even_if_not_due,
        }
    }

    /// Queues a feed behind those queued before, unless it is queued or polling already.
    /// Call [`Polls::start_ready`] after queueing.
    fn push(&mut self, feed: &QueuedFeed) {
        if self.pending.insert(feed.id) {
            self.queue.push(feed.id, &host_of(&feed.url));
        }
    }

    /// Polls started and not ended.
    fn running(&self) -> usize {
        self.queue.running()
    }

    /// Starts a poll task for every feed that may start now (none after `shutdown`).
    fn start_ready(&mut self, daemon: &Arc<Daemon>, shutdown: &CancellationToken) {
        if shutdown.is_cancelled() {
            return;
        }
        while let Some(start) = self.queue.next_start() {
            let turn = HostTurn {
                host: Some(start.host),
                done: self.fetch_done.clone(),
            };
            let daemon = Arc::clone(daemon);
            let shutdown = shutdown.clone();
            let id = start.feed;
            let even_if_not_due = self.even_if_not_due;
            self.tasks.spawn(async move {
                // A bug must cost one poll, never the feed's place in the schedule.
                let poll = std::panic::AssertUnwindSafe(daemon.poll_feed(
                    id,
                    turn,
                    even_if_not_due,
                    &shutdown,
                ));
                let outcome = match futures_util::FutureExt::catch_unwind(poll).await {
                    Ok(polled) => polled.map_err(PollTaskError::Database),
                    Err(_) => Err(PollTaskError::Panicked),
                };
                (id, outcome)
            });
        }
    }

    /// Waits for the next poll to end, meanwhile starting waiting feeds as turns and slots
    /// free up; `None` when no poll is running. Cancel-safe: the state is updated between
    /// awaits only.
    async fn next_done(
        &mut self,
        daemon: &Arc<Daemon>,
        shutdown: &CancellationToken,
    ) -> Option<PollOutcome> {
        loop {
            tokio::select! {
                Some(host) = self.fetches_done.recv() => {
                    self.queue.fetch_done(&host);
                    self.start_ready(daemon, shutdown);
                }
                joined = self.tasks.join_next() => {
                    let joined = joined?;
                    // A task gives its host turn back before it ends: count it first.
                    while let Ok(host) = self.fetches_done.try_recv() {
                        self.queue.fetch_done(&host);
                    }
                    self.queue.poll_done();
                    self.start_ready(daemon, shutdown);
                    // Tasks catch panics, so a join error is a task cancelled as the
                    // runtime shuts down.
                    if let Ok((id, outcome)) = joined {
                        self.pending.remove(&id);
                        return Some((id, outcome));
                    }
                }
            }
        }
    }
}

/// What one look at the schedule found.
struct DueScan {
    /// The unix time in ms looked at.
    now_ms: i64,
    /// The feeds due then, in due order.
    feeds: Vec<QueuedFeed>,
    /// The earliest next poll (ms) among the feeds not yet due.
    next_after_ms: Option<i64>,
}

type ScanFuture =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<DueScan, StoreError>> + Send>>;

/// What one poll did, for the cycle summary.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PollSummary {
    pub ok: bool,
    pub new_articles: usize,
    pub alerts_queued: usize,
}

/// What `once` did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CycleReport {
    pub feeds: usize,
    pub failed_feeds: usize,
    pub new_articles: usize,
    pub alerts_queued: usize,
    pub alerts_sent: usize,
    pub alerts_retrying: usize,
    pub alerts_failed: usize,
    /// Why the mail server could not be used, when it could not.
    pub mail_unavailable: Option<String>,
}

/// What a configuration reload replaces whole: everything a poll reads from the
/// configuration. A poll keeps the one it started with.
struct Pipeline {
    feeds: HashMap<String, FeedSettings>,
    ingestor: Ingestor,
    schedule: Schedule,
    /// See [`min_scan_gap`].
    min_scan_gap: Duration,
    /// `[retention]`, applied daily beside the notifier.
    retention: RetentionPolicy,
}

impl Pipeline {
    fn new(
        config: &Config,
        watches: Arc<WatchSet>,
        message_id_domain: &str,
        metrics: &Arc<Metrics>,
        archive: &Arc<Archive>,
    ) -> Pipeline {
        let targets = WatchTargets {
            watches: config
                .watches()
                .map(|w| WatchDelivery {
                    recipients: w.recipients(),
                    digest: w.digest_schedule().is_some(),
                    max_per_hour: w.max_per_hour,
                    group: w.group,
                    group_window: w.group_window(),
                })
                .collect(),
            message_id_domain: message_id_domain.to_string(),
        };
        let window = AlertWindow {
            first_poll_window: config.polling.first_poll_window.0,
            max_age: config.polling.max_age.0,
        };
        let feeds: HashMap<String, FeedSettings> = config
            .feeds()
            .filter(|f| f.enabled)
            .map(|f| {
                let mut labels = vec![f.name().to_string()];
                labels.extend(f.tags.iter().cloned());
                let settings = FeedSettings {
                    interval: config.feed_interval(f),
                    labels,
                    lang: f.lang().map(str::to_string),
                };
                (f.name().to_string(), settings)
            })
            .collect();
        Pipeline {
            ingestor: Ingestor::new(
                watches,
                targets,
                window,
                Arc::clone(metrics),
                Arc::clone(archive),
            ),
            schedule: Schedule {
                max_interval: config.polling.max_interval.0,
                max_backoff: config.polling.max_backoff.0,
            },
            min_scan_gap: min_scan_gap(feeds.values().map(|f| f.interval).min()),
            feeds,
            retention: config.retention.policy(),
        }
    }
}

/// What the notifier gathers batch alerts by, per watch.
fn watch_batching(config: &Config) -> Vec<WatchBatching> {
    config
        .watches()
        .map(|w| WatchBatching {
            name: w.name().to_string(),
            recipients: w.recipients(),
            digest: w.digest_schedule(),
        })
        .collect()
}

/// The feeds the database should poll, per the configuration: the enabled ones (a disabled
/// feed's row is retired as a removed feed's is).
fn feed_specs(config: &Config) -> Vec<FeedSpec> {
    config
        .feeds()
        .filter(|f| f.enabled)
        .map(|f| FeedSpec {
            name: f.name().to_string(),
            url: f.url().to_string(),
        })
        .collect()
}

/// The running pipeline.
pub struct Daemon {
    store: Store,
    fetcher: Fetcher,
    notifier: Notifier,
    pipeline: RwLock<Arc<Pipeline>>,
    /// The configuration running now, to tell what a reload changes.
    config: Mutex<Arc<Config>>,
    /// The configuration at start: what the restart-only keys still are.
    started_with: Arc<Config>,
    /// Serialises reloads (a signal and a file change at once).
    reloading: tokio::sync::Mutex<()>,
    message_id_domain: String,
    /// Polls at once, all hosts together (`[polling] concurrency`).
    concurrency: usize,
    /// Fetches at once from one host (`[polling] per_host`).
    per_host_limit: usize,
    /// Wakes the notifier when an ingest queued alerts.
    alerts_queued: Notify,
    /// Wakes the scheduler to look at the schedule now (a reload added feeds).
    rescan: Notify,
    /// This process, as registered in the database (its fingerprint follows reloads).
    instance: Mutex<Instance>,
    /// This process's claims on feed polls, which outlast the longest legitimate poll.
    feed_claimant: Claimant,
    metrics: Arc<Metrics>,
    /// The recent articles' term statistics for story grouping; outlives reloads.
    archive: Arc<Archive>,
    heartbeat: Heartbeat,
    /// Held while this process polls and delivers: one daemon per SQLite database.
    _lock: Option<std::fs::File>,
}

/// Takes the lock file next to the database, so that a second `run` or `once` on the same
/// database cannot requeue (and so send twice) the alerts this one is sending. The lock sits
/// beside the file the path resolves to, so a symlink to the database finds the same lock.
fn lock_database(url: &str) -> Result<Option<std::fs::File>, DaemonError> {
    let Some(path) = Store::resolved_file_path(url) else {
        return Ok(None);
    };
    let mut lock_path = path.into_os_string();
    lock_path.push(".lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| {
            DaemonError::Setup(format!(
                "cannot open the lock file {}: {e} (the database's directory must exist and be \
                 writable)",
                lock_path.display()
            ))
        })?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) => Err(DaemonError::Setup(format!(
            "another newswatch process (run or once) is using this database ({}); stop it first",
            lock_path.display()
        ))),
        Err(std::fs::TryLockError::Error(e)) => Err(DaemonError::Setup(format!(
            "cannot lock {}: {e}",
            lock_path.display()
        ))),
    }
}

/// How long this process's claim on an alert lasts: renewed before each message, it must
/// outlive one whole delivery (connection set-up and one transaction, each bounded by the SMTP
/// timeout).
fn alert_lease(config: &Config) -> Duration {
    match &config.email.smtp {
        Some(smtp) if config.email.transport == crate::config::Transport::Smtp => {
            smtp.get_ref().timeout.0.saturating_mul(2) + Duration::from_secs(10)
        }
        _ => Duration::from_secs(60),
    }
}

/// Every instance runs the same configuration; one that differs says so. On SQLite the lock
/// file keeps a second process out, so any other instance there is one that died.
async fn warn_about_other_configs(store: &Store, me: &Instance) -> Result<(), StoreError> {
    if store.backend() == crate::store::Backend::Sqlite {
        return Ok(());
    }
    for other in store.live_instances(INSTANCE_LIVE_FOR).await? {
        if other.id != me.id && other.config_fingerprint != me.config_fingerprint {
            warn!(
                instance = %other.id,
                "another instance on this database runs a different configuration; every instance should run the same file"
            );
        }
    }
    Ok(())
}

/// An instance not seen for this long is taken to be gone.
pub const INSTANCE_LIVE_FOR: Duration = Duration::from_secs(120);

impl Daemon {
    /// Opens the database, reconciles feeds with the configuration, puts alerts a crash left
    /// claimed back in the queue, and prepares fetching and delivery.
    pub async fn start(config: &Config) -> Result<Arc<Daemon>, DaemonError> {
        let watches = config.compile_watches().map_err(|errors| {
            DaemonError::Setup(
                errors
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("\n"),
            )
        })?;
        let mailer =
            Mailer::from_config(&config.email).map_err(|e| DaemonError::Setup(e.to_string()))?;
        let from: Mailbox = config
            .email
            .from
            .get_ref()
            .parse()
            .map_err(|e| DaemonError::Setup(format!("[email] from: {e}")))?;
        let lock = lock_database(&config.database.url)?;
        let store = Store::open(&config.database.url, config.database.max_connections).await?;
        store.sync_feeds(&feed_specs(config)).await?;
        let instance = Instance::of_this_process(config);
        store.register_instance(&instance).await?;
        warn_about_other_configs(&store, &instance).await?;
        let claimant = Claimant {
            owner: instance.id.clone(),
            lease: alert_lease(config),
        };
        let fetcher = Fetcher::new(FetchSettings {
            timeout: config.polling.timeout.0,
            max_body: config.polling.max_body.0,
            user_agent: config.polling.user_agent.clone(),
        })
        .map_err(|e| DaemonError::Setup(format!("HTTP client: {e}")))?;
        let metrics = Arc::new(Metrics::new());
        let message_id_domain = message_id_domain(&from);
        let archive = Arc::new(Archive::new());
        let pipeline = Pipeline::new(config, watches, &message_id_domain, &metrics, &archive);
        Ok(Arc::new(Daemon {
            archive,
            notifier: Notifier::new(
                store.clone(),
                claimant,
                mailer,
                from,
                RetryPolicy::from_config(&config.email),
                watch_batching(config),
                Arc::clone(&metrics),
            ),
            pipeline: RwLock::new(Arc::new(pipeline)),
            config: Mutex::new(Arc::new(config.clone())),
            started_with: Arc::new(config.clone()),
            reloading: tokio::sync::Mutex::new(()),
            message_id_domain,
            store,
            fetcher,
            concurrency: config.polling.concurrency,
            per_host_limit: config.polling.per_host,
            alerts_queued: Notify::new(),
            rescan: Notify::new(),
            feed_claimant: Claimant {
                owner: instance.id.clone(),
                lease: config.polling.timeout.0.saturating_mul(2) + Duration::from_secs(30),
            },
            instance: Mutex::new(instance),
            metrics,
            heartbeat: Heartbeat::default(),
            _lock: lock,
        }))
    }

    /// The configuration in force for polls starting now.
    fn pipeline(&self) -> Arc<Pipeline> {
        Arc::clone(&self.pipeline.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// This process as it registers itself.
    fn instance(&self) -> Instance {
        self.instance
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The metrics this daemon keeps.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The scheduler loop's proof of life.
    pub fn heartbeat(&self) -> &Heartbeat {
        &self.heartbeat
    }

    /// Reads what the metrics show from the database rather than from this process (the
    /// outbox, each feed's last success and errors in a row: with several instances, any
    /// one of them may have polled a feed), just before a scrape.
    pub async fn refresh_metrics(&self) -> Result<(), StoreError> {
        let outbox = self.store.outbox_summary().await?;
        let feeds = self.store.feed_health().await?;
        self.metrics.outbox(&outbox, Utc::now().timestamp());
        let pipeline = self.pipeline();
        self.metrics
            .feeds(&feeds, |name| pipeline.feeds.get(name).map(|f| f.interval));
        Ok(())
    }

    /// The status line for systemd: how many feeds, how many alerts waiting.
    pub async fn status_line(&self) -> String {
        let feeds = self.pipeline().feeds.len();
        let waiting = match self.store.outbox_summary().await {
            Ok(outbox) => format!(
                "{} queued",
                plural(
                    usize::try_from(outbox.count("queued") + outbox.count("sending")).unwrap_or(0),
                    "alert",
                    "alerts"
                )
            ),
            Err(_) => "outbox unreadable (database error)".to_string(),
        };
        format!("{}; {waiting}", plural(feeds, "feed", "feeds"))
    }

    /// The database, for commands that read it.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// One full cycle: every active feed polled once, then every due alert delivered.
    pub async fn once(
        self: &Arc<Self>,
        shutdown: &CancellationToken,
    ) -> Result<CycleReport, DaemonError> {
        let mut polls = self.polls(true);
        let mut report = CycleReport::default();
        for feed in self.store.active_feeds().await? {
            report.feeds += 1;
            polls.push(&feed);
        }
        polls.start_ready(self, shutdown);
        let mut ok_feeds = 0;
        while let Some((id, outcome)) = polls.next_done(self, shutdown).await {
            match outcome {
                Ok(summary) => {
                    ok_feeds += usize::from(summary.ok);
                    report.new_articles += summary.new_articles;
                    report.alerts_queued += summary.alerts_queued;
                }
                Err(PollTaskError::Database(e)) => return Err(e.into()),
                Err(PollTaskError::Panicked) => {
                    return Err(DaemonError::Setup(format!(
                        "poll task failed: the poll of feed {id} panicked"
                    )));
                }
            }
        }
        // Feeds not polled (a shutdown came first) count as failed, as polls that stopped do.
        report.failed_feeds = report.feeds.saturating_sub(ok_feeds);
        let delivered = self.notifier.deliver_due(shutdown).await?;
        report.alerts_sent = delivered.sent;
        report.alerts_retrying = delivered.retried;
        report.alerts_failed = delivered.failed;
        report.mail_unavailable = delivered.unavailable;
        Ok(report)
    }

    /// Polls feeds as they fall due and delivers alerts until `shutdown` fires; then lets
    /// ingests and the message in flight finish. Database errors are logged and retried:
    /// the daemon keeps its place rather than exiting.
    pub async fn run(self: &Arc<Self>, shutdown: CancellationToken) -> Result<(), DaemonError> {
        let notifier = {
            let daemon = Arc::clone(self);
            let shutdown = shutdown.clone();
            tokio::spawn(async move { daemon.notify_loop(shutdown).await })
        };
        let retention = {
            let daemon = Arc::clone(self);
            let policy = move || daemon.pipeline().retention;
            crate::retention::spawn(self.store.clone(), policy, shutdown.clone())
        };
        self.schedule_loop(&shutdown).await;
        shutdown.cancel();
        if let Err(e) = retention.await {
            error!(error = %e, "retention task failed");
        }
        let notified = notifier
            .await
            .map_err(|e| DaemonError::Setup(format!("notifier task failed: {e}")));
        if let Err(e) = self.notifier.record_unrecorded_sends().await {
            error!(error = %e, "alerts the server accepted could not be recorded as sent; they will be sent again");
        }
        self.close().await;
        notified
    }

    /// Ends this process's use of the database: it leaves the instances table (a clean stop
    /// is no instance gone silent) and the pool is closed.
    pub async fn close(&self) {
        if let Err(e) = self.store.unregister_instance(&self.instance()).await {
            warn!(error = %e, "cannot remove this instance from the instances table");
        }
        self.store.close().await;
    }

    /// The poll tasks of one cycle or of the scheduler, within this daemon's limits.
    fn polls(&self, even_if_not_due: bool) -> Polls {
        Polls::new(self.concurrency, self.per_host_limit, even_if_not_due)
    }

    async fn schedule_loop(self: &Arc<Self>, shutdown: &CancellationToken) {
        let mut polls = self.polls(false);
        let mut held = HeldFeeds::default();
        // The look at the schedule in progress, if any: it runs alongside the polls, which
        // go on starting as others end while it reads.
        let mut scan = Some(Arc::clone(self).scan_due());
        // Feeds whose polls ended while the scan in progress was reading: it may have read
        // them as due before their poll was recorded, so it does not queue them again (the
        // next scan sees what their poll recorded).
        let mut ended_during_scan: HashSet<i64> = HashSet::new();
        let mut last_scan = tokio::time::Instant::now();
        let mut next_scan = last_scan;
        let mut rescan_after_scan = false;
        let mut beats = tokio::time::interval(beat_interval());
        beats.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        while !shutdown.is_cancelled() {
            tokio::select! {
                _ = shutdown.cancelled() => {}
                _ = beats.tick() => {
                    // Here, in the loop itself: a scheduler stuck anywhere misses its beats.
                    self.heartbeat.beat();
                    systemd::watchdog();
                }
                _ = self.rescan.notified() => {
                    // A scan in progress may have read before the change: look once more.
                    rescan_after_scan = scan.is_some();
                    next_scan = tokio::time::Instant::now();
                }
                scanned = async {
                    match scan.as_mut() {
                        Some(scanning) => scanning.await,
                        None => std::future::pending().await,
                    }
                } => {
                    scan = None;
                    let ended = std::mem::take(&mut ended_during_scan);
                    let wait = match scanned {
                        Ok(due) => self.queue_scanned(&mut polls, &held, &due, &ended, shutdown),
                        Err(e) => {
                            error!(error = %e, "database error while scheduling; retrying shortly");
                            DATABASE_RETRY
                        }
                    };
                    next_scan = last_scan + wait + wake_jitter();
                    if !ended.is_empty() {
                        // What those polls recorded is for the next scan to see.
                        next_scan = next_scan.min(last_scan + Duration::from_secs(1));
                    }
                    if std::mem::take(&mut rescan_after_scan) {
                        next_scan = tokio::time::Instant::now();
                    }
                }
                _ = tokio::time::sleep_until(next_scan), if scan.is_none() => {
                    last_scan = tokio::time::Instant::now();
                    scan = Some(Arc::clone(self).scan_due());
                }
                Some((id, outcome)) = polls.next_done(self, shutdown), if polls.running() > 0 => {
                    if scan.is_some() {
                        ended_during_scan.insert(id);
                    }
                    match outcome {
                        Ok(_) => held.succeeded(id),
                        Err(e) => {
                            match e {
                                PollTaskError::Database(e) => {
                                    error!(feed = id, error = %e, "database error while ingesting; the feed is polled again later");
                                }
                                PollTaskError::Panicked => {
                                    error!(feed = id, "poll task panicked; the feed is polled again later");
                                }
                            }
                            held.failed(id, Utc::now().timestamp_millis());
                        }
                    }
                    // A poll that ended may have changed when feeds fall due: look again soon,
                    // but at most once a second, not once per poll.
                    next_scan = next_scan.min(last_scan + Duration::from_secs(1));
                }
            }
        }
        // Polls see the shutdown and stop fetching; an ingest already writing completes.
        // Feeds still waiting are not started.
        while let Some((id, outcome)) = polls.next_done(self, shutdown).await {
            if let Err(PollTaskError::Database(e)) = outcome {
                error!(feed = id, error = %e, "database error while ingesting");
            }
        }
    }

    /// Queues the feeds a scan found due, except those held back and those whose poll ended
    /// while it read, and starts the polls that may start; returns how long to wait before
    /// looking again.
    fn queue_scanned(
        self: &Arc<Self>,
        polls: &mut Polls,
        held: &HeldFeeds,
        due: &DueScan,
        ended_during_scan: &HashSet<i64>,
        shutdown: &CancellationToken,
    ) -> Duration {
        for feed in &due.feeds {
            if !held.is_held(feed.id, due.now_ms) && !ended_during_scan.contains(&feed.id) {
                polls.push(feed);
            }
        }
        polls.start_ready(self, shutdown);
        // Feeds due now were queued above, or are held back until their release.
        let next_due_ms = due
            .next_after_ms
            .into_iter()
            .chain(held.next_release(due.now_ms))
            .min();
        next_due_ms.map_or(MAX_SCAN_GAP, |at| {
            Duration::from_millis(u64::try_from(at.saturating_sub(due.now_ms)).unwrap_or(0))
                .clamp(self.pipeline().min_scan_gap, MAX_SCAN_GAP)
        })
    }

    /// Reads which active feeds are due now (to queue those not queued, polling or held
    /// back already) and when the next one falls due after that.
    fn scan_due(self: Arc<Self>) -> ScanFuture {
        Box::pin(async move {
            let now_ms = Utc::now().timestamp_millis();
            let feeds = self.store.due_feeds(now_ms).await?;
            let next_after_ms = self.store.next_poll_after(now_ms).await?;
            Ok(DueScan {
                now_ms,
                feeds,
                next_after_ms,
            })
        })
    }

    async fn notify_loop(self: &Arc<Self>, shutdown: CancellationToken) {
        let mut claims_left_behind = false;
        while !shutdown.is_cancelled() {
            if let Err(e) = self.store.register_instance(&self.instance()).await {
                warn!(error = %e, "cannot mark this instance as seen");
            }
            let wait = if claims_left_behind {
                // A pass that failed may have left alerts claimed ("sending"). This loop is this
                // process's only sender and it is between passes, so every claim of this process
                // is one of those: queue them again, after recording the ones the server had
                // already accepted. Other processes' claims are theirs.
                let requeued = match self.notifier.record_unrecorded_sends().await {
                    Ok(()) => {
                        self.store
                            .release_claims_of(&self.notifier.claimant().owner)
                            .await
                    }
                    Err(e) => Err(e),
                };
                match requeued {
                    Ok(requeued) => {
                        claims_left_behind = false;
                        if requeued > 0 {
                            warn!(
                                alerts = requeued,
                                "alerts claimed by a failed delivery pass are queued again"
                            );
                        }
                        Duration::ZERO
                    }
                    Err(e) => {
                        error!(error = %e, "database error while requeueing alerts; retrying shortly");
                        DATABASE_RETRY
                    }
                }
            } else {
                match self.deliver_and_plan(&shutdown).await {
                    Ok(wait) => wait,
                    Err(e) => {
                        error!(error = %e, "database error while delivering alerts; retrying shortly");
                        claims_left_behind = true;
                        DATABASE_RETRY
                    }
                }
            };
            tokio::select! {
                _ = shutdown.cancelled() => {}
                _ = self.alerts_queued.notified() => {}
                _ = tokio::time::sleep(wait + wake_jitter()) => {}
            }
        }
    }

    /// Delivers what is due; returns how long until something else may be.
    async fn deliver_and_plan(&self, shutdown: &CancellationToken) -> Result<Duration, StoreError> {
        self.notifier.deliver_due(shutdown).await?;
        let now = Utc::now().timestamp();
        let next_alert = self.store.next_alert_due().await?.unwrap_or(now + 60);
        let next_alert = self
            .notifier
            .paused_until(now)
            .map_or(next_alert, |until| next_alert.max(until));
        let next_batch = self.notifier.next_batch_due().await?.unwrap_or(now + 60);
        let next_due = next_alert.min(next_batch);
        Ok(Duration::from_secs(
            next_due.saturating_sub(now).clamp(1, 60) as u64,
        ))
    }

    /// Polls one feed under a lease and records the outcome; fetch errors are recorded for
    /// the feed, only database errors are returned. A feed another instance holds, or that is
    /// no longer due (unless `even_if_not_due`), is left alone; a poll whose lease was lost
    /// meanwhile writes nothing. The caller has given the poll its host's turn and a
    /// global slot (see [`PollQueue`]); the slot is held through the ingest too: at most
    /// `concurrency` feeds fetched or parsed and waiting for the database at once, which
    /// bounds memory.
    async fn poll_feed(
        &self,
        feed_id: i64,
        mut host_turn: HostTurn,
        even_if_not_due: bool,
        shutdown: &CancellationToken,
    ) -> Result<PollSummary, StoreError> {
        // The claim first, then the state it guards: another instance may have just polled.
        let Some((lease, feed)) = self
            .store
            .claim_feed(feed_id, &self.feed_claimant, even_if_not_due)
            .await?
        else {
            return Ok(PollSummary::default());
        };
        let pipeline = self.pipeline();
        let Some(settings) = pipeline.feeds.get(&feed.name).cloned() else {
            return Ok(PollSummary::default());
        };
        let span = info_span!("poll", feed = %feed.name);
        async move {
            let request = FetchRequest {
                url: feed.url.clone(),
                etag: feed.etag,
                last_modified: feed.last_modified,
            };
            let started = Instant::now();
            let result = tokio::select! {
                _ = shutdown.cancelled() => return Ok(PollSummary::default()),
                polled = feed::poll(&self.fetcher, &request, settings.lang.as_deref()) => polled,
            };
            host_turn.end();
            let now = Utc::now();
            match result {
                Ok(polled) => {
                    if let Some(moved_to) = &polled.moved_to {
                        info!(from = %untrusted(&feed.url), to = %untrusted(moved_to), "feed moved permanently; polling the new URL from now on");
                    }
                    let (hint, not_modified, etag, last_modified, articles) = match polled.content {
                        PolledContent::NotModified => (polled.fresh_for, true, None, None, Vec::new()),
                        PolledContent::Feed { feed: parsed, etag, last_modified, .. } => {
                            let ttl = parsed.ttl_minutes.map(|m| Duration::from_secs(u64::from(m) * 60));
                            (polled.fresh_for.max(ttl), false, etag, last_modified, parsed.articles)
                        }
                    };
                    let delay = pipeline.schedule.after_success(settings.interval, hint);
                    let poll = PollRecord::Success {
                        moved_to: polled.moved_to,
                        etag,
                        last_modified,
                        not_modified,
                        new_articles: 0,
                        next_poll_at_ms: schedule::after_ms(now.timestamp_millis(), delay),
                    };
                    let context = FeedContext {
                        feed_id: feed.id,
                        lease,
                        labels: &settings.labels,
                        first_poll: feed.first_success_at.is_none(),
                    };
                    let report = match pipeline.ingestor.ingest(&self.store, &context, articles, poll, now).await {
                        Ok(report) => report,
                        Err(e @ StoreError::LeaseLost { .. }) => {
                            warn!(error = %e, "lost lease");
                            self.metrics.lease_lost("feed");
                            return Ok(PollSummary::default());
                        }
                        Err(e) => return Err(e),
                    };
                    let outcome = if not_modified { metrics::PollOutcome::NotModified } else { metrics::PollOutcome::Ok };
                    self.metrics.poll(&feed.name, outcome, started.elapsed());
                    if report.alerts_queued > 0 || report.batched > 0 {
                        self.alerts_queued.notify_one();
                    }
                    // A poll that brought nothing new is routine (most polls of a quiet feed):
                    // DEBUG, so that the INFO log tells what changed.
                    macro_rules! polled {
                        ($level:ident) => {
                            $level!(
                                status = if not_modified { "not modified" } else { "ok" },
                                entries = report.articles,
                                new = report.new_articles,
                                alerts = report.alerts_queued,
                                for_digests_or_summaries = report.batched,
                                ms = started.elapsed().as_millis() as u64,
                                "polled"
                            )
                        };
                    }
                    if not_modified || report.new_articles == 0 {
                        polled!(debug);
                    } else {
                        polled!(info);
                    }
                    Ok(PollSummary {
                        ok: true,
                        new_articles: report.new_articles,
                        alerts_queued: report.alerts_queued,
                    })
                }
                Err(e) => {
                    let errors = u32::try_from(feed.consecutive_errors + 1).unwrap_or(u32::MAX);
                    let delay = pipeline.schedule.after_failure(settings.interval, errors, e.retry_after());
                    let poll = PollRecord::Failure {
                        error: e.to_string(),
                        http_status: e.http_status(),
                        next_poll_at_ms: schedule::after_ms(now.timestamp_millis(), delay),
                    };
                    match self.store.record_poll(lease, &poll, now.timestamp()).await {
                        Err(e @ StoreError::LeaseLost { .. }) => {
                            warn!(error = %e, "lost lease");
                            self.metrics.lease_lost("feed");
                            return Ok(PollSummary::default());
                        }
                        other => other?,
                    }
                    self.metrics.poll(&feed.name, metrics::PollOutcome::Error, started.elapsed());
                    warn!(
                        error = %untrusted(&e),
                        consecutive_errors = errors,
                        retry_in_s = delay.as_secs(),
                        ms = started.elapsed().as_millis() as u64,
                        "poll failed"
                    );
                    Ok(PollSummary::default())
                }
            }
        }
        .instrument(span)
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_is_read_often_enough_for_the_shortest_interval_and_no_more() {
        let gap = |secs: u64| min_scan_gap(Some(Duration::from_secs(secs)));
        assert_eq!(gap(3), Duration::from_millis(100));
        assert_eq!(gap(1), Duration::from_millis(50), "never below 50 ms");
        assert_eq!(
            gap(900),
            Duration::from_secs(1),
            "15-minute feeds: once a second"
        );
        assert_eq!(min_scan_gap(None), Duration::from_secs(1));
    }
}
