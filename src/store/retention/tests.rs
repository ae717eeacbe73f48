//! Retention against a real SQLite file and, with `NEWSWATCH_TEST_POSTGRES`, a fresh schema of
//! a real PostgreSQL database (see `store::tests`): the same test body on both.

use std::time::Duration;

use super::super::tests::fresh_postgres_schema;
use super::super::*;
use super::BATCH;
use crate::article::Article;

const DAY: i64 = 86400;

/// The configuration's defaults.
const DEFAULTS: RetentionPolicy = RetentionPolicy {
    articles: Some(Duration::from_secs(90 * 86400)),
    alerts_sent: Some(Duration::from_secs(180 * 86400)),
    alerts_failed: Some(Duration::from_secs(365 * 86400)),
};

async fn backends(dir: &tempfile::TempDir) -> Vec<String> {
    let mut urls = vec![format!("sqlite://{}", dir.path().join("t.db").display())];
    match std::env::var("NEWSWATCH_TEST_POSTGRES") {
        Ok(base) => urls.push(fresh_postgres_schema(&base).await),
        Err(_) => {
            eprintln!("PostgreSQL retention tests skipped: NEWSWATCH_TEST_POSTGRES is not set")
        }
    }
    urls
}

fn entry(name: &str) -> Article {
    Article {
        identity: format!("guid:{name}"),
        link: Some(format!("https://news.example/{name}")),
        title: format!("title of {name}"),
        summary: String::new(),
        content: String::new(),
        authors: vec![],
        categories: vec![],
        published: None,
        lang: Some("en".into()),
    }
}

/// An entry with some kilobytes of text, as real articles have.
fn long_entry(n: usize) -> Article {
    Article {
        content: format!("paragraph {n} of a long story. ").repeat(120),
        ..entry(&format!("long-{n}"))
    }
}

fn claimant() -> Claimant {
    Claimant {
        owner: "retention-test".into(),
        lease: Duration::from_secs(60),
    }
}

async fn store_with_feeds(url: &str) -> (Store, i64, i64) {
    let store = Store::open(url, None).await.unwrap();
    store
        .sync_feeds(&[
            FeedSpec {
                name: "A".into(),
                url: "https://a.example/rss".into(),
            },
            FeedSpec {
                name: "B".into(),
                url: "https://b.example/rss".into(),
            },
        ])
        .await
        .unwrap();
    let feeds = store.feeds().await.unwrap();
    (store, feeds[0].id, feeds[1].id)
}

/// One poll of `feed` at `at` bringing `entries`; each may match `watch` with a delivery.
/// Returns the id of each entry stored as new.
async fn ingest(
    store: &Store,
    feed: i64,
    entries: &[(Article, Option<(&str, MatchDelivery)>)],
    at: i64,
) -> Vec<Option<i64>> {
    let lease = store
        .claim_feed(feed, &claimant(), true)
        .await
        .unwrap()
        .expect("the feed is free")
        .0;
    let articles: Vec<Article> = entries.iter().map(|(a, _)| a.clone()).collect();
    let mut tx = store.begin_ingest(lease, true).await.unwrap();
    let ids = tx.insert_articles(feed, &articles, at).await.unwrap();
    for (id, (_, matched)) in ids.iter().zip(entries) {
        if let (Some(id), Some((watch, delivery))) = (id, matched) {
            let found = NewMatch {
                watch: watch.to_string(),
                recipients: vec!["x@example.org".into()],
                message_id: format!("<{watch}.{id}@example.org>"),
                explanation: "[]".into(),
                delivery: *delivery,
                story: None,
            };
            tx.record_match(*id, &found, at).await.unwrap();
        }
    }
    let polled = PollRecord::Success {
        moved_to: None,
        etag: None,
        last_modified: None,
        not_modified: false,
        new_articles: 0,
        next_poll_at_ms: 0,
    };
    tx.record_poll(&polled, at).await.unwrap();
    tx.commit().await.unwrap();
    ids
}

