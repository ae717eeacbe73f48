-- Story grouping. An article's signature: the hashed terms of its title and lead (see
-- src/story/signature.rs for the layout); NULL for articles stored before this migration.
ALTER TABLE articles ADD COLUMN signature BLOB;
-- A match's place in its watch's stories: 'first', 'copy' or 'update' (NULL: not grouped),
-- and for copies and updates the id of the match that started the story.
ALTER TABLE matches ADD COLUMN story_role TEXT;
ALTER TABLE matches ADD COLUMN story_id INTEGER;
CREATE INDEX matches_watch_time ON matches (watch, matched_at);
CREATE INDEX matches_story ON matches (story_id);
