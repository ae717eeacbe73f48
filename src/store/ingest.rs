//! The one transaction in which a poll's results are written: new articles (deduplicated
//! against every feed), their matches, the alerts those cause, and the feed's poll state.

use crate::article::{Article, story_url};
use crate::story::Signature;

use super::rows::PollStatus;
use super::{
    Db, FeedLease, MatchDelivery, NewMatch, PollRecord, Result, Store, StoreError, StoryCandidate,
    Tx, on_pool, on_tx, outbox,
};

impl Store {
    /// Which of these identities are stored already.
    pub async fn known_identities<'a>(
        &self,
        identities: impl Iterator<Item = &'a str>,
    ) -> Result<std::collections::HashSet<String>> {
        let list: Vec<&str> = identities.collect();
        if list.is_empty() {
            return Ok(Default::default());
        }
        let json = serde_json::to_string(&list).unwrap_or_else(|_| "[]".into());
        let known: Vec<String> = on_pool!(self, pool, sql => {
            sqlx::query_scalar(sql::KNOWN_IDENTITIES)
                .bind(json)
                .fetch_all(pool)
                .await?
        });
        Ok(known.into_iter().collect())
    }

    /// Starts the one transaction in which a poll's results are written (one at a time on
    /// SQLite), for the poll `lease` claimed; its last statement records the poll and ends the
    /// lease, and fails with [`StoreError::LeaseLost`] when another process has claimed the
    /// feed since. `expect_new_articles` (some entry was not stored when the poll looked)
    /// takes PostgreSQL's article lock with the `BEGIN`; otherwise it is taken only if new
    /// articles turn up.
    pub async fn begin_ingest(
        &self,
        lease: FeedLease,
        expect_new_articles: bool,
    ) -> Result<IngestTx> {
        let (tx, turn, serialised) = match &self.db {
            Db::Sqlite(pool) => {
                let turn = std::sync::Arc::clone(&self.writer).lock_owned().await;
                let tx = pool
                    .begin_with(super::dialect::sqlite::BEGIN_ARTICLE_WRITES)
                    .await?;
                (Tx::Sqlite(tx), Some(turn), true)
            }
            Db::Postgres(pool) if expect_new_articles => {
                let tx = pool
                    .begin_with(super::dialect::postgres::BEGIN_ARTICLE_WRITES)
                    .await?;
                (Tx::Postgres(tx), None, true)
            }
            Db::Postgres(pool) => (Tx::Postgres(pool.begin().await?), None, false),
        };
        Ok(IngestTx {
            tx,
            lease,
            serialised,
            _turn: turn,
        })
    }
}

/// How `KNOWN_ARTICLES` (see `dialect`) found an entry: a stored article by its identity or
/// by its canonical link; other values are articles retention deleted.
const KNOWN_BY_IDENTITY: i64 = 0;
const KNOWN_BY_LINK: i64 = 1;

/// What an entry of a poll is to the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Known {
    New,
    Stored(i64),
    /// Seen before and since deleted by retention: neither new nor stored again.
    Deleted,
}

impl Known {
    fn stored_id(self) -> Option<i64> {
        match self {
            Known::Stored(id) => Some(id),
            Known::New | Known::Deleted => None,
        }
    }
}

