-- Leases: see migrations/sqlite/0003_leases.sql.
ALTER TABLE feeds ADD COLUMN lease_owner TEXT;
ALTER TABLE feeds ADD COLUMN lease_until BIGINT;
ALTER TABLE feeds ADD COLUMN lease_token BIGINT NOT NULL DEFAULT 0;
ALTER TABLE alerts ADD COLUMN lease_owner TEXT;
ALTER TABLE alerts ADD COLUMN lease_until BIGINT;
ALTER TABLE alerts ADD COLUMN lease_token BIGINT NOT NULL DEFAULT 0;
CREATE INDEX alerts_leases ON alerts (status, lease_until);

CREATE TABLE instances (
    id                 TEXT   PRIMARY KEY,
    host               TEXT   NOT NULL,
    pid                BIGINT NOT NULL,
    version            TEXT   NOT NULL,
    config_fingerprint TEXT   NOT NULL,
    started_at         BIGINT NOT NULL,
    last_seen          BIGINT NOT NULL
);
