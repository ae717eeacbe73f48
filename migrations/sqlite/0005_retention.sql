-- Retention deletes old articles; this table keeps what deduplication needs of each deleted
-- one, so that a feed still carrying the entry does not bring it back as new (and alert it
-- again): its identity, and its canonical link with the feed that brought it (the same story
-- under another feed's GUID). A few hundred bytes per deleted article, kept for ever.
CREATE TABLE article_tombstones (
    identity       TEXT   PRIMARY KEY,
    feed_id        BIGINT NOT NULL,
    canonical_link TEXT,
    deleted_at     BIGINT NOT NULL
) WITHOUT ROWID;
CREATE INDEX article_tombstones_canonical_link ON article_tombstones (canonical_link, feed_id);

-- The lookups by article and by batch alert that retention makes (and that the foreign keys
-- check on every delete).
CREATE INDEX alerts_article ON alerts (article_id);
CREATE INDEX matches_article ON matches (article_id);
CREATE INDEX matches_batch_alert ON matches (batch_alert_id);
