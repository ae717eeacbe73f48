//! What story grouping reads back outside the ingest transaction: recent signatures to seed
//! the archive's term statistics, and the outlets of a story for "also reported by".

use super::{Result, Store, StoryOutlet, on_pool};
use crate::story::Signature;

/// Most outlets one mail lists under a story.
pub const MAX_OUTLETS: i64 = 50;

impl Store {
    /// The signatures of the `limit` most recently stored articles, newest first.
    pub async fn recent_signatures(&self, limit: usize) -> Result<Vec<Signature>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows: Vec<Vec<u8>> = on_pool!(self, pool, sql => {
            sqlx::query_scalar(
                "SELECT signature FROM articles WHERE signature IS NOT NULL
                 ORDER BY id DESC LIMIT $1",
            )
            .bind(limit)
            .fetch_all(pool)
            .await?
        });
        Ok(rows
            .iter()
            .filter_map(|bytes| Signature::from_bytes(bytes))
            .collect())
    }

    /// The other articles of story `story` of `watch` (each outlet's report), in the order
    /// they came, without `except_article`.
    pub async fn story_outlets(
        &self,
        watch: &str,
        story: i64,
        except_article: Option<i64>,
    ) -> Result<Vec<StoryOutlet>> {
        Ok(on_pool!(self, pool, sql => {
            sqlx::query_as(
                "SELECT (SELECT f.name FROM feeds f WHERE f.id = ar.feed_id) AS feed_name,
                        ar.title, ar.link
                 FROM matches m JOIN articles ar ON ar.id = m.article_id
                 WHERE m.watch = $1 AND (m.id = $2 OR m.story_id = $2)
                   AND m.article_id <> $3
                 ORDER BY m.matched_at, m.id
                 LIMIT $4",
            )
            .bind(watch)
            .bind(story)
            .bind(except_article.unwrap_or(-1))
            .bind(MAX_OUTLETS)
            .fetch_all(pool)
            .await?
        }))
    }
}
