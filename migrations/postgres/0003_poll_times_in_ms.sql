-- Poll times in milliseconds: see migrations/sqlite/0004_poll_times_in_ms.sql.
ALTER TABLE feeds RENAME COLUMN next_poll_at TO next_poll_at_ms;
ALTER TABLE feeds RENAME COLUMN lease_until TO lease_until_ms;
UPDATE feeds SET next_poll_at_ms = CASE WHEN next_poll_at_ms >= 9223372036854775
                                        THEN 9223372036854775807
                                        ELSE next_poll_at_ms * 1000 END;
UPDATE feeds SET lease_until_ms = lease_until_ms * 1000 WHERE lease_until_ms IS NOT NULL
                                                        AND lease_until_ms < 9223372036854775;

-- The oldest article with a canonical link, found in the index alone.
CREATE INDEX articles_canonical_link_id ON articles (canonical_link, id);
DROP INDEX articles_canonical_link;
