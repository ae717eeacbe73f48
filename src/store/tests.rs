//! The store against a real SQLite file.

use super::*;
use crate::article::Article;

fn article(identity: &str, link: &str) -> Article {
    Article {
        identity: identity.to_string(),
        link: Some(link.to_string()),
        title: format!("title of {identity}"),
        summary: String::new(),
        content: String::new(),
        authors: vec!["A".into()],
        categories: vec![],
        published: None,
        lang: Some("en".into()),
    }
}

/// The databases every store test runs on: a SQLite file, and a fresh schema in the PostgreSQL
/// database named by `NEWSWATCH_TEST_POSTGRES` (`.ci/run` makes a throw-away one); without the
/// variable the PostgreSQL half is skipped, and says so.
async fn backends(dir: &tempfile::TempDir) -> Vec<String> {
    let mut urls = vec![format!("sqlite://{}", dir.path().join("t.db").display())];
    match std::env::var("NEWSWATCH_TEST_POSTGRES") {
        Ok(base) => urls.push(fresh_postgres_schema(&base).await),
        Err(_) => eprintln!("PostgreSQL store tests skipped: NEWSWATCH_TEST_POSTGRES is not set"),
    }
    urls
}

/// A new, empty schema in the database at `base`, as a URL whose connections use it.
pub(crate) async fn fresh_postgres_schema(base: &str) -> String {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let schema = format!(
        "store_{}_{}_{}",
        std::process::id(),
        chrono::Utc::now().timestamp_micros(),
        NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
    );
    let pool = sqlx::PgPool::connect(base)
        .await
        .expect("connect to NEWSWATCH_TEST_POSTGRES");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&pool)
        .await
        .expect("create a test schema");
    pool.close().await;
    let separator = if base.contains('?') { '&' } else { '?' };
    format!("{base}{separator}options=-c%20search_path%3D{schema}")
}

fn claimant(owner: &str, lease_seconds: u64) -> Claimant {
    Claimant {
        owner: owner.to_string(),
        lease: std::time::Duration::from_secs(lease_seconds),
    }
}

