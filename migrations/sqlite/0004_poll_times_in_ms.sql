-- A feed's next poll and its lease expiry in unix milliseconds, not seconds: a schedule
-- rounded to whole seconds added up to a second to every interval, which at short intervals
-- is most of it. Alert times stay in seconds.
ALTER TABLE feeds RENAME COLUMN next_poll_at TO next_poll_at_ms;
ALTER TABLE feeds RENAME COLUMN lease_until TO lease_until_ms;
UPDATE feeds SET next_poll_at_ms = CASE WHEN next_poll_at_ms >= 9223372036854775
                                        THEN 9223372036854775807
                                        ELSE next_poll_at_ms * 1000 END;
UPDATE feeds SET lease_until_ms = lease_until_ms * 1000 WHERE lease_until_ms IS NOT NULL
                                                        AND lease_until_ms < 9223372036854775;
