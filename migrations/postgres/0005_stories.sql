-- Story grouping: see migrations/sqlite/0006_stories.sql.
ALTER TABLE articles ADD COLUMN signature BYTEA;
ALTER TABLE matches ADD COLUMN story_role TEXT;
ALTER TABLE matches ADD COLUMN story_id BIGINT;
CREATE INDEX matches_watch_time ON matches (watch, matched_at);
CREATE INDEX matches_story ON matches (story_id);