/// A poll's claim on `feed`, due or not.
async fn lease(store: &Store, feed: i64) -> FeedLease {
    store
        .claim_feed(feed, &claimant("test", 60), true)
        .await
        .unwrap()
        .expect("the feed is free")
        .0
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

fn feed_specs(names: &[&str]) -> Vec<FeedSpec> {
    names
        .iter()
        .map(|name| FeedSpec {
            name: name.to_string(),
            url: format!("https://{}.example/rss", name.to_lowercase()),
        })
        .collect()
}

fn polled_ok() -> PollRecord {
    PollRecord::Success {
        moved_to: None,
        etag: None,
        last_modified: None,
        not_modified: false,
        new_articles: 0,
        next_poll_at_ms: 0,
    }
}

fn failed_until(next_poll_at_ms: i64) -> PollRecord {
    PollRecord::Failure {
        error: "cannot connect".into(),
        http_status: None,
        next_poll_at_ms,
    }
}

/// What the scheduler queues (id and URL of each due feed, in due order, ties by id) and what
/// a poll reads when it starts.
#[tokio::test]
async fn due_feeds_come_in_due_order_and_a_poll_reads_its_feeds_state() {
    let dir = tempfile::tempdir().unwrap();
    for url in backends(&dir).await {
        due_order_and_poll_state(&url).await;
    }
}

async fn due_order_and_poll_state(url: &str) {
    let store = Store::open(url, None).await.unwrap();
    store
        .sync_feeds(&feed_specs(&["C", "A", "B", "D"]))
        .await
        .unwrap();
    let id: std::collections::HashMap<String, i64> = store
        .feeds()
        .await
        .unwrap()
        .into_iter()
        .map(|f| (f.name, f.id))
        .collect();
    for (name, at) in [("C", 100), ("A", 50), ("B", 100)] {
        store
            .record_poll(lease(&store, id[name]).await, &failed_until(at), 10)
            .await
            .unwrap();
    }
    // D is due (never polled) but no longer configured.
    store
        .sync_feeds(&feed_specs(&["C", "A", "B"]))
        .await
        .unwrap();
    let ids = |feeds: Vec<QueuedFeed>| feeds.into_iter().map(|f| f.id).collect::<Vec<_>>();
    assert_eq!(ids(store.due_feeds(49).await.unwrap()), Vec::<i64>::new());
    assert_eq!(ids(store.due_feeds(99).await.unwrap()), vec![id["A"]]);
    assert_eq!(
        ids(store.due_feeds(100).await.unwrap()),
        vec![id["A"], id["C"], id["B"]],
        "due order; C before B, due the same second, by id (not name)"
    );
    let due = store.due_feeds(100).await.unwrap();
    assert_eq!(due[1].url, "https://c.example/rss");
    assert_eq!(
        ids(store.active_feeds().await.unwrap()),
        vec![id["A"], id["B"], id["C"]],
        "once: every active feed, by name"
    );

    store
        .record_poll(
            lease(&store, id["A"]).await,
            &PollRecord::Success {
                moved_to: None,
                etag: Some("\"v1\"".into()),
                last_modified: Some("Tue, 01 Dec 2026 10:00:00 GMT".into()),
                not_modified: false,
                new_articles: 0,
                next_poll_at_ms: 700,
            },
            60,
        )
        .await
        .unwrap();
    let a = store.feed_poll_state(id["A"]).await.unwrap().unwrap();
    assert_eq!((a.id, a.name.as_str()), (id["A"], "A"));
    assert_eq!(a.url, "https://a.example/rss");
    assert_eq!(a.etag.as_deref(), Some("\"v1\""));
    assert_eq!(
        a.last_modified.as_deref(),
        Some("Tue, 01 Dec 2026 10:00:00 GMT")
    );
    assert_eq!((a.first_success_at, a.consecutive_errors), (Some(60), 0));
    let c = store.feed_poll_state(id["C"]).await.unwrap().unwrap();
    assert_eq!(
        (c.etag, c.first_success_at, c.consecutive_errors),
        (None, None, 1)
    );
    assert!(store.feed_poll_state(-1).await.unwrap().is_none());
}

#[tokio::test]
async fn articles_are_stored_once_whatever_feed_or_guid_brings_them() {
    // Whether or not the ingest expected new articles (on PostgreSQL, whether it took the
    // article lock at once or only on finding them).
    for expect_new in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        for url in backends(&dir).await {
            articles_stored_once(&url, expect_new).await;
        }
    }
}

async fn articles_stored_once(url: &str, expect_new: bool) {
    {
        let (store, a, b) = store_with_feeds(url).await;
        let mut tx = store
            .begin_ingest(lease(&store, a).await, expect_new)
            .await
            .unwrap();
        let first = tx
            .insert_articles(
                a,
                &[
                    article("guid:a:1", "https://news.example/story-1"),
                    article("guid:a:1", "https://news.example/story-1"),
                    article("guid:a:2", "https://news.example/"),
                    article("guid:a:3", "https://news.example/story-1"),
                ],
                100,
            )
            .await
            .unwrap();
        tx.record_poll(&polled_ok(), 100).await.unwrap();
        tx.commit().await.unwrap();
        assert!(first[0].is_some(), "new");
        assert_eq!(first[1], None, "a repeat within the batch");
        assert!(first[2].is_some());
        assert!(
            first[3].is_some(),
            "same link, same feed, another GUID: another entry"
        );

        let mut tx = store
            .begin_ingest(lease(&store, a).await, expect_new)
            .await
            .unwrap();
        let second = tx
            .insert_articles(
                b,
                &[
                    article("guid:a:1", "https://elsewhere.example/x"),
                    article("guid:b:9", "https://news.example/story-1?utm_source=b"),
                    article("guid:b:10", "https://news.example/"),
                ],
                200,
            )
            .await
            .unwrap();
        tx.record_poll(&polled_ok(), 100).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(second[0], None, "known identity");
        assert_eq!(
            second[1], None,
            "the story's link, first seen through feed A"
        );
        assert!(second[2].is_some(), "a front-page link identifies no story");

        let feeds = store.feeds().await.unwrap();
        assert_eq!(feeds[0].articles, 3);
        assert_eq!(
            feeds[1].articles, 2,
            "feed B carries the known article (its GUID and its link name the same one) and the new one"
        );
        let archive = store.articles_since(0).await.unwrap();
        assert_eq!(archive.len(), 4);
        assert_eq!(archive[0].authors, "[\"A\"]");
    }
}

