//! The statements that SQLite and PostgreSQL spell differently, one module per backend with
//! the same names. Everything else is shared SQL. The differences: a JSON array bound as one
//! parameter is read with `json_each` in SQLite and `jsonb_array_elements` in PostgreSQL (a
//! batch of rows in one statement, with the same bindings on both), and PostgreSQL claims rows
//! with `FOR UPDATE SKIP LOCKED`, which SQLite (one writer at a time) has no need of. The same
//! two differences make the two sets of retention statements.

/// The statements that differ between the backends only by how they read the database's
/// clock (`$now` in unix seconds, `$now_ms` in milliseconds): leases are stamped and judged by
/// it alone. Alert times are in seconds; a feed's schedule and lease in milliseconds.
macro_rules! with_clock {
    ($now:literal, $now_ms:literal, $skip_locked:literal) => {
        /// `$1`: alert, `$2`: now (the instance's, for `claimed_at`), `$3`: owner, `$4`: lease
        /// seconds → the new token.
        pub const CLAIM_ALERT: &str = concat!(
            "UPDATE alerts SET status = 'sending', claimed_at = $2, attempts = attempts + 1,
                    lease_owner = $3, lease_until = ",
            $now,
            " + $4, lease_token = lease_token + 1
             WHERE id = $1 RETURNING lease_token"
        );

        /// `$1`: alert, `$2`: token, `$3`: lease seconds → whether the claim is still held.
        pub const RENEW_ALERT: &str = concat!(
            "UPDATE alerts SET lease_until = ",
            $now,
            " + $3
             WHERE id = $1 AND lease_token = $2 AND status = 'sending'"
        );

        /// Claims whose lease expired (their process stopped) go back to the queue.
        pub const REQUEUE_EXPIRED_ALERTS: &str = concat!(
            "UPDATE alerts SET status = 'queued', claimed_at = NULL, lease_owner = NULL,
                    lease_until = NULL
             WHERE status = 'sending' AND (lease_until IS NULL OR lease_until < ",
            $now,
            ")"
        );

        /// When the next queued alert falls due, or the next claim expires.
        pub const NEXT_ALERT_DUE: &str = "SELECT MIN(CASE WHEN status = 'queued' THEN next_attempt_at
                                ELSE COALESCE(lease_until, 0) + 1 END)
             FROM alerts WHERE status IN ('queued', 'sending')";

        /// `$1`: instance id, `$2`: host, `$3`: pid, `$4`: version, `$5`: config fingerprint.
        pub const REGISTER_INSTANCE: &str =
            concat!(
            "INSERT INTO instances (id, host, pid, version, config_fingerprint, started_at, last_seen)
             VALUES ($1, $2, $3, $4, $5, ", $now, ", ", $now, ")
             ON CONFLICT (id) DO UPDATE SET last_seen = ", $now
        );

        /// `$1`: seconds → instances seen within that long.
        pub const LIVE_INSTANCES: &str = concat!(
            "SELECT id, host, pid, version, config_fingerprint, started_at, last_seen,
                    ",
            $now,
            " AS now
             FROM instances WHERE last_seen >= ",
            $now,
            " - $1 ORDER BY started_at, id"
        );

        /// `$1`: now (ms) → active feeds due, oldest due first; one a live lease holds is not
        /// due for anyone else.
        pub const DUE_FEEDS: &str = concat!(
            "SELECT f.id, f.url FROM feeds f WHERE f.active AND f.next_poll_at_ms <= $1
                AND (f.lease_until_ms IS NULL OR f.lease_until_ms < ",
            $now_ms,
            ")
              ORDER BY f.next_poll_at_ms, f.id"
        );

        /// `$1`: feed, `$2`: owner, `$3`: lease seconds, `$4`: due or not → the new token and
        /// the feed's poll state, if the feed is due (or `$4`) and nobody holds it. On
        /// PostgreSQL a row another instance is claiming is skipped, not waited for.
        pub const CLAIM_FEED: &str = concat!(
            "UPDATE feeds SET lease_owner = $2, lease_until_ms = ",
            $now_ms,
            " + $3 * 1000,
                    lease_token = lease_token + 1
             WHERE id = (SELECT id FROM feeds
                         WHERE id = $1 AND active AND ($4 OR next_poll_at_ms <= ",
            $now_ms,
            ")
                           AND (lease_until_ms IS NULL OR lease_until_ms < ",
            $now_ms,
            ")",
            $skip_locked,
            ")
             RETURNING lease_token, id, name, url, etag, last_modified, first_success_at,
                       consecutive_errors"
        );

    };
}

/// Whether the alert aliased `a` has outlived its retention: `$1` is the cutoff for sent
/// alerts (by when they were sent, which is never before their last attempt was due), `$2` for
/// failed ones (by when their last attempt was due), in unix seconds; `i64::MIN` keeps them
/// for ever.
macro_rules! alert_expired {
    () => {
        "((a.status = 'sent' AND a.next_attempt_at < $1
           AND COALESCE(a.sent_at, a.next_attempt_at) < $1)
          OR (a.status = 'failed' AND a.next_attempt_at < $2))"
    };
}

/// Whether the article aliased `ar` may be deleted: fetched before `$3`, and needed by no
/// alert that is kept and not yet sent (queued, sending, or failed and so retriable, whether
/// it is the article's own alert or a batch listing it), nor by a match waiting for its
/// digest or hourly summary. `$1`, `$2`: as for `alert_expired!`.
macro_rules! article_expired {
    () => {
        concat!(
            "ar.fetched_at < $3
             AND NOT EXISTS (SELECT 1 FROM alerts a
                             WHERE a.article_id = ar.id AND a.status <> 'sent'
                               AND NOT ",
            alert_expired!(),
            ")
             AND NOT EXISTS (SELECT 1 FROM matches m
                             WHERE m.article_id = ar.id
                               AND ((m.batch_alert_id IS NULL
                                     AND m.delivery IN ('digest', 'overflow'))
                                    OR EXISTS (SELECT 1 FROM alerts a
                                               WHERE a.id = m.batch_alert_id
                                                 AND a.status <> 'sent'
                                                 AND NOT ",
            alert_expired!(),
            ")))"
        )
    };
}

/// The statements of retention (`store::retention`). They differ between the backends only
/// by how the JSON array of row ids bound as `$1` is read (`$ids`), and by PostgreSQL's
/// `FOR UPDATE SKIP LOCKED` on the rows a batch takes (`$skip_locked`): two instances pruning
/// at once take different rows.
macro_rules! with_id_list {
    ($ids:literal, $skip_locked:literal) => {
        /// `$1`, `$2`: cutoffs → (status, alerts) of the alerts retention would delete.
        pub const EXPIRED_ALERT_COUNTS: &str = concat!(
            "SELECT a.status, COUNT(*) FROM alerts a WHERE ",
            alert_expired!(),
            " GROUP BY a.status"
        );

        /// `$1`..`$3`: cutoffs → how many articles retention would delete.
        pub const EXPIRED_ARTICLE_COUNT: &str = concat!(
            "SELECT COUNT(*) FROM articles ar WHERE ",
            article_expired!()
        );

        /// `$1`: 'sent' or 'failed', `$2`: its cutoff, `$3`, `$4`: (next_attempt_at, id) of
        /// the last alert of the batch before, `$5`: batch size → (id, next_attempt_at) of the
        /// next expired alerts of that status, in the order of the index on
        /// (status, next_attempt_at): each batch reads its own rows, not the table.
        pub const TAKE_EXPIRED_ALERTS: &str = concat!(
            "SELECT a.id, a.next_attempt_at FROM alerts a
             WHERE a.status = $1 AND a.next_attempt_at < $2
               AND (a.status <> 'sent' OR COALESCE(a.sent_at, a.next_attempt_at) < $2)
               AND (a.next_attempt_at, a.id) > ($3, $4)
             ORDER BY a.next_attempt_at, a.id LIMIT $5",
            $skip_locked
        );

        /// `$1`..`$3`: cutoffs, `$4`, `$5`: (fetched_at, id) of the last article of the
        /// batch before, `$6`: batch size → (id, fetched_at) of the next expired articles,
        /// oldest first, in the order of the index on fetched_at.
        pub const TAKE_EXPIRED_ARTICLES: &str = concat!(
            "SELECT ar.id, ar.fetched_at FROM articles ar WHERE ",
            article_expired!(),
            " AND (ar.fetched_at, ar.id) > ($4, $5)
             ORDER BY ar.fetched_at, ar.id LIMIT $6",
            $skip_locked
        );

        /// `$1`: alert ids.
        pub const DELETE_ALERT_RECIPIENTS: &str = concat!(
            "DELETE FROM alert_recipients WHERE alert_id IN (",
            $ids,
            ")"
        );

        /// `$1`: alert ids: the matches a batch alert listed go with it (set free, they
        /// would wait for a batch again).
        pub const DELETE_BATCH_MATCHES: &str =
            concat!("DELETE FROM matches WHERE batch_alert_id IN (", $ids, ")");

        /// `$1`: alert ids.
        pub const DELETE_ALERTS: &str = concat!("DELETE FROM alerts WHERE id IN (", $ids, ")");

        /// `$1`: article ids, `$2`: now.
        pub const TOMBSTONE_ARTICLES: &str = concat!(
            "INSERT INTO article_tombstones (identity, feed_id, canonical_link, deleted_at)
             SELECT identity, feed_id, canonical_link, $2 FROM articles WHERE id IN (",
            $ids,
            ")
             ON CONFLICT (identity) DO NOTHING"
        );

        /// `$1`: article ids.
        pub const DELETE_FEED_ARTICLES: &str =
            concat!("DELETE FROM feed_articles WHERE article_id IN (", $ids, ")");

        /// `$1`: article ids.
        pub const DELETE_ARTICLE_MATCHES: &str =
            concat!("DELETE FROM matches WHERE article_id IN (", $ids, ")");

        /// `$1`: article ids. The sent alerts of deleted articles are kept (by their own
        /// retention) without them; their deduplication key, which names the article's id,
        /// is set apart, so that a later article given the same id (SQLite reuses the highest)
        /// can alert.
        pub const UNLINK_ALERTS: &str = concat!(
            "UPDATE alerts SET article_id = NULL, dedup_key = 'pruned:' || id
             WHERE article_id IN (",
            $ids,
            ")"
        );

        /// `$1`: article ids.
        pub const DELETE_ARTICLES: &str = concat!("DELETE FROM articles WHERE id IN (", $ids, ")");
    };
}

pub mod sqlite {
    /// `$1`: JSON array of identities → those stored, or deleted by retention.
    pub const KNOWN_IDENTITIES: &str =
        "SELECT identity FROM articles WHERE identity IN (SELECT value FROM json_each($1))
         UNION ALL
         SELECT identity FROM article_tombstones
         WHERE identity IN (SELECT value FROM json_each($1))";

    /// `$1`: JSON array of `{"identity", "canonical_link"}`, one per entry, `$2`: the feed →
    /// (entry index, how it is known: see `store::ingest::KnownBy`, stored article id or 0
    /// for a deleted one).
    pub const KNOWN_ARTICLES: &str = "SELECT CAST(j.key AS INTEGER), 0, a.id FROM json_each($1) j
           JOIN articles a ON a.identity = json_extract(j.value, '$.identity')
         UNION ALL
         SELECT CAST(j.key AS INTEGER), 1, a.id FROM json_each($1) j
           JOIN articles a ON a.canonical_link = json_extract(j.value, '$.canonical_link')
                          AND a.feed_id <> $2
         UNION ALL
         SELECT CAST(j.key AS INTEGER), 2, 0 FROM json_each($1) j
           JOIN article_tombstones t ON t.identity = json_extract(j.value, '$.identity')
         UNION ALL
         SELECT CAST(j.key AS INTEGER), 3, 0 FROM json_each($1) j
           JOIN article_tombstones t
             ON t.canonical_link = json_extract(j.value, '$.canonical_link') AND t.feed_id <> $2
         ORDER BY 1, 2, 3";

    /// New articles as rows of bound values: this, then `(…), (…)` with the 13 columns in this
    /// order, then [`INSERT_ARTICLES_END`] → (id, identity) of each article stored.
    pub const INSERT_ARTICLES_START: &str =
        "INSERT INTO articles (identity, feed_id, link, canonical_link, title, summary, content,
                               authors, categories, lang, published_at, fetched_at, signature) ";
    pub const INSERT_ARTICLES_END: &str =
        " ON CONFLICT (identity) DO NOTHING RETURNING id, identity";

    /// `$1`: the feed, `$2`: now, `$3`: JSON array of article ids.
    pub const INSERT_FEED_ARTICLES: &str =
        "INSERT INTO feed_articles (feed_id, article_id, first_seen_at)
         SELECT $1, value, $2 FROM json_each($3) WHERE true
         ON CONFLICT (feed_id, article_id) DO NOTHING";

    /// `$1`: the alert, `$2`: JSON array of addresses, in order.
    pub const INSERT_RECIPIENTS: &str = "INSERT INTO alert_recipients (alert_id, address, position)
         SELECT $1, value, key FROM json_each($2) WHERE true
         ON CONFLICT (alert_id, address) DO NOTHING";

    /// `$1`: now, `$2`: how many → ids of queued alerts due.
    pub const DUE_ALERT_IDS: &str =
        "SELECT id FROM alerts WHERE status = 'queued' AND next_attempt_at <= $1
         ORDER BY next_attempt_at, id LIMIT $2";

    /// `$1`: JSON array of `{"name", "url"}` as configured: a feed whose URL changed starts
    /// its HTTP state afresh.
    pub const RESET_MOVED_FEEDS: &str =
        "UPDATE feeds SET config_url = c.url, url = c.url, etag = NULL, last_modified = NULL,
                next_poll_at_ms = 0
         FROM (SELECT json_extract(value, '$.name') AS name, json_extract(value, '$.url') AS url
               FROM json_each($1)) AS c
         WHERE feeds.name = c.name AND feeds.config_url <> c.url";

    /// `$1` as above: new feeds added, configured ones active.
    pub const ADD_FEEDS: &str = "INSERT INTO feeds (name, config_url, url, active)
         SELECT json_extract(value, '$.name'), json_extract(value, '$.url'),
                json_extract(value, '$.url'), TRUE
         FROM json_each($1) WHERE true
         ON CONFLICT (name) DO UPDATE SET active = TRUE";

    /// `$1` as above: feeds no longer configured stop being polled.
    pub const RETIRE_FEEDS: &str = "UPDATE feeds SET active = FALSE
         WHERE name NOT IN (SELECT json_extract(value, '$.name') FROM json_each($1))";

    with_clock!(
        "CAST(strftime('%s', 'now') AS INTEGER)",
        "CAST(unixepoch('subsec') * 1000 AS INTEGER)",
        ""
    );

    with_id_list!("SELECT value FROM json_each($1)", "");

    /// `$1`: now (ms) → the earliest time (ms) something may be polled: a feed falling due, or
    /// a lease held on a due feed expiring.
    pub const NEXT_POLL_AFTER: &str =
        "SELECT MIN(MAX(next_poll_at_ms, COALESCE(lease_until_ms + 1, 0))) FROM feeds
         WHERE active AND MAX(next_poll_at_ms, COALESCE(lease_until_ms + 1, 0)) > $1";

    /// The transaction that writes new articles: `BEGIN IMMEDIATE` makes each writer wait for
    /// the one before, as every SQLite write transaction does.
    pub const BEGIN_ARTICLE_WRITES: &str = "BEGIN IMMEDIATE";

    /// Taken when a transaction begun otherwise finds new articles to write: none is, on
    /// SQLite.
    pub const SERIALISE_ARTICLE_WRITES: Option<&str> = None;
}

pub mod postgres {
    // Each entry is looked up on its own (a LATERAL subquery with a LIMIT is never flattened
    // into a join): a prepared statement's generic plan, made while `articles` was small or
    // its statistics stale, would otherwise scan the whole table per poll.

    pub const KNOWN_IDENTITIES: &str = "SELECT a.identity
         FROM jsonb_array_elements_text($1::jsonb) AS j(identity)
           CROSS JOIN LATERAL (SELECT identity FROM articles
                               WHERE identity = j.identity LIMIT 1) a
         UNION ALL
         SELECT t.identity
         FROM jsonb_array_elements_text($1::jsonb) AS j(identity)
           CROSS JOIN LATERAL (SELECT identity FROM article_tombstones
                               WHERE identity = j.identity LIMIT 1) t";

    pub const KNOWN_ARTICLES: &str = "SELECT j.key - 1, 0::BIGINT, a.id
         FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS j(value, key)
           CROSS JOIN LATERAL (SELECT id FROM articles
                               WHERE identity = j.value->>'identity' LIMIT 1) a
         UNION ALL
         SELECT j.key - 1, 1::BIGINT, a.id
         FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS j(value, key)
           CROSS JOIN LATERAL (SELECT id FROM articles
                               WHERE canonical_link = j.value->>'canonical_link'
                                 AND feed_id <> $2
                               ORDER BY id LIMIT 1) a
         UNION ALL
         SELECT j.key - 1, 2::BIGINT, 0::BIGINT
         FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS j(value, key)
           CROSS JOIN LATERAL (SELECT 1 FROM article_tombstones
                               WHERE identity = j.value->>'identity' LIMIT 1) t
         UNION ALL
         SELECT j.key - 1, 3::BIGINT, 0::BIGINT
         FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS j(value, key)
           CROSS JOIN LATERAL (SELECT 1 FROM article_tombstones
                               WHERE canonical_link = j.value->>'canonical_link'
                                 AND feed_id <> $2
                               LIMIT 1) t
         ORDER BY 1, 2, 3";

    pub const INSERT_ARTICLES: &str =
        "INSERT INTO articles (identity, feed_id, link, canonical_link, title, summary,
                               content, authors, categories, lang, published_at, fetched_at,
                               signature)
         SELECT r.value->>'identity', $2, r.value->>'link', r.value->>'canonical_link',
                r.value->>'title', r.value->>'summary', r.value->>'content',
                r.value->>'authors', r.value->>'categories', r.value->>'lang',
                (r.value->>'published_at')::BIGINT, $3, decode(r.value->>'signature', 'hex')
         FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS r(value, key)
         ORDER BY r.key
         ON CONFLICT (identity) DO NOTHING
         RETURNING id, identity";

    pub const INSERT_FEED_ARTICLES: &str =
        "INSERT INTO feed_articles (feed_id, article_id, first_seen_at)
         SELECT $1, value::BIGINT, $2 FROM jsonb_array_elements_text($3::jsonb) AS value
         ON CONFLICT (feed_id, article_id) DO NOTHING";

    pub const INSERT_RECIPIENTS: &str = "INSERT INTO alert_recipients (alert_id, address, position)
         SELECT $1, r.value, r.key - 1
         FROM jsonb_array_elements_text($2::jsonb) WITH ORDINALITY AS r(value, key)
         ON CONFLICT (alert_id, address) DO NOTHING";

    /// Rows another instance is claiming are skipped, not waited for.
    pub const DUE_ALERT_IDS: &str =
        "SELECT id FROM alerts WHERE status = 'queued' AND next_attempt_at <= $1
         ORDER BY next_attempt_at, id LIMIT $2
         FOR UPDATE SKIP LOCKED";

    pub const RESET_MOVED_FEEDS: &str =
        "UPDATE feeds SET config_url = c.url, url = c.url, etag = NULL, last_modified = NULL,
                next_poll_at_ms = 0
         FROM (SELECT value->>'name' AS name, value->>'url' AS url
               FROM jsonb_array_elements($1::jsonb)) AS c
         WHERE feeds.name = c.name AND feeds.config_url <> c.url";

    pub const ADD_FEEDS: &str = "INSERT INTO feeds (name, config_url, url, active)
         SELECT value->>'name', value->>'url', value->>'url', TRUE
         FROM jsonb_array_elements($1::jsonb)
         ON CONFLICT (name) DO UPDATE SET active = TRUE";

    pub const RETIRE_FEEDS: &str = "UPDATE feeds SET active = FALSE
         WHERE name NOT IN (SELECT value->>'name' FROM jsonb_array_elements($1::jsonb))";

    with_clock!(
        "CAST(EXTRACT(EPOCH FROM clock_timestamp()) AS BIGINT)",
        "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)",
        " FOR UPDATE SKIP LOCKED"
    );

    with_id_list!(
        "SELECT value::BIGINT FROM jsonb_array_elements_text($1::jsonb) AS value",
        " FOR UPDATE SKIP LOCKED"
    );

    pub const NEXT_POLL_AFTER: &str =
        "SELECT MIN(GREATEST(next_poll_at_ms, COALESCE(lease_until_ms + 1, 0))) FROM feeds
         WHERE active AND GREATEST(next_poll_at_ms, COALESCE(lease_until_ms + 1, 0)) > $1";

    /// Two instances ingesting the same story under two GUIDs at once would both find it new;
    /// this lock makes the second wait for the first's commit and then find it. Readers and
    /// other tables (feed claims, the outbox) are not held up. Taken with the `BEGIN` (one
    /// round trip) and held to the commit, which therefore does not wait for the WAL to reach
    /// the disk: an ingest lost to a server crash is redone (the feed's poll state is lost
    /// with it, so the feed is polled again), and whatever commits after it and depends on it
    /// (the claim of one of its alerts, a send) flushes the WAL up to and including it.
    pub const BEGIN_ARTICLE_WRITES: &str = "BEGIN; SET LOCAL synchronous_commit = off;
         LOCK TABLE articles IN SHARE ROW EXCLUSIVE MODE";

    /// The same lock, taken by an ingest that expected no new article and found one.
    pub const SERIALISE_ARTICLE_WRITES: Option<&str> =
        Some("SET LOCAL synchronous_commit = off; LOCK TABLE articles IN SHARE ROW EXCLUSIVE MODE");
}
