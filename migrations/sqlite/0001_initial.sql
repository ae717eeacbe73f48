-- Feeds known to the daemon, keyed by their configured name, with their poll state.
CREATE TABLE feeds (
    id                  INTEGER PRIMARY KEY,
    name                TEXT    NOT NULL UNIQUE,
    -- The URL in the configuration, and the one polled (differs after a permanent redirect).
    config_url          TEXT    NOT NULL,
    url                 TEXT    NOT NULL,
    active              INTEGER NOT NULL DEFAULT 1,
    etag                TEXT,
    last_modified       TEXT,
    first_success_at    BIGINT,
    last_poll_at        BIGINT,
    last_success_at     BIGINT,
    -- 'ok', 'not_modified' or 'error'
    last_status         TEXT,
    last_http_status    INTEGER,
    last_error          TEXT,
    consecutive_errors  INTEGER NOT NULL DEFAULT 0,
    next_poll_at        BIGINT  NOT NULL DEFAULT 0,
    last_new_article_at BIGINT
);

-- Every article ever seen, once, whatever feeds it came through.
CREATE TABLE articles (
    id           INTEGER PRIMARY KEY,
    identity     TEXT    NOT NULL UNIQUE,
    feed_id      INTEGER NOT NULL REFERENCES feeds (id),
    link         TEXT,
    -- the link without tracking parameters: the same story under another feed's GUID
    canonical_link TEXT,
    title        TEXT    NOT NULL,
    summary      TEXT    NOT NULL,
    content      TEXT    NOT NULL,
    -- JSON arrays of strings
    authors      TEXT    NOT NULL,
    categories   TEXT    NOT NULL,
    lang         TEXT,
    published_at BIGINT,
    fetched_at   BIGINT  NOT NULL
);
CREATE INDEX articles_fetched_at ON articles (fetched_at);
CREATE INDEX articles_canonical_link ON articles (canonical_link);

-- Which feeds carried which article.
CREATE TABLE feed_articles (
    feed_id       INTEGER NOT NULL REFERENCES feeds (id),
    article_id    INTEGER NOT NULL REFERENCES articles (id),
    first_seen_at BIGINT  NOT NULL,
    PRIMARY KEY (feed_id, article_id)
);
CREATE INDEX feed_articles_article ON feed_articles (article_id);


-- The outbox: an alert is queued in the same transaction as its match, claimed for sending,
-- and marked sent only after the mail server accepted it.
CREATE TABLE alerts (
    id              INTEGER PRIMARY KEY,
    watch           TEXT    NOT NULL,
    -- 'article' (one per watch and article), 'digest' (a digest period's matches) or
    -- 'overflow' (the matches of an hour beyond max_per_hour)
    kind            TEXT    NOT NULL,
    article_id      INTEGER REFERENCES articles (id),
    -- digest and overflow: how many matches the alert lists
    item_count      INTEGER NOT NULL DEFAULT 1,
    -- Unique per alert; guarantees one alert per (watch, article) even across feeds.
    dedup_key       TEXT    NOT NULL UNIQUE,
    message_id      TEXT    NOT NULL,
    -- JSON array of addresses
    recipients      TEXT    NOT NULL,
    -- 'queued', 'sending', 'sent' or 'failed'
    status          TEXT    NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT  NOT NULL,
    claimed_at      BIGINT,
    last_error      TEXT,
    created_at      BIGINT  NOT NULL,
    -- when the current round of attempts began (creation, or a manual retry): give_up_after
    -- counts from here
    queued_at       BIGINT  NOT NULL,
    sent_at         BIGINT
);
CREATE INDEX alerts_due ON alerts (status, next_attempt_at);
CREATE INDEX alerts_watch_created ON alerts (watch, created_at);

-- A watch matched an article; the explanation is JSON (the hits).
CREATE TABLE matches (
    id             INTEGER PRIMARY KEY,
    watch          TEXT    NOT NULL,
    article_id     INTEGER NOT NULL REFERENCES articles (id),
    matched_at     BIGINT  NOT NULL,
    explanation    TEXT    NOT NULL,
    -- 'alert' (has its own alert), 'digest' or 'overflow' (waits for, then belongs to, a
    -- batch alert), 'none' (too old to alert, or no recipients)
    delivery       TEXT    NOT NULL,
    batch_alert_id INTEGER REFERENCES alerts (id),
    UNIQUE (watch, article_id)
);
CREATE INDEX matches_pending ON matches (delivery, watch, matched_at) WHERE batch_alert_id IS NULL;