#[tokio::test]
async fn claimed_alerts_go_back_to_the_queue_after_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    for url in backends(&dir).await {
        let (store, a, _) = store_with_feeds(&url).await;
        let mut tx = store
            .begin_ingest(lease(&store, a).await, true)
            .await
            .unwrap();
        let ids = tx
            .insert_articles(a, &[article("guid:a:1", "https://news.example/1")], 100)
            .await
            .unwrap();
        let found = NewMatch {
            watch: "W".into(),
            recipients: vec!["x@example.org".into()],
            message_id: "<m@example.org>".into(),
            explanation: "[]".into(),
            delivery: MatchDelivery::Alert,
            story: None,
        };
        assert!(tx.record_match(ids[0].unwrap(), &found, 100).await.unwrap());
        assert!(
            !tx.record_match(ids[0].unwrap(), &found, 100).await.unwrap(),
            "once per watch and article"
        );
        tx.commit().await.unwrap();

        let dying = claimant("dying", 1);
        let claimed = store.claim_due_alerts(&dying, 200, 10).await.unwrap();
        assert_eq!(claimed.len(), 1);
        let other = claimant("other", 60);
        assert!(
            store
                .claim_due_alerts(&other, 200, 10)
                .await
                .unwrap()
                .is_empty(),
            "claimed once"
        );
        assert_eq!(
            store.requeue_expired_claims().await.unwrap(),
            0,
            "a live claim is never taken"
        );
        // The claimant dies here; once its lease has expired by the database's clock, any
        // process puts the alert back in the queue.
        tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
        assert_eq!(store.requeue_expired_claims().await.unwrap(), 1);
        let again = store.claim_due_alerts(&other, 300, 10).await.unwrap();
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].attempts, 2);
        assert!(store.renew_claim(&other, &again[0]).await.unwrap());
        assert!(
            !store.renew_claim(&dying, &claimed[0]).await.unwrap(),
            "the dead claimant's token is stale"
        );
        assert_eq!(
            store.pending_recipients(again[0].id).await.unwrap(),
            ["x@example.org"]
        );
        store
            .recipient_sent(&SentRecord {
                alert_id: again[0].id,
                address: "x@example.org".into(),
                at: 301,
            })
            .await
            .unwrap();
        assert_eq!(
            store.finish_alert(again[0].id).await.unwrap(),
            AlertStatus::Sent
        );
        assert!(
            store
                .claim_due_alerts(&other, 400, 10)
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(store.requeue_expired_claims().await.unwrap(), 0);
    }
}