/// The statement that records a poll's outcome in its feed's state and ends the poll's lease,
/// if the lease is still the one the poll claimed (no row is changed otherwise).
macro_rules! record_poll_statement {
    ($lease:expr, $record:expr, $now:expr) => {
        match $record {
            PollRecord::Success {
                moved_to,
                etag,
                last_modified,
                not_modified,
                new_articles,
                next_poll_at_ms,
            } => {
                let status = if *not_modified {
                    PollStatus::NotModified
                } else {
                    PollStatus::Ok
                };
                sqlx::query(
                    "UPDATE feeds SET
                        url = COALESCE($2, url),
                        etag = CASE WHEN $3 THEN etag ELSE $4 END,
                        last_modified = CASE WHEN $3 THEN last_modified ELSE $5 END,
                        first_success_at = COALESCE(first_success_at, $6),
                        last_poll_at = $6, last_success_at = $6,
                        last_status = $7, last_http_status = NULL, last_error = NULL,
                        consecutive_errors = 0, next_poll_at_ms = $8,
                        last_new_article_at = CASE WHEN $9 > 0 THEN $6 ELSE last_new_article_at END,
                        lease_owner = NULL, lease_until_ms = NULL
                     WHERE id = $1 AND lease_token = $10",
                )
                .bind($lease.feed_id)
                .bind(moved_to)
                .bind(*not_modified)
                .bind(etag)
                .bind(last_modified)
                .bind($now)
                .bind(status.as_str())
                .bind(next_poll_at_ms)
                .bind(*new_articles as i64)
                .bind($lease.token)
            }
            PollRecord::Failure {
                error,
                http_status,
                next_poll_at_ms,
            } => sqlx::query(
                "UPDATE feeds SET last_poll_at = $2, last_status = $6, last_error = $3,
                    last_http_status = $4, consecutive_errors = consecutive_errors + 1,
                    next_poll_at_ms = $5, lease_owner = NULL, lease_until_ms = NULL
                 WHERE id = $1 AND lease_token = $7",
            )
            .bind($lease.feed_id)
            .bind($now)
            .bind(error)
            .bind(http_status.map(i64::from))
            .bind(next_poll_at_ms)
            .bind(PollStatus::Error.as_str())
            .bind($lease.token),
        }
    };
}
pub(super) use record_poll_statement;