/// Delivers every alert due at `at`: sent to its recipient, or failed for good.
async fn deliver_due(store: &Store, at: i64, sent: bool) {
    for alert in store.claim_due_alerts(&claimant(), at, 100).await.unwrap() {
        if sent {
            let record = SentRecord {
                alert_id: alert.id,
                address: "x@example.org".into(),
                at,
            };
            store.recipient_sent(&record).await.unwrap();
            assert_eq!(
                store.finish_alert(alert.id).await.unwrap(),
                AlertStatus::Sent
            );
        } else {
            store.mark_failed(alert.id, "550 refused").await.unwrap();
        }
    }
}

async fn rows(store: &Store, table: &str) -> i64 {
    on_pool!(store, pool, sql => sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT COUNT(*) FROM {table}"
    )))
    .fetch_one(pool)
    .await
    .unwrap())
}

/// The row count of every table retention touches.
async fn all_rows(store: &Store) -> Vec<(&'static str, i64)> {
    let mut counts = Vec::new();
    for table in [
        "articles",
        "feed_articles",
        "matches",
        "alerts",
        "alert_recipients",
        "article_tombstones",
    ] {
        counts.push((table, rows(store, table).await));
    }
    counts
}

async fn stored_identities(store: &Store) -> Vec<String> {
    let mut identities: Vec<String> = store
        .articles_since(i64::MIN)
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.identity)
        .collect();
    identities.sort();
    identities
}

fn never_stop() -> bool {
    false
}

/// Acceptance 5 at the store: old articles go, the article of a queued alert (or of a failed
/// one still kept, or of a waiting digest) stays, sent and failed alerts age out each by its
/// own setting; a dry run changes nothing and counts what the real pass then removes; and a
/// feed still carrying a deleted entry never brings it back.
#[tokio::test]
async fn retention_removes_what_is_old_and_keeps_what_alerts_need() {
    let dir = tempfile::tempdir().unwrap();
    for url in backends(&dir).await {
        removes_old_keeps_needed(&url).await;
    }
}