#[tokio::test]
async fn each_recipient_has_its_own_delivery_state() {
    let dir = tempfile::tempdir().unwrap();
    for url in backends(&dir).await {
        let (store, a, _) = store_with_feeds(&url).await;
        let mut tx = store
            .begin_ingest(lease(&store, a).await, true)
            .await
            .unwrap();
        let ids = tx
            .insert_articles(a, &[article("guid:a:1", "https://news.example/1")], 100)
            .await
            .unwrap();
        let found = NewMatch {
            watch: "W".into(),
            recipients: vec![
                "a@example.org".into(),
                "stale@example.org".into(),
                "Analyst <A@example.org>".into(),
            ],
            message_id: "<m@example.org>".into(),
            explanation: "[]".into(),
            delivery: MatchDelivery::Alert,
            story: None,
        };
        assert!(tx.record_match(ids[0].unwrap(), &found, 100).await.unwrap());
        tx.commit().await.unwrap();
        let alert = store
            .claim_due_alerts(&claimant("x", 60), 200, 10)
            .await
            .unwrap()
            .remove(0);
        assert_eq!(
            store.pending_recipients(alert.id).await.unwrap(),
            ["a@example.org", "stale@example.org"],
            "an address listed twice is one recipient"
        );
        let sent = SentRecord {
            alert_id: alert.id,
            address: "a@example.org".into(),
            at: 201,
        };
        store.recipient_sent(&sent).await.unwrap();
        store
            .recipient_failed(alert.id, "stale@example.org", "550 no such user")
            .await
            .unwrap();
        assert_eq!(
            store.finish_alert(alert.id).await.unwrap(),
            AlertStatus::Failed
        );
        let states = store.recipient_states(alert.id).await.unwrap();
        assert_eq!(states[0].status, DeliveryState::Sent);
        assert_eq!(states[1].status, DeliveryState::Failed);
        assert_eq!(states[1].error.as_deref(), Some("550 no such user"));
        let listed = store.alerts(Some(AlertStatus::Failed), None).await.unwrap();
        assert_eq!(
            listed[0].last_error.as_deref(),
            Some("stale@example.org: 550 no such user")
        );

        // A retry goes to the refused address only.
        assert!(store.retry_alert(alert.id, 300).await.unwrap());
        let again = store
            .claim_due_alerts(&claimant("x", 60), 300, 10)
            .await
            .unwrap()
            .remove(0);
        assert_eq!(
            store.pending_recipients(again.id).await.unwrap(),
            ["stale@example.org"]
        );
    }
}

#[tokio::test]
async fn a_feed_poll_is_claimed_once_and_a_lost_lease_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    for url in backends(&dir).await {
        let (store, a, _) = store_with_feeds(&url).await;
        let first = claimant("first", 60);
        let second = claimant("second", 60);
        let held = store.claim_feed(a, &first, false).await.unwrap();
        let (held, state) = held.expect("a new feed is due");
        assert_eq!(
            (state.id, state.name.as_str(), state.consecutive_errors),
            (a, "A", 0),
            "the claim returns the state the poll starts from"
        );
        assert_eq!(
            store.claim_feed(a, &second, false).await.unwrap(),
            None,
            "a live lease is never taken"
        );
        assert_eq!(store.claim_feed(a, &second, true).await.unwrap(), None);
        // The first poll's results commit and end the lease; the feed is due in the future.
        let done = PollRecord::Failure {
            error: "test".into(),
            http_status: None,
            next_poll_at_ms: i64::MAX / 2,
        };
        store.record_poll(held, &done, 100).await.unwrap();
        assert_eq!(store.claim_feed(a, &second, false).await.unwrap(), None);
        // `once` polls a feed that is not due; a poll holding a stale token writes nothing.
        let newer = store.claim_feed(a, &second, true).await.unwrap();
        assert!(newer.as_ref().is_some_and(|(l, _)| l.token > held.token));
        let stale = store.record_poll(held, &done, 101).await;
        assert!(
            matches!(stale, Err(StoreError::LeaseLost { feed_id }) if feed_id == a),
            "{stale:?}"
        );
    }
}

