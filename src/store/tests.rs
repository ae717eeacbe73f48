//! The store against a real SQLite file.

use super::*;

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

async fn store_with_feeds(dir: &tempfile::TempDir) -> (Store, i64, i64) {
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let store = Store::open(&url).await.unwrap();
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

fn failed_until(next_poll_at: i64) -> PollRecord {
    PollRecord::Failure {
        error: "cannot connect".into(),
        http_status: None,
        next_poll_at,
    }
}

/// What the scheduler queues (id and URL of each due feed, in due order, ties by id) and what
/// a poll reads when it starts.
#[tokio::test]
async fn due_feeds_come_in_due_order_and_a_poll_reads_its_feeds_state() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let store = Store::open(&url).await.unwrap();
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
            .record_poll(id[name], &failed_until(at), 10)
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
            id["A"],
            &PollRecord::Success {
                moved_to: None,
                etag: Some("\"v1\"".into()),
                last_modified: Some("Tue, 01 Dec 2026 10:00:00 GMT".into()),
                not_modified: false,
                new_articles: 0,
                next_poll_at: 700,
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
    let dir = tempfile::tempdir().unwrap();
    let (store, a, b) = store_with_feeds(&dir).await;
    let mut tx = store.begin_ingest().await.unwrap();
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
    tx.commit().await.unwrap();
    assert!(first[0].is_some(), "new");
    assert_eq!(first[1], None, "a repeat within the batch");
    assert!(first[2].is_some());
    assert!(
        first[3].is_some(),
        "same link, same feed, another GUID: another entry"
    );

    let mut tx = store.begin_ingest().await.unwrap();
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

#[tokio::test]
async fn claimed_alerts_go_back_to_the_queue_after_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let (store, a, _) = store_with_feeds(&dir).await;
    let mut tx = store.begin_ingest().await.unwrap();
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
    };
    assert!(tx.record_match(ids[0].unwrap(), &found, 100).await.unwrap());
    assert!(
        !tx.record_match(ids[0].unwrap(), &found, 100).await.unwrap(),
        "once per watch and article"
    );
    tx.commit().await.unwrap();

    let claimed = store.claim_due_alerts(200, 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert!(
        store.claim_due_alerts(200, 10).await.unwrap().is_empty(),
        "claimed once"
    );
    // The process dies here; the next one starts by requeueing.
    assert_eq!(store.requeue_claimed().await.unwrap(), 1);
    let again = store.claim_due_alerts(300, 10).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].attempts, 2);
    store.mark_sent(again[0].id, 301).await.unwrap();
    assert!(store.claim_due_alerts(400, 10).await.unwrap().is_empty());
    assert_eq!(store.requeue_claimed().await.unwrap(), 0);
}