/// The transaction of one poll's ingest: articles, matches, alerts and poll state commit
/// together or not at all.
pub struct IngestTx {
    tx: Tx,
    lease: FeedLease,
    /// Whether new articles may be written: this transaction waits for, and holds up, every
    /// other that writes them.
    serialised: bool,
    /// SQLite's turn to write; none for PostgreSQL.
    _turn: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl IngestTx {
    /// Stores a poll's articles; for each, its id when it was new. An article is already known
    /// when its identity is stored (from any feed), when its canonical link was first seen
    /// through another feed (the story under a different GUID), when it repeats an earlier
    /// entry of the same batch, or when retention deleted it (its identity and link are kept:
    /// a feed still carrying an old entry must not bring it back as new). Every stored article
    /// is recorded as carried by the feed. A few statements per batch, whatever its size:
    /// SQLite's single writer waits on each.
    pub async fn insert_articles(
        &mut self,
        feed_id: i64,
        articles: &[Article],
        now: i64,
    ) -> Result<Vec<Option<i64>>> {
        self.insert_signed_articles(feed_id, articles, &[], now)
            .await
    }

    /// [`IngestTx::insert_articles`], with each article's story signature (index-aligned;
    /// missing ones stored as none).
    pub async fn insert_signed_articles(
        &mut self,
        feed_id: i64,
        articles: &[Article],
        signatures: &[Option<Signature>],
        now: i64,
    ) -> Result<Vec<Option<i64>>> {
        if articles.is_empty() {
            return Ok(Vec::new());
        }
        let rows: Vec<ArticleRow> = articles
            .iter()
            .enumerate()
            .map(|(i, a)| ArticleRow {
                signature: signatures
                    .get(i)
                    .and_then(Option::as_ref)
                    .map(Signature::to_bytes),
                identity: &a.identity,
                link: a.link.as_deref(),
                canonical_link: a.link.as_deref().and_then(story_url),
                title: &a.title,
                summary: &a.summary,
                content: &a.content,
                authors: serde_json::to_string(&a.authors).unwrap_or_else(|_| "[]".into()),
                categories: serde_json::to_string(&a.categories).unwrap_or_else(|_| "[]".into()),
                lang: a.lang.as_deref(),
                published_at: a.published.map(|d| d.timestamp()),
            })
            .collect();
        let keys: Vec<ArticleKey> = rows
            .iter()
            .map(|row| ArticleKey {
                identity: row.identity,
                canonical_link: row.canonical_link.as_deref(),
            })
            .collect();
        let keys = serde_json::to_string(&keys).unwrap_or_else(|_| "[]".into());
        let mut known = self.known_articles(feed_id, &keys, articles.len()).await?;
        if !self.serialised && known.contains(&Known::New) {
            // New articles after all: wait for the other writers, then look again.
            on_tx!(&mut self.tx, conn, sql => {
                if let Some(lock) = sql::SERIALISE_ARTICLE_WRITES {
                    sqlx::raw_sql(lock).execute(&mut *conn).await?;
                }
            });
            self.serialised = true;
            known = self.known_articles(feed_id, &keys, articles.len()).await?;
        }
        let mut ids: Vec<Option<i64>> = known.iter().map(|k| k.stored_id()).collect();
        // The new ones, each identity once (the first entry wins).
        let mut first_entry: std::collections::HashMap<&str, usize> =
            std::collections::HashMap::new();
        let fresh: Vec<usize> = (0..articles.len())
            .filter(|&i| {
                known[i] == Known::New
                    && *first_entry
                        .entry(articles[i].identity.as_str())
                        .or_insert(i)
                        == i
            })
            .collect();
        let mut inserted = vec![false; articles.len()];
        if !fresh.is_empty() {
            let fresh_rows: Vec<&ArticleRow> = fresh.iter().map(|&i| &rows[i]).collect();
            let created = insert_rows(&mut self.tx, feed_id, &fresh_rows, now).await?;
            let by_identity: std::collections::HashMap<&str, i64> = created
                .iter()
                .map(|(id, identity)| (identity.as_str(), *id))
                .collect();
            for &i in &fresh {
                ids[i] = by_identity.get(articles[i].identity.as_str()).copied();
                inserted[i] = ids[i].is_some();
            }
        }
        // Repeats within the batch point at the article their first entry created.
        for i in 0..articles.len() {
            if ids[i].is_none() {
                ids[i] = first_entry
                    .get(articles[i].identity.as_str())
                    .and_then(|&first| ids[first]);
            }
        }
        let carried: Vec<i64> = ids.iter().flatten().copied().collect();
        let carried = serde_json::to_string(&carried).unwrap_or_else(|_| "[]".into());
        on_tx!(&mut self.tx, conn, sql => {
            sqlx::query(sql::INSERT_FEED_ARTICLES)
                .bind(feed_id)
                .bind(now)
                .bind(&carried)
                .execute(&mut *conn)
                .await?;
        });
        Ok(ids
            .into_iter()
            .zip(inserted)
            .map(|(id, new)| id.filter(|_| new))
            .collect())
    }

    /// Per entry of `keys` (`count` of them), what it is: the stored article with its
    /// identity, else the oldest another feed brought with its canonical link; else an article
    /// retention deleted (by identity, or by a link another feed brought); else new.
    async fn known_articles(
        &mut self,
        feed_id: i64,
        keys: &str,
        count: usize,
    ) -> Result<Vec<Known>> {
        let found: Vec<(i64, i64, i64)> = on_tx!(&mut self.tx, conn, sql => {
            sqlx::query_as(sql::KNOWN_ARTICLES)
                .bind(keys)
                .bind(feed_id)
                .fetch_all(&mut *conn)
                .await?
        });
        let mut known = vec![Known::New; count];
        // Rows come by entry, then by how they are known: the first row of an entry wins.
        for (index, by, id) in found {
            if let Some(slot) = usize::try_from(index).ok().and_then(|i| known.get_mut(i))
                && *slot == Known::New
            {
                *slot = match by {
                    KNOWN_BY_IDENTITY | KNOWN_BY_LINK => Known::Stored(id),
                    _ => Known::Deleted,
                };
            }
        }
        Ok(known)
    }

    /// Article alerts queued for `watch` since `since` (for the hourly cap).
    pub async fn article_alerts_since(&mut self, watch: &str, since: i64) -> Result<i64> {
        Ok(on_tx!(&mut self.tx, conn, sql => {
            sqlx::query_scalar(
                "SELECT COUNT(*) FROM alerts
                 WHERE watch = $1 AND kind = 'article' AND created_at >= $2",
            )
            .bind(watch)
            .bind(since)
            .fetch_one(&mut *conn)
            .await?
        }))
    }

    /// The matches of `watch` recorded since `since` that were placed in stories, with their
    /// signatures and times: what a new match is compared with (the most recent
    /// [`STORY_CANDIDATES`]).
    pub async fn story_candidates(
        &mut self,
        watch: &str,
        since: i64,
    ) -> Result<Vec<StoryCandidate>> {
        let rows: Vec<(i64, Vec<u8>, i64)> = on_tx!(&mut self.tx, conn, sql => {
            sqlx::query_as(
                "SELECT COALESCE(m.story_id, m.id), a.signature,
                        COALESCE(a.published_at, m.matched_at)
                 FROM matches m JOIN articles a ON a.id = m.article_id
                 WHERE m.watch = $1 AND m.matched_at >= $2 AND m.story_role IS NOT NULL
                   AND a.signature IS NOT NULL
                 ORDER BY m.matched_at DESC, m.id DESC
                 LIMIT $3",
            )
            .bind(watch)
            .bind(since)
            .bind(STORY_CANDIDATES)
            .fetch_all(&mut *conn)
            .await?
        });
        Ok(rows
            .into_iter()
            .filter_map(|(story, bytes, at)| {
                Some(StoryCandidate {
                    story,
                    signature: Signature::from_bytes(&bytes)?,
                    at,
                })
            })
            .collect())
    }

    /// Records a match and, for `MatchDelivery::Alert`, queues its alert (once per watch and
    /// article). Returns whether an alert was queued.
    pub async fn record_match(
        &mut self,
        article_id: i64,
        found: &NewMatch,
        now: i64,
    ) -> Result<bool> {
        let recipients = serde_json::to_string(&found.recipients).unwrap_or_else(|_| "[]".into());
        let queued: Option<i64> = on_tx!(&mut self.tx, conn, sql => {
            let recorded = sqlx::query(
                "INSERT INTO matches (watch, article_id, matched_at, explanation, delivery,
                                      story_role, story_id)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)
                 ON CONFLICT (watch, article_id) DO NOTHING",
            )
            .bind(&found.watch)
            .bind(article_id)
            .bind(now)
            .bind(&found.explanation)
            .bind(found.delivery.as_str())
            .bind(found.story.map(|s| s.role.as_str()))
            .bind(found.story.and_then(|s| s.story))
            .execute(&mut *conn)
            .await?;
            if found.delivery != MatchDelivery::Alert || recorded.rows_affected() == 0 {
                return Ok(false);
            }
            sqlx::query_scalar(
                "INSERT INTO alerts (watch, kind, article_id, dedup_key, message_id, recipients,
                                     status, next_attempt_at, created_at, queued_at)
                 VALUES ($1, 'article', $2, $3, $4, $5, 'queued', $6, $6, $6)
                 ON CONFLICT (dedup_key) DO NOTHING
                 RETURNING id",
            )
            .bind(&found.watch)
            .bind(article_id)
            .bind(format!("article:{}:{article_id}", found.watch))
            .bind(&found.message_id)
            .bind(&recipients)
            .bind(now)
            .fetch_optional(&mut *conn)
            .await?
        });
        let Some(alert_id) = queued else {
            return Ok(false);
        };
        outbox::insert_recipients(&mut self.tx, alert_id, &found.recipients).await?;
        Ok(true)
    }

    /// Records the outcome of the poll in its feed's state and ends its lease; fails with
    /// [`StoreError::LeaseLost`] (and the transaction is to be dropped, writing nothing) when
    /// another process has claimed the feed since the poll began.
    pub async fn record_poll(&mut self, record: &PollRecord, now: i64) -> Result<()> {
        let lease = self.lease;
        let held = on_tx!(&mut self.tx, conn, sql => record_poll_statement!(lease, record, now)
            .execute(&mut *conn)
            .await?
            .rows_affected());
        if held == 0 {
            return Err(StoreError::LeaseLost {
                feed_id: lease.feed_id,
            });
        }
        Ok(())
    }

    pub async fn commit(self) -> Result<()> {
        self.tx.commit().await
    }
}