/// Many polls claiming and recording at once (written together on SQLite): each feed is
/// claimed by one of two claimants only, every record lands, and a stale lease among them
/// fails alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polls_writing_at_once_each_claim_and_record_their_own_feed() {
    let dir = tempfile::tempdir().unwrap();
    for url in backends(&dir).await {
        let store = Store::open(&url, None).await.unwrap();
        let names: Vec<String> = (0..300).map(|i| format!("F{i:03}")).collect();
        let specs = feed_specs(&names.iter().map(String::as_str).collect::<Vec<_>>());
        store.sync_feeds(&specs).await.unwrap();
        let ids: Vec<i64> = store.feeds().await.unwrap().iter().map(|f| f.id).collect();
        let (stale, _) = store
            .claim_feed(ids[0], &claimant("early", 60), true)
            .await
            .unwrap()
            .unwrap();
        store.record_poll(stale, &polled_ok(), 1).await.unwrap();
        let mut polls = tokio::task::JoinSet::new();
        for (i, &id) in ids.iter().enumerate() {
            for owner in ["one", "two"] {
                let store = store.clone();
                polls.spawn(async move {
                    let claimed = store.claim_feed(id, &claimant(owner, 60), true).await?;
                    let Some((lease, state)) = claimed else {
                        return Ok::<_, StoreError>(None);
                    };
                    assert_eq!(state.id, id, "a claim returns its own feed's state");
                    let record = failed_until(1_000 + i as i64);
                    store.record_poll(lease, &record, 10).await?;
                    if i == 0 {
                        // A record under a lease that has ended, among the others.
                        let late = store.record_poll(stale, &record, 11).await;
                        assert!(
                            matches!(late, Err(StoreError::LeaseLost { .. })),
                            "{late:?}"
                        );
                    }
                    Ok(Some(id))
                });
            }
        }
        let mut polled = Vec::new();
        while let Some(done) = polls.join_next().await {
            polled.extend(done.unwrap().unwrap());
        }
        polled.sort_unstable();
        // A feed whose first poll has ended may be claimed again (`once` claims even if not
        // due): 300 to 600 polls, every feed polled.
        let mut distinct = polled.clone();
        distinct.dedup();
        assert_eq!(distinct, ids, "{url}");
        for feed in store.feeds().await.unwrap() {
            let state = store.feed_poll_state(feed.id).await.unwrap().unwrap();
            assert!(
                state.consecutive_errors >= 1,
                "{url}: {} recorded",
                feed.name
            );
        }
    }
}

/// A feed's schedule keeps its milliseconds: due at its time to the millisecond, not rounded
/// to the second after, by the scan and by the claim (the database's clock).
#[tokio::test]
async fn a_feed_falls_due_to_the_millisecond() {
    let dir = tempfile::tempdir().unwrap();
    for url in backends(&dir).await {
        let (store, a, _) = store_with_feeds(&url).await;
        let now_ms = chrono::Utc::now().timestamp_millis();
        let due_at = now_ms + 700;
        store
            .record_poll(lease(&store, a).await, &failed_until(due_at), 10)
            .await
            .unwrap();
        let due_ids = |feeds: Vec<QueuedFeed>| feeds.into_iter().map(|f| f.id).collect::<Vec<_>>();
        assert!(!due_ids(store.due_feeds(due_at - 1).await.unwrap()).contains(&a));
        assert!(due_ids(store.due_feeds(due_at).await.unwrap()).contains(&a));
        assert_eq!(
            store.next_poll_after(due_at - 300).await.unwrap(),
            Some(due_at)
        );
        let poller = claimant("poller", 60);
        assert_eq!(
            store.claim_feed(a, &poller, false).await.unwrap(),
            None,
            "not due yet by the database's clock"
        );
        let waited = due_at - chrono::Utc::now().timestamp_millis() + 20;
        tokio::time::sleep(std::time::Duration::from_millis(waited.max(0) as u64)).await;
        assert!(
            store.claim_feed(a, &poller, false).await.unwrap().is_some(),
            "due {waited} ms later, well within its second"
        );
    }
}

