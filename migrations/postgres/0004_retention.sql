-- Retention: see migrations/sqlite/0005_retention.sql.
CREATE TABLE article_tombstones (
    identity       TEXT   PRIMARY KEY,
    feed_id        BIGINT NOT NULL,
    canonical_link TEXT,
    deleted_at     BIGINT NOT NULL
);
CREATE INDEX article_tombstones_canonical_link ON article_tombstones (canonical_link, feed_id);

CREATE INDEX alerts_article ON alerts (article_id);
CREATE INDEX matches_article ON matches (article_id);
CREATE INDEX matches_batch_alert ON matches (batch_alert_id);

-- Retention reads the oldest rows in batches, by (time, id): indexes in that order (SQLite's
-- indexes end with the row id already). They serve every query the indexes they replace did.
CREATE INDEX articles_fetched_at_id ON articles (fetched_at, id);
DROP INDEX articles_fetched_at;
CREATE INDEX alerts_due_id ON alerts (status, next_attempt_at, id);
DROP INDEX alerts_due;