/// Most recent matches a new match of a watch is compared with.
pub const STORY_CANDIDATES: i64 = 2000;

/// Inserts new articles (`ON CONFLICT DO NOTHING`); returns the id and identity of each row
/// inserted. SQLite takes them as rows of bound values, a few hundred per statement (a JSON
/// batch would be rendered and parsed again for each column of each row, on the one thread
/// that writes); PostgreSQL as one JSON batch.
async fn insert_rows(
    tx: &mut Tx,
    feed_id: i64,
    rows: &[&ArticleRow<'_>],
    now: i64,
) -> Result<Vec<(i64, String)>> {
    use super::dialect::{postgres, sqlite};
    match tx {
        Tx::Sqlite(conn) => {
            let mut created = Vec::with_capacity(rows.len());
            for chunk in rows.chunks(SQLITE_ROWS_PER_INSERT) {
                let mut insert =
                    sqlx::QueryBuilder::<sqlx::Sqlite>::new(sqlite::INSERT_ARTICLES_START);
                insert.push_values(chunk, |mut row, article| {
                    row.push_bind(article.identity)
                        .push_bind(feed_id)
                        .push_bind(article.link)
                        .push_bind(article.canonical_link.as_deref())
                        .push_bind(article.title)
                        .push_bind(article.summary)
                        .push_bind(article.content)
                        .push_bind(article.authors.as_str())
                        .push_bind(article.categories.as_str())
                        .push_bind(article.lang)
                        .push_bind(article.published_at)
                        .push_bind(now)
                        .push_bind(article.signature.as_deref());
                });
                insert.push(sqlite::INSERT_ARTICLES_END);
                created.extend(
                    insert
                        .build_query_as::<(i64, String)>()
                        .fetch_all(&mut **conn)
                        .await?,
                );
            }
            Ok(created)
        }
        Tx::Postgres(conn) => {
            let batch = serde_json::to_string(rows).unwrap_or_else(|_| "[]".into());
            Ok(sqlx::query_as(postgres::INSERT_ARTICLES)
                .bind(&batch)
                .bind(feed_id)
                .bind(now)
                .fetch_all(&mut **conn)
                .await?)
        }
    }
}

/// Rows of one SQLite insert: 13 values each, well under SQLite's 32,766 bound values.
const SQLITE_ROWS_PER_INSERT: usize = 500;

/// One new article as the insert batch (JSON) carries it to the database.
#[derive(serde::Serialize)]
struct ArticleRow<'a> {
    /// Stored as bytes; in the JSON batch as hexadecimal.
    #[serde(serialize_with = "hex_bytes")]
    signature: Option<Vec<u8>>,
    identity: &'a str,
    link: Option<&'a str>,
    canonical_link: Option<String>,
    title: &'a str,
    summary: &'a str,
    content: &'a str,
    /// JSON arrays, stored as text.
    authors: String,
    categories: String,
    lang: Option<&'a str>,
    published_at: Option<i64>,
}

/// What an entry of a poll is looked up by.
#[derive(serde::Serialize)]
struct ArticleKey<'a> {
    identity: &'a str,
    canonical_link: Option<&'a str>,
}

fn hex_bytes<S: serde::Serializer>(
    bytes: &Option<Vec<u8>>,
    serializer: S,
) -> std::result::Result<S::Ok, S::Error> {
    match bytes {
        Some(bytes) => serializer.serialize_str(&hex(bytes)),
        None => serializer.serialize_none(),
    }
}

/// Lower-case hexadecimal, as the article batch carries signatures to the database.
fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        text.push(char::from(DIGITS[usize::from(byte >> 4)]));
        text.push(char::from(DIGITS[usize::from(byte & 0xf)]));
    }
    text
}

#[cfg(test)]
mod tests {
    #[test]
    fn hex_is_two_lower_case_digits_per_byte() {
        assert_eq!(super::hex(&[0x00, 0x0f, 0xa5, 0xff, 0x10]), "000fa5ff10");
        assert_eq!(super::hex(&[]), "");
    }
}