/// An ingest whose lease another process took meanwhile writes nothing: not its articles,
/// not its poll state.
#[tokio::test]
async fn an_ingest_under_a_lost_lease_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    for url in backends(&dir).await {
        let (store, a, _) = store_with_feeds(&url).await;
        let held = store
            .claim_feed(a, &claimant("expiring", 0), true)
            .await
            .unwrap()
            .expect("the feed is free")
            .0;
        let done = PollRecord::Failure {
            error: "after the lease was taken".into(),
            http_status: None,
            next_poll_at_ms: i64::MAX / 2,
        };
        // Another process takes the feed once the lease has expired (by the database's clock,
        // within a millisecond or two), then this process's ingest runs with its stale token.
        let taker = claimant("taker", 60);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        let newer = loop {
            if let Some((newer, _)) = store.claim_feed(a, &taker, true).await.unwrap() {
                break newer;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the lease never expired"
            );
            tokio::task::yield_now().await;
        };
        assert!(newer.token > held.token);
        let mut tx = store.begin_ingest(held, true).await.unwrap();
        tx.insert_articles(a, &[article("guid:lost", "https://news.example/lost")], 100)
            .await
            .unwrap();
        let lost = tx.record_poll(&done, 100).await;
        assert!(
            matches!(lost, Err(StoreError::LeaseLost { feed_id }) if feed_id == a),
            "{lost:?}"
        );
        drop(tx);
        assert!(store.articles_since(0).await.unwrap().is_empty());
        let feed = store.feed_poll_state(a).await.unwrap().unwrap();
        assert_eq!(feed.consecutive_errors, 0);
    }
}

/// A database made before schedules were kept in milliseconds keeps its schedule through the
/// upgrade: a feed due at a second is due at that second's first millisecond, and a feed held
/// back "for ever" stays so (no overflow).
#[tokio::test]
async fn an_upgraded_database_keeps_its_feeds_schedule() {
    let dir = tempfile::tempdir().unwrap();
    for url in backends(&dir).await {
        let (all, last_in_seconds) = match Backend::of_url(&url) {
            Some(Backend::Sqlite) => (sqlx::migrate!("migrations/sqlite"), 3),
            _ => (sqlx::migrate!("migrations/postgres"), 2),
        };
        let before = sqlx::migrate::Migrator::with_migrations(
            all.iter()
                .filter(|m| m.version <= last_in_seconds)
                .cloned()
                .collect(),
        );
        let insert = "INSERT INTO feeds (name, config_url, url, active, next_poll_at, lease_until)
                      VALUES ('due', 'u1', 'u1', TRUE, 1700000000, 1700000100),
                             ('held', 'u2', 'u2', TRUE, 4611686018427387903, NULL)";
        if url.starts_with("sqlite") {
            let options: sqlx::sqlite::SqliteConnectOptions = url.parse().unwrap();
            let pool = sqlx::SqlitePool::connect_with(options.create_if_missing(true))
                .await
                .unwrap();
            before.run(&pool).await.unwrap();
            sqlx::query(insert).execute(&pool).await.unwrap();
            pool.close().await;
        } else {
            let pool = sqlx::PgPool::connect(&url).await.unwrap();
            before.run(&pool).await.unwrap();
            sqlx::query(insert).execute(&pool).await.unwrap();
            pool.close().await;
        }
        let store = Store::open(&url, None).await.unwrap();
        let feeds = store.feeds().await.unwrap();
        let by_name = |name: &str| feeds.iter().find(|f| f.name == name).unwrap();
        assert_eq!(by_name("due").next_poll_at_ms, 1_700_000_000_000);
        assert_eq!(by_name("held").next_poll_at_ms, i64::MAX);
        let lease: Option<i64> = on_pool!(store, pool, sql => sqlx::query_scalar(
            "SELECT lease_until_ms FROM feeds WHERE name = 'due'",
        )
        .fetch_one(pool)
        .await
        .unwrap());
        assert_eq!(lease, Some(1_700_000_100_000));
    }
}
