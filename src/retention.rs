//! Retention in the running daemon: a task beside the notifier applies `[retention]` (see
//! `store::retention` for what goes and what stays) a minute after start, then once a day, so
//! that the database stops growing without anyone running `newswatch prune`. A pass that fails
//! (a database error) is logged and tried again an hour later; a shutdown ends a pass between
//! two batches. Several instances on one PostgreSQL database each run their own pass: the
//! batches are idempotent and take rows the others have not locked, so that is harmless.

use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use crate::store::{PruneReport, RetentionPolicy, Store, StoreError};

/// When passes run.
#[derive(Debug, Clone, Copy)]
struct Timing {
    /// Before the first: the polls due at start go first.
    first_after: Duration,
    /// Between two passes.
    every: Duration,
    /// After a pass that failed.
    retry_after: Duration,
}

const DAILY: Timing = Timing {
    first_after: Duration::from_secs(60),
    every: Duration::from_secs(24 * 3600),
    retry_after: Duration::from_secs(3600),
};

/// Starts the daily passes, each under the policy `policy` gives at its start (a reload may
/// have changed it); the task ends when `shutdown` fires (a pass in progress first finishes its
/// batch). Await it before closing the store.
pub fn spawn(
    store: Store,
    policy: impl Fn() -> RetentionPolicy + Send + Sync + 'static,
    shutdown: CancellationToken,
) -> JoinHandle<()> {
    tokio::spawn(async move { run_passes(DAILY, &store, &policy, &shutdown, log_pass).await })
}

/// The passes, each followed by `after_pass` with its outcome.
async fn run_passes(
    timing: Timing,
    store: &Store,
    policy: &(impl Fn() -> RetentionPolicy + Sync),
    shutdown: &CancellationToken,
    mut after_pass: impl FnMut(&Result<PruneReport, StoreError>),
) {
    let mut wait = timing.first_after;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
        let now = chrono::Utc::now().timestamp();
        let outcome = store
            .prune(&policy(), now, false, &|| shutdown.is_cancelled())
            .await;
        after_pass(&outcome);
        wait = if outcome.is_ok() {
            timing.every
        } else {
            timing.retry_after
        };
    }
}

fn log_pass(outcome: &Result<PruneReport, StoreError>) {
    let report = match outcome {
        Ok(report) => report,
        Err(e) => {
            error!(error = %e, retry_in_s = DAILY.retry_after.as_secs(), "retention pass failed");
            return;
        }
    };
    info!(
        articles = report.articles,
        alerts_sent = report.alerts_sent,
        alerts_failed = report.alerts_failed,
        bytes_reclaimed = report.file.map_or(0, |file| file.reclaimed()),
        interrupted = report.interrupted,
        "retention: removed {} articles, {} sent alerts, {} failed alerts",
        report.articles,
        report.alerts_sent,
        report.alerts_failed
    );
    if report.file.is_some_and(|file| !file.shrinks) {
        warn!(
            "the database file was made before newswatch gave space back: it grows no more, but \
             does not shrink until `newswatch prune` rewrites it once"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{FeedSpec, PollRecord};

    async fn store_with_an_old_and_a_new_article(dir: &tempfile::TempDir) -> Store {
        let url = format!("sqlite://{}", dir.path().join("r.db").display());
        let store = Store::open(&url, None).await.unwrap();
        let feed = FeedSpec {
            name: "A".into(),
            url: "https://a.example/rss".into(),
        };
        store.sync_feeds(&[feed]).await.unwrap();
        let feed_id = store.feeds().await.unwrap()[0].id;
        let now = chrono::Utc::now().timestamp();
        for (name, fetched_at) in [("old", now - 100 * 86400), ("new", now)] {
            let claimant = crate::store::Claimant {
                owner: "test".into(),
                lease: Duration::from_secs(60),
            };
            let lease = store.claim_feed(feed_id, &claimant, true).await.unwrap();
            let mut tx = store.begin_ingest(lease.unwrap().0, true).await.unwrap();
            let article = crate::article::Article {
                identity: format!("guid:{name}"),
                link: None,
                title: name.into(),
                summary: String::new(),
                content: String::new(),
                authors: vec![],
                categories: vec![],
                published: None,
                lang: None,
            };
            tx.insert_articles(feed_id, &[article], fetched_at)
                .await
                .unwrap();
            let polled = PollRecord::Failure {
                error: "test".into(),
                http_status: None,
                next_poll_at_ms: 0,
            };
            tx.record_poll(&polled, fetched_at).await.unwrap();
            tx.commit().await.unwrap();
        }
        store
    }

    /// The schedule (shortened): the first pass after the first wait, the next after the
    /// interval, one after the retry wait when a pass failed, and none after shutdown.
    #[tokio::test]
    async fn passes_come_after_the_first_wait_then_on_the_interval_and_sooner_after_a_failure() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_with_an_old_and_a_new_article(&dir).await;
        let policy = crate::config::RetentionConfig::default().policy();
        let timing = Timing {
            first_after: Duration::from_millis(300),
            every: Duration::from_millis(600),
            retry_after: Duration::from_millis(100),
        };
        let shutdown = CancellationToken::new();
        let (passes, mut passed) = tokio::sync::mpsc::unbounded_channel();
        let start = std::time::Instant::now();
        let task = {
            let (store, shutdown) = (store.clone(), shutdown.clone());
            tokio::spawn(async move {
                run_passes(timing, &store, &|| policy, &shutdown, |outcome| {
                    let removed = outcome.as_ref().map(|report| report.articles).ok();
                    let _ = passes.send((std::time::Instant::now(), removed));
                })
                .await
            })
        };
        let (first, removed) = passed.recv().await.unwrap();
        assert!(first - start >= timing.first_after);
        assert_eq!(removed, Some(1), "the old article");
        let (second, removed) = passed.recv().await.unwrap();
        assert!(second - first >= timing.every);
        assert_eq!(removed, Some(0));

        store.close().await;
        let (failed, removed) = passed.recv().await.unwrap();
        assert_eq!(removed, None, "a closed database fails the pass");
        let (retried, _) = passed.recv().await.unwrap();
        let waited = retried - failed;
        assert!(
            waited >= timing.retry_after && waited < timing.every,
            "{waited:?}"
        );

        let cancelled_at = std::time::Instant::now();
        shutdown.cancel();
        task.await.unwrap();
        while let Ok((at, _)) = passed.try_recv() {
            assert!(at < cancelled_at, "no pass after shutdown");
        }
    }
}