async fn removes_old_keeps_needed(url: &str) {
    use MatchDelivery::{Alert, Digest};
    let (store, a, b) = store_with_feeds(url).await;
    let now = chrono::Utc::now().timestamp();

    ingest(
        &store,
        a,
        &[(entry("failed-long-ago"), Some(("W", Alert)))],
        now - 400 * DAY,
    )
    .await;
    deliver_due(&store, now - 400 * DAY, false).await;
    ingest(
        &store,
        a,
        &[(entry("sent-long-ago"), Some(("W", Alert)))],
        now - 200 * DAY,
    )
    .await;
    deliver_due(&store, now - 200 * DAY, true).await;
    let old = now - 100 * DAY;
    ingest(&store, a, &[(entry("sent"), Some(("W", Alert)))], old).await;
    deliver_due(&store, old, true).await;
    ingest(&store, a, &[(entry("failed"), Some(("W", Alert)))], old).await;
    deliver_due(&store, old, false).await;
    ingest(
        &store,
        a,
        &[
            (entry("plain"), None),
            (entry("queued"), Some(("W", Alert))),
            (entry("digest-waiting"), Some(("D1", Digest))),
            (entry("digest-queued"), Some(("D2", Digest))),
        ],
        old,
    )
    .await;
    let recipients = vec!["x@example.org".to_string()];
    let batch = NewBatch {
        watch: "D2",
        delivery: Digest,
        before: old + 1,
        dedup_key: "digest:D2:1".into(),
        message_id: "<d2@example.org>".into(),
        recipients: &recipients,
    };
    assert!(store.create_batch(&batch, old).await.unwrap().is_some());
    ingest(&store, a, &[(entry("new"), None)], now - DAY).await;

    let before = all_rows(&store).await;
    let dry = store
        .prune(&DEFAULTS, now, true, &never_stop)
        .await
        .unwrap();
    assert_eq!(
        (dry.articles, dry.alerts_sent, dry.alerts_failed),
        (4, 1, 1),
        "{url}: {dry:?}"
    );
    assert_eq!(
        all_rows(&store).await,
        before,
        "{url}: a dry run changes nothing"
    );

    let pruned = store
        .prune(&DEFAULTS, now, false, &never_stop)
        .await
        .unwrap();
    assert_eq!(
        (pruned.articles, pruned.alerts_sent, pruned.alerts_failed),
        (dry.articles, dry.alerts_sent, dry.alerts_failed),
        "{url}: the pass removes what the dry run counted"
    );
    assert!(!pruned.interrupted);
    assert_eq!(
        stored_identities(&store).await,
        [
            "guid:digest-queued",
            "guid:digest-waiting",
            "guid:failed",
            "guid:new",
            "guid:queued"
        ],
        "{url}: the articles of the queued alert, of the failed alert still kept, of the \
         waiting digest match and of the queued digest stay, and the new one"
    );
    let alerts = store.alerts(None, None).await.unwrap();
    let mut kept: Vec<(AlertStatus, Option<String>)> = alerts
        .iter()
        .map(|alert| (alert.status, alert.article_title.clone()))
        .collect();
    kept.sort_by_key(|(status, title)| (status.as_str(), title.clone()));
    assert_eq!(
        kept,
        [
            (AlertStatus::Failed, Some("title of failed".to_string())),
            (AlertStatus::Queued, None),
            (AlertStatus::Queued, Some("title of queued".to_string())),
            (AlertStatus::Sent, None),
        ],
        "{url}: the alert sent 100 days ago stays without its article; the digest stays"
    );
    assert_eq!(
        all_rows(&store).await,
        [
            ("articles", 5),
            ("feed_articles", 5),
            ("matches", 4),
            ("alerts", 4),
            ("alert_recipients", 4),
            ("article_tombstones", 4),
        ],
        "{url}"
    );
    let unlinked: Vec<String> = on_pool!(store, pool, sql => sqlx::query_scalar(
        "SELECT dedup_key FROM alerts WHERE status = 'sent'",
    )
    .fetch_all(pool)
    .await
    .unwrap());
    assert!(
        unlinked.len() == 1 && unlinked[0].starts_with("pruned:"),
        "{url}: the key that named the deleted article's id is set apart: {unlinked:?}"
    );

    // The feeds still carry every entry: nothing deleted comes back, by its GUID or, through
    // another feed, by its link; only the entry never seen is new.
    let names = [
        "failed-long-ago",
        "sent-long-ago",
        "sent",
        "failed",
        "plain",
        "queued",
        "new",
        "fresh",
    ];
    let again: Vec<(Article, Option<(&str, MatchDelivery)>)> = names
        .iter()
        .map(|name| (entry(name), Some(("W", Alert))))
        .collect();
    let known = store
        .known_identities(again.iter().map(|(e, _)| e.identity.as_str()))
        .await
        .unwrap();
    assert_eq!(known.len(), 7, "{url}: deleted entries count as known");
    let stored = ingest(&store, a, &again, now).await;
    let new: Vec<&str> = names
        .iter()
        .zip(&stored)
        .filter(|(_, id)| id.is_some())
        .map(|(name, _)| *name)
        .collect();
    assert_eq!(new, ["fresh"], "{url}");
    let elsewhere = Article {
        identity: "guid:b-copy-of-plain".into(),
        ..entry("plain")
    };
    assert_eq!(
        ingest(&store, b, &[(elsewhere, Some(("W", Alert)))], now).await,
        [None],
        "{url}: the deleted story under another feed's GUID"
    );
    let queued = store.alerts(Some(AlertStatus::Queued), None).await.unwrap();
    assert_eq!(queued.len(), 3, "{url}: one new alert, for the fresh entry");

    let again = store
        .prune(&DEFAULTS, now, false, &never_stop)
        .await
        .unwrap();
    assert_eq!(
        (again.articles, again.alerts_sent, again.alerts_failed),
        (0, 0, 0),
        "{url}: a second pass finds nothing more"
    );
    store.close().await;
}

