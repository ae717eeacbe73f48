-- Leases: a feed poll or an alert send is claimed by one process for a while (owner, expiry
-- by the database's clock, and a token that grows with every claim). The work's results are
-- written only while the token is still the claimant's, and a claim whose lease expired (its
-- process died) may be taken by anyone.
ALTER TABLE feeds ADD COLUMN lease_owner TEXT;
ALTER TABLE feeds ADD COLUMN lease_until BIGINT;
ALTER TABLE feeds ADD COLUMN lease_token BIGINT NOT NULL DEFAULT 0;
ALTER TABLE alerts ADD COLUMN lease_owner TEXT;
ALTER TABLE alerts ADD COLUMN lease_until BIGINT;
ALTER TABLE alerts ADD COLUMN lease_token BIGINT NOT NULL DEFAULT 0;
CREATE INDEX alerts_leases ON alerts (status, lease_until);

-- The processes sharing the database, each with what it runs.
CREATE TABLE instances (
    id                 TEXT   PRIMARY KEY,
    host               TEXT   NOT NULL,
    pid                BIGINT NOT NULL,
    version            TEXT   NOT NULL,
    config_fingerprint TEXT   NOT NULL,
    started_at         BIGINT NOT NULL,
    last_seen          BIGINT NOT NULL
);