/// "0" keeps for ever; an `articles` below the minimum keeps the last 48 hours all the same.
#[tokio::test]
async fn zero_keeps_for_ever_and_the_last_48_hours_always_stay() {
    let dir = tempfile::tempdir().unwrap();
    for url in backends(&dir).await {
        let (store, a, _) = store_with_feeds(&url).await;
        let now = chrono::Utc::now().timestamp();
        ingest(
            &store,
            a,
            &[(entry("ancient"), Some(("W", MatchDelivery::Alert)))],
            now - 5000 * DAY,
        )
        .await;
        deliver_due(&store, now - 5000 * DAY, true).await;
        ingest(&store, a, &[(entry("three-days"), None)], now - 3 * DAY).await;
        ingest(&store, a, &[(entry("thirty-hours"), None)], now - 30 * 3600).await;
        let forever = RetentionPolicy {
            articles: None,
            alerts_sent: None,
            alerts_failed: None,
        };
        for dry_run in [true, false] {
            let report = store
                .prune(&forever, now, dry_run, &never_stop)
                .await
                .unwrap();
            assert_eq!(
                (report.articles, report.alerts_sent, report.alerts_failed),
                (0, 0, 0),
                "{url}"
            );
        }
        assert_eq!(rows(&store, "articles").await, 3);
        assert_eq!(rows(&store, "alerts").await, 1);

        let hourly = RetentionPolicy {
            articles: Some(Duration::from_secs(3600)),
            ..forever
        };
        let report = store.prune(&hourly, now, false, &never_stop).await.unwrap();
        assert_eq!(report.articles, 2, "{url}");
        assert_eq!(
            stored_identities(&store).await,
            ["guid:thirty-hours"],
            "{url}"
        );
        assert_eq!(
            rows(&store, "alerts").await,
            1,
            "{url}: sent alerts kept for ever"
        );
        store.close().await;
    }
}

/// Many rows go in batches; a pass asked to stop ends after its batch and the next finishes;
/// two passes at once (two processes on one database) remove each row once, without error;
/// and the SQLite file gives the space back.
#[tokio::test]
async fn batches_stop_on_request_two_passes_at_once_share_the_work_and_the_file_shrinks() {
    let dir = tempfile::tempdir().unwrap();
    for url in backends(&dir).await {
        let (store, a, _) = store_with_feeds(&url).await;
        let now = chrono::Utc::now().timestamp();
        let old: Vec<(Article, Option<(&str, MatchDelivery)>)> =
            (0..5500).map(|n| (long_entry(n), None)).collect();
        ingest(&store, a, &old, now - 100 * DAY).await;
        ingest(&store, a, &[(entry("new"), None)], now).await;

        let first = store.prune(&DEFAULTS, now, false, &|| true).await.unwrap();
        assert!(first.interrupted, "{url}");
        assert_eq!(first.articles, BATCH as u64, "{url}: one batch");

        let other = Store::open(&url, None).await.unwrap();
        let (one, two) = tokio::join!(
            store.prune(&DEFAULTS, now, false, &never_stop),
            other.prune(&DEFAULTS, now, false, &never_stop),
        );
        let (one, two) = (one.unwrap(), two.unwrap());
        assert_eq!(one.articles + two.articles, 4500, "{url}: {one:?} {two:?}");
        assert_eq!(stored_identities(&store).await, ["guid:new"], "{url}");
        assert_eq!(rows(&store, "article_tombstones").await, 5500, "{url}");
        other.close().await;

        match Backend::of_url(&url) {
            Some(Backend::Sqlite) => {
                let before = first.file.expect("SQLite reports its file");
                assert!(before.shrinks, "{url}: a new database shrinks");
                assert_eq!(
                    before.reclaimed(),
                    0,
                    "{url}: a pass stopped early leaves the vacuum to the next"
                );
                let reclaimed = [one, two].map(|pass| pass.file.unwrap().reclaimed());
                assert!(
                    reclaimed.iter().max().is_some_and(|&r| r > 4500 * 3000),
                    "{url}: the pages of the deleted rows are given back: {reclaimed:?}"
                );
                store.close().await;
                let file = Store::file_path(&url).unwrap();
                let on_disk = std::fs::metadata(&file).unwrap().len();
                assert!(
                    on_disk < before.bytes_before / 4,
                    "{url}: the file shrank from {} to {on_disk} bytes",
                    before.bytes_before
                );
            }
            _ => {
                assert_eq!(one.file, None, "{url}: no file on PostgreSQL");
                store.close().await;
            }
        }
    }
}

/// A SQLite database made before newswatch set `auto_vacuum` keeps its size through a pass
/// (its free pages are reused) until it is rewritten once; then it shrinks like a new one.
#[tokio::test]
async fn an_older_sqlite_file_shrinks_once_rewritten() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    let url = format!("sqlite://{}", path.display());
    {
        let options: sqlx::sqlite::SqliteConnectOptions = url.parse().unwrap();
        let pool = sqlx::SqlitePool::connect_with(
            options
                .create_if_missing(true)
                .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal),
        )
        .await
        .unwrap();
        sqlx::migrate!("migrations/sqlite")
            .run(&pool)
            .await
            .unwrap();
        pool.close().await;
    }
    let (store, a, _) = store_with_feeds(&url).await;
    let now = chrono::Utc::now().timestamp();
    let old: Vec<(Article, Option<(&str, MatchDelivery)>)> =
        (0..2000).map(|n| (long_entry(n), None)).collect();
    ingest(&store, a, &old, now - 100 * DAY).await;
    ingest(&store, a, &[(entry("new"), None)], now).await;

    let dry = store
        .prune(&DEFAULTS, now, true, &never_stop)
        .await
        .unwrap();
    assert!(dry.file.is_some_and(|f| !f.shrinks), "{dry:?}");
    let pruned = store
        .prune(&DEFAULTS, now, false, &never_stop)
        .await
        .unwrap();
    assert_eq!(pruned.articles, 2000);
    let space = pruned.file.unwrap();
    assert!(!space.shrinks);
    assert_eq!(
        space.reclaimed(),
        0,
        "the pages are free, the file as large"
    );

    let rewritten = store.make_file_shrinkable().await.unwrap();
    let rewritten = rewritten.expect("an older file is rewritten");
    assert!(rewritten.shrinks, "{rewritten:?}");
    assert!(
        rewritten.bytes_after < space.bytes_after / 4,
        "{space:?} → {rewritten:?}"
    );
    assert_eq!(
        store.make_file_shrinkable().await.unwrap(),
        None,
        "once is enough"
    );

    let more: Vec<(Article, Option<(&str, MatchDelivery)>)> =
        (2000..3000).map(|n| (long_entry(n), None)).collect();
    ingest(&store, a, &more, now - 100 * DAY).await;
    let later = store
        .prune(&DEFAULTS, now, false, &never_stop)
        .await
        .unwrap();
    assert_eq!(later.articles, 1000);
    let later = later.file.unwrap();
    assert!(
        later.shrinks && later.reclaimed() > 1000 * 3000,
        "{later:?}"
    );
    store.close().await;
}

/// More expired alerts than a batch, sent and failed, many due the same second: each goes
/// once, through as many batches as it takes, and the dry run counted them all.
#[tokio::test]
async fn expired_alerts_go_in_batches() {
    let dir = tempfile::tempdir().unwrap();
    for url in backends(&dir).await {
        let (store, a, _) = store_with_feeds(&url).await;
        let now = chrono::Utc::now().timestamp();
        let entries: Vec<(Article, Option<(&str, MatchDelivery)>)> = (0..2500)
            .map(|n| {
                (
                    entry(&format!("alerted-{n}")),
                    Some(("W", MatchDelivery::Alert)),
                )
            })
            .collect();
        ingest(&store, a, &entries, now - 400 * DAY).await;
        // The fixture's outcome: the first 1500 sent, the rest failed, at their due time.
        on_pool!(store, pool, sql => {
            for statement in [
                "UPDATE alerts SET status = CASE WHEN id <= (SELECT MIN(id) + 1499 FROM alerts)
                                                 THEN 'sent' ELSE 'failed' END,
                                   sent_at = next_attempt_at",
                "UPDATE alert_recipients SET status = 'sent'",
            ] {
                sqlx::query(statement).execute(pool).await.unwrap();
            }
        });
        let dry = store
            .prune(&DEFAULTS, now, true, &never_stop)
            .await
            .unwrap();
        assert_eq!(
            (dry.articles, dry.alerts_sent, dry.alerts_failed),
            (2500, 1500, 1000),
            "{url}: the failed alerts going, their articles go too"
        );
        let pruned = store
            .prune(&DEFAULTS, now, false, &never_stop)
            .await
            .unwrap();
        assert_eq!(
            (pruned.articles, pruned.alerts_sent, pruned.alerts_failed),
            (dry.articles, dry.alerts_sent, dry.alerts_failed),
            "{url}"
        );
        assert_eq!(rows(&store, "alerts").await, 0, "{url}");
        assert_eq!(rows(&store, "alert_recipients").await, 0, "{url}");
        assert_eq!(rows(&store, "matches").await, 0, "{url}");
        store.close().await;
    }
}
